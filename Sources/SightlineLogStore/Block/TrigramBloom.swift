/// A Bloom filter over the byte trigrams of a block's lines: the token index that lets a `|= "needle"` search skip
/// blocks without decompressing them.
///
/// Why trigrams and not words: LogQL's line filter matches any substring, so a word index could only answer for
/// needles that are whole words; it would have to read every block for `|= "ksum mism"`. Every substring of three or
/// more bytes is made of the trigrams of the line, so if one trigram of the needle is absent from the block, no line
/// of the block contains the needle: pruning is exact for any needle of ≥ 3 bytes (including ones that cut UTF-8
/// characters, since trigrams are bytes), and shorter needles read every block. Trigrams are case-sensitive, as the
/// filter is.
///
/// The filter is sized on the block's distinct trigrams (counted exactly with a 2²⁴-bit bitmap while encoding), with
/// `bitsPerTrigram` bits each and two probes. Few bits are enough: a needle of n bytes must find all its n − 2
/// trigrams, so with 4 bits per trigram (one probe pair false-positive about 15 %) a 12-byte needle whose trigrams are
/// absent passes a block with a probability around 0.15¹⁰. That keeps the filter a few percent of the block.
struct TrigramBloom: Sendable {
    /// The filter bits, 64 per word; the bit count is `words.count * 64`.
    private(set) var words: [UInt64]

    /// An empty filter of `bitCount` bits (rounded up to a multiple of 64).
    init(bitCount: Int) {
        words = [UInt64](repeating: 0, count: max(1, (bitCount + 63) / 64))
    }

    /// A filter read back from its bytes (little-endian words).
    init(bytes: UnsafeRawBufferPointer) {
        let count = bytes.count / 8
        words = (0..<count).map { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) }
        if words.isEmpty { words = [0] }
    }

    /// The filter's bytes, little-endian words.
    var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(words.count * 8)
        for word in words { withUnsafeBytes(of: word.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    /// The two bit positions of a trigram.
    @inline(__always)
    private func probes(_ trigram: UInt32) -> (Int, Int) {
        let bits = UInt64(words.count * 64)
        let hash = UInt64(trigram) &* 0x9E37_79B9_7F4A_7C15
        let mixed = (hash ^ (hash >> 29)) &* 0xBF58_476D_1CE4_E5B9
        return (Int(((hash >> 32) &* bits) >> 32), Int(((mixed & 0xFFFF_FFFF) &* bits) >> 32))
    }

    /// Adds a trigram (its three bytes as `b0 << 16 | b1 << 8 | b2`).
    mutating func insert(_ trigram: UInt32) {
        let (a, b) = probes(trigram)
        words[a >> 6] |= 1 << UInt64(a & 63)
        words[b >> 6] |= 1 << UInt64(b & 63)
    }

    /// Whether the trigram may have been added (false means certainly not).
    func mayContain(_ trigram: UInt32) -> Bool {
        let (a, b) = probes(trigram)
        return words[a >> 6] & (1 << UInt64(a & 63)) != 0 && words[b >> 6] & (1 << UInt64(b & 63)) != 0
    }

    /// Whether a line of the block may contain `needle`: true for needles under 3 bytes, else whether every trigram
    /// of the needle may be in the filter.
    func mayContain(needle: [UInt8]) -> Bool {
        guard needle.count >= 3 else { return true }
        for index in 0..<(needle.count - 2) {
            let trigram = UInt32(needle[index]) << 16 | UInt32(needle[index + 1]) << 8 | UInt32(needle[index + 2])
            if !mayContain(trigram) { return false }
        }
        return true
    }

    /// Builds the filter of the lines of one block.
    static func build(lines: [[UInt8]], bitsPerTrigram: Int) -> TrigramBloom {
        var collector = TrigramCollector()
        for line in lines { collector.add(line) }
        return collector.filter(bitsPerTrigram: bitsPerTrigram)
    }
}

/// Collects the distinct trigrams of a block's lines exactly, so the filter can be sized on them.
struct TrigramCollector {
    /// One bit per possible trigram (2²⁴ bits, 2 MiB), allocated by the first line.
    private var seen: [UInt64] = []
    private(set) var distinct: [UInt32] = []

    /// Forgets the trigrams added, clearing only their bits, so one collector serves block after block.
    mutating func removeAll() {
        seen.withUnsafeMutableBufferPointer { seen in
            for trigram in distinct { seen[Int(trigram >> 6)] = 0 }
        }
        distinct.removeAll(keepingCapacity: true)
    }

    /// Adds the trigrams of one line.
    mutating func add(_ line: UnsafeRawBufferPointer) {
        guard line.count >= 3 else { return }
        if seen.isEmpty { seen = [UInt64](repeating: 0, count: 1 << 18) }
        var trigram = UInt32(line[0]) << 8 | UInt32(line[1])
        seen.withUnsafeMutableBufferPointer { seen in
            for index in 2..<line.count {
                trigram = (trigram << 8 | UInt32(line[index])) & 0xFF_FFFF
                let word = Int(trigram >> 6)
                let bit = UInt64(1) << UInt64(trigram & 63)
                if seen[word] & bit == 0 {
                    seen[word] |= bit
                    distinct.append(trigram)
                }
            }
        }
    }

    /// Adds the trigrams of one line.
    mutating func add(_ line: [UInt8]) {
        line.withUnsafeBytes { add($0) }
    }

    /// The filter of everything added.
    func filter(bitsPerTrigram: Int) -> TrigramBloom {
        var filter = TrigramBloom(bitCount: max(64, distinct.count * max(1, bitsPerTrigram)))
        for trigram in distinct { filter.insert(trigram) }
        return filter
    }
}
