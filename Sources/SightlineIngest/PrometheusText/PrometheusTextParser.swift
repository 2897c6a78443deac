package import SightlineCore

/// Parses the Prometheus text exposition format (version 0.0.4) and OpenMetrics 1.0 text, as scrape targets and the
/// import API send them.
///
/// The parser works on bytes: no regular expressions and no `String` per line, only the names and values it keeps.
/// It accepts `# HELP`, `# TYPE` and `# UNIT` lines, other comments, blank lines, escaped label values (`\\`, `\"`,
/// `\n`), metric names with colons, quoted UTF-8 names (`{"my.metric", "my.label"="v"}`, Prometheus 3), the values
/// `NaN`, `+Inf`, `-Inf` and `Inf`, exponent floats, optional timestamps, exemplars after ` # ` (kept in OpenMetrics,
/// skipped in the text format) and the
/// OpenMetrics `# EOF` terminator. `_created` series are kept as ordinary samples, as Prometheus 2 stores them.
///
/// Timestamps are integer milliseconds in the text format and float seconds in OpenMetrics; an exposition is read as
/// OpenMetrics when the caller says so (from the `Content-Type`) or, when the caller does not know, when its last
/// line is `# EOF`.
///
/// ```swift
/// let parsed = try body.withUnsafeBytes {
///     try PrometheusTextParser.parse($0, defaultTimestampMs: now, extraLabels: [Label("job", "node")])
/// }
/// ```
package enum PrometheusTextParser {
    /// Parses one exposition.
    /// - Parameters:
    ///   - text: The UTF-8 bytes of the exposition.
    ///   - defaultTimestampMs: The timestamp of samples that have none (or all samples, without `honorTimestamps`).
    ///   - extraLabels: Labels added to every sample; they replace scraped labels of the same name.
    ///   - honorTimestamps: Whether to keep the timestamps the exposition carries.
    ///   - openMetrics: `true` for OpenMetrics, `false` for the Prometheus text format, `nil` to detect a trailing `# EOF`.
    /// - Returns: The samples and the metadata.
    /// - Throws: ``SightlineError`` `.invalidArgument` naming the line and what was expected there.
    package static func parse(
        _ text: UnsafeRawBufferPointer,
        defaultTimestampMs: Int64,
        extraLabels: [Label] = [],
        honorTimestamps: Bool = true,
        openMetrics: Bool? = nil
    ) throws -> ParsedExposition {
        let isOpenMetrics = openMetrics ?? endsWithEOF(text)
        guard let base = text.baseAddress?.assumingMemoryBound(to: UInt8.self), !text.isEmpty else {
            if openMetrics == true { throw SightlineError(.invalidArgument, "line 1: OpenMetrics data does not end with # EOF") }
            return ParsedExposition(isOpenMetrics: isOpenMetrics)
        }
        var scanner = PrometheusTextScanner(
            base: base, count: text.count, defaultTimestampMs: defaultTimestampMs, extraLabels: extraLabels,
            honorTimestamps: honorTimestamps, openMetrics: isOpenMetrics)
        try scanner.run()
        return ParsedExposition(
            samples: scanner.samples, metadata: scanner.metadata, explicitTimestampIndices: scanner.explicitTimestampIndices,
            exemplars: scanner.exemplars, isOpenMetrics: isOpenMetrics)
    }

    /// Parses an exposition held in a string.
    /// - Parameters: See ``parse(_:defaultTimestampMs:extraLabels:honorTimestamps:openMetrics:)``.
    /// - Returns: The samples and the metadata.
    package static func parse(
        _ text: String,
        defaultTimestampMs: Int64,
        extraLabels: [Label] = [],
        honorTimestamps: Bool = true,
        openMetrics: Bool? = nil
    ) throws -> ParsedExposition {
        var text = text
        return try text.withUTF8 { bytes in
            try parse(
                UnsafeRawBufferPointer(bytes), defaultTimestampMs: defaultTimestampMs, extraLabels: extraLabels,
                honorTimestamps: honorTimestamps, openMetrics: openMetrics)
        }
    }

    /// Whether a `Content-Type` header names OpenMetrics (`application/openmetrics-text; version=1.0.0`).
    package static func isOpenMetricsContentType(_ contentType: String) -> Bool {
        contentType.utf8.starts(with: "application/openmetrics-text".utf8)
    }

    /// Whether the last non-blank line of the text is `# EOF`.
    private static func endsWithEOF(_ text: UnsafeRawBufferPointer) -> Bool {
        var end = text.count
        while end > 0, text[end - 1] == 0x0A || text[end - 1] == 0x0D || text[end - 1] == 0x20 { end -= 1 }
        guard end >= 5 else { return false }
        let start = end - 5
        guard text[start] == 0x23, text[start + 1] == 0x20, text[start + 2] == 0x45, text[start + 3] == 0x4F,
            text[start + 4] == 0x46
        else { return false }
        return start == 0 || text[start - 1] == 0x0A
    }
}
