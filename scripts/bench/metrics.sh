#!/usr/bin/env bash
# Metrics ingestion: Sightline against VictoriaMetrics 1.79.5 and Prometheus 2.42.0 (Debian packages) in the same run,
# on the same pre-generated remote-write batches (../shared/datasets/gen_metrics.py, replayed with
# ../shared/peers/load_remote_write.py). Prints a markdown table: server CPU-s per million samples, samples/s,
# bytes/sample on disk (blocks only and with the WAL), peak RSS per active series, with Sightline/peer ratios.
#
# Usage: scripts/bench/metrics.sh [--series N] [--span 1h] [--runs R] [more: scripts/bench/metrics_bench.py --help]
#   e.g. scripts/bench/metrics.sh --runs 3 ; scripts/bench/metrics.sh --series 500 --span 10m --systems sightline
# Env: SHARED (default: ../shared beside the main work tree), VENV (default: .venv), SKIP_BUILD=1.
# Installs what is missing: the Debian packages prometheus and victoria-metrics (their services are never started;
# peers run through ../shared/peers/peer.sh under their own PEERS_DIR and free ports) and cramjam in the venv.
set -euo pipefail
BENCH_NAME="metrics.sh"
# shellcheck source=peer-bench-setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/peer-bench-setup.sh"
exec "$VENV/bin/python" scripts/bench/metrics_bench.py --bin "$BIN" --shared "$SHARED" "$@"
