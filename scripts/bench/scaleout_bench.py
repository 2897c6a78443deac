"""Scale-out on ClickHouse: ingestion and query latency of `sightline server` on its embedded engines, on ClickHouse
with one server, on ClickHouse with two servers sharing the load, and ClickHouse used directly (the same data
inserted as JSONEachRow/CSV into a plain MergeTree table), for each signal on its ../shared/datasets generator:

- logs: gen_logs.py lines pushed with Loki's push API (JSON);
- metrics: gen_metrics.py series as snappy remote-write requests (CSV of the same samples for ClickHouse);
- traces: gen_traces.py traces as OTLP protobuf requests (flat spans for ClickHouse, loaded by
  ../shared/peers/bench_traces_clickhouse.py, which reports its own figures).

Each Sightline case: fresh release servers (a fresh ClickHouse database), the requests posted over `--conns` keep-alive
connections (split evenly between the servers in the two-server case), and the clock stops when a query through a
server sees everything (so ClickHouse's insert delay is included). CPU seconds are read from /proc for the servers
and for ClickHouse. Queries: 7 runs each, median, through the (first) server or as SQL.
"""
import argparse
import collections
import json
import os
import random
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
DIRECT_BATCH = 50_000


def timed_ms(fn, runs=7):
    fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def clickhouse_query(ch_url, sql, body=None):
    if body is None:
        status, data = request(ch_url, "POST", "/", sql.encode())
    else:
        status, data = request(ch_url, "POST", "/?" + urllib.parse.urlencode({"query": sql}), body)
    if status != 200:
        raise SystemExit(f"ClickHouse: {data[:300]!r}")
    return data


def get_json(url, path, params):
    status, data = request(url, "GET", path + "?" + urllib.parse.urlencode(params))
    return status, (json.loads(data) if status == 200 else None)


