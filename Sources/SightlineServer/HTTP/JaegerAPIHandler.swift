import Foundation
import HTTPTypes
package import Hummingbird
import NIOCore
package import SightlineCore
import SightlineIngest

/// Adds Jaeger's HTTP query API, what the Jaeger UI and Grafana's Jaeger data source call, over `traces`.
///
/// | Route | |
/// |---|---|
/// | `GET /api/services` | service names |
/// | `GET /api/services/{service}/operations` | operation names of a service |
/// | `GET /api/operations?service=…&spanKind=…` | operations with their kinds |
/// | `GET /api/traces?service=…&operation=…&tags=…&minDuration=…&maxDuration=…&start=…&end=…&lookback=…&limit=…` | search |
/// | `GET /api/traces?traceID=…&traceID=…` | several traces by id |
/// | `GET /api/traces/{traceID}` | one trace; 404 when unknown |
/// | `GET /api/dependencies?endTs=…&lookback=…` | service → service call counts |
///
/// Every route needs the `query` role when tokens are configured and sees the caller's tenant only. Answers and errors
/// use Jaeger's envelope (``JaegerJSON``).
/// - Parameters:
///   - router: The server's router.
///   - api: What every handler shares (authentication).
///   - traces: The trace store to query.
package func registerJaegerRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies, traces: any TraceSource) {
    JaegerAPIHandler.addRoutes(to: router, api: api, traces: traces)
}

/// The handlers behind ``registerJaegerRoutes(to:api:traces:)``.
enum JaegerAPIHandler {
    /// Jaeger's default for `limit` when the request has none.
    static let defaultLimit = 100
    /// Jaeger's default search window when the request gives neither `start` nor `lookback`.
    static let defaultLookbackNano: UInt64 = 48 * 3_600_000_000_000
    /// Jaeger's default window of `/api/dependencies`.
    static let defaultDependencyLookbackMs: UInt64 = 24 * 3_600_000

