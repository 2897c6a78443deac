import SightlineCore

/// The Snappy block format, as Prometheus remote write compresses its bodies (`Content-Encoding: snappy`).
///
/// A block is the uncompressed length as a varint, then a sequence of elements: literals (tag `00`) and
/// back-references of 1, 2 or 4 offset bytes (tags `01`, `10`, `11`). This is the raw block format of
/// `golang/snappy`'s `Encode`/`Decode`, not the framed stream format.
///
/// Decompression checks every element and never traps on corrupt input; compression uses a hash-table
/// matcher over 64 KiB blocks, like the reference implementation, and its output decodes there.
///
/// ```swift
/// let compressed = body.withUnsafeBytes { Snappy.compress($0) }
/// let plain = try compressed.withUnsafeBytes { try Snappy.decompress($0, maxOutput: 32 << 20) }
/// ```
package enum Snappy {
    /// The most bytes one element may copy and the block size the compressor matches within.
    private static let blockSize = 1 << 16
    /// Blocks shorter than this are written as one literal.
    private static let minMatchingBlockSize = 17
    /// How far from the end of a block the matcher stops looking for matches.
    private static let inputMargin = 15
    /// The size of the largest hash table (entries).
    private static let maxTableSize = 1 << 14
    /// Bytes the decoder allocates past the declared length, so that a literal of up to 16 bytes or a copy from at
    /// least 8 bytes back moves in 8-byte words, overrunning its end by less than this.
    private static let slack = 16

    // MARK: Decompression

    /// Decompresses a Snappy block.
    /// - Parameters:
    ///   - input: The compressed block.
    ///   - maxOutput: The most bytes the output may have.
    /// - Returns: The decompressed bytes.
    /// - Throws: ``SightlineError`` `.tooLarge` when the declared length exceeds `maxOutput`; `.invalidArgument`
    ///   for a bad length, a truncated element, a copy offset outside the output, or an output whose length does
    ///   not match the declared one.
    package static func decompress(_ input: UnsafeRawBufferPointer, maxOutput: Int) throws -> [UInt8] {
        var position = 0
        let declared = try decompressedLength(input, position: &position)
        guard declared <= UInt64(max(maxOutput, 0)) else {
            throw SightlineError(.tooLarge, "snappy data declares \(declared) decompressed bytes, more than the limit of \(maxOutput)")
        }
        let length = Int(declared)
        guard length > 0 else {
            guard position == input.count else { throw corrupt("\(input.count - position) bytes after the end of an empty block") }
            return []
        }
        guard let source = input.baseAddress else { throw corrupt("empty input") }
        // `slack` bytes past the end let short literals and copies move whole words; they are never exposed.
        return try [UInt8](unsafeUninitializedCapacity: length + slack) { output, initialized in
            guard let destination = output.baseAddress else { throw corrupt("no output buffer") }
            try decodeElements(
                source.assumingMemoryBound(to: UInt8.self), from: position, count: input.count, into: destination, length: length)
            initialized = length
        }
    }

    /// Decompresses a Snappy block held in a byte array.
    package static func decompress(_ input: [UInt8], maxOutput: Int) throws -> [UInt8] {
        try input.withUnsafeBytes { try decompress($0, maxOutput: maxOutput) }
    }

    /// The length a block declares, without decompressing it.
    /// - Throws: ``SightlineError`` `.invalidArgument` when the varint is missing, truncated or above 2³² − 1.
    package static func decompressedLength(_ input: UnsafeRawBufferPointer) throws -> Int {
        var position = 0
        return Int(try decompressedLength(input, position: &position))
    }

    private static func decompressedLength(_ input: UnsafeRawBufferPointer, position: inout Int) throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < input.count else {
                throw corrupt(position == 0 ? "missing length" : "truncated length")
            }
            let byte = input[position]
            position += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
            guard shift < 35 else { throw corrupt("length varint longer than 5 bytes") }
        }
        guard value <= UInt64(UInt32.max) else { throw corrupt("declared length \(value) exceeds 2^32 - 1") }
        return value
    }

    /// For each tag byte of a copy: its length (bits 0–7), the high bits of its offset (a 1-byte-offset copy's three,
    /// as bits 8–10) and how many offset bytes follow the tag (bits 11–13). Literal tags are 0.
    private static let copyTable: [UInt16] = (0..<256).map { tag in
        switch tag & 3 {
        case 1: UInt16(4 + (tag >> 2) & 7) | UInt16(tag >> 5) << 8 | 1 << 11
        case 2: UInt16(1 + tag >> 2) | 2 << 11
        case 3: UInt16(1 + tag >> 2) | 4 << 11
        default: 0
        }
    }

    /// Decodes the elements of `source[start..<count]` into exactly `length` bytes at `destination`.
    private static func decodeElements(
        _ source: UnsafePointer<UInt8>, from start: Int, count: Int, into destination: UnsafeMutablePointer<UInt8>, length: Int
    ) throws {
        var s = start
        var d = 0
        let copyTable = Self.copyTable
        while s < count {
            let tag = source[s]
            let elementStart = s
            if tag & 3 == 0 {
                var literalLength = Int(tag >> 2)
                if literalLength < 60 {
                    s += 1
                } else {
                    let extra = literalLength - 59
                    guard count - s > extra else { throw corrupt("truncated literal length at input offset \(elementStart)") }
                    literalLength = 0
                    for i in 0..<extra { literalLength |= Int(source[s + 1 + i]) << (8 * i) }
                    s += 1 + extra
                }
                literalLength += 1
                guard literalLength <= count - s else {
                    throw corrupt("literal of \(literalLength) bytes at input offset \(elementStart) runs past the end of the input")
                }
                guard literalLength <= length - d else {
                    throw corrupt("literal at input offset \(elementStart) runs past the declared length \(length)")
                }
                if literalLength <= 16 && count - s >= 16 {
                    // Two words, whatever the length: the input has the bytes, the output's slack takes the overrun.
                    store64(destination + d, load64(source, s))
                    store64(destination + d + 8, load64(source, s + 8))
                } else {
                    UnsafeMutableRawPointer(destination + d).copyMemory(from: source + s, byteCount: literalLength)
                }
                d += literalLength
                s += literalLength
                continue
            }
            // A copy of any of the three kinds, from its tag's table entry without a branch per kind.
            let entry = Int(copyTable[Int(tag)])
            let offsetBytes = entry >> 11
            guard count - s > offsetBytes else {
                throw corrupt("truncated \(offsetBytes)-byte-offset copy at input offset \(elementStart)")
            }
            var offset: Int
            if count - s >= 5 {
                offset = Int(load32(source, s + 1)) & ((1 << (offsetBytes << 3)) - 1)
            } else {
                offset = 0
                for i in 0..<offsetBytes { offset |= Int(source[s + 1 + i]) << (8 * i) }
            }
            offset |= entry & 0x700
            let copyLength = entry & 0xFF
            s += 1 + offsetBytes
            guard offset > 0, offset <= d else {
                throw corrupt("copy at input offset \(elementStart) refers \(offset) bytes back, but only \(d) bytes are decoded")
            }
            guard copyLength <= length - d else {
                throw corrupt("copy at input offset \(elementStart) runs past the declared length \(length)")
            }
            if offset >= 8 {
                // Each word's source lies wholly before its target, so words copy as bytes would.
                var from = d - offset
                var to = d
                let end = d + copyLength
                while to < end {
                    store64(destination + to, load64(destination, from))
                    from += 8
                    to += 8
                }
            } else {
                copy(destination, from: d - offset, to: d, count: copyLength)
            }
            d += copyLength
        }
        guard d == length else { throw corrupt("decoded \(d) bytes, but the block declares \(length)") }
    }

    /// Copies `count` bytes from earlier output; when the regions overlap the pattern repeats, as a byte loop would.
    @inline(__always)
    private static func copy(_ buffer: UnsafeMutablePointer<UInt8>, from: Int, to start: Int, count: Int) {
        var to = start
        var remaining = count
        // Each step copies the whole distance between source and target, which does not overlap, and the
        // repeated pattern doubles.
        while remaining > 0 {
            let chunk = min(remaining, to - from)
            UnsafeMutableRawPointer(buffer + to).copyMemory(from: buffer + from, byteCount: chunk)
            to += chunk
            remaining -= chunk
        }
    }

    private static func corrupt(_ message: String) -> SightlineError {
        SightlineError(.invalidArgument, "invalid snappy data: \(message)")
    }

    // MARK: Compression

    /// The most bytes ``compress(_:)`` writes for `count` input bytes.
    package static func maxCompressedLength(_ count: Int) -> Int {
        32 + count + count / 6
    }

    /// Compresses `input` into one Snappy block.
    /// - Parameter input: The data; at most 2³² − 1 bytes, the format's limit.
    /// - Returns: The block, which any Snappy decoder reads.
    package static func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(UInt64(input.count) <= UInt64(UInt32.max), "snappy blocks hold at most 2^32 - 1 bytes")
        let capacity = maxCompressedLength(input.count)
        var table = [UInt16](repeating: 0, count: maxTableSize)
        return [UInt8](unsafeUninitializedCapacity: capacity) { output, initialized in
            guard let out = output.baseAddress else { return }
            var d = 0
            var length = UInt64(input.count)
            while length >= 0x80 {
                out[d] = UInt8(truncatingIfNeeded: length) | 0x80
                length >>= 7
                d += 1
            }
            out[d] = UInt8(length)
            d += 1
            if let base = input.baseAddress {
                let source = base.assumingMemoryBound(to: UInt8.self)
                table.withUnsafeMutableBufferPointer { table in
                    var start = 0
                    while start < input.count {
                        let count = min(blockSize, input.count - start)
                        if count < minMatchingBlockSize {
                            d = emitLiteral(out, at: d, source + start, count: count)
                        } else {
                            d = compressBlock(source + start, count: count, into: out, at: d, table: table)
                        }
                        start += count
                    }
                }
            }
            initialized = d
        }
    }

    /// Compresses the bytes of an array.
    package static func compress(_ input: [UInt8]) -> [UInt8] {
        input.withUnsafeBytes { compress($0) }
    }

    @inline(__always)
    private static func load32(_ p: UnsafePointer<UInt8>, _ i: Int) -> UInt32 {
        UInt32(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt32.self))
    }

    @inline(__always)
    private static func load64(_ p: UnsafePointer<UInt8>, _ i: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
    }

    @inline(__always)
    private static func store64(_ p: UnsafeMutablePointer<UInt8>, _ value: UInt64) {
        UnsafeMutableRawPointer(p).storeBytes(of: value.littleEndian, as: UInt64.self)
    }

    @inline(__always)
    private static func hash(_ value: UInt32, _ shift: UInt32) -> Int {
        Int((value &* 0x1E35_A7BD) >> shift)
    }

    /// Compresses one block of at least ``minMatchingBlockSize`` and at most ``blockSize`` bytes.
    ///
    /// The greedy matcher of the reference implementation: hash 4 bytes, look up the last position with the same
    /// hash, and skip ahead faster the longer no match turns up.
    private static func compressBlock(
        _ source: UnsafePointer<UInt8>, count: Int, into out: UnsafeMutablePointer<UInt8>, at start: Int,
        table: UnsafeMutableBufferPointer<UInt16>
    ) -> Int {
        var d = start
        var shift: UInt32 = 32 - 8
        var tableSize = 1 << 8
        while tableSize < maxTableSize && tableSize < count {
            tableSize *= 2
            shift -= 1
        }
        for i in 0..<tableSize { table[i] = 0 }

        let limit = count - inputMargin
        var nextEmit = 0
        var s = 1
        var nextHash = hash(load32(source, s), shift)
        outer: while true {
            var skip = 32
            var nextS = s
            var candidate = 0
            while true {
                s = nextS
                let step = skip >> 5
                nextS = s + step
                skip += step
                if nextS > limit { break outer }
                candidate = Int(table[nextHash])
                table[nextHash] = UInt16(truncatingIfNeeded: s)
                nextHash = hash(load32(source, nextS), shift)
                if load32(source, s) == load32(source, candidate) { break }
            }
            d = emitLiteral(out, at: d, source + nextEmit, count: s - nextEmit)
            while true {
                let base = s
                s += 4
                s += commonPrefixLength(source + s, source + candidate + 4, count: count - s)
                d = emitCopy(out, at: d, offset: base - candidate, length: s - base)
                nextEmit = s
                if s >= limit { break outer }
                let x = load64(source, s - 1)
                table[hash(UInt32(truncatingIfNeeded: x), shift)] = UInt16(truncatingIfNeeded: s - 1)
                let currentHash = hash(UInt32(truncatingIfNeeded: x >> 8), shift)
                candidate = Int(table[currentHash])
                table[currentHash] = UInt16(truncatingIfNeeded: s)
                if UInt32(truncatingIfNeeded: x >> 8) != load32(source, candidate) {
                    nextHash = hash(UInt32(truncatingIfNeeded: x >> 16), shift)
                    s += 1
                    break
                }
            }
        }
        if nextEmit < count {
            d = emitLiteral(out, at: d, source + nextEmit, count: count - nextEmit)
        }
        return d
    }

    /// Writes a literal element; returns the new output offset.
    @inline(__always)
    private static func emitLiteral(_ out: UnsafeMutablePointer<UInt8>, at start: Int, _ bytes: UnsafePointer<UInt8>, count: Int) -> Int {
        guard count > 0 else { return start }
        var d = start
        let n = count - 1
        if n < 60 {
            out[d] = UInt8(n) << 2
            d += 1
        } else {
            var extra = 1
            while extra < 4 && n >> (8 * extra) != 0 { extra += 1 }
            out[d] = UInt8(59 + extra) << 2
            for i in 0..<extra { out[d + 1 + i] = UInt8(truncatingIfNeeded: n >> (8 * i)) }
            d += 1 + extra
        }
        UnsafeMutableRawPointer(out + d).copyMemory(from: bytes, byteCount: count)
        return d + count
    }

    /// Writes copy elements for a match of `length` bytes `offset` bytes back (offset < 65536); returns the new offset.
    @inline(__always)
    private static func emitCopy(_ out: UnsafeMutablePointer<UInt8>, at start: Int, offset: Int, length: Int) -> Int {
        var d = start
        var length = length
        let low = UInt8(truncatingIfNeeded: offset)
        let high = UInt8(truncatingIfNeeded: offset >> 8)
        while length >= 68 {
            out[d] = 63 << 2 | 2
            out[d + 1] = low
            out[d + 2] = high
            d += 3
            length -= 64
        }
        if length > 64 {
            out[d] = 59 << 2 | 2
            out[d + 1] = low
            out[d + 2] = high
            d += 3
            length -= 60
        }
        if length >= 12 || offset >= 2048 {
            out[d] = UInt8(length - 1) << 2 | 2
            out[d + 1] = low
            out[d + 2] = high
            return d + 3
        }
        out[d] = high << 5 | UInt8(length - 4) << 2 | 1
        out[d + 1] = low
        return d + 2
    }
}
