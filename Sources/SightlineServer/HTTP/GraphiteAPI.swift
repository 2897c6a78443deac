import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SightlineCore
import SightlineQuery

/// Graphite's HTTP API over the metric store, so Grafana's Graphite data source and Graphite tools read what
/// Graphite's plaintext protocol (and any other) wrote, with series names (`__name__`) as dotted paths.
///
/// | Route (also under `/graphite`) | Methods | |
/// |---|---|---|
/// | `/render` | GET, POST | `target` (repeated), `from`, `until`, `maxDataPoints`, `storage_step`; `format=json` only |
/// | `/metrics/find` | GET, POST | the nodes one level below `query`, `format=treejson` (default) or `completer` |
/// | `/metrics/expand` | GET, POST | the names `query` (repeated) matches, `leavesOnly`, `groupByExpr` |
/// | `/metrics/index.json` | GET | every name |
/// | `/tags/autoComplete/tags`, `/tags/autoComplete/values` | GET, POST | tag names, or one tag's values, of the series `expr` selects |
///
/// Every route needs the `query` role and sees the caller's tenant. Graphite keeps points at a fixed resolution and
/// raw samples have none: a render puts them on a grid of `storage_step` (default 10 s, as VictoriaMetrics does),
/// each point the last sample of its interval; `maxDataPoints` merges points as graphite-web does.
enum GraphiteAPI {
    static let defaultStorageStep: Int64 = 10

