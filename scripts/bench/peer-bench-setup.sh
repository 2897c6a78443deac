#!/usr/bin/env bash
# Sourced by the benchmarks (metrics.sh, promql.sh, logs.sh, traces.sh, ui.sh): finds ../shared, installs the
# Debian packages the benchmark needs when missing (PEER_PACKAGES, default prometheus and victoria-metrics; their
# packaged services are never started), makes the venv with cramjam, and builds Sightline in release. Sets ROOT,
# SHARED, VENV and BIN. Expects BENCH_NAME for its messages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$(pwd)"

# ../shared sits beside the main work tree; from a linked work tree (git worktree) look beside the main one.
if [[ -z "${SHARED:-}" ]]; then
    SHARED="$ROOT/../shared"
    if [[ ! -d "$SHARED/peers" ]]; then
        common="$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)"
        [[ -n "$common" ]] && SHARED="$(dirname "$common")/../shared"
    fi
fi
[[ -x "$SHARED/peers/peer.sh" && -f "$SHARED/peers/query_bench.py" && -f "$SHARED/datasets/gen_metrics.py" ]] \
    || { echo "$BENCH_NAME: no shared/peers and shared/datasets at $SHARED (set SHARED=...)" >&2; exit 1; }
SHARED="$(cd "$SHARED" && pwd)"

# 1. peers (as ../shared/peers/install-peers.sh installs them, only the ones this benchmark runs)
missing=()
for package in ${PEER_PACKAGES:-prometheus victoria-metrics}; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "$BENCH_NAME: missing ${missing[*]}; as root: apt-get install --no-install-recommends ${missing[*]}" >&2
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
    [[ $rc == 0 ]] || { echo "$BENCH_NAME: apt-get install ${missing[*]} failed" >&2; exit 1; }
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        for u in "${missing[@]}"; do systemctl disable --now "$u" 2>/dev/null || true; done
    fi
fi

# 2. the venv (scripts/test makes it) and cramjam for the loader and the dataset's snappy
VENV="${VENV:-$ROOT/.venv}"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/integration/requirements.txt
fi
"$VENV/bin/python" -c 'import cramjam' 2>/dev/null || "$VENV/bin/pip" install -q --disable-pip-version-check cramjam

# 3. Sightline, release
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "==> swift build -c release --product sightline" >&2
    swift build -c release --product sightline >&2
fi
BIN="$(swift build -c release --show-bin-path)/sightline"
[[ -x "$BIN" ]] || { echo "$BENCH_NAME: $BIN not built" >&2; exit 1; }

for package in ${PEER_PACKAGES:-prometheus victoria-metrics}; do
    echo "==> $package $(dpkg-query -W -f='${Version}' "$package" 2>/dev/null)" >&2
done
echo "==> $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
