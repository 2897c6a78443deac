#!/usr/bin/env python3
"""Log benchmark: Sightline against ClickHouse 18.16 in the same run, on the same lines.

The dataset is ../shared/datasets/gen_logs.py output (NDJSON; 10 services, nginx and JSON application lines, stack
traces, a rare needle "checksum mismatch" once per 150,000 lines), generated once per size and seed so that it ends
at generation time.

ClickHouse (through ../shared/peers/peer.sh, its own PEERS_DIR and free ports) is loaded by the peers' own
../shared/peers/bench_logs_clickhouse.py: JSONEachRow inserts of 50,000 rows over 2 connections into a MergeTree
table (ts, ts_ns, service, host, level, message, trace_id, attribute keys and values; LZ4), which reports server
CPU seconds per million lines and bytes on disk per line after OPTIMIZE FINAL. This script then runs the queries the
issue names against it, with the same meaning as Sightline's below.

Sightline (a fresh `sightline server`, release build, own data dir) takes the same lines over the Loki push API
(JSON, streams {service, host, level}, the attributes as structured metadata) in batches of --batch lines over 2
connections. Measured: server CPU seconds (utime+stime of /proc/PID/stat around the load) per million lines, and
again from the first push through the graceful shutdown (wait4's resource usage), which includes every checkpoint,
merge and the final persistence (the server runs with its default configuration); bytes on disk per line after a graceful shutdown (everything
persisted; `logs` = the log store's directory, `total` = the whole data dir incl. the WAL). The server is then
restarted on the same data and queried through the Loki API:

| query | Sightline (LogQL) | ClickHouse (SQL) |
| --- | --- | --- |
| rare term over all data | `{service=~".+"} |= "checksum mismatch"` (limit 1000) | `message LIKE '%checksum mismatch%'` |
| count by level per minute, last hour | `sum by (level) (count_over_time({service=~".+"}[1m]))`, step 1m | `GROUP BY toStartOfMinute(ts), level` over the last hour |
| top 10 services by error count | `topk(10, sum by (service) (count_over_time({level=~"error|fatal"}[SPAN])))` | `GROUP BY service ORDER BY count() DESC LIMIT 10` of error/fatal |
| line bytes per service, last hour | `/index/volume` of `{service=~".+"}` | `sum(length(message)) GROUP BY service` |
| one service's patterns, last hour | `/patterns` of `{service="search"}`, step 1m | (none) |
| one service's fields | `/detected_fields` of `{service="gateway"}`, newest 1,000 lines | (none) |

"Last hour" is the hour before the newest line. Results are checked: the needle rows and the top-10 counts must be
equal in both systems, and so must the bytes per service; the per-minute counts must add up to the same total
(window edges differ by design: LogQL's window is (t-1m, t], ClickHouse's bucket [m, m+1m)).

Prints a markdown table (medians of --runs query runs) with Sightline/ClickHouse ratios; raw figures go to a
JSON-lines file.
"""
import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

from benchlib import Server, check, cpu_seconds, du_bytes, free_ports, log, post_all, ratio, request, timed, wait_until_stable

NEEDLE = "checksum mismatch"
# The server's defaults (a 30 s checkpoint). The cost of persisting is counted in full all the same: the figure
# compared with ClickHouse's is the server's CPU from the first push through its graceful shutdown, which persists
# whatever the last checkpoint left in the WAL.
SIGHTLINE_CONFIG = ""


# ---------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------
def dataset(args):
    d = os.path.join(args.workdir, "datasets")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"logs-{args.lines}-seed{args.seed}-rate{args.rate}.ndjson")
    if not os.path.exists(path):
        span_ms = args.lines * 1000 // args.rate
        start_ms = int(time.time() * 1000) - span_ms
        log(f"generating {path} ({args.lines} lines) ...")
        tmp = path + ".tmp"
        subprocess.run([sys.executable, os.path.join(args.shared, "datasets", "gen_logs.py"), "--count", str(args.lines),
                        "--seed", str(args.seed), "--rate", str(args.rate), "--start-ms", str(start_ms), "--out", tmp],
                       check=True)
        os.rename(tmp, path)
    return path


def read_dataset(path):
    """Loki push bodies of --batch lines each, grouped into streams, and facts to check answers against."""
    records = []
    with open(path, "rb") as f:
        for line in f:
            r = json.loads(line)
            records.append((r["ts_ns"], r["service"], r["host"], r["level"], r["message"], r.get("attrs", {})))
    return records


