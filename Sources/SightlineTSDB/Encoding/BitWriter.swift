/// Appends bits, most significant first, to a byte buffer: the output side of the chunk codecs.
///
/// Bits collect in a 64-bit accumulator and reach `words` a whole word at a time, so a write is a few shifts and a
/// full word one array append (appending its eight bytes through `append(contentsOf:)` cost more than the encoding).
/// ``finishedBytes()`` adds the bits still in the accumulator, padded with zeros to a whole byte.
package struct BitWriter: Sendable {
    /// The words completed so far, first bit in bit 63; the rest sits in the accumulator.
    private var words: [UInt64]
    /// Pending bits, left-aligned: the first pending bit is bit 63.
    private var accumulator: UInt64 = 0
    /// How many bits of `accumulator` are used, 0..<64.
    private var pendingBits: Int = 0

    /// Creates an empty writer that reserves `capacity` bytes.
    package init(capacity: Int = 0) {
        words = []
        if capacity > 0 { words.reserveCapacity((capacity + 7) / 8) }
    }

    /// How many bits have been written.
    package var bitCount: Int { words.count * 64 + pendingBits }

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
        var out: [UInt8] = []
        out.reserveCapacity(words.count * 8 + 8)
        appendFinishedBytes(to: &out)
        return out
    }

    /// Appends the finished bytes to `out`, which saves a copy when the caller writes a header first.
    package func appendFinishedBytes(to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: words.count * 8))
        out.withUnsafeMutableBytes { bytes in
            for (index, word) in words.enumerated() {
                bytes.storeBytes(of: word.bigEndian, toByteOffset: start + index * 8, as: UInt64.self)
            }
        }
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
        words.append(accumulator)
    }
}
