import SightlineCore

/// The state of one ``PrometheusTextParser`` run: a cursor over the bytes and what has been read so far.
///
/// Strings are made only for names and values that are kept, and a name or value whose bytes equal the one at the
/// same position of the previous line reuses that line's string (histogram buckets and per-CPU series repeat them).
struct PrometheusTextScanner {
    private let base: UnsafePointer<UInt8>
    private let count: Int
    private let defaultTimestampMs: Int64
    private let extraLabels: [Label]
    private let honorTimestamps: Bool
    private let openMetrics: Bool

    private(set) var samples: [MetricSample] = []
    private(set) var metadata: [MetricMetadata] = []
    private(set) var explicitTimestampIndices: [Int] = []
    /// OpenMetrics exemplars, each with the index of its sample in ``samples``.
    private(set) var exemplars: [(sample: Int, exemplar: MetricExemplar)] = []
    private var metadataIndex: [String: Int] = [:]

    private var position = 0
    private var lineNumber = 0
    private var lineEnd = 0
    private var sawEOF = false

    /// A name or value read from a line, with where its raw bytes were, so the next line can reuse the string.
    private struct Cached {
        var start: Int
        var length: Int
        var string: String
    }

    private var previousName: Cached?
    /// A label of a line: name and value.
    private struct CachedLabel {
        var name: Cached
        var value: Cached
    }

    private var previousLabels: [CachedLabel] = []
    private var currentLabels: [CachedLabel] = []

    init(
        base: UnsafePointer<UInt8>, count: Int, defaultTimestampMs: Int64, extraLabels: [Label], honorTimestamps: Bool,
        openMetrics: Bool
    ) {
        self.base = base
        self.count = count
        self.defaultTimestampMs = defaultTimestampMs
        self.extraLabels = extraLabels
        self.honorTimestamps = honorTimestamps
        self.openMetrics = openMetrics
        samples.reserveCapacity(max(16, count / 64))
    }

    mutating func run() throws {
        while position < count {
            lineNumber += 1
            var end = position
            while end < count, base[end] != 0x0A { end += 1 }
            let next = end + 1
            if end > position, base[end - 1] == 0x0D { end -= 1 }
            lineEnd = end
            if sawEOF {
                skipSpaces()
                if position < lineEnd { throw error("unexpected content after # EOF") }
            } else {
                try parseLine()
            }
            position = next
        }
        if openMetrics && !sawEOF {
            throw SightlineError(.invalidArgument, "line \(max(lineNumber, 1)): OpenMetrics data does not end with # EOF")
        }
    }

    // MARK: Lines

    private mutating func parseLine() throws {
        skipSpaces()
        guard position < lineEnd else { return }
        if base[position] == UInt8(ascii: "#") {
            try parseComment()
        } else {
            try parseSample()
        }
    }

    private mutating func parseComment() throws {
        position += 1
        skipSpaces()
        let wordStart = position
        while position < lineEnd, base[position] != 0x20, base[position] != 0x09 { position += 1 }
        let word = UnsafeBufferPointer(start: base + wordStart, count: position - wordStart)
        if word.elementsEqual("EOF".utf8) {
            skipSpaces()
            if position == lineEnd && openMetrics { sawEOF = true }
            return
        }
        let isHelp = word.elementsEqual("HELP".utf8)
        let isType = word.elementsEqual("TYPE".utf8)
        let isUnit = word.elementsEqual("UNIT".utf8)
        guard isHelp || isType || isUnit else { return }  // An ordinary comment.
        let keyword = isHelp ? "HELP" : (isType ? "TYPE" : "UNIT")
        guard position < lineEnd else { throw error("expected metric name after # \(keyword)") }
        skipSpaces()
        let family: String
        if position < lineEnd, base[position] == UInt8(ascii: "\"") {
            family = try readQuoted(what: "metric name")
        } else {
            let start = position
            while position < lineEnd, Self.isMetricNameByte(base[position], first: position == start) { position += 1 }
            guard position > start else { throw error("expected metric name after # \(keyword)") }
            family = string(start, position - start)
        }
        if position < lineEnd, base[position] != 0x20, base[position] != 0x09 {
            throw error("invalid character \(describe(base[position])) in metric name after # \(keyword)")
        }
        skipSpaces()
        let index: Int
        if let existing = metadataIndex[family] {
            index = existing
        } else {
            index = metadata.count
            metadataIndex[family] = index
            metadata.append(MetricMetadata(metricFamily: family, kind: .unknown))
        }
        if isHelp {
            metadata[index].help = unescapedRest()
        } else if isUnit {
            metadata[index].unit = trimmedRest()
        } else {
            let type = trimmedRest()
            guard let kind = Self.kind(type) else { throw error("unknown metric type \"\(type)\" for \(family)") }
            metadata[index].kind = kind
        }
    }

