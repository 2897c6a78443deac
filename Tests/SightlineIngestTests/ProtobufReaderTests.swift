import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineIngest

struct ProtobufReaderTests {
    private func decodeError(_ signal: Signal, _ bytes: [UInt8]) -> SightlineError? {
        sightlineError { _ = try OTLPDecoder.decode(signal, body: bytes, format: .protobuf) }
    }

    @Test func writerAndReaderRoundTripEveryWireType() throws {
        var writer = ProtobufWriter()
        writer.writeVarint(1, 300)
        writer.writeInt64(2, -1)
        writer.writeFixed64(3, 0x0102_0304_0506_0708)
        writer.writeFixed32(4, 0xDEAD_BEEF)
        writer.writeDouble(5, 2.5)
        writer.writeString(6, "héllo")
        writer.writeMessage(7) { $0.writeString(1, String(repeating: "x", count: 200)) }  // 2-byte length
        writer.writePackedFixed64(8, [1, 2, 3])
        writer.writeBool(9, true)
        let bytes = writer.bytes
        try bytes.withUnsafeBytes { buffer in
            var reader = ProtobufReader(buffer)
            #expect(try reader.nextField() == 1)
            #expect(try reader.readVarint("a") == 300)
            #expect(try reader.nextField() == 2)
            #expect(try reader.readInt32("b") == -1)
            #expect(try reader.nextField() == 3)
            #expect(try reader.readFixed64("c") == 0x0102_0304_0506_0708)
            #expect(try reader.nextField() == 4)
            #expect(try reader.readFixed32("d") == 0xDEAD_BEEF)
            #expect(try reader.nextField() == 5)
            #expect(try reader.readDouble("e") == 2.5)
            #expect(try reader.nextField() == 6)
            #expect(try reader.readString("f") == "héllo")
            #expect(try reader.nextField() == 7)
            let inner = try reader.readMessage("g") { sub -> String in
                _ = try sub.nextField()
                return try sub.readString("x")
            }
            #expect(inner.count == 200)
            #expect(try reader.nextField() == 8)
            var values: [UInt64] = []
            try reader.appendFixed64s("h", to: &values)
            #expect(values == [1, 2, 3])
            #expect(try reader.nextField() == 9)
            #expect(try reader.readBool("i"))
            #expect(try reader.nextField() == nil)
        }
    }

    /// Embedded messages whose length needs one to four varint bytes, nested, each followed by a sibling field.
    @Test(arguments: [0, 1, 127, 128, 300, 16_383, 16_384, 2_097_151, 2_097_152])
    func embeddedMessagesOfEveryLengthSizeRoundTrip(length: Int) throws {
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var writer = ProtobufWriter()
        writer.writeMessage(1) { outer in
            outer.writeMessage(2) { inner in inner.writeBytes(3, payload) }
            outer.writeVarint(4, 99)
        }
        writer.writeVarint(5, 7)
        try writer.bytes.withUnsafeBytes { buffer in
            var reader = ProtobufReader(buffer)
            #expect(try reader.nextField() == 1)
            var outer = try reader.readMessage("outer")
            #expect(try outer.nextField() == 2)
            var inner = try outer.readMessage("inner")
            #expect(try inner.nextField() == 3)
            #expect(try inner.readBytes("payload") == payload)
            #expect(try inner.nextField() == nil)
            #expect(try outer.nextField() == 4)
            #expect(try outer.readVarint("sibling") == 99)
            #expect(try outer.nextField() == nil)
            #expect(try reader.nextField() == 5)
            #expect(try reader.readVarint("after") == 7)
            #expect(try reader.nextField() == nil)
        }
    }

    @Test func unknownFieldsOfEveryWireTypeAreSkipped() throws {
        var writer = ProtobufWriter()
        writer.writeVarint(100, 1)
        writer.writeFixed64(101, 1)
        writer.writeFixed32(102, 1)
        writer.writeString(103, "skip me")
        writer.writeMessage(1) { resourceLogs in
            resourceLogs.writeVarint(99, 7)
            resourceLogs.writeMessage(2) { scopeLogs in
                scopeLogs.writeMessage(2) { record in
                    record.writeFixed32(99, 5)
                    record.writeString(3, "INFO")
                }
            }
        }
        let decoded = try OTLPDecoder.decode(.logs, body: writer.bytes, format: .protobuf)
        #expect(decoded.batch == .logs([LogRecord(severityText: "INFO")]))
    }

