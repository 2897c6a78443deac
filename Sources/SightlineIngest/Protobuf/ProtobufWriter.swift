/// Writes the protobuf wire format into a growing byte array.
///
/// Fields are written in the order of the calls; callers skip proto3 default values themselves.
/// Embedded messages are written in place: ``writeMessage(_:_:)`` reserves one length byte and
/// shifts the body only when its length needs more.
///
/// ```swift
/// var writer = ProtobufWriter()
/// writer.writeMessage(1) { resource in
///     resource.writeString(1, "service.name")
/// }
/// let bytes = writer.bytes
/// ```
package struct ProtobufWriter: Sendable {
    /// The encoded bytes so far.
    package private(set) var bytes: [UInt8]

    /// Starts an empty message.
    /// - Parameter capacity: Bytes to reserve up front.
    package init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends a base-128 varint without a tag.
    package mutating func writeRawVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Appends a field tag.
    package mutating func writeTag(_ field: Int, _ wireType: ProtobufWireType) {
        writeRawVarint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    /// Writes a varint field (uint64, uint32, enum).
    package mutating func writeVarint(_ field: Int, _ value: UInt64) {
        writeTag(field, .varint)
        writeRawVarint(value)
    }

    /// Writes an int64 or int32 field; negative values take 10 bytes, as protobuf encodes them.
    package mutating func writeInt64(_ field: Int, _ value: Int64) {
        writeVarint(field, UInt64(bitPattern: value))
    }

    /// Writes a bool field.
    package mutating func writeBool(_ field: Int, _ value: Bool) {
        writeVarint(field, value ? 1 : 0)
    }

    /// Writes a fixed64 or sfixed64 field.
    package mutating func writeFixed64(_ field: Int, _ value: UInt64) {
        writeTag(field, .fixed64)
        appendLittleEndian(value)
    }

    /// Writes a fixed32 or sfixed32 field.
    package mutating func writeFixed32(_ field: Int, _ value: UInt32) {
        writeTag(field, .fixed32)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Writes a double field.
    package mutating func writeDouble(_ field: Int, _ value: Double) {
        writeFixed64(field, value.bitPattern)
    }

    /// Writes a bytes field.
    package mutating func writeBytes(_ field: Int, _ value: some Collection<UInt8>) {
        writeTag(field, .lengthDelimited)
        writeRawVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// Writes a string field as UTF-8.
    package mutating func writeString(_ field: Int, _ value: String) {
        writeBytes(field, value.utf8)
    }

    /// Writes a packed repeated fixed64 field (nothing when `values` is empty).
    package mutating func writePackedFixed64(_ field: Int, _ values: [UInt64]) {
        guard !values.isEmpty else { return }
        writeTag(field, .lengthDelimited)
        writeRawVarint(UInt64(values.count * 8))
        for value in values { appendLittleEndian(value) }
    }

    /// Writes a packed repeated double field (nothing when `values` is empty).
    package mutating func writePackedDouble(_ field: Int, _ values: [Double]) {
        writePackedFixed64(field, values.map(\.bitPattern))
    }

    /// Writes an embedded message whose fields `body` writes.
    /// - Parameters:
    ///   - field: The field number.
    ///   - body: Writes the message's fields into the writer it is given.
    package mutating func writeMessage(_ field: Int, _ body: (inout ProtobufWriter) throws -> Void) rethrows {
        writeTag(field, .lengthDelimited)
        let lengthOffset = bytes.count
        bytes.append(0)
        let start = bytes.count
        try body(&self)
        let length = bytes.count - start
        if length < 0x80 {
            bytes[lengthOffset] = UInt8(length)
            return
        }
        // The length takes more than the one byte reserved: move the message up by the difference and write it.
        var extra = 0
        var rest = length >> 7
        while rest > 0 {
            extra += 1
            rest >>= 7
        }
        for _ in 0..<extra { bytes.append(0) }
        bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            (base + start + extra).copyMemory(from: base + start, byteCount: length)  // regions overlap: a memmove
            var v = UInt64(length)
            var at = lengthOffset
            while v >= 0x80 {
                buffer[at] = UInt8(truncatingIfNeeded: v) | 0x80
                v >>= 7
                at += 1
            }
            buffer[at] = UInt8(v)
        }
    }

    /// Appends raw, already encoded bytes.
    package mutating func writeRaw(_ value: some Sequence<UInt8>) {
        bytes.append(contentsOf: value)
    }

    private mutating func appendLittleEndian(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
