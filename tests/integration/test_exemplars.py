"""End-to-end tests of exemplars against the real `sightline` binary: what links a metric sample to the trace that
produced it.

- A real Prometheus (Debian's 2.42, `--enable-feature=exemplar-storage`) scrapes a prometheus_client exporter that
  attaches trace ids to a counter and a histogram, and remote-writes them to Sightline with `send_exemplars`;
  Sightline scrapes the same exporter itself (OpenMetrics). Sightline's `/api/v1/query_exemplars` must answer for the
  remote-written series exactly what Prometheus answers, and its own scrape must keep each exemplar on its bucket.
- The OpenTelemetry Python SDK records a histogram and a counter inside spans (its trace-based exemplar filter) and
  exports metrics and spans over OTLP/HTTP: the exemplars carry the span's trace and span ids, on the bucket holding
  the value, and the trace they name can be fetched by that id.
- Exemplars sent through the OpenMetrics import and remote write 2.0 survive a SIGKILL exactly once; the classic text
  format stores none; an out-of-order exemplar is dropped; bad queries get Prometheus' 400 bad_data answers.

Everything listens on free loopback ports; the third-party processes are stopped through their own handles.
"""

from __future__ import annotations

import struct
import time
import uuid

import pytest
import requests

from conftest import free_ports, wait_until
from metrics_peers import Prometheus, _key, _len_delimited, _varint, label_key, parse_exposition, snappy_block
from processes import assert_json_error
from test_metrics_ingest import now_ms, peers, scrape_job  # noqa: F401 - peers is a fixture
from test_traces import jaeger_trace, same_id

OPENMETRICS = {"Content-Type": "application/openmetrics-text; version=1.0.0; charset=utf-8"}
CLASSIC_TEXT = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
RW2_HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
               "X-Prometheus-Remote-Write-Version": "2.0.0"}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def query_exemplars(url: str, query: str, start: float, end: float, method: str = "GET") -> list[dict]:
    """`/api/v1/query_exemplars` (start/end in seconds); asserts success and returns `data` (Prometheus answers
    `null` rather than `[]` in some cases: both read as no exemplars)."""
    params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}"}
    if method == "GET":
        r = requests.get(url + "/api/v1/query_exemplars", params=params, timeout=30)
    else:
        r = requests.post(url + "/api/v1/query_exemplars", data=params, timeout=30)
    assert r.status_code == 200, f"{url} query_exemplars {query!r}: HTTP {r.status_code}: {r.text[:300]}"
    doc = r.json()
    assert doc.get("status") == "success", doc
    return doc["data"] or []


def normalized(data: list[dict]) -> list[tuple]:
    """An answer in a comparable form, order kept: [(series labels, [(exemplar labels, value text, timestamp ms)])]."""
    out = []
    for series in data:
        exemplars = []
        for e in series["exemplars"]:
            assert isinstance(e["value"], str), f"exemplar value is not a string: {e}"
            assert isinstance(e["timestamp"], (int, float)), f"exemplar timestamp is not a number: {e}"
            exemplars.append((label_key(e["labels"]), e["value"], round(e["timestamp"] * 1000)))
        out.append((label_key(series["seriesLabels"]), exemplars))
    return out


def by_trace_id(data: list[dict]) -> dict[str, list[tuple[dict, dict]]]:
    """{trace_id: [(series labels, exemplar)]} over an answer."""
    out: dict[str, list[tuple[dict, dict]]] = {}
    for series in data:
        for e in series["exemplars"]:
            out.setdefault(e["labels"].get("trace_id", ""), []).append((series["seriesLabels"], e))
    return out


def new_trace_id() -> str:
    return uuid.uuid4().hex


def remote_write_v2_exemplars(series: list[tuple[dict, list[tuple[int, float]], list[tuple[dict, float, int]]]]) -> bytes:
    """A snappy-compressed `io.prometheus.write.v2.Request` whose series carry exemplars: (labels, samples as
    (ms, value), exemplars as (labels, value, ms)). TimeSeries.exemplars is field 4: labels_refs 1, value 2, timestamp 3
    (test_metrics_ingest.remote_write_v2_body writes no exemplars)."""
    symbols = [""]

    def ref(text: str) -> int:
        if text not in symbols:
            symbols.append(text)
        return symbols.index(text)

    def refs(labels: dict) -> bytes:
        return b"".join(_varint(r) for name in sorted(labels) for r in (ref(name), ref(labels[name])))

    out = b""
    for labels, samples, exemplars in series:
        body = _len_delimited(1, refs(labels))
        for t, v in samples:
            body += _len_delimited(2, _key(1, 1) + struct.pack("<d", v) + _key(2, 0) + _varint(t))
        for ex_labels, v, t in exemplars:
            body += _len_delimited(4, _len_delimited(1, refs(ex_labels)) + _key(2, 1) + struct.pack("<d", v)
                                   + _key(3, 0) + _varint(t))
        out += _len_delimited(5, body)
    return snappy_block(b"".join(_len_delimited(4, s.encode()) for s in symbols) + out)


