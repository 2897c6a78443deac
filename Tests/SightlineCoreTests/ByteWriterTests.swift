import Testing

@testable import SightlineCore

struct ByteWriterTests {
    /// A cursor writes the same bytes as the writer's own methods, after what the writer held, and gives back the
    /// room it did not use.
    @Test func cursorWritesWhatTheWriterWould() {
        let values: [UInt64] = [0, 1, 127, 128, 300, 16_383, 16_384, UInt64(UInt32.max), .max]
        let raw: [UInt8] = [9, 8, 7]
        var expected = ByteWriter()
        expected.writeByte(42)
        for value in values { expected.writeVarint(value) }
        expected.writeRaw(raw)
        expected.writeByte(1)
        var written = ByteWriter()
        written.writeByte(42)
        written.write(atMost: 200) { cursor in
            for value in values { cursor.writeVarint(value) }
            raw.withUnsafeBytes { cursor.writeRaw($0) }
            cursor.writeRaw(UnsafeRawBufferPointer(start: nil, count: 0))
            cursor.writeByte(1)
        }
        #expect(written.bytes == expected.bytes)
        written.write(atMost: 5) { _ in }
        #expect(written.bytes == expected.bytes)
        var empty = ByteWriter(capacity: 0)
        empty.write(atMost: 0) { #expect($0.count == 0) }
        #expect(empty.bytes.isEmpty)
    }
}
