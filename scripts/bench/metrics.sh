#!/usr/bin/env bash
# Metrics ingestion: Sightline against VictoriaMetrics 1.79.5 and Prometheus 2.42.0 (Debian packages) in the same run,
# on the same pre-generated remote-write batches (../shared/datasets/gen_metrics.py, replayed with
# ../shared/peers/load_remote_write.py). Prints a markdown table: server CPU-s per million samples, samples/s,
# bytes/sample on disk (blocks only and with the WAL), peak RSS per active series, with Sightline/peer ratios.
#
# Usage: scripts/bench/metrics.sh [--series N] [--span 1h] [--runs R] [more: scripts/bench/metrics_bench.py --help]
#   e.g. scripts/bench/metrics.sh --runs 3 ; scripts/bench/metrics.sh --series 500 --span 10m --systems sightline
# Env: SHARED (default: ../shared beside the main work tree), VENV (default: .venv), SKIP_BUILD=1.
# Installs what is missing: the Debian packages prometheus and victoria-metrics (their services are never started;
# peers run through ../shared/peers/peer.sh under their own PEERS_DIR and free ports) and cramjam in the venv.
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
[[ -x "$SHARED/peers/peer.sh" && -f "$SHARED/datasets/gen_metrics.py" ]] \
    || { echo "metrics.sh: no shared/peers and shared/datasets at $SHARED (set SHARED=...)" >&2; exit 1; }
SHARED="$(cd "$SHARED" && pwd)"

# 1. peers (as ../shared/peers/install-peers.sh installs them, only these two)
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v victoria-metrics >/dev/null 2>&1 || missing+=(victoria-metrics)
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "metrics.sh: missing ${missing[*]}; as root: apt-get install --no-install-recommends ${missing[*]}" >&2
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
    [[ $rc == 0 ]] || { echo "metrics.sh: apt-get install ${missing[*]} failed" >&2; exit 1; }
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
[[ -x "$BIN" ]] || { echo "metrics.sh: $BIN not built" >&2; exit 1; }

echo "==> $(prometheus --version 2>&1 | head -1); victoria-metrics $(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null)" >&2
echo "==> $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exec "$VENV/bin/python" scripts/bench/metrics_bench.py --bin "$BIN" --shared "$SHARED" "$@"
