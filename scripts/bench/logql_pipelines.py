#!/usr/bin/env python3
"""LogQL metric queries over pipelines: one or more Sightline builds side by side, on the same lines.

The queries Grafana users write over parsed logs — a range function over a stream selector with a parser, a label
filter or a template — aggregated with `sum` or `sum by`, over the whole dataset (one instant query):

| name | query |
| --- | --- |
| line_format | `sum(count_over_time({service=~".+"} | line_format "{{.level}} {{.service}}: {{ __line__ | trunc 40 }}" [SPAN]))` |
| label_format | `sum by (x) (count_over_time({service=~".+"} | label_format x="{{ if eq .level "error" }}E{{ else }}{{ .level | upper }}{{ end }}" [SPAN]))` |
| logfmt_by_level | `sum by (level) (count_over_time({service=~".+"} | logfmt [SPAN]))` |
| label_filter | `sum(count_over_time({service=~".+"} | level="error" [SPAN]))` |
| json_by_service | `sum by (service) (rate({service=~".+"} | json | __error__="" [SPAN]))` |

and two log queries over the same span (query_range, backward): `{service=~".+"}` with limit 100 (`latest_100`), and
`{service=~".+"} | logfmt | status="599"` with limit 100, which no line matches, so every line goes through the
pipeline (`logfmt_no_match`).

The dataset is ../shared/datasets/gen_logs.py output (as in logs_bench.py), pushed over the Loki API into a fresh
server per build (its own data dir), which is then restarted so that every line is in blocks (--layout blocks),
or queried at once with checkpoints an hour apart, so that every line is in the in-memory head (--layout head). Every build answers
every query; the answers must be equal across builds. Prints the median of --runs timed runs per query and build
(the builds take turns, so load on the machine falls on all of them alike) and each build's ratio to the first.

Usage: logql_pipelines.py --shared ../shared --bin OLD --bin NEW [--lines 300000] [--runs 5] [--layout blocks|head]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import logs_bench  # noqa: E402
from benchlib import Server, check, log, post_all  # noqa: E402

QUERIES = {
    "line_format": 'sum(count_over_time({service=~".+"} | line_format "{{.level}} {{.service}}: {{ __line__ | trunc 40 }}" [SPAN]))',
    "label_format": 'sum by (x) (count_over_time({service=~".+"} | label_format '
                    'x="{{ if eq .level \\"error\\" }}E{{ else }}{{ .level | upper }}{{ end }}" [SPAN]))',
    "logfmt_by_level": 'sum by (level) (count_over_time({service=~".+"} | logfmt [SPAN]))',
    "label_filter": 'sum(count_over_time({service=~".+"} | level="error" [SPAN]))',
    "json_by_service": 'sum by (service) (rate({service=~".+"} | json | __error__="" [SPAN]))',
}
LOG_QUERIES = {
    "latest_100": '{service=~".+"}',
    "logfmt_no_match": '{service=~".+"} | logfmt | status="599"',
}


def answer(result):
    """A query's answer in a form that compares across builds: samples by labels, or each stream's entries."""
    data = result["data"]
    if data["resultType"] == "streams":
        return sorted((tuple(sorted(s["stream"].items())), tuple(tuple(v[:2]) for v in s["values"])) for s in data["result"])
    return sorted((tuple(sorted(s["metric"].items())), s["value"][1]) for s in data["result"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", action="append", required=True, help="a sightline binary (give two or more to compare)")
    ap.add_argument("--shared", required=True)
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--layout", choices=["blocks", "head"], default="blocks",
                    help="blocks: restart after the load so every line is persisted; head: no checkpoint for an hour, so "
                         "every line is still in the in-memory head (recent data, what live dashboards query)")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "sightline-bench"))
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    dataset = types.SimpleNamespace(workdir=args.workdir, lines=args.lines, seed=args.seed, rate=500, shared=args.shared)
    records = logs_bench.read_dataset(logs_bench.dataset(dataset))
    bodies = logs_bench.loki_bodies(records, 10_000)
    fact = logs_bench.facts(records)
    span = (fact["newest"] - fact["oldest"]) // 10**9 + 120
    at = str(fact["newest"] + 1)
    servers = []
    try:
        for binary in args.bin:
            workdir = tempfile.mkdtemp(prefix="sightline-logql-", dir=args.workdir)
            config = "wal:\n  checkpoint_interval: 1h\n" if args.layout == "head" else ""
            server = Server(binary, os.path.join(workdir, "data"), os.path.join(workdir, "server.log"), config).start()
            servers.append((binary, server, workdir))
            log(f"{binary}: pushing {len(records)} lines ...")
            _, errors = post_all(server.url, "/loki/api/v1/push", bodies, 2, "application/json", 204)
            check(not errors, f"{len(errors)} pushes failed, first: {errors[:1]}")
            if args.layout == "blocks":
                # A graceful restart persists every line into blocks, so each build is measured on the same layout
                # (otherwise a checkpoint may or may not have run by the time the queries start).
                server.stop()
                server.start()
        requests = {name: ("/loki/api/v1/query", {"query": text.replace("SPAN", f"{span}s"), "time": at}) for name, text in QUERIES.items()}
        for name, text in LOG_QUERIES.items():
            requests[name] = ("/loki/api/v1/query_range", {"query": text, "start": str(fact["oldest"]), "end": at, "limit": "100"})
        timings = {b: {q: [] for q in requests} for b, _, _ in servers}
        answers = {b: {} for b, _, _ in servers}
        for run in range(args.runs + 1):  # the first run warms up and is not timed
            for binary, server, _ in servers:
                for name, (path, params) in requests.items():
                    start = time.perf_counter()
                    result = server.query(path, params)
                    if run > 0:
                        timings[binary][name].append((time.perf_counter() - start) * 1000)
                    answers[binary][name] = answer(result)
        first = args.bin[0]
        for name in requests:
            for binary in args.bin:
                check(answers[binary][name] == answers[first][name], f"{name}: {binary} answers differently from {first}")
        header = "| query | " + " | ".join(f"build {i + 1} (ms)" for i in range(len(args.bin))) + " | " + " | ".join(
            f"build {i + 1} / build 1" for i in range(1, len(args.bin))) + " |"
        print(header)
        print("|" + " --- |" * (1 + 2 * len(args.bin) - 1))
        for name in requests:
            medians = [sorted(timings[b][name])[len(timings[b][name]) // 2] for b in args.bin]
            ratios = [f"{m / medians[0]:.2f}" for m in medians[1:]]
            print(f"| {name} | " + " | ".join(f"{m:.0f}" for m in medians) + " | " + " | ".join(ratios) + " |")
        for i, binary in enumerate(args.bin):
            print(f"build {i + 1}: {binary}")
    finally:
        for _, server, workdir in servers:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
