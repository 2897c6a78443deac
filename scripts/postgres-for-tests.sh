#!/usr/bin/env bash
# Starts a throw-away PostgreSQL (Debian's, version 15 preferred) on a free loopback port with a temporary data
# directory, for AuditKit's tests and benchmarks. Installs the `postgresql` package with apt-get when it is
# missing and we are root. initdb refuses to run as root, so as root the server runs as the `postgres` user.
#
#   scripts/postgres-for-tests.sh start [--fast]   prints two lines: the URL, then the command that stops it
#   scripts/postgres-for-tests.sh stop DATA_DIR    stops that server and deletes its directory
#
# --fast turns off fsync and synchronous_commit (tests only; never for latency numbers).
# Authentication is `trust` on loopback; the URL is postgres://postgres@127.0.0.1:PORT/postgres.
# Typical use:
#   { read -r SIGHTLINE_TEST_POSTGRES_URL; read -r PG_STOP; } < <(scripts/postgres-for-tests.sh start --fast)
#   export SIGHTLINE_TEST_POSTGRES_URL; ...; $PG_STOP
set -euo pipefail

self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
# shellcheck source=scripts/for-tests-common.sh
. "$(dirname "$self")/for-tests-common.sh"

find_bin() {
    for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
    done
    return 1
}

as_owner() { # runs a command as the user who owns the data directory
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    local fast=0
    if [ "${1:-}" = "--fast" ]; then fast=1; fi
    local bin
    if ! bin="$(find_bin)"; then
        apt_install postgres-for-tests postgresql
        bin="$(find_bin)"
    fi
    local dir
    dir="$(mktemp -d "${TMPDIR:-/tmp}/auditkit-pg.XXXXXX")"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/false postgres
        chown postgres: "$dir"
        chmod 700 "$dir"
    fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2; exit 1; }
    local options="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=100"
    if [ "$fast" = 1 ]; then options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"; fi
    local port attempt
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "-p $port $options" start >/dev/null 2>&1; then
            echo "postgres://postgres@127.0.0.1:$port/postgres"
            echo "$self stop $dir"
            return 0
        fi
    done
    cat "$dir/server.log" >&2 || true
    echo "postgres-for-tests: the server did not start" >&2
    exit 1
}

stop() {
    local dir="${1:?usage: $0 stop DATA_DIR}"
    local bin
    bin="$(find_bin)"
    if [ -d "$dir/data" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    case "$dir" in
        */auditkit-pg.*) rm -rf "$dir" ;;
        *) echo "postgres-for-tests: not deleting $dir (not made by this script)" >&2 ;;
    esac
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    *) echo "usage: $0 start [--fast] | stop DATA_DIR" >&2; exit 2 ;;
esac
