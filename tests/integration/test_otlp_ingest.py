"""End-to-end tests of OTLP ingest against the real `sightline` binary, driven by
the real OpenTelemetry Python SDK exporters (HTTP/protobuf and gRPC)."""

from __future__ import annotations

import collections
import gzip
import json
import threading
import time

import grpc
import pytest
import requests

from processes import assert_json_error
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

import http_raw
from otel_data import (
    COUNTER_PROM_NAME,
    SIGNALS,
    TRANSPORTS,
    Batch,
    LogBatchBuilder,
    builder_for,
    exact_identity,
    export,
    is_success,
    make_exporter,
    record_key,
    resource_attributes,
    server_key,
)

PROTOBUF = "application/x-protobuf"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def ids_for(signal: str, prefix: str, n: int) -> list[str]:
    """Unique identifiers carried by a batch: log bodies, span names, metric uids."""
    kind = {"logs": "rec", "traces": "span", "metrics": "pt"}[signal]
    return [f"{kind}-{prefix}-{i}" for i in range(n)]


def export_ok(srv, signal: str, transport: str, prefix: str, n: int = 5, token: str | None = None,
              gzip: bool = False) -> Batch:
    """Build one batch, export it through a fresh real exporter, assert SUCCESS."""
    builder = builder_for(signal, f"it-{signal}-{transport}")
    batch = builder.build(ids_for(signal, prefix, n), {"stream": f"{signal}-{transport}"})
    exporter = make_exporter(signal, transport, http_url=srv.url, grpc_endpoint=srv.grpc_endpoint,
                             token=token, gzip=gzip)
    try:
        result = export(exporter, signal, batch.payload)
    finally:
        exporter.shutdown()
    assert is_success(result), f"{signal}/{transport} export of {prefix} failed: {result}"
    return batch


def index(signal: str, records: list[dict]) -> dict[tuple, list[dict]]:
    by_key = collections.defaultdict(list)
    for rec in records:
        key = server_key(signal, rec)
        if key is not None:
            by_key[key].append(rec)
    return by_key


def assert_no_duplicates(signal: str, records: list[dict]) -> None:
    counts = collections.Counter(exact_identity(signal, r) for r in records)
    dups = {k: c for k, c in counts.items() if c > 1}
    assert not dups, f"{signal}: {len(dups)} records stored more than once, e.g. {list(dups.items())[:5]}"


def find_stored(signal: str, by_key: dict, expected) -> list[dict]:
    """The stored records matching one expected record (metrics also by timestamp)."""
    found = by_key.get(record_key(signal, expected), [])
    if signal == "metrics":
        found = [r for r in found if abs(int(r["timestampMs"]) - expected.timestamp_ms) <= 1]
    return found


def assert_batches_stored(srv, signal: str, batches: list[Batch], token: str | None = None) -> list[dict]:
    """Every record of every batch is stored exactly once; nothing is stored twice."""
    records = srv.records(signal, token=token)
    assert len(records) < 100_000, "debug query truncated; the test sent too much"
    assert_no_duplicates(signal, records)
    by_key = index(signal, records)
    missing, multiple = [], []
    for batch in batches:
        for e in batch.expected:
            found = find_stored(signal, by_key, e)
            if not found:
                missing.append(e)
            elif len(found) > 1:
                multiple.append((e, found))
            else:
                check_fields(signal, e, found[0])
    assert not missing, f"{signal}: {len(missing)} acknowledged records missing, e.g. {missing[:5]}"
    assert not multiple, f"{signal}: records stored more than once: {multiple[:3]}"
    return records


def check_fields(signal: str, e, rec: dict) -> None:
    if signal == "logs":
        assert int(rec["timeUnixNano"]) == e.time_unix_nano, rec
        assert rec["severityNumber"] == 9 and rec["severityText"] == "INFO", rec
        assert rec["attributes"].get("stream") == e.attributes["stream"], rec
    elif signal == "traces":
        assert rec["traceId"] == e.trace_id and rec["name"] == e.name, rec
        assert rec["attributes"].get("stream") == e.attributes["stream"], rec
    else:
        value = rec["value"]
        assert isinstance(value, (int, float)) and abs(value - e.value) < 1e-9, (e, rec)


