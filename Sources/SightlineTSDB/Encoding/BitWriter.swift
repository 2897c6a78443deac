/// Appends bits, most significant first, to a byte buffer: the output side of the chunk codecs.
///
/// Bits collect in a 64-bit accumulator; full words wait in three inline slots and reach `words` four at a time, so
/// a write is a few shifts and the array (a heap object of its own: for the head's open chunks, one per series,
/// touched at the first flush of a request as a cache miss) is reached once every 256 bits rather than every 64.
/// ``finishedBytes()`` adds the staged words and the bits still in the accumulator, padded with zeros to a whole byte.
package struct BitWriter: Sendable {
    /// The words moved out of the inline slots so far, first bit in bit 63.
    private var words: [UInt64]
    /// Completed words after `words`, `stagedCount` of them.
    private var staged: (UInt64, UInt64, UInt64) = (0, 0, 0)
    private var stagedCount = 0
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
    package var bitCount: Int { (words.count + stagedCount) * 64 + pendingBits }

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

    /// Writes the bits `range` of `bytes` (bit 0 is the most significant bit of the first byte), as ``BitReader``
    /// would read them. `range` must lie within `bytes`.
    package mutating func writeBits(of bytes: [UInt8], _ range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count * 8, "bit range outside the bytes")
        var reader = BitReader(bytes, offset: range.lowerBound >> 3)
        _ = reader.skip(range.lowerBound & 7)
        var remaining = range.count
        while remaining > 0 {
            let n = min(remaining, 56)
            writeBits(reader.readBitsKnownPresent(n), count: n)
            remaining -= n
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
        let stagedWords = [staged.0, staged.1, staged.2].prefix(stagedCount)
        out.append(contentsOf: repeatElement(0, count: (words.count + stagedCount) * 8))
        out.withUnsafeMutableBytes { bytes in
            for (index, word) in words.enumerated() {
                bytes.storeBytes(of: word.bigEndian, toByteOffset: start + index * 8, as: UInt64.self)
            }
            for (index, word) in stagedWords.enumerated() {
                bytes.storeBytes(of: word.bigEndian, toByteOffset: start + (words.count + index) * 8, as: UInt64.self)
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
        switch stagedCount {
        case 0: staged.0 = accumulator
        case 1: staged.1 = accumulator
        case 2: staged.2 = accumulator
        default:
            moveStaged()
            return
        }
        stagedCount += 1
    }

    /// Moves the three staged words and the full accumulator to `words`.
    private mutating func moveStaged() {
        words.append(staged.0)
        words.append(staged.1)
        words.append(staged.2)
        words.append(accumulator)
        stagedCount = 0
    }
}
