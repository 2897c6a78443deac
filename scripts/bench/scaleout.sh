#!/usr/bin/env bash
# Scale-out on ClickHouse: ingestion (items/s until queryable, CPU) and query latency of Sightline on its embedded
# engines, on ClickHouse with one and with two servers, next to ClickHouse used directly, for logs, metrics and traces
# (see scripts/bench/scaleout_bench.py). Prints one markdown table per signal for docs/benchmarks.md.
#
# Usage: scripts/bench/scaleout.sh [--signals logs,metrics,traces] [--lines 300000] [--series 2000] [--traces 20000]
#                                  [--conns 4] [--batch 2000]
# Env: SHARED (default: ../shared beside the main work tree), VENV (default: .venv), SKIP_BUILD=1.
set -euo pipefail
BENCH_NAME="scaleout.sh"
PEER_PACKAGES="clickhouse-server clickhouse-client"
# shellcheck source=peer-bench-setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/peer-bench-setup.sh"
exec "$VENV/bin/python" scripts/bench/scaleout_bench.py --bin "$BIN" --shared "$SHARED" "$@"
