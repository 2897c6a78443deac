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
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$(pwd)"

if [[ -z "${SHARED:-}" ]]; then
    SHARED="$ROOT/../shared"
    if [[ ! -d "$SHARED/peers" ]]; then   # a linked work tree (git worktree): beside the main one
        common="$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)"
        [[ -n "$common" ]] && SHARED="$(dirname "$common")/../shared"
    fi
fi
[[ -x "$SHARED/peers/peer.sh" && -f "$SHARED/peers/query_bench.py" && -f "$SHARED/datasets/gen_metrics.py" ]] \
    || { echo "promql.sh: no shared/peers and shared/datasets at $SHARED (set SHARED=...)" >&2; exit 1; }
SHARED="$(cd "$SHARED" && pwd)"

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v victoria-metrics >/dev/null 2>&1 || missing+=(victoria-metrics)
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "promql.sh: missing ${missing[*]}; as root: apt-get install --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "==> installing ${missing[*]}" >&2
    made_policy_rc=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then   # keep postinst from starting the packaged services
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy_rc=1
    fi
    rc=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } || rc=$?
    [[ $made_policy_rc == 1 ]] && rm -f /usr/sbin/policy-rc.d
    [[ $rc == 0 ]] || { echo "promql.sh: apt-get install ${missing[*]} failed" >&2; exit 1; }
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        for u in "${missing[@]}"; do systemctl disable --now "$u" 2>/dev/null || true; done
    fi
fi

VENV="${VENV:-$ROOT/.venv}"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/integration/requirements.txt
fi
"$VENV/bin/python" -c 'import cramjam' 2>/dev/null || "$VENV/bin/pip" install -q --disable-pip-version-check cramjam

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "==> swift build -c release --product sightline" >&2
    swift build -c release --product sightline >&2
fi
BIN="$(swift build -c release --show-bin-path)/sightline"
[[ -x "$BIN" ]] || { echo "promql.sh: $BIN not built" >&2; exit 1; }

echo "==> $(prometheus --version 2>&1 | head -1); victoria-metrics $(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null)" >&2
echo "==> $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exec "$VENV/bin/python" scripts/bench/promql_bench.py --bin "$BIN" --shared "$SHARED" "$@"
