import SightlineIngest

/// Gzip compression (RFC 1952 around an RFC 1951 deflate stream) for the agent's log and span batches, in Swift
/// (no system zlib).
///
/// One fixed-Huffman block with greedy LZ77 matching over a 32 KiB window (a hash of the next 3 bytes points at their
/// last occurrence). Log lines repeat a lot (timestamps, levels, keys), which this catches; it trades some ratio
/// against zlib's dynamic trees for speed and simplicity. ``Gzip/decompress(_:maxOutput:)`` (the server's decoder)
/// reads it back.
package enum GzipCompressor {
    /// The buffers one compression needs, kept by a caller that compresses batch after batch on one thread, so that
    /// each batch does not allocate (and fault in) a fresh hash table and output buffer.
    package final class Workspace {
        fileprivate var table = [Int32](repeating: -1, count: 1 << GzipCompressor.hashBits)
        fileprivate var output: [UInt8] = []

        package init() {}
    }

    /// Bits of the hash of 3 bytes that indexes the match table.
    fileprivate static let hashBits = 15

    /// The gzip member holding `input`.
    /// - Parameter workspace: Buffers to reuse (one thread at a time); nil allocates them for this call.
    package static func compress(_ input: [UInt8], workspace: Workspace? = nil) -> [UInt8] {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        out.reserveCapacity(input.count / 3 + 64)
        deflate(input, into: &out, workspace: workspace ?? Workspace())
        let crc = CRC32.checksum(input)
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
        let size = UInt32(truncatingIfNeeded: input.count)
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: size >> UInt32(shift))) }
        return out
    }

    /// Bit-reversed fixed-Huffman codes and their lengths for literal/length symbols 0...287.
    private static let literalCodes: [(code: UInt32, bits: Int)] = (0..<288).map { symbol in
        let (code, bits): (Int, Int)
        switch symbol {
        case 0..<144: (code, bits) = (0x30 + symbol, 8)
        case 144..<256: (code, bits) = (0x190 + symbol - 144, 9)
        case 256..<280: (code, bits) = (symbol - 256, 7)
        default: (code, bits) = (0xC0 + symbol - 280, 8)
        }
        return (reverse(UInt32(code), bits), bits)
    }

    private static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distanceBase: [Int] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
        8193, 12289, 16385, 24577,
    ]
    private static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    /// Length 3...258 → index into the length tables.
    private static let lengthIndex: [UInt8] = (0...258).map { length in
        guard length >= 3 else { return 0 }
        var index = lengthBase.count - 1
        while lengthBase[index] > length { index -= 1 }
        return UInt8(index)
    }

    /// Distance codes reversed (5 bits).
    private static let distanceCodes: [UInt32] = (0..<30).map { reverse(UInt32($0), 5) }

    private static func reverse(_ value: UInt32, _ bits: Int) -> UInt32 {
        var result: UInt32 = 0
        for bit in 0..<bits where value & (1 << UInt32(bit)) != 0 { result |= 1 << UInt32(bits - 1 - bit) }
        return result
    }

    /// Distance code of `distance - 1` (zlib's layout): entries 0..<256 for distances 1...256, entries 256..<512 for
    /// larger ones by `(distance - 1) >> 7`.
    private static let distanceIndexTable: [UInt8] = {
        func index(_ distance: Int) -> UInt8 {
            var index = distanceBase.count - 1
            while distanceBase[index] > distance { index -= 1 }
            return UInt8(index)
        }
        return (0..<256).map { index($0 + 1) } + (0..<256).map { index(($0 << 7) + 1) }
    }()

    /// Appends one final fixed-Huffman deflate block of `input` to `out`.
    ///
    /// The hot loop works on unsafe buffers only (input, the workspace's hash table and output, sized for the worst
    /// case of 9 bits a byte, and the code tables), with the bit buffer in locals: no bounds checks, no exclusivity
    /// checks, no reallocation.
    static func deflate(_ input: [UInt8], into out: inout [UInt8], workspace: Workspace) {
        let count = input.count
        let hashBits = Self.hashBits
        // Worst case: every byte a 9-bit literal, plus the block header and the end code.
        let worstCase = count + count / 8 + 16
        if workspace.output.count < worstCase { workspace.output = [UInt8](repeating: 0, count: worstCase) }
        var written = 0
        workspace.table.withUnsafeMutableBufferPointer { $0.update(repeating: -1) }
        let literalCodes = Self.literalCodes
        let lengthIndex = Self.lengthIndex
        let lengthBase = Self.lengthBase
        let lengthExtra = Self.lengthExtra
        let distanceIndexTable = Self.distanceIndexTable
        let distanceCodes = Self.distanceCodes
        let distanceBase = Self.distanceBase
        let distanceExtra = Self.distanceExtra
        input.withUnsafeBufferPointer { bytes in
            workspace.table.withUnsafeMutableBufferPointer { table in
                workspace.output.withUnsafeMutableBufferPointer { output in
                    literalCodes.withUnsafeBufferPointer { literalCodes in
                        var bits: UInt64 = 0
                        var bitCount: UInt64 = 0
                        // Adds `n` bits of `value` (n ≤ 32) and flushes whole bytes.
                        @inline(__always) func put(_ value: UInt32, _ n: Int) {
                            bits |= UInt64(value) << bitCount
                            bitCount += UInt64(n)
                            while bitCount >= 8 {
                                output[written] = UInt8(truncatingIfNeeded: bits)
                                written += 1
                                bits >>= 8
                                bitCount -= 8
                            }
                        }
                        @inline(__always) func hash(_ i: Int) -> Int {
                            let value = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16
                            return Int((value &* 2_654_435_761) >> UInt32(32 - hashBits))
                        }
                        put(1, 1)  // BFINAL
                        put(1, 2)  // BTYPE = fixed Huffman
                        var i = 0
                        while i < count {
                            guard i + 3 <= count else {
                                let code = literalCodes[Int(bytes[i])]
                                put(code.code, code.bits)
                                i += 1
                                continue
                            }
                            let h = hash(i)
                            let candidate = Int(table[h])
                            table[h] = Int32(i)
                            if candidate >= 0 && i - candidate <= 32768 && bytes[candidate] == bytes[i] && bytes[candidate + 1] == bytes[i + 1]
                                && bytes[candidate + 2] == bytes[i + 2]
                            {
                                var length = 3
                                let limit = min(258, count - i)
                                while length < limit && bytes[candidate + length] == bytes[i + length] { length += 1 }
                                let distance = i - candidate
                                let li = Int(lengthIndex[length])
                                let code = literalCodes[257 + li]
                                put(code.code, code.bits)
                                if lengthExtra[li] > 0 { put(UInt32(length - lengthBase[li]), lengthExtra[li]) }
                                let di = Int(distance <= 256 ? distanceIndexTable[distance - 1] : distanceIndexTable[256 + ((distance - 1) >> 7)])
                                put(distanceCodes[di], 5)
                                if distanceExtra[di] > 0 { put(UInt32(distance - distanceBase[di]), distanceExtra[di]) }
                                // Index a few positions inside the match so later text can refer to them too.
                                let end = i + length
                                var j = i + 1
                                while j < end && j + 3 <= count {
                                    table[hash(j)] = Int32(j)
                                    j += length > 32 ? 4 : 1
                                }
                                i = end
                            } else {
                                let code = literalCodes[Int(bytes[i])]
                                put(code.code, code.bits)
                                i += 1
                            }
                        }
                        let end = literalCodes[256]
                        put(end.code, end.bits)
                        if bitCount > 0 {
                            output[written] = UInt8(truncatingIfNeeded: bits)
                            written += 1
                        }
                    }
                }
            }
        }
        out.append(contentsOf: workspace.output[..<written])
    }
}
