import Testing

@testable import SightlineCore

struct LogLevelDetectionTests {
    private func level(_ line: String) -> String { LogLevelDetection.level(line: line) }

    /// Keywords count only as words of their own, the earliest wins, case does not matter; parts of words never match.
    @Test func keywordsInPlainLines() {
        #expect(level("2024/01/01 10:00:00 [warn] disk almost full") == "warn")
        #expect(level("ERROR: connection refused") == "error")
        #expect(level("request failed: err") == "error")
        #expect(level("info request failed -l warning misc:error") == "info")
        #expect(level("Fatal (exit 1)") == "fatal")
        #expect(level("(critical) core dumped") == "critical")
        #expect(level("the Trace follows") == "trace")
        #expect(level("x=debug") == "debug")
        for line in [
            "terror in the streets", "errors: 3", "errorCode 5", "debugging session", "information only", "two warnings",
            "criticality", "tracer started", "stack_trace", "misc:error", "/api/error-handler", "error_code", "error.", "",
        ] {
            #expect(level(line) == "unknown", "\(line)")
        }
    }

    /// A JSON line's level field wins over its words; nested one level, not two; arrays and non-strings are passed by.
    @Test func jsonLines() {
        #expect(level(#"{"msg":"an error happened","level":"INFO"}"#) == "info")
        #expect(level(#"{"a":{"severity":"Warning"},"msg":"x"}"#) == "warn")
        #expect(level(#"{"a":{"b":{"level":"dbg"}},"msg":"x"}"#) == "unknown")
        #expect(level(#"{"level":3,"lvl":"err"}"#) == "error")
        #expect(level(#"{"list":[{"level":"dbg"}],"msg":"fatal"}"#) == "fatal")
        #expect(level(#"  {"level":"dbg"}  "#) == "debug")
        // An unknown value falls back to the words of the whole line.
        #expect(level(#"{"level":"notice","msg":"warn"}"#) == "warn")
        // Malformed JSON: only the words.
        #expect(level(#"{"msg":"x", oops error}"#) == "error")
        #expect(level(#"{"msg":"\u0065rror \"quoted\"","level":"trace"}"#) == "trace")
    }

    /// In logfmt the key that comes first in the field list wins wherever it stands; keys ignore case.
    @Test func logfmtLines() {
        #expect(level("ts=1 msg=hello severity=warn LEVEL=debug") == "debug")
        #expect(level(#"msg="a b" Lvl="ERROR""#) == "error")
        #expect(level("msg=fine level=loud and info") == "info")
        #expect(level("msg=nothing here") == "unknown")
    }

    /// The record's own level comes first: a sent `detected_level`, a stream label, structured metadata (OTLP's
    /// severity text), then the severity number, then the line.
    @Test func recordSourcesInOrder() {
        var record = LogRecord(body: .string("an error"), stream: Labels(["app": "api", "level": "WARN"]))
        #expect(record.detectedLevel == "warn")
        #expect(record.structuredMetadataValue("detected_level") == "warn")
        #expect(record.groupingValue("detected_level") == "warn")
        record.stream = Labels(["app": "api", "level": "notice"])
        #expect(record.detectedLevel == "notice")
        record.stream = Labels(["app": "api"])
        #expect(record.detectedLevel == "error")
        record.severityNumber = 9
        #expect(record.detectedLevel == "info")
        // A severity text is metadata only of OpenTelemetry records (no stream of their own); it wins over the number.
        record.severityText = "Fatal"
        #expect(record.detectedLevel == "info")
        var otel = record
        otel.stream = Labels([])
        #expect(otel.detectedLevel == "fatal")
        record.attributes = [Attribute("detected_level", .string("ERR"))]
        #expect(record.detectedLevel == "error")
        #expect(record.structuredMetadata.contains(Label("detected_level", "error")))
        // Without a stream of its own the record's stream labels come from its resource: no `level` there.
        let otlp = LogRecord(severityNumber: 21, body: .string("x"), resource: [Attribute("service.name", .string("s"))])
        #expect(otlp.detectedLevel == "fatal")
    }

    /// OpenTelemetry's severity number ranges.
    @Test func severityNumbers() {
        let expected: [(Int32, String)] = [
            (-1, "trace"), (0, "unknown"), (1, "trace"), (4, "trace"), (5, "debug"), (8, "debug"), (9, "info"), (12, "info"),
            (13, "warn"), (16, "warn"), (17, "error"), (20, "error"), (21, "fatal"), (24, "fatal"), (25, "unknown"),
        ]
        for (number, name) in expected { #expect(LogLevelDetection.level(severityNumber: number) == name, "\(number)") }
    }
}