    private static func kind(_ type: String) -> MetricMetadata.Kind? {
        switch type {
        case "counter": .counter
        case "gauge": .gauge
        case "histogram": .histogram
        case "gaugehistogram": .gaugeHistogram
        case "summary": .summary
        case "info": .info
        case "stateset": .stateSet
        case "untyped", "unknown": .unknown
        default: nil
        }
    }

    private mutating func parseSample() throws {
        var name: String?
        currentLabels.removeAll(keepingCapacity: true)
        if base[position] != UInt8(ascii: "{") {
            let start = position
            while position < lineEnd, Self.isMetricNameByte(base[position], first: position == start) { position += 1 }
            guard position > start else { throw error("invalid character \(describe(base[start])) at start of metric name") }
            name = cachedName(start, position - start)
            if position < lineEnd, base[position] != 0x20, base[position] != 0x09, base[position] != UInt8(ascii: "{") {
                throw error("invalid character \(describe(base[position])) in metric name \"\(name ?? "")\"")
            }
            skipSpaces()
        }
        if position < lineEnd, base[position] == UInt8(ascii: "{") {
            position += 1
            try parseLabels(name: &name)
        }
        guard let name else { throw error("missing metric name") }
        skipSpaces()
        guard position < lineEnd else { throw error("expected value after metric \"\(name)\"") }
        let valueStart = position
        while position < lineEnd, base[position] != 0x20, base[position] != 0x09 { position += 1 }
        guard let value = PrometheusNumber.parseDouble(base + valueStart, count: position - valueStart) else {
            throw error("invalid value \"\(string(valueStart, position - valueStart))\" for metric \"\(name)\"")
        }
        var timestampMs = defaultTimestampMs
        var explicit = false
        skipSpaces()
        if position < lineEnd, base[position] != UInt8(ascii: "#") {
            let tsStart = position
            while position < lineEnd, base[position] != 0x20, base[position] != 0x09 { position += 1 }
            let parsed = try parseTimestamp(tsStart, position - tsStart, name: name)
            if honorTimestamps {
                timestampMs = parsed
                explicit = true
            }
            skipSpaces()
        }
        let labels = buildLabels(name: name)
        if position < lineEnd {
            // Anything left must be an exemplar (` # {trace_id="…"} 1.0`): read in OpenMetrics, skipped in the text
            // format, which has none.
            guard base[position] == UInt8(ascii: "#") else {
                throw error("unexpected text \"\(string(position, lineEnd - position))\" after the value of metric \"\(name)\"")
            }
            if openMetrics {
                position += 1
                exemplars.append((samples.count, try parseExemplar(of: labels, sampleTimestampMs: timestampMs, name: name)))
            }
        }
        if explicit { explicitTimestampIndices.append(samples.count) }
        samples.append(MetricSample(labels: labels, timestampMs: timestampMs, value: value))
        swap(&previousLabels, &currentLabels)
    }

