#!/usr/bin/env python3
"""Compressed request bodies: what Content-Encoding costs the server, Sightline against VictoriaMetrics.

One dataset (../shared/datasets/gen_metrics.py, Prometheus text with millisecond timestamps ending now) is cut into
bodies of --lines-per-body lines and encoded four ways: identity, gzip (level 6, Python's zlib), zstd level 1 (the
Datadog Agent's default) and zstd level 3 (zstd's default), both by zstd's reference library through cramjam. For each
system, encoding and run a fresh server (Sightline on its own data dir; VictoriaMetrics through
../shared/peers/peer.sh, wiped) takes every body on one keep-alive connection at /api/v1/import/prometheus; the
server's CPU seconds (utime+stime from /proc) around the load are the figure. An encoding's decoding cost is its CPU
minus identity's CPU in the same system, per MB of uncompressed body; an encoding a system refuses is marked n/a.

Prints a markdown table of medians over --runs, with Sightline/VictoriaMetrics ratios.
"""
import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import cramjam

from benchlib import Server, cpu_seconds, free_ports, log, post_all, ratio

ENCODINGS = [("identity", None), ("gzip", lambda b: gzip.compress(b, 6)),
             ("zstd-1", lambda b: bytes(cramjam.zstd.compress(b, level=1))),
             ("zstd-3", lambda b: bytes(cramjam.zstd.compress(b, level=3)))]


def dataset(args):
    span_ms = {"m": 60_000, "h": 3_600_000}[args.span[-1]] * int(args.span[:-1])
    start = int(time.time() * 1000) - span_ms - 60_000
    out = subprocess.run([sys.executable, os.path.join(args.shared, "datasets", "gen_metrics.py"), "--hosts", str(args.hosts),
                          "--span", args.span, "--start-ms", str(start), "--format", "prom-text"],
                         check=True, capture_output=True).stdout
    lines = [line for line in out.split(b"\n") if line and not line.startswith(b"#")]
    bodies = [b"\n".join(lines[i:i + args.lines_per_body]) + b"\n" for i in range(0, len(lines), args.lines_per_body)]
    return bodies, len(lines)


def load(url, pid, bodies, encoding):
    headers = {} if encoding == "identity" else {"Content-Encoding": encoding.split("-")[0]}
    cpu0 = cpu_seconds(pid)
    wall, errors = post_all(url, "/api/v1/import/prometheus", bodies, 1, "text/plain", 204, headers)
    return cpu_seconds(pid) - cpu0, wall, errors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--span", default="1h")
    ap.add_argument("--lines-per-body", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    plain, samples = dataset(args)
    megabytes = sum(len(b) for b in plain) / 1e6
    encoded = {name: (plain if fn is None else [fn(b) for b in plain]) for name, fn in ENCODINGS}
    sizes = {name: sum(len(b) for b in bodies) / 1e6 for name, bodies in encoded.items()}
    log(f"{samples} samples in {len(plain)} bodies, {megabytes:.1f} MB of text; "
        + ", ".join(f"{n} {s:.1f} MB" for n, s in sizes.items()))

    work = tempfile.mkdtemp(prefix="sightline-decompress-")
    vm_port, = free_ports(1)
    peer_sh = os.path.join(args.shared, "peers", "peer.sh")
    env = dict(os.environ, PEERS_DIR=os.path.join(work, "peers"), VM_PORT=str(vm_port))

    def peer(*cmd):
        return subprocess.run([peer_sh, *cmd], env=env, check=True, capture_output=True, text=True).stdout.strip()

    cpu = {}  # (system, encoding) -> [cpu seconds per run]; None when refused
    try:
        for run in range(args.runs):
            for name, _ in ENCODINGS:
                peer("wipe", "victoria-metrics")
                peer("start", "victoria-metrics")
                seconds, wall, errors = load(peer("url", "victoria-metrics"), int(peer("pid", "victoria-metrics")), encoded[name], name)
                peer("stop", "victoria-metrics")
                cpu.setdefault(("vm", name), []).append(None if errors else seconds)
                log(f"run {run} VictoriaMetrics {name}: {seconds:.2f} CPU-s, {wall:.1f} s" + (f", refused: {errors[0]}" if errors else ""))

                data_dir = os.path.join(work, f"sightline-{run}-{name}")
                server = Server(args.bin, data_dir, data_dir + ".log").start()
                seconds, wall, errors = load(server.url, server.proc.pid, encoded[name], name)
                server.stop()
                shutil.rmtree(data_dir, ignore_errors=True)
                if errors:
                    raise SystemExit(f"Sightline refused {name} bodies: {errors[0]}")
                cpu.setdefault(("sightline", name), []).append(seconds)
                log(f"run {run} Sightline {name}: {seconds:.2f} CPU-s, {wall:.1f} s")
    finally:
        subprocess.run([peer_sh, "stop", "victoria-metrics"], env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    def median(system, name):
        values = cpu[(system, name)]
        return None if any(v is None for v in values) else statistics.median(values)

    print(f"{samples:,} samples, {megabytes:.1f} MB of text in {len(plain)} bodies of {args.lines_per_body} lines; "
          f"medians of {args.runs} runs\n")
    print("| encoding | body MB | Sightline CPU-s per M samples | VM CPU-s per M samples | Sightline/VM | "
          "Sightline decoding ms per MB | VM decoding ms per MB | Sightline/VM |")
    print("|---|---|---|---|---|---|---|---|")
    for name, _ in ENCODINGS:
        row = [name, f"{sizes[name]:.1f}"]
        s, v = median("sightline", name), median("vm", name)
        row += [f"{s / samples * 1e6:.3f}", "n/a" if v is None else f"{v / samples * 1e6:.3f}", "n/a" if v is None else ratio(s, v)]
        if name == "identity":
            row += ["—", "—", "—"]
        else:
            sd = (s - median("sightline", "identity")) / megabytes * 1000
            vd = None if v is None else (v - median("vm", "identity")) / megabytes * 1000
            row += [f"{sd:.1f}", "n/a" if vd is None else f"{vd:.1f}", "n/a" if vd is None or vd <= 0 else ratio(sd, vd)]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
