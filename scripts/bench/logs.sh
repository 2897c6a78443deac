#!/usr/bin/env bash
# Logs: Sightline against ClickHouse 18.16 (Debian package) in the same run, on the same gen_logs.py lines.
# Prints a markdown table: server CPU-s per million lines, bytes on disk per line, and the latency of a rare-term
# search, count by level per minute over the last hour and the top 10 services by error count, with ratios.
#
# Usage: scripts/bench/logs.sh [--lines 5000000] [--runs 5] [more: scripts/bench/logs_bench.py --help]
# Env: SHARED (default: ../shared beside the main work tree), VENV (default: .venv), SKIP_BUILD=1.
set -euo pipefail
BENCH_NAME="logs.sh"
PEER_PACKAGES="clickhouse-server clickhouse-client"
# shellcheck source=peer-bench-setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/peer-bench-setup.sh"
exec "$VENV/bin/python" scripts/bench/logs_bench.py --bin "$BIN" --shared "$SHARED" "$@"