    /// Reads an OpenMetrics exemplar after its `#`: ` {name="value", …} value [timestamp]`. Without a timestamp it
    /// takes its sample's, as Prometheus' scraper does.
    private mutating func parseExemplar(of series: Labels, sampleTimestampMs: Int64, name: String) throws -> MetricExemplar {
        skipSpaces()
        guard position < lineEnd, base[position] == UInt8(ascii: "{") else { throw error("expected '{' to start the exemplar of metric \"\(name)\"") }
        position += 1
        var labels: [Label] = []
        while true {
            skipSpaces()
            guard position < lineEnd else { throw error("expected label name or '}' in the exemplar of metric \"\(name)\"") }
            if base[position] == UInt8(ascii: "}") {
                position += 1
                break
            }
            let labelName: String
            if base[position] == UInt8(ascii: "\"") {
                labelName = try readQuoted(what: "exemplar label name")
            } else {
                let start = position
                while position < lineEnd, Self.isLabelNameByte(base[position], first: position == start) { position += 1 }
                guard position > start else { throw error("invalid character \(describe(base[start])) where an exemplar label name was expected") }
                labelName = string(start, position - start)
            }
            skipSpaces()
            guard position < lineEnd, base[position] == UInt8(ascii: "=") else { throw error("expected '=' after exemplar label name \"\(labelName)\"") }
            position += 1
            skipSpaces()
            guard position < lineEnd, base[position] == UInt8(ascii: "\"") else {
                throw error("expected '\"' to start the value of exemplar label \"\(labelName)\"")
            }
            position += 1
            let start = position
            let (hasEscape, hasHighByte) = try scanToClosingQuote("value of exemplar label \"\(labelName)\"")
            let length = position - start
            position += 1
            let what = "value of exemplar label \"\(labelName)\""
            let value = hasEscape
                ? try decode(unescape(start, length), hasHighByte: hasHighByte, what: what)
                : try decode(UnsafeBufferPointer(start: base + start, count: length), hasHighByte: hasHighByte, what: what)
            guard !labels.contains(where: { $0.name == labelName }) else { throw error("duplicate exemplar label name \"\(labelName)\"") }
            labels.append(Label(labelName, value))
            skipSpaces()
            if position < lineEnd, base[position] == UInt8(ascii: ",") { position += 1 }
        }
        skipSpaces()
        let valueStart = position
        while position < lineEnd, base[position] != 0x20, base[position] != 0x09 { position += 1 }
        guard position > valueStart, let value = PrometheusNumber.parseDouble(base + valueStart, count: position - valueStart) else {
            throw error("invalid exemplar value \"\(string(valueStart, position - valueStart))\" for metric \"\(name)\"")
        }
        skipSpaces()
        var timestampMs = sampleTimestampMs
        if position < lineEnd {
            let start = position
            while position < lineEnd, base[position] != 0x20, base[position] != 0x09 { position += 1 }
            timestampMs = try parseTimestamp(start, position - start, name: name)
            skipSpaces()
            if position < lineEnd { throw error("unexpected text \"\(string(position, lineEnd - position))\" after the exemplar of metric \"\(name)\"") }
        }
        return MetricExemplar(series: series, labels: Labels(labels), timestampMs: timestampMs, value: value)
    }

    private mutating func parseTimestamp(_ start: Int, _ length: Int, name: String) throws -> Int64 {
        if openMetrics {
            guard let seconds = PrometheusNumber.parseDouble(base + start, count: length), seconds.isFinite,
                abs(seconds) < 9.2e15
            else { throw error("invalid timestamp \"\(string(start, length))\" for metric \"\(name)\"") }
            // Truncated toward zero, as Prometheus converts them (`int64(ts * 1000)`), so both store the same time.
            return Int64(seconds * 1000)
        }
        guard let ms = PrometheusNumber.parseInt64(base + start, count: length) else {
            throw error("invalid timestamp \"\(string(start, length))\" for metric \"\(name)\": expected integer milliseconds")
        }
        return ms
    }

