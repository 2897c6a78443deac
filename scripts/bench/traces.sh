#!/usr/bin/env bash
# Traces: Sightline's span ingestion (spans/s, CPU-s per million spans), bytes on disk per span next to the OTLP
# protobuf size, trace-by-id p50/p99 and service+duration search latency, with ClickHouse 18.16 as a reference in the
# same run, on ../shared/datasets/gen_traces.py data.
#
# Usage: scripts/bench/traces.sh [--traces 100000] [--lookups 1000] [more: scripts/bench/traces_bench.py --help]
# Env: SHARED (default: ../shared beside the main work tree), VENV (default: .venv), SKIP_BUILD=1.
set -euo pipefail
BENCH_NAME="traces.sh"
PEER_PACKAGES="clickhouse-server clickhouse-client"
# shellcheck source=peer-bench-setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/peer-bench-setup.sh"
exec "$VENV/bin/python" scripts/bench/traces_bench.py --bin "$BIN" --shared "$SHARED" "$@"
