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

    /// A document refused after some of its members were read leaves nothing in the batch, not even their bytes.
    @Test func aRefusedDocumentLeavesNoBytes() throws {
        let kept = [#"{"create":{}}"#, #"{"message":"one","a":"x"}"#]
        let refused = [
            #"{"create":{}}"#, #"{"message":"long text read before the bad time","n":{"m":"more"},"@timestamp":"never"}"#,
            #"{"create":{}}"#, #"{"message":"long text read before the syntax error","n":"#,
        ]
        let plain = try decode(kept + kept, index: "i")
        let withRefusals = try decode(kept + refused + kept, index: "i")
        #expect(withRefusals.items.map(\.status) == [201, 400, 400, 201])
        #expect(withRefusals.records.bytes == plain.records.bytes)
        #expect(withRefusals.records.attributes == plain.records.attributes)
        #expect(Array(withRefusals.records) == Array(plain.records))
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

/// The streaming document decoder against the rules stated over a parsed JSON tree, on generated documents with
/// what shippers send and what they should not (duplicate keys, escapes, nulls, nesting, bad times, broken JSON).
struct ElasticsearchBulkDocumentModelTests {
    private enum Expected {
        case stored(LogRecord)
        case refused(String)
    }

    /// The record a document should become, or the refusal it should get, by the rules of the decoder's
    /// documentation, read off a JSON tree.
    private func expected(_ line: String, index: String) -> Expected {
        let document: JSONValue
        do {
            document = try JSONParser.parse(line)
        } catch let error as SightlineError {
            return .refused("failed to parse: \(error.message)")
        } catch {
            return .refused("\(error)")
        }
        guard let object = document.objectValue else {
            return .refused("failed to parse: the document must be a JSON object, not \(document.typeName)")
        }
        var record = LogRecord(timeUnixNano: 0, stream: Labels([Label("index", index)]))
        if let timestamp = object["@timestamp"], timestamp != .null {
            var parsed: UInt64?
            if case .string(let text) = timestamp { parsed = ElasticsearchTimestamp.parse(text) }
            if case .number(let text) = timestamp { parsed = ElasticsearchTimestamp.epochMillis(text) }
            guard let parsed else {
                return .refused("failed to parse field [@timestamp] of type [date]: \(timestamp.jsonText) is not an ISO 8601 date or epoch milliseconds")
            }
            record.timeUnixNano = parsed
        }
        let bodyKey = ["message", "log", "msg"].first { if case .string = object[$0] { true } else { false } }
        if let bodyKey, case .string(let text) = object[bodyKey] { record.body = .string(text) }
        func flatten(_ value: JSONValue, _ key: String) {
            switch value {
            case .null: return
            case .bool(let flag): record.attributes.append(Attribute(key, .bool(flag)))
            case .number(let text):
                if !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let integer = Int64(text) {
                    record.attributes.append(Attribute(key, .int(integer)))
                } else {
                    record.attributes.append(Attribute(key, Double(text).map { .double($0) } ?? .string(text)))
                }
            case .string(let text): record.attributes.append(Attribute(key, .string(text)))
            case .array: record.attributes.append(Attribute(key, .string(value.jsonText)))
            case .object(let members): for (name, member) in zip(members.keys, members.values) { flatten(member, key + "." + name) }
            }
        }
        for (key, value) in zip(object.keys, object.values) where key != "@timestamp" && key != bodyKey { flatten(value, key) }
        var levels = [String?](repeating: nil, count: LogSeverity.levelKeys.count)
        for attribute in record.attributes {
            if let rank = LogSeverity.levelKeys.firstIndex(of: attribute.key) {
                if case .string(let text) = attribute.value { levels[rank] = text } else { levels[rank] = nil }
            }
        }
        if let level = levels.first(where: { $0?.isEmpty == false }) ?? nil {
            record.severityText = level
            record.severityNumber = LogSeverity.number(forLevel: level)
        }
        return .stored(record)
    }

    /// A document from a small vocabulary of keys and values, so that keys repeat, collide and nest.
    private func document(_ rng: inout SplitMix64, depth: Int = 0) -> String {
        let keys = ["message", "log", "msg", "level", "severity", "@timestamp", "host", "a\\u0062", "n", "tags", "log.level"]
        let values = [
            #""text""#, #""WARN""#, #""""#, "null", "true", "-12", "1.5e3", "0.25", #"["x",1]"#, "[]", "{}",
            #""2024-05-01T12:30:00Z""#, "1714566600123", #""soon""#, #""tab\there \u00e9""#, "18446744073709551616",
        ]
        let count = Int.random(in: 0...6, using: &rng)
        let members = (0..<count).map { _ in
            let key = keys.randomElement(using: &rng)!
            let value = depth < 2 && Int.random(in: 0..<5, using: &rng) == 0
                ? document(&rng, depth: depth + 1) : values.randomElement(using: &rng)!
            return "\"\(key)\":\(value)"
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    @Test func streamingDecodeMatchesTheRulesOverAParsedTree() throws {
        var rng = SplitMix64(seed: 0xB01C)
        var lines: [String] = []
        for round in 0..<3000 {
            var line = document(&rng)
            switch round % 50 {
            case 7: line = String(line.dropLast())  // broken JSON
            case 13: line = #"["an","array"]"#
            case 21: line += " x"  // trailing garbage
            default: break
            }
            lines.append(line)
        }
        let body = lines.map { #"{"create":{}}"# + "\n" + $0 }.joined(separator: "\n") + "\n"
        let request = try ElasticsearchBulkDecoder.decode(Array(body.utf8), defaultIndex: "i")
        #expect(request.items.count == lines.count)
        var row = 0
        for (item, line) in zip(request.items, lines) {
            switch expected(line, index: "i") {
            case .refused(let reason):
                #expect(item.status == 400 && item.errorReason == reason, "\(line)")
            case .stored(let record):
                #expect(item.status == 201, "\(line): \(item.errorReason ?? "")")
                guard item.status == 201, row < request.records.count else { continue }
                let got = request.records[row]
                row += 1
                #expect(got.timeUnixNano == record.timeUnixNano && got.body == record.body, "\(line)")
                #expect(got.attributes == record.attributes, "\(line)")
                #expect(got.severityText == record.severityText && got.severityNumber == record.severityNumber, "\(line)")
                #expect(got.stream == record.stream)
            }
        }
        #expect(row == request.records.count)
        #expect(request.records.count > 1000 && request.rejectedCount > 100)
    }
}