    @Test func groupsAreRejected() {
        var writer = ProtobufWriter()
        writer.writeTag(5, .startGroup)
        writer.writeTag(5, .endGroup)
        let error = decodeError(.logs, writer.bytes)
        #expect(error?.code == .invalidArgument)
        #expect(error?.message == "malformed protobuf in ExportLogsServiceRequest: field 5 uses the group wire type, which is not supported")
    }

    @Test func truncatedVarintNamesTheFieldPath() {
        var writer = ProtobufWriter()
        writer.writeMessage(1) { resourceLogs in
            resourceLogs.writeMessage(2) { scopeLogs in
                scopeLogs.writeMessage(2) { $0.writeString(3, "first") }
                scopeLogs.writeMessage(2) { record in
                    record.writeTag(2, .varint)
                    record.writeRaw([0x80])  // continuation bit, then nothing
                }
            }
        }
        let error = decodeError(.logs, writer.bytes)
        #expect(error?.code == .invalidArgument)
        #expect(
            error?.message
                == "malformed protobuf in ExportLogsServiceRequest.resource_logs[0].scope_logs[0].log_records[1].severity_number: truncated varint"
        )
    }

    @Test func wrongWireTypeNamesTheField() {
        var writer = ProtobufWriter()
        writer.writeMessage(1) { resourceSpans in
            resourceSpans.writeMessage(2) { scopeSpans in
                scopeSpans.writeMessage(2) { span in span.writeVarint(7, 5) }  // start_time_unix_nano is fixed64
            }
        }
        let error = decodeError(.traces, writer.bytes)
        #expect(error?.code == .invalidArgument)
        #expect(
            error?.message
                == "malformed protobuf in ExportTraceServiceRequest.resource_spans[0].scope_spans[0].spans[0]: field start_time_unix_nano (7) has wire type varint, expected fixed64"
        )
    }

    @Test func truncatedPayloadIsInvalidArgument() {
        let bytes = Array(ProtobufFixtures.logs.dropLast())
        let error = decodeError(.logs, bytes)
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.hasPrefix("malformed protobuf in ExportLogsServiceRequest.resource_logs[0]: length") == true)
    }

    @Test func invalidTagsAreRejected() {
        #expect(decodeError(.metrics, [0x00])?.message.contains("invalid field number 0") == true)
        #expect(decodeError(.metrics, [0x0E])?.message.contains("invalid wire type 6") == true)
        #expect(decodeError(.metrics, [0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])?.message.contains("longer than 64 bits") == true)
    }

    @Test func everyTruncationAndCorruptionOfValidPayloadsIsHandled() {
        let payloads: [(Signal, [UInt8])] = [
            (.logs, ProtobufFixtures.logs), (.logs, ProtobufFixtures.events), (.traces, ProtobufFixtures.trace),
            (.metrics, ProtobufFixtures.metrics), (.metrics, ProtobufFixtures.extraMetrics),
        ]
        var rng = SplitMix64(seed: 42)
        for (signal, payload) in payloads {
            // Every prefix decodes or throws `invalidArgument`; none traps.
            for length in 0..<payload.count {
                let prefix = Array(payload[..<length])
                expectDecodesOrFails(with: .invalidArgument) { _ = try OTLPDecoder.decode(signal, body: prefix, format: .protobuf) }
            }
            // Random byte flips as well.
            for _ in 0..<2000 {
                var corrupted = payload
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    corrupted[Int(rng.next() % UInt64(corrupted.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                expectDecodesOrFails(with: .invalidArgument) { _ = try OTLPDecoder.decode(signal, body: corrupted, format: .protobuf) }
            }
        }
    }
}
