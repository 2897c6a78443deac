import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineIngest

private func decode(_ lines: [String], index: String? = nil) throws -> ElasticsearchBulkRequest {
    try ElasticsearchBulkDecoder.decode(Array((lines.joined(separator: "\n") + "\n").utf8), defaultIndex: index)
}

struct ElasticsearchBulkDecoderTests {
    @Test func indexAndCreateActionsStoreDocuments() throws {
        let request = try decode([
            #"{"index":{"_index":"app-logs","_id":"one"}}"#,
            #"{"@timestamp":"2024-05-01T12:30:00.123Z","message":"hello","log":{"level":"warn","file":{"path":"/var/log/a"}},"tags":["a","b"],"count":3,"ratio":0.5,"ok":true,"gone":null}"#,
            #"{"create":{}}"#,
            #"{"@timestamp":1714566600123,"msg":"from msg"}"#,
        ], index: "default-index")
        #expect(request.items.map(\.action) == ["index", "create"])
        #expect(request.items.map(\.index) == ["app-logs", "default-index"])
        #expect(request.items.map(\.id) == ["one", nil])
        #expect(request.items.allSatisfy { $0.status == 201 && !$0.isError })
        #expect(request.records.count == 2)
        let first = request.records[0]
        #expect(first.timeUnixNano == 1_714_566_600_123_000_000)
        #expect(first.body == .string("hello"))
        #expect(first.stream == Labels(["index": "app-logs"]))
        #expect(first.attributes == [
            Attribute("log.level", .string("warn")), Attribute("log.file.path", .string("/var/log/a")),
            Attribute("tags", .string(#"["a","b"]"#)), Attribute("count", .int(3)), Attribute("ratio", .double(0.5)),
            Attribute("ok", .bool(true)),
        ])
        #expect(first.severityNumber == 13)
        #expect(first.severityText == "warn")
        let second = request.records[1]
        #expect(second.timeUnixNano == 1_714_566_600_123_000_000)
        #expect(second.body == .string("from msg"))
        #expect(second.stream == Labels(["index": "default-index"]))
        #expect(second.attributes.isEmpty)
    }

    @Test func bodyFallsBackFromMessageToLogToMsg() throws {
        let request = try decode([
            #"{"index":{}}"#, #"{"log":"docker line","msg":"m"}"#,
            #"{"index":{}}"#, #"{"message":{"not":"a string"},"msg":"m"}"#,
            #"{"index":{}}"#, #"{"other":"x"}"#,
        ], index: "i")
        #expect(request.records[0].body == .string("docker line"))
        #expect(request.records[0].attributes == [Attribute("msg", .string("m"))])
        #expect(request.records[1].body == .string("m"))
        #expect(request.records[1].attributes == [Attribute("message.not", .string("a string"))])
        #expect(request.records[2].body == .empty)
    }

    @Test func badDocumentsAreRefusedPerItem() throws {
        let request = try decode([
            #"{"index":{"_index":"a"}}"#, #"["not","an","object"]"#,
            #"{"index":{"_index":"a"}}"#, #"{"message":"kept"}"#,
            #"{"index":{"_index":"a"}}"#, #"{"@timestamp":"yesterday","message":"bad time"}"#,
            #"{"index":{"_index":"a"}}"#, #"{not json"#,
            #"{"delete":{"_index":"a","_id":"x"}}"#,
            #"{"update":{"_index":"a","_id":"y"}}"#, #"{"doc":{"a":1}}"#,
            #"{"create":{"_index":"a"}}"#, #"{"message":"also kept","level":"ERROR"}"#,
        ])
        #expect(request.items.map(\.status) == [400, 201, 400, 400, 400, 400, 201])
        #expect(request.items[0].errorType == "mapper_parsing_exception")
        #expect(request.items[2].errorReason?.contains("@timestamp") == true)
        #expect(request.items[4].errorReason?.contains("not supported") == true)
        #expect(request.items[5].action == "update")
        #expect(request.records.map(\.body) == [.string("kept"), .string("also kept")])
        #expect(request.records[1].severityNumber == 17)
        #expect(request.rejectedCount == 5)
    }

    @Test func malformedBulkBodiesAreRefusedWhole() {
        let missingAction = sightlineError { _ = try decode([#"{"index":{}}"#, #"{"message":"a"}"#, #"{"message":"no action"}"#], index: "i") }
        #expect(missingAction?.message.contains("Malformed action/metadata line [3]") == true)
        #expect(missingAction?.message.contains("[message]") == true)
        let missingIndex = sightlineError { _ = try decode([#"{"index":{}}"#, #"{"message":"a"}"#]) }
        #expect(missingIndex?.message.contains("index is missing") == true)
        let missingDocument = sightlineError { _ = try ElasticsearchBulkDecoder.decode(Array(#"{"index":{"_index":"a"}}"#.utf8), defaultIndex: nil) }
        #expect(missingDocument?.code == .invalidArgument)
        let notJSON = sightlineError { _ = try decode(["garbage"], index: "i") }
        #expect(notJSON?.message.contains("line [1]") == true)
    }

    @Test func actionIndexOverridesThePathIndex() throws {
        let request = try decode([#"{"index":{"_index":"explicit"}}"#, "{}", #"{"index":{}}"#, "{}"], index: "path")
        #expect(request.records.map { $0.stream["index"] } == ["explicit", "path"])
    }

    @Test func blankLinesAndCRLFAreTolerated() throws {
        let body = "{\"index\":{\"_index\":\"a\"}}\r\n{\"message\":\"x\"}\r\n\n"
        let request = try ElasticsearchBulkDecoder.decode(Array(body.utf8), defaultIndex: nil)
        #expect(request.records.map(\.body) == [.string("x")])
    }

    @Test func timestampFormats() {
        #expect(ElasticsearchTimestamp.parse("2024-05-01T12:30:00Z") == 1_714_566_600_000_000_000)
        #expect(ElasticsearchTimestamp.parse("2024-05-01T14:30:00+02:00") == 1_714_566_600_000_000_000)
        #expect(ElasticsearchTimestamp.parse("2024-05-01T14:30:00.5+0200") == 1_714_566_600_500_000_000)
        #expect(ElasticsearchTimestamp.parse("2024-05-01T12:30:00.123456789Z") == 1_714_566_600_123_456_789)
        #expect(ElasticsearchTimestamp.parse("2024-05-01 12:30:00") == 1_714_566_600_000_000_000)
        #expect(ElasticsearchTimestamp.parse("2024-05-01") == 1_714_521_600_000_000_000)
        #expect(ElasticsearchTimestamp.parse("1714566600123") == 1_714_566_600_123_000_000)
        #expect(ElasticsearchTimestamp.epochMillis("1714566600123.5") == 1_714_566_600_123_500_000)
        #expect(ElasticsearchTimestamp.parse("2024-13-01T00:00:00Z") == nil)
        #expect(ElasticsearchTimestamp.parse("2024-05-01T12:30Z") == 1_714_566_600_000_000_000)
        #expect(ElasticsearchTimestamp.parse("yesterday") == nil)
        #expect(ElasticsearchTimestamp.parse("") == nil)
    }
}
