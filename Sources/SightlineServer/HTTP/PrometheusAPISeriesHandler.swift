import HTTPTypes
import Hummingbird
import NIOCore
import SightlineCore
import SightlineQuery

/// The series and label endpoints of the Prometheus HTTP API: `/api/v1/series`, `/api/v1/labels`,
/// `/api/v1/label/<name>/values` and `/api/v1/metadata`. Every answer covers the caller's tenant only.
///
/// Without `start` and `end` the range is all time (clamped to ``PrometheusAPITime/minMs`` …
/// ``PrometheusAPITime/maxMs``). Several `match[]` selectors are a union.
enum PrometheusAPISeriesHandler {
    /// `/api/v1/series`: `match[]` (one or more, required), `start`, `end`, `limit`; the label sets, sorted.
    static func series(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        guard !parameters.values("match[]").isEmpty else {
            throw PrometheusAPIError(.badData, "no match[] parameter provided")
        }
        let limit = try parameters.limit()
        let (startMs, endMs) = try range(parameters)
        let matcherSets = try parameters.matcherSets(wrapped: true)
        var found = Set<Labels>()
        do {
            for matchers in matcherSets {
                for series in try api.samples.select(tenant: identity.tenant, matchers: matchers, startMs: startMs, endMs: endMs)
                where !series.timestampsMs.isEmpty {
                    found.insert(series.labels)
                }
            }
        } catch {
            throw PrometheusAPIError(storage: error)
        }
        var sorted = found.sorted()
        var warnings: [String] = []
        if limit > 0 && sorted.count > limit {
            sorted.removeLast(sorted.count - limit)
            warnings.append("results truncated due to limit")
        }
        var data = "["
        for (index, labels) in sorted.enumerated() {
            if index > 0 { data += "," }
            JSONText.appendLabels(labels, to: &data)
        }
        data += "]"
        return PrometheusAPIJSON.success(data: data, warnings: warnings)
    }

    /// `/api/v1/labels`: `match[]` (optional), `start`, `end`, `limit`; the label names, sorted.
    static func labelNames(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        let limit = try parameters.limit()
        let (startMs, endMs) = try range(parameters)
        let matcherSets = try parameters.matcherSets(wrapped: false)
        var names = Set<String>()
        do {
            for matchers in matcherSets.isEmpty ? [[]] : matcherSets {
                names.formUnion(try api.samples.labelNames(tenant: identity.tenant, matchers: matchers, startMs: startMs, endMs: endMs))
            }
        } catch {
            throw PrometheusAPIError(storage: error)
        }
        return stringList(names.sorted(), limit: limit)
    }

    /// `/api/v1/label/<name>/values`: `match[]` (optional), `start`, `end`, `limit`; the values, sorted. A name
    /// written `U__…` is unescaped first, as Prometheus does for UTF-8 names in paths.
    static func labelValues(_ request: Request, context: SightlineRequestContext, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let raw = context.parameters.get("name") ?? ""
        var name = PrometheusAPIParameters.unescape(Substring(raw.replacing("+", with: "%2B"))) ?? raw
        if name.hasPrefix("U__") { name = unescapeName(name) }
        guard !name.isEmpty else {
            throw PrometheusAPIError(.badData, "invalid label name: \(GoText.quote(name))")
        }
        let parameters = try await PrometheusAPIParameters.read(request)
        let limit = try parameters.limit()
        let (startMs, endMs) = try range(parameters)
        let matcherSets = try parameters.matcherSets(wrapped: false)
        var values = Set<String>()
        do {
            for matchers in matcherSets.isEmpty ? [[]] : matcherSets {
                values.formUnion(
                    try api.samples.labelValues(tenant: identity.tenant, name: name, matchers: matchers, startMs: startMs, endMs: endMs))
            }
        } catch {
            throw PrometheusAPIError(storage: error)
        }
        return stringList(values.sorted(), limit: limit)
    }

