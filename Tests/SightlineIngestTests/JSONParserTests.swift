import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineIngest

struct JSONParserTests {
    private func parseError(_ text: String, maxDepth: Int = JSONParser.defaultMaxDepth) -> String? {
        do {
            _ = try JSONParser.parse(text, maxDepth: maxDepth)
            return nil
        } catch let error as SightlineError {
            #expect(error.code == .invalidArgument)
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func parsesAllValueKinds() throws {
        let value = try JSONParser.parse(#" {"a": [1, -2.5e3, true, false, null, "x"], "b": {}, "c": [], "d": 18446744073709551615} "#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["a", "b", "c", "d"])
        #expect(object["a"] == .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null, .string("x")]))
        #expect(object["b"] == .object(JSONObject()))
        #expect(object["c"] == .array([]))
        #expect(object["d"]?.uint64Value == .max)
        #expect(object["a"]?.arrayValue?[1].doubleValue == -2500)
        #expect(JSONValue.number("1e3").int64Value == 1000)
        #expect(JSONValue.number("1.5").int64Value == nil)
        #expect(JSONValue.number("9223372036854775807").int64Value == .max)
    }

    @Test func decodesEscapes() throws {
        let value = try JSONParser.parse(#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00é""#)
        #expect(value == .string("a\"b\\c/d\u{8}\u{c}\n\r\té😀é"))
        #expect(try JSONParser.parse(#""\ud800x""#) == .string("\u{FFFD}x"))
    }

    /// Strings are scanned eight bytes at a time: every special byte (quote, backslash, control) and multi-byte
    /// character must be found wherever it falls in a word, and an unescaped control character named where it is.
    @Test func stringsRoundTripWhereverTheirSpecialBytesFallInAWord() throws {
        var random = SplitMix64(seed: 5)
        let pieces = ["a", "Z", "\"", "\\", "/", "\n", "\t", "é", "😀", " ", "\u{1F}", "~", "\u{7F}", "0"]
        for length in 0..<40 {
            for _ in 0..<6 {
                let text = (0..<length).map { _ in pieces[Int.random(in: 0..<pieces.count, using: &random)] }.joined()
                for pad in 0..<8 {
                    let json = String(repeating: " ", count: pad) + "[" + JSONText.quoted(text) + "]"
                    #expect(try JSONParser.parse(json) == .array([.string(text)]), "\(json)")
                }
            }
        }
        for position in 0..<20 {
            var bytes = Array(("\"" + String(repeating: "x", count: 20) + "\"").utf8)
            bytes[1 + position] = 0x01
            #expect(throws: SightlineError.self) { try JSONParser.parse(bytes) }
            #expect(parseError(String(decoding: bytes, as: UTF8.self)) == "invalid JSON at byte \(1 + position): unescaped control character in string")
        }
        #expect(parseError("\"" + String(repeating: "y", count: 19)) == "invalid JSON at byte 0: unterminated string")
    }

    /// Reading a string into a byte buffer appends what it spells (escapes resolved) after what the buffer held;
    /// invalid UTF-8 is refused with or without escapes. Keys without escapes and beyond ASCII come as their bytes.
    @Test func stringsAppendToBuffersAndKeysComeAsBytes() throws {
        var random = SplitMix64(seed: 9)
        let pieces = ["a", "\"", "\\", "\n", "é", "😀", " ", "~", "0"]
        for length in 0..<24 {
            let text = (0..<length).map { _ in pieces[Int.random(in: 0..<pieces.count, using: &random)] }.joined()
            try Array(("[" + JSONText.quoted(text) + "]").utf8).withUnsafeBytes { raw in
                var parser = JSONParser(reading: raw)
                try parser.beginArray()
                var elements = 0
                #expect(try parser.nextElement(&elements))
                var buffer: [UInt8] = [7]
                try parser.readString(appendingTo: &buffer)
                #expect(buffer == [7] + Array(text.utf8), "\(text)")
            }
        }
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0x5C, 0x6E, 0xC3, 0x22]] {
            try bytes.withUnsafeBytes { raw in
                var parser = JSONParser(reading: raw)
                var buffer: [UInt8] = []
                #expect(throws: SightlineError.self) { try parser.readString(appendingTo: &buffer) }
            }
        }
        try Array(#"{"plain":1,"esc\"aped":2,"caf\#u{E9}":3}"#.utf8).withUnsafeBytes { raw in
            var parser = JSONParser(reading: raw)
            try parser.beginObject()
            var members = 0
            var keys: [String] = []
            while let key = try parser.nextRawKey(&members) {
                if case .bytes = key { keys.append("bytes:" + key.text) } else { keys.append("text:" + key.text) }
                _ = try parser.readValue()
            }
            #expect(keys == ["bytes:plain", "text:esc\"aped", "text:café"])
        }
    }

    /// Strings and keys read one by one give what their literals spell, escapes resolved; invalid UTF-8 is refused.
    @Test func readingStringsAndKeysGivesWhatTheLiteralsSpell() throws {
        let text = #"{"logger":"payments.http.server","k":"a\"b","bad":"\#u{FF}x","n":"plain"}"#
        var bytes = Array(text.utf8)
        // An invalid UTF-8 byte inside the third value.
        let at = try #require(bytes.firstIndex(of: 0xC3))
        bytes.replaceSubrange(at..<(at + 2), with: [0xFF])
        try bytes.withUnsafeBytes { raw in
            var parser = JSONParser(reading: raw)
            try parser.beginObject()
            var members = 0
            #expect(try parser.nextKey(&members) == "logger")
            #expect(try parser.readString() == "payments.http.server")
            #expect(try parser.nextKey(&members) == "k")
            #expect(try parser.readString() == "a\"b")
            #expect(try parser.nextKey(&members) == "bad")
            #expect(throws: SightlineError.self) { try parser.readString() }
        }
        try Array(#"["plain","longer than fifteen bytes"]"#.utf8).withUnsafeBytes { raw in
            var parser = JSONParser(reading: raw)
            try parser.beginArray()
            var elements = 0
            #expect(try parser.nextElement(&elements))
            #expect(try parser.readString() == "plain")
            #expect(try parser.nextElement(&elements))
            #expect(try parser.readString() == "longer than fifteen bytes")
        }
    }

    @Test func duplicateKeysKeepTheLast() throws {
        let object = try #require(try JSONParser.parse(#"{"k": 1, "k": 2}"#).objectValue)
        #expect(object["k"] == .number("2"))
        #expect(object["missing", or: "k"] == .number("2"))
    }

    @Test(arguments: [
        (#"{"a" 1}"#, "invalid JSON at byte 5: expected ':'"),
        (#"{"a": [1, 2}"#, "invalid JSON at byte 11: expected ',' or ']'"),
        (#"{"a": 1,}"#, "invalid JSON at byte 8: expected a string key"),
        ("", "invalid JSON at byte 0: unexpected end of input, expected a value"),
        ("01", "invalid JSON at byte 1: invalid number: leading zero"),
        ("1.", "invalid JSON at byte 2: invalid number: expected a digit after '.'"),
        ("-", "invalid JSON at byte 1: invalid number: expected a digit"),
        ("tru", "invalid JSON at byte 0: invalid literal, expected 'true'"),
        (#""abc"#, "invalid JSON at byte 0: unterminated string"),
        (#""\x""#, #"invalid JSON at byte 1: invalid escape sequence '\x'"#),
        ("\"a\nb\"", "invalid JSON at byte 2: unescaped control character in string"),
        ("[1] 2", "invalid JSON at byte 4: unexpected characters after the document"),
        ("@", "invalid JSON at byte 0: unexpected character '@', expected a value"),
    ])
    func reportsErrorsWithByteOffsets(text: String, expected: String) {
        #expect(parseError(text) == expected)
    }

    @Test func rejectsInvalidUTF8() throws {
        do {
            _ = try JSONParser.parse([0x22, 0xFF, 0x22])
            Issue.record("expected an error")
        } catch let error as SightlineError {
            #expect(error.message == "invalid JSON at byte 1: invalid UTF-8 in string")
        }
    }

    @Test func limitsNesting() throws {
        let deep = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect(try JSONParser.parse(deep, maxDepth: 10) != .null)
        #expect(parseError(deep, maxDepth: 9) == "invalid JSON at byte 9: nesting deeper than 9 levels")
        let hostile = String(repeating: "[", count: 100_000)
        #expect(parseError(hostile)?.contains("nesting deeper than") == true)
    }

    @Test func malformedOTLPJSONNamesTheProblem() {
        func error(_ signal: Signal, _ json: String) -> SightlineError? {
            sightlineError { _ = try OTLPDecoder.decode(signal, body: Array(json.utf8), format: .json) }
        }
        #expect(error(.logs, #"{"resourceLogs": [}"#)?.message == "invalid JSON at byte 18: unexpected character '}', expected a value")
        #expect(
            error(.logs, #"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":true}]}]}]}"#)?.message
                == "invalid OTLP JSON in ExportLogsServiceRequest.resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano: expected an integer string or number, got boolean"
        )
        #expect(
            error(.traces, #"{"resourceSpans":{"x":1}}"#)?.message
                == "invalid OTLP JSON in ExportTraceServiceRequest.resourceSpans: expected an array, got object")
        #expect(
            error(.traces, #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_BOGUS"}]}]}]}"#)?.message
                == "invalid OTLP JSON in ExportTraceServiceRequest.resourceSpans[0].scopeSpans[0].spans[0].kind: unknown enum value \"SPAN_KIND_BOGUS\""
        )
        #expect(
            error(.metrics, #"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"asDouble":"abc"}]}}]}]}]}"#)?
                .message
                == "invalid OTLP JSON in ExportMetricsServiceRequest.resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asDouble: expected a number, got \"abc\""
        )
        #expect(error(.logs, "[]")?.message == "invalid OTLP JSON in ExportLogsServiceRequest: expected an object, got array")
        #expect(
            error(.logs, #"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"-5"}]}]}]}"#)?.message.hasSuffix(
                "timeUnixNano: expected an unsigned 64-bit integer, got \"-5\"") == true)
    }

    @Test func everyTruncationOfConformanceJSONIsHandled() throws {
        for name in ["logs.json", "metrics.json", "trace.json", "events.json"] {
            let bytes = try Fixtures.conformance(name)
            let signal: Signal = name == "metrics.json" ? .metrics : (name == "trace.json" ? .traces : .logs)
            for length in 0..<bytes.count {
                expectDecodesOrFails(with: .invalidArgument) {
                    _ = try OTLPDecoder.decode(signal, body: Array(bytes[..<length]), format: .json)
                }
            }
        }
    }
}
