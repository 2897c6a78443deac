import SightlineCore

/// Prometheus durations: `1m30s`, `15s`, `500ms`, `1h`, `2d`, as scrape configs and the `__scrape_interval__` label write them.
package enum ScrapeDuration {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000), ("y", 31_536_000_000),
    ]

    /// Parses a duration: one or more `<integer><unit>` parts with units `y w d h m s ms`, largest first, or `0`.
    /// - Parameter text: The duration, e.g. `1m30s`.
    /// - Returns: The duration.
    /// - Throws: ``SightlineError`` `.configuration` naming the text when it is not a duration.
    package static func parse(_ text: String) throws -> Duration {
        let bytes = Array(text.utf8)
        if bytes == [UInt8(ascii: "0")] { return .zero }
        guard !bytes.isEmpty else { throw invalid(text) }
        var total: Int64 = 0
        var i = 0
        var lastUnitIndex = -1
        while i < bytes.count {
            var number: Int64 = 0
            let start = i
            while i < bytes.count, bytes[i] &- 0x30 < 10 {
                let (m, o1) = number.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int64(bytes[i] &- 0x30))
                guard !o1, !o2 else { throw invalid(text) }
                number = s
                i += 1
            }
            guard i > start else { throw invalid(text) }
            let unitStart = i
            while i < bytes.count, !(bytes[i] &- 0x30 < 10) { i += 1 }
            let unit = String(decoding: bytes[unitStart..<i], as: UTF8.self)
            // Units must be given largest first, each at most once ("1m30s", not "30s1m").
            let order = ["y", "w", "d", "h", "m", "s", "ms"]
            guard let index = order.firstIndex(of: unit), index > lastUnitIndex,
                let factor = units.first(where: { $0.suffix == unit })?.milliseconds
            else { throw invalid(text) }
            lastUnitIndex = index
            let (part, o1) = number.multipliedReportingOverflow(by: factor)
            let (sum, o2) = total.addingReportingOverflow(part)
            guard !o1, !o2 else { throw invalid(text) }
            total = sum
        }
        return .milliseconds(total)
    }

    /// Formats a duration the way Prometheus prints it: `1m30s`, `10s`, `500ms`, `0s`.
    /// - Parameter duration: The duration; sub-millisecond parts are dropped.
    /// - Returns: The text.
    package static func format(_ duration: Duration) -> String {
        PrometheusDuration.format(milliseconds: milliseconds(duration))
    }

    /// The whole milliseconds of a duration.
    package static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    private static func invalid(_ text: String) -> SightlineError {
        SightlineError(.configuration, "invalid duration \"\(text)\": use e.g. 15s, 1m30s, 500ms")
    }
}
