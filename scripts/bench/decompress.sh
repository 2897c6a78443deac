#!/usr/bin/env bash
# Compressed request bodies: the server CPU that Content-Encoding identity, gzip and zstd (levels 1 and 3; level 1 is
# the Datadog Agent's default) cost Sightline and VictoriaMetrics 1.79.5 on the same Prometheus text bodies
# (../shared/datasets/gen_metrics.py) posted to /api/v1/import/prometheus. Prints a markdown table.
#
# Usage: scripts/bench/decompress.sh [--hosts 40] [--span 1h] [--lines-per-body 5000] [--runs 3]
# Env: SHARED (default: ../shared beside the main work tree), VENV (default: .venv), SKIP_BUILD=1.
set -euo pipefail
BENCH_NAME="decompress.sh"
PEER_PACKAGES="victoria-metrics"
# shellcheck source=peer-bench-setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/peer-bench-setup.sh"
exec "$VENV/bin/python" scripts/bench/decompress_bench.py --bin "$BIN" --shared "$SHARED" "$@"
