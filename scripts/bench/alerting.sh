#!/usr/bin/env bash
# Rule evaluation: CPU share of one core for 1,000 / 5,000 / 10,000 alerting rules every 15 s over gen_metrics.py
# series, and evaluation-to-webhook latency p50/p99 (see scripts/bench/alerting_bench.py for the method).
# Prints a markdown table for docs/benchmarks.md.
#
# Usage: scripts/bench/alerting.sh [--rules 1000,5000,10000] [--hosts 100] [--interval 15] [--measure 3]
# Env: SHARED (default: ../shared beside the main work tree), VENV (default: .venv), SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$(pwd)"
if [[ -z "${SHARED:-}" ]]; then
    SHARED="$ROOT/../shared"
    if [[ ! -f "$SHARED/datasets/gen_metrics.py" ]]; then
        common="$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)"
        [[ -n "$common" ]] && SHARED="$(dirname "$common")/../shared"
    fi
fi
[[ -f "$SHARED/datasets/gen_metrics.py" ]] || { echo "alerting.sh: no shared/datasets at $SHARED (set SHARED=...)" >&2; exit 1; }
VENV="${VENV:-$ROOT/.venv}"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/integration/requirements.txt
fi
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "==> swift build -c release --product sightline" >&2
    swift build -c release --product sightline >&2
fi
BIN="$(swift build -c release --show-bin-path)/sightline"
[[ -x "$BIN" ]] || { echo "alerting.sh: $BIN not built" >&2; exit 1; }
exec "$VENV/bin/python" scripts/bench/alerting_bench.py --bin "$BIN" --shared "$SHARED" "$@"
