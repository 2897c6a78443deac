package import SightlineCore

/// Reads the InfluxDB line protocol (what Telegraf and the InfluxDB clients write) into samples, mapped as
/// VictoriaMetrics maps it: each numeric field `f` of measurement `m` becomes the series `m_f`, the tags its labels.
///
/// `measurement[,tag=value…] field=value[,field=value…] [timestamp]`, one point a line; `#` starts a comment line.
/// Commas, spaces and `=` are escaped with a backslash in names, tags and field keys; string field values are quoted
/// (`\"` and `\\` inside). Field values: floats, integers (`12i`), unsigned integers (`12u`), booleans (`t`, `true`,
/// `T`, `True`, `TRUE` as 1, the `f` forms as 0); string fields are not stored. A missing timestamp takes the request's
/// time. A line that does not parse is left out and reported with its number; the others are kept.
///
/// ```swift
/// let parsed = try body.withUnsafeBytes { InfluxLineParser.parse($0, precision: .nanoseconds, defaultTimestampMs: now) }
/// ```
package enum InfluxLineParser {
    /// What a timestamp counts.
    package enum Precision: Sendable {
        case nanoseconds, microseconds, milliseconds, seconds, minutes, hours

        /// The precision named by InfluxDB's `precision` parameter (`ns`, `n`, `us`, `u`, `µ`, `ms`, `s`, `m`, `h`).
        package init?(name: String) {
            switch name {
            case "", "ns", "n": self = .nanoseconds
            case "us", "u", "µ": self = .microseconds
            case "ms": self = .milliseconds
            case "s": self = .seconds
            case "m": self = .minutes
            case "h": self = .hours
            default: return nil
            }
        }

        /// `value` in milliseconds (rounded down), nil when it does not fit.
        func milliseconds(_ value: Int64) -> Int64? {
            switch self {
            case .nanoseconds: return Self.floorDivide(value, 1_000_000)
            case .microseconds: return Self.floorDivide(value, 1_000)
            case .milliseconds: return value
            case .seconds: return Self.multiply(value, 1_000)
            case .minutes: return Self.multiply(value, 60_000)
            case .hours: return Self.multiply(value, 3_600_000)
            }
        }

        private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
            value >= 0 ? value / divisor : -((-(value + 1)) / divisor) - 1
        }

        private static func multiply(_ value: Int64, _ factor: Int64) -> Int64? {
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            return overflow ? nil : product
        }
    }

    /// The samples of the good lines, and what was wrong with the others.
    package struct Parsed: Sendable {
        package var samples: [MetricSample] = []
        /// One message per line left out: its number (from 1), the reason and the line's start.
        package var errors: [String] = []
    }

    /// Parses `text`.
    /// - Parameters:
    ///   - precision: What the timestamps count.
    ///   - defaultTimestampMs: The time of points without a timestamp.
    ///   - extraLabels: Labels added to every sample (a tag of the same name wins).
    package static func parse(
        _ text: UnsafeRawBufferPointer, precision: Precision, defaultTimestampMs: Int64, extraLabels: [Label] = []
    ) -> Parsed {
        var parsed = Parsed()
        TextLines.forEach(in: text) { lineNumber, raw in
            let line = raw.bindMemory(to: UInt8.self)
            do {
                try parseLine(line, precision: precision, defaultTimestampMs: defaultTimestampMs, extraLabels: extraLabels, into: &parsed.samples)
            } catch let error as LineError {
                let shown = String(decoding: line.prefix(120), as: UTF8.self)
                parsed.errors.append("line \(lineNumber): \(error.reason): '\(shown)'")
            } catch {
                parsed.errors.append("line \(lineNumber): \(error)")
            }
        }
        return parsed
    }

    private struct LineError: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let comma = UInt8(ascii: ",")
    private static let equals = UInt8(ascii: "=")
    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    private static func parseLine(
        _ line: UnsafeBufferPointer<UInt8>, precision: Precision, defaultTimestampMs: Int64, extraLabels: [Label],
        into samples: inout [MetricSample]
    ) throws {
        var i = 0
        while i < line.count, line[i] == space || line[i] == tab { i += 1 }
        guard i < line.count, line[i] != UInt8(ascii: "#") else { return }

        let measurement = readToken(line, &i, stops: [comma, space])
        guard !measurement.isEmpty else { throw LineError("missing measurement") }
        var tags: [Label] = []
        while i < line.count, line[i] == comma {
            i += 1
            let key = readToken(line, &i, stops: [equals, comma, space])
            guard !key.isEmpty else { throw LineError("missing tag key") }
            guard i < line.count, line[i] == equals else { throw LineError("missing tag value of \"\(key)\"") }
            i += 1
            let value = readToken(line, &i, stops: [comma, space])
            guard !value.isEmpty else { throw LineError("missing tag value of \"\(key)\"") }
            tags.append(Label(key, value))
        }
        guard i < line.count, line[i] == space else { throw LineError("missing fields") }
        while i < line.count, line[i] == space { i += 1 }

        var fields: [(String, Double)] = []
        var fieldCount = 0
        while true {
            let key = readToken(line, &i, stops: [equals, comma, space])
            guard !key.isEmpty else { throw LineError("missing field key") }
            guard i < line.count, line[i] == equals else { throw LineError("missing field value of \"\(key)\"") }
            i += 1
            guard i < line.count else { throw LineError("missing field value of \"\(key)\"") }
            if line[i] == quote {
                try skipString(line, &i)
            } else {
                let text = readToken(line, &i, stops: [comma, space])
                guard let value = fieldValue(text) else { throw LineError("invalid value \"\(text)\" of field \"\(key)\"") }
                fields.append((key, value))
            }
            fieldCount += 1
            guard i < line.count, line[i] == comma else { break }
            i += 1
        }
        guard fieldCount > 0 else { throw LineError("missing fields") }

        while i < line.count, line[i] == space { i += 1 }
        var timestampMs = defaultTimestampMs
        if i < line.count {
            let text = readToken(line, &i, stops: [space])
            guard let raw = Int64(text) else { throw LineError("invalid timestamp \"\(text)\"") }
            guard let converted = precision.milliseconds(raw) else { throw LineError("timestamp \(text) is out of range") }
            timestampMs = converted
            while i < line.count, line[i] == space { i += 1 }
            guard i == line.count else { throw LineError("unexpected text after the timestamp") }
        }

        var base = tags
        for label in extraLabels where !tags.contains(where: { $0.name == label.name }) { base.append(label) }
        for (field, value) in fields {
            var labels = base
            labels.append(Label(Labels.metricName, measurement + "_" + field))
            samples.append(MetricSample(labels: Labels(labels), timestampMs: timestampMs, value: value))
        }
    }

    /// Reads up to an unescaped byte of `stops` (or the end), undoing backslash escapes of commas, spaces, `=` and
    /// backslashes; other backslashes are kept.
    private static func readToken(_ line: UnsafeBufferPointer<UInt8>, _ i: inout Int, stops: [UInt8]) -> String {
        var bytes: [UInt8] = []
        while i < line.count {
            let byte = line[i]
            if byte == backslash, i + 1 < line.count, [comma, space, equals, backslash].contains(line[i + 1]) {
                bytes.append(line[i + 1])
                i += 2
                continue
            }
            if stops.contains(byte) { break }
            bytes.append(byte)
            i += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Skips a quoted string value (its escapes `\"` and `\\`).
    private static func skipString(_ line: UnsafeBufferPointer<UInt8>, _ i: inout Int) throws {
        i += 1
        while i < line.count {
            if line[i] == backslash, i + 1 < line.count {
                i += 2
                continue
            }
            if line[i] == quote {
                i += 1
                return
            }
            i += 1
        }
        throw LineError("unterminated string field")
    }

    /// A numeric or boolean field value; nil for anything else.
    private static func fieldValue(_ text: String) -> Double? {
        switch text {
        case "t", "T", "true", "True", "TRUE": return 1
        case "f", "F", "false", "False", "FALSE": return 0
        default: break
        }
        if text.hasSuffix("i") { return Int64(text.dropLast()).map { Double($0) } }
        if text.hasSuffix("u") { return UInt64(text.dropLast()).map { Double($0) } }
        guard let first = text.utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else { return nil }
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }
}