    /// `/api/v1/metadata`: `metric`, `limit` (metric families), `limit_per_metric`;
    /// `{"<family>":[{"type":"counter","help":"…","unit":""}]}`.
    static func metadata(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        var limit = -1
        if !parameters["limit"].isEmpty {
            guard let value = Int(parameters["limit"]) else { throw PrometheusAPIError(.badData, "limit must be a number") }
            limit = value
        }
        var limitPerMetric = -1
        if !parameters["limit_per_metric"].isEmpty {
            guard let value = Int(parameters["limit_per_metric"]) else {
                throw PrometheusAPIError(.badData, "limit_per_metric must be a number")
            }
            limitPerMetric = value
        }
        let metric = parameters["metric"]
        let entries: [MetricMetadata]
        do {
            entries = try api.samples.metadata(tenant: identity.tenant, metric: metric.isEmpty ? nil : metric)
        } catch {
            throw PrometheusAPIError(storage: error)
        }
        var families: [String: [MetricMetadata]] = [:]
        for entry in entries {
            var list = families[entry.metricFamily, default: []]
            let duplicate = list.contains { $0.kind == entry.kind && $0.help == entry.help && $0.unit == entry.unit }
            if duplicate || (limitPerMetric > 0 && list.count >= limitPerMetric) { continue }
            list.append(entry)
            families[entry.metricFamily] = list
        }
        var data = "{"
        var written = 0
        for family in families.keys.sorted() {
            if limit >= 0 && written >= limit { break }
            if written > 0 { data += "," }
            written += 1
            JSONText.appendString(family, to: &data)
            data += ":["
            for (index, entry) in (families[family] ?? []).enumerated() {
                if index > 0 { data += "," }
                data += "{\"type\":"
                JSONText.appendString(entry.kind.description, to: &data)
                data += ",\"help\":"
                JSONText.appendString(entry.help, to: &data)
                data += ",\"unit\":"
                JSONText.appendString(entry.unit, to: &data)
                data += "}"
            }
            data += "]"
        }
        data += "}"
        return PrometheusAPIJSON.success(data: data)
    }

    // MARK: - Helpers

    /// `start` and `end`, defaulting to all time, clamped so that stores can subtract them safely.
    static func range(_ parameters: PrometheusAPIParameters) throws -> (startMs: Int64, endMs: Int64) {
        let startMs = try parameters.time("start", default: PrometheusAPITime.minMs)
        let endMs = try parameters.time("end", default: PrometheusAPITime.maxMs)
        return (
            min(max(startMs, PrometheusAPITime.minMs), PrometheusAPITime.maxMs),
            min(max(endMs, PrometheusAPITime.minMs), PrometheusAPITime.maxMs)
        )
    }

    /// A sorted string list, cut to `limit` (0: no limit) with Prometheus' warning.
    static func stringList(_ strings: [String], limit: Int) -> Response {
        var strings = strings
        var warnings: [String] = []
        if limit > 0 && strings.count > limit {
            strings.removeLast(strings.count - limit)
            warnings.append("results truncated due to limit")
        }
        var data = ""
        PrometheusAPIJSON.appendStrings(strings, to: &data)
        return PrometheusAPIJSON.success(data: data, warnings: warnings)
    }

    /// Prometheus' `UnescapeName` for value-encoding escaping: after `U__`, `__` is `_` and `_<hex>_` is the code
    /// point `<hex>` (at most six digits); other bytes stand for themselves. A malformed name is returned as given.
    static func unescapeName(_ name: String) -> String {
        guard name.hasPrefix("U__") else { return name }
        let bytes = Array(name.utf8.dropFirst(3))
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "_") else {
                out.append(bytes[index])
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { return name }
            if bytes[index] == UInt8(ascii: "_") {
                out.append(UInt8(ascii: "_"))
                index += 1
                continue
            }
            var code: UInt32 = 0
            var digits = 0
            while true {
                guard index < bytes.count, digits < 6 else { return name }
                if bytes[index] == UInt8(ascii: "_") { break }
                guard let digit = UInt32(String(UnicodeScalar(bytes[index])), radix: 16) else { return name }
                code = code * 16 + digit
                digits += 1
                index += 1
            }
            guard let scalar = Unicode.Scalar(code) else { return name }
            out += Array(String(Character(scalar)).utf8)
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
