/// xxHash64 with seed 0 (the algorithm of `github.com/cespare/xxhash/v2`'s `Sum64`), written from the published
/// specification: Prometheus' label-set hash and the checksum of Zstandard frames.
package enum XXHash64 {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    /// The 64-bit hash of `bytes`.
    package static func hash(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBufferPointer { hash($0) }
    }

    /// The 64-bit hash of the bytes in `buffer`.
    package static func hash(_ buffer: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let length = buffer.count
        var index = 0
        var h: UInt64
        if length >= 32 {
            var v1 = prime1 &+ prime2
            var v2 = prime2
            var v3: UInt64 = 0
            var v4 = 0 &- prime1
            while index + 32 <= length {
                v1 = round(v1, read64(buffer, index))
                v2 = round(v2, read64(buffer, index + 8))
                v3 = round(v3, read64(buffer, index + 16))
                v4 = round(v4, read64(buffer, index + 24))
                index += 32
            }
            h = rotate(v1, 1) &+ rotate(v2, 7) &+ rotate(v3, 12) &+ rotate(v4, 18)
            h = merge(h, v1)
            h = merge(h, v2)
            h = merge(h, v3)
            h = merge(h, v4)
        } else {
            h = prime5
        }
        h &+= UInt64(length)
        while index + 8 <= length {
            h ^= round(0, read64(buffer, index))
            h = rotate(h, 27) &* prime1 &+ prime4
            index += 8
        }
        if index + 4 <= length {
            h ^= UInt64(read32(buffer, index)) &* prime1
            h = rotate(h, 23) &* prime2 &+ prime3
            index += 4
        }
        while index < length {
            h ^= UInt64(buffer[index]) &* prime5
            h = rotate(h, 11) &* prime1
            index += 1
        }
        h ^= h >> 33
        h &*= prime2
        h ^= h >> 29
        h &*= prime3
        h ^= h >> 32
        return h
    }

    @inline(__always) private static func rotate(_ x: UInt64, _ r: UInt64) -> UInt64 {
        (x << r) | (x >> (64 - r))
    }

    @inline(__always) private static func round(_ accumulator: UInt64, _ input: UInt64) -> UInt64 {
        rotate(accumulator &+ input &* prime2, 31) &* prime1
    }

    @inline(__always) private static func merge(_ accumulator: UInt64, _ value: UInt64) -> UInt64 {
        (accumulator ^ round(0, value)) &* prime1 &+ prime4
    }

    @inline(__always) private static func read64(_ buffer: UnsafeBufferPointer<UInt8>, _ index: Int) -> UInt64 {
        var value: UInt64 = 0
        for offset in 0..<8 { value |= UInt64(buffer[index + offset]) << (8 * UInt64(offset)) }
        return value
    }

    @inline(__always) private static func read32(_ buffer: UnsafeBufferPointer<UInt8>, _ index: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 { value |= UInt32(buffer[index + offset]) << (8 * UInt32(offset)) }
        return value
    }
}
