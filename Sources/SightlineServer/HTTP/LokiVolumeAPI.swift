import Foundation
import Hummingbird
import SightlineCore
import SightlineQuery

/// Loki's log volume routes, which Grafana's Logs Drilldown lists services and labels with.
///
/// | Route | Methods | |
/// |---|---|---|
/// | `/loki/api/v1/index/volume` | GET, POST | bytes of the streams' lines over `[start, end]`, a vector |
/// | `/loki/api/v1/index/volume_range` | GET, POST | the same per `step`, a matrix |
///
/// Parameters as Loki reads them: `query` (a stream selector, or `{}` for every stream), `start`/`end` (default the
/// last hour), `step` (range only), `limit` (default 100: the largest groups, per bucket), `targetLabels` (a comma
/// list) and `aggregateBy` (`series`, the default, or `labels`).
///
/// The groups: by default a stream counts under its values of the selector's label names (every label of it for
/// `{}`); with `targetLabels`, under its values of those labels, and only streams that have them count. With
/// `aggregateBy=labels` a stream's bytes count under each label name (`{"job":""}`) it has of the target labels, or
/// of all its labels without them. Bytes are those of the lines, counted exactly (Loki estimates them from its chunk
/// index), grouped as `sum by (…) (bytes_over_time(…))` groups them.
extension LokiQueryAPI {
    static func addVolumeRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        for method in [HTTPRequest.Method.get, .post] {
            router.on("/loki/api/v1/index/volume", method: method) { request, _ in await answer { try await volume(request, ranged: false, api: api) } }
            router.on("/loki/api/v1/index/volume_range", method: method) { request, _ in
                await answer { try await volume(request, ranged: true, api: api) }
            }
        }
    }

    /// One group of a volume answer: its JSON metric, the name it sorts by, and its points (ms, bytes).
    struct VolumeSeries {
        var metric: String
        var name: String
        var points: [(t: Int64, v: Double)]
    }

    static func volume(_ request: Request, ranged: Bool, api: APIDependencies) async throws -> Response {
        let (tenant, parameters) = try await read(request, api: api)
        let (start, end) = try parameters.range()
        let query = try parameters.query()
        var matchers = query.trimmingCharacters(in: .whitespaces) == "{}" ? [] : try selectorMatchers(query)
        let limit = parameters["limit"] == "0" ? LokiParameters.defaultLimit : try parameters.limit()
        let targets = parameters["targetLabels"].split(separator: ",", omittingEmptySubsequences: true).map(String.init)
        let byLabel: Bool
        switch parameters["aggregateBy"] {
        case "", "series": byLabel = false
        case "labels": byLabel = true
        default: throw SightlineError(.invalidArgument, "invalid aggregation option: aggregateBy must be series or labels")
        }
        let step = ranged ? try parameters.duration("step") ?? LokiParameters.defaultStep(start: start, end: end) : nil
        for target in targets where !matchers.contains(where: { $0.name == target }) {
            matchers.append(try LabelMatcher(target, .regexMatch, ".+"))
        }
        let range = TimeRange(startNano: start, endNano: end)
        let selectorNames = matchers.map(\.name)
        let selector = matchers
        let found = try await run {
            var groupBy = targets
            if targets.isEmpty {
                if byLabel || selector.isEmpty {
                    let streams = try api.logs.streams(tenant: tenant, matchers: selector, range: range)
                    groupBy = Set(streams.flatMap { $0.labels.map(\.name) }).sorted()
                } else {
                    groupBy = selectorNames
                }
            }
            groupBy = Array(Set(groupBy)).sorted()
            return try LogQLEngine(source: api.logs).volume(
                tenant: tenant, matchers: selector, groupBy: groupBy, start: Int64(clamping: start), end: Int64(clamping: end),
                step: step.map { Int64(clamping: $0) })
        }
        var groups: [VolumeSeries]
        if byLabel {
            var byName: [String: [Int64: Double]] = [:]
            for series in found {
                for label in series.metric.labels {
                    for point in series.points { byName[label.name, default: [:]][point.t, default: 0] += point.v }
                }
            }
            groups = byName.map { name, points in
                var metric = "{"
                JSONText.appendString(name, to: &metric)
                metric += ":\"\"}"
                return VolumeSeries(metric: metric, name: name, points: points.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            }
        } else {
            groups = found.map { series in
                var metric = ""
                JSONText.appendLabels(series.metric, to: &metric)
                return VolumeSeries(metric: metric, name: series.metric.description, points: series.points.map { ($0.t, $0.v) })
            }
        }
        return json(volumeData(topGroups(groups, limit: limit)))
    }

    /// The groups among the `limit` largest of some bucket, each with the points where it is; largest first (by
    /// their first point), then by name.
    static func topGroups(_ groups: [VolumeSeries], limit: Int) -> [VolumeSeries] {
        var ranked: [Int64: [(group: Int, v: Double)]] = [:]
        for (index, group) in groups.enumerated() {
            for point in group.points { ranked[point.t, default: []].append((index, point.v)) }
        }
        struct Kept: Hashable {
            var group: Int
            var t: Int64
        }
        var kept = Set<Kept>()
        for (t, entries) in ranked {
            let top = entries.sorted { $0.v != $1.v ? $0.v > $1.v : groups[$0.group].name < groups[$1.group].name }.prefix(limit)
            for entry in top { kept.insert(Kept(group: entry.group, t: t)) }
        }
        var out: [VolumeSeries] = []
        for (index, var group) in groups.enumerated() {
            group.points = group.points.filter { kept.contains(Kept(group: index, t: $0.t)) }
            if !group.points.isEmpty { out.append(group) }
        }
        return out.sorted { a, b in
            let (x, y) = (a.points[0].v, b.points[0].v)
            return x != y ? x > y : a.name < b.name
        }
    }

    /// `{"status":"success","data":{"resultType":…,"result":[…],"stats":{}}}`: a matrix when a group has more than one
    /// point, else a vector.
    static func volumeData(_ groups: [VolumeSeries]) -> String {
        let isMatrix = groups.contains { $0.points.count > 1 }
        var out: [UInt8] = Array("{\"status\":\"success\",\"data\":{\"resultType\":\"\(isMatrix ? "matrix" : "vector")\",\"result\":[".utf8)
        for (index, group) in groups.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: "{\"metric\":".utf8)
            out.append(contentsOf: group.metric.utf8)
            out.append(contentsOf: (isMatrix ? ",\"values\":[" : ",\"value\":").utf8)
            for (pointIndex, point) in group.points.enumerated() {
                if pointIndex > 0 { out.append(UInt8(ascii: ",")) }
                PrometheusAPIJSON.appendPoint(t: point.t, value: point.v, to: &out)
            }
            out.append(contentsOf: (isMatrix ? "]}" : "}").utf8)
        }
        out.append(contentsOf: "],\"stats\":{}}}".utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// The matchers of a query that must be a stream selector alone, as Loki's index routes take it.
    /// - Throws: `invalidArgument` with LogQL's parse error, or Loki's message for a pipeline or metric query.
    static func selectorMatchers(_ query: String) throws -> [LabelMatcher] {
        guard case .log(let selector) = try parsed(query), selector.stages.isEmpty else {
            throw SightlineError(.invalidArgument, "only label matchers are supported")
        }
        return selector.matchers
    }
}