# ---------------------------------------------------------------------------
# 1. A real Prometheus remote-writes exemplars; Sightline scrapes the same exporter
# ---------------------------------------------------------------------------
BUCKETS = (0.1, 0.25, 0.5, 2.5)
# (observed value, the `le` of the bucket prometheus_client puts its exemplar on)
OBSERVATIONS = [(0.03, "0.1"), (0.3, "0.5"), (1.7, "2.5"), (7.0, "+Inf")]


class ExemplarExporter:
    """A prometheus_client registry served from this process (a thread on 127.0.0.1) with a counter and a histogram
    that carry exemplars; prometheus_client exposes them when the scraper asks for OpenMetrics."""

    def __init__(self, port: int):
        from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

        self.port = port
        self.registry = CollectorRegistry()
        self.requests = Counter("exm_requests", "Checkout requests.", ["path"], registry=self.registry)
        self.latency = Histogram("exm_latency_seconds", "Checkout latency.", buckets=BUCKETS, registry=self.registry)
        self.httpd, _ = start_http_server(port, addr="127.0.0.1", registry=self.registry)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def record(self, trace_id: str, value: float) -> dict[str, str]:
        """One request with its trace id on both metrics; returns the exemplar timestamps as exposed (seconds text),
        {"counter": ..., "histogram": ...}."""
        self.requests.labels(path="/checkout").inc(exemplar={"trace_id": trace_id})
        self.latency.observe(value, exemplar={"trace_id": trace_id})
        r = requests.get(f"http://{self.address}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"},
                         timeout=10)
        assert r.status_code == 200 and r.text.endswith("# EOF\n"), r.text[-300:]
        stamps = {}
        for line in r.text.splitlines():
            if f'trace_id="{trace_id}"' in line:
                kind = "counter" if line.startswith("exm_requests_total") else "histogram"
                stamps[kind] = line.rsplit(" ", 1)[1]
        assert set(stamps) == {"counter", "histogram"}, r.text
        return stamps

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def exporter():
    """An ExemplarExporter on a free loopback port, shut down after the test."""
    port, = free_ports(1)
    served = ExemplarExporter(port)
    yield served
    served.close()