    static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies, traces: any TraceSource) {
        router.get("/api/services") { request, _ in
            respond(request, api: api) { tenant, _ in
                JaegerJSON.strings(try traces.services(tenant: tenant, range: .all))
            }
        }
        router.get("/api/services/:service/operations") { request, context in
            let service = context.parameters.get("service") ?? ""
            return respond(request, api: api) { tenant, _ in
                let operations = try traces.operations(tenant: tenant, service: service, kind: nil, range: .all)
                return JaegerJSON.strings(Array(Set(operations.map(\.name))).sorted())
            }
        }
        router.get("/api/operations") { request, _ in
            respond(request, api: api) { tenant, parameters in
                guard let service = parameters.first("service"), !service.isEmpty else {
                    throw SightlineError(.invalidArgument, "parameter 'service' is required")
                }
                var kind: Span.Kind?
                if let text = parameters.first("spanKind"), !text.isEmpty {
                    guard let parsed = Span.Kind(jaegerName: text) else {
                        throw SightlineError(.invalidArgument, "unsupported spanKind \"\(text)\": use server, client, producer, consumer or internal")
                    }
                    kind = parsed
                }
                return JaegerJSON.operations(try traces.operations(tenant: tenant, service: service, kind: kind, range: .all))
            }
        }
        router.get("/api/traces") { request, _ in
            respond(request, api: api) { tenant, parameters in try search(tenant: tenant, parameters: parameters, traces: traces) }
        }
        router.get("/api/traces/:traceID") { request, context in
            let text = context.parameters.get("traceID") ?? ""
            // Tempo's clients (Grafana's Tempo data source) ask this path for protobuf.
            if TempoAPIHandler.wantsProtobuf(request) { return TempoAPIHandler.protobufTrace(request, id: text, api: api, traces: traces) }
            return respond(request, api: api) { tenant, _ in
                guard let id = JaegerJSON.parseTraceID(text) else {
                    throw SightlineError(.invalidArgument, "malformed trace id \"\(text)\": expected 1 to 32 hex digits")
                }
                let spans = try traces.trace(tenant: tenant, id: id)
                guard !spans.isEmpty else { throw SightlineError(.notFound, "trace not found") }
                return JaegerJSON.traces([spans])
            }
        }
        router.get("/api/dependencies") { request, _ in
            respond(request, api: api) { tenant, parameters in
                let nowMs = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
                let endMs = try parameters.unsigned("endTs") ?? nowMs
                let lookbackMs = try parameters.unsigned("lookback") ?? defaultDependencyLookbackMs
                let end = endMs.multipliedReportingOverflow(by: 1_000_000)
                let endNano = end.overflow ? UInt64.max : end.partialValue
                let span = lookbackMs.multipliedReportingOverflow(by: 1_000_000)
                let startNano = span.overflow || span.partialValue > endNano ? 0 : endNano - span.partialValue
                return JaegerJSON.dependencies(try traces.dependencies(tenant: tenant, range: TimeRange(startNano: startNano, endNano: endNano)))
            }
        }
    }

    /// `/api/traces`: by `traceID` values when given, else a search that needs `service`.
    static func search(tenant: Tenant, parameters: JaegerParameters, traces: any TraceSource) throws -> String {
        let ids = parameters.values("traceID")
        if !ids.isEmpty {
            var found: [[Span]] = []
            for text in ids {
                guard let id = JaegerJSON.parseTraceID(text) else {
                    throw SightlineError(.invalidArgument, "malformed trace id \"\(text)\": expected 1 to 32 hex digits")
                }
                let spans = try traces.trace(tenant: tenant, id: id)
                if !spans.isEmpty { found.append(spans) }
            }
            return JaegerJSON.traces(found)
        }
        let query = try traceQuery(tenant: tenant, parameters: parameters)
        let found = try traces.findTraces(query).map { try traces.trace(tenant: tenant, id: $0) }.filter { !$0.isEmpty }
        return JaegerJSON.traces(found)
    }

    /// The search the parameters describe, checked as Jaeger checks them.
    /// - Throws: `.invalidArgument` naming the parameter.
    static func traceQuery(tenant: Tenant, parameters: JaegerParameters, now: Date = Date()) throws -> TraceQuery {
        guard let service = parameters.first("service"), !service.isEmpty else {
            throw SightlineError(.invalidArgument, "parameter 'service' is required")
        }
        var query = TraceQuery(tenant: tenant, service: service, limit: defaultLimit)
        if let operation = parameters.first("operation"), !operation.isEmpty { query.operation = operation }
        if let kind = parameters.first("spanKind"), !kind.isEmpty {
            guard let parsed = Span.Kind(jaegerName: kind) else { throw SightlineError(.invalidArgument, "unsupported spanKind \"\(kind)\"") }
            query.kind = parsed
        }
        query.tags = try tags(parameters)
        query.minDurationNano = try parameters.duration("minDuration")
        query.maxDurationNano = try parameters.duration("maxDuration")
        if let minimum = query.minDurationNano, let maximum = query.maxDurationNano, maximum < minimum {
            throw SightlineError(.invalidArgument, "'maxDuration' should be greater than 'minDuration'")
        }
        let nowNano = UInt64(max(0, now.timeIntervalSince1970 * 1e9))
        let endNano = try parameters.microseconds("end") ?? nowNano
        var startNano: UInt64
        if let start = try parameters.microseconds("start") {
            startNano = start
        } else {
            let lookback = try parameters.duration("lookback") ?? defaultLookbackNano
            startNano = endNano > lookback ? endNano - lookback : 0
        }
        if startNano > endNano { startNano = endNano }
        // Jaeger's end is inclusive; the range is half-open.
        query.range = TimeRange(startNano: startNano, endNano: endNano == .max ? .max : endNano + 1)
        if let limit = try parameters.unsigned("limit"), limit > 0 { query.limit = Int(min(limit, 1_000_000)) }
        return query
    }

    /// Tag conditions from `tags` (a JSON object, as the UI sends) and `tag` (`key:value`, repeatable).
    static func tags(_ parameters: JaegerParameters) throws -> [TagCondition] {
        var conditions: [TagCondition] = []
        for text in parameters.values("tags") where !text.isEmpty {
            let value: JSONValue
            do {
                value = try JSONParser.parse(text)
            } catch {
                throw SightlineError(.invalidArgument, "malformed 'tags' parameter: \(error)")
            }
            guard let object = value.objectValue else { throw SightlineError(.invalidArgument, "malformed 'tags' parameter: expected a JSON object") }
            for (key, tag) in zip(object.keys, object.values) {
                switch tag {
                case .string(let string): conditions.append(TagCondition(key, string))
                case .number(let literal): conditions.append(TagCondition(key, literal))
                case .bool(let flag): conditions.append(TagCondition(key, flag ? "true" : "false"))
                default: throw SightlineError(.invalidArgument, "malformed 'tags' parameter: the value of \"\(key)\" must be a string")
                }
            }
        }
        for text in parameters.values("tag") {
            guard let colon = text.firstIndex(of: ":") else {
                throw SightlineError(.invalidArgument, "malformed 'tag' parameter \"\(text)\": expected key:value")
            }
            conditions.append(TagCondition(String(text[..<colon]), String(text[text.index(after: colon)...])))
        }
        return conditions
    }

    /// Authenticates, reads the query string, runs `body` and wraps its JSON, or the error, in a response.
    static func respond(_ request: Request, api: APIDependencies, _ body: (Tenant, JaegerParameters) throws -> String) -> Response {
        do {
            let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
            let parameters = JaegerParameters(query: request.uri.query ?? "")
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: try body(identity.tenant, parameters))))
        } catch {
            let failure = error as? SightlineError ?? SightlineError(.internal, "\(error)")
            var headers: HTTPFields = [.contentType: "application/json"]
            if failure.code == .unauthenticated { headers[.wwwAuthenticate] = "Bearer" }
            let body = JaegerJSON.error(code: Int(failure.status.code), message: failure.message)
            return Response(status: failure.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
    }
}