def assert_otlp_error(r: requests.Response, status: int, grpc_code: grpc.StatusCode) -> None:
    """An error answer to an OTLP/HTTP protobuf request: either the JSON error shape, or (as the OTLP
    spec asks) a google.rpc.Status protobuf carrying the matching gRPC code and a message."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.content[:300]!r}"
    if r.headers.get("Content-Type", "").startswith("application/x-protobuf"):
        st = RpcStatus.FromString(r.content)
        assert st.code == grpc_code.value[0], f"google.rpc.Status code {st.code}, expected {grpc_code}: {st}"
        assert st.message, st
    else:
        assert_json_error(r, status)


def log_request_bytes(bodies: list[str], pad_bytes: int = 0) -> bytes:
    """A valid ExportLogsServiceRequest (protobuf) built from the OTLP proto classes."""
    now = time.time_ns()
    recs = []
    for b in bodies:
        attrs = [KeyValue(key="pad", value=AnyValue(string_value="x" * pad_bytes))] if pad_bytes else []
        recs.append(LogRecord(time_unix_nano=now, observed_time_unix_nano=now, severity_number=9,
                              severity_text="INFO", body=AnyValue(string_value=b), attributes=attrs))
    req = ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=recs)])])
    return req.SerializeToString()


def kv(key: str, **value) -> dict:
    return {"key": key, "value": value}


# ---------------------------------------------------------------------------
# 1. SIGKILL during ingest loses nothing acknowledged, duplicates nothing
# ---------------------------------------------------------------------------
class Sender(threading.Thread):
    """Exports batches in a loop through one real exporter until told to stop."""

    BATCH = 10
    MAX_BATCHES = 400  # bounds the loop whatever happens

    def __init__(self, signal: str, transport: str, srv, stop: threading.Event):
        super().__init__(name=f"sender-{signal}-{transport}", daemon=True)
        self.signal, self.transport = signal, transport
        self.tag = f"{signal}-{transport}"
        self.builder = builder_for(signal, f"it-{self.tag}")
        self.exporter = make_exporter(signal, transport, http_url=srv.url, grpc_endpoint=srv.grpc_endpoint)
        self.stop = stop
        self.acked: list[Batch] = []
        self.unacked: list[Batch] = []
        self.first_ack = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for n in range(self.MAX_BATCHES):
                if self.stop.is_set():
                    break
                batch = self.builder.build(ids_for(self.signal, f"{self.tag}-pre-{n}", self.BATCH),
                                           {"stream": self.tag})
                if is_success(export(self.exporter, self.signal, batch.payload)):
                    self.acked.append(batch)
                    self.first_ack.set()
                else:
                    self.unacked.append(batch)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.exporter.shutdown()


def test_sigkill_during_ingest_loses_nothing_acknowledged(sightline):
    srv = sightline("killed")
    srv.start()

    stop = threading.Event()
    senders = [Sender(sig, tr, srv, stop) for sig in SIGNALS for tr in TRANSPORTS]
    for s in senders:
        s.start()
    try:
        deadline = time.monotonic() + 30
        for s in senders:
            if not s.first_ack.wait(max(0.0, deadline - time.monotonic())):
                pytest.fail(f"{s.tag}: no export acknowledged within 30 s "
                            f"(error: {s.error!r}, {len(s.unacked)} failed batches)")
        time.sleep(1.5)  # ingest at full speed for a while, then pull the plug mid-stream
        assert srv.running, "server died during ingest"
        rc = srv.kill9()
    finally:
        stop.set()
        for s in senders:
            s.join(timeout=60)
    assert rc == -9, f"server was not running when killed (exit code {rc})"
    assert not any(s.is_alive() for s in senders), "a sender thread hung"
    for s in senders:
        assert s.error is None, f"{s.tag} raised {s.error!r}"
    stats = {s.tag: (len(s.acked), len(s.unacked)) for s in senders}
    print("batches (acked, not acked) per stream before SIGKILL:", stats)

    # Every sender has finished (no client retry can land after the restart).
    srv.start()
    post = {}
    for sig in SIGNALS:
        for tr in TRANSPORTS:
            post[(sig, tr)] = [export_ok(srv, sig, tr, f"{sig}-{tr}-post-{n}") for n in range(2)]

    for sig in SIGNALS:
        acked = [b for s in senders if s.signal == sig for b in s.acked]
        acked += [b for tr in TRANSPORTS for b in post[(sig, tr)]]
        records = assert_batches_stored(srv, sig, acked)
        # Unacknowledged records may be there or not, but at most once (checked
        # for every stored record by assert_no_duplicates); and nothing we did
        # not send shows up.
        sent = {k for s in senders if s.signal == sig for b in s.acked + s.unacked for k in b.keys()}
        sent |= {k for tr in TRANSPORTS for b in post[(sig, tr)] for k in b.keys()}
        unknown = [r for r in records if server_key(sig, r) is not None and server_key(sig, r) not in sent]
        assert not unknown, f"{sig}: records that were never sent: {unknown[:3]}"


# ---------------------------------------------------------------------------
# 2. SIGTERM: graceful shutdown, exit 0, data kept
# ---------------------------------------------------------------------------
def test_sigterm_graceful_shutdown_exits_zero(sightline):
    srv = sightline("graceful")
    srv.start()
    r = requests.get(srv.url + "/-/healthy", timeout=5)
    assert r.status_code == 200, r.text
    batches = {sig: [export_ok(srv, sig, tr, f"term-{sig}-{tr}") for tr in TRANSPORTS] for sig in SIGNALS}

    t0 = time.monotonic()
    rc = srv.stop_sigterm(timeout=30)
    assert rc == 0, f"exit code {rc} after SIGTERM\n{srv.current_log()}"
    print(f"SIGTERM -> exit 0 in {time.monotonic() - t0:.2f}s")

    srv.start()
    for sig in SIGNALS:
        assert_batches_stored(srv, sig, batches[sig])
    assert srv.stop_sigterm(timeout=30) == 0


# ---------------------------------------------------------------------------
# 3. OTLP/JSON (hex ids) and gzip-compressed protobuf
# ---------------------------------------------------------------------------
TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"
PARENT_ID = "051581bf3cb55c13"
LINK_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
LINK_SPAN_ID = "b7ad6b7169203331"


def test_otlp_http_json_and_gzip(server):
    srv = server
    now = time.time_ns() - 10_000_000_000
    resource = {"attributes": [kv("service.name", stringValue="json-svc"),
                               kv("service.instance.id", stringValue="inst-1")]}

    # --- logs, OTLP/JSON ------------------------------------------------------
    logs_doc = {"resourceLogs": [{
        "resource": resource,
        "scopeLogs": [{
            "scope": {"name": "json-scope", "version": "2.0"},
            "logRecords": [
                {
                    "timeUnixNano": str(now + i * 1_000_000),
                    "observedTimeUnixNano": str(now + i * 1_000_000 + 5),
                    "severityNumber": 9,
                    "severityText": "INFO",
                    "body": {"stringValue": f"json-rec-{i}"},
                    "attributes": [kv("k", stringValue="v"), kv("n", intValue="42"),
                                   kv("ok", boolValue=True), kv("ratio", doubleValue=0.5)],
                    "traceId": TRACE_ID,
                    "spanId": SPAN_ID,
                }
                for i in range(3)
            ],
        }],
    }]}
    r = requests.post(srv.url + "/v1/logs", data=json.dumps(logs_doc),
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200, f"OTLP/JSON logs: HTTP {r.status_code}: {r.text[:500]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers

    # --- logs, gzip'd OTLP/JSON by hand ---------------------------------------
    gz_doc = json.loads(json.dumps(logs_doc))
    recs = gz_doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    del recs[1:]
    recs[0]["body"] = {"stringValue": "json-gzip-rec"}
    recs[0]["timeUnixNano"] = str(now + 3_000_000)
    r = requests.post(srv.url + "/v1/logs", data=gzip.compress(json.dumps(gz_doc).encode()),
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 200, f"gzip OTLP/JSON logs: HTTP {r.status_code}: {r.text[:500]}"

    # --- logs, gzip'd protobuf from the SDK exporter ----------------------------
    gz_batch = export_ok(srv, "logs", "http", "gzip", n=4, gzip=True)

    # --- traces, OTLP/JSON ------------------------------------------------------
    traces_doc = {"resourceSpans": [{
        "resource": resource,
        "scopeSpans": [{
            "scope": {"name": "json-scope", "version": "2.0"},
            "spans": [{
                "traceId": TRACE_ID,
                "spanId": SPAN_ID,
                "parentSpanId": PARENT_ID,
                "name": "json-span",
                "kind": 2,
                "startTimeUnixNano": str(now),
                "endTimeUnixNano": str(now + 1_500_000),
                "attributes": [kv("http.route", stringValue="/x"), kv("retries", intValue="3")],
                "events": [{"timeUnixNano": str(now + 1000), "name": "ev-1",
                            "attributes": [kv("e", stringValue="f")]}],
                "links": [{"traceId": LINK_TRACE_ID, "spanId": LINK_SPAN_ID,
                           "attributes": [kv("l", stringValue="m")]}],
                "status": {"code": 2, "message": "boom"},
            }],
        }],
    }]}
    r = requests.post(srv.url + "/v1/traces", json=traces_doc, timeout=30)
    assert r.status_code == 200, f"OTLP/JSON traces: HTTP {r.status_code}: {r.text[:500]}"

    # --- metrics, OTLP/JSON -----------------------------------------------------
    metrics_doc = {"resourceMetrics": [{
        "resource": resource,
        "scopeMetrics": [{
            "scope": {"name": "json-scope"},
            "metrics": [
                {"name": "json_gauge", "gauge": {"dataPoints": [
                    {"timeUnixNano": str(now), "asDouble": 1.25, "attributes": [kv("host", stringValue="h1")]}]}},
                {"name": "json_requests", "sum": {
                    "aggregationTemporality": 2, "isMonotonic": True,
                    "dataPoints": [{"startTimeUnixNano": str(now - 60_000_000_000), "timeUnixNano": str(now),
                                    "asInt": "7", "attributes": [kv("host", stringValue="h1")]}]}},
            ],
        }],
    }]}
    r = requests.post(srv.url + "/v1/metrics", json=metrics_doc, timeout=30)
    assert r.status_code == 200, f"OTLP/JSON metrics: HTTP {r.status_code}: {r.text[:500]}"

    # --- read back --------------------------------------------------------------
    logs = srv.records("logs")
    by_body = {rec["body"]: rec for rec in logs if isinstance(rec.get("body"), str)}
    for i in range(3):
        rec = by_body.get(f"json-rec-{i}")
        assert rec is not None, f"json-rec-{i} not stored; have {sorted(by_body)[:10]}"
        assert rec["timeUnixNano"] == str(now + i * 1_000_000), rec
        assert rec["observedTimeUnixNano"] == str(now + i * 1_000_000 + 5), rec
        assert rec["severityNumber"] == 9 and rec["severityText"] == "INFO", rec
        assert rec["traceId"] == TRACE_ID and rec["spanId"] == SPAN_ID, rec
        assert rec["attributes"] == {"k": "v", "n": 42, "ok": True, "ratio": 0.5}, rec
        assert resource_attributes(rec).get("service.name") == "json-svc", rec
        assert rec["scope"].get("name") == "json-scope" and rec["scope"].get("version") == "2.0", rec
    assert "json-gzip-rec" in by_body
    for e in gz_batch.expected:
        rec = by_body.get(e.body)
        assert rec is not None, f"{e.body} (gzip protobuf) not stored"
        assert "traceId" not in rec and "spanId" not in rec, f"ids present though never set: {rec}"
    assert len(logs) == 3 + 1 + 4, f"unexpected log count {len(logs)}: {[r.get('body') for r in logs]}"
    # newest first, and `limit` honoured
    times = [int(rec["timeUnixNano"]) for rec in logs]
    assert times == sorted(times, reverse=True), f"logs not newest-first: {times}"
    top2 = srv.records("logs", limit=2)
    assert [rec["body"] for rec in top2] == [rec["body"] for rec in logs[:2]], top2

    spans = srv.records("traces")
    assert len(spans) == 1, spans
    sp = spans[0]
    assert sp["traceId"] == TRACE_ID and sp["spanId"] == SPAN_ID and sp["parentSpanId"] == PARENT_ID, sp
    assert sp["name"] == "json-span" and sp["kind"] == 2, sp
    assert sp["startTimeUnixNano"] == str(now) and sp["endTimeUnixNano"] == str(now + 1_500_000), sp
    assert sp["attributes"] == {"http.route": "/x", "retries": 3}, sp
    assert sp["status"]["code"] == 2 and sp["status"].get("message") == "boom", sp
    assert [(ev["name"], ev["attributes"], ev["timeUnixNano"]) for ev in sp["events"]] == \
        [("ev-1", {"e": "f"}, str(now + 1000))], sp
    assert [(ln["traceId"], ln["spanId"], ln["attributes"]) for ln in sp["links"]] == \
        [(LINK_TRACE_ID, LINK_SPAN_ID, {"l": "m"})], sp
    assert resource_attributes(sp).get("service.name") == "json-svc", sp
    assert sp["scope"].get("name") == "json-scope", sp

    samples = [m for m in srv.records("metrics") if m["labels"].get("__name__") != "target_info"]
    by_name = {m["labels"]["__name__"]: m for m in samples if m["timestampMs"] == now // 1_000_000}
    gauge, total = by_name.get("json_gauge"), by_name.get("json_requests_total")
    assert gauge is not None and total is not None, f"json metrics not stored as expected: {samples}"
    for m in (gauge, total):
        assert m["labels"].get("job") == "json-svc", m
        assert m["labels"].get("instance") == "inst-1", m
        assert m["labels"].get("host") == "h1", m
    assert gauge["value"] == 1.25 and total["value"] == 7, (gauge, total)


def test_info_joins_the_sdk_resource_onto_series(sightline):
    """OTLP resources become target_info; PromQL's info() (behind Prometheus' feature flag, as there) puts their
    attributes back onto the series that share job and instance."""
    srv = sightline("info", config={"query": {"enable_features": ["promql-experimental-functions"]}}).start()
    batch = export_ok(srv, "metrics", "http", "info", n=2)
    at = max(e.timestamp_ms for e in batch.expected) / 1000

    def query(server, expr):
        return requests.get(server.url + "/api/v1/query", params={"query": expr, "time": at}, timeout=30)

    r = query(srv, f"info({COUNTER_PROM_NAME})")
    assert r.status_code == 200, r.text
    result = r.json()["data"]["result"]
    assert sorted(s["metric"]["uid"] for s in result) == ["pt-info-0", "pt-info-1"], result
    for series in result:
        metric = series["metric"]
        assert metric["job"] == "it-metrics-http", metric
        assert metric["telemetry_sdk_language"] == "python" and metric["telemetry_sdk_name"] == "opentelemetry", metric
    # Only the labels the selector names; a selector no target_info satisfies drops the series.
    r = query(srv, f'info({COUNTER_PROM_NAME}, {{telemetry_sdk_language=~".+"}})')
    assert [sorted(s["metric"]) for s in r.json()["data"]["result"]] == \
        [["__name__", "instance", "job", "stream", "telemetry_sdk_language", "uid"]] * 2, r.text
    assert query(srv, f'info({COUNTER_PROM_NAME}, {{no_such_label=~".+"}})').json()["data"]["result"] == []

    flags = requests.get(srv.url + "/api/v1/status/flags", timeout=30).json()["data"]
    assert flags["enable-feature"] == "promql-experimental-functions", flags

    # Without the flag the function is refused, as Prometheus refuses it.
    plain = sightline("no-info").start()
    r = query(plain, f"info({COUNTER_PROM_NAME})")
    assert r.status_code == 400 and 'function "info" is not enabled' in r.json()["error"], r.text


def test_promoted_resource_attributes_label_every_series(sightline):
    """`otlp.promote_resource_attributes`, as in Prometheus' configuration: the SDK's resource attributes named there
    become labels of its series (sanitised as label names); the others stay in target_info only."""
    srv = sightline("promote", config={"otlp": {"promote_resource_attributes": ["telemetry.sdk.language", "service.name"]}}).start()
    batch = export_ok(srv, "metrics", "http", "promote", n=1)
    at = max(e.timestamp_ms for e in batch.expected) / 1000
    r = requests.get(srv.url + "/api/v1/query", params={"query": COUNTER_PROM_NAME, "time": at}, timeout=30)
    assert r.status_code == 200, r.text
    result = r.json()["data"]["result"]
    assert result and all(s["metric"]["telemetry_sdk_language"] == "python" for s in result), result
    assert all(s["metric"]["service_name"] == s["metric"]["job"] for s in result), result
    assert all("telemetry_sdk_name" not in s["metric"] for s in result), result
    info = requests.get(srv.url + "/api/v1/query", params={"query": "target_info", "time": at}, timeout=30).json()["data"]["result"]
    assert info and info[0]["metric"]["telemetry_sdk_name"] == "opentelemetry", info


def test_translation_strategy_keeps_utf8_names_as_prometheus_3(sightline):
    """`otlp.translation_strategy: NoUTF8EscapingWithSuffixes`, as in Prometheus 3: the SDK's metric and attribute names
    keep their dots (suffixes still added) and are queried with PromQL's quoted names."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
    from opentelemetry.sdk.resources import Resource

    srv = sightline("utf8-names", config={"otlp": {"translation_strategy": "NoUTF8EscapingWithSuffixes",
                                                   "promote_resource_attributes": ["deployment.environment"]}}).start()
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=Resource.create({"service.name": "shop", "deployment.environment": "prod"}),
                             metric_readers=[reader])
    meter = provider.get_meter("utf8-names")
    meter.create_counter("shop.orders", unit="{order}").add(3, {"http.request.method": "GET"})
    meter.create_histogram("http.server.request.duration", unit="s").record(0.2, {"http.request.method": "GET"})
    exporter = OTLPMetricExporter(endpoint=srv.url + "/v1/metrics", timeout=30)
    try:
        assert exporter.export(reader.get_metrics_data()) == MetricExportResult.SUCCESS
    finally:
        exporter.shutdown()
        provider.shutdown()

    def query(expr: str) -> list:
        r = requests.get(srv.url + "/api/v1/query", params={"query": expr}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["data"]["result"]

    orders = query('{"shop.orders_total", "http.request.method"="GET"}')
    for s in orders:
        s["metric"].pop("instance", None)  # the SDK's service.instance.id
    assert [(s["metric"], s["value"][1]) for s in orders] == [
        ({"__name__": "shop.orders_total", "http.request.method": "GET", "deployment.environment": "prod", "job": "shop"}, "3")], orders
    count = query('{"http.server.request.duration_seconds_count"}')
    assert [s["value"][1] for s in count] == ["1"], count
    labels = requests.get(srv.url + "/api/v1/labels", timeout=30).json()["data"]
    assert "http.request.method" in labels and "http_request_method" not in labels, labels


def test_the_otlp_paths_of_loki_mimir_prometheus_and_victoriametrics_work_too(server):
    """Collectors and SDKs configured for another backend's OTLP path (Loki's and Mimir's /otlp, Prometheus'
    /api/v1/otlp, VictoriaMetrics' /opentelemetry) export to Sightline unchanged."""
    from otel_data import HttpLogExporter, HttpMetricExporter, HttpSpanExporter
    classes = {"logs": HttpLogExporter, "traces": HttpSpanExporter, "metrics": HttpMetricExporter}
    routes = [("logs", "/otlp/v1/logs"), ("traces", "/otlp/v1/traces"), ("metrics", "/otlp/v1/metrics"),
              ("metrics", "/api/v1/otlp/v1/metrics"), ("metrics", "/opentelemetry/v1/metrics")]
    sent = collections.defaultdict(list)
    for n, (signal, path) in enumerate(routes):
        batch = builder_for(signal, f"it-{signal}-alias").build(ids_for(signal, f"alias{n}", 3), {"stream": path})
        exporter = classes[signal](endpoint=server.url + path, timeout=30)
        try:
            assert is_success(export(exporter, signal, batch.payload)), (signal, path)
        finally:
            exporter.shutdown()
        sent[signal].append(batch)
    for signal, batches in sent.items():
        assert_batches_stored(server, signal, batches)
    # Other signals are not taken under the metrics-only paths.
    r = requests.post(server.url + "/api/v1/otlp/v1/logs", data=b"", headers={"Content-Type": PROTOBUF}, timeout=10)
    assert r.status_code == 404, r.text


def instant_query(srv, expr: str) -> list:
    """The result of a PromQL instant query at the current time."""
    r = requests.get(srv.url + "/api/v1/query", params={"query": expr}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["data"]["result"]


def single_value(srv, expr: str) -> float:
    """The value of a PromQL query that gives exactly one series."""
    result = instant_query(srv, expr)
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


def test_delta_temporality_is_stored_as_running_totals(sightline):
    """SDKs configured for delta temporality (counters, up-down counters, histograms) send what changed since their
    last export; Sightline stores the running totals, as Prometheus' delta-to-cumulative feature does, so the series
    read like cumulative ones. After a restart the totals go on from the stored values."""
    from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
    from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from otel_data import GrpcMetricExporter, HttpMetricExporter

    delta = {kind: AggregationTemporality.DELTA for kind in (Counter, UpDownCounter, Histogram)}
    srv = sightline("delta").start()

    def provider(transport: str):
        if transport == "http":
            exporter = HttpMetricExporter(endpoint=f"{srv.url}/v1/metrics", preferred_temporality=delta, timeout=30)
        else:
            exporter = GrpcMetricExporter(endpoint=srv.grpc_endpoint, insecure=True, preferred_temporality=delta, timeout=30)
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
        resource = Resource.create({"service.name": f"delta-{transport}"})
        return MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)

    def flush(p):
        assert p.force_flush(timeout_millis=30_000)
        time.sleep(0.02)  # the next export's points are in a later millisecond

    def instant(expr: str) -> list:
        return instant_query(srv, expr)

    def value(expr: str) -> float:
        return single_value(srv, expr)

    for transport in ("http", "grpc"):
        p = provider(transport)
        meter = p.get_meter("delta-test")
        jobs = meter.create_counter("jobs.done")
        depth = meter.create_up_down_counter("queue.depth")
        duration = meter.create_histogram("job.duration", unit="s")
        jobs.add(5, {"queue": "q1"})
        depth.add(4)
        duration.record(0.2)
        duration.record(3.0)
        flush(p)
        jobs.add(3, {"queue": "q1"})
        depth.add(-1)
        duration.record(7.5)
        flush(p)
        jobs.add(2, {"queue": "q1"})
        flush(p)
        p.shutdown()

        job = f'job="delta-{transport}"'
        raw = instant(f'jobs_done_total{{{job}, queue="q1"}}[1h]')
        assert [float(v) for _, v in raw[0]["values"]] == [5, 8, 10], raw
        assert value(f"queue_depth{{{job}}}") == 3
        assert value(f"job_duration_seconds_count{{{job}}}") == 3
        assert abs(value(f"job_duration_seconds_sum{{{job}}}") - 10.7) < 1e-9
        assert value(f'job_duration_seconds_bucket{{{job}, le="5"}}') == 2
        assert value(f'job_duration_seconds_bucket{{{job}, le="10"}}') == 3
        assert value(f'job_duration_seconds_bucket{{{job}, le="+Inf"}}') == 3

    metadata = requests.get(srv.url + "/api/v1/metadata", timeout=30).json()["data"]
    assert metadata["jobs_done_total"][0]["type"] == "counter", metadata
    assert metadata["queue_depth"][0]["type"] == "gauge", metadata
    assert metadata["job_duration_seconds"][0]["type"] == "histogram", metadata

    # A restart forgets the totals; the first point after it goes on from the stored value (a new SDK process, too).
    assert srv.stop_sigterm(timeout=30) == 0
    srv.start()
    p = provider("http")
    p.get_meter("delta-test").create_counter("jobs.done").add(4, {"queue": "q1"})
    flush(p)
    p.shutdown()
    assert value('jobs_done_total{job="delta-http", queue="q1"}') == 14


@pytest.mark.parametrize("temporality", ["cumulative", "delta"])
def test_exponential_histograms_are_stored_as_classic_buckets(sightline, temporality):
    """SDKs configured for exponential (base-2) histograms send buckets whose bounds follow the observations; they are
    stored as `_bucket{le}` series on a fixed grid (8 per power of two), so histogram_quantile reads them and an `le`
    keeps its text across exports. Sent with delta temporality, each export holds only its own observations (in
    buckets at its own scale); the totals are kept per exponential bucket and stored as the same cumulative series."""
    import math
    from opentelemetry.sdk.metrics import Histogram, MeterProvider
    from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
    from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
    from opentelemetry.sdk.resources import Resource
    from otel_data import GrpcMetricExporter, HttpMetricExporter

    srv = sightline(f"exponential-{temporality}").start()
    preferred = {Histogram: AggregationTemporality.DELTA} if temporality == "delta" else {}

    def instant(expr: str) -> list:
        return instant_query(srv, expr)

    def value(expr: str) -> float:
        return single_value(srv, expr)

    first = [0.002 * 1.05 ** i for i in range(150)]  # 2 ms to about 2.9 s
    second = [0.05 * i for i in range(1, 101)]  # 50 ms to 5 s
    for transport in ("http", "grpc"):
        if transport == "http":
            exporter = HttpMetricExporter(endpoint=f"{srv.url}/v1/metrics", preferred_temporality=preferred, timeout=30)
        else:
            exporter = GrpcMetricExporter(endpoint=srv.grpc_endpoint, insecure=True, preferred_temporality=preferred, timeout=30)
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
        view = View(instrument_name="request.latency", aggregation=ExponentialBucketHistogramAggregation())
        p = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": f"exp-{transport}"}),
                          views=[view], shutdown_on_exit=False)
        latency = p.get_meter("exp-test").create_histogram("request.latency", unit="s")
        job = f'job="exp-{transport}", route="/a"'
        observed = []
        for values in (first, second):
            for v in values:
                latency.record(v, {"route": "/a"})
            observed += values
            assert p.force_flush(timeout_millis=30_000)
            time.sleep(0.02)
            assert value(f"request_latency_seconds_count{{{job}}}") == len(observed)
            assert abs(value(f"request_latency_seconds_sum{{{job}}}") - sum(observed)) < 1e-6
            assert value(f'request_latency_seconds_bucket{{{job}, le="+Inf"}}') == len(observed)
            ordered = sorted(observed)
            for q in (0.5, 0.9, 0.99):
                estimate = value(f"histogram_quantile({q}, request_latency_seconds_bucket{{{job}}})")
                exact = ordered[math.ceil(q * len(ordered)) - 1]
                assert abs(estimate - exact) <= 0.1 * exact, (transport, q, estimate, exact)
        p.shutdown()

        buckets = instant(f"request_latency_seconds_bucket{{{job}}}")
        cumulative = sorted((float(s["metric"]["le"]), float(s["value"][1])) for s in buckets)
        assert len(cumulative) > 50, cumulative
        assert [c for _, c in cumulative] == sorted(c for _, c in cumulative), cumulative
        for bound, _ in cumulative[:-1]:  # every finite bound is 2^(k/8)
            k = math.log2(bound) * 8
            assert abs(k - round(k)) < 1e-9, bound
    metadata = requests.get(srv.url + "/api/v1/metadata", timeout=30).json()["data"]
    assert metadata["request_latency_seconds"][0]["type"] == "histogram", metadata


