import Foundation
import HTTPTypes
import Hummingbird
import SightlineCore
import SightlineIngest
import SightlineQuery

/// Loki's log deletion API (the compactor's), for the caller's tenant:
///
/// | Route | Method | |
/// |---|---|---|
/// | `/loki/api/v1/delete` | POST, PUT | `query` (a stream selector and line filters), `start` (required), `end` (default now): 204 |
/// | `/loki/api/v1/delete` | GET | the requests, oldest first |
/// | `/loki/api/v1/delete` | DELETE | `request_id`: cancel, refused since requests are processed at once |
///
/// Loki waits a cancellation period (24 h by default) before deleting; Sightline deletes at once, through the WAL in
/// order with the writes around it (``IngestPipeline/delete(_:tenant:)``) or, on ClickHouse, there as a mutation after
/// a checkpoint, so a request is `processed` as soon as it is answered and queries no longer see the records. Adding and cancelling need the `admin` role, listing the
/// `query` role. Errors are Loki's: 400 (404 for an unknown id) with the reason as plain text.
enum LokiDeleteAPI {
    static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        for method in [HTTPRequest.Method.post, .put] {
            router.on("/loki/api/v1/delete", method: method) { request, _ in await LokiQueryAPI.answer { try await add(request, api: api) } }
        }
        router.get("/loki/api/v1/delete") { request, _ in await LokiQueryAPI.answer { try list(request, api: api) } }
        router.delete("/loki/api/v1/delete") { request, _ in await LokiQueryAPI.answer { try await cancel(request, api: api) } }
    }

    /// Adds (and applies) a delete request; 204.
    static func add(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .admin)
        let parameters = try await PrometheusAPIParameters.read(request)
        let query = parameters["query"]
        guard !query.isEmpty else { throw SightlineError(.invalidArgument, "query not set") }
        let (matchers, filters) = try parse(query)
        guard !parameters["start"].isEmpty else { throw SightlineError(.invalidArgument, "start time not set") }
        guard let startMs = time(parameters["start"]) else {
            throw SightlineError(.invalidArgument, "invalid start time: require unix seconds or RFC3339 format")
        }
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        guard let endMs = parameters["end"].isEmpty ? nowMs : time(parameters["end"]) else {
            throw SightlineError(.invalidArgument, "invalid end time: require unix seconds or RFC3339 format")
        }
        guard endMs <= nowMs else { throw SightlineError(.invalidArgument, "deletes in the future are not allowed") }
        guard startMs <= endMs else { throw SightlineError(.invalidArgument, "start time can't be greater than end time") }
        let deletion = LogDeletion(
            requestID: String(format: "%08x", UInt32.random(in: .min ... .max)), query: query, matchers: matchers, lineFilters: filters,
            startNano: UInt64(max(0, startMs)) * 1_000_000, endNano: UInt64(max(0, endMs)) * 1_000_000, createdAtMs: nowMs)
        var batch = LogBatch()
        batch.deletions = [deletion]
        try await api.pipeline.delete(.logs(batch), tenant: identity.tenant)
        return Response(status: .noContent)
    }

    /// `[{"request_id","start_time","end_time","query","status","created_at"}]`, times in seconds as Loki writes them.
    static func list(_ request: Request, api: APIDependencies) throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let requests = (api.logs as? any LogDeletionRequests)?.deletionRequests(tenant: identity.tenant) ?? []
        var out = "["
        for (index, deletion) in requests.enumerated() {
            if index > 0 { out += "," }
            out += "{\"request_id\":" + JSONText.quoted(deletion.requestID)
            out += ",\"start_time\":" + seconds(Int64(deletion.startNano / 1_000_000))
            out += ",\"end_time\":" + seconds(Int64(deletion.endNano / 1_000_000))
            out += ",\"query\":" + JSONText.quoted(deletion.query)
            out += ",\"status\":\"processed\",\"created_at\":" + seconds(deletion.createdAtMs) + "}"
        }
        out += "]"
        return LokiQueryAPI.json(out)
    }

    /// Refuses: every request was processed when it was added.
    static func cancel(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .admin)
        let parameters = try await PrometheusAPIParameters.read(request)
        let requests = (api.logs as? any LogDeletionRequests)?.deletionRequests(tenant: identity.tenant) ?? []
        guard requests.contains(where: { $0.requestID == parameters["request_id"] }) else {
            throw SightlineError(.notFound, "could not find delete request with given id")
        }
        throw SightlineError(.invalidArgument, "deletion of request which is in process or already processed is not allowed")
    }

    /// The stream matchers and line filters of a delete query, which may hold nothing else.
    static func parse(_ query: String) throws -> ([LabelMatcher], [LogDeletion.LineFilter]) {
        guard case .log(let selector) = try LokiQueryAPI.parsed(query) else {
            throw SightlineError(.invalidArgument, "invalid query expression: a delete query is a stream selector with optional line filters")
        }
        let filters = try selector.stages.map { stage -> LogDeletion.LineFilter in
            guard case .lineFilter(let filter) = stage else {
                throw SightlineError(
                    .invalidArgument, "invalid query expression: only line filters (|=, !=, |~, !~) may follow the stream selector of a delete query")
            }
            let kind: LogDeletion.LineFilter.Kind
            switch filter.kind {
            case .contains: kind = .contains
            case .notContains: kind = .notContains
            case .regex: kind = .regex
            case .notRegex: kind = .notRegex
            case .pattern, .notPattern:
                throw SightlineError(.invalidArgument, "invalid query expression: pattern line filters are not supported in a delete query")
            }
            let values = try filter.alternatives.map { alternative -> String in
                guard case .text(let text) = alternative else {
                    throw SightlineError(.invalidArgument, "invalid query expression: ip() line filters are not supported in a delete query")
                }
                return text
            }
            return try LogDeletion.LineFilter(kind, values)
        }
        return (selector.matchers, filters)
    }

    /// Loki's delete times: RFC 3339, or Unix seconds written with exactly ten digits; in ms.
    static func time(_ text: String) -> Int64? {
        if text.utf8.count == 10, let seconds = Int64(text) { return seconds * 1000 }
        return ISO8601Time.nanoseconds(text.utf8).map { Int64($0 / 1_000_000) }
    }

    /// Milliseconds as Loki's `model.Time` writes them in JSON: seconds, with the fraction only when there is one.
    static func seconds(_ ms: Int64) -> String {
        let whole = ms / 1000
        let fraction = ms % 1000
        guard fraction != 0 else { return String(whole) }
        var digits = String(abs(fraction))
        digits = String(repeating: "0", count: 3 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}
