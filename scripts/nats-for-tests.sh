#!/usr/bin/env bash
# Starts a throw-away NATS server with JetStream (Debian's `nats-server`) on a free loopback port, with a free
# monitoring port and a temporary storage directory, for SightlineNATS's tests. Installs the `nats-server` package
# with apt-get when it is missing and we are root.
#
#   scripts/nats-for-tests.sh start        prints two lines: the URL, then the command that stops it
#   scripts/nats-for-tests.sh stop DIR     stops the server started with DIR (by its PID) and deletes DIR
#
# The URL is nats://127.0.0.1:PORT (no authentication). Typical use:
#   { read -r SIGHTLINE_TEST_NATS_URL; read -r NATS_STOP; } < <(scripts/nats-for-tests.sh start)
#   export SIGHTLINE_TEST_NATS_URL; ...; $NATS_STOP
set -euo pipefail

self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
# shellcheck source=scripts/for-tests-common.sh
. "$(dirname "$self")/for-tests-common.sh"

find_bin() {
    for candidate in "$(command -v nats-server 2>/dev/null || true)" /usr/sbin/nats-server /usr/bin/nats-server; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
    done
    return 1
}

start() {
    local bin
    if ! bin="$(find_bin)"; then
        apt_install nats-for-tests nats-server
        bin="$(find_bin)"
    fi
    local dir
    dir="$(mktemp -d "${TMPDIR:-/tmp}/sightline-nats.XXXXXX")"
    local port http attempt pid
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        http="$(free_port)"
        "$bin" -a 127.0.0.1 -p "$port" -m "$http" -js -sd "$dir/jetstream" -l "$dir/server.log" </dev/null >/dev/null 2>&1 &
        pid=$!
        echo "$pid" >"$dir/pid"
        # Ready when the monitoring endpoint answers; JetStream is up by then.
        for _ in $(seq 1 100); do
            if ! kill -0 "$pid" 2>/dev/null; then break; fi
            if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$http/healthz', timeout=1)" 2>/dev/null; then
                echo "nats://127.0.0.1:$port"
                echo "$self stop $dir"
                return 0
            fi
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    cat "$dir/server.log" >&2 || true
    echo "nats-for-tests: the server did not start" >&2
    rm -rf "$dir"
    exit 1
}

stop() {
    local dir="${1:?usage: $0 stop DIR}"
    case "$dir" in
        */sightline-nats.*) ;;
        *) echo "nats-for-tests: not touching $dir (not made by this script)" >&2; exit 1 ;;
    esac
    if [ -f "$dir/pid" ]; then
        local pid
        pid="$(cat "$dir/pid")"
        if kill "$pid" 2>/dev/null; then
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
