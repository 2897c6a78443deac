#!/usr/bin/env python3
"""Trace benchmark: Sightline's span ingestion, size on disk, trace-by-id and search latency, with ClickHouse 18.16
as a reference in the same run (no trace peer is packaged; ClickHouse has no trace-id index, so its trace-by-id is a
scan — it anchors the ingestion cost and the size, not the lookup).

One dataset from ../shared/datasets/gen_traces.py, generated twice from the same seed: OTLP/JSON (converted before
timing into OTLP protobuf ExportTraceServiceRequests, as SDK exporters send them) for Sightline, flat spans for
ClickHouse's loader (../shared/peers/bench_traces_clickhouse.py, which reports its own figures).

Sightline (release build, fresh data dir) receives the protobuf requests on /v1/traces over 2 connections. Measured:
spans/s and server CPU seconds per million spans during the load (utime+stime from /proc/PID/stat), again with the
persistence that follows; bytes on disk per span (the trace store's directory after a graceful shutdown) next to the
OTLP protobuf bytes per span; after a restart on the same data: GET /api/traces/<id> latency p50/p99 over --lookups
random trace ids (each checked to come back whole), the median latency of service + duration searches
(/api/traces?service=…&minDuration=…&limit=20) over the whole time range, of three TraceQL searches through
Tempo's /api/search, and of five TraceQL metrics queries (/api/metrics/query_range and /api/metrics/query) over the
whole dataset, the first of them the TraceQL form of ClickHouse's p99-duration-by-service query.

Prints a markdown table; raw figures are appended to a JSON-lines file.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import Server, check, cpu_seconds, du_bytes, free_ports, log, post_all, request, wait_until_stable

SIGHTLINE_CONFIG = "wal:\n  checkpoint_interval: 5s\ntraces:\n  retention: 0\n  span_metrics: true\n  self_tracing: false\n"


def generate(args, fmt):
    d = os.path.join(args.workdir, "datasets")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"traces-{args.traces}-seed{args.seed}-{fmt}.ndjson")
    if not os.path.exists(path):
        log(f"generating {path} ...")
        subprocess.run([sys.executable, os.path.join(args.shared, "datasets", "gen_traces.py"), "--traces", str(args.traces),
                        "--seed", str(args.seed), "--start-ms", str(args.start_ms), "--format", fmt,
                        "--traces-per-batch", str(args.traces_per_batch), "--out", path + ".tmp"], check=True)
        os.rename(path + ".tmp", path)
    return path


def cached_protobuf_requests(path):
    """protobuf_requests(path), kept beside the dataset (`<path>.pb`: u32 length + request, repeated; `<path>.pb.json`:
    span counts per trace) so a rerun on the same dataset skips the slow conversion."""
    frames, counts = path + ".pb", path + ".pb.json"
    if os.path.exists(frames) and os.path.exists(counts) and os.path.getmtime(frames) >= os.path.getmtime(path):
        data = open(frames, "rb").read()
        bodies, pos = [], 0
        while pos < len(data):
            size = int.from_bytes(data[pos:pos + 4], "big")
            bodies.append(data[pos + 4:pos + 4 + size])
            pos += 4 + size
        traces = json.load(open(counts))
        return bodies, traces, sum(traces.values())
    bodies, traces, spans = protobuf_requests(path)
    with open(frames + ".tmp", "wb") as f:
        for body in bodies:
            f.write(len(body).to_bytes(4, "big"))
            f.write(body)
    with open(counts + ".tmp", "w") as f:
        json.dump(traces, f)
    os.replace(counts + ".tmp", counts)
    os.replace(frames + ".tmp", frames)
    return bodies, traces, spans


def protobuf_requests(path):
    """OTLP/JSON lines as serialized ExportTraceServiceRequests; the trace ids and span count."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    bodies, traces, spans = [], {}, 0
    with open(path) as f:
        for line in f:
            doc = json.loads(line)
            for rs in doc.get("resourceSpans", []):
                for ss in rs.get("scopeSpans", []):
                    for span in ss.get("spans", []):
                        traces[span["traceId"]] = traces.get(span["traceId"], 0) + 1
                        # OTLP/JSON carries ids as hex; the protobuf mapping wants base64 bytes.
                        for key in ("traceId", "spanId", "parentSpanId"):
                            if span.get(key):
                                span[key] = _b64(span[key])
                        for link in span.get("links", []):
                            for key in ("traceId", "spanId"):
                                if link.get(key):
                                    link[key] = _b64(link[key])
                        spans += 1
            bodies.append(json_format.Parse(json.dumps(doc), ExportTraceServiceRequest()).SerializeToString())
    return bodies, traces, spans


def _b64(hex_text):
    import base64
    return base64.b64encode(bytes.fromhex(hex_text)).decode()