    /// Reads `name="value", …}` after the opening brace; a quoted string alone names the metric.
    private mutating func parseLabels(name: inout String?) throws {
        while true {
            skipSpaces()
            guard position < lineEnd else { throw error("expected label name or '}'") }
            let c = base[position]
            if c == UInt8(ascii: "}") {
                position += 1
                return
            }
            let labelName: Cached
            if c == UInt8(ascii: "\"") {
                let start = position
                let quoted = try readQuoted(what: "name")
                skipSpaces()
                if position < lineEnd, base[position] == UInt8(ascii: ",") || base[position] == UInt8(ascii: "}") {
                    guard name == nil else { throw error("metric name \"\(quoted)\" given twice") }
                    name = quoted
                    if base[position] == UInt8(ascii: ",") { position += 1 }
                    continue
                }
                labelName = Cached(start: start, length: 0, string: quoted)
            } else {
                let start = position
                while position < lineEnd, Self.isLabelNameByte(base[position], first: position == start) { position += 1 }
                guard position > start else { throw error("invalid character \(describe(c)) where a label name was expected") }
                labelName = cachedLabelName(start, position - start)
                skipSpaces()
            }
            guard position < lineEnd, base[position] == UInt8(ascii: "=") else {
                throw error("expected '=' after label name \"\(labelName.string)\"")
            }
            position += 1
            skipSpaces()
            guard position < lineEnd, base[position] == UInt8(ascii: "\"") else {
                throw error("expected '\"' to start the value of label \"\(labelName.string)\"")
            }
            let value = try readLabelValue(labelName: labelName.string)
            if labelName.string == Labels.metricName {
                guard name == nil else { throw error("metric name given twice: \"\(name ?? "")\" and __name__=\"\(value.string)\"") }
                name = value.string
            } else {
                for existing in currentLabels where existing.name.string == labelName.string {
                    throw error("duplicate label name \"\(labelName.string)\"")
                }
                currentLabels.append(CachedLabel(name: labelName, value: value))
            }
            skipSpaces()
            guard position < lineEnd else { throw error("expected ',' or '}' after the value of label \"\(labelName.string)\"") }
            if base[position] == UInt8(ascii: ",") {
                position += 1
            } else if base[position] != UInt8(ascii: "}") {
                throw error("expected ',' or '}' after the value of label \"\(labelName.string)\", found \(describe(base[position]))")
            }
        }
    }

    /// Reads a double-quoted label value at `position`, reusing the previous line's string for equal raw bytes.
    private mutating func readLabelValue(labelName: String) throws -> Cached {
        let start = position
        position += 1
        let (hasEscape, hasHighByte) = try scanToClosingQuote("value of label \"\(labelName)\"")
        position += 1
        let rawStart = start + 1
        let rawLength = position - 1 - rawStart
        let slot = currentLabels.count
        if slot < previousLabels.count, equalBytes(previousLabels[slot].value, rawStart, rawLength) {
            return Cached(start: rawStart, length: rawLength, string: previousLabels[slot].value.string)
        }
        let text: String
        if hasEscape {
            text = try decode(unescape(rawStart, rawLength), hasHighByte: hasHighByte, what: "value of label \"\(labelName)\"")
        } else {
            text = try decode(
                UnsafeBufferPointer(start: base + rawStart, count: rawLength), hasHighByte: hasHighByte,
                what: "value of label \"\(labelName)\"")
        }
        return Cached(start: rawStart, length: rawLength, string: text)
    }

    /// Reads a double-quoted name (metric or label, Prometheus 3 syntax) at `position`.
    private mutating func readQuoted(what: String) throws -> String {
        position += 1
        let start = position
        let (hasEscape, _) = try scanToClosingQuote("quoted \(what)")
        let length = position - start
        position += 1
        let text =
            hasEscape
            ? try decode(unescape(start, length), hasHighByte: true, what: "quoted \(what)")
            : try decode(UnsafeBufferPointer(start: base + start, count: length), hasHighByte: true, what: "quoted \(what)")
        guard !text.isEmpty else { throw error("empty quoted \(what)") }
        return text
    }

    /// Moves `position` from just after an opening quote to the closing quote, stepping over escapes.
    /// - Parameter what: Names the quoted text in the error for a missing closing quote (`unterminated <what>`).
    /// - Returns: Whether the text holds an escape, and whether it holds a byte above 0x7F.
    private mutating func scanToClosingQuote(_ what: @autoclosure () -> String) throws -> (hasEscape: Bool, hasHighByte: Bool) {
        var hasEscape = false
        var hasHighByte = false
        while true {
            guard position < lineEnd else { throw error("unterminated \(what())") }
            let c = base[position]
            if c == UInt8(ascii: "\"") { return (hasEscape, hasHighByte) }
            if c == UInt8(ascii: "\\") {
                hasEscape = true
                position += 2
                continue
            }
            if c >= 0x80 { hasHighByte = true }
            position += 1
        }
    }

