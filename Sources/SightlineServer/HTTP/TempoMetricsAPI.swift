import Hummingbird
import SightlineCore
import SightlineQuery

/// Tempo's TraceQL metrics routes, which Grafana's Tempo data source and its Traces Drilldown app query:
///
/// | Route | |
/// |---|---|
/// | `GET /api/metrics/query_range?q=…&start=…&end=…&step=…&since=…&exemplars=…` | series of samples, one per step |
/// | `GET /api/metrics/query?q=…&start=…&end=…&since=…` | one value per series over the whole range |
///
/// `q` (or `query`) is a TraceQL metrics query (``TraceQLQuery``). Times are Unix seconds, Unix nanoseconds (more than
/// ten digits), fractional seconds or RFC 3339; `end` defaults to now and `start` to `since` (default 1h) before it.
/// `step` is a duration (`30s`) or seconds; by default about 240 steps span the range, as Tempo picks them.
/// `exemplars` is the most exemplars a series carries (default and most 100). Answers are Tempo's JSON
/// (`QueryRangeResponse`, `QueryInstantResponse`: camel-case fields, 64-bit integers as strings); errors are plain
/// text with status 400, as Tempo's are.
enum TempoMetricsAPI {
    /// Tempo's `max_exemplars`: the default and the most exemplars a series carries.
    static let maxExemplars = 100

