import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineIngest

/// Builds `logproto.PushRequest`s by hand, with the field numbers of grafana/loki `pkg/push/push.proto`.
private struct PushRequestBuilder {
    var writer = ProtobufWriter()

    mutating func stream(_ labels: String, entries: [(seconds: Int64, nanos: Int32, line: String, metadata: [(String, String)])]) {
        writer.writeMessage(1) { stream in
            stream.writeString(1, labels)
            for entry in entries {
                stream.writeMessage(2) { message in
                    message.writeMessage(1) { timestamp in
                        timestamp.writeInt64(1, entry.seconds)
                        if entry.nanos != 0 { timestamp.writeInt64(2, Int64(entry.nanos)) }
                    }
                    message.writeString(2, entry.line)
                    for (name, value) in entry.metadata {
                        message.writeMessage(3) { pair in
                            pair.writeString(1, name)
                            pair.writeString(2, value)
                        }
                    }
                }
            }
            stream.writeVarint(3, 12345)
        }
    }
}

private func logs(_ batch: DecodedBatch) -> [LogRecord] {
    if case .logs(let records) = batch.batch { return Array(records) }
    Issue.record("not a logs batch")
    return []
}

struct LokiPushDecoderTests {
    @Test func jsonStreamsBecomeRecords() throws {
        let body = #"""
            {"streams":[{"stream":{"app":"api","env":"prod"},"values":[
              ["1700000000123456789","first line"],
              ["1700000001000000000","second",{"trace_id":"abc","level":"warn"}]
            ]},{"stream":{"app":"db","level":"error"},"values":[["5","x"]]}]}
            """#
        let decoded = try LokiPushDecoder.decode(json: Array(body.utf8))
        let records = logs(decoded)
        #expect(decoded.rejected == 0)
        #expect(records.count == 3)
        #expect(records[0].timeUnixNano == 1_700_000_000_123_456_789)
        #expect(records[0].body == .string("first line"))
        #expect(records[0].stream == Labels(["app": "api", "env": "prod", "service_name": "api"]))
        #expect(records[0].attributes.isEmpty)
        #expect(records[0].severityNumber == 0)
        #expect(records[1].attributes == [Attribute("trace_id", .string("abc")), Attribute("level", .string("warn"))])
        #expect(records[1].severityNumber == 13)
        #expect(records[1].severityText == "warn")
        #expect(records[2].severityNumber == 17)
        #expect(records[2].stream["app"] == "db")
    }

    /// Loki 3 gives every pushed stream a `service_name`: its own, the first label that names a service, or
    /// `unknown_service`.
    @Test func streamsGetAServiceName() {
        #expect(LokiServiceName.discovered(Labels(["job": "j", "container": "c"])) == Labels(["job": "j", "container": "c", "service_name": "c"]))
        #expect(LokiServiceName.discovered(Labels(["service_name": "s", "app": "a"])) == Labels(["service_name": "s", "app": "a"]))
        #expect(LokiServiceName.discovered(Labels(["host": "h"])) == Labels(["host": "h", "service_name": "unknown_service"]))
        #expect(LokiServiceName.discovered(Labels(["service": "x", "app": "y"]))["service_name"] == "x")
    }

    @Test func jsonIsReadInAnyMemberOrderWithUnknownMembersSkipped() throws {
        // Values before the labels, members Loki does not define, escapes in lines and timestamps, null metadata.
        let body = #"""
            {"extra":{"a":[1,{"b":null}]},"streams":[{"values":[["\u0031\u0030","tab\there \"q\" \u00e9"],
            ["+20","two",null],["30","three",{"level":"error"}]],"note":true,"stream":{"app":"x"}}],"more":"z"}
            """#
        let records = logs(try LokiPushDecoder.decode(json: Array(body.utf8)))
        #expect(records.map(\.timeUnixNano) == [10, 20, 30])
        #expect(records[0].body == .string("tab\there \"q\" é"))
        #expect(records.allSatisfy { $0.stream == Labels(["app": "x", "service_name": "x"]) })
        #expect(records[1].attributes.isEmpty)
        #expect(records[2].severityNumber == 17)
        let refused = [
            (#"{"streams":[{"stream":{"a":"b"},"values":[["1","x",{},4]]}]}"#, "streams[0].values[0]"),
            (#"{"streams":[{"stream":{"a":"b"},"values":[["99999999999999999999","x"]]}]}"#, "\"99999999999999999999\""),
            (#"{"streams":[{"stream":{"a":"b"} "values":[]}]}"#, "invalid JSON"),
            (#"{"streams":[]} x"#, "invalid JSON"),
            (#"{"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}],}"#, "invalid JSON"),
        ]
        for (body, fragment) in refused {
            let error = sightlineError { _ = try LokiPushDecoder.decode(json: Array(body.utf8)) }
            #expect(error?.code == .invalidArgument, "\(body)")
            #expect(error?.message.contains(fragment) == true, "\(body): \(error?.message ?? "no error")")
        }
    }

    /// Entries read before their stream's labels get them (and their level) when the labels come; entries after
    /// the labels get them at once; a rejected entry is named by its stream either way.
    @Test func entriesBeforeAndAfterTheLabelsBelongToTheStream() throws {
        let body = #"""
            {"streams":[{"values":[["-1","old"],["1","a"],["2","b",{"level":"error"}]],"stream":{"app":"x","level":"info"},
            "values":[["3","c"],["-4","older"]]},{"stream":{"app":"y"},"values":[["5","d"]]}]}
            """#
        let decoded = try LokiPushDecoder.decode(json: Array(body.utf8))
        let records = logs(decoded)
        #expect(records.map(\.line) == ["a", "b", "c", "d"])
        #expect(records.map { $0.stream["app"] } == ["x", "x", "x", "y"])
        #expect(records.map(\.severityText) == ["info", "error", "info", ""])
        #expect(decoded.rejected == 2)
        #expect(decoded.rejectionMessage.contains(#"app="x""#), "\(decoded.rejectionMessage)")
    }

    @Test func emptyPushesAreAccepted() throws {
        #expect(logs(try LokiPushDecoder.decode(json: Array(#"{"streams":[]}"#.utf8))).isEmpty)
        #expect(logs(try LokiPushDecoder.decode(json: Array("{}".utf8))).isEmpty)
    }

    @Test func malformedJSONIsRefusedWithItsPath() {
        let cases: [(String, String)] = [
            ("{\"streams\":[", "invalid JSON"),
            ("[1]", "must be a JSON object"),
            (#"{"streams":{}}"#, "streams must be an array"),
            (#"{"streams":[{"stream":{"a":"b"},"values":[[1.5,"x"]]}]}"#, "streams[0].values[0][0]"),
            (#"{"streams":[{"stream":{"a":"b"},"values":[["abc","x"]]}]}"#, "\"abc\""),
            (#"{"streams":[{"stream":{"a":"b"},"values":[["1",2]]}]}"#, "streams[0].values[0][1]"),
            (#"{"streams":[{"stream":{"a":"b"},"values":[["1"]]}]}"#, "streams[0].values[0]"),
            (#"{"streams":[{"stream":{"a":1},"values":[]}]}"#, "label values must be strings"),
            (#"{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":1}]]}]}"#, "structured metadata values"),
            (#"{"streams":[{"stream":{"a":"b"},"values":[["1","x"]],"stream":{"c":"d"}}]}"#, "streams[0]: stream appears twice"),
        ]
        for (body, fragment) in cases {
            let error = sightlineError { _ = try LokiPushDecoder.decode(json: Array(body.utf8)) }
            #expect(error?.code == .invalidArgument, "\(body)")
            #expect(error?.message.contains(fragment) == true, "\(body): \(error?.message ?? "no error")")
        }
    }

    @Test func invalidJSONStreamLabelsAreRefused() {
        let empty = sightlineError { _ = try LokiPushDecoder.decode(json: Array(#"{"streams":[{"stream":{},"values":[["1","x"]]}]}"#.utf8)) }
        #expect(empty?.message.contains("at least one label pair") == true)
        let badName = sightlineError { _ = try LokiPushDecoder.decode(json: Array(#"{"streams":[{"stream":{"1x":"y"},"values":[]}]}"#.utf8)) }
        #expect(badName?.message.contains("1x") == true)
    }

    @Test func protobufStreamsBecomeRecords() throws {
        var builder = PushRequestBuilder()
        builder.stream(#"{app="api", path="C:\\tmp \"x\""}"#, entries: [
            (1_700_000_000, 5, "hello", []),
            (1_700_000_001, 0, "with metadata", [("trace_id", "t1"), ("severity", "DEBUG")]),
        ])
        builder.stream("{level=`info`}", entries: [(2, 0, "raw", [])])
        let compressed = Snappy.compress(builder.writer.bytes)
        let decoded = try LokiPushDecoder.decode(snappyProtobuf: compressed, maxDecompressed: 1 << 20)
        let records = logs(decoded)
        #expect(records.count == 3)
        #expect(records[0].timeUnixNano == 1_700_000_000_000_000_005)
        #expect(records[0].body == .string("hello"))
        #expect(records[0].stream == Labels(["app": "api", "path": #"C:\tmp "x""#, "service_name": "api"]))
        #expect(records[1].attributes == [Attribute("trace_id", .string("t1")), Attribute("severity", .string("DEBUG"))])
        #expect(records[1].severityNumber == 5)
        #expect(records[1].severityText == "DEBUG")
        #expect(records[2].stream == Labels(["level": "info", "service_name": "unknown_service"]))
        #expect(records[2].severityNumber == 9)
    }

    @Test func negativeTimestampsAreRejectedAlone() throws {
        var builder = PushRequestBuilder()
        builder.stream(#"{a="b"}"#, entries: [(-5, 0, "old", []), (1, 0, "ok", [])])
        let decoded = try LokiPushDecoder.decode(protobuf: builder.writer.bytes)
        #expect(logs(decoded).map(\.body) == [.string("ok")])
        #expect(decoded.rejected == 1)
        #expect(decoded.rejectionMessage.contains("before 1970"))
    }

    @Test func malformedProtobufAndSnappyAreRefused() {
        var builder = PushRequestBuilder()
        builder.stream(#"{a="b"}"#, entries: [(1, 0, "line", [])])
        let truncated = Array(builder.writer.bytes.dropLast(3))
        let protobufError = sightlineError { _ = try LokiPushDecoder.decode(protobuf: truncated) }
        #expect(protobufError?.code == .invalidArgument)
        #expect(protobufError?.message.contains("PushRequest.streams[0]") == true)
        let snappyError = sightlineError { _ = try LokiPushDecoder.decode(snappyProtobuf: [0xFF, 0xFF, 0x01, 0x02], maxDecompressed: 1 << 20) }
        #expect(snappyError != nil)
        let tooLarge = sightlineError { _ = try LokiPushDecoder.decode(snappyProtobuf: Snappy.compress(Array(repeating: 0, count: 4096)), maxDecompressed: 100) }
        #expect(tooLarge?.code == .tooLarge)
    }

    @Test func badSelectorsAreRefusedNamingThem() {
        for selector in ["{foo=bar}", "app=\"x\"", "{foo=\"bar\"", "{=\"x\"}", "{}", "{a=\"1\", a=\"2\"}", "{a=\"x\"} extra", "{9a=\"x\"}"] {
            var builder = PushRequestBuilder()
            builder.stream(selector, entries: [(1, 0, "line", [])])
            let error = sightlineError { _ = try LokiPushDecoder.decode(protobuf: builder.writer.bytes) }
            #expect(error?.code == .invalidArgument, "\(selector)")
            #expect(error?.message.contains("error parsing labels '\(selector)'") == true, "\(error?.message ?? "no error")")
        }
    }

    @Test func selectorsParseLikeLoki() throws {
        #expect(try LokiLabelSelector.parse(#"{ a = "1" , b="2", }"#) == Labels(["a": "1", "b": "2"]))
        #expect(try LokiLabelSelector.parse(#"{a="\u00e9\n"}"#) == Labels(["a": "é\n"]))
        #expect(try LokiLabelSelector.parse("{a='x'}") == Labels(["a": "x"]))
    }

    /// A record's level: the last value of the first of level, severity, log.level in its metadata that is a
    /// non-empty string, else the stream's label of those names.
    @Test func levelsComeFromMetadataFirstThenTheStream() throws {
        let body = #"""
            {"streams":[{"stream":{"app":"a","severity":"","level":"DEBUG"},"values":[
              ["1","plain"],
              ["2","later level wins",{"level":"info","x":"1","level":"error"}],
              ["3","empty level falls through",{"level":"","log.level":"warn","severity":"fatal"}],
              ["4","log.level last",{"log.level":"warn"}],
              ["5","not a level key",{"lvl":"error"}]
            ]}]}
            """#
        let records = logs(try LokiPushDecoder.decode(json: Array(body.utf8)))
        #expect(records.map(\.severityText) == ["DEBUG", "error", "fatal", "warn", "DEBUG"])
        #expect(records.map(\.severityNumber) == [5, 17, 21, 13, 5])
    }

    @Test func levelNamesMapToOpenTelemetrySeverities() {
        #expect(LogSeverity.number(forLevel: "DEBUG") == 5)
        #expect(LogSeverity.number(forLevel: "info") == 9)
        #expect(LogSeverity.number(forLevel: "Warning") == 13)
        #expect(LogSeverity.number(forLevel: "err") == 17)
        #expect(LogSeverity.number(forLevel: "fatal") == 21)
        #expect(LogSeverity.number(forLevel: "chatty") == 0)
    }
}
