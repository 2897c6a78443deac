#!/usr/bin/env python3
"""Rule evaluation benchmark: CPU share of one core spent evaluating N alerting rules every interval over a
realistic series set, and evaluation-to-webhook latency.

For each N (default 1000, 5000, 10000) a fresh `sightline server` (release build) starts on loopback with:
  - the series of ../shared/datasets/gen_metrics.py (--hosts H, the last --span ending now) imported through
    /api/v1/import/prometheus, then kept current: every interval the newest sample of every series is pushed again
    with the current time (so rules keep seeing data; the same ingest load runs in the baseline);
  - N alerting rules in groups of --group-size, interval --interval, each a per-host expression of one of a few
    node-exporter shapes (load, CPU rate, memory ratio, filesystem ratio, HTTP error ratio, latency quantile), with
    thresholds that keep about 1 % of them firing;
  - a webhook receiver (this script) behind a route with group_wait 0s.
CPU: utime+stime from /proc/PID/stat over --measure intervals after one warm-up interval, minus the same
measurement of a server with no rules (ingest, checkpoints, maintenance). Latency: probe rules
(`bench_probe{id="k"} > 0`, in the last group) are made true one at a time; the time from the alert's startsAt
(the evaluation timestamp that fired it) to the webhook's arrival is one sample.

Prints a markdown table. Usage: scripts/bench/alerting.sh [--rules 1000,5000,10000] [--hosts 100] ...
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from benchlib import cpu_seconds, free_ports


SHAPES = [
    'node_load1{{instance="{i}"}} > {t}',
    'sum by (instance) (rate(node_cpu_seconds_total{{instance="{i}",mode!="idle"}}[5m])) > {t}',
    '1 - node_memory_MemAvailable_bytes{{instance="{i}"}} / node_memory_MemTotal_bytes{{instance="{i}"}} > {t}',
    'node_filesystem_avail_bytes{{instance="{i}",mountpoint="/"}} / node_filesystem_size_bytes{{instance="{i}",mountpoint="/"}} < {t}',
    'sum(rate(http_requests_total{{instance="{i}",code=~"5.."}}[5m])) / sum(rate(http_requests_total{{instance="{i}"}}[5m])) > {t}',
    'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{instance="{i}"}}[5m]))) > {t}',
]
# Thresholds: most rules stay quiet; every 100th rule gets a threshold that is always crossed.
QUIET = ["1000", "1000", "2", "-1", "2", "1000"]
LOUD = ["-1", "-1", "-1", "2", "-1", "-1"]


class Webhook:
    def __init__(self):
        self.port = free_ports(1)[0]
        self.arrivals: list[tuple[float, dict]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                now = time.time()
                hook.arrivals.append((now, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        # A receiver that refuses no connection: the default listen backlog (5) drops the SYNs of a burst of
        # concurrent notifications, and the kernel resends them a second later, which would be measured as latency.
        ThreadingHTTPServer.request_queue_size = 1024
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def rfc3339_to_unix(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def write_rules(path: Path, n: int, hosts: list[str], group_size: int, interval: str, probes: int) -> None:
    lines = ["groups:"]
    for g in range(0, n, group_size):
        lines += [f"  - name: bench-{g // group_size}", f"    interval: {interval}", "    rules:"]
        for r in range(g, min(n, g + group_size)):
            shape = (r // len(hosts)) % len(SHAPES)
            threshold = (LOUD if r % 100 == 0 else QUIET)[shape]
            expr = SHAPES[shape].format(i=hosts[r % len(hosts)], t=threshold)
            lines += [f"      - alert: Bench{r}", f"        expr: '{expr}'", "        labels: {severity: warning}",
                      "        annotations: {summary: 'value {{ $value }} on {{ $labels.instance }}'}"]
    lines += ["  - name: probes", f"    interval: {interval}", "    rules:"]
    for k in range(probes):
        lines += [f"      - alert: Probe{k}", f"        expr: 'bench_probe{{id=\"{k}\"}} > 0'"]
    path.write_text("\n".join(lines) + "\n")


def latest_samples(text: str) -> list[str]:
    """The newest line of every series in prom-text output, without its timestamp."""
    latest: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value, _ts = line.rsplit(" ", 2)
        latest[series] = f"{series} {value}"
    return list(latest.values())


def run(args, n: int, dataset: str, current: list[str], hosts: list[str], work: Path) -> dict:
    hook = Webhook()
    data_dir = work / f"data-{n}"
    rules = work / f"rules-{n}.yml"
    write_rules(rules, n, hosts, args.group_size, f"{args.interval}s", args.probes if n else 0)
    am = work / f"am-{n}.yml"
    am.write_text(
        "route:\n  receiver: hook\n  group_by: ['...']\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n"
        f"receivers:\n  - name: hook\n    webhook_configs: [{{url: 'http://127.0.0.1:{hook.port}/'}}]\n")
    config = work / f"server-{n}.yml"
    config.write_text(
        f"wal: {{fsync: interval}}\nrules: {{files: ['{rules}']}}\n"
        f"alerting: {{alertmanager_config: '{am}', evaluation_interval: {args.interval}s}}\n")
    port, grpc = free_ports(2)
    log = open(work / f"server-{n}.log", "wb")
    proc = subprocess.Popen([args.bin, "server", "--config", str(config), "--data-dir", str(data_dir),
                             "--http-address", f"127.0.0.1:{port}", "--otlp-grpc-address", f"127.0.0.1:{grpc}",
                             "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if requests.get(url + "/-/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        session = requests.Session()
        chunk = []
        lines = dataset.splitlines()
        for i in range(0, len(lines), 20000):
            r = session.post(url + "/api/v1/import/prometheus", data="\n".join(lines[i:i + 20000]).encode(), timeout=120)
            assert r.status_code == 204, r.text[:300]
        del chunk
        stop = threading.Event()

        def feed():
            body = ("\n".join(current) + "\n").encode()
            while not stop.is_set():
                session.post(url + "/api/v1/import/prometheus", data=body, timeout=60)
                stop.wait(args.interval)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        time.sleep(args.interval * 1.5)  # warm-up: every group evaluated once
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        latencies: list[float] = []
        probe_every = args.interval * args.measure / max(1, args.probes) if n else 0
        for k in range(args.probes if n else 0):
            session.post(url + "/api/v1/import/prometheus", data=f'bench_probe{{id="{k}"}} 1\n'.encode(), timeout=10)
            time.sleep(probe_every)
        remaining = args.interval * args.measure - (time.monotonic() - t0)
        if remaining > 0:
            time.sleep(remaining)
        c1, t1 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(2)
        stop.set()
        for arrived, body in hook.arrivals:
            for alert in body.get("alerts", []):
                if alert["labels"]["alertname"].startswith("Probe") and alert["status"] == "firing":
                    latencies.append(arrived - rfc3339_to_unix(alert["startsAt"]))
        status = session.get(url + "/api/v1/rules", timeout=60).json()
        rules_ok = sum(1 for g in status["data"]["groups"] for r in g["rules"] if r["health"] == "ok")
        firing = sum(1 for a in session.get(url + "/api/v1/alerts", timeout=60).json()["data"]["alerts"] if a["state"] == "firing")
        eval_s = sum(g["evaluationTime"] for g in status["data"]["groups"])
        return {"rules": n, "cpu": (c1 - c0) / (t1 - t0), "latencies": sorted(latencies), "healthy": rules_ok,
                "firing": firing, "eval_s": eval_s}
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        hook.server.shutdown()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--shared", required=True)
    p.add_argument("--rules", default="1000,5000,10000")
    p.add_argument("--hosts", type=int, default=100)
    p.add_argument("--span", default="10m")
    p.add_argument("--interval", type=int, default=15)
    p.add_argument("--measure", type=int, default=3, help="intervals measured")
    p.add_argument("--group-size", type=int, default=100)
    p.add_argument("--probes", type=int, default=30)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sightline-bench-alerting-"))
    span_ms = {"m": 60_000, "h": 3_600_000}[args.span[-1]] * int(args.span[:-1])
    start_ms = int(time.time() * 1000) - span_ms
    dataset = subprocess.run([sys.executable, f"{args.shared}/datasets/gen_metrics.py", "--hosts", str(args.hosts),
                              "--span", args.span, "--start-ms", str(start_ms), "--format", "prom-text"],
                             check=True, capture_output=True, text=True).stdout
    current = latest_samples(dataset)
    hosts = sorted({line.split('instance="', 1)[1].split('"', 1)[0] for line in current if 'instance="' in line})
    print(f"series: {len(current)}, hosts: {len(hosts)}, samples imported: {len(dataset.splitlines())}, "
          f"interval {args.interval}s, {args.measure} intervals measured; work dir {work}", file=sys.stderr)
    baseline = run(args, 0, dataset, current, hosts, work)
    print(f"baseline (no rules): {baseline['cpu'] * 100:.1f} % of a core", file=sys.stderr)
    rows = []
    for n in [int(x) for x in args.rules.split(",")]:
        result = run(args, n, dataset, current, hosts, work)
        rows.append(result)
        print(json.dumps({**result, "latencies": [round(x, 3) for x in result["latencies"]], "p50": pct(result["latencies"], 0.5),
                          "p99": pct(result["latencies"], 0.99)}), file=sys.stderr)
    print(f"\n{len(current)} series ({len(hosts)} hosts), rules every {args.interval} s, "
          f"CPU over {args.measure} intervals minus a rule-less baseline of {baseline['cpu'] * 100:.1f} % "
          "(the same import load)\n")
    print("| alerting rules | healthy | firing | CPU share of one core | Σ group evaluation time, s | "
          "eval→webhook p50, ms | p99, ms | probes |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['rules']:,} | {r['healthy']:,} | {r['firing']} | {(r['cpu'] - baseline['cpu']) * 100:.1f} % | "
              f"{r['eval_s']:.2f} | {pct(r['latencies'], 0.5) * 1000:.0f} | {pct(r['latencies'], 0.99) * 1000:.0f} | "
              f"{len(r['latencies'])} |")


if __name__ == "__main__":
    main()