def test_exemplars_from_real_prometheus_and_scrape_match_prometheus(sightline, peers, exporter, tmp_path):
    prom_port, = free_ports(1)
    scrape = scrape_job("direct", exporter.address, {"via": "sightline"})
    srv = sightline("exemplars", config={"scrape_configs": [scrape]}).start()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [{"job_name": "via-prometheus", "static_configs": [{"targets": [exporter.address]}]}],
        "remote_write": [{"url": srv.url + "/api/v1/write", "send_exemplars": True,
                          "queue_config": {"batch_send_deadline": "1s"}}],
    }
    prom = peers(Prometheus(tmp_path, prom_port, config, extra_args=["--enable-feature=exemplar-storage"])).start()
    start = time.time() - 60
    via_prometheus = '{job="via-prometheus", __name__=~"exm_.+"}'
    direct = '{job="direct", __name__=~"exm_.+"}'

    def seen(url: str, query: str, trace_id: str):
        found = by_trace_id(query_exemplars(url, query, start, time.time() + 60)).get(trace_id, [])
        return len(found) == 2 or found  # one on the counter, one on a bucket (True, or what there is)

    # One request at a time, each waited for until both scrapers took its exemplars (prometheus_client exposes only
    # the newest exemplar of a series, so a faster pace would let scrapes miss some).
    recorded = []  # (trace_id, value, le, exposed timestamps)
    for value, le in OBSERVATIONS:
        trace_id = new_trace_id()
        stamps = exporter.record(trace_id, value)
        recorded.append((trace_id, value, le, stamps))
        wait_until(f"Prometheus to scrape the exemplars of trace {trace_id}",
                   lambda: seen(prom.url, via_prometheus, trace_id), timeout=45)
        wait_until(f"Sightline to scrape the exemplars of trace {trace_id}",
                   lambda: seen(srv.url, direct, trace_id), timeout=30)
    end = time.time() + 60

    # --- the remote-written copy: what Prometheus answers, once its queue has shipped everything ------------------
    theirs = query_exemplars(prom.url, via_prometheus, start, end)
    assert len(by_trace_id(theirs)) == len(OBSERVATIONS), theirs

    def same_as_prometheus():
        ours = query_exemplars(srv.url, via_prometheus, start, end)
        return normalized(ours) == normalized(theirs) or normalized(ours)
    try:
        wait_until("Sightline's remote-written exemplars to equal Prometheus' own", same_as_prometheus, timeout=30)
    except AssertionError as e:
        raise AssertionError(f"{e}\nPrometheus answers: {normalized(theirs)}") from None
    prom_metrics = prom.own_metrics()
    sent = sum(v for _, v in prom_metrics.get("prometheus_remote_storage_exemplars_total", []))
    failed = sum(v for _, v in prom_metrics.get("prometheus_remote_storage_exemplars_failed_total", []))
    assert sent >= 2 * len(OBSERVATIONS) and failed == 0, (sent, failed)

    # Every selector of a query counts, and a time range narrows; both as Prometheus answers them.
    for query in ('histogram_quantile(0.9, sum by (le) (rate(exm_latency_seconds_bucket{job="via-prometheus"}[5m])))',
                  'rate(exm_requests_total{job="via-prometheus"}[1m]) / on() group_left() '
                  'sum(rate(exm_latency_seconds_count{job="via-prometheus"}[1m]))'):
        theirs_q = query_exemplars(prom.url, query, start, end)
        assert theirs_q, f"Prometheus has no exemplar for {query}"
        assert normalized(query_exemplars(srv.url, query, start, end)) == normalized(theirs_q), query
    times = sorted(ts for _, exemplars in normalized(theirs) for _, _, ts in exemplars)
    narrow = (times[2] / 1000, times[5] / 1000)  # inclusive bounds on exact exemplar times
    theirs_narrow = query_exemplars(prom.url, via_prometheus, *narrow)
    inside = sum(1 for ts in times if times[2] <= ts <= times[5])
    assert sum(len(s["exemplars"]) for s in theirs_narrow) == inside >= 4, (theirs_narrow, times)
    assert normalized(query_exemplars(srv.url, via_prometheus, *narrow)) == normalized(theirs_narrow)
    assert query_exemplars(srv.url, via_prometheus, end + 10, end + 20) == []

    # --- Sightline's own scrape: each exemplar on the series the exposition put it on ---------------------------
    ours = by_trace_id(query_exemplars(srv.url, direct, start, end))
    prometheus_scraped = by_trace_id(theirs)
    for trace_id, value, le, stamps in recorded:
        found = {s["__name__"]: (s, e) for s, e in ours.get(trace_id, [])}
        assert set(found) == {"exm_requests_total", "exm_latency_seconds_bucket"}, (trace_id, ours.get(trace_id))
        series, exemplar = found["exm_latency_seconds_bucket"]
        assert series == {"__name__": "exm_latency_seconds_bucket", "job": "direct", "instance": exporter.address,
                          "via": "sightline", "le": le}, (value, series)
        assert exemplar["labels"] == {"trace_id": trace_id} and float(exemplar["value"]) == value, exemplar
        series, exemplar = found["exm_requests_total"]
        assert series == {"__name__": "exm_requests_total", "job": "direct", "instance": exporter.address,
                          "via": "sightline", "path": "/checkout"}, series
        assert exemplar["labels"] == {"trace_id": trace_id} and exemplar["value"] == "1", exemplar
        # The exposition's timestamps are float seconds with sub-millisecond digits: both servers truncate them to the
        # millisecond (Prometheus' int64(ts * 1000)), so both store the same time.
        for kind, name in (("counter", "exm_requests_total"), ("histogram", "exm_latency_seconds_bucket")):
            truncated = int(float(stamps[kind]) * 1000)
            theirs_ts = [round(e["timestamp"] * 1000) for s, e in prometheus_scraped[trace_id] if s["__name__"] == name]
            assert theirs_ts == [truncated], (kind, stamps[kind], theirs_ts)
            assert round(found[name][1]["timestamp"] * 1000) == truncated, (kind, stamps[kind], found[name][1])
    # Scraped again and again, each exemplar is stored once (a repeat of a series' newest is skipped).
    counts = [len(s["exemplars"]) for s in query_exemplars(srv.url, direct, start, end)
              if s["seriesLabels"]["__name__"] == "exm_requests_total"]
    assert counts == [len(OBSERVATIONS)], counts


