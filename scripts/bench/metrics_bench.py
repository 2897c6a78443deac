#!/usr/bin/env python3
"""Metrics ingestion benchmark: Sightline against VictoriaMetrics and Prometheus in the same run.

One dataset, generated once with ../shared/datasets/gen_metrics.py exactly as ../shared/peers/bench-metrics.sh does
(remote-write WriteRequests of 2,000 series, snappy, 2 shards, timestamps ending now), is replayed with
../shared/peers/load_remote_write.py (2 keep-alive connections) into each system in turn, run after run:
VictoriaMetrics and Prometheus through ../shared/peers/peer.sh (own PEERS_DIR and free ports), then a fresh
`sightline server` on free loopback ports with its own data dir.

Per system and run:
  * server CPU seconds (utime+stime from /proc/PID/stat, measured by the loader around the load) per 1 M samples,
    and samples/s;
  * CPU seconds again including the persistence that follows (flush/merge, snapshot, checkpoint+compaction);
  * peak RSS (VmHWM from /proc/PID/status, read after persistence and before Sightline's verification queries) per
    active series, the same net of the idle RSS measured before the load, and VmHWM right after the load;
  * bytes on disk per sample once persisted:
      VictoriaMetrics  /internal/force_flush, wait until stable, /internal/force_merge, wait until stable;
                       blocks = data/data + data/indexdb, total = the whole data dir (it has no WAL);
      Prometheus       blocks = a snapshot of the head (/api/v1/admin/tsdb/snapshot), i.e. the block that head
                       compaction would write; total = what it holds on disk for the data: wal/ + chunks_head/;
      Sightline        wait for a checkpoint and a compaction (tsdb/ and the checkpoint file unchanged for
                       --settle seconds), check what it stored, SIGTERM (a graceful shutdown persists everything),
                       then blocks = tsdb/, total = the whole data dir including wal/.
Sightline is also checked for completeness: /metrics sightline_ingested_records_total{protocol="remote_write",
signal="metrics"} == samples in the dataset, no rejected samples, /api/v1/status/tsdb numSeries == --series, the newest
<= 80,000 samples from /api/v1/debug/records equal (timestamp, value) for (timestamp, value) the dataset's
(all samples when the dataset has fewer), and after shutdown the blocks' meta.json sample counts add up to the
dataset.

Prints a markdown table (medians over --runs) with Sightline/VM and Sightline/Prometheus ratios; every run's raw
figures go to a JSON-lines file.
"""
import argparse
import array
import bisect
import http.client
import json
import math
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter

from benchlib import cpu_seconds, free_ports, log

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = {"vm": "VictoriaMetrics", "prom": "Prometheus", "sightline": "Sightline"}
PEER_NAMES = {"vm": "victoria-metrics", "prom": "prometheus"}
# Sightline's configuration in the benchmarks: checkpoints and maintenance every 5 s, so that the head is drained into
# blocks and the blocks compacted soon after a load; no retention (datasets end "now" but may span days).
SIGHTLINE_CONFIG = "wal:\n  checkpoint_interval: 5s\nmetrics:\n  maintenance_interval: 5s\n  retention: 0\n"


def parse_duration_s(text):
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(float(text[:-1]) * units[text[-1]])






def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def du_bytes(*paths):
    """Apparent size, as `du -sb` (what ../shared/peers/bench-metrics.sh measures)."""
    existing = [p for p in paths if os.path.exists(p)]
    if not existing:
        return 0
    out = subprocess.run(["du", "-sb", *existing], capture_output=True, text=True).stdout
    return sum(int(line.split()[0]) for line in out.splitlines() if line.strip())


def du_stable(*paths, polls=3, interval=0.5, max_s=40):
    prev, same, deadline = -1, 0, time.time() + max_s
    cur = du_bytes(*paths)
    while time.time() < deadline:
        cur = du_bytes(*paths)
        if cur == prev:
            same += 1
            if same >= polls:
                break
        else:
            same = 0
        prev = cur
        time.sleep(interval)
    return cur


def http_get(base, path, method="GET", timeout=120):
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    c.request(method, path)
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status // 100 != 2:
        raise RuntimeError(f"{method} {base}{path}: HTTP {r.status}: {body[:300]!r}")
    return body


