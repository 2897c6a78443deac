#!/usr/bin/env python3
"""`sightline agent` benchmark.

1. Files: writes --mib MiB of typical log lines (../shared/datasets/gen_logs.py --format raw: nginx access lines,
   JSON app logs, stack traces) to a file, starts a fresh `sightline server` and an agent that tails the file from
   its beginning, and times until every byte is read and every batch acknowledged by the server (the agent's own
   /metrics: bytes read = file size, buffer empty). Reports lines/s and MiB/s, agent and server CPU-seconds per GiB
   (from /proc/<pid>/stat) and the agent's peak RSS (VmHWM); --runs N repeats this N times over the same file and
   adds the median row.
2. StatsD: an agent with a UDP StatsD listener; --senders processes send `bench.hits:1|c` at --statsd-rate packets/s
   in total for --statsd-seconds; reports packets received by the agent against packets sent and checks the
   aggregated counter the server stores.
Prints markdown table rows.
"""
import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import urllib.parse
import json

from benchlib import cpu_seconds, free_ports

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GEN_LOGS = os.path.join(ROOT, "..", "shared", "datasets", "gen_logs.py")


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def agent_metrics(port):
    out = {}
    for line in get(f"http://127.0.0.1:{port}/metrics").splitlines():
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def wait_ready(url, proc, what):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        try:
            get(url)
            return
        except Exception:
            time.sleep(0.1)
    sys.exit(f"{what} not ready")


