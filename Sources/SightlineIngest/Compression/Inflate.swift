import SightlineCore

/// A DEFLATE decoder (RFC 1951): stored, fixed-Huffman and dynamic-Huffman blocks.
///
/// Huffman codes of up to ``HuffmanTable/fastBits`` bits are decoded with one table lookup, longer ones
/// canonically bit by bit. Corrupt input throws `.invalidArgument`; output beyond the limit throws `.tooLarge`.
package enum Inflate {
    /// Decompresses a raw DEFLATE stream (no zlib or gzip wrapper).
    /// - Parameters:
    ///   - bytes: The compressed stream; bytes after its final block are ignored.
    ///   - maxOutput: The most bytes the output may have.
    /// - Returns: The decompressed bytes.
    /// - Throws: ``SightlineError`` `.tooLarge` past `maxOutput`, `.invalidArgument` for corrupt or truncated data.
    package static func decompress(_ bytes: UnsafeRawBufferPointer, maxOutput: Int) throws -> [UInt8] {
        var output = InflateOutput(maxOutput: maxOutput, sizeHint: bytes.count * 4)
        _ = try inflate(bytes, from: 0, into: &output)
        return output.finish()
    }

    /// Inflates the stream starting at `offset` of `input`, appending to `output`.
    /// - Returns: The offset of the first byte after the stream (its last byte padded to a byte boundary).
    static func inflate(_ input: UnsafeRawBufferPointer, from offset: Int, into output: inout InflateOutput) throws -> Int {
        var inflater = Inflater(input: input, position: offset)
        try inflater.run(into: &output)
        return inflater.bytePosition
    }

    static func corrupt(_ message: String) -> SightlineError {
        SightlineError(.invalidArgument, "invalid deflate data: \(message)")
    }
}

/// The growing output of an inflate, with its size limit.
struct InflateOutput {
    private(set) var bytes: [UInt8]
    private(set) var count = 0
    let maxOutput: Int
    /// Where the current stream's output starts; back-references may not reach before it.
    var streamStart = 0

    init(maxOutput: Int, sizeHint: Int) {
        self.maxOutput = max(0, maxOutput)
        bytes = [UInt8](repeating: 0, count: min(max(sizeHint, 1024), max(self.maxOutput, 1)))
    }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    mutating func reserve(_ extra: Int) throws {
        let needed = count + extra
        guard needed > bytes.count else { return }
        guard needed <= maxOutput else {
            throw SightlineError(.tooLarge, "decompressed data exceeds the limit of \(maxOutput) bytes")
        }
        makeRoom(extra)
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) throws {
        try reserve(1)
        bytes[count] = byte
        count += 1
    }

    /// Grows the buffer towards `extra` free bytes, never past the limit and without failing.
    mutating func makeRoom(_ extra: Int) {
        let wanted = min(count + extra, maxOutput)
        guard wanted > bytes.count else { return }
        let newSize = min(max(wanted, bytes.count * 2), maxOutput)
        bytes.append(contentsOf: repeatElement(0, count: newSize - bytes.count))
    }

    /// Whether `extra` more bytes fit the buffer as it is.
    func hasRoom(_ extra: Int) -> Bool { count + extra <= bytes.count }

    /// Writes through the buffer's base address: `body` gets it, the count (which it advances), the buffer's size and
    /// where the current stream starts.
    mutating func withRoom<R>(_ body: (UnsafeMutablePointer<UInt8>, inout Int, Int, Int) throws -> R) rethrows -> R {
        let start = streamStart
        var written = count
        defer { count = written }
        return try bytes.withUnsafeMutableBufferPointer { buffer in
            try body(buffer.baseAddress!, &written, buffer.count, start)
        }
    }

    /// Appends raw bytes.
    mutating func append(_ source: UnsafeRawBufferPointer) throws {
        try reserve(source.count)
        bytes.withUnsafeMutableBytes { destination in
            UnsafeMutableRawBufferPointer(rebasing: destination[count..<(count + source.count)]).copyMemory(from: source)
        }
        count += source.count
    }

    /// Copies `length` bytes from `distance` bytes back (the copy may overlap what it writes).
    @inline(__always)
    mutating func copyBack(distance: Int, length: Int) throws {
        try Self.check(distance: distance, count: count, streamStart: streamStart)
        try reserve(length)
        withRoom { base, count, _, _ in Self.copyBack(base, count: &count, distance: distance, length: length) }
    }