# ---------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------
SAMPLE_RE = re.compile(rb"\x12.\x09(.{8})\x10([\x80-\xff]*[\x00-\x7f])", re.DOTALL)


def read_frames(path):
    hdr = struct.Struct(">BII")
    with open(path, "rb") as f:
        data = f.read()
    pos, frames = 0, []
    while pos < len(data):
        shard, ns, nb = hdr.unpack_from(data, pos)
        pos += hdr.size
        frames.append((shard, ns, data[pos:pos + nb]))
        pos += nb
    return frames


def decode_samples(path):
    """(timestamps, values) of every sample in the frame file, without the labels.

    A remote-write Sample is `12 <len> | 09 <double> 10 <varint>` inside its TimeSeries;
    label names and values are printable, so that byte pattern cannot start inside a Label."""
    import cramjam
    ts, vals = array.array("q"), array.array("d")
    unpack_d = struct.Struct("<d").unpack
    for _, ns, payload in read_frames(path):
        raw = bytes(cramjam.snappy.decompress_raw(payload))
        n = 0
        for m in SAMPLE_RE.finditer(raw):
            v = 0
            for i, b in enumerate(m.group(2)):
                v |= (b & 0x7F) << (7 * i)
            if v >= 1 << 63:
                v -= 1 << 64
            ts.append(v)
            vals.append(unpack_d(m.group(1))[0])
            n += 1
        if n != ns:
            raise SystemExit(f"dataset decode: frame says {ns} samples, found {n}")
    return ts, vals


def generate(args, python, reuse_s=0):
    """The dataset file for args (generated with gen_metrics.py unless it exists), ending now (aligned to the step).

    reuse_s > 0: take the newest file generated with the same parameters whose last step is at most reuse_s old
    instead (timestamps then end that long ago). Returns (path, steps, start_ms, end_ms)."""
    step_ms = parse_duration_s(args.step) * 1000
    nsteps = parse_duration_s(args.span) * 1000 // step_ms
    end_ms = int(time.time()) * 1000 // step_ms * step_ms
    start_ms = end_ms - (nsteps - 1) * step_ms
    d = os.path.join(args.workdir, "datasets")
    os.makedirs(d, exist_ok=True)
    stem = f"rw-{args.series}x{nsteps}-seed{args.seed}-j{args.jitter}-c{args.conns}b{args.batch}-"
    if reuse_s > 0:
        starts = [int(f[len(stem):-len(".snappy")]) for f in os.listdir(d)
                  if f.startswith(stem) and f.endswith(".snappy") and f[len(stem):-len(".snappy")].isdigit()]
        starts = [s for s in starts if end_ms - (s + (nsteps - 1) * step_ms) <= reuse_s * 1000]
        if starts:
            start_ms = max(starts)
            end_ms = start_ms + (nsteps - 1) * step_ms
    path = os.path.join(d, f"{stem}{start_ms}.snappy")
    if not os.path.exists(path):
        log(f"generating {path} ...")
        subprocess.run([python, os.path.join(args.shared, "datasets", "gen_metrics.py"),
                        "--series", str(args.series), "--span", args.span, "--step", args.step,
                        "--seed", str(args.seed), "--jitter-ms", str(args.jitter), "--start-ms", str(start_ms),
                        "--format", "remote-write", "--compress", "snappy", "--batch-series", str(args.batch),
                        "--shards", str(args.conns), "--out", path + ".tmp"], check=True)
        os.replace(path + ".tmp", path)
    return path, nsteps, start_ms, end_ms


