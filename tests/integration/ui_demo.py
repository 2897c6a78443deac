"""One `sightline server` filled with generated data from ../shared/datasets for the web UI tests: logs (Loki push,
streams {service, host, level}, attributes as structured metadata), node-exporter-like metrics (Prometheus text import),
traces (OTLP/JSON) with a log line for some of them, alert rules that fire and that stay pending, and audit events.
Tokens are configured, so every page runs behind the token prompt as users with auth would see it."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from conftest import REPO_ROOT, SightlineServer, sightline_binary, to_yaml

DATASETS = REPO_ROOT.parent / "shared" / "datasets"
TOKEN = "ui-admin-token"
TENANT = "acme"
TOKENS = [{"token": TOKEN, "tenant": TENANT, "roles": ["ingest", "query", "admin"]}]

# Rules over the generated metrics: one alert per host fires at once, one stays pending for an hour, one never fires.
RULES = {"groups": [{"name": "demo", "interval": "1s", "rules": [
    {"alert": "HostUp", "expr": "up == 1", "labels": {"severity": "info"},
     "annotations": {"summary": "{{ $labels.instance }} is up"}},
    {"alert": "HighLoad", "expr": "node_load1 >= 0", "for": "1h", "labels": {"severity": "warning"}},
    {"alert": "NeverFires", "expr": "up > 100"},
    {"record": "instance:node_load1:max", "expr": "max by (instance) (node_load1)"},
]}]}
ALERTMANAGER = {"route": {"receiver": "null", "group_by": ["alertname"], "group_wait": "1s"},
                "receivers": [{"name": "null"}]}


@dataclass
class Demo:
    server: SightlineServer
    start_ms: int
    end_ms: int
    log_count: int
    trace_ids: list[str]
    error_trace_ids: list[str]
    services: list[str]
    logged_trace_id: str
    audit_actions: list[str]
    metric_names: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url


def run_generator(script: str, *args: str, out: Path) -> Path:
    subprocess.run([sys.executable, str(DATASETS / script), *args, "--out", str(out)], check=True, capture_output=True)
    return out


def post(server: SightlineServer, path: str, expect: int, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}
    r = requests.post(server.url + path, headers=headers, timeout=60, **kwargs)
    assert r.status_code == expect, f"POST {path}: HTTP {r.status_code}: {r.text[:500]}"
    return r


def start_demo(base: Path) -> Demo:
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - 30 * 60_000
    rules_path = base / "rules.yml"
    rules_path.write_text(to_yaml(RULES))
    am_path = base / "alertmanager.yml"
    am_path.write_text(to_yaml(ALERTMANAGER))
    # SIGHTLINE_UI_DIR serves the UI from the source folder, to try UI changes without a rebuild.
    ui = {"ui": {"assets_dir": os.environ["SIGHTLINE_UI_DIR"]}} if os.environ.get("SIGHTLINE_UI_DIR") else {}
    server = SightlineServer(sightline_binary(), base / "data", base, "ui-demo", config={
        **ui,
        "auth": {"tokens": TOKENS},
        "rules": {"tenants": {TENANT: [str(rules_path)]}},
        "alerting": {"alertmanager_config": str(am_path), "evaluation_interval": "1s"},
    })
    server.start()

    # Metrics: 3 hosts over the last 30 minutes.
    prom = run_generator("gen_metrics.py", "--hosts", "3", "--span", "30m", "--step", "15s", "--start-ms", str(start_ms),
                         "--seed", "5", "--format", "prom-text", out=base / "metrics.prom")
    post(server, "/api/v1/import/prometheus", 204, data=prom.read_bytes(), headers={"Content-Type": "text/plain"})
    metric_names = sorted({line.split("{")[0].split(" ")[0] for line in prom.read_text().splitlines()
                           if line and not line.startswith("#")})

    # Traces: 40 over the last 5 minutes.
    traces_file = run_generator("gen_traces.py", "--traces", "40", "--seed", "5", "--start-ms", str(now_ms - 300_000),
                                "--rate", "0.15", "--format", "otlp-json", out=base / "traces.ndjson")
    trace_ids: list[str] = []
    error_ids: list[str] = []
    roots: dict[str, str] = {}
    for line in traces_file.read_text().splitlines():
        doc = json.loads(line)
        post(server, "/v1/traces", 200, data=line.encode(), headers={"Content-Type": "application/json"})
        for rs in doc["resourceSpans"]:
            service = next(a["value"]["stringValue"] for a in rs["resource"]["attributes"] if a["key"] == "service.name")
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    tid = span["traceId"]
                    if tid not in trace_ids:
                        trace_ids.append(tid)
                    if span.get("status", {}).get("code") in (2, "STATUS_CODE_ERROR") and tid not in error_ids:
                        error_ids.append(tid)
                    if not span.get("parentSpanId"):
                        roots[tid] = service

    # Logs: 3,000 lines over the last 5 minutes, plus one line naming a stored trace.
    logs_file = run_generator("gen_logs.py", "--count", "3000", "--seed", "5", "--rate", "10",
                              "--start-ms", str(now_ms - 300_000 - 1000), "--needle-every", "1000", out=base / "logs.ndjson")
    records = [json.loads(line) for line in logs_file.read_text().splitlines()]
    logged = trace_ids[0]
    records.append({"ts_ns": (now_ms - 60_000) * 1_000_000, "service": roots.get(logged, "frontend"), "host": "demo-host",
                    "level": "info", "message": f"checkout finished trace_id={logged}", "attrs": {"trace_id": logged}})
    for chunk in range(0, len(records), 1000):
        streams = collections.defaultdict(list)
        for r in records[chunk:chunk + 1000]:
            streams[(r["service"], r["host"], r["level"])].append([str(r["ts_ns"]), r["message"], r.get("attrs", {})])
        doc = {"streams": [{"stream": {"service": s, "host": h, "level": lv}, "values": v} for (s, h, lv), v in streams.items()]}
        post(server, "/loki/api/v1/push", 204, json=doc)

    # Audit: 30 events of two actions.
    actions = ["invoice.update", "transfer.create"]
    events = [{
        "id": str(uuid.uuid4()), "tenant": TENANT, "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_ms / 1000 - 600 + n)) + "Z",
        "actor": {"id": f"user-{n % 3}", "type": "user"}, "action": actions[n % 2],
        "resource": {"type": "invoice" if n % 2 == 0 else "transfer", "id": f"r-{n}"},
        "outcome": "success" if n % 5 else "denied", "before": {"amount": n}, "after": {"amount": n + 1},
    } for n in range(30)]
    post(server, "/api/v1/audit/events", 200, json={"events": events})

    # The generator's gaps are random: its last lines may sit a second or two after `now`. Wait until every line is in
    # the past, so that ranges ending at "now" hold them all.
    deadline = time.monotonic() + 60
    while True:
        r = requests.get(server.url + "/loki/api/v1/query", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30,
                         params={"query": 'sum(count_over_time({service=~".+"}[15m]))', "time": str(time.time())})
        result = r.json()["data"]["result"] if r.status_code == 200 else []
        if result and int(float(result[0]["value"][1])) >= len(records):
            break
        assert time.monotonic() < deadline, f"the demo's {len(records)} log lines are not all searchable: {r.text[:300]}"
        time.sleep(0.2)

    return Demo(server=server, start_ms=start_ms, end_ms=now_ms, log_count=len(records), trace_ids=trace_ids,
                error_trace_ids=error_ids, services=sorted(set(roots.values())), logged_trace_id=logged,
                audit_actions=actions, metric_names=metric_names)


def open_page(browser, demo: Demo, fragment: str, token: str | None = TOKEN) -> None:
    """Loads the UI at `#<fragment>` (e.g. "/logs?query=...") with `token` already stored, as after a sign-in."""
    browser.goto(demo.url + "/ui/favicon.svg")
    browser.eval("localStorage.removeItem('sightline.theme')")  # every test starts in the default (light) theme
    if token:
        browser.eval(f"localStorage.setItem('sightline.token', {json.dumps(token)})")
    else:
        browser.eval("localStorage.removeItem('sightline.token')")
    browser.goto(demo.url + "/#" + fragment)
