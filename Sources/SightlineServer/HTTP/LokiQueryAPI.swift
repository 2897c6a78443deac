import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import SightlineCore
import SightlineQuery

/// Loki's query API over LogQL, so Grafana's Loki data source and `logcli` work unchanged.
///
/// | Route | Methods | |
/// |---|---|---|
/// | `/loki/api/v1/query` | GET, POST | metric query at one time |
/// | `/loki/api/v1/query_range` | GET, POST | log query (streams) or metric query (matrix) over a range |
/// | `/loki/api/v1/labels`, `/loki/api/v1/label` | GET, POST | stream label names |
/// | `/loki/api/v1/label/<name>/values` | GET | values of a stream label |
/// | `/loki/api/v1/series` | GET, POST | stream label sets matching `match[]` |
/// | `/loki/api/v1/index/stats` | GET, POST | streams, chunks, entries and bytes a query would read |
/// | `/loki/api/v1/index/volume`, `/index/volume_range` | GET, POST | bytes per stream group (see ``addVolumeRoutes(to:api:)``) |
/// | `/loki/api/v1/detected_labels`, `/detected_fields`, `/detected_field/<name>/values` | GET, POST | see ``addDetectedRoutes(to:api:)`` |
/// | `/loki/api/v1/patterns` | GET, POST | log patterns (see ``patterns(_:api:)``) |
/// | `/loki/api/v1/status/buildinfo`, `/drilldown-limits` | GET | what clients probe (see ``addStatusRoutes(to:api:)``) |
/// | `/loki/api/v1/tail` | WebSocket | live tail (see ``LokiTailHandler``) |
///
/// Parameters as Loki reads them (``LokiParameters``); answers in Loki's JSON shape; errors as Loki answers them:
/// 400 with the reason as plain text. Every route needs the `query` role and sees the caller's tenant only.
enum LokiQueryAPI {
    static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        for method in [HTTPRequest.Method.get, .post] {
            router.on("/loki/api/v1/query", method: method) { request, _ in await answer { try await query(request, api: api) } }
            router.on("/loki/api/v1/query_range", method: method) { request, _ in await answer { try await queryRange(request, api: api) } }
            router.on("/loki/api/v1/labels", method: method) { request, _ in await answer { try await labels(request, name: nil, api: api) } }
            router.on("/loki/api/v1/label", method: method) { request, _ in await answer { try await labels(request, name: nil, api: api) } }
            router.on("/loki/api/v1/series", method: method) { request, _ in await answer { try await series(request, api: api) } }
            router.on("/loki/api/v1/index/stats", method: method) { request, _ in await answer { try await stats(request, api: api) } }
        }
        router.get("/loki/api/v1/label/:name/values") { request, context in
            await answer { try await labels(request, name: context.parameters.get("name") ?? "", api: api) }
        }
        addVolumeRoutes(to: router, api: api)
        addDetectedRoutes(to: router, api: api)
        addPatternRoutes(to: router, api: api)
        addStatusRoutes(to: router, api: api)
    }

    // MARK: Queries

    /// `/query`: `query`, `time` (default now), `limit`, `direction`.
    static func query(_ request: Request, api: APIDependencies) async throws -> Response {
        let (tenant, parameters) = try await read(request, api: api)
        let query = try parameters.query()
        let time = try parameters.time("time", default: LokiParameters.nowNano())
        let limit = try parameters.limit()
        let direction = try parameters.direction()
        let engine = LogQLEngine(source: api.logs)
        let result = try await run {
            try engine.instant(query: query, tenant: tenant, time: Int64(clamping: time), limit: limit, direction: direction)
        }
        return json(queryData(result, flags: encodingFlags(request), direction: direction))
    }

    /// `/query_range`: `query`, `start`, `end`, `limit`, `direction`, `step` (default: the range over 250 points).
    static func queryRange(_ request: Request, api: APIDependencies) async throws -> Response {
        let (tenant, parameters) = try await read(request, api: api)
        let query = try parameters.query()
        let (start, end) = try parameters.range()
        let limit = try parameters.limit()
        let direction = try parameters.direction()
        let step = try parameters.duration("step") ?? LokiParameters.defaultStep(start: start, end: end)
        let engine = LogQLEngine(source: api.logs)
        let result = try await run {
            try engine.range(
                query: query, tenant: tenant, start: Int64(clamping: start), end: Int64(clamping: end), step: Int64(clamping: step),
                limit: limit, direction: direction)
        }
        return json(queryData(result, flags: encodingFlags(request), direction: direction))
    }

    // MARK: Labels, series, stats

    /// `/labels` (name nil) and `/label/<name>/values` over `start`/`end` (default: the last hour), optionally
    /// restricted by `query`.
    static func labels(_ request: Request, name: String?, api: APIDependencies) async throws -> Response {
        let (tenant, parameters) = try await read(request, api: api)
        let (start, end) = try parameters.range()
        let selectors = parameters["query"].isEmpty ? [[]] : try matchers(of: parameters["query"])
        let streams = try await run { try Self.streams(api: api, tenant: tenant, selectors: selectors, range: TimeRange(startNano: start, endNano: end)) }
        var values = Set<String>()
        for stream in streams {
            if let name {
                if let value = stream[name] { values.insert(value) }
            } else {
                for label in stream.labels { values.insert(label.name) }
            }
        }
        var out = "{\"status\":\"success\",\"data\":"
        PrometheusAPIJSON.appendStrings(values.sorted(), to: &out)
        out += "}"
        return json(out)
    }

    /// `/series`: the stream label sets matching any `match[]` selector.
    static func series(_ request: Request, api: APIDependencies) async throws -> Response {
        let (tenant, parameters) = try await read(request, api: api)
        let (start, end) = try parameters.range()
        let texts = parameters.parameters.values("match[]") + parameters.parameters.values("match")
        guard !texts.isEmpty else { throw SightlineError(.invalidArgument, "at least one match[] argument must be provided") }
        let selectors = try texts.flatMap { try matchers(of: $0) }
        let streams = try await run { try Self.streams(api: api, tenant: tenant, selectors: selectors, range: TimeRange(startNano: start, endNano: end)) }
        var out = "{\"status\":\"success\",\"data\":["
        for (index, stream) in streams.enumerated() {
            if index > 0 { out += "," }
            JSONText.appendLabels(stream, to: &out)
        }
        out += "]}"
        return json(out)
    }

    /// `/index/stats`: `{"streams":…,"chunks":…,"entries":…,"bytes":…}` for the query's selectors (no envelope, as Loki).
    static func stats(_ request: Request, api: APIDependencies) async throws -> Response {
        let (tenant, parameters) = try await read(request, api: api)
        let (start, end) = try parameters.range()
        let selectors = try matchers(of: try parameters.query())
        let range = TimeRange(startNano: start, endNano: end)
        let total = try await run {
            var total = LogStats()
            for matchers in selectors {
                let stats = try api.logs.stats(tenant: tenant, matchers: matchers, range: range)
                total.streams += stats.streams
                total.chunks += stats.chunks
                total.entries += stats.entries
                total.bytes += stats.bytes
            }
            return total
        }
        return json("{\"streams\":\(total.streams),\"chunks\":\(total.chunks),\"entries\":\(total.entries),\"bytes\":\(total.bytes)}")
    }

    // MARK: Helpers

    /// The stream label sets matching any of `selectors`, sorted.
    static func streams(api: APIDependencies, tenant: Tenant, selectors: [[LabelMatcher]], range: TimeRange) throws -> [Labels] {
        var all = Set<Labels>()
        for matchers in selectors { all.formUnion(try api.logs.streams(tenant: tenant, matchers: matchers, range: range)) }
        return all.sorted()
    }

    /// The stream selectors of a query (a bare selector or any LogQL expression).
    static func matchers(of query: String) throws -> [[LabelMatcher]] {
        try parsed(query).streamMatchers
    }

    /// A parsed query; parse errors as `invalidArgument` with LogQL's message.
    static func parsed(_ query: String) throws -> LogQLExpr {
        do {
            return try LogQLEngine.parse(query)
        } catch {
            throw SightlineError(.invalidArgument, error.description)
        }
    }

    static func read(_ request: Request, api: APIDependencies) async throws -> (Tenant, LokiParameters) {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        return (identity.tenant, LokiParameters(parameters: try await PrometheusAPIParameters.read(request)))
    }

    /// `{"status":"success","data":{"resultType":…,"result":…,"stats":{}}}`; streams with `flags` (Loki's
    /// `X-Loki-Response-Encoding-Flags`) named after `resultType` as `encodingFlags`, and categorised as
    /// ``appendStreams(_:categorizedIn:to:)`` writes them when one is `categorize-labels`.
    static func queryData(_ result: LogQLResult, flags: [String] = [], direction: LogScan.Direction = .backward) -> String {
        var out = "{\"status\":\"success\",\"data\":{\"resultType\":"
        switch result {
        case .streams(let streams):
            out += "\"streams\","
            if !flags.isEmpty {
                out += "\"encodingFlags\":"
                PrometheusAPIJSON.appendStrings(flags, to: &out)
                out += ","
            }
            out += "\"result\":"
            appendStreams(streams, categorizedIn: flags.contains(categorizeLabels) ? direction : nil, to: &out)
        case .vector(let samples):
            let data = PrometheusAPIJSON.queryData(.vector(samples))
            out += data.dropFirst("{\"resultType\":".count).dropLast()
        case .matrix(let series):
            let data = PrometheusAPIJSON.queryData(.matrix(series))
            out += data.dropFirst("{\"resultType\":".count).dropLast()
        case .scalar(let t, let v):
            let data = PrometheusAPIJSON.queryData(.scalar(t: t, v: v))
            out += data.dropFirst("{\"resultType\":".count).dropLast()
        }
        out += ",\"stats\":{}}}"
        return out
    }

    /// The flag that asks for streams of stream labels only, each entry with its structured metadata and parsed labels.
    static let categorizeLabels = "categorize-labels"

    /// The flags of `X-Loki-Response-Encoding-Flags`, a comma list, as Loki reads them (not trimmed).
    static func encodingFlags(_ request: Request) -> [String] {
        guard let name = HTTPField.Name("X-Loki-Response-Encoding-Flags"), let value = request.headers[name] else { return [] }
        return value.split(separator: ",", omittingEmptySubsequences: true).map(String.init)
    }

    /// `[{"stream":{…},"values":[["<ns>","line"],…]},…]`, as Loki writes streams in query results and tail messages.
    /// Categorised (`categorizedIn` the query's direction): one stream per set of stream labels, its entries merged in
    /// the direction's time order, each `["<ns>","line",{"structuredMetadata":{…},"parsed":{…}}]` (`parsed` left out
    /// when empty; the metadata always has the line's `detected_level`, as Loki's does).
    static func appendStreams(_ streams: [LogStreamResult], categorizedIn direction: LogScan.Direction? = nil, to out: inout String) {
        guard let direction else {
            appendStreams(streams, categorized: false, to: &out)
            return
        }
        var merged: [LogStreamResult] = []
        var slots: [Labels: Int] = [:]
        for stream in streams {
            if let slot = slots[stream.streamLabels] {
                merged[slot].entries += stream.entries
            } else {
                slots[stream.streamLabels] = merged.count
                merged.append(LogStreamResult(labels: stream.streamLabels, entries: stream.entries))
            }
        }
        if merged.count < streams.count {
            // Entries of merged streams interleave in time.
            for index in merged.indices {
                merged[index].entries.sort { direction == .backward ? $0.timeNs > $1.timeNs : $0.timeNs < $1.timeNs }
            }
        }
        merged.sort { $0.labels < $1.labels }
        appendStreams(merged, categorized: true, to: &out)
    }

    private static func appendStreams(_ streams: [LogStreamResult], categorized: Bool, to out: inout String) {
        out += "["
        for (index, stream) in streams.enumerated() {
            if index > 0 { out += "," }
            out += "{\"stream\":"
            JSONText.appendLabels(stream.labels, to: &out)
            out += ",\"values\":["
            for (entryIndex, entry) in stream.entries.enumerated() {
                if entryIndex > 0 { out += "," }
                out += "[\"\(entry.timeNs)\","
                JSONText.appendString(entry.line, to: &out)
                if categorized {
                    out += ",{\"structuredMetadata\":"
                    JSONText.appendLabels(entry.structuredMetadataWithLevel(stream: stream.labels), to: &out)
                    if !entry.parsed.labels.isEmpty {
                        out += ",\"parsed\":"
                        JSONText.appendLabels(entry.parsed, to: &out)
                    }
                    out += "}"
                }
                out += "]"
            }
            out += "]}"
        }
        out += "]"
    }

    static func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// Runs a query on NIO's blocking thread pool, off the event loops and the cooperative pool.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive { try body() }
    }

    /// The response, or the error as Loki answers it: the status of its code and the message as plain text.
    static func answer(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch {
            let failure = error as? SightlineError ?? SightlineError(.internal, "\(error)")
            var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
            if failure.code == .unauthenticated { headers[.wwwAuthenticate] = "Bearer" }
            // Loki answers its query limits (entries, series, points) with 400, not 413.
            let status: HTTPResponse.Status = failure.code == .tooLarge ? .badRequest : failure.status
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: failure.message + "\n")))
        }
    }
}
