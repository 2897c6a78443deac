/// Parses Elasticsearch's default `date` formats, `strict_date_optional_time||epoch_millis`, into nanoseconds.
///
/// Accepted: epoch milliseconds as a JSON number or a string of digits (a fraction gives sub-millisecond precision),
/// and ISO 8601 / RFC 3339 text: `2024-05-01`, `2024-05-01T12:30:00Z`, `2024-05-01T12:30:00.123456789+02:00`,
/// `2024-05-01 12:30:00`, `2024-05-01T12:30:00.5+0200`. Text without an offset is UTC, as in Elasticsearch.
package enum ElasticsearchTimestamp {
    /// Nanoseconds since the epoch for a textual date or epoch-millis string; nil when it does not parse or is
    /// before 1970.
    package static func parse(_ text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        if !bytes.isEmpty, bytes.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }), bytes.first != 0x2E {
            return epochMillis(text)
        }
        return ISO8601Time.nanoseconds(bytes)
    }

    /// Nanoseconds for epoch milliseconds written as a decimal number (`1714566600123` or `1714566600123.456`).
    package static func epochMillis(_ text: String) -> UInt64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let millis = UInt64(parts[0]) else { return nil }
        var fractionNanos: UInt64 = 0
        if parts.count == 2 {
            let digits = Array(parts[1].utf8.prefix(6))
            guard !parts[1].isEmpty, parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            var value: UInt64 = 0
            for digit in digits { value = value * 10 + UInt64(digit - 0x30) }
            for _ in digits.count..<6 { value *= 10 }
            fractionNanos = value
        }
        let (product, overflow) = millis.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow else { return nil }
        return product + fractionNanos
    }
}
