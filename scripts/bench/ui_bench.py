"""Web UI rendering: how long the Logs page takes to show 10,000 lines and the Metrics page to draw a chart of 64
series, in Debian's headless Chromium against a release `sightline server`, and the longest main-thread task while it
happens (what a person feels as the page freezing).

Data: ../shared/datasets gen_logs.py (10,000 lines over the last ~17 minutes) and gen_metrics.py (2 hosts over the
last hour: node_cpu_seconds_total has 2 × 4 CPUs × 8 modes = 64 series). Each measured run presses Enter in the query
box and waits for the page to say it is done; "query to rendered" is the page's own performance.now() from the key
press to the end of the run (fetch + decode + DOM/canvas), and "longest task" comes from a PerformanceObserver of
long tasks (those over 50 ms) installed before the page loads. There is no peer here: no Grafana or Kibana can run
on this machine, so the figures stand alone against the issue's target (no freezing: no task over 200 ms).
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))

from benchlib import Server, log, request  # noqa: E402
from browser import Browser  # noqa: E402

LONG_TASKS = """
window.__longTasks = [];
try {
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
    .observe({ type: 'longtask', buffered: true });
} catch (e) {}
"""


def fill(server, shared, work):
    now_ms = int(time.time() * 1000)
    logs = os.path.join(work, "logs.ndjson")
    subprocess.run([sys.executable, os.path.join(shared, "datasets", "gen_logs.py"), "--count", "10000", "--seed", "3",
                    "--rate", "10", "--start-ms", str(now_ms - 1_010_000), "--out", logs], check=True, capture_output=True)
    records = [json.loads(line) for line in open(logs)]
    for chunk in range(0, len(records), 2000):
        streams = collections.defaultdict(list)
        for r in records[chunk:chunk + 2000]:
            streams[(r["service"], r["level"])].append([str(r["ts_ns"]), r["message"], r.get("attrs", {})])
        body = json.dumps({"streams": [{"stream": {"service": s, "level": lv}, "values": v}
                                       for (s, lv), v in streams.items()]}).encode()
        status, data = request(server.url, "POST", "/loki/api/v1/push", body, {"Content-Type": "application/json"})
        assert status == 204, data[:300]
    prom = os.path.join(work, "metrics.prom")
    subprocess.run([sys.executable, os.path.join(shared, "datasets", "gen_metrics.py"), "--hosts", "2", "--span", "1h",
                    "--start-ms", str(now_ms - 3_600_000), "--format", "prom-text", "--out", prom], check=True, capture_output=True)
    status, data = request(server.url, "POST", "/api/v1/import/prometheus", open(prom, "rb").read(), {"Content-Type": "text/plain"})
    assert status == 204, data[:300]
    return len(records)


def measure(browser, url, fragment, box, root, check, runs):
    """Loads the page once (warm-up), then `runs` times presses Enter in `box` and waits for `root`'s data-runs to
    grow; returns the per-run milliseconds and the longest task seen in each run, and the checked value."""
    browser.goto(url + "/ui/favicon.svg")  # another document first: a fragment-only change would not load the page
    browser.goto(url + "/#" + fragment)
    browser.wait_for(f"Number(document.querySelector('{root}')?.dataset.runs || 0) >= 1", timeout=120)
    times, longest = [], []
    for _ in range(runs):
        before = browser.eval(f"Number(document.querySelector('{root}').dataset.runs)")
        browser.eval("window.__longTasks.length = 0; window.__t0 = performance.now()")
        browser.eval(f"document.querySelector('{box}').focus()")
        browser.key("Enter")
        browser.wait_for(f"Number(document.querySelector('{root}').dataset.runs) > {before}", timeout=120)
        times.append(browser.eval("performance.now() - window.__t0"))
        browser.pump(0.3)
        longest.append(browser.eval("Math.max(0, ...window.__longTasks)"))
    return times, longest, browser.eval(check)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--shared", required=True)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="sightline-ui-bench-")
    server = Server(args.bin, os.path.join(work, "data"), os.path.join(work, "server.log")).start()
    browser = None
    try:
        lines = fill(server, args.shared, work)
        log(f"loaded {lines} log lines and 2 hosts of metrics into {server.url}")
        browser = Browser(Path(work) / "shots")
        browser.send("Page.addScriptToEvaluateOnNewDocument", source=LONG_TASKS)
        rows = []
        times, longest, shown = measure(
            browser, server.url, "/logs?query=" + urllib.parse.quote('{service=~".+"}') + "&from=now-30m&to=now&limit=10000",
            "#logs-query", ".page-logs", "document.querySelectorAll('.page-logs .log-line').length", args.runs)
        rows.append(("Logs: 10,000 lines, newest first, with histogram", shown, times, longest))
        times, longest, shown = measure(
            browser, server.url, "/metrics?query=" + urllib.parse.quote("rate(node_cpu_seconds_total[1m])") + "&from=now-1h&to=now",
            ".page-metrics textarea.metrics-query", ".page-metrics", "Number(document.querySelector('#metrics-graph').dataset.drawn)", args.runs)
        rows.append(("Metrics: rate() of 64 series × 250 points on one chart", shown, times, longest))
        print(f"| page | shown | query to rendered, median (min–max) | longest main-thread task, median / max |")
        print("|---|---:|---:|---:|")
        for name, shown, times, longest in rows:
            print(f"| {name} | {shown:,} | {statistics.median(times):.0f} ms ({min(times):.0f}–{max(times):.0f}) | "
                  f"{statistics.median(longest):.0f} / {max(longest):.0f} ms |")
    finally:
        if browser:
            browser.close()
        server.stop()


if __name__ == "__main__":
    main()