# ---------------------------------------------------------------------------
# Systems
# ---------------------------------------------------------------------------
class Bench:
    def __init__(self, args):
        self.args = args
        self.python = sys.executable
        self.peer_sh = os.path.join(args.shared, "peers", "peer.sh")
        self.loader = os.path.join(args.shared, "peers", "load_remote_write.py")
        vm_port, prom_port, am_port = free_ports(3)
        self.peer_env = dict(os.environ, PEERS_DIR=os.path.join(args.workdir, "peers"),
                             VM_PORT=str(vm_port), PROM_PORT=str(prom_port), AM_PORT=str(am_port))

    def peer(self, *cmd):
        return subprocess.run([self.peer_sh, *cmd], env=self.peer_env, check=True,
                              capture_output=True, text=True).stdout.strip()

    def load(self, url, pid, label, data=None, conns=None):
        """Replays the dataset (self.data unless `data` is given) into `url` over --conns (or `conns`) connections;
        exits unless every sample was acked."""
        out = subprocess.run([self.python, self.loader, "--file", data or self.data, "--precompressed", "--url", url,
                              "--conns", str(conns or self.args.conns), "--server-pid", str(pid), "--label", label,
                              "--max-seconds", str(self.args.max_load_seconds)],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        if r["errors"] or r["samples_acked"] != r["samples_total_in_file"]:
            raise SystemExit(f"{label}: load incomplete: {r}")
        return r

    # -- peers ---------------------------------------------------------------
    def run_peer(self, key, i):
        name = PEER_NAMES[key]
        self.peer("wipe", name)
        self.peer("start", name)
        pid, d, base = int(self.peer("pid", name)), self.peer("dir", name), self.peer("url", name)
        time.sleep(1)
        idle_kib = proc_status_kib(pid, "VmRSS")
        cpu0 = cpu_seconds(pid)
        r = self.load(base + "/api/v1/write", pid, f"{name}#{i}")
        hwm_load_kib = proc_status_kib(pid, "VmHWM")
        if key == "vm":
            http_get(base, "/internal/force_flush")
            r["disk_after_flush"] = du_stable(f"{d}/data/data", f"{d}/data/indexdb")
            try:
                http_get(base, "/internal/force_merge")
            except RuntimeError as e:
                log(f"force_merge: {e}")
            blocks = du_stable(f"{d}/data/data", f"{d}/data/indexdb")
            r["disk_data"], r["disk_indexdb"] = du_bytes(f"{d}/data/data"), du_bytes(f"{d}/data/indexdb")
            total = du_bytes(f"{d}/data")
        else:
            wal = du_stable(f"{d}/data/wal")
            head = du_bytes(f"{d}/data/chunks_head")
            snap = json.loads(http_get(base, "/api/v1/admin/tsdb/snapshot", method="POST"))["data"]["name"]
            blocks = du_bytes(f"{d}/data/snapshots/{snap}")
            r["disk_wal"], r["disk_chunks_head"] = wal, head
            total = wal + head
        cpu1 = cpu_seconds(pid)
        hwm_kib = proc_status_kib(pid, "VmHWM")
        self.peer("stop", name)
        return self.finish(key, i, r, cpu1 - cpu0, idle_kib, hwm_load_kib, hwm_kib, blocks, total)

    # -- Sightline -----------------------------------------------------------
    def start_sightline(self, run_dir, config_text=SIGHTLINE_CONFIG, perf=None):
        """Starts a fresh `sightline server` with its data in run_dir/data on free loopback ports, waits for /-/ready.

        Returns (proc, pid, base, data_dir, logf); pid is the server's (perf's child when run under `perf record`).
        The caller stops it (SIGTERM to pid, then proc.wait()) and closes logf."""
        a = self.args
        perf = a.perf if perf is None else perf
        shutil.rmtree(run_dir, ignore_errors=True)
        data_dir = os.path.join(run_dir, "data")
        os.makedirs(data_dir)
        config = os.path.join(run_dir, "config.yaml")
        with open(config, "w") as f:
            f.write(config_text)
        http_port, grpc_port = free_ports(2)
        base = f"http://127.0.0.1:{http_port}"
        cmd = [a.bin, "server", "--config", config, "--data-dir", data_dir,
               "--http-address", f"127.0.0.1:{http_port}", "--otlp-grpc-address", f"127.0.0.1:{grpc_port}",
               "--log-level", "info"]
        if perf:
            cmd = ["perf", "record", "-g", "-F", "499", "-o", os.path.join(run_dir, "perf.data"), "--"] + cmd
        logf = open(os.path.join(run_dir, "server.log"), "wb")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, cwd=run_dir)
        try:
            pid = proc.pid
            deadline = time.time() + 60
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"sightline exited with {proc.returncode}; see {run_dir}/server.log")
                try:
                    http_get(base, "/-/ready", timeout=2)
                    break
                except (OSError, RuntimeError):
                    if time.time() > deadline:
                        raise SystemExit(f"sightline not ready; see {run_dir}/server.log")
                    time.sleep(0.1)
            if perf:  # the server is perf's child
                pid = int(subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()[0])
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            logf.close()
            raise
        return proc, pid, base, data_dir, logf

    def wait_sightline_settled(self, data_dir):
        """Waits until tsdb/ (bytes and blocks' meta.json) is unchanged for --settle seconds, at most
        --max-settle-seconds: a checkpoint drained the head into blocks and maintenance compacted them.
        Returns (seconds waited, the blocks' state)."""
        a = self.args
        tsdb = os.path.join(data_dir, "tsdb")
        t0, prev, stable_since = time.time(), None, time.time()
        while time.time() - t0 < a.max_settle_seconds:
            state = (du_bytes(tsdb), self.blocks_state(tsdb))
            if state != prev:
                prev, stable_since = state, time.time()
            elif time.time() - stable_since >= a.settle:
                break
            time.sleep(1)
        return round(time.time() - t0, 1), prev[1]

    def run_sightline(self, i):
        a = self.args
        run_dir = os.path.join(a.workdir, f"sightline-{i}")
        proc, pid, base, data_dir, logf = self.start_sightline(run_dir)
        try:
            time.sleep(1)
            idle_kib = proc_status_kib(pid, "VmRSS")
            cpu0 = cpu_seconds(pid)
            r = self.load(base + "/api/v1/write", pid, f"sightline#{i}")
            hwm_load_kib = proc_status_kib(pid, "VmHWM")
            # Persisted: a checkpoint (every 5 s) drained the head into blocks and maintenance (every 5 s) compacted
            # them once tsdb/ stays the same for --settle seconds.
            tsdb = os.path.join(data_dir, "tsdb")
            r["settle_seconds"], r["blocks_before_stop"] = self.wait_sightline_settled(data_dir)
            # Peak and CPU of ingestion + persistence, before the verification's queries add their own.
            cpu1 = cpu_seconds(pid)
            hwm_kib = proc_status_kib(pid, "VmHWM")
            r.update(self.verify_sightline(base))
            r["hwm_after_verify_kib"] = proc_status_kib(pid, "VmHWM")
            os.kill(pid, signal.SIGTERM)
            rc = proc.wait(timeout=120)
            if rc != 0:
                raise SystemExit(f"sightline exited {rc} after SIGTERM; see {run_dir}/server.log")
            blocks, total = du_bytes(tsdb), du_bytes(data_dir)
            r["disk_wal"] = du_bytes(os.path.join(data_dir, "wal"))
            r["blocks_after_stop"] = self.blocks_state(tsdb)
            persisted = sum(b[2] for b in r["blocks_after_stop"])
            r["persisted_samples"] = persisted
            if persisted != r["samples_total_in_file"]:
                raise SystemExit(f"sightline blocks hold {persisted} samples, the dataset {r['samples_total_in_file']}")
            if a.perf:
                r["perf_data"] = os.path.join(run_dir, "perf.data")
            return self.finish("sightline", i, r, cpu1 - cpu0, idle_kib, hwm_load_kib, hwm_kib, blocks, total)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            logf.close()
            if not a.keep and not a.perf:
                shutil.rmtree(data_dir, ignore_errors=True)

    @staticmethod
    def blocks_state(tsdb):
        """(level, bytes, samples, series, chunks) of every block, from meta.json."""
        out = []
        if not os.path.isdir(tsdb):
            return out
        for tenant in sorted(os.listdir(tsdb)):
            bdir = os.path.join(tsdb, tenant, "blocks")
            if not os.path.isdir(bdir):
                continue
            for b in sorted(os.listdir(bdir)):
                meta = os.path.join(bdir, b, "meta.json")
                if b.endswith(".tmp") or not os.path.exists(meta):
                    continue
                try:
                    m = json.load(open(meta))
                except (OSError, ValueError):
                    continue
                s = m.get("stats", {})
                out.append((m.get("level"), s.get("bytes"), s.get("samples"), s.get("series"), s.get("chunks")))
        return out

    def verify_sightline(self, base):
        a = self.args
        total = len(self.ts)
        metrics_text = http_get(base, "/metrics").decode()
        ingested = rejected = 0
        for line in metrics_text.splitlines():
            if line.startswith("sightline_ingested_records_total{") and 'signal="metrics"' in line \
                    and 'protocol="remote_write"' in line:
                ingested += float(line.rsplit(" ", 1)[1])
            if line.startswith("sightline_rejected_records_total{") and 'signal="metrics"' in line:
                rejected += float(line.rsplit(" ", 1)[1])
        status = json.loads(http_get(base, "/api/v1/status/tsdb"))["data"]["headStats"]
        problems = []
        if int(ingested) != total:
            problems.append(f"ingested_records_total {ingested} != {total} samples in the dataset")
        if rejected:
            problems.append(f"rejected_records_total {rejected}")
        if status["numSeries"] != a.series:
            problems.append(f"numSeries {status['numSeries']} != {a.series}")
        # The newest K samples (all when the dataset is small): exact (timestamp, value) multiset.
        k = min(total, 80_000)
        start_ms = self.ts_sorted[-k]
        expected_idx = [j for j in range(total) if self.ts[j] >= start_ms]
        body = http_get(base, f"/api/v1/debug/records?signal=metrics&limit=100000&start={(start_ms - 2) / 1000:.3f}")
        records = json.loads(body)["data"]["records"]
        if len(records) >= 100_000:
            problems.append("debug records window truncated at 100000")
        got = Counter((rec["timestampMs"], float(rec["value"])) for rec in records if rec["timestampMs"] >= start_ms)
        want = Counter((self.ts[j], self.vals[j]) for j in expected_idx)
        if got != want:
            missing, extra = want - got, got - want
            problems.append(f"debug records: {sum(missing.values())} samples missing, {sum(extra.values())} unexpected "
                            f"(e.g. {list(missing)[:3]} / {list(extra)[:3]})")
        if problems:
            raise SystemExit("Sightline did not store every sample: " + "; ".join(problems))
        return {"verify_ingested": int(ingested), "verify_num_series": status["numSeries"],
                "verify_window_samples": sum(want.values()), "verify_window_all": k == total}

    # -- common --------------------------------------------------------------
    def finish(self, key, i, r, cpu_total, idle_kib, hwm_load_kib, hwm_kib, blocks, total):
        n = r["samples_acked"]
        r.update({
            "system": key, "run": i,
            "cpu_s_per_M": r["server_cpu_seconds"] / (n / 1e6),
            "cpu_incl_persist_s_per_M": cpu_total / (n / 1e6),
            "samples_per_s": r["samples_per_second"],
            "idle_rss_kib": idle_kib, "hwm_after_load_kib": hwm_load_kib, "hwm_kib": hwm_kib,
            "rss_kib_per_series": hwm_kib / self.args.series,
            "rss_load_kib_per_series": hwm_load_kib / self.args.series,
            "rss_net_kib_per_series": (hwm_kib - idle_kib) / self.args.series,
            "disk_blocks": blocks, "disk_total": total,
            "bytes_per_sample_blocks": blocks / n, "bytes_per_sample_total": total / n,
            "dataset": self.dataset_label,
        })
        with open(self.results, "a") as f:
            f.write(json.dumps(r) + "\n")
        log(f"  {NAMES[key]:15s} run {i}: {r['samples_per_s']:>9,} samples/s  {r['cpu_s_per_M']:.2f} CPU-s/M "
            f"(incl. persist {r['cpu_incl_persist_s_per_M']:.2f})  blocks {r['bytes_per_sample_blocks']:.3f} B/sample  "
            f"total {r['bytes_per_sample_total']:.3f}  VmHWM {hwm_kib / 1024:.0f} MiB")
        return r

    def main(self):
        a = self.args
        os.makedirs(a.workdir, exist_ok=True)
        self.data, nsteps, start_ms, end_ms = generate(a, self.python)
        self.dataset_label = (f"{a.series} series x {nsteps} samples, step {a.step}, jitter +-{a.jitter} ms, "
                              f"seed {a.seed}, {a.batch} series/request, {a.conns} connections")
        log(f"dataset: {self.dataset_label}")
        self.ts, self.vals = decode_samples(self.data)
        self.ts_sorted = sorted(self.ts)
        os.makedirs(os.path.join(a.workdir, "results"), exist_ok=True)
        self.results = os.path.join(a.workdir, "results", f"metrics-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
        systems = [s.strip() for s in a.systems.split(",") if s.strip()]
        runs = {s: [] for s in systems}
        try:
            for i in range(1, a.runs + 1):
                for s in systems:
                    runs[s].append(self.run_sightline(i) if s == "sightline" else self.run_peer(s, i))
        finally:
            for s in systems:
                if s in PEER_NAMES:
                    subprocess.run([self.peer_sh, "wipe", PEER_NAMES[s]], env=self.peer_env, capture_output=True)
        print(table(runs, a, self.dataset_label, len(self.ts)))
        log(f"raw results: {self.results}")


def table(runs, a, label, total):
    rows = [
        ("server CPU-s per 1 M samples (during the load)", "cpu_s_per_M", "{:.2f}"),
        ("server CPU-s per 1 M samples, incl. flush/compaction after the load", "cpu_incl_persist_s_per_M", "{:.2f}"),
        ("samples/s", "samples_per_s", "{:,.0f}"),
        ("bytes/sample on disk, blocks only", "bytes_per_sample_blocks", "{:.3f}"),
        ("bytes/sample on disk, total (with WAL)", "bytes_per_sample_total", "{:.3f}"),
        ("peak RSS (VmHWM, load + persistence) per active series, KiB", "rss_kib_per_series", "{:.2f}"),
        ("peak RSS during the load only per active series, KiB", "rss_load_kib_per_series", "{:.2f}"),
        ("peak RSS net of idle RSS per active series, KiB", "rss_net_kib_per_series", "{:.2f}"),
    ]
    med = {s: {k: statistics.median(r[k] for r in rs) for _, k, _ in rows} for s, rs in runs.items() if rs}
    spread = {s: {k: (min(r[k] for r in rs), max(r[k] for r in rs)) for _, k, _ in rows} for s, rs in runs.items() if rs}
    cols = [s for s in ("sightline", "vm", "prom") if s in med]
    head = "| figure | " + " | ".join(NAMES[s] for s in cols)
    ratios = [p for p in ("vm", "prom") if p in med and "sightline" in med]
    head += "".join(f" | Sightline / {'VM' if p == 'vm' else 'Prometheus'}" for p in ratios) + " |"
    lines = [f"Dataset: {label} = {total:,} samples; median of {a.runs} run(s)" +
             (" (range in brackets)" if a.runs > 1 else "") + ".", "", head,
             "|---|" + "---:|" * (len(cols) + len(ratios))]
    for title, k, fmt in rows:
        cells = []
        for s in cols:
            c = fmt.format(med[s][k])
            if a.runs > 1:
                lo, hi = spread[s][k]
                c += f" ({fmt.format(lo)}–{fmt.format(hi)})"
            cells.append(c)
        for p in ratios:
            cells.append(f"{med['sightline'][k] / med[p][k]:.2f}" if med[p][k] else "—")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="the sightline executable (release build)")
    ap.add_argument("--shared", required=True, help="the shared/ directory (datasets/ and peers/)")
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--span", default="1h")
    ap.add_argument("--step", default="15s")
    ap.add_argument("--jitter", type=int, default=2, help="timestamp jitter +-ms (gen_metrics.py --jitter-ms)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2000, help="series per remote-write request")
    ap.add_argument("--systems", default="vm,prom,sightline", help="comma-separated subset of vm,prom,sightline")
    ap.add_argument("--settle", type=float, default=12.0,
                    help="Sightline: seconds tsdb/ must stay unchanged before SIGTERM (> 2 checkpoint intervals)")
    ap.add_argument("--max-settle-seconds", type=float, default=180.0)
    ap.add_argument("--max-load-seconds", type=float, default=900.0)
    ap.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "sightline-bench-metrics"))
    ap.add_argument("--keep", action="store_true", help="keep Sightline's data dirs")
    ap.add_argument("--perf", action="store_true", help="run Sightline under `perf record -g` (keeps perf.data)")
    a = ap.parse_args()
    for s in a.systems.split(","):
        if s.strip() not in NAMES:
            ap.error(f"--systems: unknown {s!r}")
    Bench(a).main()


if __name__ == "__main__":
    main()
