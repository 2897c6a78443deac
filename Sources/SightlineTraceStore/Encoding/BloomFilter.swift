import SightlineCore

/// A Bloom filter over 64-bit hashes: "maybe present" or "surely absent", for skipping parts and blocks.
///
/// Probes come from double hashing of one 64-bit hash (the low and high halves), so callers hash each key once.
struct BloomFilter: Sendable {
    /// The bit array, a power of two bytes long.
    private(set) var bits: [UInt8]
    /// The number of probes per key.
    let probes: Int

    /// A filter sized for `expected` keys at about 10 bits each (≈ 1% false positives), between 64 and `maxBytes` bytes.
    init(expected: Int, maxBytes: Int) {
        var bytes = 64
        while bytes * 8 < expected * 10, bytes < maxBytes { bytes *= 2 }
        bits = [UInt8](repeating: 0, count: bytes)
        probes = 7
    }

    /// A filter read back from its bits.
    /// - Throws: `dataCorrupted` when the size is not a power of two or the probe count is out of range.
    init(bits: [UInt8], probes: Int) throws {
        guard !bits.isEmpty, bits.count & (bits.count - 1) == 0, (1...16).contains(probes) else {
            throw SightlineError(.dataCorrupted, "Bloom filter of \(bits.count) bytes and \(probes) probes")
        }
        self.bits = bits
        self.probes = probes
    }

    mutating func insert(_ hash: UInt64) {
        let mask = UInt64(bits.count * 8 - 1)
        var h = hash
        let step = (hash >> 32) | 1
        for _ in 0..<probes {
            let bit = Int(h & mask)
            bits[bit >> 3] |= 1 << UInt8(bit & 7)
            h &+= step
        }
    }

    func mayContain(_ hash: UInt64) -> Bool {
        let mask = UInt64(bits.count * 8 - 1)
        var h = hash
        let step = (hash >> 32) | 1
        for _ in 0..<probes {
            let bit = Int(h & mask)
            if bits[bit >> 3] & (1 << UInt8(bit & 7)) == 0 { return false }
            h &+= step
        }
        return true
    }
}

/// The 64-bit hashes the store's filters use.
enum TraceHash {
    /// A trace id mixed to 64 well-spread bits (trace ids are random, but some senders pad 64-bit ids with zeros).
    static func of(_ id: TraceID) -> UInt64 { mix(id.high &* 0x9E37_79B9_7F4A_7C15 ^ id.low) }

    /// A `key=value` tag, as ``TagCondition`` compares it (the value's text).
    static func tag(key: String, text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        hash = (hash ^ 0xFF) &* 0x0000_0100_0000_01B3
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return mix(hash)
    }

    /// The SplitMix64 finalizer.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
