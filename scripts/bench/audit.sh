#!/usr/bin/env bash
# AuditKit benchmarks (release build):
#  (a) the latency `record` adds to a business transaction (UPDATE + INSERT), p50/p99, same transaction with and
#      without it, interleaved in a seeded random order: SQLite (GRDB, synchronous full and normal) and PostgreSQL 15
#      (Debian's, started by scripts/postgres-for-tests.sh with fsync on, on loopback).
#  (b) relay throughput in events/s: fills an outbox with EVENTS events of TENANTS tenants, starts a release
#      `sightline server` with one ingest token per tenant, and runs the relay until the outbox is drained
#      (from SQLite, and from PostgreSQL when it is available).
# Prints markdown tables on stdout (copy them into docs/benchmarks.md by hand), progress on stderr.
# Environment: ONLY=latency|relay (default both), ITERATIONS (default 20000 per kind), EVENTS (default 200000),
# TENANTS (default 4), BATCH (default 500), POSTGRES=0 to skip PostgreSQL, PACKAGE_DIR for another checkout.
set -euo pipefail
scripts_dir="$(cd "$(dirname "$0")/.." && pwd)"
package_dir="${PACKAGE_DIR:-$(cd "$scripts_dir/.." && pwd)}"
only="${ONLY:-all}"
iterations="${ITERATIONS:-20000}"
events="${EVENTS:-200000}"
tenants="${TENANTS:-4}"
batch="${BATCH:-500}"
use_postgres="${POSTGRES:-1}"

swift build -c release --package-path "$package_dir" --product AuditKitBenchmark >&2
if [ "$only" != latency ]; then swift build -c release --package-path "$package_dir" --product sightline >&2; fi
bin="$(swift build -c release --package-path "$package_dir" --show-bin-path)"

work="$(mktemp -d "${TMPDIR:-/tmp}/auditkit-bench.XXXXXX")"
pg_stop=""
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    if [ -n "$pg_stop" ]; then $pg_stop || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

pg_url=""
if [ "$use_postgres" = 1 ]; then
    if started="$("$scripts_dir/postgres-for-tests.sh" start)"; then
        pg_url="$(sed -n 1p <<<"$started")"
        pg_stop="$(sed -n 2p <<<"$started")"
        echo "PostgreSQL at $pg_url" >&2
    else
        echo "PostgreSQL could not be started; its rows are skipped" >&2
    fi
fi

if [ "$only" != relay ]; then
    echo "### (a) Latency AuditKit adds to a business transaction (ms)"
    echo
    echo "| database | transactions per kind | p50 without | p50 with | added p50 | p99 without | p99 with | added p99 | record() call p50 / p99 |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for sync in full normal; do
        "$bin/AuditKitBenchmark" latency --database sqlite --dir "$work" --synchronous "$sync" --iterations "$iterations"
    done
    if [ -n "$pg_url" ]; then
        "$bin/AuditKitBenchmark" latency --database postgres --postgres-url "$pg_url" --iterations "$iterations"
    fi
    echo
fi

if [ "$only" != latency ]; then
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    grpc_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    config="$work/sightline.yaml"
    token_args=()
    {
        echo "auth:"
        echo "  tokens:"
        for ((i = 0; i < tenants; i++)); do
            echo "    - token: \"bench-token-$i\""
            echo "      tenant: bench$i"
            echo "      roles: [ingest, query]"
        done
    } >"$config"
    for ((i = 0; i < tenants; i++)); do token_args+=(--token "bench$i=bench-token-$i"); done
    "$bin/sightline" server --data-dir "$work/sightline-data" --config "$config" --http-address "127.0.0.1:$port" \
        --otlp-grpc-address "127.0.0.1:$grpc_port" --log-level warning >"$work/sightline.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 600); do
        if curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then break; fi
        if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/sightline.log" >&2; echo "sightline exited" >&2; exit 1; fi
        sleep 0.1
    done
    probe="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -H "Authorization: Bearer bench-token-0" --data '{"events":[]}' "http://127.0.0.1:$port/api/v1/audit/events")"
    echo "### (b) Relay throughput into sightline server (wal fsync always)"
    echo
    if [ "$probe" = 404 ] || [ "$probe" = 405 ]; then
        echo "(skipped: this sightline server has no POST /api/v1/audit/events yet, answer $probe)"
    else
        echo "| source | events | seconds | events/s |"
        echo "|---|---|---|---|"
        "$bin/AuditKitBenchmark" relay --server "http://127.0.0.1:$port" "${token_args[@]}" --events "$events" \
            --batch-size "$batch" --dir "$work"
        if [ -n "$pg_url" ]; then
            "$bin/AuditKitBenchmark" relay --server "http://127.0.0.1:$port" "${token_args[@]}" --events "$events" \
                --batch-size "$batch" --database postgres --postgres-url "$pg_url"
        fi
    fi
fi
