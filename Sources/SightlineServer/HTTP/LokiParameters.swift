import Foundation
import SightlineCore
import SightlineIngest

/// The typed parameters of Loki's query API, read as Loki reads them.
///
/// - Times (`start`, `end`, `time`): a float with a `.` is Unix seconds; an integer of up to 10 digits is Unix seconds,
///   a longer one nanoseconds; anything else RFC 3339.
/// - `step` and `interval`: a duration (`15s`, `1m30s`) or a float of seconds.
/// - `limit` (default 100) and `direction` (`backward`, the default, or `forward`).
struct LokiParameters {
    let parameters: PrometheusAPIParameters

    /// Loki's default number of entries of a log query. The engine bounds the largest (Loki's
    /// `max_entries_limit_per_query`).
    static let defaultLimit = 100

    subscript(name: String) -> String { parameters[name] }

    /// The query, which must be there.
    func query() throws -> String {
        let text = parameters["query"]
        guard !text.isEmpty else { throw SightlineError(.invalidArgument, "query parameter 'query' is required") }
        return text
    }

    /// A time in ns since the epoch, or `defaultNano` when absent.
    func time(_ name: String, default defaultNano: UInt64) throws -> UInt64 {
        let text = parameters[name]
        guard !text.isEmpty else { return defaultNano }
        guard let nano = Self.parseTime(text) else {
            throw SightlineError(.invalidArgument, "invalid \(name) parameter \"\(text)\": use Unix seconds, Unix nanoseconds or RFC 3339")
        }
        return nano
    }

    func limit() throws -> Int { try positive("limit", default: Self.defaultLimit) }

    /// A positive integer parameter (`limit`, `line_limit`), or `defaultValue` when absent.
    func positive(_ name: String, default defaultValue: Int) throws -> Int {
        let text = parameters[name]
        guard !text.isEmpty else { return defaultValue }
        guard let value = Int(text), value > 0 else {
            throw SightlineError(.invalidArgument, "invalid \(name) parameter \"\(text)\": limit must be a positive value")
        }
        return value
    }

    func direction() throws -> LogScan.Direction {
        let text = parameters["direction"].lowercased()
        guard !text.isEmpty else { return .backward }
        guard let direction = LogScan.Direction(rawValue: text) else {
            throw SightlineError(.invalidArgument, "invalid direction \"\(parameters["direction"])\": use forward or backward")
        }
        return direction
    }

    /// A duration parameter in ns, or nil when absent.
    func duration(_ name: String) throws -> UInt64? {
        let text = parameters[name]
        guard !text.isEmpty else { return nil }
        if let seconds = Double(text), seconds.isFinite, seconds > 0, seconds < 1.8e10 { return UInt64(seconds * 1e9) }
        if let ms = try? PrometheusAPIParameters.parseDuration(text), ms > 0 {
            let (nano, overflow) = UInt64(ms).multipliedReportingOverflow(by: 1_000_000)
            if !overflow { return nano }
        }
        throw SightlineError(.invalidArgument, "invalid \(name) parameter \"\(text)\": use a positive duration like 15s or a number of seconds")
    }

    /// The `[start, end]` of a range request: `end` defaults to now and `start` to an hour before `end`.
    func range(now: UInt64 = LokiParameters.nowNano()) throws -> (start: UInt64, end: UInt64) {
        let end = try time("end", default: now)
        let start = try time("start", default: end >= 3_600_000_000_000 ? end - 3_600_000_000_000 : 0)
        guard end >= start else { throw SightlineError(.invalidArgument, "end timestamp must not be before or equal to start time") }
        return (start, end)
    }

    /// Loki's default step for a range: the range's seconds over 250, rounded down, at least one second.
    static func defaultStep(start: UInt64, end: UInt64) -> UInt64 {
        max(1, (end - start) / 1_000_000_000 / 250) * 1_000_000_000
    }

    static func nowNano() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1e9) }

    /// Loki's `parseTimestamp`.
    static func parseTime(_ text: String) -> UInt64? {
        if text.contains(".") {
            if let seconds = Double(text) {
                guard seconds.isFinite, seconds >= 0, seconds < 9.2e9 else { return nil }
                let whole = seconds.rounded(.towardZero)
                let milliseconds = ((seconds - whole) * 1000).rounded()
                return UInt64(whole) * 1_000_000_000 + UInt64(milliseconds) * 1_000_000
            }
        } else if let integer = UInt64(text) {
            return text.utf8.count <= 10 ? integer * 1_000_000_000 : integer
        }
        return ISO8601Time.nanoseconds(text.utf8)
    }
}
