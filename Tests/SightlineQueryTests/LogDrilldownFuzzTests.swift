import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineQuery

/// Random lines through what reads arbitrary log text for Grafana's Logs Drilldown: the level detection, the pattern
/// tokenizers and Drain, and the field detector. Each returns an answer, never traps.
@Suite struct LogDrilldownFuzzTests {
    private func randomLine(_ rng: inout SplitMix64) -> String {
        let pieces = [
            "{", "}", "[", "]", "\"", "\\", "\\u", "d83d", "=", " ", "  ", ":", ",", "level", "msg", "error", "warn", "x", "é", "✓", "\t", "\n",
            "<_>", "1", "0.5", "ts", "true", "null", "{\"a\":", "\"b\"", "key=\"v", "-", "/", "_",
        ]
        return (0..<Int(rng.next() % 40)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
    }

    @Test func levelsTokensPatternsAndFieldsNeverTrap() {
        var rng = SplitMix64(seed: 23)
        var drains = [Drain(), Drain(), Drain()]
        var fields = LogFieldDetector(limit: 50)
        let stream = Labels(["app": "fuzz"])
        for index in 0..<4000 {
            let line = randomLine(&rng)
            let level = LogLevelDetection.level(streamValue: { _ in nil }, metadataValue: { _ in nil }, severityNumber: 0, line: line)
            #expect(!level.isEmpty)
            for (slot, tokenizer) in [LogPatternTokenizer.punctuation, .logfmt, .json].enumerated() {
                guard let tokens = tokenizer.tokenize(line) else { continue }
                drains[slot].train(tokens, bucket: Int64(index % 7))
            }
            _ = LogPatternTokenizer.detect(line)
            fields.add(stream: stream, entry: LogEntry(timeNs: Int64(index), line: line, severityNumber: Int32(rng.next() % 30)))
        }
        for (slot, tokenizer) in [LogPatternTokenizer.punctuation, .logfmt, .json].enumerated() {
            for cluster in drains[slot].clusters.values { _ = tokenizer.join(cluster.tokens, spaces: cluster.spaces) }
        }
        #expect(fields.fields.contains { $0.name == "detected_level" })
    }
}
