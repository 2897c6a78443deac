#!/usr/bin/env bash
# Web UI rendering in Debian's headless Chromium: the Logs page with 10,000 lines and the Metrics page with 64
# series, query-to-rendered time and the longest main-thread task (see scripts/bench/ui_bench.py for the method).
# Prints a markdown table for docs/benchmarks.md.
#
# Usage: scripts/bench/ui.sh [--runs 7]
# Env: SHARED (default: ../shared beside the main work tree), VENV (default: .venv), SKIP_BUILD=1.
set -euo pipefail
BENCH_NAME="ui.sh"
PEER_PACKAGES="chromium"
# shellcheck source=peer-bench-setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/peer-bench-setup.sh"
exec "$VENV/bin/python" scripts/bench/ui_bench.py --bin "$BIN" --shared "$SHARED" "$@"
