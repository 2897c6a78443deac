import Foundation
import HTTPTypes
package import Hummingbird
import NIOCore
package import SightlineCore
import SightlineIngest
import SightlineQuery

/// Adds the part of Grafana Tempo's HTTP API that Grafana's Tempo data source and `tempo-cli` use, over `traces`.
///
/// | Route | |
/// |---|---|
/// | `GET /api/echo` | `echo`, the data source's health check |
/// | `GET /api/search?q=…&start=…&end=…&limit=…&spss=…&minDuration=…&maxDuration=…` | TraceQL search (``TraceQLQuery``); `tags=` (logfmt) instead of `q` for the older tag search |
/// | `GET /api/v2/traces/{id}` | one trace: Tempo's protobuf `TraceByIDResponse` with `Accept: application/protobuf`, else `{"trace": OTLP/JSON}` |
/// | `GET /api/traces/{id}` with `Accept: application/protobuf` | one trace as Tempo's protobuf `Trace` (other clients get Jaeger's answer on this path) |
/// | `GET /api/v2/search/tags?scope=…`, `GET /api/search/tags` | attribute names by scope, from recent spans |
/// | `GET /api/v2/search/tag/{name}/values`, `GET /api/search/tag/{name}/values` | values of one attribute or intrinsic |
/// | `GET /api/metrics/query_range`, `GET /api/metrics/query` | TraceQL metrics (``TempoMetricsAPI``) |
///
/// A search reads candidate traces newest first, at most ``candidateLimit`` of them, narrowed by what the query's
/// top-level `&&` conditions let the store filter on (``TraceQLQuery/prefilter(tenant:range:limit:)``). Errors are
/// plain text, as Tempo's are.
package func registerTempoRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies, traces: any TraceSource) {
    TempoAPIHandler.addRoutes(to: router, api: api, traces: traces)
}

enum TempoAPIHandler {
    /// Tempo's default number of traces a search returns, and of matched spans shown per trace.
    static let defaultLimit = 20
    static let defaultSpansPerSpanSet = 3
    /// The most candidate traces one search reads.
    static let candidateLimit = 1000
    /// The window a search covers when the request gives no `start`/`end`.
    static let defaultWindowNano: UInt64 = 3_600_000_000_000
    /// How many recent spans the tag routes read.
    static let tagSpanLimit = 10_000
    /// Tempo's intrinsic fields that Sightline's TraceQL reads, as Tempo's tag routes list them.
    static let intrinsics = [
        "duration", "event:name", "kind", "name", "rootName", "rootServiceName", "span:duration", "span:id", "span:kind", "span:name",
        "span:status", "span:statusMessage", "status", "statusMessage", "trace:duration", "trace:id", "trace:rootName",
        "trace:rootService", "traceDuration",
    ]

