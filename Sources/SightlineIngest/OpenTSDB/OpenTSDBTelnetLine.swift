package import SightlineCore

/// Parses OpenTSDB's telnet-style `put` lines, `put <metric> <timestamp> <value> <tag=value>…`, into samples mapped as
/// ``OpenTSDBPutDecoder`` maps `/api/put` (VictoriaMetrics' mapping). The timestamp is seconds (10 digits or fewer,
/// fractions allowed) or milliseconds. Other commands (`version`, `stats`, …) are not served.
package enum OpenTSDBTelnetLine {
    /// The sample of one line (without its newline).
    /// - Throws: ``SightlineError`` `.invalidArgument` naming what is wrong with the line.
    package static func parse(_ line: some Collection<UInt8>) throws -> MetricSample {
        let fields = PlainFields(line)
        func fail(_ reason: String) -> SightlineError {
            SightlineError(.invalidArgument, "OpenTSDB line \(GraphiteLine.quoted(line)): \(reason)")
        }
        guard fields.count > 0, fields[0] == "put" else {
            throw fail("only \"put <metric> <timestamp> <value> <tag=value>…\" is served")
        }
        guard fields.count >= 4 else { throw fail("expected a metric, a timestamp and a value after \"put\"") }
        let timestamp: Int64
        if let whole = Int64(fields[2]), whole > 0 {
            timestamp = whole
        } else if let seconds = Double(fields[2]), seconds > 0, seconds < 1e10 {
            timestamp = Int64((seconds * 1000).rounded())
            guard timestamp >= 10_000_000_000 else { throw fail("timestamp \"\(fields[2])\" is too early") }
        } else {
            throw fail("timestamp \"\(fields[2])\" is not seconds or milliseconds since the epoch")
        }
        guard let value = Double(fields[3]) else { throw fail("value \"\(fields[3])\" is not a number") }
        let tags = try (4..<fields.count).map { index in
            guard let pair = PlainFields.tag(fields[index]) else { throw fail("tag \"\(fields[index])\" is not name=value") }
            return pair
        }
        do {
            return try OpenTSDBPutDecoder.sample(metric: String(fields[1]), timestamp: timestamp, value: value, tags: tags)
        } catch let error as SightlineError {
            throw fail(error.message)
        }
    }
}