def instant_count(url, path, query, at):
    """The single value of an instant query (Prometheus or Loki API) as an int; 0 without a result, -1 on an error."""
    status, doc = get_json(url, path, {"query": query, "time": at})
    if status != 200:
        return -1
    result = doc["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


class Counted:
    """A workload that is visible once its count query sees every item."""

    def visible(self, url, shares):
        return self.count(url) >= self.total


class Logs(Counted):
    """gen_logs.py lines over Loki's push API; counted with LogQL."""
    unit = "lines"
    path, content_type, headers, ok_status = "/loki/api/v1/push", "application/json", None, 204
    query_names = ("count", "needle")

    def __init__(self, args, work):
        out = os.path.join(work, "logs.ndjson")
        start_ms = int(time.time() * 1000) - 3_000_000
        subprocess.run([sys.executable, os.path.join(args.shared, "datasets", "gen_logs.py"), "--count", str(args.lines),
                        "--seed", "42", "--rate", str(max(1, args.lines // 2400)), "--start-ms", str(start_ms), "--out", out],
                       check=True, capture_output=True)
        self.records = [json.loads(line) for line in open(out)]
        self.total = len(self.records)
        self.start_ns, self.end_ns = self.records[0]["ts_ns"] - 10**9, time.time_ns() + 60 * 10**9
        self.bodies = []
        for i in range(0, len(self.records), args.batch):
            streams = collections.defaultdict(list)
            for r in self.records[i:i + args.batch]:
                streams[(r["service"], r["host"], r["level"])].append([str(r["ts_ns"]), r["message"], r.get("attrs", {})])
            self.bodies.append(json.dumps({"streams": [{"stream": {"service": s, "host": h, "level": lv}, "values": v}
                                                       for (s, h, lv), v in streams.items()]}).encode())
        self.describe = f"{self.total:,} gen_logs.py lines, {args.batch} lines per push"

    def count(self, url):
        return instant_count(url, "/loki/api/v1/query", 'sum(count_over_time({service=~".+"}[2h]))', str(self.end_ns))

    def queries(self, url):
        needle = {"query": '{service="payments"} |= "checksum mismatch"', "start": str(self.start_ns), "end": str(self.end_ns),
                  "limit": "1000"}
        return [timed_ms(lambda: self.count(url)),
                timed_ms(lambda: request(url, "GET", "/loki/api/v1/query_range?" + urllib.parse.urlencode(needle)))]

    def direct(self, ch_url, ch_pid, conns):
        clickhouse_query(ch_url, """CREATE TABLE direct.logs (ts DateTime, ts_ns UInt64, service String, host String,
            level String, message String, attr_keys Array(String), attr_values Array(String))
            ENGINE = MergeTree PARTITION BY toDate(ts) ORDER BY (service, level, ts)""")
        bodies = []
        for i in range(0, len(self.records), DIRECT_BATCH):
            rows = [json.dumps({"ts": r["ts_ns"] // 10**9, "ts_ns": r["ts_ns"], "service": r["service"], "host": r["host"],
                                "level": r["level"], "message": r["message"], "attr_keys": list(r.get("attrs", {}).keys()),
                                "attr_values": list(r.get("attrs", {}).values())}, separators=(",", ":"))
                    for r in self.records[i:i + DIRECT_BATCH]]
            bodies.append(("\n".join(rows) + "\n").encode())
        ch0 = cpu_seconds(ch_pid)
        seconds, errors = post_all(ch_url, "/?" + urllib.parse.urlencode({"query": "INSERT INTO direct.logs FORMAT JSONEachRow"}),
                                   bodies, conns, "application/json", 200)
        if errors:
            raise SystemExit(f"direct: {errors[0]}")
        cpu = cpu_seconds(ch_pid) - ch0
        return seconds, cpu, [
            timed_ms(lambda: clickhouse_query(ch_url, "SELECT count() FROM direct.logs")),
            timed_ms(lambda: clickhouse_query(ch_url, "SELECT ts_ns, message FROM direct.logs WHERE service = 'payments' AND "
                                                      "position(message, 'checksum mismatch') > 0 ORDER BY ts_ns DESC LIMIT 1000"))]


class Metrics(Counted):
    """gen_metrics.py node-exporter-like series as snappy remote-write requests; counted with PromQL."""
    unit = "samples"
    path, content_type, ok_status = "/api/v1/write", "application/x-protobuf", 204
    headers = {"Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0"}
    query_names = ("count", "cpu by instance")
    CPU = 'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))'

    def __init__(self, args, work):
        step_ms = 15_000
        steps = 240  # one hour
        self.end_ms = int(time.time()) * 1000 // step_ms * step_ms
        self.start_ms = self.end_ms - (steps - 1) * step_ms
        common = [sys.executable, os.path.join(args.shared, "datasets", "gen_metrics.py"), "--series", str(args.series),
                  "--span", "1h", "--step", "15s", "--seed", "1", "--start-ms", str(self.start_ms)]
        frames_path, csv_path = os.path.join(work, "metrics.rw"), os.path.join(work, "metrics.csv")
        subprocess.run(common + ["--format", "remote-write", "--compress", "snappy", "--batch-series", "2000", "--shards", "1",
                                 "--out", frames_path], check=True, capture_output=True)
        subprocess.run(common + ["--format", "csv", "--out", csv_path], check=True, capture_output=True)
        data = open(frames_path, "rb").read()
        pos, self.bodies, self.total = 0, [], 0
        while pos < len(data):
            samples, size = int.from_bytes(data[pos + 1:pos + 5], "big"), int.from_bytes(data[pos + 5:pos + 9], "big")
            self.bodies.append(data[pos + 9:pos + 9 + size])
            self.total += samples
            pos += 9 + size
        lines = open(csv_path).read().splitlines()[1:]
        self.csv = [("\n".join(lines[i:i + DIRECT_BATCH]) + "\n").encode() for i in range(0, len(lines), DIRECT_BATCH)]
        self.describe = f"{self.total:,} gen_metrics.py samples ({args.series:,} series x 1 h at 15 s), 2,000 series per request"

    def count(self, url):
        return instant_count(url, "/api/v1/query", 'sum(count_over_time({__name__=~".+", region!=""}[2h]))', str(self.end_ms / 1000 + 60))

    def queries(self, url):
        cpu = {"query": self.CPU, "start": str(self.start_ms / 1000), "end": str(self.end_ms / 1000), "step": "60"}
        return [timed_ms(lambda: self.count(url)),
                timed_ms(lambda: request(url, "GET", "/api/v1/query_range?" + urllib.parse.urlencode(cpu)))]

    def direct(self, ch_url, ch_pid, conns):
        clickhouse_query(ch_url, """CREATE TABLE direct.samples (ts_ms Int64, metric String, labels String, value Float64,
            ts DateTime DEFAULT toDateTime(intDiv(ts_ms, 1000)))
            ENGINE = MergeTree PARTITION BY toDate(ts) ORDER BY (metric, labels, ts_ms)""")
        insert = "INSERT INTO direct.samples (ts_ms, metric, labels, value) FORMAT CSV"
        ch0 = cpu_seconds(ch_pid)
        seconds, errors = post_all(ch_url, "/?" + urllib.parse.urlencode({"query": insert}), self.csv, conns, "text/csv", 200)
        if errors:
            raise SystemExit(f"direct: {errors[0]}")
        cpu = cpu_seconds(ch_pid) - ch0
        # The dashboard question in SQL: each non-idle CPU series' increase per minute, summed per instance.
        by_instance = """SELECT minute, instance, sum(increase) FROM (
            SELECT labels, intDiv(ts_ms, 60000) AS minute, extract(labels, 'instance=([^;]+)') AS instance,
                   max(value) - min(value) AS increase
            FROM direct.samples WHERE metric = 'node_cpu_seconds_total' AND position(labels, 'mode=idle') = 0
            GROUP BY labels, minute, instance) GROUP BY minute, instance ORDER BY minute, instance"""
        return seconds, cpu, [timed_ms(lambda: clickhouse_query(ch_url, "SELECT count() FROM direct.samples")),
                              timed_ms(lambda: clickhouse_query(ch_url, by_instance))]


class Traces:
    """gen_traces.py traces as OTLP protobuf requests; visible when the last traces of every server's share are whole."""
    unit = "spans"
    path, content_type, headers, ok_status = "/v1/traces", "application/x-protobuf", None, 200
    query_names = ("trace by id", "search")

    def __init__(self, args, work):
        from traces_bench import protobuf_requests
        start_ms = int(time.time() * 1000) - 3_600_000
        common = [sys.executable, os.path.join(args.shared, "datasets", "gen_traces.py"), "--traces", str(args.traces),
                  "--seed", "1", "--start-ms", str(start_ms), "--traces-per-batch", "100"]
        otlp, self.spans_path = os.path.join(work, "traces.otlp.ndjson"), os.path.join(work, "traces.spans.ndjson")
        subprocess.run(common + ["--format", "otlp-json", "--out", otlp], check=True, capture_output=True)
        subprocess.run(common + ["--format", "spans", "--out", self.spans_path], check=True, capture_output=True)
        self.ids_per_body = []
        for line in open(otlp):
            doc = json.loads(line)
            self.ids_per_body.append({span["traceId"] for rs in doc.get("resourceSpans", []) for ss in rs.get("scopeSpans", [])
                                      for span in ss.get("spans", [])})
        log("converting OTLP/JSON to protobuf ...")
        self.bodies, self.span_counts, self.total = protobuf_requests(otlp)
        self.start_us, self.end_us = (start_ms - 60_000) * 1000, (int(time.time() * 1000) + 86_400_000) * 1000
        self.lookups = random.Random(7).sample(sorted(self.span_counts), min(50, len(self.span_counts)))
        self.describe = f"{self.total:,} gen_traces.py spans in {len(self.span_counts):,} traces, 100 traces per request"

    def whole(self, url, trace_id):
        status, doc = get_json(url, f"/api/traces/{trace_id}", {})
        return status == 200 and len(doc["data"][0]["spans"]) >= self.span_counts[trace_id]

    def visible(self, url, shares):
        # Each server inserts in arrival order: the last request of its share being whole means the share is.
        return all(self.whole(url, trace_id) for last in shares for trace_id in self.ids_per_body[last])

    def queries(self, url):
        search = {"service": "checkout", "minDuration": "100ms", "limit": "20", "start": str(self.start_us), "end": str(self.end_us)}
        ids = iter(self.lookups * 10)
        return [timed_ms(lambda: self.whole(url, next(ids)), runs=len(self.lookups) - 1),
                timed_ms(lambda: request(url, "GET", "/api/traces?" + urllib.parse.urlencode(search)))]

    def direct(self, ch_url, ch_pid, conns):
        out = subprocess.run([sys.executable, os.path.join(ARGS.shared, "peers", "bench_traces_clickhouse.py"), "--file",
                              self.spans_path, "--url", ch_url, "--server-pid", str(ch_pid), "--runs", "7",
                              "--conns", str(conns), "--batch", str(DIRECT_BATCH)],
                             check=True, capture_output=True, text=True).stdout
        doc = json.loads(out.strip().splitlines()[-1])
        seconds = doc["wall_seconds"]
        cpu = doc["server_cpu_s_per_million_spans"] * doc["spans"] / 1e6
        return seconds, cpu, [doc["queries"]["trace_by_id"]["median_ms"], None]


def sightline_case(name, workload, binary, work, configs, conns, ch_pid):
    servers = [Server(binary, os.path.join(work, f"{name}-{i}"), os.path.join(work, f"{name}-{i}.log"), text).start()
               for i, text in enumerate(configs)]
    try:
        cpu0 = [cpu_seconds(s.proc.pid) for s in servers]
        ch0 = cpu_seconds(ch_pid) if ch_pid else 0
        started = time.perf_counter()
        indexes = list(range(len(workload.bodies)))
        shares = [indexes[i::len(servers)] for i in range(len(servers))]
        errors = []
        threads = [threading.Thread(target=lambda s=s, part=part: errors.extend(post_all(
            s.url, workload.path, [workload.bodies[i] for i in part], max(1, conns // len(servers)), workload.content_type,
            workload.ok_status, workload.headers)[1])) for s, part in zip(servers, shares)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        acked = time.perf_counter() - started
        if errors:
            raise SystemExit(f"{name}: {len(errors)} requests failed, e.g. {errors[0]}")
        deadline = time.time() + 600
        last_of_shares = [part[-1] for part in shares if part]
        while not workload.visible(servers[0].url, last_of_shares):
            if time.time() > deadline:
                raise SystemExit(f"{name}: not everything became queryable")
            time.sleep(0.2)
        visible = time.perf_counter() - started
        cpu = sum(cpu_seconds(s.proc.pid) - c for s, c in zip(servers, cpu0))
        ch_cpu = (cpu_seconds(ch_pid) - ch0) if ch_pid else 0.0
        return {"case": name, "acked_s": acked, "visible_s": visible, "per_s": workload.total / visible,
                "server_cpu_s": cpu, "clickhouse_cpu_s": ch_cpu, "query_ms": workload.queries(servers[0].url)}
    finally:
        for s in servers:
            s.stop()


def run_signal(workload, args, work, ch_url, ch_pid, database_prefix):
    ch = lambda db: (f"storage:\n  backend: clickhouse\n  clickhouse: {{url: \"{ch_url}\", database: {db}}}\n"  # noqa: E731
                     "wal:\n  fsync: always\n")
    results = [
        sightline_case("embedded", workload, args.bin, work, ["wal:\n  fsync: always\n"], args.conns, None),
        sightline_case("clickhouse-1", workload, args.bin, work, [ch(database_prefix + "1")], args.conns, ch_pid),
        sightline_case("clickhouse-2", workload, args.bin, work, [ch(database_prefix + "2")] * 2, args.conns, ch_pid),
    ]
    clickhouse_query(ch_url, "CREATE DATABASE IF NOT EXISTS direct")
    seconds, cpu, query_ms = workload.direct(ch_url, ch_pid, 2)
    results.append({"case": f"ClickHouse directly ({DIRECT_BATCH:,} rows per INSERT)", "acked_s": seconds, "visible_s": seconds,
                    "per_s": workload.total / seconds, "server_cpu_s": 0.0, "clickhouse_cpu_s": cpu, "query_ms": query_ms})
    return results


def print_table(workload, results, conns):
    names = {"embedded": "Sightline, embedded engines", "clickhouse-1": "Sightline on ClickHouse, 1 server",
             "clickhouse-2": "Sightline on ClickHouse, 2 servers"}
    q1, q2 = workload.query_names
    print(f"\n{workload.describe}, {conns} connections\n")
    print(f"| case | {workload.unit}/s (until queryable) | acked after | Sightline CPU s | ClickHouse CPU s | {q1} p50 | {q2} p50 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        queries = " | ".join("–" if ms is None else f"{ms:.1f} ms" for ms in r["query_ms"])
        print(f"| {names.get(r['case'], r['case'])} | {r['per_s']:,.0f} | {r['acked_s']:.1f} s | {r['server_cpu_s']:.1f} | "
              f"{r['clickhouse_cpu_s']:.1f} | {queries} |")
    sys.stdout.flush()


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--shared", required=True)
    parser.add_argument("--signals", default="logs,metrics,traces", help="comma-separated subset of logs,metrics,traces")
    parser.add_argument("--lines", type=int, default=300_000, help="log lines")
    parser.add_argument("--batch", type=int, default=2000, help="lines per Loki push")
    parser.add_argument("--series", type=int, default=2000, help="metric series (240 samples each)")
    parser.add_argument("--traces", type=int, default=20_000, help="traces (about 15 spans each)")
    parser.add_argument("--conns", type=int, default=4)
    ARGS = args = parser.parse_args()
    kinds = {"logs": Logs, "metrics": Metrics, "traces": Traces}
    signals = [s.strip() for s in args.signals.split(",") if s.strip()]
    for s in signals:
        if s not in kinds:
            raise SystemExit(f"unknown signal {s!r}; choose from logs, metrics, traces")
    work = tempfile.mkdtemp(prefix="sightline-scaleout-bench-")
    lines = subprocess.run([os.path.join(ROOT, "scripts", "clickhouse-for-tests.sh"), "start"], check=True, capture_output=True,
                           text=True).stdout.split("\n")
    ch_url, ch_stop = lines[0], lines[1].split()
    ch_pid = int(open(os.path.join(ch_stop[-1], "pid")).read())
    log(f"ClickHouse at {ch_url} (pid {ch_pid})")
    try:
        for signal_name in signals:
            workload = kinds[signal_name](args, work)
            log(f"{signal_name}: {workload.describe}")
            print_table(workload, run_signal(workload, args, work, ch_url, ch_pid, f"bench_{signal_name}_"), args.conns)
    finally:
        subprocess.run(ch_stop, check=False)


ARGS = None

if __name__ == "__main__":
    main()
