#!/usr/bin/env bash
# Starts a throw-away ClickHouse (Debian's clickhouse-server, 18.16) on free loopback ports with a temporary
# directory, for the ClickHouse backend's tests and benchmarks. Installs clickhouse-server with apt-get when it is
# missing and we are root.
#
#   scripts/clickhouse-for-tests.sh start    prints two lines: the HTTP URL, then the command that stops it
#   scripts/clickhouse-for-tests.sh stop DIR stops that server (by the PID it recorded) and deletes its directory
#   scripts/clickhouse-for-tests.sh pause DIR   stops that server but keeps its data (an outage, for tests)
#   scripts/clickhouse-for-tests.sh resume DIR  starts it again on the same ports and data; prints the URL
#
# Typical use:
#   { read -r SIGHTLINE_TEST_CLICKHOUSE_URL; read -r CH_STOP; } < <(scripts/clickhouse-for-tests.sh start)
#   export SIGHTLINE_TEST_CLICKHOUSE_URL; ...; $CH_STOP
set -euo pipefail

self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
# shellcheck source=scripts/for-tests-common.sh
. "$(dirname "$self")/for-tests-common.sh"

# The server's configuration: root element <yandex> (18.x), loopback only, every path inside $1.
write_config() {
    local dir="$1" http="$2" tcp="$3"
    cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$dir/server.log</log><errorlog>$dir/server.err.log</errorlog><size>50M</size><count>1</count></logger>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>67108864</mark_cache_size>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
XML
    cat >"$dir/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
}

start() {
    if ! command -v clickhouse-server >/dev/null 2>&1; then
        apt_install clickhouse-for-tests "clickhouse-server clickhouse-client" --no-install-recommends
    fi
    local dir attempt http tcp
    dir="$(mktemp -d "${TMPDIR:-/tmp}/sightline-clickhouse.XXXXXX")"
    mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
    for attempt in 1 2 3 4 5; do
        http="$(free_port)"
        tcp="$(free_port)"
        write_config "$dir" "$http" "$tcp"
        clickhouse-server --config-file="$dir/config.xml" >"$dir/stdout.log" 2>&1 </dev/null &
        echo $! >"$dir/pid"
        local waited=0
        while [ $waited -lt 300 ]; do
            if python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
                "http://127.0.0.1:$http/ping" >/dev/null 2>&1; then
                echo "http://127.0.0.1:$http"
                echo "$self stop $dir"
                return 0
            fi
            kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
            sleep 0.1
            waited=$((waited + 1))
        done
        kill "$(cat "$dir/pid")" 2>/dev/null || true
    done
    tail -20 "$dir/server.err.log" "$dir/stdout.log" >&2 2>/dev/null || true
    echo "clickhouse-for-tests: the server did not start" >&2
    exit 1
}

# Stops the server of $1 by the PID it recorded.
kill_server() {
    local dir="$1"
    if [ -f "$dir/pid" ]; then
        local pid
        pid="$(cat "$dir/pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
}

# Starts the server of $1 again with its existing config (same ports, same data).
resume() {
    local dir="${1:?usage: $0 resume DIR}"
    local http
    http="$(sed -n 's:.*<http_port>\([0-9]*\)</http_port>.*:\1:p' "$dir/config.xml")"
    clickhouse-server --config-file="$dir/config.xml" >>"$dir/stdout.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    for _ in $(seq 300); do
        if python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
            "http://127.0.0.1:$http/ping" >/dev/null 2>&1; then
            echo "http://127.0.0.1:$http"
            return 0
        fi
        sleep 0.1
    done
    echo "clickhouse-for-tests: the server did not come back" >&2
    exit 1
}

stop() {
    local dir="${1:?usage: $0 stop DIR}"
    kill_server "$dir"
    case "$dir" in
        */sightline-clickhouse.*) rm -rf "$dir" ;;
        *) echo "clickhouse-for-tests: not removing $dir (not made by this script)" >&2 ;;
    esac
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    pause) kill_server "${2:?usage: $0 pause DIR}" ;;
    resume) resume "${2:-}" ;;
    *) echo "usage: $0 start | stop DIR | pause DIR | resume DIR" >&2; exit 2 ;;
esac
