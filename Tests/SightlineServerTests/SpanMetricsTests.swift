import Synchronization
import Testing

@testable import SightlineCore
@testable import SightlineServer

struct SpanMetricsTests {
    private static let trace = TraceID(high: 1, low: 2)

    private static func span(
        _ id: UInt64, parent: UInt64? = nil, service: String, name: String, kind: Span.Kind, ms: UInt64, error: Bool = false
    ) -> Span {
        Span(
            traceID: trace, spanID: SpanID(id), parentSpanID: parent.map(SpanID.init), name: name, kind: kind,
            startTimeUnixNano: 1_000_000_000, endTimeUnixNano: 1_000_000_000 + ms * 1_000_000,
            statusCode: error ? .error : .unset, resource: [Attribute("service.name", .string(service))])
    }

    private static func values(_ batch: MetricBatch) -> [String: Double] {
        Dictionary(uniqueKeysWithValues: batch.samples.map { ($0.labels.description, $0.value) })
    }

    @Test func callsDurationsAndTheServiceGraph() {
        let now = Atomic<Int64>(1_000)
        let metrics = SpanMetrics(clockMs: { now.load(ordering: .relaxed) })
        // Server span first: the pair completes whichever half arrives second.
        metrics.stored(TenantBatch(tenant: .default, batch: .traces([
            Self.span(2, parent: 1, service: "payments", name: "POST /charge", kind: .server, ms: 30, error: true),
        ])))
        metrics.stored(TenantBatch(tenant: .default, batch: .traces([
            Self.span(1, service: "checkout", name: "charge", kind: .client, ms: 35),
            Self.span(3, service: "checkout", name: "render", kind: .internal, ms: 1),
        ])))
        let collected = metrics.collect(nowMs: 2_000)
        #expect(collected.count == 1)
        let (tenant, batch) = collected[0]
        #expect(tenant == .default)
        #expect(batch.samples.allSatisfy { $0.timestampMs == 2_000 })
        let values = Self.values(batch)
        let server = "service_name=\"payments\", span_kind=\"SPAN_KIND_SERVER\", span_name=\"POST /charge\", status_code=\"STATUS_CODE_ERROR\""
        #expect(values["traces_span_metrics_calls_total{\(server)}"] == 1)
        #expect(values["traces_span_metrics_duration_milliseconds_bucket{le=\"10\", \(server)}"] == 0)
        #expect(values["traces_span_metrics_duration_milliseconds_bucket{le=\"50\", \(server)}"] == 1)
        #expect(values["traces_span_metrics_duration_milliseconds_bucket{le=\"+Inf\", \(server)}"] == 1)
        #expect(values["traces_span_metrics_duration_milliseconds_sum{\(server)}"] == 30)
        #expect(values["traces_service_graph_request_total{client=\"checkout\", server=\"payments\"}"] == 1)
        #expect(values["traces_service_graph_request_failed_total{client=\"checkout\", server=\"payments\"}"] == 1)
        #expect(values["traces_service_graph_request_client_seconds_sum{client=\"checkout\", server=\"payments\"}"] == 0.035)
        #expect(values["traces_service_graph_request_server_seconds_bucket{client=\"checkout\", le=\"0.05\", server=\"payments\"}"] == 1)
        #expect(values["traces_span_metrics_calls_total{service_name=\"checkout\", span_kind=\"SPAN_KIND_INTERNAL\", span_name=\"render\", status_code=\"STATUS_CODE_UNSET\"}"] == 1)
        #expect(batch.metadata.contains { $0.metricFamily == "traces_span_metrics_calls" && $0.kind == .counter })
    }

    /// Each collection carries, per duration series, the newest span since the previous one as an exemplar on the
    /// bucket holding its duration; a collection with no new span carries none.
    @Test func durationsCarryTheNewestSpanAsAnExemplar() {
        let metrics = SpanMetrics(clockMs: { 0 })
        metrics.stored(TenantBatch(tenant: .default, batch: .traces([
            Self.span(1, service: "api", name: "GET /", kind: .server, ms: 3),
            Self.span(2, service: "api", name: "GET /", kind: .server, ms: 70_000),
        ])))
        let first = metrics.collect(nowMs: 5_000)[0].1
        let series = "service_name=\"api\", span_kind=\"SPAN_KIND_SERVER\", span_name=\"GET /\", status_code=\"STATUS_CODE_UNSET\""
        #expect(first.exemplars.map { "\($0.series) \($0.labels) \($0.timestampMs) \($0.value)" } == [
            "traces_span_metrics_duration_milliseconds_bucket{le=\"+Inf\", \(series)} "
                + "{span_id=\"0000000000000002\", trace_id=\"\(Self.trace)\"} 5000 70000.0",
        ])
        #expect(metrics.collect(nowMs: 10_000)[0].1.exemplars.isEmpty)
        metrics.stored(TenantBatch(tenant: .default, batch: .traces([Self.span(3, service: "api", name: "GET /", kind: .server, ms: 3)])))
        let third = metrics.collect(nowMs: 15_000)[0].1
        #expect(third.exemplars.map(\.series.description) == ["traces_span_metrics_duration_milliseconds_bucket{le=\"4\", \(series)}"])
    }

    @Test func unpairedHalvesExpireAndAreCounted() {
        let now = Atomic<Int64>(0)
        var options = SpanMetrics.Options()
        options.edgeWait = .seconds(10)
        let metrics = SpanMetrics(options: options, clockMs: { now.load(ordering: .relaxed) })
        metrics.stored(TenantBatch(tenant: .default, batch: .traces([Self.span(1, service: "a", name: "call", kind: .client, ms: 5)])))
        #expect(Self.values(metrics.collect(nowMs: 5_000).first?.1 ?? MetricBatch())["traces_service_graph_unpaired_spans_total"] == nil)
        let values = Self.values(metrics.collect(nowMs: 20_000).first?.1 ?? MetricBatch())
        #expect(values["traces_service_graph_unpaired_spans_total"] == 1)
        // The server half arriving after expiry does not make an edge.
        now.store(20_000, ordering: .relaxed)
        metrics.stored(TenantBatch(tenant: .default, batch: .traces([Self.span(2, parent: 1, service: "b", name: "x", kind: .server, ms: 2)])))
        #expect(Self.values(metrics.collect(nowMs: 21_000).first?.1 ?? MetricBatch()).keys.allSatisfy { !$0.hasPrefix("traces_service_graph_request_total") })
    }

    @Test func tenantsAreSeparateAndSeriesAreBounded() {
        var options = SpanMetrics.Options()
        options.maxSeriesPerTenant = 2
        let metrics = SpanMetrics(options: options, clockMs: { 0 })
        let acme = Tenant(uncheckedID: "acme")
        metrics.stored(TenantBatch(tenant: acme, batch: .traces((0..<5).map { Self.span(UInt64($0), service: "s", name: "op\($0)", kind: .internal, ms: 1) })))
        metrics.stored(TenantBatch(tenant: .default, batch: .traces([Self.span(9, service: "t", name: "only", kind: .internal, ms: 1)])))
        let collected = Dictionary(uniqueKeysWithValues: metrics.collect(nowMs: 1).map { ($0.0, Self.values($0.1)) })
        #expect(collected[acme]?.keys.filter { $0.hasPrefix("traces_span_metrics_calls_total") }.count == 2)
        #expect(collected[acme]?["traces_span_metrics_dropped_spans_total"] == 3)
        #expect(collected[.default]?.keys.filter { $0.hasPrefix("traces_span_metrics_calls_total") }.count == 1)
    }
}
