import SightlineCore
import Testing

@testable import SightlineIngest

struct OpenTSDBPutDecoderTests {
    private func decode(_ text: String) throws -> OpenTSDBPutDecoder.Decoded {
        try Array(text.utf8).withUnsafeBytes { try OpenTSDBPutDecoder.decode(json: $0) }
    }

    @Test func pointsInSecondsOrMillisecondsWithTags() throws {
        let decoded = try decode(
            """
            [{"metric": "sys.cpu.user", "timestamp": 1700000000, "value": 42.5, "tags": {"host": "web01", "cpu": "0"}},
             {"metric": "sys.cpu.user", "timestamp": 1700000000123, "value": "7", "tags": {"host": "web01", "cpu": "0"}}]
            """)
        #expect(decoded.errors.isEmpty)
        #expect(decoded.samples.map { "\($0.labels) \($0.value) \($0.timestampMs)" } == [
            #"sys.cpu.user{cpu="0", host="web01"} 42.5 1700000000000"#, #"sys.cpu.user{cpu="0", host="web01"} 7.0 1700000000123"#,
        ])
        #expect(try decode(#"{"metric": "m", "timestamp": 1, "value": 1}"#).samples.count == 1)
    }

    @Test func badPointsAreNamedAndBadBodiesRefused() throws {
        let decoded = try decode(
            """
            [{"metric": "ok", "timestamp": 1, "value": 1}, {"timestamp": 1, "value": 1}, {"metric": "m", "value": 1},
             {"metric": "m", "timestamp": 1, "value": "x"}, {"metric": "m", "timestamp": 1, "value": 1, "tags": {"a": 1}}, 5]
            """)
        #expect(decoded.samples.count == 1)
        #expect(decoded.errors == [
            "data point 1: missing \"metric\"",
            "data point 2: missing or invalid \"timestamp\" (seconds or milliseconds since the epoch)",
            "data point 3: \"value\" is not a number",
            "data point 4: tag \"a\" must be a string",
            "data point 5: expected an object",
        ])
        #expect(throws: SightlineError.self) { try decode("42") }
        #expect(throws: SightlineError.self) { try decode("[") }
    }
}
