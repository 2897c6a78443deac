"""LogQL through the real `sightline` binary's Loki API, checked against an independent computation in plain Python
over the same ../shared/datasets/gen_logs.py lines (pushed with the Loki push API, streams {service, host, level},
the attributes as structured metadata).

Window semantics as Loki's: a range aggregation at time t covers (t - range, t]."""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import REPO_ROOT, wait_until

DATASETS = REPO_ROOT.parent / "shared" / "datasets"
LINES = 6000
RATE = 100  # lines per second of simulated time: 60 s of data
START_MS = int(time.time() * 1000) // 1000 * 1000 - 120_000


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    out = tmp_path_factory.mktemp("logql") / "logs.ndjson"
    subprocess.run([sys.executable, str(DATASETS / "gen_logs.py"), "--count", str(LINES), "--seed", "11", "--rate", str(RATE),
                    "--start-ms", str(START_MS), "--needle-every", "1500", "--out", str(out)], check=True, capture_output=True)
    rows = []
    for line in out.read_text().splitlines():
        r = json.loads(line)
        rows.append({"ts": r["ts_ns"], "service": r["service"], "host": r["host"], "level": r["level"],
                     "line": r["message"], "attrs": r.get("attrs", {})})
    return rows


@pytest.fixture(scope="module")
def loki(records, storage_backend, tmp_path_factory):
    """One server for the module and storage backend (embedded, clickhouse), loaded with the records and waited on
    until all of them are visible to queries; yields its base URL."""
    from conftest import SightlineServer, sightline_binary

    base = tmp_path_factory.mktemp("logql-server")
    server = SightlineServer(sightline_binary(), base / "data", base, config=storage_backend or None)
    server.start()
    try:
        for start in range(0, len(records), 1000):
            streams = collections.defaultdict(list)
            for r in records[start:start + 1000]:
                streams[(r["service"], r["host"], r["level"])].append([str(r["ts"]), r["line"], r["attrs"]])
            doc = {"streams": [{"stream": {"service": s, "host": h, "level": lv}, "values": v} for (s, h, lv), v in streams.items()]}
            resp = requests.post(server.url + "/loki/api/v1/push", json=doc, timeout=60)
            assert resp.status_code == 204, resp.text
        wait_until(f"all {len(records)} pushed lines visible to queries",
                   lambda: (n := visible(server.url, records)) == len(records) or f"{n} visible")
        yield server.url
    finally:
        server.cleanup()


def visible(url, records) -> int:
    """How many of the records a LogQL count over all of them sees."""
    doc = get(url, "/loki/api/v1/query", query='sum(count_over_time({service=~".+"}[5m]))',
              time=str(records[-1]["ts"] + 1_000_000_000))
    return sum(int(float(s["value"][1])) for s in doc["data"]["result"])


def get(url, path, **params):
    resp = requests.get(url + path, params=params, timeout=60)
    assert resp.status_code == 200, f"{path} {params}: HTTP {resp.status_code}: {resp.text[:500]}"
    return resp.json()


def lines_of(result):
    """(ts, line) of a streams result, with the labels of each stream."""
    assert result["status"] == "success"
    data = result["data"]
    assert data["resultType"] == "streams"
    return [(int(ts), line, stream["stream"]) for stream in data["result"] for ts, line in stream["values"]]


def everything(records):
    return {"start": str(records[0]["ts"] - 1), "end": str(records[-1]["ts"] + 1), "limit": "5000", "direction": "forward"}


