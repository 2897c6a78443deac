import SightlineCore
import Testing

@testable import SightlineIngest

struct OTLPTracesTests {
    private func spans(_ batch: DecodedBatch) -> [Span] {
        guard case .traces(let spans) = batch.batch else {
            Issue.record("expected traces, got \(batch.batch.signal)")
            return []
        }
        return spans
    }

    @Test func conformanceTraceJSONDecodes() throws {
        let decoded = try OTLPDecoder.decode(.traces, body: try Fixtures.conformance("trace.json"), format: .json)
        #expect(decoded.rejected == 0)
        let spans = spans(decoded)
        try #require(spans.count == 1)
        let span = spans[0]
        #expect(span.traceID.description == "5b8efff798038103d269b633813fc60c")
        #expect(span.spanID.description == "eee19b7ec3c1b174")
        #expect(span.parentSpanID?.description == "eee19b7ec3c1b173")
        #expect(span.name == "I'm a server span")
        #expect(span.kind == .server)
        #expect(span.startTimeUnixNano == 1_544_712_660_000_000_000)
        #expect(span.endTimeUnixNano == 1_544_712_661_000_000_000)
        #expect(span.attributes == [Attribute("my.span.attr", .string("some value"))])
        #expect(span.resource == [Attribute("service.name", .string("my.service"))])
        #expect(span.scope.name == "my.library")
        #expect(span.scope.version == "1.0.0")
        #expect(span.statusCode == .unset)
    }

    @Test func referenceProtobufDecodesLikeJSON() throws {
        let fromJSON = spans(try OTLPDecoder.decode(.traces, body: try Fixtures.conformance("trace.json"), format: .json))
        let fromProtobuf = try OTLPDecoder.decode(.traces, body: ProtobufFixtures.trace, format: .protobuf)
        #expect(fromProtobuf.rejected == 0)
        #expect(spans(fromProtobuf) == fromJSON)
    }

    @Test func encoderRoundTripsThroughProtobuf() throws {
        let fromJSON = spans(try OTLPDecoder.decode(.traces, body: try Fixtures.conformance("trace.json"), format: .json))
        #expect(spans(try OTLPDecoder.decode(.traces, body: OTLPEncoder.encodeTraces(fromJSON), format: .protobuf)) == fromJSON)
    }

    @Test func fullSpanRoundTripsThroughEncoderAndJSONNamesDecode() throws {
        let span = Span(
            traceID: TraceID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10), spanID: SpanID(0x1122_3344_5566_7788),
            parentSpanID: nil, traceState: "k=v", flags: 0x301, name: "op", kind: .client, startTimeUnixNano: 10,
            endTimeUnixNano: 20, attributes: [Attribute("a", .int(1))], droppedAttributesCount: 1,
            events: [Span.Event(timeUnixNano: 15, name: "ev", attributes: [Attribute("b", .bool(false))], droppedAttributesCount: 2)],
            droppedEventsCount: 3,
            links: [Span.Link(traceID: TraceID(high: 9, low: 9), spanID: SpanID(9), traceState: "x", attributes: [], flags: 1)],
            droppedLinksCount: 4, statusCode: .error, statusMessage: "boom",
            resource: [Attribute("service.name", .string("svc"))], scope: InstrumentationScope(name: "lib"))
        #expect(spans(try OTLPDecoder.decode(.traces, body: OTLPEncoder.encodeTraces([span]), format: .protobuf)) == [span])

        let json = #"""
            {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
             "scopeSpans":[{"scope":{"name":"lib"},"spans":[{
              "traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"1122334455667788","parentSpanId":"",
              "traceState":"k=v","flags":769,"name":"op","kind":"SPAN_KIND_CLIENT","startTimeUnixNano":"10","endTimeUnixNano":20,
              "attributes":[{"key":"a","value":{"intValue":1}}],"droppedAttributesCount":1,
              "events":[{"timeUnixNano":"15","name":"ev","attributes":[{"key":"b","value":{"boolValue":false}}],"droppedAttributesCount":2}],
              "droppedEventsCount":3,
              "links":[{"traceId":"00000000000000090000000000000009","spanId":"0000000000000009","traceState":"x","flags":1}],
              "droppedLinksCount":4,"status":{"code":"STATUS_CODE_ERROR","message":"boom"}}]}]}]}
            """#
        #expect(spans(try OTLPDecoder.decode(.traces, body: Array(json.utf8), format: .json)) == [span])
    }

    @Test func spansWithBadIDsAreRejectedAndOthersAccepted() throws {
        let json = #"""
            {"resourceSpans":[{"scopeSpans":[{"spans":[
              {"traceId":"abcd","spanId":"eee19b7ec3c1b174","name":"short trace id"},
              {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0000000000000000","name":"zero span id"},
              {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"good"},
              {"spanId":"eee19b7ec3c1b174","name":"missing trace id"},
              {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"ab","name":"bad parent"}]}]}]}
            """#
        let decoded = try OTLPDecoder.decode(.traces, body: Array(json.utf8), format: .json)
        #expect(spans(decoded).map(\.name) == ["good"])
        #expect(decoded.rejected == 4)
        #expect(decoded.rejectionMessage.contains("resourceSpans[0].scopeSpans[0].spans[0]: traceId has 2 bytes, expected 16"))
        #expect(decoded.rejectionMessage.contains("spans[1]: spanId is missing or zero"))
        #expect(decoded.rejectionMessage.contains("spans[3]: traceId is missing or zero"))
        #expect(decoded.rejectionMessage.contains("spans[4]: parentSpanId has 1 bytes, expected 8"))

        var writer = ProtobufWriter()
        writer.writeMessage(1) { resourceSpans in
            resourceSpans.writeMessage(2) { scopeSpans in
                scopeSpans.writeMessage(2) { span in
                    span.writeBytes(1, [UInt8](repeating: 1, count: 5))
                    span.writeBytes(2, [UInt8](repeating: 1, count: 8))
                    span.writeString(5, "bad")
                }
                scopeSpans.writeMessage(2) { span in
                    span.writeBytes(1, [UInt8](repeating: 1, count: 16))
                    span.writeBytes(2, [UInt8](repeating: 1, count: 8))
                    span.writeString(5, "good")
                    span.writeBytes(4, [UInt8](repeating: 0, count: 8))  // all-zero parent → root span
                }
            }
        }
        let fromProtobuf = try OTLPDecoder.decode(.traces, body: writer.bytes, format: .protobuf)
        #expect(spans(fromProtobuf).map(\.name) == ["good"])
        #expect(spans(fromProtobuf).first?.parentSpanID == nil)
        #expect(fromProtobuf.rejected == 1)
        #expect(fromProtobuf.rejectionMessage == "resource_spans[0].scope_spans[0].spans[0]: trace_id has 5 bytes, expected 16")
    }
}
