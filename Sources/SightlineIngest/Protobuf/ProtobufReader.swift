/// The wire types of the protobuf encoding.
package enum ProtobufWireType: UInt8, Sendable, CustomStringConvertible {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5

    package var description: String {
        switch self {
        case .varint: "varint"
        case .fixed64: "fixed64"
        case .lengthDelimited: "length-delimited"
        case .startGroup: "start-group"
        case .endGroup: "end-group"
        case .fixed32: "fixed32"
        }
    }
}

/// Reads the protobuf wire format from a buffer without copying it.
///
/// Every read checks bounds and throws ``FieldPathError`` on malformed input; nothing traps.
/// Sub-messages are read as sub-readers over a slice of the same buffer, so decoding allocates
/// only for the strings, arrays and byte fields the caller keeps.
///
/// ```swift
/// var reader = ProtobufReader(buffer)
/// while let field = try reader.nextField() {
///     switch field {
///     case 1: name = try reader.readString("name")
///     default: try reader.skipField()
///     }
/// }
/// ```
package struct ProtobufReader {
    /// The bytes of the message being read. It must outlive the reader.
    package let buffer: UnsafeRawBufferPointer
    /// The offset of the next unread byte.
    package private(set) var offset: Int
    /// The number of the field whose tag ``nextField()`` read last.
    package private(set) var fieldNumber: Int
    /// The wire type of the field whose tag ``nextField()`` read last.
    package private(set) var wireType: ProtobufWireType

    /// Reads `buffer`, which must stay valid while the reader is used.
    package init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        self.offset = 0
        self.fieldNumber = 0
        self.wireType = .varint
    }

    /// Whether every byte has been read.
    package var isAtEnd: Bool { offset >= buffer.count }

    // MARK: Tags

    /// Reads the next field's tag.
    /// - Returns: The field number, or nil at the end of the message.
    /// - Throws: ``FieldPathError`` for a truncated tag, field number 0 or an unknown wire type.
    package mutating func nextField() throws -> Int? {
        guard offset < buffer.count else { return nil }
        let tag = try readRawVarint()
        let rawWireType = UInt8(truncatingIfNeeded: tag & 7)
        let number = tag >> 3
        guard number != 0, number <= 0x1FFF_FFFF else {
            throw FieldPathError("invalid field number \(number) at byte \(offset)")
        }
        guard let type = ProtobufWireType(rawValue: rawWireType) else {
            throw FieldPathError("invalid wire type \(rawWireType) for field \(number)")
        }
        fieldNumber = Int(number)
        wireType = type
        return fieldNumber
    }

    // MARK: Raw reads

    /// Reads a base-128 varint of at most 10 bytes.
    package mutating func readRawVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < buffer.count else { throw FieldPathError("truncated varint") }
            let byte = buffer[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw FieldPathError("varint longer than 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// Reads 4 little-endian bytes.
    package mutating func readRawFixed32() throws -> UInt32 {
        guard buffer.count - offset >= 4 else { throw FieldPathError("truncated fixed32") }
        let value = buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        offset += 4
        return UInt32(littleEndian: value)
    }

    /// Reads 8 little-endian bytes.
    package mutating func readRawFixed64() throws -> UInt64 {
        guard buffer.count - offset >= 8 else { throw FieldPathError("truncated fixed64") }
        let value = buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset += 8
        return UInt64(littleEndian: value)
    }

    /// Reads a length prefix and returns that many bytes as a slice of the buffer.
    package mutating func readRawLengthDelimited() throws -> UnsafeRawBufferPointer {
        let length = try readRawVarint()
        guard length <= UInt64(buffer.count - offset) else {
            throw FieldPathError("length \(length) exceeds the \(buffer.count - offset) remaining bytes")
        }
        let start = offset
        offset += Int(length)
        return UnsafeRawBufferPointer(rebasing: buffer[start..<offset])
    }

    // MARK: Typed field reads

    /// Checks that the current field has wire type `expected`.
    @inline(__always)
    private func expect(_ expected: ProtobufWireType, _ name: StaticString) throws {
        guard wireType == expected else {
            throw FieldPathError("field \(name) (\(fieldNumber)) has wire type \(wireType), expected \(expected)")
        }
    }

    /// Reads the current field as a varint (uint64, uint32, int64, int32, enum, bool).
    /// - Parameter name: The field name, for error messages.
    package mutating func readVarint(_ name: StaticString) throws -> UInt64 {
        try expect(.varint, name)
        return try withFieldPath(".\(name)") { try readRawVarint() }
    }

    /// Reads the current field as an int32 or enum varint (negative values take 10 bytes on the wire).
    package mutating func readInt32(_ name: StaticString) throws -> Int32 {
        Int32(truncatingIfNeeded: Int64(bitPattern: try readVarint(name)))
    }

    /// Reads the current field as a sint32 (zigzag-encoded) varint.
    package mutating func readSInt32(_ name: StaticString) throws -> Int32 {
        let zigzag = UInt32(truncatingIfNeeded: try readVarint(name))
        return Int32(bitPattern: (zigzag >> 1) ^ (0 &- (zigzag & 1)))
    }

    /// Reads the current field as a uint32 varint (higher bits are dropped, as protobuf does).
    package mutating func readUInt32(_ name: StaticString) throws -> UInt32 {
        UInt32(truncatingIfNeeded: try readVarint(name))
    }

    /// Reads the current field as a bool varint.
    package mutating func readBool(_ name: StaticString) throws -> Bool {
        try readVarint(name) != 0
    }

    /// Reads the current field as fixed64 or sfixed64 (the bits as stored).
    package mutating func readFixed64(_ name: StaticString) throws -> UInt64 {
        try expect(.fixed64, name)
        return try withFieldPath(".\(name)") { try readRawFixed64() }
    }

    /// Reads the current field as fixed32 or sfixed32 (the bits as stored).
    package mutating func readFixed32(_ name: StaticString) throws -> UInt32 {
        try expect(.fixed32, name)
        return try withFieldPath(".\(name)") { try readRawFixed32() }
    }

    /// Reads the current field as a double.
    package mutating func readDouble(_ name: StaticString) throws -> Double {
        Double(bitPattern: try readFixed64(name))
    }

    /// Reads the current field's bytes as a slice of the buffer (no copy).
    /// - Parameters:
    ///   - name: The field name, for error messages.
    ///   - index: The element's index when the field is repeated, for error messages.
    package mutating func readBytesSlice(_ name: StaticString, index: Int? = nil) throws -> UnsafeRawBufferPointer {
        try expect(.lengthDelimited, name)
        return try withFieldPath(index.map { ".\(name)[\($0)]" } ?? ".\(name)") { try readRawLengthDelimited() }
    }

    /// Reads the current field as a bytes value.
    package mutating func readBytes(_ name: StaticString) throws -> [UInt8] {
        Array(try readBytesSlice(name))
    }

    /// Reads the current field as a string. Invalid UTF-8 is replaced with U+FFFD rather than rejected.
    package mutating func readString(_ name: StaticString) throws -> String {
        String(decoding: try readBytesSlice(name), as: UTF8.self)
    }

    /// Reads the current field as an embedded message.
    /// - Returns: A reader over the message's bytes.
    package mutating func readMessage(_ name: StaticString) throws -> ProtobufReader {
        ProtobufReader(try readBytesSlice(name))
    }

    /// Reads the current field as an embedded message and decodes it with `body`.
    ///
    /// Errors thrown inside `body` get `.name` or `.name[index]` added to their path.
    /// - Parameters:
    ///   - name: The field name.
    ///   - index: The element's index when the field is repeated.
    ///   - body: Decodes the message from the reader it is given.
    /// - Returns: What `body` returns.
    package mutating func readMessage<T>(
        _ name: StaticString, index: Int? = nil, _ body: (inout ProtobufReader) throws -> T
    ) throws -> T {
        var message = ProtobufReader(try readBytesSlice(name, index: index))
        return try withFieldPath(index.map { ".\(name)[\($0)]" } ?? ".\(name)") { try body(&message) }
    }

    /// Appends the current field's values to `values`: packed (length-delimited) or one unpacked fixed64.
    package mutating func appendFixed64s(_ name: StaticString, to values: inout [UInt64]) throws {
        switch wireType {
        case .fixed64:
            values.append(try readFixed64(name))
        case .lengthDelimited:
            var packed = ProtobufReader(try readBytesSlice(name))
            guard packed.buffer.count % 8 == 0 else {
                throw FieldPathError("packed field \(name) (\(fieldNumber)) has \(packed.buffer.count) bytes, not a multiple of 8")
            }
            values.reserveCapacity(values.count + packed.buffer.count / 8)
            while !packed.isAtEnd { values.append(try packed.readRawFixed64()) }
        default:
            try expect(.fixed64, name)
        }
    }

    /// Appends the current field's uint64 varints to `values`: packed (length-delimited) or one unpacked varint.
    package mutating func appendVarints(_ name: StaticString, to values: inout [UInt64]) throws {
        guard wireType == .lengthDelimited else {
            values.append(try readVarint(name))
            return
        }
        var packed = ProtobufReader(try readBytesSlice(name))
        try withFieldPath(".\(name)") {
            while !packed.isAtEnd { values.append(try packed.readRawVarint()) }
        }
    }

    /// Appends the current field's sint64 (zigzag-encoded) varints to `values`: packed or one unpacked varint.
    package mutating func appendSInt64s(_ name: StaticString, to values: inout [Int64]) throws {
        var raw: [UInt64] = []
        try appendVarints(name, to: &raw)
        values += raw.map { Int64(bitPattern: ($0 >> 1) ^ (0 &- ($0 & 1))) }
    }

    /// Appends the current field's doubles to `values`: packed (length-delimited) or one unpacked double.
    package mutating func appendDoubles(_ name: StaticString, to values: inout [Double]) throws {
        var bits: [UInt64] = []
        try appendFixed64s(name, to: &bits)
        values.append(contentsOf: bits.lazy.map { Double(bitPattern: $0) })
    }

    // MARK: Skipping

    /// Skips the current field, whatever its wire type.
    /// - Throws: ``FieldPathError`` when it is truncated or is a group (deprecated, never used by OTLP).
    package mutating func skipField() throws {
        switch wireType {
        case .varint: _ = try readRawVarint()
        case .fixed64:
            guard buffer.count - offset >= 8 else { throw FieldPathError("truncated fixed64 in field \(fieldNumber)") }
            offset += 8
        case .fixed32:
            guard buffer.count - offset >= 4 else { throw FieldPathError("truncated fixed32 in field \(fieldNumber)") }
            offset += 4
        case .lengthDelimited: _ = try readRawLengthDelimited()
        case .startGroup, .endGroup:
            throw FieldPathError("field \(fieldNumber) uses the group wire type, which is not supported")
        }
    }
}