    static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies, traces: any TraceSource) {
        router.get("/api/metrics/query_range") { request, _ in
            TempoAPIHandler.respond(request, api: api) { tenant, _ in
                Array(try queryRange(tenant: tenant, parameters: parameters(request), traces: traces).utf8)
            }
        }
        router.get("/api/metrics/query") { request, _ in
            TempoAPIHandler.respond(request, api: api) { tenant, _ in
                Array(try queryInstant(tenant: tenant, parameters: parameters(request), traces: traces).utf8)
            }
        }
    }

    static func parameters(_ request: Request) -> LokiParameters {
        LokiParameters(parameters: PrometheusAPIParameters(pairs: PrometheusAPIParameters.decodeForm(request.uri.query ?? "")))
    }

    /// The query and its `[start, end]`.
    static func request(_ parameters: LokiParameters, now: UInt64) throws -> (query: TraceQLQuery, start: UInt64, end: UInt64) {
        let text = parameters["q"].isEmpty ? parameters["query"] : parameters["q"]
        guard !text.isEmpty else { throw SightlineError(.invalidArgument, "query parameter 'q' is required") }
        let query = try TraceQLQuery(text)
        guard query.isMetricsQuery else {
            throw SightlineError(.invalidArgument, "not a metrics query: end it with a metrics function such as | rate(); searches go to /api/search")
        }
        let since = try parameters.duration("since") ?? 3_600_000_000_000
        let end = try parameters.time("end", default: now)
        let start = try parameters.time("start", default: min(end, now) > since ? min(end, now) - since : 0)
        return (query, start, end)
    }

    /// `/api/metrics/query_range`: Tempo's `QueryRangeResponse`.
    static func queryRange(tenant: Tenant, parameters: LokiParameters, traces: any TraceSource, now: UInt64 = LokiParameters.nowNano()) throws -> String {
        let (query, start, end) = try request(parameters, now: now)
        // Tempo reads a step as seconds or as a Go duration (`1.5s`, `1m30s`); Prometheus' forms (`1d`) are read too.
        let stepText = parameters["step"]
        let goStep = stepText.isEmpty ? nil : JaegerParameters.parseGoDuration(stepText)
        let step = try goStep.flatMap { $0 > 0 ? $0 : nil } ?? parameters.duration("step") ?? TraceQLMetricsWindow.defaultStep(from: start, to: end)
        let window = try TraceQLMetricsWindow(rangeFrom: start, to: end, step: step)
        let exemplarText = parameters["exemplars"]
        var exemplars = maxExemplars
        if !exemplarText.isEmpty {
            guard let asked = Int(exemplarText), asked >= 0 else {
                throw SightlineError(.invalidArgument, "invalid exemplars parameter \"\(exemplarText)\": use a whole number")
            }
            exemplars = asked == 0 ? maxExemplars : min(asked, maxExemplars)
        }
        let result = try query.metrics(source: traces, tenant: tenant, window: window, exemplars: exemplars)
        var out = "{\"series\":["
        for (position, series) in result.series.enumerated() {
            if position > 0 { out += "," }
            out += "{\"labels\":"
            appendLabels(series.labels, to: &out)
            out += ",\"samples\":["
            for (index, sample) in series.samples.enumerated() {
                if index > 0 { out += "," }
                out += "{\"timestampMs\":\"\(window.timestampMs(sample.interval))\",\"value\":" + number(sample.value) + "}"
            }
            out += "]"
            if !series.exemplars.isEmpty {
                out += ",\"exemplars\":["
                for (index, exemplar) in series.exemplars.enumerated() {
                    if index > 0 { out += "," }
                    out += "{\"labels\":[{\"key\":\"trace:id\",\"value\":{\"stringValue\":\"" + traceIDText(exemplar.traceID) + "\"}}]"
                    out += ",\"value\":" + number(exemplar.value) + ",\"timestampMs\":\"\(exemplar.timestampMs)\"}"
                }
                out += "]"
            }
            out += "}"
        }
        out += "],"
        appendMetrics(result, to: &out)
        return out + "}"
    }

    /// `/api/metrics/query`: Tempo's `QueryInstantResponse`, the range as one interval.
    static func queryInstant(tenant: Tenant, parameters: LokiParameters, traces: any TraceSource, now: UInt64 = LokiParameters.nowNano()) throws -> String {
        let (query, start, end) = try request(parameters, now: now)
        let result = try query.metrics(source: traces, tenant: tenant, window: try TraceQLMetricsWindow(instantFrom: start, to: end), exemplars: 0)
        var out = "{\"series\":["
        for (index, (series, sample)) in result.series.compactMap({ series in series.samples.first.map { (series, $0) } }).enumerated() {
            if index > 0 { out += "," }
            out += "{\"labels\":"
            appendLabels(series.labels, to: &out)
            out += ",\"value\":" + number(sample.value) + "}"
        }
        out += "],"
        appendMetrics(result, to: &out)
        return out + "}"
    }

    /// Labels as OTLP key-values: strings (statuses, kinds, durations, `nil`) as `stringValue`, integers as
    /// `intValue` strings, floats as `doubleValue`, booleans as `boolValue`.
    static func appendLabels(_ labels: [TraceQLMetricsResult.Label], to out: inout String) {
        out += "["
        for (index, label) in labels.enumerated() {
            if index > 0 { out += "," }
            out += "{\"key\":" + JSONText.quoted(label.name) + ",\"value\":{"
            switch label.value {
            case .string(let text): out += "\"stringValue\":" + JSONText.quoted(text)
            case .int(let number): out += "\"intValue\":\"\(number)\""
            case .double(let number): out += "\"doubleValue\":" + self.number(number)
            case .bool(let flag): out += "\"boolValue\":\(flag)"
            }
            out += "}}"
        }
        out += "]"
    }

    /// The fields of Tempo's `SearchMetrics` that every Tempo version knows (Grafana reads instant answers strictly).
    static func appendMetrics(_ result: TraceQLMetricsResult, to out: inout String) {
        out += "\"metrics\":{\"inspectedTraces\":\(result.inspectedTraces),\"inspectedBytes\":\"0\",\"completedJobs\":1,\"totalJobs\":1}"
    }

    /// A double as protobuf's JSON mapping writes it: non-finite values as the strings `NaN`, `Infinity`, `-Infinity`.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "\"NaN\"" }
        if value.isInfinite { return value > 0 ? "\"Infinity\"" : "\"-Infinity\"" }
        return JSONText.number(value)
    }

    /// A trace id as Tempo's exemplars carry it: hex without leading zeros.
    static func traceIDText(_ id: TraceID) -> String {
        let text = id.description.drop { $0 == "0" }
        return text.isEmpty ? "0" : String(text)
    }
}
