import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import SightlineCore
import SightlineQuery

/// `GET /loki/api/v1/tail` upgraded to a WebSocket: Loki's live tail, as Grafana's Loki data source and `logcli
/// --tail` use it.
///
/// Parameters: `query` (a log query), `start` (default an hour ago) and `limit` (default 100) for the lines sent first,
/// `delay_for` (accepted and ignored: lines are sent as soon as they are stored). The server first sends the newest
/// `limit` lines since `start`, oldest first, then every new line that passes the query, as it is stored, in
/// messages of Loki's shape: `{"streams":[{"stream":{…},"values":[["<ns>","line"]]}],"dropped_entries":null}`.
/// A follower too slow to keep up misses lines; they are counted in `sightline_tail_dropped_records_total`.
/// Bad parameters and authentication failures are refused before the upgrade, with Loki's plain-text errors.
enum LokiTailHandler {
    static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        router.ws("/loki/api/v1/tail") { request, _ in
            _ = try await parameters(request, api: api)
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            let request = context.request
            let (tenant, query, start, limit) = try await parameters(request, api: api)
            try await follow(
                tenant: tenant, query: query, start: start, limit: limit, flags: LokiQueryAPI.encodingFlags(request), api: api, inbound: inbound,
                outbound: outbound)
        }
    }

    /// The caller's tenant and the checked parameters.
    static func parameters(_ request: Request, api: APIDependencies) async throws -> (Tenant, String, UInt64, Int) {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = LokiParameters(parameters: PrometheusAPIParameters(pairs: PrometheusAPIParameters.decodeForm(request.uri.query ?? "")))
        let query = try parameters.query()
        _ = try LogQLLineProcessor(query: query)
        let now = LokiParameters.nowNano()
        let start = try parameters.time("start", default: now >= 3_600_000_000_000 ? now - 3_600_000_000_000 : 0)
        return (identity.tenant, query, start, try parameters.limit())
    }

    static func follow(
        tenant: Tenant, query: String, start: UInt64, limit: Int, flags: [String] = [], api: APIDependencies, inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter
    ) async throws {
        // Subscribe before reading the past, so nothing stored in between is missed; what both see is sent once.
        let subscription = api.pipeline.logTail.subscribe(tenant: tenant)
        defer { api.pipeline.logTail.unsubscribe(subscription) }
        let engine = LogQLEngine(source: api.logs)
        let now = LokiParameters.nowNano()
        let past = try await LokiQueryAPI.run {
            try engine.range(query: query, tenant: tenant, start: Int64(clamping: start), end: Int64(clamping: now) + 1, step: 1, limit: limit, direction: .backward)
        }
        var sent = Set<Sent>()
        if case .streams(let streams) = past {
            let sorted = streams.map { LogStreamResult(labels: $0.labels, streamLabels: $0.streamLabels, entries: $0.entries.reversed()) }
            for stream in sorted { for entry in stream.entries { sent.insert(Sent(labels: stream.labels, time: entry.timeNs, line: entry.line)) } }
            if !sorted.isEmpty { try await outbound.writeTextMessage(message(sorted, flags: flags)) }
        }
        let alreadySent = sent
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The client closing the socket ends the tail.
            group.addTask {
                for try await _ in inbound {}
            }
            group.addTask {
                var sent = alreadySent
                var processor = try LogQLLineProcessor(query: query)
                for await records in subscription.records {
                    var streams: [Labels: Int] = [:]
                    var results: [LogStreamResult] = []
                    for record in records where processor.selects(record) && record.effectiveTimeUnixNano >= start {
                        guard let (labels, streamLabels, entry) = processor.process(record) else { continue }
                        if !sent.isEmpty, sent.remove(Sent(labels: labels, time: entry.timeNs, line: entry.line)) != nil { continue }
                        if let slot = streams[labels] {
                            results[slot].entries.append(entry)
                        } else {
                            streams[labels] = results.count
                            results.append(LogStreamResult(labels: labels, streamLabels: streamLabels, entries: [entry]))
                        }
                    }
                    let dropped = api.pipeline.logTail.takeDropped(subscription)
                    if dropped > 0 { api.metrics.tailDropped(dropped) }
                    if !results.isEmpty { try await outbound.writeTextMessage(message(results, flags: flags)) }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// A line already sent from the past, so the live feed does not send it twice.
    struct Sent: Hashable {
        var labels: Labels
        var time: Int64
        var line: String
    }

    /// A tail message; with `flags` (Loki's `X-Loki-Response-Encoding-Flags`) named last as `encodingFlags`, the
    /// streams categorised when one is `categorize-labels`.
    static func message(_ streams: [LogStreamResult], flags: [String] = []) -> String {
        var out = "{\"streams\":"
        LokiQueryAPI.appendStreams(streams, categorizedIn: flags.contains(LokiQueryAPI.categorizeLabels) ? .forward : nil, to: &out)
        out += ",\"dropped_entries\":null"
        if !flags.isEmpty {
            out += ",\"encodingFlags\":"
            PrometheusAPIJSON.appendStrings(flags, to: &out)
        }
        return out + "}"
    }
}
