import Foundation
import SightlineCore
import SightlineQuery
import Testing

@testable import SightlineServer

/// Loki's `categorize-labels` encoding of streams (every line's metadata with its detected level, as Loki stores it),
/// in query results and tail messages; Loki's default step.
struct LokiEncodingTests {
    @Test func defaultStepIsTheRangeOver250RoundedDown() {
        let second: UInt64 = 1_000_000_000
        #expect(LokiParameters.defaultStep(start: 0, end: 3600 * second) == 14 * second)
        #expect(LokiParameters.defaultStep(start: 0, end: 100 * second) == second)
        #expect(LokiParameters.defaultStep(start: 5, end: 5) == second)
    }

    private let streams = [
        LogStreamResult(
            labels: Labels(["app": "a", "user": "1"]), streamLabels: Labels(["app": "a"]),
            entries: [LogEntry(timeNs: 30, line: "x", structuredMetadata: Labels(["user": "1"]))]),
        LogStreamResult(
            labels: Labels(["app": "a", "n": "2"]), streamLabels: Labels(["app": "a"]), entries: [LogEntry(timeNs: 40, line: "[warn] y", parsed: Labels(["n": "2"]))]),
        LogStreamResult(labels: Labels(["app": "b"]), entries: [LogEntry(timeNs: 10, line: "z")]),
    ]

    @Test func categorizedStreamsAreStreamLabelsWithEntriesInOrder() {
        let categorized = LokiQueryAPI.queryData(.streams(streams), flags: ["categorize-labels"], direction: .backward)
        #expect(
            categorized
                == #"{"status":"success","data":{"resultType":"streams","encodingFlags":["categorize-labels"],"result":[{"stream":{"app":"a"},"values":[["40","[warn] y",{"structuredMetadata":{"detected_level":"warn"},"parsed":{"n":"2"}}],["30","x",{"structuredMetadata":{"detected_level":"unknown","user":"1"}}]]},{"stream":{"app":"b"},"values":[["10","z",{"structuredMetadata":{"detected_level":"unknown"}}]]}],"stats":{}}}"#
        )
        let plain = LokiQueryAPI.queryData(.streams(streams))
        #expect(plain.contains(#"{"stream":{"app":"a","user":"1"},"values":[["30","x"]]}"#) && !plain.contains("encodingFlags"))
        // Unknown flags are echoed and change nothing else.
        let other = LokiQueryAPI.queryData(.streams(streams), flags: ["future-flag"])
        #expect(other == plain.replacingOccurrences(of: #""streams","#, with: #""streams","encodingFlags":["future-flag"],"#))
    }

    @Test func tailMessagesNameTheirFlagsLast() {
        let message = LokiTailHandler.message(Array(streams.prefix(2)), flags: ["categorize-labels"])
        #expect(
            message
                == #"{"streams":[{"stream":{"app":"a"},"values":[["30","x",{"structuredMetadata":{"detected_level":"unknown","user":"1"}}],["40","[warn] y",{"structuredMetadata":{"detected_level":"warn"},"parsed":{"n":"2"}}]]}],"dropped_entries":null,"encodingFlags":["categorize-labels"]}"#
        )
    }
}
