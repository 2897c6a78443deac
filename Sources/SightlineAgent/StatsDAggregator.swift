package import SightlineCore
import Synchronization

/// Aggregates StatsD and DogStatsD metrics between flushes, as the Datadog agent does, and turns them into series.
///
/// Accepted lines (several per packet, separated by newlines): `name:value[:value…]|type[|@rate][|#tag,tag:value]`
/// with type `c` (counter), `g` (gauge; a value with a leading `+` or `-` changes the gauge instead of setting it),
/// `ms`, `h`, `d` (timer, histogram, distribution), `s` (set). DogStatsD events (`_e{`) and service checks (`_sc|`)
/// are counted and ignored.
///
/// What a flush produces (metric names with characters outside `[a-zA-Z0-9_:]` written as `_`, tags as labels):
/// - counter: `name` = the sum since the agent started (each value divided by its sample rate), so `rate()` works
///   and a flush that never reached the server loses nothing;
/// - gauge: `name` = the last value (kept across flushes);
/// - timer/histogram/distribution: per flush interval, `name{quantile="0.5"}` … for each configured percentile,
///   `name_sum`, `name_count` (count divided by the sample rate) and `name_max`, `name_min`;
/// - set: `name` = the number of distinct values seen in the interval.
package final class StatsDAggregator: Sendable {
    struct Key: Hashable {
        var name: String
        var tags: [Label]
    }

    private struct State {
        var counters: [Key: Double] = [:]
        var gauges: [Key: Double] = [:]
        var timers: [Key: (values: [Double], count: Double)] = [:]
        var sets: [Key: Set<String>] = [:]
        var lines = 0
        var invalid = 0
        var ignored = 0
    }

    private let state = Mutex(State())
    /// The percentiles reported for timers, histograms and distributions.
    package let percentiles: [Double]

    package init(percentiles: [Double] = [50, 90, 99]) {
        self.percentiles = percentiles
    }

    /// Counts of lines taken, refused as malformed, and ignored (events, service checks) since the start.
    package var counts: (lines: Int, invalid: Int, ignored: Int) { state.withLock { ($0.lines, $0.invalid, $0.ignored) } }

    /// Adds every line of one datagram.
    package func ingest(_ packet: UnsafeRawBufferPointer) {
        var parsed: [(Key, UInt8, [Double], Double, String?)] = []
        var invalid = 0
        var ignored = 0
        var start = 0
        let count = packet.count
        while start < count {
            var end = start
            while end < count && packet[end] != 0x0A { end += 1 }
            if end > start {
                let line = UnsafeRawBufferPointer(rebasing: packet[start..<end])
                if line.first == 0x5F && (line.starts(with: "_e{".utf8) || line.starts(with: "_sc|".utf8)) {
                    ignored += 1
                } else if let entry = Self.parse(line) {
                    parsed.append(entry)
                } else {
                    invalid += 1
                }
            }
            start = end + 1
        }
        state.withLock { state in
            state.lines += parsed.count
            state.invalid += invalid
            state.ignored += ignored
            for (key, type, values, rate, setValue) in parsed {
                switch type {
                case UInt8(ascii: "c"):
                    state.counters[key, default: 0] += values.reduce(0, +) / rate
                case UInt8(ascii: "g"):
                    // `values` holds the gauge; a NaN marker in front means "delta".
                    if values.count == 2 && values[0].isNaN {
                        state.gauges[key, default: 0] += values[1]
                    } else if let last = values.last {
                        state.gauges[key] = last
                    }
                case UInt8(ascii: "s"):
                    if let setValue { state.sets[key, default: []].insert(setValue) }
                default:
                    var entry = state.timers[key] ?? ([], 0)
                    entry.values.append(contentsOf: values)
                    entry.count += Double(values.count) / rate
                    state.timers[key] = entry
                }
            }
        }
    }

    /// Parses one line into (key, type letter, values, sample rate, set member): printable ASCII byte by byte (the
    /// common case: no `String` until the names and values are known), anything else through ``parseText(_:)``.
    static func parse(_ line: UnsafeRawBufferPointer) -> (Key, UInt8, [Double], Double, String?)? {
        guard line.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return parseText(line) }
        let bar = UInt8(ascii: "|")
        let colon = UInt8(ascii: ":")
        /// The end of the section starting at `start`: the next `|`, or the end of the line.
        func sectionEnd(_ start: Int) -> Int {
            var end = start
            while end < line.count && line[end] != bar { end += 1 }
            return end
        }
        func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: line[range]) }
        func text(_ range: Range<Int>) -> String { String(decoding: slice(range), as: UTF8.self) }

        let firstEnd = sectionEnd(0)
        guard firstEnd < line.count, let nameEnd = (0..<firstEnd).first(where: { line[$0] == colon }), nameEnd > 0 else { return nil }
        let values = (nameEnd + 1)..<firstEnd
        let typeStart = firstEnd + 1
        let typeEnd = sectionEnd(typeStart)
        var rate = 1.0
        var tags: [Label] = []
        var start = typeEnd + 1
        while start <= line.count {
            let end = sectionEnd(start)
            if start < end && line[start] == UInt8(ascii: "@") {
                guard let value = Double(text((start + 1)..<end)), value > 0, value <= 1 else { return nil }
                rate = value
            } else if start < end && line[start] == UInt8(ascii: "#") {
                var tagStart = start + 1
                while tagStart < end {
                    var tagEnd = tagStart
                    while tagEnd < end && line[tagEnd] != UInt8(ascii: ",") { tagEnd += 1 }
                    if tagStart < tagEnd {
                        if let separator = (tagStart..<tagEnd).first(where: { line[$0] == colon }) {
                            tags.append(Label(sanitize(slice(tagStart..<separator)), text((separator + 1)..<tagEnd)))
                        } else {
                            tags.append(Label(sanitize(slice(tagStart..<tagEnd)), "true"))
                        }
                    }
                    tagStart = tagEnd + 1
                }
            }
            // Other sections (DogStatsD `c:` container ids, `T` timestamps) are ignored.
            start = end + 1
        }
        tags.sort { $0.name < $1.name }
        let key = Key(name: sanitize(slice(0..<nameEnd)), tags: tags)
        let type = slice(typeStart..<typeEnd)
        switch (type.count, type.first ?? 0, type.count == 2 ? type[1] : 0) {
        case (1, UInt8(ascii: "c"), _), (2, UInt8(ascii: "m"), UInt8(ascii: "s")), (1, UInt8(ascii: "h"), _), (1, UInt8(ascii: "d"), _):
            var parsed: [Double] = []
            var partStart = values.lowerBound
            while partStart <= values.upperBound {
                var partEnd = partStart
                while partEnd < values.upperBound && line[partEnd] != colon { partEnd += 1 }
                // Empty parts are skipped, as splitting on ":" skips them.
                if partStart < partEnd {
                    guard let value = Double(text(partStart..<partEnd)), value.isFinite else { return nil }
                    parsed.append(value)
                }
                partStart = partEnd + 1
            }
            guard !parsed.isEmpty else { return nil }
            return (key, type.first == UInt8(ascii: "c") ? UInt8(ascii: "c") : UInt8(ascii: "t"), parsed, rate, nil)
        case (1, UInt8(ascii: "g"), _):
            guard let value = Double(text(values)), value.isFinite else { return nil }
            let first = values.isEmpty ? 0 : line[values.lowerBound]
            let isDelta = first == UInt8(ascii: "+") || first == UInt8(ascii: "-")
            return (key, UInt8(ascii: "g"), isDelta ? [.nan, value] : [value], rate, nil)
        case (1, UInt8(ascii: "s"), _):
            return (key, UInt8(ascii: "s"), [], rate, text(values))
        default:
            return nil
        }
    }

    /// ``sanitize(_:)`` of printable ASCII bytes, without going through characters.
    static func sanitize(_ bytes: UnsafeRawBufferPointer) -> String {
        func allowed(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x3A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
        }
        let leadingDigit = bytes.first.map { $0 >= 0x30 && $0 <= 0x39 } ?? false
        if !leadingDigit && bytes.allSatisfy(allowed) { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 1)
        if leadingDigit { out.append(0x5F) }
        for byte in bytes { out.append(allowed(byte) ? byte : 0x5F) }
        return String(decoding: out, as: UTF8.self)
    }

    /// ``parse(_:)`` for lines with bytes outside printable ASCII, on characters.
    static func parseText(_ line: UnsafeRawBufferPointer) -> (Key, UInt8, [Double], Double, String?)? {
        let text = String(decoding: line, as: UTF8.self)
        let sections = text.split(separator: "|", omittingEmptySubsequences: false)
        guard sections.count >= 2, let colon = sections[0].firstIndex(of: ":") else { return nil }
        let rawName = sections[0][..<colon]
        guard !rawName.isEmpty else { return nil }
        let rawValues = sections[0][sections[0].index(after: colon)...]
        let type = sections[1]
        var rate = 1.0
        var tags: [Label] = []
        for extra in sections.dropFirst(2) {
            if extra.hasPrefix("@") {
                guard let value = Double(extra.dropFirst()), value > 0, value <= 1 else { return nil }
                rate = value
            } else if extra.hasPrefix("#") {
                for tag in extra.dropFirst().split(separator: ",") {
                    if let separator = tag.firstIndex(of: ":") {
                        tags.append(Label(sanitize(tag[..<separator]), String(tag[tag.index(after: separator)...])))
                    } else {
                        tags.append(Label(sanitize(tag), "true"))
                    }
                }
            }
            // Other sections (DogStatsD `c:` container ids, `T` timestamps) are ignored.
        }
        tags.sort { $0.name < $1.name }
        let key = Key(name: sanitize(rawName), tags: tags)
        switch type {
        case "c", "ms", "h", "d":
            var values: [Double] = []
            for part in rawValues.split(separator: ":") {
                guard let value = Double(part), value.isFinite else { return nil }
                values.append(value)
            }
            guard !values.isEmpty else { return nil }
            return (key, type == "c" ? UInt8(ascii: "c") : UInt8(ascii: "t"), values, rate, nil)
        case "g":
            guard let value = Double(rawValues), value.isFinite else { return nil }
            let isDelta = rawValues.first == "+" || rawValues.first == "-"
            return (key, UInt8(ascii: "g"), isDelta ? [.nan, value] : [value], rate, nil)
        case "s":
            return (key, UInt8(ascii: "s"), [], rate, String(rawValues))
        default:
            return nil
        }
    }

    /// A metric or label name with every character outside `[a-zA-Z0-9_:]` written as `_` (no leading digit).
    static func sanitize(_ name: Substring) -> String {
        var out = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") ? $0 : "_" })
        if out.first?.isNumber == true { out = "_" + out }
        return out
    }

    /// The series of the interval that ends now; resets timers and sets.
    package func flush(timestampMs: Int64, extraLabels: [Label] = []) -> [MetricSample] {
        let (counters, gauges, timers, sets) = state.withLock { state in
            defer {
                state.timers.removeAll(keepingCapacity: true)
                state.sets.removeAll(keepingCapacity: true)
            }
            return (state.counters, state.gauges, state.timers, state.sets)
        }
        var samples: [MetricSample] = []
        func add(_ key: Key, suffix: String = "", extra: Label? = nil, _ value: Double) {
            var labels = [Label("__name__", key.name + suffix)] + key.tags + extraLabels
            if let extra { labels.append(extra) }
            samples.append(MetricSample(labels: Labels(labels), timestampMs: timestampMs, value: value))
        }
        for (key, value) in counters { add(key, value) }
        for (key, value) in gauges { add(key, value) }
        for (key, set) in sets { add(key, Double(set.count)) }
        for (key, entry) in timers {
            let sorted = entry.values.sorted()
            guard let first = sorted.first, let last = sorted.last else { continue }
            for percentile in percentiles {
                // Nearest rank, as the Datadog agent and statsd report percentiles.
                let rank = max(1, Int((percentile / 100 * Double(sorted.count)).rounded(.up)))
                add(key, extra: Label("quantile", Self.format(percentile / 100)), sorted[min(rank, sorted.count) - 1])
            }
            add(key, suffix: "_sum", sorted.reduce(0, +))
            add(key, suffix: "_count", entry.count)
            add(key, suffix: "_min", first)
            add(key, suffix: "_max", last)
        }
        return samples
    }

    private static func format(_ value: Double) -> String {
        var text = String(value)
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }
}