    /// Checks that a back-reference `distance` bytes back from `count` stays inside the current stream.
    /// - Throws: `dataCorrupted` when it reaches before `streamStart`.
    @inline(__always)
    static func check(distance: Int, count: Int, streamStart: Int) throws {
        guard distance <= count - streamStart else {
            throw Inflate.corrupt("distance \(distance) reaches before the start of the output")
        }
    }

    /// Copies `length` bytes from `distance` bytes back to `base[count...]` and advances `count`; an overlapping copy
    /// repeats what it has just written, as LZ77 means it to. The caller has checked the distance and made room.
    @inline(__always)
    static func copyBack(_ base: UnsafeMutablePointer<UInt8>, count: inout Int, distance: Int, length: Int) {
        if distance >= length {
            (base + count).update(from: base + count - distance, count: length)  // no overlap: one block copy
        } else {
            for index in count..<(count + length) { base[index] = base[index - distance] }
        }
        count += length
    }

    /// The output bytes so far.
    func slice(from start: Int) -> ArraySlice<UInt8> { bytes[start..<count] }

    /// Returns the output, trimmed to its length.
    consuming func finish() -> [UInt8] {
        bytes.removeSubrange(count...)
        return bytes
    }
}

/// A canonical Huffman code as a lookup table (codes of up to `fastBits` bits) plus counts for longer codes.
struct HuffmanTable {
    static let fastBits = 10
    static let maxBits = 15

    /// Indexed by the next `fastBits` input bits: `symbol << 4 | length`, or 0 when the code is longer.
    var fast: [UInt16]
    /// How many codes have each length.
    var counts: [UInt16]
    /// Symbols ordered by code (length, then symbol value).
    var symbols: [UInt16]

    /// Builds the code for `lengths[symbol]` (0 = unused).
    init(lengths: ArraySlice<UInt8>) throws {
        counts = [UInt16](repeating: 0, count: Self.maxBits + 1)
        for length in lengths { counts[Int(length)] += 1 }
        counts[0] = 0
        var left = 1
        for length in 1...Self.maxBits {
            left = left * 2 - Int(counts[length])
            guard left >= 0 else { throw Inflate.corrupt("over-subscribed Huffman code") }
        }
        var offsets = [Int](repeating: 0, count: Self.maxBits + 2)
        for length in 1...Self.maxBits { offsets[length + 1] = offsets[length] + Int(counts[length]) }
        symbols = [UInt16](repeating: 0, count: offsets[Self.maxBits + 1])
        fast = [UInt16](repeating: 0, count: 1 << Self.fastBits)
        // Canonical codes: the first code of each length follows the last code of the length before, shifted.
        var nextCode = [Int](repeating: 0, count: Self.maxBits + 2)
        var code = 0
        for length in 1...Self.maxBits {
            nextCode[length] = code
            code = (code + Int(counts[length])) << 1
        }
        for (index, length) in lengths.enumerated() where length != 0 {
            let symbol = UInt16(index)
            let len = Int(length)
            symbols[offsets[len]] = symbol
            offsets[len] += 1
            let assigned = nextCode[len]
            nextCode[len] += 1
            guard len <= Self.fastBits else { continue }
            // The stream holds codes most-significant bit first; the table is indexed by bits in arrival order.
            var reversed = 0
            for bit in 0..<len where assigned & (1 << (len - 1 - bit)) != 0 { reversed |= 1 << bit }
            let entry = symbol << 4 | UInt16(len)
            var index = reversed
            while index < fast.count {
                fast[index] = entry
                index += 1 << len
            }
        }
    }
}

/// Reads bits least-significant first and decodes blocks.
private struct Inflater {
    let input: UnsafeRawBufferPointer
    var position: Int
    var bitBuffer: UInt64 = 0
    var bitCount = 0
    /// Bits "read" past the end of the input (zeros), which make the stream truncated if used.
    var overrun = 0

    init(input: UnsafeRawBufferPointer, position: Int) {
        self.input = input
        self.position = position
    }

    /// The offset of the next unread whole byte.
    var bytePosition: Int { position - bitCount / 8 }