# ---------------------------------------------------------------------------
# 2. OTLP: exemplars from the OpenTelemetry SDK point at the spans that recorded them
# ---------------------------------------------------------------------------
def test_otlp_exemplars_link_metrics_to_traces(sightline):
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.metrics.view import View
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from otel_data import HttpMetricExporter, HttpSpanExporter, span_id_hex, trace_id_hex

    srv = sightline("otlp-exemplars").start()
    resource = Resource.create({"service.name": "exemplar-shop"})
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(HttpSpanExporter(endpoint=srv.url + "/v1/traces", timeout=30)))
    reader = PeriodicExportingMetricReader(HttpMetricExporter(endpoint=srv.url + "/v1/metrics", timeout=30),
                                           export_interval_millis=3_600_000)
    # The view keeps only `route` on the series; the SDK puts the attributes it drops (`user`) on the exemplars.
    meter_provider = MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False,
                                   views=[View(instrument_name="checkout.duration", attribute_keys={"route"})])
    try:
        tracer = tracer_provider.get_tracer("shop")
        meter = meter_provider.get_meter("shop")
        duration = meter.create_histogram("checkout.duration", unit="s",
                                          explicit_bucket_boundaries_advisory=[0.1, 0.25, 0.5, 1.0, 2.5])
        orders = meter.create_counter("checkout.orders")
        before_ms = now_ms()
        with tracer.start_as_current_span("POST /checkout") as fast:
            duration.record(0.3, {"route": "/checkout", "user": "u-7"})
            orders.add(2, {"route": "/checkout"})
        with tracer.start_as_current_span("POST /checkout") as slow:
            duration.record(4.0, {"route": "/checkout", "user": "u-9"})
        duration.record(0.05, {"route": "/checkout"})  # outside any span: no exemplar (the trace-based filter)
        after_ms = now_ms()
        assert meter_provider.force_flush(timeout_millis=30_000), "the metrics export failed"
        assert tracer_provider.force_flush(timeout_millis=30_000), "the span export failed"
    finally:
        meter_provider.shutdown()
        tracer_provider.shutdown()
    ids = {name: (trace_id_hex(s.get_span_context().trace_id), span_id_hex(s.get_span_context().span_id))
           for name, s in (("fast", fast), ("slow", slow))}

    start, end = before_ms / 1000 - 60, after_ms / 1000 + 60
    # job is service.name; instance is service.instance.id, which this SDK makes up for every resource.
    instance = resource.attributes.get("service.instance.id")
    identity = {"job": "exemplar-shop", **({"instance": str(instance)} if instance else {})}
    buckets = query_exemplars(srv.url, 'checkout_duration_seconds_bucket{job="exemplar-shop"}', start, end)
    on_bucket = {s["seriesLabels"]["le"]: s for s in buckets}
    assert sorted(on_bucket) == ["+Inf", "0.5"], f"exemplars on the buckets {sorted(on_bucket)}: {buckets}"
    for le, span, value, user in (("0.5", "fast", "0.3", "u-7"), ("+Inf", "slow", "4", "u-9")):
        series = on_bucket[le]
        assert series["seriesLabels"] == {"__name__": "checkout_duration_seconds_bucket", **identity,
                                          "route": "/checkout", "le": le}, series
        (exemplar,) = series["exemplars"]
        trace_id, span_id = ids[span]
        assert exemplar["labels"] == {"trace_id": trace_id, "span_id": span_id, "user": user}, (exemplar, ids)
        assert exemplar["value"] == value, exemplar
        assert before_ms <= round(exemplar["timestamp"] * 1000) <= after_ms, (exemplar, before_ms, after_ms)
    # histogram_quantile over the buckets selects the same series.
    quantile = query_exemplars(srv.url, 'histogram_quantile(0.9, sum by (le) (rate(checkout_duration_seconds_bucket'
                                        '{job="exemplar-shop"}[5m])))', start, end)
    assert quantile == buckets, quantile

    counter = query_exemplars(srv.url, "checkout_orders_total", start, end)
    assert [s["seriesLabels"] for s in counter] == [
        {"__name__": "checkout_orders_total", **identity, "route": "/checkout"}], counter
    assert [(e["labels"], e["value"]) for e in counter[0]["exemplars"]] == [
        ({"trace_id": ids["fast"][0], "span_id": ids["fast"][1]}, "2")], counter

    # The link works end to end: each trace an exemplar names is there, with the span it names.
    for trace_id, span_id in ids.values():
        doc = jaeger_trace(srv.url, trace_id, expect=1)
        assert [s["spanID"] for s in doc["spans"] if same_id(s["spanID"], span_id)], (span_id, doc)
        tempo = requests.get(f"{srv.url}/api/v2/traces/{trace_id}", timeout=30)
        assert tempo.status_code == 200, tempo.text[:300]
        spans = [s for rs in tempo.json()["trace"]["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
        assert [(s["traceId"], s["name"]) for s in spans] == [(trace_id, "POST /checkout")], spans


# ---------------------------------------------------------------------------
# 3. Durability, the classic text format, out-of-order exemplars, refused queries
# ---------------------------------------------------------------------------
def om_seconds(ms: int) -> str:
    """An OpenMetrics timestamp (float seconds) for a millisecond time."""
    return f"{ms // 1000}.{ms % 1000:03d}"


def test_exemplars_survive_sigkill_and_bad_queries_are_refused(sightline):
    srv = sightline("exemplars-durable", config={"metrics": {"maintenance_interval": "1s"}}).start()
    t = now_ms() - 120_000
    a, b, c, d, e = (new_trace_id() for _ in range(5))
    span_b = uuid.uuid4().hex[:16]
    body = f"""\
# TYPE imx_requests counter
imx_requests_total{{path="/a"}} 5 {om_seconds(t)} # {{trace_id="{a}"}} 1 {om_seconds(t - 500)}
# TYPE imx_latency_seconds histogram
imx_latency_seconds_bucket{{le="0.1"}} 1 {om_seconds(t)} # {{trace_id="{b}",span_id="{span_b}"}} 0.05 {om_seconds(t - 250)}
imx_latency_seconds_bucket{{le="1"}} 3 {om_seconds(t)} # {{trace_id="{c}"}} 0.5
imx_latency_seconds_bucket{{le="+Inf"}} 3 {om_seconds(t)}
imx_latency_seconds_sum 0.8 {om_seconds(t)}
imx_latency_seconds_count 3 {om_seconds(t)}
# EOF
"""
    import_url = srv.url + "/api/v1/import/prometheus"
    r = requests.post(import_url, data=body.encode(), headers=OPENMETRICS, timeout=30)
    assert r.status_code == 204, f"OpenMetrics import: HTTP {r.status_code}: {r.text[:300]}"

    rw2 = remote_write_v2_exemplars([({"__name__": "rw2x_temp", "room": "a"}, [(t, 20.5)],
                                      [({"trace_id": d}, 20.5, t)])])
    r = requests.post(srv.url + "/api/v1/write", data=rw2, headers=RW2_HEADERS, timeout=30)
    assert r.status_code == 204, r.text
    assert r.headers.get("X-Prometheus-Remote-Write-Samples-Written") == "1", dict(r.headers)
    assert r.headers.get("X-Prometheus-Remote-Write-Exemplars-Written") == "1", dict(r.headers)

    start, end = (t - 60_000) / 1000, (now_ms() + 60_000) / 1000
    everything = '{__name__=~"imx_.+|rw2x_.+"}'

    def stored() -> list[dict]:
        return query_exemplars(srv.url, everything, start, end)

    expected = [
        {"seriesLabels": {"__name__": "imx_latency_seconds_bucket", "le": "0.1"},
         "exemplars": [{"labels": {"span_id": span_b, "trace_id": b}, "value": "0.05", "timestamp": (t - 250) / 1000}]},
        # without a timestamp of its own, the exemplar takes its sample's
        {"seriesLabels": {"__name__": "imx_latency_seconds_bucket", "le": "1"},
         "exemplars": [{"labels": {"trace_id": c}, "value": "0.5", "timestamp": t / 1000}]},
        {"seriesLabels": {"__name__": "imx_requests_total", "path": "/a"},
         "exemplars": [{"labels": {"trace_id": a}, "value": "1", "timestamp": (t - 500) / 1000}]},
        {"seriesLabels": {"__name__": "rw2x_temp", "room": "a"},
         "exemplars": [{"labels": {"trace_id": d}, "value": "20.5", "timestamp": t / 1000}]},
    ]
    assert stored() == expected
    assert query_exemplars(srv.url, everything, start, end, method="POST") == expected

    # The same body again: exact repeats are skipped.
    r = requests.post(import_url, data=body.encode(), headers=OPENMETRICS, timeout=30)
    assert r.status_code == 204, r.text
    assert stored() == expected

    # An exemplar older than its series' newest is dropped (and counted); a newer one of another series is kept.
    late = f"""\
# TYPE imx_requests counter
imx_requests_total{{path="/a"}} 6 # {{trace_id="{new_trace_id()}"}} 1 {om_seconds(t - 5_000)}
imx_requests_total{{path="/b"}} 1 # {{trace_id="{e}"}} 1 {om_seconds(t + 1_000)}
# EOF
"""
    r = requests.post(import_url, data=late.encode(), headers=OPENMETRICS, timeout=30)
    assert r.status_code == 204, r.text
    expected.insert(3, {"seriesLabels": {"__name__": "imx_requests_total", "path": "/b"},
                        "exemplars": [{"labels": {"trace_id": e}, "value": "1", "timestamp": (t + 1_000) / 1000}]})
    assert stored() == expected

    def engine_state():
        page = parse_exposition(requests.get(srv.url + "/metrics", timeout=30).text)
        held = [v for _, v in page.get("sightline_tsdb_exemplars", [])]
        dropped = {labels.get("reason"): v for labels, v in page.get("sightline_tsdb_discarded_exemplars", [])}
        return (held == [5.0] and dropped == {"out_of_order": 1.0}) or (held, dropped)
    wait_until("sightline_tsdb_exemplars 5 and one out_of_order in /metrics", engine_state, timeout=15)

    # The classic text format has no exemplars: the samples are stored, the ` # {...}` parts are not.
    plain = f'imx_plain_total{{path="/c"}} 3 # {{trace_id="{new_trace_id()}"}} 1\n'
    r = requests.post(import_url, data=plain.encode(), headers=CLASSIC_TEXT, timeout=30)
    assert r.status_code == 204, f"classic text import: HTTP {r.status_code}: {r.text[:300]}"
    r = requests.get(srv.url + "/api/v1/query", params={"query": "imx_plain_total"}, timeout=30)
    assert [s["value"][1] for s in r.json()["data"]["result"]] == ["3"], r.text
    assert query_exemplars(srv.url, "imx_plain_total", start, end) == []
    assert stored() == expected

    # --- SIGKILL: everything comes back from the WAL, exactly once ----------------------------------------------
    assert srv.kill9() == -9, "server was not running when killed"
    srv.start()
    import_url = srv.url + "/api/v1/import/prometheus"  # a restart picks new ports
    assert stored() == expected
    r = requests.post(import_url, data=body.encode(), headers=OPENMETRICS, timeout=30)
    assert r.status_code == 204, r.text
    r = requests.post(import_url, data=late.encode(), headers=OPENMETRICS, timeout=30)
    assert r.status_code == 204, r.text
    assert stored() == expected, "sending again after the restart stored exemplars twice"
    assert query_exemplars(srv.url, "imx_plain_total", start, end) == []

    # Selectors inside functions count; a range narrows, with inclusive bounds.
    quantile = "histogram_quantile(0.9, rate(imx_latency_seconds_bucket[5m]))"
    assert query_exemplars(srv.url, quantile, start, end) == expected[:2]
    assert query_exemplars(srv.url, everything, t / 1000, t / 1000) == [expected[1], expected[4]]
    assert query_exemplars(srv.url, "imx_latency_seconds_count", start, end) == []

    # --- refused queries: Prometheus' 400 bad_data --------------------------------------------------------------
    def refused(**params) -> dict:
        r = requests.get(srv.url + "/api/v1/query_exemplars", params=params, timeout=30)
        assert_json_error(r, 400)
        doc = r.json()
        assert doc["errorType"] == "bad_data", doc
        return doc

    refused(query="rate(imx_requests_total[5m]", start="0", end="10")
    refused(query='{__name__=~"imx_.+"', start="0", end="10")
    refused(start="0", end="10")  # no query: Prometheus' parser finds no expression
    doc = refused(query="imx_requests_total", start="20", end="10")
    assert doc["error"] == "end timestamp must not be before start timestamp", doc
    doc = refused(query="imx_requests_total", start="yesterday", end="10")
    assert 'invalid parameter "start"' in doc["error"], doc
    doc = refused(query="imx_requests_total", start="0", end="soon")
    assert 'invalid parameter "end"' in doc["error"], doc
    r = requests.post(srv.url + "/api/v1/query_exemplars", data={"query": "imx_requests_total", "start": "20", "end": "10"},
                      timeout=30)
    assert assert_json_error(r, 400) == "end timestamp must not be before start timestamp"
