/// Appends bits, most significant first, to a byte buffer: the output side of the chunk codecs.
///
/// Bits collect in a 64-bit accumulator and reach `bytes` eight bytes at a time, so a write is a few shifts.
/// ``finishedBytes()`` adds the bits still in the accumulator, padded with zeros to a whole byte.
package struct BitWriter: Sendable {
    /// The bytes completed so far (whole 64-bit words); the rest sits in the accumulator.
    private var bytes: [UInt8]
    /// Pending bits, left-aligned: the first pending bit is bit 63.
    private var accumulator: UInt64 = 0
    /// How many bits of `accumulator` are used, 0..<64.
    private var pendingBits: Int = 0

    /// Creates an empty writer that reserves `capacity` bytes.
    package init(capacity: Int = 0) {
        bytes = []
        if capacity > 0 { bytes.reserveCapacity(capacity) }
    }

    /// How many bits have been written.
    package var bitCount: Int { bytes.count * 8 + pendingBits }

    /// Writes one bit.
    @inline(__always)
    package mutating func writeBit(_ bit: Bool) {
        writeBits(bit ? 1 : 0, count: 1)
    }

    /// Writes the low `count` bits of `value`, most significant first. `count` is clamped to 0...64.
    @inline(__always)
    package mutating func writeBits(_ value: UInt64, count: Int) {
        guard count > 0 else { return }
        let n = min(count, 64)
        let v = n == 64 ? value : value & ((1 &<< UInt64(n)) &- 1)
        let free = 64 - pendingBits
        if n < free {
            accumulator |= v &<< UInt64(free - n)
            pendingBits += n
        } else {
            // Fill the accumulator, flush it, keep the remaining low bits.
            let rest = n - free
            accumulator |= v &>> UInt64(rest)
            flushWord()
            accumulator = rest == 0 ? 0 : v &<< UInt64(64 - rest)
            pendingBits = rest
        }
    }

    /// Writes an unsigned LEB128 varint, eight bits per byte, at the current bit position.
    package mutating func writeUVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            writeBits((v & 0x7F) | 0x80, count: 8)
            v >>= 7
        }
        writeBits(v, count: 8)
    }

    /// Writes a ZigZag-encoded signed varint.
    package mutating func writeVarint(_ value: Int64) {
        writeUVarint(UInt64(bitPattern: (value &<< 1) ^ (value >> 63)))
    }

    /// The bytes written, the last one padded with zero bits.
    package func finishedBytes() -> [UInt8] {
        var out = bytes
        appendPending(to: &out)
        return out
    }

    /// Appends the finished bytes to `out`, which saves a copy when the caller writes a header first.
    package func appendFinishedBytes(to out: inout [UInt8]) {
        out.append(contentsOf: bytes)
        appendPending(to: &out)
    }

    private func appendPending(to out: inout [UInt8]) {
        var remaining = pendingBits
        var word = accumulator
        while remaining > 0 {
            out.append(UInt8(truncatingIfNeeded: word &>> 56))
            word &<<= 8
            remaining -= 8
        }
    }

    @inline(__always)
    private mutating func flushWord() {
        let word = accumulator.bigEndian
        withUnsafeBytes(of: word) { bytes.append(contentsOf: $0) }
    }
}
