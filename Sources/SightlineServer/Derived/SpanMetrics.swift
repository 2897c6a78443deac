package import SightlineCore
import Synchronization

/// RED metrics and the service graph, derived from every ingested span and written back as metric series, so PromQL
/// and alert rules can use them. Names and labels follow the OpenTelemetry Collector's `spanmetrics` and
/// `servicegraph` connectors as Prometheus sees them:
///
/// - `traces_span_metrics_calls_total{service_name, span_name, span_kind, status_code}` — spans per kind and status
///   (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`, …);
/// - `traces_span_metrics_duration_milliseconds_{bucket,sum,count}` — their durations (the connector's default
///   buckets, in ms), with an exemplar per collection: the newest span of the label set since the last one
///   (`trace_id`, `span_id`, its duration), on the bucket holding it, so a latency panel links to traces;
/// - `traces_service_graph_request_total{client, server, connection_type}` and
///   `traces_service_graph_request_failed_total` — calls across services: a client (or producer) span paired with
///   the server (or consumer) span whose parent it is; `connection_type` is `messaging_system` for producer/consumer
///   pairs and empty otherwise;
/// - `traces_service_graph_request_server_seconds_*` and `…_client_seconds_*` — their durations as each side saw them.
///
/// Counters are cumulative from the server's start (a restart is a counter reset, which `rate` handles). Halves of a
/// pair wait ``Options/edgeWait`` for the other half, then are dropped and counted in
/// `traces_service_graph_unpaired_spans_total`. At most ``Options/maxSeriesPerTenant`` label sets per tenant; spans
/// that would add more are counted in `traces_span_metrics_dropped_spans_total` only.
package final class SpanMetrics: StoredBatchObserver {
    package struct Options: Sendable {
        package var edgeWait: Duration = .seconds(10)
        package var maxSeriesPerTenant: Int = 20_000
        package init() {}
    }

    /// The connector's default duration buckets, in ms.
    static let durationBucketsMs: [Double] = [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10_000, 15_000]
    /// The service graph connector's default buckets, in seconds.
    static let graphBucketsSeconds: [Double] = durationBucketsMs.map { $0 / 1000 }

    private let options: Options
    private let clock: @Sendable () -> Int64
    private let tenants = Mutex<[Tenant: TenantState]>([:])

    /// - Parameter clockMs: now in ms since the epoch; when a pair half arrived, for ``Options/edgeWait``.
    package init(options: Options = Options(), clockMs: @escaping @Sendable () -> Int64) {
        self.options = options
        self.clock = clockMs
    }

    // MARK: Observing

    package func stored(_ batch: TenantBatch) {
        guard case .traces(let spans) = batch.batch, !spans.isEmpty else { return }
        let now = clock()
        tenants.withLock { tenants in
            var state = tenants.removeValue(forKey: batch.tenant) ?? TenantState()
            for span in spans { state.observe(span, nowMs: now, options: options) }
            tenants[batch.tenant] = state
        }
    }

    /// The current values of every series, one batch per tenant, stamped `nowMs`; pair halves that waited too long are
    /// dropped first.
    package func collect(nowMs: Int64) -> [(Tenant, MetricBatch)] {
        let waitMs = options.edgeWait.components.seconds * 1000 + options.edgeWait.components.attoseconds / 1_000_000_000_000_000
        return tenants.withLock { tenants in
            var out: [(Tenant, MetricBatch)] = []
            for tenant in tenants.keys.sorted() {
                guard var state = tenants[tenant] else { continue }
                state.expire(olderThanMs: nowMs - waitMs)
                out.append((tenant, state.samples(atMs: nowMs)))
                state.forgetExemplars()
                tenants[tenant] = state
            }
            return out
        }
    }

    // MARK: State

    struct CallKey: Hashable {
        var service: String
        var name: String
        var kind: Span.Kind
        var status: Span.StatusCode
    }

    struct EdgeKey: Hashable {
        var client: String
        var server: String
        var messaging: Bool
    }

    struct PairKey: Hashable {
        var trace: TraceID
        var span: SpanID
    }

    /// One half of a cross-service call, waiting for the other.
    struct Half {
        var service: String
        var durationSeconds: Double
        var failed: Bool
        var messaging: Bool
        var arrivedMs: Int64
    }

    /// A histogram with fixed upper bounds.
    struct Histogram {
        var counts: [UInt64]
        var sum = 0.0
        var count: UInt64 = 0

        init(bounds: Int) { counts = [UInt64](repeating: 0, count: bounds) }

        mutating func observe(_ value: Double, bounds: [Double]) {
            count += 1
            sum += value
            if let index = bounds.firstIndex(where: { value <= $0 }) { counts[index] += 1 }
        }
    }

    /// The span a duration series' next exemplar stands for.
    struct SpanExemplar {
        var trace: TraceID
        var span: SpanID
        var durationMs: Double
    }

    struct EdgeStats {
        var total: UInt64 = 0
        var failed: UInt64 = 0
        var server = Histogram(bounds: SpanMetrics.graphBucketsSeconds.count)
        var client = Histogram(bounds: SpanMetrics.graphBucketsSeconds.count)
    }

    struct TenantState {
        var calls: [CallKey: (calls: UInt64, duration: Histogram, exemplar: SpanExemplar?)] = [:]
        var edges: [EdgeKey: EdgeStats] = [:]
        var clients: [PairKey: Half] = [:]
        var servers: [PairKey: Half] = [:]
        var droppedSpans: UInt64 = 0
        var unpaired: UInt64 = 0

        var seriesCount: Int { calls.count + edges.count }

        mutating func observe(_ span: Span, nowMs: Int64, options: Options) {
            let service = span.resource.first { $0.key == "service.name" }?.value.text ?? "unknown_service"
            let durationNano = span.endTimeUnixNano >= span.startTimeUnixNano ? span.endTimeUnixNano - span.startTimeUnixNano : 0
            let key = CallKey(service: service, name: span.name, kind: span.kind, status: span.statusCode)
            if calls[key] == nil {
                guard seriesCount < options.maxSeriesPerTenant else {
                    droppedSpans += 1
                    return
                }
                calls[key] = (0, Histogram(bounds: SpanMetrics.durationBucketsMs.count), nil)
            }
            let durationMs = Double(durationNano) / 1e6
            calls[key]?.calls += 1
            calls[key]?.duration.observe(durationMs, bounds: SpanMetrics.durationBucketsMs)
            calls[key]?.exemplar = SpanExemplar(trace: span.traceID, span: span.spanID, durationMs: durationMs)

            let half = Half(
                service: service, durationSeconds: Double(durationNano) / 1e9, failed: span.statusCode == .error,
                messaging: span.kind == .producer || span.kind == .consumer, arrivedMs: nowMs)
            switch span.kind {
            case .client, .producer:
                let pair = PairKey(trace: span.traceID, span: span.spanID)
                if let server = servers.removeValue(forKey: pair) { record(client: half, server: server, options: options) } else { clients[pair] = half }
            case .server, .consumer:
                guard let parent = span.parentSpanID else { return }
                let pair = PairKey(trace: span.traceID, span: parent)
                if let client = clients.removeValue(forKey: pair) { record(client: client, server: half, options: options) } else { servers[pair] = half }
            default:
                return
            }
        }

        mutating func record(client: Half, server: Half, options: Options) {
            let key = EdgeKey(client: client.service, server: server.service, messaging: client.messaging || server.messaging)
            if edges[key] == nil {
                guard seriesCount < options.maxSeriesPerTenant else {
                    droppedSpans += 2
                    return
                }
                edges[key] = EdgeStats()
            }
            edges[key]?.total += 1
            if client.failed || server.failed { edges[key]?.failed += 1 }
            edges[key]?.client.observe(client.durationSeconds, bounds: SpanMetrics.graphBucketsSeconds)
            edges[key]?.server.observe(server.durationSeconds, bounds: SpanMetrics.graphBucketsSeconds)
        }

        mutating func expire(olderThanMs cutoff: Int64) {
            let before = clients.count + servers.count
            clients = clients.filter { $0.value.arrivedMs >= cutoff }
            servers = servers.filter { $0.value.arrivedMs >= cutoff }
            unpaired += UInt64(before - clients.count - servers.count)
        }

        /// Exemplars go out once: the next collection has those of the spans observed after this one.
        mutating func forgetExemplars() {
            for key in calls.keys { calls[key]?.exemplar = nil }
        }

        func samples(atMs t: Int64) -> MetricBatch {
            var samples: [MetricSample] = []
            var exemplars: [MetricExemplar] = []
            func add(_ name: String, _ labels: [Label], _ value: Double) {
                samples.append(MetricSample(labels: Labels(labels + [Label(Labels.metricName, name)]), timestampMs: t, value: value))
            }
            func addHistogram(_ name: String, _ labels: [Label], _ histogram: Histogram, bounds: [Double]) {
                var cumulative: UInt64 = 0
                for (index, bound) in bounds.enumerated() {
                    cumulative += histogram.counts[index]
                    add(name + "_bucket", labels + [Label("le", formatBound(bound))], Double(cumulative))
                }
                add(name + "_bucket", labels + [Label("le", "+Inf")], Double(histogram.count))
                add(name + "_sum", labels, histogram.sum)
                add(name + "_count", labels, Double(histogram.count))
            }
            for (key, value) in calls {
                let labels = [
                    Label("service_name", key.service), Label("span_name", key.name), Label("span_kind", kindText(key.kind)),
                    Label("status_code", statusText(key.status)),
                ]
                add("traces_span_metrics_calls_total", labels, Double(value.calls))
                addHistogram("traces_span_metrics_duration_milliseconds", labels, value.duration, bounds: SpanMetrics.durationBucketsMs)
                if let exemplar = value.exemplar {
                    let bound = SpanMetrics.durationBucketsMs.first { exemplar.durationMs <= $0 }.map(formatBound) ?? "+Inf"
                    let series = labels + [Label("le", bound), Label(Labels.metricName, "traces_span_metrics_duration_milliseconds_bucket")]
                    exemplars.append(
                        MetricExemplar(
                            series: Labels(series), labels: Labels(["trace_id": exemplar.trace.description, "span_id": exemplar.span.description]),
                            timestampMs: t, value: exemplar.durationMs))
                }
            }
            for (key, value) in edges {
                let labels = [Label("client", key.client), Label("server", key.server), Label("connection_type", key.messaging ? "messaging_system" : "")]
                add("traces_service_graph_request_total", labels, Double(value.total))
                add("traces_service_graph_request_failed_total", labels, Double(value.failed))
                addHistogram("traces_service_graph_request_server_seconds", labels, value.server, bounds: SpanMetrics.graphBucketsSeconds)
                addHistogram("traces_service_graph_request_client_seconds", labels, value.client, bounds: SpanMetrics.graphBucketsSeconds)
            }
            if droppedSpans > 0 { add("traces_span_metrics_dropped_spans_total", [], Double(droppedSpans)) }
            if unpaired > 0 { add("traces_service_graph_unpaired_spans_total", [], Double(unpaired)) }
            return MetricBatch(samples: samples, metadata: SpanMetrics.metadata, exemplars: exemplars)
        }
    }

    static let metadata: [MetricMetadata] = [
        MetricMetadata(metricFamily: "traces_span_metrics_calls", kind: .counter, help: "Spans by service, name, kind and status."),
        MetricMetadata(metricFamily: "traces_span_metrics_duration_milliseconds", kind: .histogram, help: "Span durations.", unit: "milliseconds"),
        MetricMetadata(metricFamily: "traces_service_graph_request", kind: .counter, help: "Calls from one service to another."),
        MetricMetadata(metricFamily: "traces_service_graph_request_failed", kind: .counter, help: "Failed calls from one service to another."),
        MetricMetadata(metricFamily: "traces_service_graph_request_server_seconds", kind: .histogram, help: "Call durations seen by the server.", unit: "seconds"),
        MetricMetadata(metricFamily: "traces_service_graph_request_client_seconds", kind: .histogram, help: "Call durations seen by the client.", unit: "seconds"),
    ]
}

/// `0.002`, `1.4`, `15`: a bucket bound as Prometheus clients write `le`.
private func formatBound(_ bound: Double) -> String {
    bound == bound.rounded() ? String(Int64(bound)) : "\(bound)"
}

/// `SPAN_KIND_SERVER`, as the connector writes kinds.
private func kindText(_ kind: Span.Kind) -> String {
    switch kind {
    case .unspecified: "SPAN_KIND_UNSPECIFIED"
    case .internal: "SPAN_KIND_INTERNAL"
    case .server: "SPAN_KIND_SERVER"
    case .client: "SPAN_KIND_CLIENT"
    case .producer: "SPAN_KIND_PRODUCER"
    case .consumer: "SPAN_KIND_CONSUMER"
    }
}

private func statusText(_ status: Span.StatusCode) -> String {
    switch status {
    case .unset: "STATUS_CODE_UNSET"
    case .ok: "STATUS_CODE_OK"
    case .error: "STATUS_CODE_ERROR"
    }
}
