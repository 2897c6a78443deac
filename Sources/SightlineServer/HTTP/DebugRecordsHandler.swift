import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SightlineCore

/// `GET /api/v1/debug/records?signal=logs|metrics|traces&limit=N[&start=…&end=…]`: what was ingested for the
/// caller's tenant, newest first. A debugging aid to check ingestion end to end, not a query API.
enum DebugRecordsHandler {
    static let defaultLimit = 100
    static let maxLimit = 100_000

    static func handle(_ request: Request, api: APIDependencies) throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let query = request.uri.queryParameters
        guard let signalName = query["signal"].map(String.init) else {
            throw SightlineError(.invalidArgument, "missing parameter signal: use logs, metrics or traces")
        }
        guard let signal = Signal(name: signalName) else {
            throw SightlineError(.invalidArgument, "invalid parameter signal \"\(signalName)\": use logs, metrics or traces")
        }
        let limit = try query["limit"].map { text -> Int in
            guard let value = Int(text), value > 0, value <= maxLimit else {
                throw SightlineError(.invalidArgument, "invalid parameter limit \"\(text)\": use an integer from 1 to \(maxLimit)")
            }
            return value
        } ?? defaultLimit
        let range = TimeRange(
            startNano: try query["start"].map { try parseTime(String($0), parameter: "start") } ?? 0,
            endNano: try query["end"].map { try parseTime(String($0), parameter: "end") } ?? .max
        )

        var out = "{\"status\":\"success\",\"data\":{\"signal\":\"\(signal)\",\"records\":["
        switch signal {
        case .logs:
            for (index, record) in try api.logs.logs(tenant: identity.tenant, in: range, limit: limit).enumerated() {
                if index > 0 { out += "," }
                RecordJSON.append(record, to: &out)
            }
        case .traces:
            for (index, span) in try api.spans.spans(tenant: identity.tenant, in: range, limit: limit).enumerated() {
                if index > 0 { out += "," }
                RecordJSON.append(span, to: &out)
            }
        case .metrics:
            let startMs = Int64(clamping: range.startNano / 1_000_000)
            let endMs = Int64(clamping: range.endNano / 1_000_000)
            let everySeries = try LabelMatcher(Labels.metricName, .regexMatch, ".+")
            let series = try api.samples.select(tenant: identity.tenant, matchers: [everySeries], startMs: startMs, endMs: endMs)
            var samples: [(Labels, Int64, Double)] = []
            for s in series {
                for (t, v) in zip(s.timestampsMs, s.values) { samples.append((s.labels, t, v)) }
            }
            samples.sort { $0.1 > $1.1 }
            for (index, sample) in samples.prefix(limit).enumerated() {
                if index > 0 { out += "," }
                RecordJSON.appendSample(labels: sample.0, timestampMs: sample.1, value: sample.2, to: &out)
            }
        }
        out += "]}}"
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: out)))
    }

    /// Parses a time given as Unix seconds (fractions allowed) or RFC 3339, into ns since the epoch.
    static func parseTime(_ text: String, parameter: String) throws -> UInt64 {
        if let seconds = Double(text), seconds >= 0, seconds < 1e11 { return UInt64(seconds * 1e9) }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        if let date = formatter.date(from: text) ?? plain.date(from: text), date.timeIntervalSince1970 >= 0 {
            return UInt64(date.timeIntervalSince1970 * 1e9)
        }
        throw SightlineError(.invalidArgument, "invalid parameter \(parameter) \"\(text)\": use Unix seconds or RFC 3339")
    }
}
