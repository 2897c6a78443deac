#!/usr/bin/env bash
# sightline agent: lines/s and MiB/s tailed from a file and delivered to a server, agent CPU-seconds per GiB and
# peak RSS; StatsD packets/s aggregated without loss.
# Usage: scripts/bench/agent.sh [--mib N] [--statsd-rate R] [--statsd-seconds S] [--bin path/to/sightline]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q -r tests/integration/requirements.txt; }
if [[ " $* " != *" --bin "* ]]; then
    swift build -c release --product sightline
    set -- --bin "$(swift build -c release --show-bin-path)/sightline" "$@"
fi
exec .venv/bin/python scripts/bench/agent_bench.py "$@"
