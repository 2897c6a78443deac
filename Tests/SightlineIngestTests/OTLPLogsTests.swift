import SightlineCore
import Testing

@testable import SightlineIngest

struct OTLPLogsTests {
    private static let resource = [Attribute("service.name", .string("my.service"))]
    private static let scope = InstrumentationScope(
        name: "my.library", version: "1.0.0", attributes: [Attribute("my.scope.attribute", .string("some scope attribute"))])

    private func records(_ batch: DecodedBatch) throws -> [LogRecord] {
        guard case .logs(let records) = batch.batch else {
            Issue.record("expected logs, got \(batch.batch.signal)")
            return []
        }
        return Array(records)
    }

    @Test func conformanceLogsJSONDecodes() throws {
        let decoded = try OTLPDecoder.decode(.logs, body: try Fixtures.conformance("logs.json"), format: .json)
        #expect(decoded.rejected == 0)
        let records = try records(decoded)
        try #require(records.count == 1)
        let record = records[0]
        #expect(record.timeUnixNano == 1_544_712_660_300_000_000)
        #expect(record.observedTimeUnixNano == 1_544_712_660_300_000_000)
        #expect(record.severityNumber == 10)
        #expect(record.severityText == "Information")
        #expect(record.traceID?.description == "5b8efff798038103d269b633813fc60c")
        #expect(record.spanID?.description == "eee19b7ec3c1b174")
        #expect(record.body == .string("Example log record"))
        #expect(
            record.attributes == [
                Attribute("string.attribute", .string("some string")),
                Attribute("boolean.attribute", .bool(true)),
                Attribute("int.attribute", .int(10)),
                Attribute("double.attribute", .double(637.704)),
                Attribute("array.attribute", .array([.string("many"), .string("values")])),
                Attribute("map.attribute", .keyValueList([Attribute("some.map.key", .string("some value"))])),
            ])
        #expect(record.resource == Self.resource)
        #expect(record.scope == Self.scope)
        #expect(record.eventName == "")
    }

    @Test func conformanceEventsJSONDecodes() throws {
        let decoded = try OTLPDecoder.decode(.logs, body: try Fixtures.conformance("events.json"), format: .json)
        let records = try records(decoded)
        try #require(records.count == 1)
        let record = records[0]
        #expect(record.eventName == "browser.page_view")
        #expect(record.severityNumber == 9)
        #expect(record.severityText == "test severity text")
        #expect(record.traceID == nil)
        #expect(record.spanID == nil)
        #expect(record.attributes == [Attribute("event.attribute", .string("some event attribute"))])
        #expect(
            record.body
                == .keyValueList([
                    Attribute("type", .int(0)),
                    Attribute("url", .string("https://www.guidgenerator.com/online-guid-generator.aspx")),
                    Attribute("referrer", .string("https://wwww.google.com")),
                    Attribute("title", .string("Free Online GUID Generator")),
                ]))
        #expect(record.resource == Self.resource)
        #expect(record.scope == Self.scope)
    }

    @Test(arguments: [("logs.json", ProtobufFixtures.logs), ("events.json", ProtobufFixtures.events)])
    func referenceProtobufDecodesLikeJSON(name: String, protobuf: [UInt8]) throws {
        let fromJSON = try records(try OTLPDecoder.decode(.logs, body: try Fixtures.conformance(name), format: .json))
        let fromProtobuf = try OTLPDecoder.decode(.logs, body: protobuf, format: .protobuf)
        #expect(fromProtobuf.rejected == 0)
        #expect(try records(fromProtobuf) == fromJSON)
    }

    @Test(arguments: ["logs.json", "events.json"])
    func encoderRoundTripsThroughProtobuf(name: String) throws {
        let fromJSON = try records(try OTLPDecoder.decode(.logs, body: try Fixtures.conformance(name), format: .json))
        let encoded = OTLPEncoder.encodeLogs(fromJSON)
        #expect(try records(try OTLPDecoder.decode(.logs, body: encoded, format: .protobuf)) == fromJSON)
    }

    @Test func encoderGroupsByResourceAndScopeAndRoundTrips() throws {
        let otherResource = [Attribute("service.name", .string("other"))]
        let input = [
            LogRecord(timeUnixNano: 1, body: .string("a"), resource: Self.resource, scope: Self.scope),
            LogRecord(timeUnixNano: 2, body: .bytes([0, 1, 2]), resource: otherResource),
            LogRecord(
                timeUnixNano: 3, severityNumber: 17, body: .double(-0.5), attributes: [Attribute("empty", .empty)],
                droppedAttributesCount: 2, flags: 1, traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), eventName: "e",
                resource: Self.resource, scope: Self.scope),
            LogRecord(timeUnixNano: 4, body: .int(-7), resource: Self.resource, scope: InstrumentationScope(name: "s2")),
        ]
        let encoded = OTLPEncoder.encodeLogs(input)
        let decoded = try records(try OTLPDecoder.decode(.logs, body: encoded, format: .protobuf))
        // Grouping reorders records by resource, then scope, in order of first appearance.
        #expect(decoded == [input[0], input[2], input[3], input[1]])
    }

    @Test func snakeCaseNamesAndEnumNamesAreAccepted() throws {
        let json = #"""
            {"resource_logs":[{"scope_logs":[{"log_records":[
              {"time_unix_nano":1000,"severity_number":"SEVERITY_NUMBER_WARN2","body":{"string_value":"x"},
               "trace_id":"","span_id":"0000000000000000","unknownField":{"nested":[1,2,3]}}]}]}]}
            """#
        let records = try records(try OTLPDecoder.decode(.logs, body: Array(json.utf8), format: .json))
        try #require(records.count == 1)
        #expect(records[0].timeUnixNano == 1000)
        #expect(records[0].severityNumber == 14)
        #expect(records[0].body == .string("x"))
        #expect(records[0].traceID == nil)
        #expect(records[0].spanID == nil)
    }

    @Test func jsonBytesAndSpecialDoublesDecode() throws {
        let json = #"""
            {"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"arrayValue":{"values":[
              {"bytesValue":"AAEC/w=="},{"doubleValue":"NaN"},{"doubleValue":"-Infinity"},{"intValue":-9223372036854775808},
              {"intValue":"9223372036854775807"},{}]}}}]}]}]}
            """#
        let records = try records(try OTLPDecoder.decode(.logs, body: Array(json.utf8), format: .json))
        guard case .array(let values) = records.first?.body else {
            Issue.record("expected an array body")
            return
        }
        #expect(values.count == 6)
        #expect(values[0] == .bytes([0, 1, 2, 255]))
        if case .double(let d) = values[1] { #expect(d.isNaN) } else { Issue.record("expected NaN") }
        #expect(values[2] == .double(-.infinity))
        #expect(values[3] == .int(.min))
        #expect(values[4] == .int(.max))
        #expect(values[5] == .empty)
    }

    @Test func recordWithWrongLengthIDIsRejectedAlone() throws {
        let json = #"""
            {"resourceLogs":[{"scopeLogs":[{"logRecords":[
              {"body":{"stringValue":"good"},"traceId":"5B8EFFF798038103D269B633813FC60C"},
              {"body":{"stringValue":"bad"},"traceId":"abcd"},
              {"body":{"stringValue":"not hex"},"spanId":"zzzzzzzzzzzzzzzz"}]}]}]}
            """#
        let decoded = try OTLPDecoder.decode(.logs, body: Array(json.utf8), format: .json)
        #expect(try records(decoded).map(\.body) == [.string("good")])
        #expect(decoded.rejected == 2)
        #expect(decoded.rejectionMessage.contains("logRecords[1]: traceId has 2 bytes, expected 16"))
        #expect(decoded.rejectionMessage.contains("logRecords[2]"))

        var writer = ProtobufWriter()
        writer.writeMessage(1) { resourceLogs in
            resourceLogs.writeMessage(2) { scopeLogs in
                // The rejected record's attribute is not left for the next one.
                scopeLogs.writeMessage(2) { record in
                    record.writeMessage(6) { kv in
                        kv.writeString(1, "k")
                        kv.writeMessage(2) { $0.writeString(1, "v") }
                    }
                    record.writeBytes(10, [1, 2, 3])
                }
                scopeLogs.writeMessage(2) { record in
                    record.writeString(3, "ok")
                    // A string value with invalid UTF-8 has it replaced, as every OTLP string does.
                    record.writeMessage(5) { $0.writeBytes(1, [0x61, 0xFF, 0x62]) }
                }
            }
        }
        let fromProtobuf = try OTLPDecoder.decode(.logs, body: writer.bytes, format: .protobuf)
        #expect(try records(fromProtobuf).map(\.severityText) == ["ok"])
        #expect(try records(fromProtobuf).map(\.attributes) == [[]])
        #expect(try records(fromProtobuf).map(\.body) == [.string("a\u{FFFD}b")])
        #expect(fromProtobuf.rejected == 1)
        #expect(fromProtobuf.rejectionMessage == "resource_logs[0].scope_logs[0].log_records[0]: span_id has 3 bytes, expected 8")
    }

    @Test func resourceAndScopeAfterRecordsOnTheWireAreStillCopied() throws {
        var writer = ProtobufWriter()
        writer.writeMessage(1) { resourceLogs in
            resourceLogs.writeMessage(2) { scopeLogs in
                scopeLogs.writeMessage(2) { $0.writeString(3, "a") }
                scopeLogs.writeMessage(2) { $0.writeString(3, "b") }
                scopeLogs.writeMessage(1) { $0.writeString(1, "late.scope") }
            }
            resourceLogs.writeMessage(1) { resource in
                resource.writeMessage(1) { kv in
                    kv.writeString(1, "service.name")
                    kv.writeMessage(2) { $0.writeString(1, "late") }
                }
            }
        }
        let decoded = try records(try OTLPDecoder.decode(.logs, body: writer.bytes, format: .protobuf))
        #expect(decoded.count == 2)
        #expect(decoded.allSatisfy { $0.scope.name == "late.scope" && $0.resource == [Attribute("service.name", .string("late"))] })
    }

    @Test func formatFromContentType() {
        #expect(OTLPFormat(contentType: "application/x-protobuf") == .protobuf)
        #expect(OTLPFormat(contentType: "application/json; charset=utf-8") == .json)
        #expect(OTLPFormat(contentType: "Application/JSON") == .json)
        #expect(OTLPFormat(contentType: "text/plain") == nil)
    }
}
