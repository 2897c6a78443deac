import Hummingbird
import SightlineCore
import SightlineQuery

/// Loki's detected labels and fields, which Grafana's Logs Drilldown builds its label and field tabs from.
///
/// | Route | Methods | |
/// |---|---|---|
/// | `/loki/api/v1/detected_labels` | GET, POST | stream labels worth filtering by, with their cardinality |
/// | `/loki/api/v1/detected_fields` | GET, POST | fields of the newest entries, with type, cardinality and parsers |
/// | `/loki/api/v1/detected_field/<name>/values` | GET | the values of one such field |
///
/// Cardinalities are exact (Loki estimates them with a sketch); answers are sorted by name (Loki's order is a map's).
extension LokiQueryAPI {
    static func addDetectedRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        for method in [HTTPRequest.Method.get, .post] {
            router.on("/loki/api/v1/detected_labels", method: method) { request, _ in await answer { try await detectedLabels(request, api: api) } }
            router.on("/loki/api/v1/detected_fields", method: method) { request, _ in
                await answer { try await detectedFields(request, valuesOf: nil, api: api) }
            }
        }
        router.get("/loki/api/v1/detected_field/:name/values") { request, context in
            await answer { try await detectedFields(request, valuesOf: context.parameters.get("name") ?? "", api: api) }
        }
    }

    /// The labels Loki always offers, whatever their values.
    static let staticLabels: Set<String> = ["cluster", "namespace", "instance", "pod"]

    /// `{"detectedLabels":[{"label":…,"cardinality":…},…]}` (`{}` when none) over `query`'s streams (every stream
    /// without one) in `[start, end]`. Labels whose values all look like ids — numbers or UUIDs, other than a
    /// 0/1 flag — are left out, except ``staticLabels``.
    static func detectedLabels(_ request: Request, api: APIDependencies) async throws -> Response {
        let (tenant, parameters) = try await read(request, api: api)
        let (start, end) = try parameters.range()
        let matchers = parameters["query"].isEmpty ? [] : try selectorMatchers(parameters["query"])
        let streams = try await run { try api.logs.streams(tenant: tenant, matchers: matchers, range: TimeRange(startNano: start, endNano: end)) }
        var values: [String: Set<String>] = [:]
        for stream in streams {
            for label in stream.labels { values[label.name, default: []].insert(label.value) }
        }
        let kept = values.filter { name, values in staticLabels.contains(name) || !looksLikeIDs(values) }.sorted { $0.key < $1.key }
        guard !kept.isEmpty else { return json("{}") }
        var out = "{\"detectedLabels\":["
        for (index, (name, values)) in kept.enumerated() {
            if index > 0 { out += "," }
            out += "{\"label\":"
            JSONText.appendString(name, to: &out)
            out += ",\"cardinality\":\(values.count)}"
        }
        out += "]}"
        return json(out)
    }

    /// Whether a label's values are all numbers or UUIDs (more than two of them, or one or two that are not all 0 or
    /// 1): ids, not something to filter by.
    static func looksLikeIDs(_ values: Set<String>) -> Bool {
        guard !values.isEmpty, values.allSatisfy({ Double($0) != nil || isUUID($0) }) else { return false }
        return values.count > 2 || !values.isSubset(of: ["0", "1"])
    }

    /// `8-4-4-4-12` hex digits (with or without braces or `urn:uuid:`), as Go's UUID parser takes them.
    static func isUUID(_ text: String) -> Bool {
        var text = Substring(text)
        if text.hasPrefix("urn:uuid:") { text = text.dropFirst(9) }
        if text.hasPrefix("{") && text.hasSuffix("}") { text = text.dropFirst().dropLast() }
        let hex = text.utf8.filter { $0 != UInt8(ascii: "-") }
        let dashes = text.utf8.enumerated().filter { $0.element == UInt8(ascii: "-") }.map(\.offset)
        guard hex.count == 32, dashes.isEmpty || dashes == [8, 13, 18, 23] else { return false }
        return hex.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }
    }

    /// `/detected_fields`: the fields of the newest `line_limit` (default 100) entries of the log query `query` (its
    /// pipeline applies), at most `limit` (default 1000; also `field_limit`) of them:
    /// `{"fields":[{"label":…,"type":…,"cardinality":…,"parsers":[…]|null,"jsonPath":[…]},…],"limit":…}` (`{}` when
    /// none). With `valuesOf`, `/detected_field/<name>/values`: `{"values":[…],"limit":…}` (`{}` when none).
    static func detectedFields(_ request: Request, valuesOf field: String?, api: APIDependencies) async throws -> Response {
        let (tenant, parameters) = try await read(request, api: api)
        let (start, end) = try parameters.range()
        let query = try parameters.query()
        if try parsed(query).isMetric { throw SightlineError(.invalidArgument, "only log selector is supported") }
        let lineLimit = try parameters.positive("line_limit", default: LokiParameters.defaultLimit)
        let limit = try parameters.positive(parameters["limit"].isEmpty && !parameters["field_limit"].isEmpty ? "field_limit" : "limit", default: 1000)
        if let step = try parameters.duration("step"), (end - start) / step >= 11_000 {
            throw SightlineError(
                .invalidArgument, "exceeded maximum resolution of 11,000 points per timeseries. Try increasing the value of the step parameter")
        }
        let result = try await run {
            try LogQLEngine(source: api.logs).range(
                query: query, tenant: tenant, start: Int64(clamping: start), end: Int64(clamping: end), step: 1, limit: lineLimit, direction: .backward)
        }
        guard case .streams(let streams) = result else { throw SightlineError(.invalidArgument, "only log selector is supported") }
        var detector = LogFieldDetector(limit: field == nil ? limit : .max)
        for stream in streams {
            for entry in stream.entries { detector.add(stream: stream.streamLabels, entry: entry) }
        }
        if let field {
            let values = (detector.fields.first { $0.name == field }?.values ?? []).sorted().prefix(limit)
            guard !values.isEmpty else { return json("{}") }
            var out = "{\"values\":"
            PrometheusAPIJSON.appendStrings(Array(values), to: &out)
            return json(out + ",\"limit\":\(limit)}")
        }
        guard !detector.fields.isEmpty else { return json("{}") }
        var out = "{\"fields\":["
        for (index, found) in detector.fields.sorted(by: { $0.name < $1.name }).enumerated() {
            if index > 0 { out += "," }
            out += "{\"label\":"
            JSONText.appendString(found.name, to: &out)
            out += ",\"type\":\"\(found.type)\",\"cardinality\":\(found.values.count),\"parsers\":"
            if found.parsers.isEmpty { out += "null" } else { PrometheusAPIJSON.appendStrings(found.parsers, to: &out) }
            if let path = found.jsonPath {
                out += ",\"jsonPath\":"
                PrometheusAPIJSON.appendStrings(path, to: &out)
            }
            out += "}"
        }
        return json(out + "],\"limit\":\(limit)}")
    }
}