    private func decode(_ bytes: some Collection<UInt8>, hasHighByte: Bool, what: String) throws -> String {
        if !hasHighByte { return String(decoding: bytes, as: UTF8.self) }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw error("invalid UTF-8 in \(what)") }
        return text
    }

    /// Resolves `\\`, `\"` and `\n`; other escapes stay as written, as in Prometheus.
    private func unescape(_ start: Int, _ length: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(length)
        var i = start
        let end = start + length
        while i < end {
            let c = base[i]
            if c == UInt8(ascii: "\\"), i + 1 < end {
                switch base[i + 1] {
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "n"): out.append(0x0A)
                default:
                    out.append(c)
                    out.append(base[i + 1])
                }
                i += 2
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }

    /// The rest of a `# HELP` line with `\\` and `\n` (and `\"`) resolved.
    private mutating func unescapedRest() -> String {
        var end = lineEnd
        while end > position, base[end - 1] == 0x20 || base[end - 1] == 0x09 { end -= 1 }
        let bytes = unescape(position, end - position)
        position = lineEnd
        return String(decoding: bytes, as: UTF8.self)
    }

    private mutating func trimmedRest() -> String {
        var end = lineEnd
        while end > position, base[end - 1] == 0x20 || base[end - 1] == 0x09 { end -= 1 }
        let text = string(position, end - position)
        position = lineEnd
        return text
    }

    // MARK: Labels

    private func buildLabels(name: String) -> Labels {
        var labels: [Label] = []
        labels.reserveCapacity(currentLabels.count + extraLabels.count + 1)
        labels.append(Label(Labels.metricName, name))
        if extraLabels.isEmpty {
            for label in currentLabels { labels.append(Label(label.name.string, label.value.string)) }
        } else {
            for label in currentLabels where !extraLabels.contains(where: { $0.name == label.name.string }) {
                labels.append(Label(label.name.string, label.value.string))
            }
            if extraLabels.contains(where: { $0.name == Labels.metricName }) { labels.removeFirst() }
            labels.append(contentsOf: extraLabels)
        }
        return Labels(labels)
    }

    private mutating func cachedName(_ start: Int, _ length: Int) -> String {
        if let previous = previousName, equalBytes(previous, start, length) {
            previousName = Cached(start: start, length: length, string: previous.string)
            return previous.string
        }
        let name = string(start, length)
        previousName = Cached(start: start, length: length, string: name)
        return name
    }

    private func cachedLabelName(_ start: Int, _ length: Int) -> Cached {
        let slot = currentLabels.count
        if slot < previousLabels.count, equalBytes(previousLabels[slot].name, start, length) {
            return Cached(start: start, length: length, string: previousLabels[slot].name.string)
        }
        return Cached(start: start, length: length, string: string(start, length))
    }

    private func equalBytes(_ cached: Cached, _ start: Int, _ length: Int) -> Bool {
        guard cached.length == length, length > 0 else { return false }
        var i = 0
        while i < length {
            if base[cached.start + i] != base[start + i] { return false }
            i += 1
        }
        return true
    }

    // MARK: Bytes

    @discardableResult
    private mutating func skipSpaces() -> Bool {
        let start = position
        while position < lineEnd, base[position] == 0x20 || base[position] == 0x09 { position += 1 }
        return position > start
    }

    private func string(_ start: Int, _ length: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: base + start, count: length), as: UTF8.self)
    }

    private static func isMetricNameByte(_ c: UInt8, first: Bool) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == 0x5F || c == 0x3A || (!first && c >= 0x30 && c <= 0x39)
    }

    private static func isLabelNameByte(_ c: UInt8, first: Bool) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == 0x5F || (!first && c >= 0x30 && c <= 0x39)
    }

    private func describe(_ c: UInt8) -> String {
        c >= 0x21 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
    }

    private func error(_ message: String) -> SightlineError {
        SightlineError(.invalidArgument, "line \(lineNumber): \(message)")
    }
}