    @inline(__always)
    mutating func refill() {
        if position + 8 <= input.count {
            // Eight bytes at once. Only whole bytes that fit are counted; the bits of the next byte that also land in
            // the buffer are the very bits the next load puts there again, so OR-ing them twice changes nothing.
            let word = UInt64(littleEndian: input.loadUnaligned(fromByteOffset: position, as: UInt64.self))
            bitBuffer |= word << UInt64(bitCount)
            let taken = (63 - bitCount) >> 3
            position += taken
            bitCount += taken * 8
            return
        }
        while bitCount <= 56 {
            if position < input.count {
                bitBuffer |= UInt64(input[position]) << UInt64(bitCount)
                position += 1
            } else {
                // Pad with zeros; counted so using them is detected.
                overrun += 8
                position += 1
            }
            bitCount += 8
        }
    }

    @inline(__always)
    mutating func checkOverrun() throws {
        // Bits past the end have been consumed when fewer real bits remain than were padded.
        if overrun > 0 && bitCount < overrun { throw Inflate.corrupt("truncated stream") }
    }

    @inline(__always)
    mutating func bits(_ n: Int) throws -> Int {
        if bitCount < n { refill() }
        let value = Int(bitBuffer & ((1 << UInt64(n)) - 1))
        bitBuffer >>= UInt64(n)
        bitCount -= n
        try checkOverrun()
        return value
    }

    @inline(__always)
    mutating func decode(_ table: HuffmanTable) throws -> Int {
        if bitCount < HuffmanTable.maxBits { refill() }
        let entry = table.fast[Int(bitBuffer & UInt64((1 << HuffmanTable.fastBits) - 1))]
        if entry != 0 {
            let length = Int(entry & 0xF)
            bitBuffer >>= UInt64(length)
            bitCount -= length
            try checkOverrun()
            return Int(entry >> 4)
        }
        // Slow path: walk the canonical code one bit at a time.
        var code = 0
        var first = 0
        var index = 0
        for length in 1...HuffmanTable.maxBits {
            code |= Int((bitBuffer >> UInt64(length - 1)) & 1)
            let count = Int(table.counts[length])
            if code - first < count {
                bitBuffer >>= UInt64(length)
                bitCount -= length
                try checkOverrun()
                return Int(table.symbols[index + code - first])
            }
            index += count
            first = (first + count) << 1
            code <<= 1
        }
        throw Inflate.corrupt("invalid Huffman code")
    }

    mutating func run(into output: inout InflateOutput) throws {
        output.streamStart = output.count
        var isFinal = false
        while !isFinal {
            isFinal = try bits(1) == 1
            switch try bits(2) {
            case 0: try storedBlock(into: &output)
            case 1: try huffmanBlock(literals: Self.fixedLiterals, distances: Self.fixedDistances, into: &output)
            case 2:
                let (literals, distances) = try dynamicTables()
                try huffmanBlock(literals: literals, distances: distances, into: &output)
            default: throw Inflate.corrupt("invalid block type 3")
            }
        }
        // Give back whole unused bytes so the caller can read what follows the stream.
        bitCount -= bitCount % 8
    }

    mutating func storedBlock(into output: inout InflateOutput) throws {
        // Skip to a byte boundary, then return buffered whole bytes to the input.
        bitBuffer >>= UInt64(bitCount % 8)
        bitCount -= bitCount % 8
        try checkOverrun()
        position -= bitCount / 8
        bitBuffer = 0
        bitCount = 0
        overrun = 0
        guard input.count - position >= 4 else { throw Inflate.corrupt("truncated stored block header") }
        let length = Int(input[position]) | Int(input[position + 1]) << 8
        let complement = Int(input[position + 2]) | Int(input[position + 3]) << 8
        guard length == ~complement & 0xFFFF else { throw Inflate.corrupt("stored block length does not match its complement") }
        position += 4
        guard input.count - position >= length else { throw Inflate.corrupt("truncated stored block") }
        try output.append(UnsafeRawBufferPointer(rebasing: input[position..<(position + length)]))
        position += length
    }

