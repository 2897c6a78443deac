#!/usr/bin/env bash
# Web UI rendering in Debian's headless Chromium: the Logs page with 10,000 lines and the Metrics page with 64
# series, query-to-rendered time and the longest main-thread task (see scripts/bench/ui_bench.py for the method).
# Prints a markdown table for docs/benchmarks.md.
#
# Usage: scripts/bench/ui.sh [--runs 7]
# Env: SHARED (default: ../shared beside the main work tree), VENV (default: .venv), SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$(pwd)"
if [[ -z "${SHARED:-}" ]]; then
    SHARED="$ROOT/../shared"
    if [[ ! -f "$SHARED/datasets/gen_logs.py" ]]; then
        common="$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)"
        [[ -n "$common" ]] && SHARED="$(dirname "$common")/../shared"
    fi
fi
[[ -f "$SHARED/datasets/gen_logs.py" ]] || { echo "ui.sh: no shared/datasets at $SHARED (set SHARED=...)" >&2; exit 1; }
command -v chromium >/dev/null || { echo "ui.sh: needs Debian's chromium (scripts/test installs it)" >&2; exit 1; }
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
[[ -x "$BIN" ]] || { echo "ui.sh: $BIN not built" >&2; exit 1; }
exec "$VENV/bin/python" scripts/bench/ui_bench.py --bin "$BIN" --shared "$SHARED" "$@"
