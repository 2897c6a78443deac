#!/usr/bin/env python3
"""OTLP/HTTP log ingestion benchmark: records/s and server CPU-seconds per million records.

Generates logs with ../shared/datasets/gen_logs.py (deterministic), packs them into OTLP protobuf
ExportLogsServiceRequest bodies of --batch records (one resource per service/host), starts a fresh
`sightline server` on free loopback ports, posts every body over --connections keep-alive connections,
and reads the server's CPU time from /proc before and after. Prints one markdown table row.
"""
import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import ResourceLogs, ScopeLogs, LogRecord

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEVERITY = {"debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf(os.sysconf_names["SC_CLK_TCK"])
    return (int(fields[11]) + int(fields[12])) / ticks


def build_bodies(lines, batch):
    bodies = []
    for start in range(0, len(lines), batch):
        groups = {}
        for rec in lines[start:start + batch]:
            groups.setdefault((rec["service"], rec["host"]), []).append(rec)
        req = ExportLogsServiceRequest()
        for (service, host), recs in groups.items():
            rl = ResourceLogs()
            rl.resource.attributes.extend([
                KeyValue(key="service.name", value=AnyValue(string_value=service)),
                KeyValue(key="host.name", value=AnyValue(string_value=host)),
            ])
            sl = ScopeLogs()
            for rec in recs:
                lr = LogRecord(time_unix_nano=rec["ts_ns"], observed_time_unix_nano=rec["ts_ns"],
                               severity_number=SEVERITY.get(rec["level"], 0), severity_text=rec["level"].upper(),
                               body=AnyValue(string_value=rec["message"]))
                lr.attributes.extend(KeyValue(key=k, value=AnyValue(string_value=str(v))) for k, v in rec.get("attrs", {}).items())
                sl.log_records.append(lr)
            rl.scope_logs.append(sl)
            req.resource_logs.append(rl)
        bodies.append(req.SerializeToString())
    return bodies


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--fsync", default="always")
    ap.add_argument("--self-tracing-ingest", action="store_true",
                    help="serve with traces.self_tracing and self_tracing_ingest on: a span per ingest request (its cost)")
    args = ap.parse_args()

    gen = subprocess.run([sys.executable, os.path.join(ROOT, "..", "shared", "datasets", "gen_logs.py"),
                          "--count", str(args.records), "--seed", "7"], check=True, capture_output=True, text=True)
    lines = [json.loads(line) for line in gen.stdout.splitlines() if line]
    bodies = build_bodies(lines, args.batch)
    total_bytes = sum(len(b) for b in bodies)

    data_dir = tempfile.mkdtemp(prefix="sightline-bench-")
    http_port, grpc_port = free_port(), free_port()
    log = open(os.path.join(data_dir, "server.log"), "w")
    config = os.path.join(data_dir, "sightline.yaml")
    with open(config, "w") as f:
        f.write("traces:\n  self_tracing: true\n  self_tracing_ingest: true\n" if args.self_tracing_ingest else "")
    server = subprocess.Popen([args.bin, "server", "--data-dir", os.path.join(data_dir, "data"), "--config", config,
                               "--http-address", f"127.0.0.1:{http_port}", "--otlp-grpc-address", f"127.0.0.1:{grpc_port}",
                               "--log-level", "warning", "--wal-fsync", args.fsync], stdout=log, stderr=log)
    try:
        deadline = time.time() + 60
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=2)
                c.request("GET", "/-/ready")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("server did not become ready")
            time.sleep(0.1)

        failures = []
        def send(part):
            conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=60)
            for body in part:
                conn.request("POST", "/v1/logs", body=body, headers={"Content-Type": "application/x-protobuf"})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    failures.append(resp.status)

        parts = [bodies[i::args.connections] for i in range(args.connections)]
        cpu0, t0 = cpu_seconds(server.pid), time.perf_counter()
        threads = [threading.Thread(target=send, args=(p,)) for p in parts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds(server.pid) - cpu0
        if failures:
            raise SystemExit(f"{len(failures)} requests failed: {failures[:5]}")
        # Through a graceful shutdown too: the store persists what its head holds, work the load left for later.
        server.terminate()
        _, _, usage = os.wait4(server.pid, 0)
        server.returncode = 0
        total = usage.ru_utime + usage.ru_stime - cpu0
        n = len(lines)
        tracing = ", self-tracing of ingest on" if args.self_tracing_ingest else ""
        print(f"| OTLP/HTTP logs, protobuf, {args.batch}/request, {args.connections} connections, fsync={args.fsync}{tracing} "
              f"| {n} | {total_bytes / n:.0f} B | {n / elapsed:,.0f} records/s | {cpu / n * 1e6:.2f} CPU-s per million "
              f"| {total / n * 1e6:.2f} through shutdown |")
    finally:
        if server.returncode is None:
            server.terminate()
            server.wait(timeout=60)
        subprocess.run(["rm", "-rf", data_dir])


if __name__ == "__main__":
    main()