    static let lengthBase: [Int] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
    ]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [Int] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
        8193, 12289, 16385, 24577,
    ]
    static let distanceExtra: [Int] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]

    static let fixedLiterals: HuffmanTable = {
        var lengths = [UInt8](repeating: 8, count: 288)
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        return Self.table(lengths[...])
    }()

    static let fixedDistances: HuffmanTable = Self.table([UInt8](repeating: 5, count: 30)[...])

    /// Builds a table from lengths known to be valid.
    private static func table(_ lengths: ArraySlice<UInt8>) -> HuffmanTable {
        do {
            return try HuffmanTable(lengths: lengths)
        } catch {
            preconditionFailure("the fixed Huffman codes are valid: \(error)")
        }
    }

    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    mutating func dynamicTables() throws -> (HuffmanTable, HuffmanTable) {
        let literalCount = try bits(5) + 257
        let distanceCount = try bits(5) + 1
        let codeLengthCount = try bits(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else { throw Inflate.corrupt("too many length or distance codes") }
        var codeLengthLengths = [UInt8](repeating: 0, count: 19)
        for i in 0..<codeLengthCount { codeLengthLengths[Self.codeLengthOrder[i]] = UInt8(try bits(3)) }
        let codeLengthTable = try HuffmanTable(lengths: codeLengthLengths[...])
        var lengths = [UInt8](repeating: 0, count: literalCount + distanceCount)
        var index = 0
        while index < lengths.count {
            let symbol = try decode(codeLengthTable)
            if symbol < 16 {
                lengths[index] = UInt8(symbol)
                index += 1
                continue
            }
            let value: UInt8
            let repeatCount: Int
            switch symbol {
            case 16:
                guard index > 0 else { throw Inflate.corrupt("repeated code length with no previous length") }
                value = lengths[index - 1]
                repeatCount = 3 + (try bits(2))
            case 17:
                value = 0
                repeatCount = 3 + (try bits(3))
            default:
                value = 0
                repeatCount = 11 + (try bits(7))
            }
            guard index + repeatCount <= lengths.count else { throw Inflate.corrupt("code lengths overflow the table") }
            for i in index..<(index + repeatCount) { lengths[i] = value }
            index += repeatCount
        }
        guard lengths[256] != 0 else { throw Inflate.corrupt("no end-of-block code") }
        return (
            try HuffmanTable(lengths: lengths[0..<literalCount]),
            try HuffmanTable(lengths: lengths[literalCount...])
        )
    }

    mutating func huffmanBlock(literals: HuffmanTable, distances: HuffmanTable, into output: inout InflateOutput) throws {
        while true {
            // Most symbols: straight into the output buffer while a longest match (258 bytes) surely fits.
            output.makeRoom(32 << 10)
            if output.hasRoom(258) {
                let end = try output.withRoom { base, count, capacity, streamStart in
                    try fastSymbols(literals: literals, distances: distances, base: base, count: &count, capacity: capacity, streamStart: streamStart)
                }
                if end == .endOfBlock { return }
                continue
            }
            // Near the output limit: one symbol at a time, which throws past it.
            let symbol = try decode(literals)
            if symbol < 256 {
                try output.append(UInt8(symbol))
                continue
            }
            if symbol == 256 { return }
            let (length, distance) = try match(symbol, distances: distances)
            try output.copyBack(distance: distance, length: length)
        }
    }

    /// The length and distance of the match that length symbol `symbol` starts.
    @inline(__always)
    mutating func match(_ symbol: Int, distances: HuffmanTable) throws -> (length: Int, distance: Int) {
        let lengthIndex = symbol - 257
        guard lengthIndex < 29 else { throw Inflate.corrupt("invalid length symbol \(symbol)") }
        let length = Self.lengthBase[lengthIndex] + (try bits(Self.lengthExtra[lengthIndex]))
        let distanceSymbol = try decode(distances)
        guard distanceSymbol < 30 else { throw Inflate.corrupt("invalid distance symbol \(distanceSymbol)") }
        return (length, Self.distanceBase[distanceSymbol] + (try bits(Self.distanceExtra[distanceSymbol])))
    }

    enum RunEnd { case endOfBlock, outOfRoom }

    /// Decodes symbols into `base[count...]` until the end of the block or until fewer than 258 bytes of `capacity`
    /// are left.
    @inline(__always)
    mutating func fastSymbols(
        literals: HuffmanTable, distances: HuffmanTable, base: UnsafeMutablePointer<UInt8>, count: inout Int, capacity: Int,
        streamStart: Int
    ) throws -> RunEnd {
        while count + 258 <= capacity {
            let symbol = try decode(literals)
            if symbol < 256 {
                base[count] = UInt8(truncatingIfNeeded: symbol)
                count += 1
                continue
            }
            if symbol == 256 { return .endOfBlock }
            let (length, distance) = try match(symbol, distances: distances)
            try InflateOutput.check(distance: distance, count: count, streamStart: streamStart)
            InflateOutput.copyBack(base, count: &count, distance: distance, length: length)
        }
        return .outOfRoom
    }
}