# ---------------------------------------------------------------------------
# 4. Bad input: 400 / 415 / 413, and nothing of it stored
# ---------------------------------------------------------------------------
DECODE_WORDS = ("protobuf", "proto", "decode", "parse", "invalid", "malformed", "truncat", "unexpected",
                "json")


def test_bad_input(sightline):
    srv = sightline("badinput", config={"limits": {"max_body_bytes": 1_048_576}}).start()

    # malformed protobuf: a valid request with its tail cut off
    good = encode_logs(LogBatchBuilder("bad-svc").build([f"bad-proto-{i}" for i in range(3)]).payload)
    truncated = good.SerializeToString()[:-3]
    with pytest.raises(DecodeError):
        ExportLogsServiceRequest.FromString(truncated)  # the premise: it really is malformed
    for path in ("/v1/logs", "/v1/traces", "/v1/metrics"):
        body = truncated if path == "/v1/logs" else b"\x0a\x64garbage"  # length 100, 7 bytes follow
        r = requests.post(srv.url + path, data=body, headers={"Content-Type": PROTOBUF}, timeout=30)
        assert r.status_code == 400, f"{path} malformed protobuf: HTTP {r.status_code}: {r.text[:300]}"
        text = r.content.decode("utf-8", "replace").lower()
        assert any(w in text for w in DECODE_WORDS), f"{path}: 400 body does not say what is wrong: {text!r}"

    # malformed JSON
    r = requests.post(srv.url + "/v1/logs", data='{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": ',
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400, f"malformed JSON: HTTP {r.status_code}: {r.text[:300]}"
    assert r.text.strip(), "400 without a message"

    # unknown content type (the bytes are a valid protobuf request)
    r = requests.post(srv.url + "/v1/logs", data=log_request_bytes(["bad-ctype-0"]),
                      headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 415, f"text/plain: HTTP {r.status_code}: {r.text[:300]}"

    # over-size: 20 MiB of valid protobuf, with Content-Length and chunked
    big = log_request_bytes([f"oversize-{i}" for i in range(20)], pad_bytes=1024 * 1024)
    assert len(big) > 20 * 1024 * 1024
    for chunked in (False, True):
        resp = http_raw.post("127.0.0.1", srv.http_port, "/v1/logs", big, {"Content-Type": PROTOBUF},
                             chunked=chunked)
        assert resp.status == 413, (f"20 MiB body (chunked={chunked}): status {resp.status}, "
                                    f"sent {resp.sent_bytes} bytes, {resp.note}, body {resp.body[:300]!r}")

    # the server is still fine, and none of the rejected records were stored
    assert requests.get(srv.url + "/-/ready", timeout=5).status_code == 200
    r = requests.post(srv.url + "/v1/logs", data=log_request_bytes(["good-after-bad"]),
                      headers={"Content-Type": PROTOBUF}, timeout=30)
    assert r.status_code == 200, r.text
    bodies = [rec.get("body") for rec in srv.records("logs")]
    assert bodies == ["good-after-bad"], f"rejected records were stored: {bodies[:10]}"
    for sig in ("traces", "metrics"):
        stored = [rec for rec in srv.records(sig) if rec.get("labels", {}).get("__name__") != "target_info"]
        assert stored == [], f"{sig}: {stored[:3]}"


# ---------------------------------------------------------------------------
# 5. Auth and tenant isolation
# ---------------------------------------------------------------------------
ACME, GLOBEX, ACME_RO, GLOBEX_WO = "tok-acme-9f2c", "tok-globex-71ab", "tok-acme-ro-55d0", "tok-globex-wo-0c1e"


def test_auth_and_tenant_isolation(sightline):
    srv = sightline("auth", config={"auth": {"tokens": [
        {"token": ACME, "tenant": "acme", "roles": ["ingest", "query"]},
        {"token": GLOBEX, "tenant": "globex", "roles": ["ingest", "query"]},
        {"token": ACME_RO, "tenant": "acme", "roles": ["query"]},
        {"token": GLOBEX_WO, "tenant": "globex", "roles": ["ingest"]},
    ]}}).start()

    # Ingest through the real exporters, each tenant on both transports.
    acme = [export_ok(srv, "logs", tr, f"acme-{tr}", n=3, token=ACME) for tr in TRANSPORTS]
    globex = [export_ok(srv, "logs", tr, f"globex-{tr}", n=3, token=GLOBEX) for tr in TRANSPORTS]
    globex.append(export_ok(srv, "logs", "http", "globex-wo", n=2, token=GLOBEX_WO))
    acme_spans = [export_ok(srv, "traces", "grpc", "acme-span", n=2, token=ACME)]

    acme_bodies = {e.body for b in acme for e in b.expected}
    globex_bodies = {e.body for b in globex for e in b.expected}

    # Each tenant sees exactly its own records.
    for token in (ACME, ACME_RO):
        seen = {rec["body"] for rec in srv.records("logs", token=token)}
        assert seen == acme_bodies, f"acme ({token}) sees {sorted(seen)}"
    seen = {rec["body"] for rec in srv.records("logs", token=GLOBEX)}
    assert seen == globex_bodies, f"globex sees {sorted(seen)}"
    assert {rec["spanId"] for rec in srv.records("traces", token=ACME)} == \
        {e.span_id for e in acme_spans[0].expected}
    assert srv.records("traces", token=GLOBEX) == []

    # HTTP: 401 without / with an unknown token, 403 without the role. A JSON request gets
    # the JSON error body; a protobuf one that or a google.rpc.Status (OTLP spec).
    rejected = log_request_bytes(["rejected-0"])
    post = lambda headers: requests.post(  # noqa: E731
        srv.url + "/v1/logs", data=rejected, headers={"Content-Type": PROTOBUF, **headers}, timeout=30)
    assert_otlp_error(post({}), 401, grpc.StatusCode.UNAUTHENTICATED)
    assert_otlp_error(post({"Authorization": "Bearer not-a-token"}), 401, grpc.StatusCode.UNAUTHENTICATED)
    assert_otlp_error(post({"Authorization": f"Bearer {ACME_RO}"}), 403, grpc.StatusCode.PERMISSION_DENIED)
    rejected_json = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": str(time.time_ns()), "body": {"stringValue": "rejected-json-0"}}]}]}]})
    post_json = lambda headers: requests.post(  # noqa: E731
        srv.url + "/v1/logs", data=rejected_json, headers={"Content-Type": "application/json", **headers},
        timeout=30)
    assert_json_error(post_json({}), 401)
    assert_json_error(post_json({"Authorization": "Bearer not-a-token"}), 401)
    assert_json_error(post_json({"Authorization": f"Bearer {ACME_RO}"}), 403)
    q = lambda headers: requests.get(  # noqa: E731
        srv.url + "/api/v1/debug/records", params={"signal": "logs", "limit": "10"}, headers=headers, timeout=30)
    assert_json_error(q({}), 401)
    assert_json_error(q({"Authorization": "Bearer not-a-token"}), 401)
    assert_json_error(q({"Authorization": f"Bearer {GLOBEX_WO}"}), 403)

    # The real exporter with a query-only token fails.
    exporter = make_exporter("logs", "http", http_url=srv.url, token=ACME_RO)
    try:
        batch = LogBatchBuilder("it-ro").build(["rejected-ro-0"])
        assert not is_success(export(exporter, "logs", batch.payload))
    finally:
        exporter.shutdown()

    # gRPC: UNAUTHENTICATED without / with an unknown token, PERMISSION_DENIED without the role.
    req = ExportLogsServiceRequest.FromString(log_request_bytes(["rejected-grpc-0"]))
    with grpc.insecure_channel(srv.grpc_address) as channel:
        stub = LogsServiceStub(channel)
        for metadata, code in (((), grpc.StatusCode.UNAUTHENTICATED),
                               ((("authorization", "Bearer not-a-token"),), grpc.StatusCode.UNAUTHENTICATED),
                               ((("authorization", f"Bearer {ACME_RO}"),), grpc.StatusCode.PERMISSION_DENIED)):
            with pytest.raises(grpc.RpcError) as err:
                stub.Export(req, metadata=metadata, timeout=10)
            assert err.value.code() == code, f"metadata {metadata}: {err.value.code()} {err.value.details()}"
        stub.Export(req, metadata=(("authorization", f"Bearer {GLOBEX}"),), timeout=10)  # and OK with one
    globex_bodies.add("rejected-grpc-0")

    # Nothing rejected was stored, for anyone.
    assert {rec["body"] for rec in srv.records("logs", token=ACME)} == acme_bodies
    assert {rec["body"] for rec in srv.records("logs", token=GLOBEX)} == globex_bodies