def test_line_filters_match_a_plain_filter(loki, records):
    cases = [
        ('{service="payments"} |= "checksum mismatch"', lambda r: r["service"] == "payments" and "checksum mismatch" in r["line"]),
        ('{service=~"pay.*|checkout"} != "session" |~ "order[s]? |timeout"',
         lambda r: re.fullmatch("pay.*|checkout", r["service"]) and "session" not in r["line"]
         and re.search("order[s]? |timeout", r["line"])),
        ('{level=~"error|fatal", service!="gateway"} |= "Exception" !~ "deadlock"',
         lambda r: r["level"] in ("error", "fatal") and r["service"] != "gateway" and "Exception" in r["line"]
         and not re.search("deadlock", r["line"])),
        ('{service="search"} |= "rate limit" or "cache"', lambda r: r["service"] == "search" and ("rate limit" in r["line"] or "cache" in r["line"])),
    ]
    for query, keep in cases:
        got = sorted((ts, line) for ts, line, _ in lines_of(get(loki, "/loki/api/v1/query_range", query=query, **everything(records))))
        expected = sorted((r["ts"], r["line"]) for r in records if keep(r))
        assert expected, f"the dataset has no line for {query}"
        assert got == expected, query


def test_parsers_and_label_filters(loki, records):
    access = re.compile(r'"(?P<method>\w+) (?P<path>\S+) HTTP/1.1" (?P<status>\d+) (?P<size>\d+)')
    query = r'{service="gateway"} | regexp "\"(?P<method>\\w+) (?P<path>\\S+) HTTP/1.1\" (?P<status>\\d+) (?P<size>\\d+)" | status >= 500 | method="GET"'
    got = lines_of(get(loki, "/loki/api/v1/query_range", query=query, **everything(records)))
    expected = []
    for r in records:
        m = access.search(r["line"]) if r["service"] == "gateway" else None
        if m and int(m["status"]) >= 500 and m["method"] == "GET":
            expected.append((r["ts"], r["line"]))
    assert sorted((ts, line) for ts, line, _ in got) == sorted(expected)
    assert all(labels["method"] == "GET" and int(labels["status"]) >= 500 for _, _, labels in got)

    # logfmt pulls key=value pairs; structured metadata filters by attribute.
    query = '{service="recommendation"} | logfmt | key=~"product:4.*"'
    got = sorted((ts, line) for ts, line, _ in lines_of(get(loki, "/loki/api/v1/query_range", query=query, **everything(records))))
    expected = sorted((r["ts"], r["line"]) for r in records if r["service"] == "recommendation"
                      and re.search(r"(?:^| )key=product:4\S*", r["line"]))
    assert got == expected
    query = '{service="gateway"} | http_status_code="503"'
    got = sorted(ts for ts, _, _ in lines_of(get(loki, "/loki/api/v1/query_range", query=query, **everything(records))))
    assert got == sorted(r["ts"] for r in records if r["service"] == "gateway" and r["attrs"].get("http.status_code") == "503")


def test_direction_and_limit(loki, records):
    params = {**everything(records), "limit": "50"}
    newest = lines_of(get(loki, "/loki/api/v1/query_range", query='{service="search"}', **{**params, "direction": "backward"}))
    search = [r for r in records if r["service"] == "search"]
    assert sorted(ts for ts, _, _ in newest) == sorted(r["ts"] for r in search)[-50:]
    oldest = lines_of(get(loki, "/loki/api/v1/query_range", query='{service="search"}', **params))
    assert sorted(ts for ts, _, _ in oldest) == sorted(r["ts"] for r in search)[:50]


def vector(result):
    assert result["status"] == "success", result
    assert result["data"]["resultType"] == "vector", result["data"]["resultType"]
    return {json.dumps(s["metric"], sort_keys=True): float(s["value"][1]) for s in result["data"]["result"]}


def key(**labels):
    return json.dumps(labels, sort_keys=True)


