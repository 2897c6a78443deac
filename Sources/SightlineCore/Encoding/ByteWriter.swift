/// Appends little-endian integers, varints and length-prefixed bytes to a contiguous buffer.
///
/// Public (as is ``UnsafeByteCursor``) only so that its `@inlinable` writes are inlined into the modules that call
/// them once a byte: the compiler inlines across modules only public functions, not `package` ones.
public struct ByteWriter: Sendable {
    // Settable within the module and usable from the inlinable writes below, which callers in other modules run
    // once a byte.
    @usableFromInline package internal(set) var bytes: [UInt8]

    package init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// A writer that appends to `bytes`; ``takeBytes()`` hands them back without a copy.
    package init(appendingTo bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Forgets the bytes written, keeping the buffer for the next ones.
    package mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// The bytes written, leaving the writer empty.
    package mutating func takeBytes() -> [UInt8] {
        var taken: [UInt8] = []
        swap(&taken, &bytes)
        return taken
    }

    @inlinable public mutating func writeByte(_ value: UInt8) { bytes.append(value) }

    // Fixed-width integers byte by byte: appending their bytes as a buffer went through the generic
    // `append(contentsOf:)`, which cost more than the bytes.
    @inlinable public mutating func writeUInt32LE(_ value: UInt32) {
        var rest = value
        for _ in 0..<4 {
            bytes.append(UInt8(truncatingIfNeeded: rest))
            rest >>= 8
        }
    }

    @inlinable public mutating func writeUInt64LE(_ value: UInt64) {
        var rest = value
        for _ in 0..<8 {
            bytes.append(UInt8(truncatingIfNeeded: rest))
            rest >>= 8
        }
    }

    /// Unsigned LEB128, as protobuf writes varints.
    @inlinable public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// ZigZag-encoded signed varint.
    @inlinable public mutating func writeSignedVarint(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    package mutating func writeDouble(_ value: Double) { writeUInt64LE(value.bitPattern) }

    // Inlinable, so that callers append their concrete buffer (a memory copy) rather than go through the generic
    // `append(contentsOf:)` element by element.
    @inlinable public mutating func writeBytes(_ value: some Collection<UInt8>) {
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    package mutating func writeString(_ value: String) {
        var copy = value
        copy.withUTF8 { writeBytes($0) }
    }

    @inlinable public mutating func writeRaw(_ value: some Sequence<UInt8>) { bytes.append(contentsOf: value) }

    /// Appends what `body` writes through a cursor into `maxCount` bytes made room for at once: for loops that
    /// write many small values, where appending byte by byte checks the buffer's uniqueness and capacity each time.
    /// - Precondition: `body` writes at most `maxCount` bytes.
    package mutating func write(atMost maxCount: Int, _ body: (inout UnsafeByteCursor) -> Void) {
        let start = bytes.count
        // At least one byte, so the buffer has an address even for no room at all.
        let room = max(maxCount, 1)
        bytes.append(contentsOf: repeatElement(0, count: room))
        let written = bytes.withUnsafeMutableBufferPointer { buffer in
            var cursor = UnsafeByteCursor(buffer.baseAddress! + start, capacity: maxCount)
            body(&cursor)
            return cursor.count
        }
        bytes.removeLast(room - written)
    }
}

/// Writes bytes through a pointer into room made beforehand (``ByteWriter/write(atMost:_:)``). Writing past the
/// capacity traps.
public struct UnsafeByteCursor {
    @usableFromInline let base: UnsafeMutablePointer<UInt8>
    @usableFromInline let capacity: Int
    @usableFromInline var written = 0

    init(_ base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    /// The bytes written so far.
    package var count: Int { written }

    // Inlinable: these run once a byte, from other modules.
    @inlinable public mutating func writeByte(_ value: UInt8) {
        precondition(written < capacity, "cursor written past its room")
        base[written] = value
        written += 1
    }

    /// Unsigned LEB128, as ``ByteWriter/writeVarint(_:)``.
    @inlinable public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            writeByte(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        writeByte(UInt8(v))
    }

    @inlinable public mutating func writeRaw(_ value: UnsafeRawBufferPointer) {
        precondition(value.count <= capacity - written, "cursor written past its room")
        guard let source = value.baseAddress, value.count > 0 else { return }
        UnsafeMutableRawPointer(base + written).copyMemory(from: source, byteCount: value.count)
        written += value.count
    }
}

/// Reads what ``ByteWriter`` wrote. Every read checks bounds and throws `dataCorrupted` on short input; nothing traps.
package struct ByteReader {
    private let bytes: UnsafeRawBufferPointer
    package private(set) var offset: Int

    /// Reads from a buffer that outlives the reader.
    package init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.offset = 0
    }

    package var remaining: Int { bytes.count - offset }
    package var isAtEnd: Bool { offset >= bytes.count }

    private func short(_ what: String) -> SightlineError {
        SightlineError(.dataCorrupted, "record ends early: \(what) at offset \(offset) of \(bytes.count) bytes")
    }

    package mutating func readByte() throws -> UInt8 {
        guard offset < bytes.count else { throw short("byte") }
        defer { offset += 1 }
        return bytes[offset]
    }

    package mutating func readUInt32LE() throws -> UInt32 {
        guard remaining >= 4 else { throw short("uint32") }
        defer { offset += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    package mutating func readUInt64LE() throws -> UInt64 {
        guard remaining >= 8 else { throw short("uint64") }
        defer { offset += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    package mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw short("varint") }
            let byte = bytes[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw SightlineError(.dataCorrupted, "varint overflows 64 bits at offset \(offset - 1)") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    package mutating func readSignedVarint() throws -> Int64 {
        let raw = try readVarint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    package mutating func readDouble() throws -> Double { Double(bitPattern: try readUInt64LE()) }

    /// Reads a length, checking that so many bytes remain.
    package mutating func readLength() throws -> Int {
        let length = try readVarint()
        guard length <= UInt64(remaining) else { throw short("\(length) bytes") }
        return Int(length)
    }

    package mutating func readBytes() throws -> [UInt8] {
        Array(try readBytesInPlace())
    }

    /// Length-prefixed bytes as a view of the reader's buffer, valid as long as that buffer is.
    package mutating func readBytesInPlace() throws -> UnsafeRawBufferPointer {
        let length = try readLength()
        defer { offset += length }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length])
    }

    package mutating func readString() throws -> String {
        let length = try readLength()
        defer { offset += length }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]), as: UTF8.self)
    }

    /// Reads a count of elements, rejecting counts that could not fit in the remaining bytes (each element takes ≥ 1 byte).
    package mutating func readCount() throws -> Int {
        let count = try readVarint()
        guard count <= UInt64(remaining) else { throw SightlineError(.dataCorrupted, "element count \(count) exceeds remaining \(remaining) bytes") }
        return Int(count)
    }
}