    static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        for prefix in ["", "/graphite"] {
            for method in [HTTPRequest.Method.get, .post] {
                router.on(RouterPath(prefix + "/render"), method: method) { request, _ in try await render(request, api: api) }
                router.on(RouterPath(prefix + "/metrics/find"), method: method) { request, _ in try await find(request, api: api) }
                router.on(RouterPath(prefix + "/metrics/expand"), method: method) { request, _ in try await expand(request, api: api) }
            }
            router.get(RouterPath(prefix + "/metrics/index.json")) { request, _ in try await index(request, api: api) }
            for method in [HTTPRequest.Method.get, .post] {
                router.on(RouterPath(prefix + "/tags/autoComplete/tags"), method: method) { request, _ in
                    try await autoComplete(request, api: api, values: false)
                }
                router.on(RouterPath(prefix + "/tags/autoComplete/values"), method: method) { request, _ in
                    try await autoComplete(request, api: api, values: true)
                }
            }
        }
    }

    private static func nowSeconds() -> Int64 { Int64(Date().timeIntervalSince1970) }

    // MARK: /render

    static func render(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        let format = parameters["format"].isEmpty ? "json" : parameters["format"]
        guard format == "json" else { throw SightlineError(.invalidArgument, "format \(format) is not supported: use format=json") }
        let now = nowSeconds()
        let from = parameters["from"].isEmpty ? now - 86400 : try GraphiteTime.parse(parameters["from"], parameter: "from", now: now)
        let until = parameters["until"].isEmpty ? now : try GraphiteTime.parse(parameters["until"], parameter: "until", now: now)
        guard from < until else { throw SightlineError(.invalidArgument, "from (\(from)) must be before until (\(until))") }
        var step = defaultStorageStep
        if !parameters["storage_step"].isEmpty {
            let text = parameters["storage_step"]
            step = Int64(text) ?? (try? GraphiteTime.interval(text)) ?? 0
            guard step > 0 else { throw SightlineError(.invalidArgument, "invalid storage_step \"\(text)\": use seconds or an interval such as 1min") }
        }
        guard (until - from) / step <= 1_000_000 else {
            throw SightlineError(.invalidArgument, "from-until spans \((until - from) / step) points of \(step)s, more than 1000000: raise storage_step")
        }
        var maxDataPoints = 0
        if !parameters["maxDataPoints"].isEmpty {
            guard let value = Int(parameters["maxDataPoints"]), value > 0 else {
                throw SightlineError(.invalidArgument, "invalid maxDataPoints \"\(parameters["maxDataPoints"])\": use a positive whole number")
            }
            maxDataPoints = value
        }
        let targets = try parameters.values("target").filter { !$0.isEmpty }.map(GraphiteTarget.parse)
        let renderer = GraphiteRender(querier: api.samples, tenant: identity.tenant, from: from, until: until, storageStep: step)
        let series = try await LokiQueryAPI.run { try targets.flatMap { try renderer.evaluate($0) } }
        var out = "["
        for (index, (one, points)) in zip(series, datapoints(series, maxDataPoints: maxDataPoints)).enumerated() {
            if index > 0 { out += "," }
            out += "{\"target\":" + JSONText.quoted(one.name) + ",\"tags\":{"
            out += one.tags.sorted { $0.key < $1.key }.map { JSONText.quoted($0.key) + ":" + JSONText.quoted($0.value) }.joined(separator: ",")
            out += "},\"datapoints\":["
            for (position, (value, time)) in points.enumerated() {
                if position > 0 { out += "," }
                out += "[" + (value.flatMap { $0.isFinite ? "\($0)" : nil } ?? "null") + "," + String(time) + "]"
            }
            out += "]}"
        }
        return LokiQueryAPI.json(out + "]")
    }

    /// Each series' points as `/render` answers them, with graphite-web's `maxDataPoints`: when the response's time
    /// range holds more steps than that, `ceil(steps / maxDataPoints)` points are merged into one (by the series'
    /// consolidation), the start nudged so the merged bands fall on multiples of their width whatever the request's
    /// exact range (graphite-web drops the values before the nudged start but one), and the points stamped from the
    /// new start; one data point wanted is the whole series at its start.
    static func datapoints(_ series: [GraphiteSeries], maxDataPoints: Int) -> [[(Double?, Int64)]] {
        func stamped(_ values: [Double?], start: Int64, step: Int64, end: Int64) -> [(Double?, Int64)] {
            Array(zip(values, stride(from: start, through: end, by: Int(step))))
        }
        guard maxDataPoints > 0, let startTime = series.map(\.start).min(), let endTime = series.map({ $0.time($0.values.count) }).max() else {
            return series.map { stamped($0.values, start: $0.start, step: $0.step, end: $0.time($0.values.count)) }
        }
        return series.map { one in
            let end = one.time(one.values.count)
            if maxDataPoints == 1 {
                let whole = one.consolidated(by: max(1, one.values.count))
                return whole.values.prefix(1).map { ($0, one.start) }
            }
            let steps = Double(endTime - startTime) / Double(one.step)
            guard Double(maxDataPoints) < steps else { return stamped(one.values, start: one.start, step: one.step, end: end) }
            let perPoint = Int((steps / Double(maxDataPoints)).rounded(.up))
            let width = Int64(perPoint) * one.step
            let nudge = width + CivilTime.floorModulo(one.start, one.step) - CivilTime.floorModulo(one.start, width)
            var shifted = one
            shifted.start = one.start + nudge
            shifted.values = Array(one.values.dropFirst(max(0, Int(nudge / one.step) - 1)))
            let merged = shifted.consolidated(by: perPoint)
            return stamped(merged.values, start: merged.start, step: merged.step, end: end)
        }
    }

    // MARK: /metrics/*

    /// Every stored name of the tenant matching `glob` node by node for its first nodes (all of them when `prefix`
    /// is false), over `[from, until]` (all time by default).
    private static func names(_ glob: String, prefix: Bool, parameters: PrometheusAPIParameters, tenant: Tenant, api: APIDependencies) async throws -> [String] {
        let now = nowSeconds()
        let from = parameters["from"].isEmpty ? nil : try GraphiteTime.parse(parameters["from"], parameter: "from", now: now)
        let until = parameters["until"].isEmpty ? nil : try GraphiteTime.parse(parameters["until"], parameter: "until", now: now)
        let regex = GraphiteGlob.regex(glob) + (prefix ? "(?:\\..*)?" : "")
        let matcher = try LabelMatcher(Labels.metricName, .regexMatch, regex)
        let querier = api.samples
        return try await LokiQueryAPI.run {
            try querier.labelValues(
                tenant: tenant, name: Labels.metricName, matchers: [matcher], startMs: from.map { $0 * 1000 } ?? PrometheusAPITime.minMs,
                endMs: until.map { $0 * 1000 } ?? PrometheusAPITime.maxMs)
        }
    }

    static func find(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        var query = parameters["query"]
        guard !query.isEmpty else { throw SightlineError(.invalidArgument, "missing parameter query") }
        let format = parameters["format"].isEmpty ? "treejson" : parameters["format"]
        guard format == "treejson" || format == "completer" else {
            throw SightlineError(.invalidArgument, "format \(format) is not supported: use treejson or completer")
        }
        if format == "completer" {
            // graphite-web completes what was typed: an empty node matches anything, and so does the rest of the last.
            query = query.replacingOccurrences(of: "..", with: "*.")
            if !query.hasSuffix("*") { query += "*" }
        }
        let depth = query.split(separator: ".", omittingEmptySubsequences: false).count
        // Each node one level below the query, as a leaf (a stored name) and as a branch (a prefix of longer ones).
        var nodes: [String: (leaf: Bool, branch: Bool)] = [:]
        for name in try await names(query, prefix: true, parameters: parameters, tenant: identity.tenant, api: api) {
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count >= depth else { continue }
            let id = parts.prefix(depth).joined(separator: ".")
            var node = nodes[id] ?? (false, false)
            if parts.count == depth { node.leaf = true } else { node.branch = true }
            nodes[id] = node
        }
        func text(_ id: String) -> String { String(id.split(separator: ".", omittingEmptySubsequences: false).last ?? "") }
        // Every node found, a branch and a leaf of the same path being two: branches first, each kind by path.
        let sorted = nodes.sorted { $0.key < $1.key }
        let found = sorted.filter(\.value.branch).map { ($0.key, true) } + sorted.filter(\.value.leaf).map { ($0.key, false) }
        let wildcard = parameters["wildcards"] == "1" && found.count > 1
        var out: String
        if format == "completer" {
            // Real paths, a branch's with a trailing dot, as graphite-web lists them.
            var items = found.map { id, branch in
                "{\"path\":" + JSONText.quoted(branch ? id + "." : id) + ",\"name\":" + JSONText.quoted(text(id)) + ",\"is_leaf\":\""
                    + (branch ? "0" : "1") + "\"}"
            }
            if wildcard { items.append("{\"name\":\"*\"}") }
            out = "{\"metrics\":[" + items.joined(separator: ",") + "]}"
        } else {
            // graphite-web's tree: one node per name, under the query's own prefix (`servers.*.disk.sda` stands for every
            // host's `sda`), a name that is both a branch and a leaf once as a branch; the wildcard node first.
            let basePath = query.split(separator: ".", omittingEmptySubsequences: false).dropLast().map { $0 + "." }.joined()
            func node(_ id: String, _ text: String, branch: Bool) -> String {
                let flag = branch ? 1 : 0
                return "{\"allowChildren\":\(flag),\"expandable\":\(flag),\"leaf\":\(1 - flag),\"id\":" + JSONText.quoted(id) + ",\"text\":"
                    + JSONText.quoted(text) + "}"
            }
            var names: [String: Bool] = [:]
            for (id, branch) in found { names[text(id), default: false] = names[text(id), default: false] || branch }
            let ordered = names.filter(\.value).keys.sorted() + names.filter { !$0.value }.keys.sorted()
            var items = ordered.map { node(basePath + $0, $0, branch: names[$0]!) }
            if wildcard { items.insert(node(basePath + "*", "*", branch: found.contains { $0.1 }), at: 0) }
            out = "[" + items.joined(separator: ",") + "]"
        }
        return LokiQueryAPI.json(out)
    }

    static func expand(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        let queries = parameters.values("query").filter { !$0.isEmpty }
        guard !queries.isEmpty else { throw SightlineError(.invalidArgument, "missing parameter query") }
        let leavesOnly = parameters["leavesOnly"] == "1"
        var groups: [(String, [String])] = []
        for query in queries {
            let depth = query.split(separator: ".", omittingEmptySubsequences: false).count
            var found = Set<String>()
            for name in try await names(query, prefix: !leavesOnly, parameters: parameters, tenant: identity.tenant, api: api) {
                let parts = name.split(separator: ".", omittingEmptySubsequences: false)
                guard parts.count >= depth else { continue }
                found.insert(parts.prefix(depth).joined(separator: "."))
            }
            groups.append((query, found.sorted()))
        }
        let out: String
        if parameters["groupByExpr"] == "1" {
            out = "{\"results\":{" + groups.map { JSONText.quoted($0.0) + ":" + strings($0.1) }.joined(separator: ",") + "}}"
        } else {
            out = "{\"results\":" + strings(Array(Set(groups.flatMap(\.1))).sorted()) + "}"
        }
        return LokiQueryAPI.json(out)
    }

    static func index(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        let all = try await names("*", prefix: true, parameters: parameters, tenant: identity.tenant, api: api)
        return LokiQueryAPI.json(strings(all.sorted()))
    }

    /// `/tags/autoComplete/tags` (`tagPrefix`) and `/tags/autoComplete/values` (`tag`, `valuePrefix`): sorted, over
    /// the series every `expr` (`seriesByTag` expressions) selects, at most `limit` (default 100).
    static func autoComplete(_ request: Request, api: APIDependencies, values: Bool) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        let matchers = try parameters.values("expr").filter { !$0.isEmpty }.map(GraphiteRender.tagMatcher)
        var limit = 100
        if !parameters["limit"].isEmpty {
            guard let value = Int(parameters["limit"]), value > 0 else {
                throw SightlineError(.invalidArgument, "invalid limit \"\(parameters["limit"])\": use a positive whole number")
            }
            limit = value
        }
        let tag = parameters["tag"]
        guard !values || !tag.isEmpty else { throw SightlineError(.invalidArgument, "missing parameter tag") }
        let prefix = values ? parameters["valuePrefix"] : parameters["tagPrefix"]
        let querier = api.samples
        let tenant = identity.tenant
        let found = try await LokiQueryAPI.run {
            if values {
                return try querier.labelValues(
                    tenant: tenant, name: tag == "name" ? Labels.metricName : tag, matchers: matchers, startMs: PrometheusAPITime.minMs,
                    endMs: PrometheusAPITime.maxMs)
            }
            return try querier.labelNames(tenant: tenant, matchers: matchers, startMs: PrometheusAPITime.minMs, endMs: PrometheusAPITime.maxMs)
                .map { $0 == Labels.metricName ? "name" : $0 }
        }
        return LokiQueryAPI.json(strings(Array(found.filter { $0.hasPrefix(prefix) }.sorted().prefix(limit))))
    }

    private static func strings(_ values: [String]) -> String {
        var out = ""
        PrometheusAPIJSON.appendStrings(values, to: &out)
        return out
    }
}
