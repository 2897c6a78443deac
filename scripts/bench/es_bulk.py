#!/usr/bin/env python3
"""Elasticsearch `_bulk` ingestion: server CPU per million documents, as Filebeat or Vector would send them.

The lines of ../shared/datasets/gen_logs.py (the same dataset file as logs.sh, generated once per size and seed)
become documents `{"@timestamp", "message", "service", "host": {"name"}, "level", <attrs>}` behind `{"create":{}}`
actions, posted to `/logs-app/_bulk` in requests of --batch documents over 2 connections to a fresh `sightline
server`. Measured: CPU seconds (utime+stime) during the load, and from the first request through the graceful
shutdown (the store persists what its head holds), per million documents. No peer: Elasticsearch is not among
../shared/peers.

    .venv/bin/python scripts/bench/es_bulk.py --bin .build/release/sightline --shared ../shared --lines 500000
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Server, cpu_seconds, post_all  # noqa: E402
from logs_bench import dataset  # noqa: E402


def bulk_bodies(path, lines, batch):
    bodies, current = [], []
    with open(path) as f:
        for number, line in enumerate(f):
            if number >= lines:
                break
            r = json.loads(line)
            document = {"@timestamp": r["timestamp"], "message": r["message"], "service": r["service"],
                        "host": {"name": r["host"]}, "level": r["level"], **r.get("attrs", {})}
            current.append('{"create":{}}\n' + json.dumps(document, separators=(",", ":")) + "\n")
            if len(current) == batch:
                bodies.append("".join(current).encode())
                current = []
    if current:
        bodies.append("".join(current).encode())
    return bodies


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--lines", type=int, default=500_000)
    ap.add_argument("--rate", type=int, default=500, help="lines per second of simulated time (gen_logs.py --rate)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=2_000, help="documents per _bulk request")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "sightline-bench"))
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    bodies = bulk_bodies(dataset(args), args.lines, args.batch)
    n = sum(body.count(b"\n") for body in bodies) // 2
    data_dir = tempfile.mkdtemp(prefix="sightline-bench-bulk-")
    server = Server(args.bin, os.path.join(data_dir, "data"), os.path.join(data_dir, "server.log"))
    try:
        server.start()
        cpu0 = cpu_seconds(server.proc.pid)
        wall, errors = post_all(server.url, "/logs-app/_bulk", bodies, 2, "application/x-ndjson", 200)
        load = cpu_seconds(server.proc.pid) - cpu0
        if errors:
            raise SystemExit(f"{len(errors)} requests failed: {errors[:3]}")
        server.stop()
        total = server.exit_cpu_seconds - cpu0
        print(f"| _bulk, {args.batch} documents/request, 2 connections | {n} | {n / wall:,.0f} documents/s "
              f"| {load / n * 1e6:.2f} CPU-s per million | {total / n * 1e6:.2f} through shutdown |")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