    static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies, traces: any TraceSource) {
        TempoMetricsAPI.addRoutes(to: router, api: api, traces: traces)
        router.get("/api/echo") { request, _ in
            respond(request, api: api, contentType: "text/plain") { _, _ in Array("echo".utf8) }
        }
        router.get("/api/search") { request, _ in
            respond(request, api: api) { tenant, parameters in Array(try search(tenant: tenant, parameters: parameters, traces: traces).utf8) }
        }
        router.get("/api/v2/traces/:traceID") { request, context in
            let text = context.parameters.get("traceID") ?? ""
            let protobuf = wantsProtobuf(request)
            return respond(request, api: api, contentType: protobuf ? "application/protobuf" : "application/json") { tenant, _ in
                let spans = try trace(text, tenant: tenant, traces: traces)
                if protobuf { return field1(OTLPEncoder.encodeTraces(spans)) }
                var out = "{\"trace\":"
                TempoJSON.appendTrace(spans, to: &out)
                return Array((out + "}").utf8)
            }
        }
        router.get("/api/v2/search/tags") { request, _ in
            respond(request, api: api) { tenant, parameters in
                let names = try attributeNames(tenant: tenant, parameters: parameters, traces: traces)
                let scope = parameters.first("scope") ?? ""
                var scopes: [(String, [String])] = [("resource", names.resource), ("span", names.span), ("event", names.event), ("intrinsic", intrinsics)]
                if !["", "all", "none"].contains(scope) {
                    guard scopes.contains(where: { $0.0 == scope }) else {
                        throw SightlineError(.invalidArgument, "invalid scope \(scope): use resource, span, event, intrinsic, none or all")
                    }
                    scopes = scopes.filter { $0.0 == scope }
                }
                scopes.removeAll { $0.1.isEmpty }
                var out = "{\"scopes\":["
                for (index, (name, tags)) in scopes.enumerated() {
                    if index > 0 { out += "," }
                    out += "{\"name\":" + JSONText.quoted(name) + ",\"tags\":" + TempoJSON.strings(tags) + "}"
                }
                return Array((out + "]}").utf8)
            }
        }
        router.get("/api/search/tags") { request, _ in
            respond(request, api: api) { tenant, parameters in
                let names = try attributeNames(tenant: tenant, parameters: parameters, traces: traces)
                return Array(("{\"tagNames\":" + TempoJSON.strings(Array(Set(names.resource + names.span)).sorted()) + "}").utf8)
            }
        }
        router.get("/api/v2/search/tag/:name/values") { request, context in
            let name = context.parameters.get("name") ?? ""
            return respond(request, api: api) { tenant, parameters in
                let field = try TraceQLQuery.field(named: name)
                let values = try recentSpans(tenant: tenant, parameters: parameters, traces: traces, narrowedBy: parameters.first("q"))
                    .compactMap { field.tagValue(of: $0) }
                var out = "{\"tagValues\":["
                for (index, value) in Set(values).sorted(by: { ($0.type, $0.value) < ($1.type, $1.value) }).enumerated() {
                    if index > 0 { out += "," }
                    out += "{\"type\":" + JSONText.quoted(value.type) + ",\"value\":" + JSONText.quoted(value.value) + "}"
                }
                return Array((out + "]}").utf8)
            }
        }
        router.get("/api/search/tag/:name/values") { request, context in
            let name = context.parameters.get("name") ?? ""
            return respond(request, api: api) { tenant, parameters in
                let field = try TraceQLQuery.field(named: "." + name)
                let values = try recentSpans(tenant: tenant, parameters: parameters, traces: traces).compactMap { field.tagValue(of: $0)?.value }
                return Array(("{\"tagValues\":" + TempoJSON.strings(Set(values).sorted()) + "}").utf8)
            }
        }
    }

    /// Whether the client asks for protobuf (Grafana's Tempo data source does).
    static func wantsProtobuf(_ request: Request) -> Bool {
        request.headers[.accept]?.contains("application/protobuf") ?? false
    }

    /// A trace's spans by its id in `text`.
    /// - Throws: `.invalidArgument` for a malformed id, `.notFound` for an unknown one.
    static func trace(_ text: String, tenant: Tenant, traces: any TraceSource) throws -> [Span] {
        guard let id = JaegerJSON.parseTraceID(text) else {
            throw SightlineError(.invalidArgument, "malformed trace id \"\(text)\": expected 1 to 32 hex digits")
        }
        let spans = try traces.trace(tenant: tenant, id: id)
        guard !spans.isEmpty else { throw SightlineError(.notFound, "trace not found") }
        return spans
    }

    /// `/api/traces/{id}` for Tempo clients: the protobuf `Trace` (`batches = 1`, OTLP's `ResourceSpans`).
    static func protobufTrace(_ request: Request, id: String, api: APIDependencies, traces: any TraceSource) -> Response {
        respond(request, api: api, contentType: "application/protobuf") { tenant, _ in
            OTLPEncoder.encodeTraces(try trace(id, tenant: tenant, traces: traces))
        }
    }

    /// `bytes` as field 1 of a message: Tempo's `TraceByIDResponse` around a `Trace`.
    static func field1(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x0A]
        var length = UInt64(bytes.count)
        while length >= 0x80 {
            out.append(UInt8(length & 0x7F) | 0x80)
            length >>= 7
        }
        out.append(UInt8(length))
        return out + bytes
    }

    // MARK: Search

    /// `/api/search`: the newest traces the query matches, in Tempo's JSON.
    static func search(tenant: Tenant, parameters: JaegerParameters, traces: any TraceSource, now: Date = Date()) throws -> String {
        let text: String
        if let q = parameters.first("q"), !q.isEmpty {
            text = q
        } else if let tags = parameters.first("tags"), !tags.isEmpty {
            text = try traceQL(fromTags: tags)
        } else {
            text = "{}"
        }
        let query = try TraceQLQuery(text)
        guard !query.isMetricsQuery else {
            throw SightlineError(.invalidArgument, "a metrics query is not a search: send it to /api/metrics/query_range or /api/metrics/query")
        }
        let limit = Int(min(try parameters.unsigned("limit") ?? UInt64(defaultLimit), 100_000))
        let spansPerSet = Int(min(try parameters.unsigned("spss") ?? UInt64(defaultSpansPerSpanSet), 1000))
        let minDuration = try parameters.duration("minDuration")
        let maxDuration = try parameters.duration("maxDuration")
        let nowNano = UInt64(max(0, now.timeIntervalSince1970 * 1e9))
        let endNano = try parameters.seconds("end") ?? nowNano
        let startNano = try parameters.seconds("start") ?? (endNano > defaultWindowNano ? endNano - defaultWindowNano : 0)
        guard startNano <= endNano else { throw SightlineError(.invalidArgument, "invalid start: after end") }
        let range = TimeRange(startNano: startNano, endNano: endNano == .max ? .max : endNano + 1)
        // Ask the store for as many candidates as answers wanted, and for more (four times as many, up to the cap) while
        // too few of them match and the store had more: the store's narrowing is usually exact, and when it is not,
        // the newest matches are still found first.
        let prefilter = query.prefilter(tenant: tenant, range: range, limit: limit)
        var out = "{\"traces\":["
        var found = 0
        var inspected = 0
        var seen = Set<TraceID>()
        var asked = max(limit, 1)
        while true {
            var request = prefilter
            request.limit = min(asked, candidateLimit)
            let candidates = try traces.findTraces(request)
            for id in candidates where found < limit && seen.insert(id).inserted {
                let spans = try traces.trace(tenant: tenant, id: id)
                inspected += 1
                let summary = TraceSummary(spans)
                let matched = query.matchingSpans(in: spans, summary: summary)
                guard !matched.isEmpty else { continue }
                if let minDuration, summary.durationNano < minDuration { continue }
                if let maxDuration, summary.durationNano > maxDuration { continue }
                if found > 0 { out += "," }
                found += 1
                TempoJSON.appendSearchHit(id: id, summary: summary, matched: matched, spansPerSet: spansPerSet, to: &out) { query.shownAttributes(of: $0, in: summary) }
            }
            if found >= limit || candidates.count < request.limit || request.limit >= candidateLimit { break }
            asked = request.limit * 4
        }
        out += "],\"metrics\":{\"inspectedTraces\":\(inspected),\"inspectedBytes\":\"0\",\"completedJobs\":1,\"totalJobs\":1}}"
        return out
    }

    /// The older tag search, `tags=service.name=api http.status_code=500` (logfmt), as a TraceQL filter.
    static func traceQL(fromTags text: String) throws -> String {
        var conditions: [String] = []
        var rest = Substring(text)
        while true {
            rest = rest.drop { $0 == " " }
            guard !rest.isEmpty else { break }
            guard let equals = rest.firstIndex(of: "=") else { throw SightlineError(.invalidArgument, "malformed tags \(JSONText.quoted(text)): expected key=value") }
            let key = rest[..<equals]
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                guard let close = rest.firstIndex(of: "\"") else { throw SightlineError(.invalidArgument, "malformed tags \(JSONText.quoted(text)): unterminated quote") }
                value = String(rest[..<close])
                rest = rest[rest.index(after: close)...]
            } else {
                let end = rest.firstIndex(of: " ") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            guard !key.isEmpty, !key.contains(where: { "\" {}".contains($0) }) else {
                throw SightlineError(.invalidArgument, "malformed tags \(JSONText.quoted(text)): bad key \(JSONText.quoted(String(key)))")
            }
            conditions.append(".\(key) = \(JSONText.quoted(value))")
        }
        return "{ " + conditions.joined(separator: " && ") + " }"
    }

    // MARK: Tags

    /// The recent spans of the request's window that the tag routes read; with a TraceQL `q` (Grafana sends the
    /// other filters of the query being edited) only those its spanset filter selects, when it is one filter that
    /// needs no whole trace. Another `q`, or one that does not parse, narrows nothing, as in Tempo.
    static func recentSpans(
        tenant: Tenant, parameters: JaegerParameters, traces: any TraceSource, narrowedBy q: String? = nil, now: Date = Date()
    ) throws -> [Span] {
        let nowNano = UInt64(max(0, now.timeIntervalSince1970 * 1e9))
        let endNano = try parameters.seconds("end") ?? nowNano
        let startNano = try parameters.seconds("start") ?? (endNano > 24 * defaultWindowNano ? endNano - 24 * defaultWindowNano : 0)
        let spans = try traces.spans(
            tenant: tenant, in: TimeRange(startNano: min(startNano, endNano), endNano: endNano == .max ? .max : endNano + 1), limit: tagSpanLimit)
        guard let q, !q.isEmpty, let query = try? TraceQLQuery(q), let selects = query.spanCondition else { return spans }
        return spans.filter(selects)
    }

    /// Attribute names of recent spans, by scope, sorted.
    static func attributeNames(
        tenant: Tenant, parameters: JaegerParameters, traces: any TraceSource
    ) throws -> (resource: [String], span: [String], event: [String]) {
        var resource = Set<String>()
        var span = Set<String>()
        var event = Set<String>()
        for item in try recentSpans(tenant: tenant, parameters: parameters, traces: traces) {
            for attribute in item.resource { resource.insert(attribute.key) }
            for attribute in item.attributes { span.insert(attribute.key) }
            for happening in item.events { for attribute in happening.attributes { event.insert(attribute.key) } }
        }
        return (resource.sorted(), span.sorted(), event.sorted())
    }

    // MARK: Responses

    /// Authenticates, reads the query string and answers with `body`'s bytes, or the error as plain text.
    static func respond(
        _ request: Request, api: APIDependencies, contentType: String = "application/json", _ body: (Tenant, JaegerParameters) throws -> [UInt8]
    ) -> Response {
        do {
            let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
            let parameters = JaegerParameters(query: request.uri.query ?? "")
            let bytes = try body(identity.tenant, parameters)
            return Response(status: .ok, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        } catch {
            let failure = error as? SightlineError ?? SightlineError(.internal, "\(error)")
            var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
            if failure.code == .unauthenticated { headers[.wwwAuthenticate] = "Bearer" }
            return Response(status: failure.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: failure.message + "\n")))
        }
    }
}