/// The query-string parameters of a Jaeger API request, with Jaeger's parsing of numbers and durations.
struct JaegerParameters: Sendable {
    let pairs: [(name: String, value: String)]

    init(query: String) {
        pairs = PrometheusAPIParameters.decodeForm(query)
    }

    func first(_ name: String) -> String? { pairs.first(where: { $0.name == name })?.value }

    func values(_ name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }

    /// A non-negative integer parameter; nil when absent or empty.
    func unsigned(_ name: String) throws -> UInt64? {
        guard let text = first(name), !text.isEmpty else { return nil }
        guard let value = UInt64(text) else { throw SightlineError(.invalidArgument, "unable to parse param '\(name)': \"\(text)\" is not a non-negative integer") }
        return value
    }

    /// A time in microseconds since the epoch (Jaeger's), as nanoseconds; nil when absent.
    func microseconds(_ name: String) throws -> UInt64? { try nanoseconds(name, per: 1000) }

    /// A time in seconds since the epoch (Tempo's), as nanoseconds; nil when absent.
    func seconds(_ name: String) throws -> UInt64? { try nanoseconds(name, per: 1_000_000_000) }

    /// A non-negative integer parameter counting units of `per` nanoseconds, as nanoseconds (saturating).
    private func nanoseconds(_ name: String, per unit: UInt64) throws -> UInt64? {
        guard let value = try unsigned(name) else { return nil }
        let (nano, overflow) = value.multipliedReportingOverflow(by: unit)
        return overflow ? .max : nano
    }

    /// A Go duration (`1.5s`, `100ms`, `2h45m`, `250us`) in nanoseconds; nil when absent.
    func duration(_ name: String) throws -> UInt64? {
        guard let text = first(name), !text.isEmpty else { return nil }
        guard let nano = Self.parseGoDuration(text) else {
            throw SightlineError(.invalidArgument, "unable to parse param '\(name)': time: invalid duration \"\(text)\"")
        }
        return nano
    }

    /// Parses a non-negative Go duration: a sequence of decimal numbers, each with a unit (`ns`, `us`, `µs`, `ms`, `s`,
    /// `m`, `h`); `0` alone is allowed. Nil when malformed or over UInt64.
    static func parseGoDuration(_ text: String) -> UInt64? {
        if text == "0" { return 0 }
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 6e10), ("h", 3.6e12)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard let unit = units.first(where: { $0.0 == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            total += value * unit.1
        }
        guard total < 1.8e19 else { return nil }
        return UInt64(total)
    }
}
