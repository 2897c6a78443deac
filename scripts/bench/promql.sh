#!/usr/bin/env bash
# PromQL query latency: Sightline against VictoriaMetrics 1.79.5 and Prometheus 2.42.0 (Debian packages) in the same
# run, on the same data: dashboard-like range queries over dataset A (10,000 series x 1 h at 15 s) and a 7-day query at
# a 5 m step over dataset L (1,000 series x 7 d at 60 s), both from ../shared/datasets/gen_metrics.py, replayed with
# ../shared/peers/load_remote_write.py and timed with ../shared/peers/query_bench.py (median of 7 after 1 warm-up).
# Prints a markdown table with the Sightline/Prometheus and Sightline/VM ratios and whether the targets are met.
#
# Usage: scripts/bench/promql.sh [--profile] [more: scripts/bench/promql_bench.py --help]
#   e.g. scripts/bench/promql.sh --profile ; scripts/bench/promql.sh --skip-long --series 2000
# Env: SHARED (default: ../shared beside the main work tree), VENV (default: .venv), SKIP_BUILD=1.
# Installs what is missing: the Debian packages prometheus and victoria-metrics (their services are never started;
# peers run through ../shared/peers/peer.sh under their own PEERS_DIR and free ports), cramjam in the venv; --profile
# needs perf (linux-perf).
set -euo pipefail
BENCH_NAME="promql.sh"
# shellcheck source=peer-bench-setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/peer-bench-setup.sh"
exec "$VENV/bin/python" scripts/bench/promql_bench.py --bin "$BIN" --shared "$SHARED" "$@"