def test_metric_queries_match_python(loki, records):
    t = records[-1]["ts"] // 1_000_000_000 * 1_000_000_000  # a whole second inside the data
    window = 30 * 1_000_000_000
    inside = [r for r in records if t - window < r["ts"] <= t]

    counts = collections.Counter(r["level"] for r in inside)
    got = vector(get(loki, "/loki/api/v1/query", query='sum by (level) (count_over_time({service=~".+"}[30s]))', time=str(t)))
    assert got == {key(level=level): float(n) for level, n in counts.items()}

    errors = collections.Counter(r["service"] for r in inside if r["level"] == "error")
    got = vector(get(loki, "/loki/api/v1/query", query='topk(3, sum by (service) (rate({level="error"}[30s])))', time=str(t)))
    top = sorted(errors.items(), key=lambda kv: -kv[1])[:3]
    assert len(got) == len(top)
    for service, n in top:
        if sum(1 for _, m in top if m == n) == 1:  # ties may pick either
            assert got[key(service=service)] == pytest.approx(n / 30)

    sizes = collections.Counter()
    for r in inside:
        sizes[r["service"]] += len(r["line"].encode())
    got = vector(get(loki, "/loki/api/v1/query", query='sum by (service) (bytes_over_time({service=~".+"}[30s]))', time=str(t)))
    assert got == {key(service=s): float(n) for s, n in sizes.items()}

    total = sum(int(r["attrs"]["bytes"]) for r in inside if r["service"] == "gateway")
    got = vector(get(loki, "/loki/api/v1/query", query='sum(sum_over_time({service="gateway"} | unwrap bytes [30s]))', time=str(t)))
    assert got == {key(): float(total)}


def test_range_query_steps(loki, records):
    end = records[-1]["ts"] // 1_000_000_000 * 1_000_000_000
    start = end - 20 * 1_000_000_000
    result = get(loki, "/loki/api/v1/query_range", query='sum by (host, level) (count_over_time({service="gateway"}[10s]))',
                 start=str(start), end=str(end), step="5")
    assert result["data"]["resultType"] == "matrix"
    per_host = collections.defaultdict(dict)
    for series in result["data"]["result"]:
        for t, value in series["values"]:
            per_host[(series["metric"]["host"], series["metric"]["level"])][int(round(float(t) * 1e9))] = float(value)
    for step_t in range(start, end + 1, 5 * 1_000_000_000):
        expected = collections.Counter((r["host"], r["level"]) for r in records
                                       if r["service"] == "gateway" and step_t - 10 * 1_000_000_000 < r["ts"] <= step_t)
        got = {k: v[step_t] for k, v in per_host.items() if step_t in v}
        assert got == {k: float(n) for k, n in expected.items()}, step_t


def test_labels_series_and_stats(loki, records):
    span = {"start": str(records[0]["ts"] - 1), "end": str(records[-1]["ts"] + 1)}
    labels = get(loki, "/loki/api/v1/labels", **span)
    assert labels["status"] == "success"
    assert {"service", "host", "level"} <= set(labels["data"])
    services = get(loki, "/loki/api/v1/label/service/values", **span)["data"]
    assert services == sorted({r["service"] for r in records})
    series = get(loki, "/loki/api/v1/series", **{"match[]": '{service="payments"}'}, **span)["data"]
    assert sorted(json.dumps(s, sort_keys=True) for s in series) == sorted(
        json.dumps({"service": "payments", "service_name": "payments", "host": h, "level": lv}, sort_keys=True)
        for h, lv in {(r["host"], r["level"]) for r in records if r["service"] == "payments"})
    stats = get(loki, "/loki/api/v1/index/stats", query='{service="payments"}', **span)
    payments = [r for r in records if r["service"] == "payments"]
    assert stats["entries"] == len(payments)
    assert stats["bytes"] == sum(len(r["line"].encode()) for r in payments)
    assert stats["streams"] == len({(r["host"], r["level"]) for r in payments})


def line_bytes(rows) -> int:
    return sum(len(r["line"].encode()) for r in rows)


