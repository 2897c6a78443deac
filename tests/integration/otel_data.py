"""Building OTLP batches with the real OpenTelemetry Python SDK, and its exporters.

Batches are produced the way an application produces them (a LoggerProvider /
TracerProvider / MeterProvider with an in-memory exporter or reader), and then
handed to the real OTLP exporters' `export()` directly, so the test knows exactly
which records each acknowledged request carried.

Written against opentelemetry-sdk / exporters 1.45.x (see requirements.txt).
Retry behaviour of those exporters, read from their source:
  * HTTP (opentelemetry.exporter.otlp.common.http._OTLPHTTPClient): a connection
    error is retried once at once, then 429/502/503/504 and connection errors are
    retried with 1 s, 2 s, 4 s ... backoff while the `timeout` deadline allows.
    There is no knob to turn that off; a `timeout` bounds it. A read timeout
    uses up the whole deadline, so a request that reached a live server is not
    sent twice.
  * gRPC (opentelemetry.exporter.otlp.proto.grpc.exporter.OTLPExporterMixin):
    retries the codes in `retryable_error_codes` (default includes UNAVAILABLE
    and DEADLINE_EXCEEDED) with backoff within `timeout`. We pass a set holding
    only RESOURCE_EXHAUSTED, so a dead server fails the export at once.
"""

from __future__ import annotations

import inspect
import itertools
import threading
import time
from dataclasses import dataclass, field

import grpc
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Gauge, InMemoryMetricReader, Sum
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

try:  # renamed in 1.3x; the old name is a deprecated alias
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter as _InMemoryLogExporter
except ImportError:  # pragma: no cover - older SDKs
    from opentelemetry.sdk._logs.export import InMemoryLogExporter as _InMemoryLogExporter

EXPORT_TIMEOUT_S = 10.0

GAUGE_NAME = "sightline_it_gauge"
COUNTER_NAME = "sightline_it_events"  # monotonic cumulative sum -> "<name>_total"
COUNTER_PROM_NAME = COUNTER_NAME + "_total"

SIGNALS = ("logs", "traces", "metrics")
TRANSPORTS = ("http", "grpc")


def span_id_hex(span_id: int) -> str:
    return format(span_id, "016x")


def trace_id_hex(trace_id: int) -> str:
    return format(trace_id, "032x")


def _grpc_kwargs(cls) -> dict:
    params = inspect.signature(cls.__init__).parameters
    if "retryable_error_codes" in params:
        return {"retryable_error_codes": frozenset({grpc.StatusCode.RESOURCE_EXHAUSTED})}
    return {}


def make_exporter(signal: str, transport: str, *, http_url: str | None = None,
                  grpc_endpoint: str | None = None, token: str | None = None,
                  gzip: bool = False, timeout: float = EXPORT_TIMEOUT_S):
    """A real OTLP exporter for `signal` over `transport` ("http" or "grpc")."""
    if transport == "http":
        assert http_url
        cls = {"logs": HttpLogExporter, "traces": HttpSpanExporter, "metrics": HttpMetricExporter}[signal]
        kwargs = {}
        if gzip:
            kwargs["compression"] = HttpCompression.Gzip
        return cls(
            endpoint=f"{http_url}/v1/{signal}",
            headers={"Authorization": f"Bearer {token}"} if token else None,
            timeout=timeout,
            **kwargs,
        )
    assert transport == "grpc" and grpc_endpoint
    cls = {"logs": GrpcLogExporter, "traces": GrpcSpanExporter, "metrics": GrpcMetricExporter}[signal]
    return cls(
        endpoint=grpc_endpoint,
        insecure=True,
        headers=(("authorization", f"Bearer {token}"),) if token else None,
        timeout=timeout,
        **_grpc_kwargs(cls),
    )


def is_success(result) -> bool:
    """LogRecordExportResult / SpanExportResult / MetricExportResult .SUCCESS."""
    return getattr(result, "name", None) == "SUCCESS"


def export(exporter, signal: str, batch):
    if signal == "metrics":
        return exporter.export(batch, timeout_millis=EXPORT_TIMEOUT_S * 1000)
    return exporter.export(batch)


# ---------------------------------------------------------------------------
# What a batch carried
# ---------------------------------------------------------------------------
@dataclass
class ExpectedLog:
    body: str
    time_unix_nano: int
    attributes: dict


@dataclass
class ExpectedSpan:
    span_id: str  # 16 hex
    trace_id: str  # 32 hex
    name: str
    attributes: dict


@dataclass
class ExpectedSample:
    name: str  # Prometheus name (counter gets _total)
    uid: str  # the data point's "uid" attribute (label)
    timestamp_ms: int
    value: float


@dataclass
class Batch:
    signal: str
    payload: object  # what exporter.export() takes
    expected: list = field(default_factory=list)  # ExpectedLog | ExpectedSpan | ExpectedSample

    def keys(self) -> list:
        return [record_key(self.signal, e) for e in self.expected]


def record_key(signal: str, e) -> tuple:
    if signal == "logs":
        return (e.body,)
    if signal == "traces":
        return (e.span_id,)
    return (e.name, e.uid)


