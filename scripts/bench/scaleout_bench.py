"""Scale-out on ClickHouse: log ingestion and LogQL latency of `sightline server` on its embedded engines, on
ClickHouse with one server, on ClickHouse with two servers sharing the load, and ClickHouse used directly (the same
rows inserted as JSONEachRow into a plain MergeTree table), all on ../shared/datasets/gen_logs.py lines.

Each Sightline case: a fresh release server (fresh ClickHouse database), the lines pushed with Loki's push API over
`--conns` keep-alive connections (split evenly between the servers in the two-server case), and the clock stops when
a LogQL count through a server sees every line (so ClickHouse's insert delay is included). CPU seconds are read from
/proc for the servers and for ClickHouse. Queries: 7 runs each, median, through the (first) server or as SQL.
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import Server, cpu_seconds, log, post_all, request  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def generate(shared, lines, work):
    path = os.path.join(work, "logs.ndjson")
    start_ms = int(time.time() * 1000) - 3_000_000
    subprocess.run([sys.executable, os.path.join(shared, "datasets", "gen_logs.py"), "--count", str(lines), "--seed", "42",
                    "--rate", str(max(1, lines // 2400)), "--start-ms", str(start_ms), "--out", path], check=True, capture_output=True)
    return [json.loads(line) for line in open(path)]


def loki_bodies(records, batch):
    bodies = []
    for i in range(0, len(records), batch):
        streams = collections.defaultdict(list)
        for r in records[i:i + batch]:
            streams[(r["service"], r["host"], r["level"])].append([str(r["ts_ns"]), r["message"], r.get("attrs", {})])
        bodies.append(json.dumps({"streams": [{"stream": {"service": s, "host": h, "level": lv}, "values": v}
                                              for (s, h, lv), v in streams.items()]}).encode())
    return bodies


def clickhouse_rows(records, batch):
    bodies = []
    for i in range(0, len(records), batch):
        rows = []
        for r in records[i:i + batch]:
            at = r.get("attrs", {})
            rows.append(json.dumps({"ts": r["ts_ns"] // 10**9, "ts_ns": r["ts_ns"], "service": r["service"], "host": r["host"],
                                    "level": r["level"], "message": r["message"], "attr_keys": list(at.keys()),
                                    "attr_values": list(at.values())}, separators=(",", ":")))
        bodies.append(("\n".join(rows) + "\n").encode())
    return bodies


def logql_count(url, start_ns, end_ns):
    status, data = request(url, "GET", "/loki/api/v1/query?" + urllib.parse.urlencode(
        {"query": 'sum(count_over_time({service=~".+"}[2h]))', "time": str(end_ns)}))
    if status != 200:
        return -1
    result = json.loads(data)["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def timed_ms(fn, runs=7):
    fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def sightline_case(name, binary, work, configs, bodies, conns, total, start_ns, end_ns, ch_pid):
    servers = [Server(binary, os.path.join(work, f"{name}-{i}"), os.path.join(work, f"{name}-{i}.log"), text).start()
               for i, text in enumerate(configs)]
    try:
        cpu0 = [cpu_seconds(s.proc.pid) for s in servers]
        ch0 = cpu_seconds(ch_pid) if ch_pid else 0
        started = time.perf_counter()
        shares = [bodies[i::len(servers)] for i in range(len(servers))]
        errors = []
        threads = [threading.Thread(target=lambda s=s, part=part: errors.extend(
            post_all(s.url, "/loki/api/v1/push", part, max(1, conns // len(servers)), "application/json", 204)[1]))
            for s, part in zip(servers, shares)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        acked = time.perf_counter() - started
        if errors:
            raise SystemExit(f"{name}: {len(errors)} pushes failed, e.g. {errors[0]}")
        deadline = time.time() + 600
        while logql_count(servers[0].url, start_ns, end_ns) < total:
            if time.time() > deadline:
                raise SystemExit(f"{name}: not every line became queryable")
            time.sleep(0.2)
        visible = time.perf_counter() - started
        cpu = sum(cpu_seconds(s.proc.pid) - c for s, c in zip(servers, cpu0))
        ch_cpu = (cpu_seconds(ch_pid) - ch0) if ch_pid else 0.0
        url = servers[0].url
        count_ms = timed_ms(lambda: logql_count(url, start_ns, end_ns))
        needle = {"query": '{service="payments"} |= "checksum mismatch"', "start": str(start_ns), "end": str(end_ns), "limit": "1000"}
        needle_ms = timed_ms(lambda: request(url, "GET", "/loki/api/v1/query_range?" + urllib.parse.urlencode(needle)))
        return {"case": name, "acked_s": acked, "visible_s": visible, "lines_per_s": total / visible,
                "server_cpu_s": cpu, "clickhouse_cpu_s": ch_cpu, "count_ms": count_ms, "needle_ms": needle_ms}
    finally:
        for s in servers:
            s.stop()


def clickhouse_direct(ch_url, ch_pid, rows, conns, total):
    def q(sql, body=None):
        status, data = request(ch_url, "POST", "/?" + urllib.parse.urlencode({"query": sql}) if body is not None else "/", body if body is not None else sql.encode())
        if status != 200:
            raise SystemExit(f"ClickHouse: {data[:300]!r}")
        return data
    q("CREATE DATABASE IF NOT EXISTS direct")
    q("""CREATE TABLE direct.logs (ts DateTime, ts_ns UInt64, service String, host String, level String, message String,
         attr_keys Array(String), attr_values Array(String)) ENGINE = MergeTree PARTITION BY toDate(ts) ORDER BY (service, level, ts)""")
    ch0 = cpu_seconds(ch_pid)
    seconds, errors = post_all(ch_url, "/?" + urllib.parse.urlencode({"query": "INSERT INTO direct.logs FORMAT JSONEachRow"}),
                               rows, conns, "application/json", 200)
    if errors:
        raise SystemExit(f"direct: {errors[0]}")
    cpu = cpu_seconds(ch_pid) - ch0
    count_ms = timed_ms(lambda: q("SELECT count() FROM direct.logs"))
    needle_ms = timed_ms(lambda: q("SELECT ts_ns, message FROM direct.logs WHERE service = 'payments' AND position(message, 'checksum mismatch') > 0 ORDER BY ts_ns DESC LIMIT 1000"))
    return {"case": "ClickHouse directly (JSONEachRow, 50,000 rows per INSERT)", "acked_s": seconds, "visible_s": seconds,
            "lines_per_s": total / seconds, "server_cpu_s": 0.0, "clickhouse_cpu_s": cpu, "count_ms": count_ms, "needle_ms": needle_ms}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--shared", required=True)
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=2000, help="lines per Loki push")
    parser.add_argument("--conns", type=int, default=4)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="sightline-scaleout-bench-")
    records = generate(args.shared, args.lines, work)
    start_ns, end_ns = records[0]["ts_ns"] - 10**9, time.time_ns() + 60 * 10**9
    bodies = loki_bodies(records, args.batch)
    lines = subprocess.run([os.path.join(ROOT, "scripts", "clickhouse-for-tests.sh"), "start"], check=True, capture_output=True, text=True).stdout.split("\n")
    ch_url, ch_stop = lines[0], lines[1].split()
    ch_pid = int(open(os.path.join(ch_stop[-1], "pid")).read())
    log(f"{len(records)} lines in {len(bodies)} pushes; ClickHouse at {ch_url} (pid {ch_pid})")
    results = []
    try:
        ch = lambda db: (f"storage:\n  backend: clickhouse\n  clickhouse: {{url: \"{ch_url}\", database: {db}}}\n"  # noqa: E731
                         "wal:\n  fsync: always\n")
        results.append(sightline_case("embedded", args.bin, work, ["wal:\n  fsync: always\n"], bodies, args.conns, len(records), start_ns, end_ns, None))
        results.append(sightline_case("clickhouse-1", args.bin, work, [ch("bench1")], bodies, args.conns, len(records), start_ns, end_ns, ch_pid))
        results.append(sightline_case("clickhouse-2", args.bin, work, [ch("bench2"), ch("bench2")], bodies, args.conns, len(records), start_ns, end_ns, ch_pid))
        results.append(clickhouse_direct(ch_url, ch_pid, clickhouse_rows(records, 50_000), 2, len(records)))
    finally:
        subprocess.run(ch_stop, check=False)
    names = {"embedded": "Sightline, embedded engines", "clickhouse-1": "Sightline on ClickHouse, 1 server",
             "clickhouse-2": "Sightline on ClickHouse, 2 servers"}
    print(f"{len(records):,} gen_logs.py lines, {args.conns} connections, {args.batch} lines per push\n")
    print("| case | lines/s (until queryable) | acked after | Sightline CPU s | ClickHouse CPU s | count p50 | needle p50 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {names.get(r['case'], r['case'])} | {r['lines_per_s']:,.0f} | {r['acked_s']:.1f} s | {r['server_cpu_s']:.1f} | "
              f"{r['clickhouse_cpu_s']:.1f} | {r['count_ms']:.1f} ms | {r['needle_ms']:.1f} ms |")


if __name__ == "__main__":
    main()