def loki_bodies(records, batch):
    bodies = []
    for start in range(0, len(records), batch):
        streams = {}
        for ts, service, host, level, message, attrs in records[start:start + batch]:
            streams.setdefault((service, host, level), []).append([str(ts), message, attrs])
        doc = {"streams": [{"stream": {"service": s, "host": h, "level": l}, "values": v} for (s, h, l), v in streams.items()]}
        bodies.append(json.dumps(doc, separators=(",", ":")).encode())
    return bodies


def facts(records):
    newest = max(r[0] for r in records)
    oldest = min(r[0] for r in records)
    needles = sorted(r[0] for r in records if NEEDLE in r[4])
    errors = {}
    last_hour = 0
    volume = {}
    for ts, service, _, level, message, _ in records:
        if level in ("error", "fatal"):
            errors[service] = errors.get(service, 0) + 1
        if ts > newest - 3600 * 10**9:
            last_hour += 1
            volume[service] = volume.get(service, 0) + len(message.encode())
    top = sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return {"newest": newest, "oldest": oldest, "needles": needles, "top_errors": top, "last_hour_lines": last_hour,
            "last_hour_volume": volume}


# ---------------------------------------------------------------------------
# ClickHouse
# ---------------------------------------------------------------------------
def run_clickhouse(args, path, fact):
    env = dict(os.environ, PEERS_DIR=os.path.join(args.workdir, "peers"))
    peer = os.path.join(args.shared, "peers", "peer.sh")
    http_port, tcp_port = free_ports(2)
    env.update(CH_HTTP_PORT=str(http_port), CH_TCP_PORT=str(tcp_port))
    subprocess.run([peer, "wipe", "clickhouse"], env=env, capture_output=True)
    subprocess.run([peer, "start", "clickhouse"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        pid = subprocess.run([peer, "pid", "clickhouse"], env=env, capture_output=True, text=True, check=True).stdout.strip()
        url = subprocess.run([peer, "url", "clickhouse"], env=env, capture_output=True, text=True, check=True).stdout.strip()
        log(f"ClickHouse at {url}: loading {path} ...")
        out = subprocess.run([sys.executable, os.path.join(args.shared, "peers", "bench_logs_clickhouse.py"), "--file", path,
                              "--url", url, "--server-pid", pid, "--runs", str(args.runs), "--label", "clickhouse"],
                             check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])

        def q(sql):
            status, data = request(url, "POST", "/?" + urllib.parse.urlencode({"query": sql}))
            if status != 200:
                raise RuntimeError(f"ClickHouse {status}: {data[:300]!r}")
            return data.decode()

        hour_start = fact["newest"] - 3600 * 10**9
        queries = {
            "needle": f"SELECT ts_ns, service, host, message FROM logs WHERE message LIKE '%{NEEDLE}%' FORMAT TSV",
            "level_per_minute_last_hour": "SELECT toStartOfMinute(ts) AS m, level, count() FROM logs "
                                          f"WHERE ts_ns > {hour_start} GROUP BY m, level ORDER BY m, level FORMAT TSV",
            "top10_services_by_errors": "SELECT service, count() AS c FROM logs WHERE level IN ('error','fatal') "
                                        "GROUP BY service ORDER BY c DESC, service LIMIT 10 FORMAT TSV",
            "volume_by_service_last_hour": "SELECT service, sum(length(message)) AS b FROM logs "
                                           f"WHERE ts_ns > {hour_start} GROUP BY service ORDER BY b DESC FORMAT TSV",
        }
        timings = {}
        answers = {}
        for name, sql in queries.items():
            timings[name], answers[name] = timed(lambda sql=sql: q(sql), args.runs)
        needle_rows = sorted(int(line.split("\t")[0]) for line in answers["needle"].splitlines() if line)
        top = [(line.split("\t")[0], int(line.split("\t")[1])) for line in answers["top10_services_by_errors"].splitlines() if line]
        per_minute_total = sum(int(line.split("\t")[2]) for line in answers["level_per_minute_last_hour"].splitlines() if line)
        check(needle_rows == fact["needles"], f"ClickHouse needle rows {len(needle_rows)} != dataset {len(fact['needles'])}")
        check(sorted(top, key=lambda kv: (-kv[1], kv[0])) == fact["top_errors"], f"ClickHouse top errors {top} != {fact['top_errors']}")
        check(per_minute_total == fact["last_hour_lines"], f"ClickHouse last-hour total {per_minute_total} != {fact['last_hour_lines']}")
        volume = {line.split("\t")[0]: int(line.split("\t")[1]) for line in answers["volume_by_service_last_hour"].splitlines() if line}
        check(volume == fact["last_hour_volume"], f"ClickHouse last-hour volume {volume} != {fact['last_hour_volume']}")
        return {
            "cpu_s_per_million": result["server_cpu_s_per_million_lines"],
            "lines_per_s": result["lines_per_second"],
            "bytes_per_line": result["bytes_on_disk_per_line_after_optimize"],
            "bytes_per_line_before_optimize": result["bytes_on_disk_per_line_after_insert"],
            "queries": timings, "peer_script": result,
        }
    finally:
        subprocess.run([peer, "stop", "clickhouse"], env=env, capture_output=True)
        subprocess.run([peer, "wipe", "clickhouse"], env=env, capture_output=True)


# ---------------------------------------------------------------------------
# Sightline
# ---------------------------------------------------------------------------
def run_sightline(args, bodies, n, fact):
    workdir = tempfile.mkdtemp(prefix="sightline-logs-", dir=args.workdir)
    data_dir = os.path.join(workdir, "data")
    server = Server(args.bin, data_dir, os.path.join(workdir, "server.log"), SIGHTLINE_CONFIG).start()
    try:
        log(f"Sightline at {server.url}: pushing {n} lines in {len(bodies)} requests ...")
        cpu0 = cpu_seconds(server.proc.pid)
        wall, errors = post_all(server.url, "/loki/api/v1/push", bodies, args.conns, "application/json", 204)
        cpu1 = cpu_seconds(server.proc.pid)
        check(not errors, f"{len(errors)} pushes failed, first: {errors[:1]}")
        # Persistence after the load: let background work settle, then shut down gracefully (which persists the
        # rest); the process's CPU at exit counts all of it.
        logs_dir = os.path.join(data_dir, "logs")
        wait_until_stable(logs_dir)
        server.stop()
        result = {
            "cpu_s_per_million": round((cpu1 - cpu0) / (n / 1e6), 2),
            "cpu_s_per_million_with_persistence": round((server.exit_cpu_seconds - cpu0) / (n / 1e6), 2),
            "lines_per_s": round(n / wall),
            "bytes_per_line": round(du_bytes(logs_dir) / n, 1),
            "bytes_per_line_total": round(du_bytes(data_dir) / n, 1),
        }
        server.start()
        span_s = (fact["newest"] - fact["oldest"]) // 10**9 + 120
        end = fact["newest"] + 1
        queries = {
            "needle": ("/loki/api/v1/query_range", {"query": f'{{service=~".+"}} |= "{NEEDLE}"', "start": str(fact["oldest"]),
                                                     "end": str(end), "limit": "1000"}),
            "level_per_minute_last_hour": ("/loki/api/v1/query_range", {
                "query": 'sum by (level) (count_over_time({service=~".+"}[1m]))',
                "start": str(fact["newest"] - 3600 * 10**9 + 60 * 10**9), "end": str(fact["newest"]), "step": "60"}),
            "top10_services_by_errors": ("/loki/api/v1/query", {
                "query": f'topk(10, sum by (service) (count_over_time({{level=~"error|fatal"}}[{span_s}s])))', "time": str(end)}),
            # What Grafana's Logs Drilldown asks first: the services by volume, then one service's patterns and fields.
            "volume_by_service_last_hour": ("/loki/api/v1/index/volume", {
                "query": '{service=~".+"}', "start": str(fact["newest"] - 3600 * 10**9), "end": str(end)}),
            "patterns_search_last_hour": ("/loki/api/v1/patterns", {
                "query": '{service="search"}', "start": str(fact["newest"] - 3600 * 10**9), "end": str(end), "step": "60s"}),
            "detected_fields_gateway": ("/loki/api/v1/detected_fields", {
                "query": '{service="gateway"}', "start": str(fact["oldest"]), "end": str(end), "line_limit": "1000"}),
        }
        timings, answers = {}, {}
        for name, (path, params) in queries.items():
            timings[name], answers[name] = timed(lambda path=path, params=params: server.query(path, params), args.runs)
        needle_times = sorted(int(v[0]) for s in answers["needle"]["data"]["result"] for v in s["values"])
        check(needle_times == fact["needles"], f"Sightline needle lines {len(needle_times)} != dataset {len(fact['needles'])}")
        top = sorted(((s["metric"]["service"], int(float(s["value"][1]))) for s in answers["top10_services_by_errors"]["data"]["result"]),
                     key=lambda kv: (-kv[1], kv[0]))
        check(top == fact["top_errors"], f"Sightline top errors {top} != {fact['top_errors']}")
        volume = {v["metric"]["service"]: int(v["value"][1]) for v in answers["volume_by_service_last_hour"]["data"]["result"]}
        check(volume == fact["last_hour_volume"], f"Sightline last-hour volume {volume} != {fact['last_hour_volume']}")
        check(answers["patterns_search_last_hour"]["data"], "Sightline found no pattern")
        check(answers["detected_fields_gateway"].get("fields"), "Sightline detected no field")
        result["queries"] = timings
        server.stop()
        return result
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--lines", type=int, default=5_000_000)
    ap.add_argument("--rate", type=int, default=500, help="lines per second of simulated time (gen_logs.py --rate)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=10_000, help="lines per Loki push")
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per query")
    ap.add_argument("--systems", default="both", choices=["both", "sightline", "clickhouse"])
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "sightline-bench"))
    ap.add_argument("--keep", action="store_true", help="keep Sightline's data dir")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    path = dataset(args)
    log("reading the dataset ...")
    records = read_dataset(path)
    fact = facts(records)
    n = len(records)
    bodies = loki_bodies(records, args.batch) if args.systems in ("both", "sightline") else []
    # Only the request bodies are kept: the parsed records are gigabytes of small objects, and a load generator
    # holding them on a 2-core machine presses the page cache that both servers write through (9 GB of ballast
    # made Sightline's figure ~20 % higher in a test).
    del records
    gc.collect()
    results = {}
    if args.systems in ("both", "clickhouse"):
        results["clickhouse"] = run_clickhouse(args, path, fact)
    if args.systems in ("both", "sightline"):
        results["sightline"] = run_sightline(args, bodies, n, fact)
    out = os.path.join(args.workdir, "logs-results.jsonl")
    with open(out, "a") as f:
        f.write(json.dumps({"time": time.time(), "lines": n, **results}) + "\n")
    log(f"raw figures appended to {out}")
    s, c = results.get("sightline"), results.get("clickhouse")
    rows = [("server CPU s per 1 M lines (load)", "cpu_s_per_million"), ("lines/s", "lines_per_s"),
            ("bytes on disk per line", "bytes_per_line")]
    print(f"\n{n:,} lines from gen_logs.py (seed {args.seed}, {args.rate} lines/s)\n")
    print("| figure | Sightline | ClickHouse 18.16 | Sightline / ClickHouse |")
    print("| --- | --- | --- | --- |")
    for label, key in rows:
        print(f"| {label} | {s[key] if s else '-'} | {c[key] if c else '-'} | {ratio(s[key], c[key]) if s and c else '-'} |")
    if s:
        # Sightline's full cost (persistence through the graceful shutdown included) against ClickHouse's insert.
        full = s["cpu_s_per_million_with_persistence"]
        print(f"| server CPU s per 1 M lines incl. persistence and shutdown | {full} | {c['cpu_s_per_million'] if c else '-'} (load) | "
              f"{ratio(full, c['cpu_s_per_million']) if c else '-'} |")
        print(f"| bytes on disk per line incl. WAL | {s['bytes_per_line_total']} | - | - |")
    for name in ("needle", "level_per_minute_last_hour", "top10_services_by_errors", "volume_by_service_last_hour",
                 "patterns_search_last_hour", "detected_fields_gateway"):
        sm = s["queries"][name]["median_ms"] if s else None
        cm = c["queries"][name]["median_ms"] if c and name in c["queries"] else None
        print(f"| {name} (median ms) | {sm if sm is not None else '-'} | {cm if cm is not None else '-'} | "
              f"{ratio(sm, cm) if sm is not None and cm is not None else '-'} |")


if __name__ == "__main__":
    main()
