#!/usr/bin/env python3
"""PromQL query latency: Sightline against VictoriaMetrics and Prometheus, in the same run, on the same data.

Datasets (generated once, as ../shared/peers/bench-metrics.sh does, by metrics_bench.generate):
  A  --series (10,000) x --span (1 h) at --step (15 s): the dashboard queries run over its whole range at 15 s steps
     (as ../shared/peers/query_bench.py's anchors in ../shared/peers/results/SUMMARY.md);
  L  --long-series (1,000) x --long-span (7 d) at --long-step (60 s): the 7-day query at --long-query-step (5 m);
     generated as one shard of whole steps and replayed over one connection, so that it arrives in time order
     (Prometheus refuses samples more than 1 h behind its head's newest, which two connections drift past).
Each dataset goes into a fresh instance of every system (A and L share host names, so they are not mixed): the
peers through ../shared/peers/peer.sh (own PEERS_DIR and free ports, VM with -search.disableCache), Sightline as
`sightline server` on free loopback ports (metrics_bench.Bench.start_sightline). The replay is
../shared/peers/load_remote_write.py (metrics_bench.Bench.load: every sample must be acked). Before querying, every
system is let settle into its resting state:
  VictoriaMetrics  /internal/force_flush, then /internal/force_merge, until data/ stops changing;
  Prometheus       until the head spans at most 1.5 block ranges (3 h, i.e. head compaction has run) and data/ stops
                   changing (dataset A stays in its in-memory head);
  Sightline        until tsdb/ is unchanged for --settle s (checkpoints drained the head into blocks, compacted).
Then, query by query, each system in turn runs ../shared/peers/query_bench.py (1 warm-up + --runs, median) against
/api/v1/query_range with the same query, start, end and step. The systems should return the same number of series
for each query: Sightline must match Prometheus (else the row is flagged and the exit status is 1); VM may differ where
its semantics do (its rate() does not extrapolate, so the series that ever make a topk() differ), which is noted.

--profile: after each dataset's queries, attaches `perf record -g` to Sightline for --profile-seconds while a loop runs
that dataset's query with the worst Sightline/Prometheus ratio (or --profile-query) and prints the top functions
(self and inclusive time).

Prints a markdown table; raw figures go to a JSON-lines file under --workdir/results.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metrics_bench as mb  # noqa: E402

QUERIES_A = [
    ("cpu rate, sum by instance", "sum by (instance) (rate(node_cpu_seconds_total[5m]))"),
    ("histogram_quantile over rate",
     "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"),
    ("topk of a sum of rates", "topk(5, sum by (instance) (rate(node_network_receive_bytes_total[5m])))"),
    ("memory ratio, avg by region",
     "avg by (region) (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)"),
    ("regex on __name__ over many series", 'count by (instance) ({__name__=~"node_.*"})'),
]
QUERIES_L = [
    ("7 d at 5 m: cpu rate, sum by instance", "sum by (instance) (rate(node_cpu_seconds_total[5m]))"),
]
SYSTEMS = ("sightline", "vm", "prom")
SHORT = {"sightline": "Sightline", "vm": "VM", "prom": "Prometheus"}


def http_json(base, path, timeout=30):
    return json.loads(mb.http_get(base, path, timeout=timeout))


class PromQLBench:
    def __init__(self, args):
        self.args = args
        self.bench = mb.Bench(args)  # peer.sh with its own PEERS_DIR and free ports; the loader; start_sightline
        self.query_bench = os.path.join(args.shared, "peers", "query_bench.py")
        self.running = {}  # system -> dict(pid, base, stop)
        os.makedirs(os.path.join(args.workdir, "results"), exist_ok=True)
        self.results = os.path.join(args.workdir, "results", f"promql-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")

    def record(self, obj):
        with open(self.results, "a") as f:
            f.write(json.dumps(obj) + "\n")

    # -- systems -------------------------------------------------------------
    def start(self, system, tag):
        if system == "sightline":
            run_dir = os.path.join(self.args.workdir, f"sightline-{tag}")
            proc, pid, base, data_dir, logf = self.bench.start_sightline(run_dir, perf=False)

            def stop():
                if proc.poll() is None:
                    os.kill(pid, signal.SIGTERM)
                    try:
                        proc.wait(timeout=120)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                logf.close()
                if not self.args.keep:
                    mb.shutil.rmtree(data_dir, ignore_errors=True)
            self.running[system] = {"pid": pid, "base": base, "stop": stop, "data_dir": data_dir, "proc": proc}
        else:
            name = mb.PEER_NAMES[system]
            self.bench.peer("wipe", name)
            self.bench.peer("start", name)
            pid, d, base = int(self.bench.peer("pid", name)), self.bench.peer("dir", name), self.bench.peer("url", name)
            self.running[system] = {"pid": pid, "base": base, "dir": d,
                                    "stop": lambda n=name: self.bench.peer("wipe", n)}
        time.sleep(1)
        return self.running[system]

    def settle(self, system):
        s, t0 = self.running[system], time.time()
        if system == "sightline":
            secs, blocks = self.bench.wait_sightline_settled(s["data_dir"])
            return {"settle_s": secs, "blocks": len(blocks or [])}
        if system == "vm":
            d = s["dir"]
            mb.http_get(s["base"], "/internal/force_flush")
            mb.du_stable(f"{d}/data/data", f"{d}/data/indexdb")
            try:
                mb.http_get(s["base"], "/internal/force_merge")
            except RuntimeError as e:
                mb.log(f"force_merge: {e}")
            mb.du_stable(f"{d}/data/data", f"{d}/data/indexdb")
            return {"settle_s": round(time.time() - t0, 1)}
        # Prometheus: head compaction runs after appends and every minute; wait until the head spans <= 3 h.
        deadline = time.time() + self.args.max_settle_seconds
        head = {}
        while time.time() < deadline:
            head = http_json(s["base"], "/api/v1/status/tsdb")["data"]["headStats"]
            if head["maxTime"] - head["minTime"] <= 3 * 3600 * 1000:
                break
            time.sleep(2)
        mb.du_stable(os.path.join(s["dir"], "data"), max_s=self.args.max_settle_seconds)
        blocks = [b for b in os.listdir(os.path.join(s["dir"], "data")) if len(b) == 26]
        return {"settle_s": round(time.time() - t0, 1), "head_span_h": round((head["maxTime"] - head["minTime"]) / 3.6e6, 2),
                "blocks": len(blocks)}

    def stop_all(self):
        for system in list(self.running):
            try:
                self.running.pop(system)["stop"]()
            except Exception as e:  # noqa: BLE001 - keep stopping the others
                mb.log(f"stopping {system}: {e}")

    # -- queries -------------------------------------------------------------
    def query(self, system, q, start_s, end_s, step):
        a = self.args
        out = subprocess.run([sys.executable, self.query_bench, "--base", self.running[system]["base"],
                              "--start", str(start_s), "--end", str(end_s), "--step", step,
                              "--runs", str(a.runs), "--warmup", str(a.warmup), "--query", q, "--label", system],
                             capture_output=True, text=True)
        if out.returncode != 0:
            return {"label": system, "query": q, "status": "error", "error": out.stderr.strip().splitlines()[-1:],
                    "series": None, "points": None, "median_ms": None}
        return json.loads(out.stdout.strip().splitlines()[-1])

    def phase(self, tag, ds_args, queries, query_step):
        a = self.args
        path, nsteps, start_ms, end_ms = mb.generate(ds_args, self.bench.python, reuse_s=a.reuse_dataset_hours * 3600)
        n = ds_args.series * nsteps
        label = f"{ds_args.series:,} series x {nsteps:,} samples ({ds_args.span} at {ds_args.step}) = {n / 1e6:.2f} M samples"
        mb.log(f"== dataset {tag}: {label}")
        info = {}
        try:
            for system in self.systems:
                s = self.start(system, tag)
                t0 = time.time()
                r = self.bench.load(s["base"] + "/api/v1/write", s["pid"], f"{system}/{tag}", data=path,
                                    conns=ds_args.conns)
                info[system] = {"load_s": round(time.time() - t0, 1), "samples_per_s": r["samples_per_second"],
                                "server_cpu_s": r["server_cpu_seconds"]}
                mb.log(f"  {mb.NAMES[system]:15s} loaded {r['samples_acked']:,} samples in {info[system]['load_s']} s")
            for system in self.systems:
                info[system].update(self.settle(system))
                mb.log(f"  {mb.NAMES[system]:15s} settled: {info[system]}")
            self.record({"dataset": tag, "label": label, "systems": info})
            rows = []
            for title, q in queries:
                row = {"dataset": tag, "title": title, "query": q, "step": query_step, "range_s": (end_ms - start_ms) / 1000}
                for system in self.systems:
                    res = self.query(system, q, start_ms / 1000, end_ms / 1000, query_step)
                    row[system] = res
                    mb.log(f"  {SHORT[system]:10s} {res.get('median_ms')} ms  series {res.get('series')}  "
                           f"points {res.get('points')}  {res.get('status')}  {title}")
                self.record(row)
                rows.append(row)
            if a.profile:
                self.profile(tag, rows, start_ms, end_ms, query_step)
            return label, rows, info
        finally:
            self.stop_all()

    # -- profile -------------------------------------------------------------
    def profile(self, tag, rows, start_ms, end_ms, step):
        """perf record on Sightline while a loop runs one query of this dataset: --profile-query if it is one of
        them, else (without --profile-query) the one with the worst Sightline/Prometheus ratio."""
        a = self.args
        if "sightline" not in self.running:
            return
        if a.profile_query:
            rows = [r for r in rows if a.profile_query in (r["title"], r["query"])]
        rows = [r for r in rows if r.get("sightline", {}).get("median_ms")]
        if not rows:
            return
        row = max(rows, key=ratio_key)
        s = self.running["sightline"]
        q = row["query"]
        out = os.path.join(a.workdir, f"perf-{tag}.data")
        params = urllib.parse.urlencode({"query": q, "start": start_ms / 1000, "end": end_ms / 1000, "step": step})
        url = f"{s['base']}/api/v1/query_range?{params}"
        stop, count = threading.Event(), [0]

        def loop():
            while not stop.is_set():
                try:
                    with urllib.request.urlopen(url, timeout=120) as r:
                        r.read()
                except OSError as e:
                    mb.log(f"profile loop: {e}")
                    return
                count[0] += 1
        mb.log(f"== perf record -g on Sightline (pid {s['pid']}) for {a.profile_seconds} s, looping: {q}")
        th = threading.Thread(target=loop, daemon=True)
        th.start()
        subprocess.run(["perf", "record", "-g", "-F", "999", "-p", str(s["pid"]), "-o", out, "--",
                        "sleep", str(a.profile_seconds)], capture_output=True)
        stop.set()
        th.join(timeout=120)
        report = {}
        for mode in ("--no-children", "--children"):
            rep = subprocess.run(["perf", "report", "-i", out, mode, "--sort", "symbol", "--stdio", "-g", "none",
                                  "--percent-limit", "0.8"], capture_output=True, text=True).stdout
            dem = subprocess.run(["swift-demangle", "--simplified"], input=rep, capture_output=True, text=True).stdout or rep
            lines = [re.sub(r"(\s+-)+\s*$", "", ln).rstrip() for ln in dem.splitlines()
                     if ln.strip() and not ln.startswith("#")]
            if mode == "--children":  # skip the thread pool and request frames above the engine (all ~90 %)
                top = next((i for i, ln in enumerate(lines) if "PromQLEngine.rangeQuery" in ln), None)
                if top is not None:
                    lines = lines[top:]
            report[mode] = lines[:a.profile_top]
        self.profile_reports.append({"dataset": tag, "title": row["title"], "query": q, "queries_run": count[0],
                                     "perf_data": out, "self": report["--no-children"], "inclusive": report["--children"]})
        self.record({"profile": self.profile_reports[-1]})

    # -- main ----------------------------------------------------------------
    def main(self):
        a = self.args
        self.systems = [s.strip() for s in a.systems.split(",") if s.strip()]
        self.profile_reports = []
        phases = []
        if not a.skip_short:
            phases.append(("A", a, QUERIES_A, a.step))
        if not a.skip_long:
            la = argparse.Namespace(**vars(a))
            la.series, la.span, la.step = a.long_series, a.long_span, a.long_step
            # One shard and one connection, so the whole dataset arrives in time order: Prometheus 2.42 refuses
            # ("out of bounds") samples more than 1 h (half its 2 h chunk range) older than its head's newest, and two
            # connections drift further apart than an hour of 60 s steps.
            la.conns, la.batch = 1, max(a.batch, a.long_series)
            phases.append(("L", la, QUERIES_L, a.long_query_step))
        results = []
        try:
            for tag, ds_args, queries, step in phases:
                results.append((tag, *self.phase(tag, ds_args, queries, step)))
        finally:
            self.stop_all()
        text, ok = table(results, self.systems, a)
        for p in self.profile_reports:
            text += (f"\n\nProfile of Sightline (`perf record -g -F 999`, {a.profile_seconds} s, {p['queries_run']} "
                     f"queries) looping `{p['query']}` (dataset {p['dataset']}); top functions by self time:\n\n```\n"
                     + "\n".join(p["self"]) + "\n```\n\nby inclusive time (children):\n\n```\n"
                     + "\n".join(p["inclusive"]) + "\n```")
        print(text)
        mb.log(f"raw results: {self.results}")
        return 0 if ok else 1


def ratio_key(row):
    s, p = row.get("sightline", {}).get("median_ms"), row.get("prom", {}).get("median_ms")
    return (s / p) if s and p else (s or 0)


def sanity(row, cols):
    """(passes, note). Every system must answer; Sightline must return as many series as Prometheus (it implements
    Prometheus' semantics; as VM when Prometheus is not measured). VM may differ where its semantics do: its rate()
    does not extrapolate, so which series ever make a topk() differs; that is noted, not failed."""
    counts = {s: row[s].get("series") for s in cols}
    if any(row[s].get("status") != "success" for s in cols):
        return False, "**NO** (error)"
    if len(set(counts.values())) == 1:
        return True, "yes"
    ref = "prom" if "prom" in cols else "vm"
    if "sightline" in cols and ref in cols and counts["sightline"] != counts[ref]:
        return False, "**NO** " + ", ".join(f"{SHORT[s]} {counts[s]}" for s in cols)
    return True, "as Prometheus; " + ", ".join(f"{SHORT[s]} {counts[s]}" for s in cols if counts[s] != counts[ref])


def table(results, systems, a):
    ok = True
    cols = [s for s in SYSTEMS if s in systems]
    ratios = [p for p in ("prom", "vm") if p in systems and "sightline" in systems]
    lines = []
    for tag, label, rows, info in results:
        lines.append(f"Dataset {tag}: {label}. Load s (samples/s) / settle s: " + "; ".join(
            f"{mb.NAMES[s]} {info[s]['load_s']} ({info[s]['samples_per_s']:,.0f}) / {info[s].get('settle_s')}"
            for s in cols if s in info) + ".")
    lines += ["", f"Median of {a.runs} after {a.warmup} warm-up; ms; series returned in brackets.", "",
              "| dataset | query | step | " + " | ".join(f"{SHORT[s]} ms" for s in cols)
              + "".join(f" | Sightline / {SHORT[p]}" for p in ratios) + " | same series |",
              "|---|---|---|" + "---:|" * (len(cols) + len(ratios)) + "---|"]
    sp, sv = [], []
    for tag, label, rows, info in results:
        for row in rows:
            cells, counts = [], []
            for s in cols:
                r = row[s]
                cells.append(f"{r['median_ms']:.1f} ({r['series']})" if r.get("median_ms") is not None
                             else f"error: {r.get('error')}")
                counts.append(r.get("series"))
            rc = []
            for p in ratios:
                s_ms, p_ms = row["sightline"].get("median_ms"), row[p].get("median_ms")
                if s_ms and p_ms:
                    rc.append(f"{s_ms / p_ms:.2f}")
                    (sp if p == "prom" else sv).append(s_ms / p_ms)
                else:
                    rc.append("—")
            same, note = sanity(row, cols)
            ok = ok and same
            q = row["query"].replace("|", "\\|")
            lines.append(f"| {tag} | `{q}` | {row['step']} | " + " | ".join(cells + rc) + f" | {note} |")
    lines.append("")
    if sp:
        misses = [f"{r:.2f}" for r in sp if r >= 1]
        lines.append(f"Target 1, faster than Prometheus on every query: **{'met' if not misses else 'missed'}** "
                     f"(Sightline/Prometheus {min(sp):.2f}–{max(sp):.2f}"
                     + (f"; {len(misses)} of {len(sp)} at or above 1: {', '.join(misses)}" if misses else "") + ").")
    if sv:
        med = statistics.median(sv)
        lines.append(f"Target 2, median no slower than VictoriaMetrics: median of the Sightline/VM ratios over the "
                     f"{len(sv)} queries = {med:.2f}: **{'met' if med <= 1 else 'missed'}**"
                     + ("" if med <= 1 else f" (Sightline {100 * (med - 1):.0f} % slower)") + ".")
        s_ms = [row["sightline"]["median_ms"] for _, _, rows, _ in results for row in rows if row["sightline"].get("median_ms")]
        v_ms = [row["vm"]["median_ms"] for _, _, rows, _ in results for row in rows if row["vm"].get("median_ms")]
        if s_ms and v_ms:
            lines.append(f"(Median of the per-query latencies: Sightline {statistics.median(s_ms):.1f} ms, "
                         f"VM {statistics.median(v_ms):.1f} ms.)")
    if not ok:
        lines.append("**Sanity check failed: an error, or Sightline returned a different number of series than "
                     "Prometheus, for at least one query.**")
    return "\n".join(lines), ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="the sightline executable (release build)")
    ap.add_argument("--shared", required=True, help="the shared/ directory (datasets/ and peers/)")
    ap.add_argument("--series", type=int, default=10_000, help="dataset A")
    ap.add_argument("--span", default="1h", help="dataset A")
    ap.add_argument("--step", default="15s", help="dataset A's scrape step and its queries' step")
    ap.add_argument("--long-series", type=int, default=1_000, help="dataset L")
    ap.add_argument("--long-span", default="7d", help="dataset L")
    ap.add_argument("--long-step", default="60s", help="dataset L's scrape step")
    ap.add_argument("--long-query-step", default="5m", help="the step of the queries over dataset L")
    ap.add_argument("--skip-short", action="store_true", help="no dataset A")
    ap.add_argument("--skip-long", action="store_true", help="no dataset L")
    ap.add_argument("--reuse-dataset-hours", type=float, default=0,
                    help="reuse a dataset generated earlier with the same parameters if it ends at most this long ago")
    ap.add_argument("--jitter", type=int, default=2, help="timestamp jitter +-ms (gen_metrics.py --jitter-ms)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=7, help="timed runs per query (median)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2000, help="series per remote-write request")
    ap.add_argument("--systems", default="sightline,vm,prom", help="comma-separated subset of sightline,vm,prom")
    ap.add_argument("--settle", type=float, default=12.0, help="Sightline: seconds tsdb/ must stay unchanged")
    ap.add_argument("--max-settle-seconds", type=float, default=300.0)
    ap.add_argument("--max-load-seconds", type=float, default=900.0)
    ap.add_argument("--profile", action="store_true",
                    help="after each dataset's queries, perf record Sightline looping its worst query (vs Prometheus)")
    ap.add_argument("--profile-query", help="with --profile: this query (title or text) instead of the worst one")
    ap.add_argument("--profile-seconds", type=int, default=20)
    ap.add_argument("--profile-top", type=int, default=25)
    ap.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "sightline-bench-promql"))
    ap.add_argument("--keep", action="store_true", help="keep Sightline's data dirs")
    a = ap.parse_args()
    a.perf = False  # metrics_bench.Bench.start_sightline: not the whole server under perf
    for s in a.systems.split(","):
        if s.strip() not in mb.NAMES:
            ap.error(f"--systems: unknown {s!r}")
    sys.exit(PromQLBench(a).main())


if __name__ == "__main__":
    main()
