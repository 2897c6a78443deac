import SightlineCore
import SightlineQuery
import Testing

struct LogFieldDetectorTests {
    private func fields(_ entries: [(Labels, LogEntry)], limit: Int = 1000) -> [String: LogFieldDetector.Field] {
        var detector = LogFieldDetector(limit: limit)
        for (stream, entry) in entries { detector.add(stream: stream, entry: entry) }
        return Dictionary(uniqueKeysWithValues: detector.fields.map { ($0.name, $0) })
    }

    @Test func typesAsLokiNamesThem() {
        let expected = [
            ("42", "int"), ("-7", "int"), ("1", "int"), ("1.0", "float"), ("1e3", "float"), ("true", "boolean"), ("F", "boolean"),
            ("250ms", "duration"), ("1h30m", "duration"), ("1d", "string"), ("10KiB", "bytes"), ("5 MB", "bytes"), ("2.0GB", "bytes"),
            ("hello", "string"), ("", "string"),
        ]
        for (value, type) in expected { #expect(LogFieldDetector.type(of: value) == type, "\(value)") }
    }

    /// JSON lines give flattened names with their key paths; other lines are read as logfmt; names that are stream
    /// labels or metadata are `_extracted`; metadata, the query's parsed labels and the level count too.
    @Test func fieldsOfJSONLogfmtMetadataAndParsedLabels() {
        let stream = Labels(["app": "api", "level": "info"])
        let json = LogEntry(
            timeNs: 1, line: #"{"user":{"id":7,"tags":["a"]},"app":"x","took":"250ms","gone":null}"#,
            structuredMetadata: Labels(["trace_id": "abc"]))
        let logfmt = LogEntry(timeNs: 2, line: "status=200 latency=1.5 empty= path=/x", parsed: Labels(["route": "/x"]))
        let found = fields([(stream, json), (stream, logfmt)])
        #expect(Set(found.keys) == ["user_id", "app_extracted", "took", "trace_id", "detected_level", "status", "latency", "path", "route"])
        #expect(found["user_id"]?.jsonPath == ["user", "id"])
        #expect(found["user_id"]?.type == "int")
        #expect(found["user_id"]?.parsers == ["json"])
        #expect(found["app_extracted"]?.jsonPath == ["app"])
        #expect(found["took"]?.type == "duration")
        #expect(found["trace_id"]?.parsers == [])
        #expect(found["trace_id"]?.jsonPath == nil)
        #expect(found["status"]?.parsers == ["logfmt"])
        #expect(found["latency"]?.type == "float")
        #expect(found["route"]?.parsers == [])
        // The stream's level label is the level of both.
        #expect(found["detected_level"]?.values == ["info"])
    }

    /// Types follow the latest value; cardinality counts distinct values; the field limit keeps the first found.
    @Test func valuesTypesAndLimit() {
        let stream = Labels(["app": "api"])
        let entries = ["n=1 a=x", "n=2 a=y", "n=three a=x"].map { (stream, LogEntry(timeNs: 0, line: $0)) }
        let found = fields(entries)
        #expect(found["n"]?.values == ["1", "2", "three"])
        #expect(found["n"]?.type == "string")
        #expect(found["a"]?.values.count == 2)
        #expect(found["detected_level"]?.values == ["unknown"])
        // An OpenTelemetry record's severity number gives its level when nothing else does.
        let warned = fields([(stream, LogEntry(timeNs: 0, line: "disk full", severityNumber: 13))])
        #expect(warned["detected_level"]?.values == ["warn"])
        let limited = fields(entries, limit: 2)
        #expect(limited.count == 2)
    }
}
