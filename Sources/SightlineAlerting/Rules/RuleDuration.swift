/// Prometheus' duration syntax (`model.ParseDuration`), used for `interval`, `for`, `keep_firing_for` and
/// `query_offset` in rule files: units `y w d h m s ms` in that order, each at most once, integers only; `0` alone is
/// allowed. A year is 365 days.
enum RuleDuration {
    private static let units: [(String, Int64)] = [
        ("y", 365 * 24 * 3_600_000), ("w", 7 * 24 * 3_600_000), ("d", 24 * 3_600_000), ("h", 3_600_000), ("m", 60_000),
        ("s", 1000), ("ms", 1),
    ]

    /// The duration in milliseconds, or nil when `text` is not a valid duration.
    static func parse(_ text: String) -> Int64? {
        if text == "0" { return 0 }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var index = 0
        var nextUnit = 0
        var total: Int64 = 0
        while index < bytes.count {
            var number: Int64 = 0
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                let (product, overflow) = number.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                number = product + Int64(bytes[index] - 0x30)
                index += 1
            }
            guard index > start else { return nil }
            var unitEnd = index
            while unitEnd < bytes.count, !(bytes[unitEnd] >= 0x30 && bytes[unitEnd] <= 0x39) { unitEnd += 1 }
            let unit = String(decoding: bytes[index..<unitEnd], as: UTF8.self)
            guard let position = units[nextUnit...].firstIndex(where: { $0.0 == unit }) else { return nil }
            let (scaled, overflow) = number.multipliedReportingOverflow(by: units[position].1)
            guard !overflow else { return nil }
            let (sum, sumOverflow) = total.addingReportingOverflow(scaled)
            guard !sumOverflow else { return nil }
            total = sum
            nextUnit = position + 1
            index = unitEnd
        }
        return total
    }

    /// Prometheus' `model.Duration.String()`: `1h30m`, `5m`, `0s`.
    static func format(_ milliseconds: Int64) -> String {
        if milliseconds == 0 { return "0s" }
        var rest = milliseconds
        var out = ""
        for (unit, size) in units {
            // Years and weeks only when they divide the rest exactly, as Prometheus prints them.
            if (unit == "y" || unit == "w") && rest % size != 0 { continue }
            let count = rest / size
            if count > 0 {
                out += "\(count)\(unit)"
                rest -= count * size
            }
        }
        return out
    }
}
