/// Reads bits, most significant first, from a byte buffer written by ``BitWriter``.
///
/// Every read returns nil when the input runs out instead of trapping, so decoders can stop cleanly on truncated
/// or corrupted bytes.
package struct BitReader: Sendable {
    private let bytes: [UInt8]
    /// The next byte to load into the buffer.
    private var nextByte: Int
    /// Loaded bits, left-aligned: the next bit to read is bit 63.
    private var buffer: UInt64 = 0
    /// How many bits of `buffer` are loaded, 0...64.
    private var available: Int = 0

    /// Reads `bytes` starting at byte `offset`.
    package init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.nextByte = max(0, min(offset, bytes.count))
    }

    /// Whether every byte has been consumed (padding bits of the last byte may remain).
    package var isAtEnd: Bool { available == 0 && nextByte >= bytes.count }

    /// Reads one bit, or nil at the end of the input.
    @inline(__always)
    package mutating func readBit() -> Bool? {
        if available == 0 {
            refill()
            if available == 0 { return nil }
        }
        let bit = buffer &>> 63
        buffer &<<= 1
        available -= 1
        return bit == 1
    }

    /// Reads `count` bits (0...64) into the low bits of the result, or nil when fewer remain.
    @inline(__always)
    package mutating func readBits(_ count: Int) -> UInt64? {
        guard count > 0 else { return count == 0 ? 0 : nil }
        guard count <= 64 else { return nil }
        if count > 56 {
            // The buffer holds at least 57 bits after a refill, so split wide reads.
            guard let high = readBits(count - 32), let low = readBits(32) else { return nil }
            return (high &<< 32) | low
        }
        if available < count {
            refill()
            if available < count { return nil }
        }
        let value = buffer &>> UInt64(64 - count)
        buffer &<<= UInt64(count)
        available -= count
        return value
    }

    /// Reads an unsigned LEB128 varint of at most ten bytes, or nil when it is truncated or too long.
    package mutating func readUVarint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        for index in 0..<10 {
            guard let byte = readBits(8) else { return nil }
            if index == 9 && byte > 1 { return nil }
            result |= (byte & 0x7F) &<< shift
            if byte < 0x80 { return result }
            shift += 7
        }
        return nil
    }

    /// Reads a ZigZag-encoded signed varint.
    package mutating func readVarint() -> Int64? {
        guard let raw = readUVarint() else { return nil }
        return Int64(bitPattern: (raw &>> 1) ^ (0 &- (raw & 1)))
    }

    /// Bits not read yet.
    package var remainingBits: Int { available + (bytes.count - nextByte) * 8 }

    /// Bits read so far.
    package var bitsRead: Int { bytes.count * 8 - remainingBits }

    /// Moves past `count` bits; false (having moved to the end) when fewer remain.
    package mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= remainingBits else {
            _ = skip(remainingBits)
            return false
        }
        var remaining = count
        while remaining > 0 {
            let n = min(remaining, 56)
            _ = readBitsKnownPresent(n)
            remaining -= n
        }
        return true
    }

    /// Reads `count` bits (1...56) that the caller has checked are there (``remainingBits``): no optional, no
    /// bounds check beyond the buffer's, for loops over packed fixed-width values.
    @inline(__always)
    package mutating func readBitsKnownPresent(_ count: Int) -> UInt64 {
        if available < count { refill() }
        let value = buffer &>> UInt64(64 - count)
        buffer &<<= UInt64(count)
        available = max(0, available - count)
        return value
    }

    @inline(__always)
    private mutating func refill() {
        if nextByte + 8 <= bytes.count {
            // Eight bytes at once: the bits past the whole bytes taken are the stream's next bits, so a later refill
            // that ORs them in again writes the same bits.
            var word: UInt64 = 0
            bytes.withUnsafeBytes { raw in word = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: nextByte, as: UInt64.self)) }
            buffer |= word &>> UInt64(available)
            let taken = (63 - available) >> 3
            nextByte += taken
            available += taken << 3
            return
        }
        while available <= 56 && nextByte < bytes.count {
            buffer |= UInt64(bytes[nextByte]) &<< UInt64(56 - available)
            nextByte += 1
            available += 8
        }
    }
}
