/// Appends samples to an XOR chunk: Gorilla compression, the way Prometheus stores float samples.
///
/// Layout of ``ChunkData/bytes`` (see ``XORChunkDecoder`` for the reading side):
/// - a header: the sample count as an unsigned LEB128 varint, so the bytes describe themselves;
/// - then a bit stream, most significant bit first, zero-padded to a whole byte:
///   - sample 0: the timestamp as a ZigZag varint, then the value as 64 raw bits;
///   - sample 1: the timestamp delta as a ZigZag varint, then the value XOR-encoded;
///   - sample n ≥ 2: the delta of deltas in a bucket (`0` for 0, `10`+14 bits, `110`+17, `1110`+20, `1111`+64),
///     then the value XOR-encoded.
/// - An XOR-encoded value is `0` when it equals the previous bits, else `1` and either `0` + the meaningful bits
///   inside the previous leading/trailing-zero window when they fit, or `1` + 5 bits leading-zero count + 6 bits
///   meaningful-bit count (64 written as 0) + the meaningful bits.
///
/// Timestamp arithmetic wraps, so any `Int64` round-trips; values round-trip by bit pattern (NaN payloads, the
/// staleness marker and -0.0 included).
package struct XORChunkEncoder: Sendable {
    private var writer = BitWriter(capacity: 128)
    /// How many samples the chunk holds.
    package private(set) var count: Int = 0
    /// The first sample time; `Int64.max` while the chunk is empty.
    package private(set) var minTime: Int64 = .max
    /// The last sample time; `Int64.min` while the chunk is empty.
    package private(set) var maxTime: Int64 = .min
    private var previousDelta: Int64 = 0
    private var previousValue: UInt64 = 0
    /// Leading zeros of the current XOR window; 0xFF while there is no window yet.
    private var leading: UInt8 = 0xFF
    private var trailing: UInt8 = 0

    /// Creates an empty chunk.
    package init() {}

    /// The bit pattern of the last value appended; meaningless while the chunk is empty.
    package var lastValueBits: UInt64 { previousValue }

    /// Appends a sample. The caller guarantees `t` is greater than ``maxTime``; a sample that is not is ignored,
    /// so the chunk never holds times out of order.
    package mutating func append(_ t: Int64, _ v: Double) {
        let bits = v.bitPattern
        switch count {
        case 0:
            writer.writeVarint(t)
            writer.writeBits(bits, count: 64)
            minTime = t
        case 1:
            guard t > maxTime else { return }
            let delta = t &- maxTime
            writer.writeVarint(delta)
            writeValue(bits)
            previousDelta = delta
        default:
            guard t > maxTime else { return }
            let delta = t &- maxTime
            let dod = delta &- previousDelta
            if dod == 0 {
                writer.writeBit(false)
            } else if Self.fits(dod, bits: 14) {
                writer.writeBits(0b10, count: 2)
                writer.writeBits(UInt64(bitPattern: dod), count: 14)
            } else if Self.fits(dod, bits: 17) {
                writer.writeBits(0b110, count: 3)
                writer.writeBits(UInt64(bitPattern: dod), count: 17)
            } else if Self.fits(dod, bits: 20) {
                writer.writeBits(0b1110, count: 4)
                writer.writeBits(UInt64(bitPattern: dod), count: 20)
            } else {
                writer.writeBits(0b1111, count: 4)
                writer.writeBits(UInt64(bitPattern: dod), count: 64)
            }
            writeValue(bits)
            previousDelta = delta
        }
        previousValue = bits
        maxTime = t
        count += 1
    }

    /// The chunk as it stands. The encoder stays usable, so this also snapshots an open chunk.
    package func finish() -> ChunkData {
        var bytes: [UInt8] = []
        bytes.reserveCapacity((writer.bitCount + 7) / 8 + 3)
        var header = UInt64(count)
        while header >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: header) | 0x80)
            header >>= 7
        }
        bytes.append(UInt8(header))
        writer.appendFinishedBytes(to: &bytes)
        return ChunkData(minTime: minTime, maxTime: maxTime, sampleCount: count, encoding: .xor, bytes: bytes)
    }

    /// The encoded size so far, header excluded, in bytes.
    package var encodedByteCount: Int { (writer.bitCount + 7) / 8 }

    /// Whether `value` is in `-(2^(bits-1)) + 1 ... 2^(bits-1)`, the range a bucket of `bits` bits holds.
    @inline(__always)
    private static func fits(_ value: Int64, bits: Int) -> Bool {
        let half = Int64(1) << (bits - 1)
        return value > -half && value <= half
    }

    @inline(__always)
    private mutating func writeValue(_ bits: UInt64) {
        let xor = bits ^ previousValue
        if xor == 0 {
            writer.writeBit(false)
            return
        }
        var newLeading = UInt8(xor.leadingZeroBitCount)
        let newTrailing = UInt8(xor.trailingZeroBitCount)
        // Five bits hold at most 31 leading zeros.
        if newLeading > 31 { newLeading = 31 }
        if leading != 0xFF && newLeading >= leading && newTrailing >= trailing {
            // The meaningful bits fit the previous window: reuse it.
            writer.writeBits(0b10, count: 2)
            let significant = 64 - Int(leading) - Int(trailing)
            writer.writeBits(xor &>> UInt64(trailing), count: significant)
            return
        }
        leading = newLeading
        trailing = newTrailing
        let significant = 64 - Int(newLeading) - Int(newTrailing)
        writer.writeBits(0b11, count: 2)
        writer.writeBits(UInt64(newLeading), count: 5)
        // 64 meaningful bits do not fit six bits; 0 stands for 64 (0 itself never occurs since xor != 0).
        writer.writeBits(UInt64(significant & 63), count: 6)
        writer.writeBits(xor &>> UInt64(newTrailing), count: significant)
    }
}