def test_volume_sums_line_bytes_per_group(loki, records):
    """Loki's /index/volume as Grafana's Logs Drilldown asks for it: by the selector's labels, by target labels, per
    label name, the largest first and cut at the limit."""
    span = {"start": str(records[0]["ts"] - 1), "end": str(records[-1]["ts"] + 1)}
    services = {r["service"] for r in records}
    doc = get(loki, "/loki/api/v1/index/volume", query='{service=~".+"}', **span)
    assert doc["data"]["resultType"] == "vector"
    result = doc["data"]["result"]
    assert {s["metric"]["service"]: int(s["value"][1]) for s in result} == {
        svc: line_bytes(r for r in records if r["service"] == svc) for svc in services}
    assert all(set(s["metric"]) == {"service"} for s in result)
    sizes = [int(s["value"][1]) for s in result]
    assert sizes == sorted(sizes, reverse=True)
    assert abs(result[0]["value"][0] - (records[-1]["ts"] + 1) / 1e9) < 0.002

    payments = [r for r in records if r["service"] == "payments"]
    by_host = get(loki, "/loki/api/v1/index/volume", query='{service="payments"}', targetLabels="host", **span)["data"]["result"]
    assert {s["metric"]["host"]: int(s["value"][1]) for s in by_host} == {
        h: line_bytes(r for r in payments if r["host"] == h) for h in {r["host"] for r in payments}}
    assert all(set(s["metric"]) == {"host"} for s in by_host)
    top = get(loki, "/loki/api/v1/index/volume", query='{service=~".+"}', limit="2", **span)["data"]["result"]
    assert [s["metric"] for s in top] == [s["metric"] for s in result[:2]]

    names = get(loki, "/loki/api/v1/index/volume", query='{service="payments"}', aggregateBy="labels", **span)["data"]["result"]
    assert {json.dumps(s["metric"], sort_keys=True): int(s["value"][1]) for s in names} == {
        json.dumps({n: ""}): line_bytes(payments) for n in ("service", "service_name", "host", "level")}
    services_by_name = get(loki, "/loki/api/v1/index/volume", query='{service_name=~".+"}', **span)["data"]["result"]
    assert {s["metric"]["service_name"]: int(s["value"][1]) for s in services_by_name} == {
        svc: line_bytes(r for r in records if r["service"] == svc) for svc in services}
    every = get(loki, "/loki/api/v1/index/volume", query="{}", limit="1000", **span)["data"]["result"]
    assert len(every) == len({(r["service"], r["host"], r["level"]) for r in records})
    assert sum(int(s["value"][1]) for s in every) == line_bytes(records)


