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
/// each point the last sample of its interval.
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
        for (index, one) in series.enumerated() {
            var shown = one
            if maxDataPoints > 0 && shown.values.count > maxDataPoints {
                shown = shown.consolidated(by: (shown.values.count + maxDataPoints - 1) / maxDataPoints)
            }
            if index > 0 { out += "," }
            out += "{\"target\":" + JSONText.quoted(shown.name) + ",\"tags\":{"
            out += shown.tags.sorted { $0.key < $1.key }.map { JSONText.quoted($0.key) + ":" + JSONText.quoted($0.value) }.joined(separator: ",")
            out += "},\"datapoints\":["
            for (position, value) in shown.values.enumerated() {
                if position > 0 { out += "," }
                out += "[" + (value.flatMap { $0.isFinite ? "\($0)" : nil } ?? "null") + "," + String(shown.time(position)) + "]"
            }
            out += "]}"
        }
        return LokiQueryAPI.json(out + "]")
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
        let query = parameters["query"]
        guard !query.isEmpty else { throw SightlineError(.invalidArgument, "missing parameter query") }
        let format = parameters["format"].isEmpty ? "treejson" : parameters["format"]
        guard format == "treejson" || format == "completer" else {
            throw SightlineError(.invalidArgument, "format \(format) is not supported: use treejson or completer")
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
        // graphite-web's order: the wildcard node, branches, then leaves, each by name; a node that is both is listed
        // once, as a branch.
        let sorted = nodes.sorted { $0.key < $1.key }
        let entries = sorted.filter(\.value.branch) + sorted.filter { !$0.value.branch }
        let basePath = query.split(separator: ".", omittingEmptySubsequences: false).dropLast().map { $0 + "." }.joined()
        func text(_ id: String) -> String { String(id.split(separator: ".", omittingEmptySubsequences: false).last ?? "") }
        var out: String
        if format == "completer" {
            out = "{\"metrics\":[" + entries.map { id, node in
                "{\"path\":" + JSONText.quoted(node.branch ? id + "." : id) + ",\"name\":" + JSONText.quoted(text(id))
                    + ",\"is_leaf\":\"" + (node.branch ? "0" : "1") + "\"}"
            }.joined(separator: ",") + "]}"
        } else {
            func node(_ id: String, _ text: String, branch: Bool) -> String {
                let flag = branch ? 1 : 0
                return "{\"allowChildren\":\(flag),\"expandable\":\(flag),\"leaf\":\(1 - flag),\"id\":" + JSONText.quoted(id) + ",\"text\":"
                    + JSONText.quoted(text) + "}"
            }
            var items = entries.map { id, found in node(id, text(id), branch: found.branch) }
            if parameters["wildcards"] == "1" && entries.count > 1 {
                items.insert(node(basePath + "*", "*", branch: entries.contains { $0.value.branch }), at: 0)
            }
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
