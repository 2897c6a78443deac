"""Traces end to end through the real `sightline` binary, with real clients: the OpenTelemetry Python SDK (two
services, one exporting over OTLP/HTTP and one over OTLP/gRPC, W3C context propagated between them), py-zipkin over
HTTP, and hand-built OTLP/JSON for the edge cases. Everything is read back through the Jaeger-compatible API.

Every test runs once per storage backend (ids embedded/clickhouse: conftest.storage_backend); on ClickHouse data is
queryable only after the next insert (flush_interval), so reads wait for what they expect (jaeger_trace, wait_until)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import time

import pytest
import requests
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from py_zipkin.encoding import Encoding
from py_zipkin.zipkin import zipkin_span

from conftest import sightline_binary, wait_until

NS = 1_000_000_000


@pytest.fixture
def server(sightline, storage_backend):
    """A started server with default settings on the module's storage backend."""
    return sightline(config=storage_backend or None).start()


def provider(service: str, exporter) -> TracerProvider:
    p = TracerProvider(resource=Resource.create({"service.name": service}))
    p.add_span_processor(SimpleSpanProcessor(exporter))
    return p


def jaeger_trace(url: str, trace_id: str, token: str | None = None, expect: int | None = None, timeout: float = 20.0) -> dict:
    """GET /api/traces/{id}, waiting until it has `expect` spans."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        r = requests.get(f"{url}/api/traces/{trace_id}", headers=headers, timeout=30)
        last = r
        if r.status_code == 200:
            data = r.json()["data"]
            if data and (expect is None or len(data[0]["spans"]) >= expect):
                return data[0]
        time.sleep(0.2)
    raise AssertionError(f"trace {trace_id} not complete: HTTP {last.status_code}: {last.text[:300]}")


def by_name(trace_doc: dict) -> dict[str, dict]:
    return {s["operationName"]: s for s in trace_doc["spans"]}


def service_of(trace_doc: dict, span: dict) -> str:
    return trace_doc["processes"][span["processID"]]["serviceName"]


def parent_of(span: dict) -> str | None:
    refs = [r for r in span.get("references") or [] if r["refType"] == "CHILD_OF"]
    return refs[0]["spanID"] if refs else None


def same_id(a: str, b: str) -> bool:
    return int(a, 16) == int(b, 16)


def tags(span: dict) -> dict:
    return {t["key"]: t["value"] for t in span.get("tags") or []}


def test_two_services_over_http_and_grpc_make_one_trace(server):
    frontend = provider("frontend", HttpSpanExporter(endpoint=server.url + "/v1/traces", timeout=10))
    backend = provider("backend", GrpcSpanExporter(endpoint=server.grpc_endpoint, insecure=True, timeout=10))
    carrier: dict[str, str] = {}
    with frontend.get_tracer("web").start_as_current_span("GET /checkout", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.request.method", "GET")
        with frontend.get_tracer("web").start_as_current_span("POST /charge", kind=SpanKind.CLIENT):
            propagate.inject(carrier)
            context = propagate.extract(carrier)
            with backend.get_tracer("api").start_as_current_span("charge", context=context, kind=SpanKind.SERVER) as charge:
                charge.set_attribute("payment.amount", 42)
                with backend.get_tracer("api").start_as_current_span("db.insert") as insert:
                    insert.set_status(Status(StatusCode.ERROR, "duplicate key"))
    trace_id = format(root.get_span_context().trace_id, "032x")
    frontend.shutdown()
    backend.shutdown()

    doc = jaeger_trace(server.url, trace_id, expect=4)
    spans = by_name(doc)
    assert set(spans) == {"GET /checkout", "POST /charge", "charge", "db.insert"}
    assert parent_of(spans["GET /checkout"]) is None
    assert same_id(parent_of(spans["POST /charge"]), spans["GET /checkout"]["spanID"])
    assert same_id(parent_of(spans["charge"]), spans["POST /charge"]["spanID"])
    assert same_id(parent_of(spans["db.insert"]), spans["charge"]["spanID"])
    assert service_of(doc, spans["charge"]) == "backend" and service_of(doc, spans["GET /checkout"]) == "frontend"
    assert tags(spans["charge"])["payment.amount"] == 42
    assert tags(spans["db.insert"]).get("error") is True
    assert tags(spans["charge"])["span.kind"] == "server"
    assert all(s["duration"] >= 0 and s["startTime"] > 1_600_000_000_000_000 for s in doc["spans"])

    services = requests.get(server.url + "/api/services", timeout=30).json()["data"]
    assert {"frontend", "backend"} <= set(services)
    operations = requests.get(server.url + "/api/services/backend/operations", timeout=30).json()["data"]
    assert {"charge", "db.insert"} <= set(operations)
    found = requests.get(server.url + "/api/traces", params={"service": "backend", "operation": "charge", "limit": "10",
                                                              "tags": json.dumps({"payment.amount": "42"})}, timeout=30).json()["data"]
    assert [t["traceID"] for t in found if same_id(t["traceID"], trace_id)]
    edges = requests.get(server.url + "/api/dependencies", params={"endTs": str(int(time.time() * 1000) + 60_000),
                                                                   "lookback": "3600000"}, timeout=30).json()["data"]
    assert any(e["parent"] == "frontend" and e["child"] == "backend" and e["callCount"] >= 1 for e in edges), edges


def test_tempo_api_traceql_search_and_trace_by_id(server):
    """Grafana's Tempo data source: echo, TraceQL search, trace by id as protobuf (v1 and v2) and OTLP/JSON, tags."""
    from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

    shop = provider("tempo-shop", HttpSpanExporter(endpoint=server.url + "/v1/traces", timeout=10))
    tracer = shop.get_tracer("web")
    ids = []
    for status in (200, 503):
        with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER) as root:
            root.set_attribute("http.response.status_code", status)
            with tracer.start_as_current_span("SELECT cart", kind=SpanKind.CLIENT) as db:
                db.set_attribute("db.system", "postgresql")
                if status == 503:
                    db.set_status(Status(StatusCode.ERROR, "timeout"))
        ids.append(format(root.get_span_context().trace_id, "032x"))
    shop.shutdown()
    ok_id, failed_id = ids
    jaeger_trace(server.url, failed_id, expect=2)

    assert requests.get(server.url + "/api/echo", timeout=30).text == "echo"
    window = {"start": str(int(time.time()) - 600), "end": str(int(time.time()) + 60)}

    def search(q: str) -> dict:
        r = requests.get(server.url + "/api/search", params={"q": q, **window}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    found = search('{ resource.service.name = "tempo-shop" && span.http.response.status_code >= 500 }')
    assert [t["traceID"] for t in found["traces"]] == [failed_id], found
    hit = found["traces"][0]
    assert hit["rootServiceName"] == "tempo-shop" and hit["rootTraceName"] == "GET /cart", hit
    span = hit["spanSets"][0]["spans"][0]
    assert span["name"] == "GET /cart" and hit["spanSets"][0]["matched"] == 1
    assert {"key": "http.response.status_code", "value": {"intValue": "503"}} in span["attributes"], span
    both = search('{ rootServiceName = "tempo-shop" } && { kind = client && status = error }')
    assert [t["traceID"] for t in both["traces"]] == [failed_id] and both["traces"][0]["spanSets"][0]["matched"] == 2
    selected = search('{ resource.service.name = "tempo-shop" && kind = client } | select(span.db.system)')
    assert all({"key": "db.system", "value": {"stringValue": "postgresql"}} in t["spanSets"][0]["spans"][0]["attributes"]
               for t in selected["traces"]) and len(selected["traces"]) == 2, selected
    every = search('{ .db.system = "postgresql" } | count() = 1')
    assert {t["traceID"] for t in every["traces"]} >= {ok_id, failed_id}
    bad = requests.get(server.url + "/api/search", params={"q": "{ .a = }"}, timeout=30)
    assert bad.status_code == 400 and "TraceQL" in bad.text, bad.text

    # Trace by id: protobuf as Grafana asks for it (v2 wraps the v1 message in field 1), and OTLP/JSON.
    proto = {"Accept": "application/protobuf"}
    v1 = requests.get(f"{server.url}/api/traces/{failed_id}", headers=proto, timeout=30)
    assert v1.status_code == 200 and v1.headers["Content-Type"] == "application/protobuf"
    names = {s.name for rs in TracesData.FromString(v1.content).resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert names == {"GET /cart", "SELECT cart"}
    v2 = requests.get(f"{server.url}/api/v2/traces/{failed_id}", headers=proto, timeout=30).content
    assert v2[0] == 0x0A and v2.endswith(v1.content)
    doc = requests.get(f"{server.url}/api/v2/traces/{failed_id}", timeout=30).json()
    spans = doc["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert {s["name"] for s in spans} == {"GET /cart", "SELECT cart"}
    assert all(s["traceId"] == failed_id for s in spans)
    assert requests.get(f"{server.url}/api/v2/traces/{'0' * 31}1", timeout=30).status_code == 404

    tags = requests.get(server.url + "/api/v2/search/tags", timeout=30).json()["scopes"]
    scopes = {s["name"]: s["tags"] for s in tags}
    assert "service.name" in scopes["resource"] and "db.system" in scopes["span"] and "rootServiceName" in scopes["intrinsic"]
    values = requests.get(server.url + "/api/v2/search/tag/resource.service.name/values", timeout=30).json()["tagValues"]
    assert {"type": "string", "value": "tempo-shop"} in values
    statuses = requests.get(server.url + "/api/v2/search/tag/status/values", timeout=30).json()["tagValues"]
    assert {"type": "keyword", "value": "error"} in statuses
    assert "tempo-shop" in requests.get(server.url + "/api/search/tag/service.name/values", timeout=30).json()["tagValues"]


def test_py_zipkin_over_http(server):
    def transport(encoded: bytes | str):
        body = encoded if isinstance(encoded, bytes) else encoded.encode()
        r = requests.post(server.url + "/api/v2/spans", data=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code in (200, 202), r.text

    with zipkin_span(service_name="zipkin-web", span_name="index", transport_handler=transport, encoding=Encoding.V2_JSON,
                     sample_rate=100.0, kind=None) as root:
        with zipkin_span(service_name="zipkin-web", span_name="load-user"):
            time.sleep(0.01)
    trace_id = root.zipkin_attrs.trace_id
    doc = jaeger_trace(server.url, trace_id, expect=2)
    spans = by_name(doc)
    assert set(spans) == {"index", "load-user"}
    assert same_id(parent_of(spans["load-user"]), spans["index"]["spanID"])
    assert service_of(doc, spans["index"]) == "zipkin-web"
    assert spans["load-user"]["duration"] >= 10_000  # µs


def otlp_span(trace_id: str, span_id: str, name: str, start_ns: int, end_ns: int, parent: str = "", **extra) -> dict:
    span = {"traceId": trace_id, "spanId": span_id, "name": name, "kind": 2,
            "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(end_ns)}
    if parent:
        span["parentSpanId"] = parent
    span.update(extra)
    return span


def post_spans(url: str, service: str, spans: list[dict], token: str | None = None) -> None:
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                               "scopeSpans": [{"scope": {"name": "it"}, "spans": spans}]}]}
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    r = requests.post(url + "/v1/traces", data=json.dumps(body), headers=headers, timeout=60)
    assert r.status_code == 200, r.text


def test_out_of_order_missing_parents_and_clock_skew_are_kept_as_sent(server):
    trace_id = "%032x" % random.getrandbits(128)
    t0 = int(time.time()) * NS
    # The child arrives first; its parent two batches later; a grandchild whose parent never arrives.
    post_spans(server.url, "late", [otlp_span(trace_id, "00000000000000c1", "child", t0 - 5_000_000, t0 + 10_000_000,
                                              parent="00000000000000a1")])
    post_spans(server.url, "other", [otlp_span(trace_id, "00000000000000d1", "orphan", t0, t0 + 1, parent="00000000000000ff")])
    post_spans(server.url, "early", [otlp_span(trace_id, "00000000000000a1", "root", t0, t0 + 20_000_000)])
    doc = jaeger_trace(server.url, trace_id, expect=3)
    spans = by_name(doc)
    # The child started 5 ms before its parent (skew between services): kept, not "fixed".
    assert spans["child"]["startTime"] == spans["root"]["startTime"] - 5_000
    assert same_id(parent_of(spans["orphan"]), "ff")


def test_a_ten_thousand_span_trace_comes_back_whole(server):
    trace_id = "%032x" % random.getrandbits(128)
    t0 = int(time.time()) * NS
    spans = [otlp_span(trace_id, "%016x" % (i + 1), f"op-{i % 50}", t0 + i * 1000, t0 + i * 1000 + 500,
                       parent="" if i == 0 else "%016x" % ((i - 1) // 10 + 1)) for i in range(10_000)]
    for start in range(0, len(spans), 2_000):
        post_spans(server.url, "big", spans[start:start + 2_000])
    doc = jaeger_trace(server.url, trace_id, expect=10_000, timeout=60)
    assert len(doc["spans"]) == 10_000
    assert len({s["spanID"] for s in doc["spans"]}) == 10_000


def test_tenant_isolation(sightline, storage_backend):
    srv = sightline("traces-auth", config={**storage_backend, "auth": {"tokens": [
        {"token": "acme", "tenant": "acme", "roles": ["ingest", "query"]},
        {"token": "globex", "tenant": "globex", "roles": ["ingest", "query"]},
    ]}}).start()
    trace_id = "%032x" % random.getrandbits(128)
    t0 = int(time.time()) * NS
    post_spans(srv.url, "acme-svc", [otlp_span(trace_id, "0000000000000001", "secret", t0, t0 + 1)], token="acme")
    assert jaeger_trace(srv.url, trace_id, token="acme", expect=1)["spans"][0]["operationName"] == "secret"
    r = requests.get(f"{srv.url}/api/traces/{trace_id}", headers={"Authorization": "Bearer globex"}, timeout=30)
    assert r.status_code == 404 or r.json()["data"] == []
    services = requests.get(srv.url + "/api/services", headers={"Authorization": "Bearer globex"}, timeout=30).json()["data"]
    assert "acme-svc" not in (services or [])
    assert requests.get(srv.url + "/api/services", timeout=30).status_code == 401


def test_red_metrics_self_tracing_and_the_trace_cli(sightline, storage_backend):
    srv = sightline("traces-derived", config={**storage_backend, "traces": {"span_metrics_interval": "1s"}}).start()
    trace_id = "%032x" % random.getrandbits(128)
    t0 = int(time.time()) * NS
    post_spans(srv.url, "shop", [
        otlp_span(trace_id, "00000000000000a1", "GET /cart", t0, t0 + 30_000_000, kind=2),
        otlp_span(trace_id, "00000000000000a2", "call stock", t0 + 1_000_000, t0 + 20_000_000, parent="00000000000000a1", kind=3),
    ])
    post_spans(srv.url, "stock", [
        otlp_span(trace_id, "00000000000000b1", "GET /stock", t0 + 2_000_000, t0 + 19_000_000, parent="00000000000000a2",
                  kind=2, status={"code": 2, "message": "boom"}),
    ])
    deadline = time.monotonic() + 30
    calls = errors = []
    while time.monotonic() < deadline:
        calls = requests.get(srv.url + "/api/v1/query", params={"query": 'traces_span_metrics_calls_total{service_name="stock"}'},
                             timeout=30).json()["data"]["result"]
        errors = requests.get(srv.url + "/api/v1/query", params={"query": 'traces_service_graph_request_failed_total'},
                              timeout=30).json()["data"]["result"]
        if calls and errors:
            break
        time.sleep(0.5)
    assert calls and calls[0]["metric"]["status_code"] == "STATUS_CODE_ERROR" and calls[0]["value"][1] == "1"
    assert errors and errors[0]["metric"]["client"] == "shop" and errors[0]["metric"]["server"] == "stock"

    # A request carrying a traceparent continues that trace inside Sightline's own spans.
    caller = "%032x" % random.getrandbits(128)
    requests.get(srv.url + "/api/v1/labels", headers={"traceparent": f"00-{caller}-00000000000000aa-01"}, timeout=30)
    own = jaeger_trace(srv.url, caller, expect=1)
    assert own["spans"][0]["operationName"] == "GET /api/v1/labels"
    assert own["processes"][own["spans"][0]["processID"]]["serviceName"] == "sightline"

    out = subprocess.run([str(sightline_binary()), "trace", trace_id, "--server", srv.url], capture_output=True, text=True,
                         timeout=60, env={**os.environ})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any("GET /cart" in line for line in lines) and any("GET /stock" in line for line in lines)
    # The tree: the callee is indented below its caller.
    cart = next(line for line in lines if "GET /cart" in line)
    stock = next(line for line in lines if "GET /stock" in line)
    assert len(stock) - len(stock.lstrip(" │├└─")) > len(cart) - len(cart.lstrip(" │├└─"))
    missing = subprocess.run([str(sightline_binary()), "trace", "0" * 31 + "1", "--server", srv.url], capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_logs_of_a_trace_and_the_trace_of_a_log_line(server):
    trace_id = "%032x" % random.getrandbits(128)
    t0 = time.time_ns()
    post_spans(server.url, "billing", [otlp_span(trace_id, "00000000000000e1", "POST /invoice", t0, t0 + 5_000_000)])
    logs = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "billing"}}]},
                              "scopeLogs": [{"scope": {"name": "it"}, "logRecords": [
                                  {"timeUnixNano": str(t0 + 1_000_000), "body": {"stringValue": "invoice created"},
                                   "traceId": trace_id, "spanId": "00000000000000e1"},
                                  {"timeUnixNano": str(t0 + 2_000_000), "body": {"stringValue": "unrelated line"}}]}]}]}
    r = requests.post(server.url + "/v1/logs", data=json.dumps(logs), headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200, r.text
    # The logs of the trace: the log store filtered by trace id.
    def logs_of_the_trace():
        return requests.get(server.url + "/loki/api/v1/query_range",
                            params={"query": f'{{service_name="billing"}} | trace_id="{trace_id}"', "start": str(t0 - NS),
                                    "end": str(t0 + NS)}, timeout=30).json()["data"]["result"]
    wait_until("a log line of the trace", lambda: bool(logs_of_the_trace()))
    result = logs_of_the_trace()
    assert [line for stream in result for _, line in stream["values"]] == ["invoice created"]
    assert result[0]["stream"]["span_id"] == "00000000000000e1"
    # The trace of the log line.
    doc = jaeger_trace(server.url, result[0]["stream"]["trace_id"], expect=1)
    assert doc["spans"][0]["operationName"] == "POST /invoice"


def test_tempo_metrics_answer_the_queries_grafana_traces_drilldown_sends(server):
    """TraceQL metrics through /api/metrics/query_range and /api/metrics/query, with the queries Grafana's Traces
    Drilldown sends (root spans' rate, errors, duration heatmap and quantiles, breakdowns, comparison), checked
    against the spans sent: in minute m of five, m + 1 traces of a `drill-web` root and a `drill-db` child."""
    base = (int(time.time()) - 900) // 60 * 60
    sent = []
    for m in range(5):
        roots, children = [], []
        for j in range(m + 1):
            trace_id = "%032x" % random.getrandbits(128)
            sent.append(trace_id)
            start = (base + m * 60 + j + 1) * NS
            roots.append(otlp_span(trace_id, "%016x" % 1, "GET /shop", start, start + (j + 1) * 10_000_000,
                                   attributes=[{"key": "attempt", "value": {"intValue": str(j)}}]))
            error = {"status": {"code": 2, "message": "timeout"}, "events": [{
                "timeUnixNano": str(start + 4_000_000), "name": "exception",
                "attributes": [{"key": "exception.message", "value": {"stringValue": "lock wait timeout"}}]}]} if j == 0 and m % 2 == 0 else {}
            children.append(otlp_span(trace_id, "%016x" % 2, "SELECT", start + 1_000_000, start + 5_000_000,
                                      parent="%016x" % 1, kind=3, **error))
        post_spans(server.url, "drill-web", roots)
        post_spans(server.url, "drill-db", children)
    window = {"start": str(base), "end": str(base + 300), "step": "60s"}
    ours = 'resource.service.name =~ "drill-.*"'

    def query_range(q: str, **extra) -> list[dict]:
        r = requests.get(server.url + "/api/metrics/query_range", params={"q": q, **window, **extra}, timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/json", r.text
        return r.json()["series"]

    def values(series: dict) -> list[float]:
        assert [int(s["timestampMs"]) for s in series["samples"]] == [(base + 60 * i) * 1000 for i in range(6)], series
        return [s.get("value", 0) for s in series["samples"]]

    by_service = f"{{{ours}}} | count_over_time() by (resource.service.name)"
    wait_until("all spans counted", lambda: [sum(s.get("value", 0) for s in x["samples"]) for x in query_range(by_service)] == [15, 15])
    counts = query_range(by_service)
    assert [c["labels"] for c in counts] == [[{"key": "resource.service.name", "value": {"stringValue": name}}]
                                             for name in ("drill-db", "drill-web")]
    assert values(counts[0]) == [0, 1, 2, 3, 4, 5]

    # The RED panel: the rate of root spans, no `by`, with the sampling hint the app adds.
    [rate] = query_range(f"{{nestedSetParent<0 && true && {ours}}} | rate()  with(sample=true)")
    assert rate["labels"] == [{"key": "__name__", "value": {"stringValue": "rate"}}]
    assert values(rate) == pytest.approx([0, 1 / 60, 2 / 60, 3 / 60, 4 / 60, 5 / 60])
    exemplar_ids = {e["labels"][0]["value"]["stringValue"].rjust(32, "0") for e in rate["exemplars"]}
    assert exemplar_ids and exemplar_ids <= set(sent), rate["exemplars"]
    assert all(e["labels"][0]["key"] == "trace:id" for e in rate["exemplars"])
    [errors] = query_range(f"{{{ours} && status = error}} | rate() by (resource.service.name)")
    assert values(errors) == pytest.approx([0, 1 / 60, 0, 1 / 60, 0, 1 / 60])

    # Duration heatmap: power-of-two buckets in seconds; 10 ms → 2^24 ns, 20 and 30 ms → 2^25, 40 and 50 ms → 2^26.
    heatmap = query_range(f"{{nestedSetParent<0 && {ours}}} | histogram_over_time(duration)")
    buckets = {s["labels"][0]["value"]["doubleValue"]: values(s) for s in heatmap}
    assert [s["labels"][0]["key"] for s in heatmap] == ["__bucket"] * 3
    assert buckets == {0.016777216: [0, 1, 1, 1, 1, 1], 0.033554432: [0, 0, 1, 2, 2, 2], 0.067108864: [0, 0, 0, 0, 1, 2]}

    # Breakdown by an integer attribute: typed labels; quantiles by `p`.
    attempts = query_range(f"{{{ours} && span.attempt != nil}} | count_over_time() by (span.attempt)")
    assert [s["labels"] for s in attempts][:2] == [[{"key": "span.attempt", "value": {"intValue": "0"}}],
                                                   [{"key": "span.attempt", "value": {"intValue": "1"}}]]
    # A Go duration as the step (Tempo reads those): the same answer as "60s".
    assert query_range(f"{{nestedSetParent<0 && true && {ours}}} | rate()", step="1.0m")[0]["samples"] == rate["samples"]
    quantiles = query_range(f"{{nestedSetParent<0 && {ours}}} | quantile_over_time(duration, 0.5, 0.9)")
    assert [s["labels"] for s in quantiles] == [[{"key": "p", "value": {"doubleValue": 0.5}}], [{"key": "p", "value": {"doubleValue": 0.9}}]]
    assert values(quantiles[1])[1] == pytest.approx(0.016777216)

    # Instant queries: one value per series over the whole range; the comparison tab's compare().
    instant = {"start": str(base), "end": str(base + 300)}
    r = requests.get(server.url + "/api/metrics/query", params={"q": f"{{{ours}}} | count_over_time()", **instant}, timeout=30)
    assert r.status_code == 200 and r.json()["series"] == [
        {"labels": [{"key": "__name__", "value": {"stringValue": "count_over_time"}}], "value": 30}], r.text
    r = requests.get(server.url + "/api/metrics/query", params={"q": f"{{{ours}}} | compare({{status = error}}, 10)", **instant}, timeout=30)
    compared = {(s["labels"][0]["value"]["stringValue"], s["labels"][1]["key"], json.dumps(s["labels"][1]["value"])): s["value"]
                for s in r.json()["series"]}
    assert compared[("selection", "resource.service.name", '{"stringValue": "drill-db"}')] == 3
    assert compared[("selection_total", "status", '{"stringValue": "nil"}')] == 3
    assert compared[("baseline", "resource.service.name", '{"stringValue": "drill-web"}')] == 15
    assert ("selection", "statusMessage", '{"stringValue": "timeout"}') in compared

    # The structure tab's search: a union structural operator, one spanset a trace, nested sets and the selected
    # fields keyed without their scope.
    roots = 'nestedSetParent<0 && true && resource.service.name="drill-web"'
    r = requests.get(server.url + "/api/search", timeout=30, params={
        "q": f"({{{roots}}} &>> {{ kind = client }}) || ({{{roots}}}) | select(status, resource.service.name, name, nestedSetParent, "
             "nestedSetLeft, nestedSetRight)", "limit": "200", "spss": "20", "start": str(base), "end": str(base + 300)})
    assert r.status_code == 200, r.text
    found = r.json()["traces"]
    assert len(found) == 15 and all(len(t["spanSets"]) == 1 for t in found)
    for hit in found:
        spans = {s["name"]: {a["key"]: a["value"] for a in s["attributes"]} for s in hit["spanSets"][0]["spans"]}
        assert set(spans) == {"GET /shop", "SELECT"}, hit
        assert spans["GET /shop"]["nestedSetLeft"] == {"intValue": "1"} and spans["GET /shop"]["nestedSetRight"] == {"intValue": "4"}
        assert spans["SELECT"]["nestedSetParent"] == {"intValue": "1"} and spans["SELECT"]["nestedSetLeft"] == {"intValue": "2"}
        assert spans["SELECT"]["service.name"] == {"stringValue": "drill-db"} and "status" in spans["SELECT"]

    # The exceptions tab: event attributes selected, keyed without their scope.
    r = requests.get(server.url + "/api/search", timeout=30, params={
        "q": f"{{{ours} && status = error}} | select(resource.service.name, event.exception.message) with(most_recent=true)",
        "limit": "400", "spss": "10", "start": str(base), "end": str(base + 300)})
    assert r.status_code == 200, r.text
    failed = [s for t in r.json()["traces"] for s in t["spanSets"][0]["spans"]]
    assert len(failed) == 3 and all({"key": "exception.message", "value": {"stringValue": "lock wait timeout"}} in s["attributes"]
                                    for s in failed), failed

    # Tag names by scope (events too) and tag values narrowed by the other filters (`q`), as Grafana asks for them.
    window_tags = {"start": str(base), "end": str(base + 300)}
    events = requests.get(server.url + "/api/v2/search/tags", params={"scope": "event", **window_tags}, timeout=30).json()
    assert events["scopes"] == [{"name": "event", "tags": ["exception.message"]}], events
    every = {s["name"]: s["tags"] for s in requests.get(server.url + "/api/v2/search/tags", params={"limit": "5000", **window_tags},
                                                         timeout=30).json()["scopes"]}
    assert "attempt" in every["span"] and "exception.message" in every["event"] and "event:name" in every["intrinsic"]
    values = requests.get(server.url + "/api/v2/search/tag/resource.service.name/values", timeout=30,
                          params={"q": "{ kind = client }", "tag": "resource.service.name", **window_tags}).json()["tagValues"]
    assert values == [{"type": "string", "value": "drill-db"}], values
    values = requests.get(server.url + "/api/v2/search/tag/event.exception.message/values", params=window_tags, timeout=30).json()
    assert values["tagValues"] == [{"type": "string", "value": "lock wait timeout"}], values

    # Bad input: plain-text 400s that say what is wrong.
    for params, message in [({"q": "{} | rate("}, "TraceQL"), ({"q": "{}"}, "not a metrics query"),
                            ({"q": "{} | rate()", "step": "1ms", "start": "0", "end": "100000"}, "step of 1ms is too small"),
                            ({"q": "{} | rate()", "start": "20", "end": "10"}, "end must be greater than start"),
                            ({"q": "{} | rate()", "step": "1e30"}, "invalid step parameter"),
                            ({"q": "{} | rate()", "start": "0", "end": "18446744073709551615"}, "end is out of range"),
                            ({}, "'q' is required")]:
        r = requests.get(server.url + "/api/metrics/query_range", params=params, timeout=30)
        assert r.status_code == 400 and message in r.text, (params, r.text)
    r = requests.get(server.url + "/api/search", params={"q": "{} | rate()"}, timeout=30)
    assert r.status_code == 400 and "/api/metrics/query_range" in r.text