# ---------------------------------------------------------------------------
# Builders (one per thread: the SDK providers are thread-safe, but a builder's
# "collect what was just emitted" step is not)
# ---------------------------------------------------------------------------
class LogBatchBuilder:
    def __init__(self, service_name: str, scope: str = "sightline.it"):
        self.provider = LoggerProvider(resource=Resource.create({"service.name": service_name}),
                                       shutdown_on_exit=False)
        self.memory = _InMemoryLogExporter()
        self.provider.add_log_record_processor(SimpleLogRecordProcessor(self.memory))
        self.logger = self.provider.get_logger(scope, "1.0.0")

    def build(self, bodies: list[str], attributes: dict | None = None) -> Batch:
        expected = []
        for i, body in enumerate(bodies):
            ts = time.time_ns()
            attrs = {"seq": i, **(attributes or {})}
            self.logger.emit(
                timestamp=ts,
                severity_number=SeverityNumber.INFO,
                severity_text="INFO",
                body=body,
                attributes=attrs,
            )
            expected.append(ExpectedLog(body, ts, attrs))
        records = list(self.memory.get_finished_logs())
        self.memory.clear()
        assert len(records) == len(bodies), (len(records), len(bodies))
        return Batch("logs", records, expected)


class SpanBatchBuilder:
    def __init__(self, service_name: str, scope: str = "sightline.it"):
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}),
                                       shutdown_on_exit=False)
        self.memory = InMemorySpanExporter()
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer(scope, "1.0.0")

    def build(self, names: list[str], attributes: dict | None = None) -> Batch:
        for i, name in enumerate(names):
            span = self.tracer.start_span(name, attributes={"seq": i, **(attributes or {})})
            span.end()
        spans = list(self.memory.get_finished_spans())
        self.memory.clear()
        assert len(spans) == len(names)
        expected = [
            ExpectedSpan(span_id_hex(s.context.span_id), trace_id_hex(s.context.trace_id), s.name,
                         dict(s.attributes))
            for s in spans
        ]
        return Batch("traces", spans, expected)


_metric_counter = itertools.count()
_metric_lock = threading.Lock()


class MetricBatchBuilder:
    """Each batch comes from its own MeterProvider + InMemoryMetricReader, so a
    batch holds exactly the data points recorded for it (cumulative temporality
    would otherwise repeat earlier points in every collection)."""

    def __init__(self, service_name: str, scope: str = "sightline.it"):
        self.resource = Resource.create({"service.name": service_name})
        self.scope = scope

    def build(self, uids: list[str], attributes: dict | None = None) -> Batch:
        reader = InMemoryMetricReader()
        provider = MeterProvider(metric_readers=[reader], resource=self.resource, shutdown_on_exit=False)
        try:
            meter = provider.get_meter(self.scope, "1.0.0")
            gauge = meter.create_gauge(GAUGE_NAME)
            counter = meter.create_counter(COUNTER_NAME)
            for i, uid in enumerate(uids):
                attrs = {"uid": uid, **(attributes or {})}
                gauge.set(i + 0.5, attrs)
                counter.add(i + 1, attrs)
            data = reader.get_metrics_data()
        finally:
            provider.shutdown()
        expected = []
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if isinstance(m.data, Gauge):
                        name = m.name
                    elif isinstance(m.data, Sum) and m.data.is_monotonic:
                        name = m.name + "_total"
                    else:  # pragma: no cover
                        raise AssertionError(f"unexpected metric {m}")
                    for dp in m.data.data_points:
                        expected.append(ExpectedSample(name, str(dp.attributes["uid"]),
                                                       dp.time_unix_nano // 1_000_000, float(dp.value)))
        assert len(expected) == 2 * len(uids), expected
        return Batch("metrics", data, expected)


def builder_for(signal: str, service_name: str):
    return {"logs": LogBatchBuilder, "traces": SpanBatchBuilder, "metrics": MetricBatchBuilder}[signal](service_name)


# ---------------------------------------------------------------------------
# Reading the server's debug records back
# ---------------------------------------------------------------------------
def server_key(signal: str, rec: dict) -> tuple | None:
    """The identity of a debug record, comparable with record_key(); None if not ours."""
    if signal == "logs":
        body = rec.get("body")
        return (body,) if isinstance(body, str) else None
    if signal == "traces":
        return (rec.get("spanId"),)
    labels = rec.get("labels", {})
    name = labels.get("__name__")
    if name not in (GAUGE_NAME, COUNTER_PROM_NAME) or "uid" not in labels:
        return None  # e.g. target_info
    return (name, labels["uid"])


def exact_identity(signal: str, rec: dict) -> str:
    """What makes a stored record 'the same record' for duplicate detection."""
    if signal == "metrics":
        return repr((sorted(rec.get("labels", {}).items()), rec.get("timestampMs")))
    return repr(server_key(signal, rec))


def resource_attributes(rec: dict) -> dict:
    """The record's resource attributes, whether served flat or as {"attributes": {...}}."""
    res = rec.get("resource") or {}
    if isinstance(res.get("attributes"), dict):
        return res["attributes"]
    return res