def run_clickhouse(args, path):
    env = dict(os.environ, PEERS_DIR=os.path.join(args.workdir, "peers"))
    peer = os.path.join(args.shared, "peers", "peer.sh")
    http_port, tcp_port = free_ports(2)
    env.update(CH_HTTP_PORT=str(http_port), CH_TCP_PORT=str(tcp_port))
    subprocess.run([peer, "wipe", "clickhouse"], env=env, capture_output=True)
    subprocess.run([peer, "start", "clickhouse"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        pid = subprocess.run([peer, "pid", "clickhouse"], env=env, capture_output=True, text=True, check=True).stdout.strip()
        url = subprocess.run([peer, "url", "clickhouse"], env=env, capture_output=True, text=True, check=True).stdout.strip()
        out = subprocess.run([sys.executable, os.path.join(args.shared, "peers", "bench_traces_clickhouse.py"), "--file", path,
                              "--url", url, "--server-pid", pid, "--runs", "5", "--label", "clickhouse"],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    finally:
        subprocess.run([peer, "stop", "clickhouse"], env=env, capture_output=True)
        subprocess.run([peer, "wipe", "clickhouse"], env=env, capture_output=True)


def run_sightline(args, bodies, traces, spans):
    workdir = tempfile.mkdtemp(prefix="sightline-traces-", dir=args.workdir)
    data_dir = os.path.join(workdir, "data")
    server = Server(args.bin, data_dir, os.path.join(workdir, "server.log"), SIGHTLINE_CONFIG).start()
    try:
        log(f"Sightline at {server.url}: {spans} spans in {len(bodies)} requests ...")
        cpu0 = cpu_seconds(server.proc.pid)
        wall, errors = post_all(server.url, "/v1/traces", bodies, args.conns, "application/x-protobuf", 200)
        cpu1 = cpu_seconds(server.proc.pid)
        check(not errors, f"{len(errors)} requests failed, first: {errors[:1]}")
        store = os.path.join(data_dir, "traces")
        wait_until_stable(store, max_s=300)
        cpu2 = cpu_seconds(server.proc.pid)
        server.stop()
        result = {
            "spans": spans, "spans_per_s": round(spans / wall), "cpu_s_per_million": round((cpu1 - cpu0) / (spans / 1e6), 2),
            "cpu_s_per_million_with_persistence": round((cpu2 - cpu0) / (spans / 1e6), 2),
            "bytes_per_span": round(du_bytes(store) / spans, 1),
            "otlp_protobuf_bytes_per_span": round(sum(len(b) for b in bodies) / spans, 1),
        }
        server.start()
        rng = random.Random(7)
        ids = rng.sample(sorted(traces), min(args.lookups, len(traces)))
        for trace_id in ids[:20]:  # warm-up
            server.query(f"/api/traces/{trace_id}", {})
        latencies = []
        for trace_id in ids:
            start = time.perf_counter()
            doc = server.query(f"/api/traces/{trace_id}", {})
            latencies.append((time.perf_counter() - start) * 1000)
            check(len(doc["data"][0]["spans"]) == traces[trace_id], f"trace {trace_id} came back with "
                  f"{len(doc['data'][0]['spans'])} spans, not {traces[trace_id]}")
        latencies.sort()
        result["trace_by_id_ms"] = {"p50": round(latencies[len(latencies) // 2], 2),
                                    "p99": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
                                    "lookups": len(latencies)}
        searches = []
        span_us = (args.start_ms - 60_000) * 1000, (args.start_ms + 10 * 86_400_000) * 1000
        for service, min_duration in [("checkout", "100ms"), ("payments", "50ms"), ("frontend", "1s"), ("search", "20ms")]:
            params = {"service": service, "minDuration": min_duration, "limit": "20", "start": str(span_us[0]), "end": str(span_us[1])}
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                found = server.query("/api/traces", params)
                times.append((time.perf_counter() - start) * 1000)
            searches.append({"service": service, "minDuration": min_duration, "median_ms": round(statistics.median(times), 1),
                             "traces": len(found["data"])})
        result["search"] = searches
        # TraceQL through Tempo's API: one the store can narrow (service, duration), one it cannot (a numeric range
        # on an attribute: up to 1,000 candidate traces are read and checked), one structural.
        traceql = []
        window = {"start": str(args.start_ms // 1000 - 60), "end": str(args.start_ms // 1000 + 10 * 86_400), "limit": "20"}
        for q in ['{ resource.service.name = "checkout" && duration > 100ms }', "{ span.http.status_code >= 500 }",
                  '{ resource.service.name = "frontend" } >> { status = error }']:
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                found = server.query("/api/search", {"q": q, **window})
                times.append((time.perf_counter() - start) * 1000)
            traceql.append({"q": q, "median_ms": round(statistics.median(times), 1), "traces": len(found["traces"]),
                            "inspected": found["metrics"]["inspectedTraces"]})
        result["traceql"] = traceql
        # TraceQL metrics as Grafana's Traces Drilldown asks for them, over the whole dataset (every matching span is
        # read): the first is ClickHouse's p99_duration_by_service query in TraceQL, for a same-run ratio.
        metrics = []
        span_window = {"start": str(args.start_ms // 1000 - 60), "end": str(args.start_ms // 1000 + 10 * 86_400)}
        for path, q in [("query", "{ kind = server } | quantile_over_time(duration, 0.99) by (resource.service.name)"),
                        ("query_range", "{ nestedSetParent < 0 } | rate() by (resource.service.name)"),
                        ("query_range", "{ status = error } | rate()"),
                        ("query_range", "{ nestedSetParent < 0 } | histogram_over_time(duration)"),
                        ("query", "{ nestedSetParent < 0 } | compare({ status = error }, 10)")]:
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                answer = server.query(f"/api/metrics/{path}", {"q": q, **span_window})
                times.append((time.perf_counter() - start) * 1000)
            check(answer["series"], f"{q} found no series")
            metrics.append({"q": q, "path": path, "median_ms": round(statistics.median(times), 1), "series": len(answer["series"])})
        result["traceql_metrics"] = metrics
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
    ap.add_argument("--traces", type=int, default=100_000, help="traces to generate (about 15 spans each)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start-ms", type=int, default=int(time.time() * 1000) // 86_400_000 * 86_400_000 - 86_400_000)
    ap.add_argument("--traces-per-batch", type=int, default=100, help="traces per OTLP request")
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--lookups", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--systems", default="both", choices=["both", "sightline", "clickhouse"])
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "sightline-bench"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    results = {}
    if args.systems in ("both", "clickhouse"):
        results["clickhouse"] = run_clickhouse(args, generate(args, "spans"))
    if args.systems in ("both", "sightline"):
        log("converting OTLP/JSON to protobuf ...")
        bodies, traces, spans = cached_protobuf_requests(generate(args, "otlp-json"))
        results["sightline"] = run_sightline(args, bodies, traces, spans)
    with open(os.path.join(args.workdir, "traces-results.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.time(), **results}) + "\n")
    s, c = results.get("sightline"), results.get("clickhouse")
    print("\n| figure | Sightline | ClickHouse 18.16 (reference) |")
    print("| --- | --- | --- |")
    if s:
        print(f"| spans | {s['spans']:,} | {c['spans'] if c and 'spans' in c else '-'} |")
    print(f"| spans/s ingested | {s['spans_per_s'] if s else '-'} | {c.get('spans_per_second', '-') if c else '-'} |")
    print(f"| server CPU s per 1 M spans (load) | {s['cpu_s_per_million'] if s else '-'} | "
          f"{c.get('server_cpu_s_per_million_spans', '-') if c else '-'} |")
    if s:
        print(f"| … incl. persistence | {s['cpu_s_per_million_with_persistence']} | - |")
        print(f"| bytes on disk per span (OTLP protobuf: {s['otlp_protobuf_bytes_per_span']}) | {s['bytes_per_span']} | "
              f"{c.get('bytes_on_disk_per_span', '-') if c else '-'} |")
        print(f"| trace by id p50 / p99 (ms, {s['trace_by_id_ms']['lookups']} lookups) | {s['trace_by_id_ms']['p50']} / "
              f"{s['trace_by_id_ms']['p99']} | {c.get('queries', {}).get('trace_by_id', {}).get('median_ms', '-') if c else '-'} (median, scan) |")
        for search in s["search"]:
            print(f"| search service={search['service']} minDuration={search['minDuration']} (median ms) | {search['median_ms']} | - |")
        for search in s["traceql"]:
            print(f"| TraceQL `{search['q']}` (median ms; {search['traces']} traces of {search['inspected']} read) | "
                  f"{search['median_ms']} | - |")
        p99 = c.get("queries", {}).get("p99_duration_by_service", {}) if c else {}
        for number, item in enumerate(s.get("traceql_metrics", [])):
            reference = "-"
            if number == 0 and p99:
                check(p99["result_rows"] == item["series"], f"ClickHouse has {p99['result_rows']} services, TraceQL {item['series']}")
                reference = f"{p99['median_ms']} (`quantile(0.99)(duration_ns) … GROUP BY service`; ratio {item['median_ms'] / p99['median_ms']:.2f})"
            q = item["q"].replace("|", "\\|")
            print(f"| TraceQL metrics `{q}` ({item['path']}, median ms; {item['series']} series) | {item['median_ms']} | {reference} |")


if __name__ == "__main__":
    main()
