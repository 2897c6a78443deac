package import SightlineCore

/// One pattern of Loki's `/patterns` answer: the template, the level of its lines and its line counts per bucket.
package struct LogPattern: Sendable, Equatable {
    package var pattern: String
    package var level: String
    /// (bucket start in ms, lines), ascending.
    package var samples: [(t: Int64, count: Int)]

    package static func == (a: LogPattern, b: LogPattern) -> Bool {
        a.pattern == b.pattern && a.level == b.level && a.samples.elementsEqual(b.samples) { $0 == $1 }
    }
}

/// Loki's log patterns, found the way its pattern ingester finds them but from the stored lines when asked: each
/// stream's lines of each level go through a ``Drain`` of their own (the stream's first line chooses the tokenizer),
/// oldest first; the counts of equal patterns of one level add up across streams.
package enum LogPatterns {
    /// Patterns with fewer lines are left out.
    static let minLines = 30
    /// At most this many patterns, the most frequent.
    static let maxPatterns = 300
    /// Counts are kept per 10 s before they are summed into steps.
    static let sampleIntervalMs: Int64 = 10_000
    /// How much of a range is read: its newest three hours, as long as Loki's pattern ingesters keep patterns.
    static let maxRangeNs: Int64 = 3 * 3_600_000_000_000

    /// The patterns of the streams matching `matchers` over `[start, end)` (ns) — its newest ``maxRangeNs`` only —
    /// counted per `step` (ns, at least 10 s) in buckets aligned to the epoch; the most frequent first. Between a
    /// pattern's first and last bucket in a stream, empty buckets count 0 (unless the step is 10 s), as Loki's chunks
    /// fill them.
    package static func find(source: any LogSource, tenant: Tenant, matchers: [LabelMatcher], start: Int64, end: Int64, step: Int64) throws
        -> [LogPattern]
    {
        let start = max(start, end &- maxRangeNs)
        let stepMs = max(sampleIntervalMs, step / 1_000_000)
        struct StreamState {
            var tokenizer: LogPatternTokenizer
            var drains: [String: Drain] = [:]
        }
        var states: [StreamState] = []
        var streams = FirstSeenNumbering<Labels>()
        let scan = LogScan(tenant: tenant, matchers: matchers, range: LogQLEngine.timeRange(from: start, to: end), direction: .forward)
        try source.scan(scan) { record in
            let line = record.line
            // Every tokenizer passes longer lines by; the stream's format is chosen by its first line it reads.
            guard line.utf8.count <= LogPatternTokenizer.maxLineBytes else { return true }
            let stream = record.streamLabels
            let (number, isNew) = streams.number(stream)
            if isNew { states.append(StreamState(tokenizer: LogPatternTokenizer.detect(line))) }
            guard let tokens = states[number].tokenizer.tokenize(line) else { return true }
            // A pattern's level is one Loki knows; a level label's other values (kept as sent) are `unknown`.
            let level = LogLevelDetection.normalised(record.detectedLevel(streamLabels: stream)) ?? "unknown"
            let ms = Int64(clamping: record.effectiveTimeUnixNano / 1_000_000)
            let sampled = ms - ms % sampleIntervalMs
            states[number].drains[level, default: Drain()].train(tokens, bucket: sampled - sampled % stepMs)
            return true
        }
        struct Key: Hashable {
            var pattern: String
            var level: String
        }
        var merged: [Key: [Int64: Int]] = [:]
        for state in states {
            for (level, drain) in state.drains {
                for cluster in drain.clusters.values {
                    let pattern = state.tokenizer.join(cluster.tokens, spaces: cluster.spaces)
                    guard !pattern.isEmpty else { continue }
                    var counts = cluster.counts
                    if stepMs != sampleIntervalMs, let first = counts.keys.min(), let last = counts.keys.max() {
                        for bucket in stride(from: first, through: last, by: Int(stepMs)) where counts[bucket] == nil { counts[bucket] = 0 }
                    }
                    merged[Key(pattern: pattern, level: level), default: [:]].merge(counts, uniquingKeysWith: +)
                }
            }
        }
        let patterns = merged.map { key, counts in
            LogPattern(pattern: key.pattern, level: key.level, samples: counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
        let totals = patterns.map { $0.samples.reduce(0) { $0 + $1.count } }
        return zip(patterns, totals).filter { $0.1 >= minLines }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : ($0.0.level, $0.0.pattern) < ($1.0.level, $1.0.pattern) }
            .prefix(maxPatterns).map(\.0)
    }
}
