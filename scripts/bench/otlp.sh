#!/usr/bin/env bash
# OTLP/HTTP log ingestion: records/s and server CPU-seconds per million records, batches of 1,000.
# Usage: scripts/bench/otlp.sh [--records N] [--connections C] [--fsync always|interval|never]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q -r tests/integration/requirements.txt; }
swift build -c release --product sightline
exec .venv/bin/python scripts/bench/otlp_logs.py --bin "$(swift build -c release --show-bin-path)/sightline" "$@"