def start_server(binary, tmp):
    http, grpc = free_ports(2)
    log = open(os.path.join(tmp, "server.log"), "wb")
    proc = subprocess.Popen([binary, "server", "--data-dir", os.path.join(tmp, "server-data"), "--http-address",
                             f"127.0.0.1:{http}", "--otlp-grpc-address", f"127.0.0.1:{grpc}", "--log-level", "warning"],
                            stdout=log, stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{http}/-/ready", proc, "server")
    return proc, http


def start_agent(binary, tmp, name, server_port, sources, extra=""):
    mport = free_ports(1)[0]
    config = os.path.join(tmp, f"{name}.yaml")
    with open(config, "w") as f:
        f.write(f"server: http://127.0.0.1:{server_port}\ndata_dir: {tmp}/{name}-data\n"
                f"metrics_address: 127.0.0.1:{mport}\n{extra}sources:\n{sources}")
    log = open(os.path.join(tmp, f"{name}.log"), "wb")
    proc = subprocess.Popen([binary, "agent", "--config", config, "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{mport}/metrics", proc, "agent")
    return proc, mport


def write_log_file(args, tmp):
    """Writes --mib MiB of generated log lines (whole lines only); returns the path, its size and its line count."""
    path = os.path.join(tmp, "bench.log")
    target = args.mib << 20
    with open(path, "wb") as out:
        size, seed = 0, 1
        while size < target:
            chunk = subprocess.run([sys.executable, GEN_LOGS, "--count", str(min(200_000, (target - size) // 250 + 1000)), "--seed", str(seed), "--format", "raw"],
                                   check=True, capture_output=True).stdout
            chunk = chunk[:target - size]
            chunk = chunk[:chunk.rfind(b"\n") + 1]
            if not chunk:
                break  # less than one line short of the target: the file is as full as whole lines make it
            out.write(chunk)
            size += len(chunk)
            seed += 1
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
    return path, size, lines


def files_run(args, tmp, path, size, lines):
    """One run: a fresh server and agent (state under `tmp`) until every byte of `path` is read and acknowledged."""
    os.makedirs(tmp)
    server, http = start_server(args.bin, tmp)
    try:
        agent, mport = start_agent(args.bin, tmp, "files", http,
                                   f"  files:\n    - paths: [\"{path}\"]\n      start_at: beginning\n",
                                   f"batch_max_bytes: {args.batch}\ncompression: {args.compression}\nbuffer:\n  max_bytes: 1073741824\n")
        start = time.monotonic()
        cpu0 = cpu_seconds(agent.pid)
        server_cpu0 = cpu_seconds(server.pid)
        read_done = None
        while True:
            m = agent_metrics(mport)
            if read_done is None and m.get("sightline_agent_bytes_read_total", 0) >= size:
                read_done = time.monotonic() - start
            if read_done is not None and m.get("sightline_agent_buffer_bytes", 1) == 0:
                break
            if time.monotonic() - start > 1800:
                sys.exit("timeout")
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        cpu = cpu_seconds(agent.pid) - cpu0
        server_cpu = cpu_seconds(server.pid) - server_cpu0
        rss = peak_rss_mib(agent.pid)
        sent = m.get("sightline_agent_bytes_sent_total", 0)
        agent.terminate()
        agent.wait(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=120)
    mib, gib = size / (1 << 20), size / (1 << 30)
    return {"tailed": mib / read_done, "delivered": mib / elapsed, "lines_s": lines / elapsed, "agent_cpu": cpu / gib,
            "server_cpu": server_cpu / gib, "rss": rss, "ratio": sent / size}


def bench_files(args, tmp):
    path, size, lines = write_log_file(args, tmp)
    runs = [files_run(args, os.path.join(tmp, f"run-{n}"), path, size, lines) for n in range(1, args.runs + 1)]
    print("| MiB | lines | compression | run | tailed MiB/s | delivered MiB/s | delivered lines/s | agent CPU-s/GiB | server CPU-s/GiB | agent peak RSS MiB | bytes sent/read |")
    print("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    median = sorted(runs, key=lambda r: r["delivered"])[len(runs) // 2]
    rows = [(str(n), r) for n, r in enumerate(runs, 1)] + ([(f"median of {len(runs)}", median)] if len(runs) > 1 else [])
    for label, r in rows:
        print(f"| {size / (1 << 20):.0f} | {lines} | {args.compression} | {label} | {r['tailed']:.1f} | {r['delivered']:.1f} | "
              f"{r['lines_s']:,.0f} | {r['agent_cpu']:.1f} | {r['server_cpu']:.1f} | {r['rss']:.0f} | {r['ratio']:.2f} |")


def statsd_sender(port, rate, seconds, index, result):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    packet = b"bench.hits:1|c|#sender:%d" % index
    sent = 0
    start = time.monotonic()
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            break
        due = int(elapsed * rate) + 1
        while sent < due:
            sock.sendto(packet, ("127.0.0.1", port))
            sent += 1
    result.put(sent)


def bench_statsd(args, tmp):
    server, http = start_server(args.bin, tmp)
    try:
        port = free_ports(1)[0]
        agent, mport = start_agent(args.bin, tmp, "statsd", http,
                                   f"  statsd:\n    udp_address: 127.0.0.1:{port}\n    flush_interval: 1s\n")
        result = multiprocessing.Queue()
        per = args.statsd_rate / args.senders
        cpu0 = cpu_seconds(agent.pid)
        procs = [multiprocessing.Process(target=statsd_sender, args=(port, per, args.statsd_seconds, i, result))
                 for i in range(args.senders)]
        for p in procs:
            p.start()
        sent = sum(result.get() for _ in procs)
        for p in procs:
            p.join()
        time.sleep(3)
        received = agent_metrics(mport).get("sightline_agent_statsd_packets_total", 0)
        cpu = cpu_seconds(agent.pid) - cpu0
        q = urllib.parse.urlencode({"query": "sum(bench_hits)"})
        doc = json.loads(get(f"http://127.0.0.1:{http}/api/v1/query?{q}"))
        stored = float(doc["data"]["result"][0]["value"][1]) if doc["data"]["result"] else 0
        agent.terminate()
        agent.wait(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=120)
    print("| target packets/s | senders | seconds | sent | received by agent | lost | achieved packets/s | counter stored | agent CPU-s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.statsd_rate:,} | {args.senders} | {args.statsd_seconds} | {sent:,} | {int(received):,} | {sent - int(received):,} | "
          f"{sent / args.statsd_seconds:,.0f} | {stored:,.0f} | {cpu:.1f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--batch", type=int, default=1 << 20, help="batch_max_bytes of the agent")
    parser.add_argument("--compression", default="snappy", help="compression: of the agent (snappy, gzip or none)")
    parser.add_argument("--statsd-rate", type=int, default=200_000)
    parser.add_argument("--statsd-seconds", type=int, default=10)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--only", choices=["files", "statsd"])
    parser.add_argument("--runs", type=int, default=1, help="file runs over the same file (each with a fresh server and agent); the median row is by delivered MiB/s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sightline-agent-bench-") as tmp:
        if args.only in (None, "files"):
            bench_files(args, tmp)
        if args.only in (None, "statsd"):
            bench_statsd(args, tmp)


if __name__ == "__main__":
    main()
