package import SightlineCore

/// Iterates the samples of an XOR chunk written by ``XORChunkEncoder``.
///
/// Never traps on bad bytes: when the input is truncated or inconsistent, ``next()`` returns nil and ``error``
/// says why. Check ``error`` after the loop; ``ChunkCodec/decodeAll(_:)`` does that for you.
package struct XORChunkDecoder: IteratorProtocol, Sendable {
    private var reader: BitReader
    /// Samples the header announces.
    private let total: Int
    /// Samples returned so far.
    private var index = 0
    private var t: Int64 = 0
    private var delta: Int64 = 0
    private var value: UInt64 = 0
    private var leading: Int = 0
    private var trailing: Int = 0
    /// Whether a leading/trailing-zero window has been read, so `10` (reuse the window) is valid.
    private var hasWindow = false
    /// Why decoding stopped early; nil while the chunk decodes cleanly.
    package private(set) var error: SightlineError?

    /// Prepares to read `chunk`.
    /// - Throws: `dataCorrupted` when the chunk is not XOR-encoded.
    package init(_ chunk: ChunkData) throws {
        guard chunk.encoding == .xor else {
            throw SightlineError(.dataCorrupted, "chunk encoding \(chunk.encoding.rawValue) is not xor")
        }
        var header = BitReader(chunk.bytes)
        let count = header.readUVarint()
        var headerLength = 0
        if let count {
            var remaining = count
            repeat {
                headerLength += 1
                remaining >>= 7
            } while remaining > 0
        }
        reader = BitReader(chunk.bytes, offset: headerLength)
        if let count, count <= UInt64(Int.max) {
            total = Int(count)
        } else {
            total = 0
            error = SightlineError(.dataCorrupted, "xor chunk header is truncated or invalid")
        }
    }

    /// The number of samples the chunk header announces.
    package var sampleCount: Int { total }

    /// The next sample, or nil at the end of the chunk or on corrupt bytes (then ``error`` is set).
    package mutating func next() -> (t: Int64, v: Double)? {
        guard index < total, error == nil else { return nil }
        switch index {
        case 0:
            guard let first = reader.readVarint(), let bits = reader.readBits(64) else { return fail("first sample") }
            t = first
            value = bits
        case 1:
            guard let d = reader.readVarint() else { return fail("second timestamp") }
            let next = t &+ d
            guard next > t else { return fail("non-increasing timestamp") }
            delta = d
            t = next
            guard readValue() else { return fail("value of sample 1") }
        default:
            guard let dod = readDeltaOfDelta() else { return fail("timestamp of sample \(index)") }
            delta = delta &+ dod
            let next = t &+ delta
            guard next > t else { return fail("non-increasing timestamp") }
            t = next
            guard readValue() else { return fail("value of sample \(index)") }
        }
        index += 1
        return (t, Double(bitPattern: value))
    }

    private mutating func fail(_ what: String) -> (t: Int64, v: Double)? {
        error = SightlineError(.dataCorrupted, "xor chunk is corrupt at \(what) (sample \(index) of \(total))")
        return nil
    }

    @inline(__always)
    private mutating func readDeltaOfDelta() -> Int64? {
        var prefix = 0
        while prefix < 4 {
            guard let bit = reader.readBit() else { return nil }
            if !bit { break }
            prefix += 1
        }
        let width: Int
        switch prefix {
        case 0: return 0
        case 1: width = 14
        case 2: width = 17
        case 3: width = 20
        default: width = 64
        }
        guard let raw = reader.readBits(width) else { return nil }
        if width == 64 { return Int64(bitPattern: raw) }
        // Two's complement in `width` bits; the bucket holds -(2^(w-1)) + 1 ... 2^(w-1).
        let half = UInt64(1) &<< UInt64(width - 1)
        return raw > half ? Int64(bitPattern: raw) &- Int64(bitPattern: half &<< 1) : Int64(bitPattern: raw)
    }

    @inline(__always)
    private mutating func readValue() -> Bool {
        guard let changed = reader.readBit() else { return false }
        if !changed { return true }
        guard let newWindow = reader.readBit() else { return false }
        if newWindow {
            guard let lead = reader.readBits(5), let sig = reader.readBits(6) else { return false }
            let significant = sig == 0 ? 64 : Int(sig)
            guard Int(lead) + significant <= 64 else { return false }
            leading = Int(lead)
            trailing = 64 - leading - significant
            hasWindow = true
        } else if !hasWindow {
            // The encoder never reuses a window before it has written one.
            return false
        }
        let significant = 64 - leading - trailing
        guard let bits = reader.readBits(significant) else { return false }
        value ^= bits &<< UInt64(trailing)
        return true
    }
}