def test_volume_range_buckets_by_step(loki, records):
    start = records[0]["ts"] - 1
    end = records[-1]["ts"] + 1
    step = 10 * 1_000_000_000
    doc = get(loki, "/loki/api/v1/index/volume_range", query='{service="checkout"}', step="10s", start=str(start), end=str(end))
    assert doc["data"]["resultType"] == "matrix"
    expected = collections.defaultdict(lambda: collections.Counter())
    for r in records:
        if r["service"] == "checkout":
            bucket = min(start + -(-(r["ts"] - start) // step) * step, end)
            expected[r["service"]][bucket // 1_000_000] += len(r["line"].encode())
    got = {s["metric"]["service"]: {round(t * 1000): int(v) for t, v in s["values"]} for s in doc["data"]["result"]}
    assert got == {k: dict(v) for k, v in expected.items()}


def test_volume_refuses_what_it_cannot_answer(loki):
    for params, reason in [({"query": '{service="x"} |= "a"'}, "only label matchers are supported"),
                           ({"query": '{service="x"}', "aggregateBy": "streams"}, "aggregateBy"),
                           ({"query": '{service="x"}', "limit": "-3"}, "limit"),
                           ({"query": '{service=~".*"}'}, "empty-compatible")]:
        resp = requests.get(loki + "/loki/api/v1/index/volume", params=params, timeout=30)
        assert resp.status_code == 400, params
        assert reason in resp.text, (params, resp.text)


def test_detected_level_filters_and_groups(loki, records):
    """Every pushed stream has a `level` label: detected_level is its value."""
    t = str(records[-1]["ts"] + 1_000_000_000)
    doc = get(loki, "/loki/api/v1/query", query='sum by (detected_level) (count_over_time({service=~".+"}[5m]))', time=t)
    assert {s["metric"]["detected_level"]: int(float(s["value"][1])) for s in doc["data"]["result"]} == dict(
        collections.Counter(r["level"] for r in records))
    doc = get(loki, "/loki/api/v1/query", query='sum(count_over_time({service=~".+"} | detected_level=~"warn|error" [5m]))', time=t)
    assert int(float(doc["data"]["result"][0]["value"][1])) == sum(r["level"] in ("warn", "error") for r in records)


def test_detected_labels_and_fields(loki, records):
    """Grafana's Logs Drilldown tabs: the stream labels with their cardinality, and the fields of the newest lines
    (structured metadata and what JSON/logfmt parsing of the lines finds) with types and values."""
    span = {"start": str(records[0]["ts"] - 1), "end": str(records[-1]["ts"] + 1)}
    labels = get(loki, "/loki/api/v1/detected_labels", **span)["detectedLabels"]
    # Every pushed stream has a service_name, discovered from its `service` label as Loki 3 does.
    assert labels == [{"label": n, "cardinality": len({r[n.removesuffix("_name")] for r in records})}
                      for n in ("host", "level", "service", "service_name")]
    only = get(loki, "/loki/api/v1/detected_labels", query='{service="payments"}', **span)["detectedLabels"]
    assert {d["label"]: d["cardinality"] for d in only}["service"] == 1

    newest = sorted((r for r in records if r["service"] == "gateway"), key=lambda r: r["ts"])[-50:]
    doc = get(loki, "/loki/api/v1/detected_fields", query='{service="gateway"}', line_limit="50", **span)
    assert doc["limit"] == 1000
    fields = {f["label"]: f for f in doc["fields"]}
    metadata = {k.replace(".", "_") for r in newest for k in r["attrs"]}
    assert metadata <= set(fields), metadata - set(fields)
    assert fields["http_status_code"]["type"] == "int"
    assert fields["http_status_code"]["cardinality"] == len({r["attrs"]["http.status_code"] for r in newest})
    assert fields["http_status_code"]["parsers"] is None
    assert fields["detected_level"]["cardinality"] == len({r["level"] for r in newest})
    # Gateway lines are access logs ending in logfmt pairs (`rt=0.009 ...`).
    assert fields["rt"]["parsers"] == ["logfmt"] and fields["rt"]["type"] == "float"
    values = get(loki, "/loki/api/v1/detected_field/http_method/values", query='{service="gateway"}', line_limit="50", **span)
    assert values["values"] == sorted({r["attrs"]["http.method"] for r in newest})
    assert get(loki, "/loki/api/v1/detected_field/nothing_like_this/values", query='{service="gateway"}', **span) == {}
    resp = requests.get(loki + "/loki/api/v1/detected_fields", params={"query": 'count_over_time({service="x"}[1m])'}, timeout=30)
    assert resp.status_code == 400 and "only log selector is supported" in resp.text
    resp = requests.get(loki + "/loki/api/v1/detected_fields", params={"query": '{service="x"}', "line_limit": "0"}, timeout=30)
    assert resp.status_code == 400 and "line_limit" in resp.text


def pattern_regex(pattern: str) -> re.Pattern:
    return re.compile(".*?".join(re.escape(part) for part in pattern.split("<_>")), re.DOTALL)


def test_patterns_of_a_service(loki, records):
    """Loki's /patterns for the Drilldown's patterns tab: each pattern stands for lines it matches, counted per step."""
    span = {"start": str(records[0]["ts"] - 1), "end": str(records[-1]["ts"] + 1)}
    lines = [r for r in records if r["service"] == "search"]
    doc = get(loki, "/loki/api/v1/patterns", query='{service="search"}', step="30s", **span)
    assert doc["status"] == "success"
    patterns = doc["data"]
    assert patterns, "no pattern found"
    totals = [sum(n for _, n in p["samples"]) for p in patterns]
    assert totals == sorted(totals, reverse=True) and min(totals) >= 30
    assert sum(totals) <= len(lines)
    levels = {r["level"] for r in lines}
    for pattern, total in zip(patterns, totals):
        assert pattern["level"] in levels
        assert "<_>" in pattern["pattern"]
        matching = [r for r in lines if r["level"] == pattern["level"] and pattern_regex(pattern["pattern"]).fullmatch(r["line"])]
        assert len(matching) >= total, pattern
        assert all(t % 30 == 0 and isinstance(t, int) for t, _ in pattern["samples"])
    resp = requests.get(loki + "/loki/api/v1/patterns", params={"query": '{service="search"} |= "x"'}, timeout=30)
    assert resp.status_code == 400 and "only label matchers are supported" in resp.text


def test_loki_status_routes(loki):
    """What Loki clients probe: buildinfo, and the limits Grafana's Logs Drilldown adapts to (the server's defaults:
    15 days of retention, 5,000 lines per query)."""
    build = get(loki, "/loki/api/v1/status/buildinfo")
    assert build["version"].startswith("3.")
    limits = get(loki, "/loki/api/v1/drilldown-limits")
    assert limits["pattern_ingester_enabled"] is True
    assert limits["limits"]["max_entries_limit_per_query"] == 5000
    assert limits["limits"]["retention_period"] == "15d"
    assert limits["limits"]["volume_enabled"] is True and limits["limits"]["discover_log_levels"] is True
    assert "level" in limits["limits"]["log_level_fields"]


def test_categorized_labels(loki, records):
    """Grafana asks for `X-Loki-Response-Encoding-Flags: categorize-labels`: streams by their stream labels only, each
    entry with its structured metadata and parsed labels."""
    span = {"start": str(records[0]["ts"] - 1), "end": str(records[-1]["ts"] + 1)}
    query = '{service="payments", level="info"} | logfmt'
    plain = get(loki, "/loki/api/v1/query_range", query=query, limit="30", **span)["data"]
    resp = requests.get(loki + "/loki/api/v1/query_range", params={"query": query, "limit": "30", **span},
                        headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"}, timeout=30)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert list(data)[:3] == ["resultType", "encodingFlags", "result"] and data["encodingFlags"] == ["categorize-labels"]
    streams = data["result"]
    assert all(set(s["stream"]) == {"service", "service_name", "host", "level"} for s in streams)
    assert len({json.dumps(s["stream"], sort_keys=True) for s in streams}) == len(streams)
    newest = sorted((r for r in records if r["service"] == "payments" and r["level"] == "info"), key=lambda r: -r["ts"])[:30]
    by_time = {str(r["ts"]): r for r in newest}
    values = [v for s in streams for v in s["values"]]
    assert sorted(v[0] for v in values) == sorted(by_time)
    for ts, line, categories in values:
        r = by_time[ts]
        assert line == r["line"]
        assert categories["structuredMetadata"] == {**{k.replace(".", "_"): v for k, v in r["attrs"].items()}, "detected_level": "info"}
        assert set(categories) <= {"structuredMetadata", "parsed"}
    assert any("parsed" in v[2] for v in values), "logfmt found nothing"
    for stream in streams:
        assert [v[0] for v in stream["values"]] == sorted((v[0] for v in stream["values"]), key=int, reverse=True)
    # The same entries as without the flag, where metadata and parsed labels are stream labels.
    assert sorted(v[0] for s in plain["result"] for v in s["values"]) == sorted(by_time)
    assert "encodingFlags" not in plain


def test_bad_queries_are_explained(loki):
    resp = requests.get(loki + "/loki/api/v1/query_range", params={"query": '{service="x"} |= '}, timeout=30)
    assert resp.status_code == 400
    assert "parse error" in resp.text
    resp = requests.get(loki + "/loki/api/v1/query_range", params={"query": '{service=~".*"}'}, timeout=30)
    assert resp.status_code == 400
    resp = requests.get(loki + "/loki/api/v1/query_range", params={"query": '{service="x"}', "limit": "-1"}, timeout=30)
    assert resp.status_code == 400
    assert "limit" in resp.text
