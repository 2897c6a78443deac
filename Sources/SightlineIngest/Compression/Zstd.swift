import SightlineCore

/// Zstandard decompression (RFC 8878), for `Content-Encoding: zstd` bodies: the Datadog Agent compresses its metric
/// payloads with it by default, and OpenTelemetry Collectors and Vector offer it.
///
/// Every frame of the input is decoded in turn (skippable frames are skipped) and the outputs are concatenated. Raw,
/// RLE and compressed blocks; literals raw, RLE or Huffman-coded (one or four streams, tables described by direct
/// weights or FSE-coded ones, and "treeless" blocks reusing the previous table); sequences with predefined, RLE,
/// FSE-described or repeated tables, and the three repeat offsets. A frame's content size and checksum (XXH64) are
/// checked when present. Frames that need a dictionary are refused.
package enum Zstd {
    /// The frames of `input`, decompressed and concatenated.
    /// - Throws: `tooLarge` once the output would pass `maxOutput`; `invalidArgument` naming what is malformed.
    package static func decompress(_ input: UnsafeRawBufferPointer, maxOutput: Int) throws -> [UInt8] {
        guard !input.isEmpty else { throw corrupt("empty input") }
        let output = ZstdOutput(limit: maxOutput)
        var position = 0
        while position < input.count {
            guard input.count - position >= 4 else { throw corrupt("\(input.count - position) bytes after the last frame") }
            let magic = UInt32(littleEndian: input, at: position)
            if magic == 0xFD2F_B528 {
                var frame = FrameDecoder(input: input, position: position + 4)
                try frame.decode(into: output)
                position = frame.position
            } else if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
                guard input.count - position >= 8 else { throw corrupt("truncated skippable frame header") }
                let size = Int(UInt32(littleEndian: input, at: position + 4))
                guard input.count - position - 8 >= size else { throw corrupt("skippable frame of \(size) bytes runs past the end") }
                position += 8 + size
            } else {
                throw corrupt("unknown frame magic number 0x\(String(magic, radix: 16)) at byte \(position)")
            }
        }
        return output.bytes()
    }

    static func corrupt(_ detail: String) -> SightlineError {
        SightlineError(.invalidArgument, "invalid zstd data: \(detail)")
    }

    /// The largest block a frame holds, before and after decompression.
    static let maxBlockSize = 128 * 1024
}

// MARK: - Frames and blocks

/// One frame: its header, its blocks and its checksum, with what its blocks share (repeat offsets, the last tables).
private struct FrameDecoder {
    let input: UnsafeRawBufferPointer
    var position: Int

    var repeatOffsets = [1, 4, 8]
    var huffman: ZstdHuffmanTable?
    var literalLengths: ZstdFSETable?
    var offsets: ZstdFSETable?
    var matchLengths: ZstdFSETable?

    init(input: UnsafeRawBufferPointer, position: Int) {
        self.input = input
        self.position = position
    }

    mutating func decode(into output: ZstdOutput) throws {
        let frameStart = output.count
        let descriptor = try byte()
        let contentSizeFlag = Int(descriptor >> 6)
        let singleSegment = descriptor & 0x20 != 0
        guard descriptor & 0x08 == 0 else { throw Zstd.corrupt("the frame header's reserved bit is set") }
        let hasChecksum = descriptor & 0x04 != 0
        if !singleSegment { _ = try byte() }  // the window descriptor: the whole output stays addressable here
        let dictionaryID = try littleEndian(bytes: [0, 1, 2, 4][Int(descriptor & 3)])
        guard dictionaryID == 0 else { throw Zstd.corrupt("the frame needs dictionary \(dictionaryID), which this server does not have") }
        let contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][contentSizeFlag]
        var contentSize: UInt64?
        if contentSizeBytes > 0 {
            contentSize = try littleEndian(bytes: contentSizeBytes) + (contentSizeBytes == 2 ? 256 : 0)
        }
        if let contentSize, contentSize > UInt64(output.limit - frameStart) {
            throw SightlineError(.tooLarge, "zstd frame declares \(contentSize) bytes, more than the limit of \(output.limit)")
        }
        if let contentSize { output.reserve(Int(contentSize)) }

        var isLast = false
        while !isLast {
            let header = try littleEndian(bytes: 3)
            isLast = header & 1 != 0
            let size = Int(header >> 3)
            switch (header >> 1) & 3 {
            case 0:
                guard input.count - position >= size else { throw Zstd.corrupt("raw block of \(size) bytes runs past the end") }
                try output.append(UnsafeRawBufferPointer(rebasing: input[position..<(position + size)]))
                position += size
            case 1:
                let value = try byte()
                try output.append(repeating: value, count: size)
            case 2:
                guard size <= Zstd.maxBlockSize else { throw Zstd.corrupt("compressed block of \(size) bytes is larger than 128 KiB") }
                guard input.count - position >= size else { throw Zstd.corrupt("compressed block of \(size) bytes runs past the end") }
                let block = UnsafeRawBufferPointer(rebasing: input[position..<(position + size)])
                position += size
                try decodeCompressedBlock(block, into: output, frameStart: frameStart)
            default:
                throw Zstd.corrupt("reserved block type at byte \(position - 3)")
            }
        }
        if let contentSize, contentSize != UInt64(output.count - frameStart) {
            throw Zstd.corrupt("the frame declares \(contentSize) bytes but holds \(output.count - frameStart)")
        }
        if hasChecksum {
            let stored = UInt32(try littleEndian(bytes: 4))
            // The low 32 bits of the content's xxHash64.
            let computed = UInt32(truncatingIfNeeded: XXHash64.hash(output.bytes(from: frameStart)))
            guard stored == computed else { throw Zstd.corrupt("content checksum mismatch") }
        }
    }

    private mutating func byte() throws -> UInt8 {
        guard position < input.count else { throw Zstd.corrupt("truncated frame") }
        defer { position += 1 }
        return input[position]
    }

    private mutating func littleEndian(bytes count: Int) throws -> UInt64 {
        guard input.count - position >= count else { throw Zstd.corrupt("truncated frame") }
        var value: UInt64 = 0
        for index in stride(from: count - 1, through: 0, by: -1) { value = value << 8 | UInt64(input[position + index]) }
        position += count
        return value
    }

    // MARK: Compressed blocks

    private mutating func decodeCompressedBlock(_ block: UnsafeRawBufferPointer, into output: ZstdOutput, frameStart: Int) throws {
        var cursor = 0
        let literals = try readLiterals(block, cursor: &cursor)
        guard cursor < block.count else { throw Zstd.corrupt("compressed block without a sequences section") }
        let first = Int(block[cursor])
        cursor += 1
        var count = first
        if first >= 128 {
            guard cursor < block.count else { throw Zstd.corrupt("truncated number of sequences") }
            if first < 255 {
                count = (first - 128) << 8 + Int(block[cursor])
                cursor += 1
            } else {
                guard cursor + 1 < block.count else { throw Zstd.corrupt("truncated number of sequences") }
                count = Int(block[cursor]) + Int(block[cursor + 1]) << 8 + 0x7F00
                cursor += 2
            }
        }
        guard count > 0 else {
            guard cursor == block.count else { throw Zstd.corrupt("\(block.count - cursor) bytes after a block without sequences") }
            try literals.withUnsafeBytes { try output.append($0) }
            return
        }
        guard cursor < block.count else { throw Zstd.corrupt("truncated symbol compression modes") }
        let modes = block[cursor]
        cursor += 1
        guard modes & 3 == 0 else { throw Zstd.corrupt("the symbol compression modes' reserved bits are set") }
        let literalLengths = try table(.literalLengths, mode: modes >> 6, block, &cursor, previous: self.literalLengths)
        let offsets = try table(.offsets, mode: (modes >> 4) & 3, block, &cursor, previous: self.offsets)
        let matchLengths = try table(.matchLengths, mode: (modes >> 2) & 3, block, &cursor, previous: self.matchLengths)
        (self.literalLengths, self.offsets, self.matchLengths) = (literalLengths, offsets, matchLengths)

        var bits = try BackwardBits(UnsafeRawBufferPointer(rebasing: block[cursor...]), what: "sequences")
        var literalState = Int(bits.read(literalLengths.accuracyLog))
        var offsetState = Int(bits.read(offsets.accuracyLog))
        var matchState = Int(bits.read(matchLengths.accuracyLog))
        var literalCursor = 0
        let (matchBase, matchBits) = (SequenceCodes.matchLengthBase, SequenceCodes.matchLengthBits)
        let (literalBase, literalBits) = (SequenceCodes.literalLengthBase, SequenceCodes.literalLengthBits)
        for index in 0..<count {
            let offsetCode = Int(offsets.symbol(offsetState))
            let matchCode = Int(matchLengths.symbol(matchState))
            let literalCode = Int(literalLengths.symbol(literalState))
            guard offsetCode <= 31 else { throw Zstd.corrupt("offset code \(offsetCode) is larger than 31") }
            let offsetValue = 1 << offsetCode + Int(bits.read(offsetCode))
            let matchLength = matchBase[matchCode] + Int(bits.read(matchBits[matchCode]))
            let literalLength = literalBase[literalCode] + Int(bits.read(literalBits[literalCode]))
            if index < count - 1 {
                literalState = literalLengths.nextState(literalState, &bits)
                matchState = matchLengths.nextState(matchState, &bits)
                offsetState = offsets.nextState(offsetState, &bits)
            }
            guard bits.position >= 0 else { throw Zstd.corrupt("the sequences bitstream ends before sequence \(index)") }

            guard literalLength <= literals.count - literalCursor else {
                throw Zstd.corrupt("sequence \(index) takes \(literalLength) literals, only \(literals.count - literalCursor) are left")
            }
            try literals.withUnsafeBytes { try output.append(UnsafeRawBufferPointer(rebasing: $0[literalCursor..<(literalCursor + literalLength)])) }
            literalCursor += literalLength

            let offset = try resolveOffset(offsetValue, literalLength: literalLength)
            guard offset <= output.count - frameStart else {
                throw Zstd.corrupt("sequence \(index) refers \(offset) bytes back, only \(output.count - frameStart) are decoded")
            }
            try output.copyMatch(offset: offset, length: matchLength)
        }
        guard bits.position == 0 else { throw Zstd.corrupt("\(bits.position) bits left unread in the sequences bitstream") }
        try literals.withUnsafeBytes { try output.append(UnsafeRawBufferPointer(rebasing: $0[literalCursor...])) }
    }

    /// The offset an offset value names, updating the repeat offsets as RFC 8878 §3.1.1.5 describes: values above 3
    /// are new offsets (value − 3); 1…3 name a repeat offset, shifted by one when the sequence has no literals.
    private mutating func resolveOffset(_ value: Int, literalLength: Int) throws -> Int {
        guard value <= 3 else {
            let offset = value - 3
            repeatOffsets = [offset, repeatOffsets[0], repeatOffsets[1]]
            return offset
        }
        let index = value - 1 + (literalLength == 0 ? 1 : 0)
        if index == 0 { return repeatOffsets[0] }
        let offset = index == 3 ? repeatOffsets[0] - 1 : repeatOffsets[index]
        guard offset > 0 else { throw Zstd.corrupt("a repeat offset of 0") }
        if index == 1 {
            repeatOffsets[1] = repeatOffsets[0]
        } else {
            repeatOffsets[2] = repeatOffsets[1]
            repeatOffsets[1] = repeatOffsets[0]
        }
        repeatOffsets[0] = offset
        return offset
    }

    private func table(_ kind: SequenceCodes.Kind, mode: UInt8, _ block: UnsafeRawBufferPointer, _ cursor: inout Int, previous: ZstdFSETable?) throws -> ZstdFSETable {
        switch mode {
        case 0:
            return kind.predefined
        case 1:
            guard cursor < block.count else { throw Zstd.corrupt("truncated RLE \(kind) code") }
            let symbol = block[cursor]
            cursor += 1
            guard Int(symbol) <= kind.maxSymbol else { throw Zstd.corrupt("RLE \(kind) code \(symbol) is larger than \(kind.maxSymbol)") }
            return ZstdFSETable(rle: symbol)
        case 2:
            var reader = ForwardBits(UnsafeRawBufferPointer(rebasing: block[cursor...]))
            let table = try ZstdFSETable.read(&reader, maxAccuracyLog: kind.maxAccuracyLog, maxSymbol: kind.maxSymbol, what: "\(kind)")
            cursor += reader.bytesUsed
            return table
        default:
            guard let previous else { throw Zstd.corrupt("the \(kind) table repeats a table no earlier block had") }
            return previous
        }
    }

    // MARK: Literals

    private mutating func readLiterals(_ block: UnsafeRawBufferPointer, cursor: inout Int) throws -> [UInt8] {
        guard !block.isEmpty else { throw Zstd.corrupt("empty compressed block") }
        let first = Int(block[0])
        let type = first & 3
        let sizeFormat = (first >> 2) & 3
        func header(_ bytes: Int) throws -> Int {
            guard block.count >= bytes else { throw Zstd.corrupt("truncated literals section header") }
            var value = 0
            for index in stride(from: bytes - 1, through: 0, by: -1) { value = value << 8 | Int(block[index]) }
            return value
        }
        if type < 2 {
            let (headerSize, size): (Int, Int) =
                switch sizeFormat {
                case 0, 2: (1, first >> 3)
                case 1: (2, try header(2) >> 4)
                default: (3, try header(3) >> 4)
                }
            let stored = type == 0 ? size : 1
            guard block.count - headerSize >= stored else { throw Zstd.corrupt("literals of \(stored) bytes run past the block") }
            cursor = headerSize + stored
            if type == 0 { return Array(block[headerSize..<(headerSize + size)]) }
            return [UInt8](repeating: block[headerSize], count: size)
        }
        let (headerSize, sizeBits, streams) = [(3, 10, 1), (3, 10, 4), (4, 14, 4), (5, 18, 4)][sizeFormat]
        let value = try header(headerSize)
        let mask = 1 << sizeBits - 1
        let regenerated = (value >> 4) & mask
        let compressed = (value >> (4 + sizeBits)) & mask
        guard regenerated <= Zstd.maxBlockSize else { throw Zstd.corrupt("literals of \(regenerated) bytes are larger than 128 KiB") }
        guard block.count - headerSize >= compressed else { throw Zstd.corrupt("compressed literals of \(compressed) bytes run past the block") }
        var data = UnsafeRawBufferPointer(rebasing: block[headerSize..<(headerSize + compressed)])
        cursor = headerSize + compressed
        if type == 2 {
            let (table, used) = try ZstdHuffmanTable.read(data)
            huffman = table
            data = UnsafeRawBufferPointer(rebasing: data[used...])
        }
        guard let huffman else { throw Zstd.corrupt("treeless literals without an earlier Huffman table") }
        var literals: [UInt8] = []
        literals.reserveCapacity(regenerated)
        if streams == 1 {
            try huffman.decode(data, count: regenerated, into: &literals)
            return literals
        }
        guard data.count >= 6 else { throw Zstd.corrupt("truncated jump table of four Huffman streams") }
        let sizes = (0..<3).map { Int(data[2 * $0]) | Int(data[2 * $0 + 1]) << 8 }
        guard sizes.reduce(0, +) <= data.count - 6 else { throw Zstd.corrupt("the Huffman streams' sizes pass the literals section") }
        let segment = (regenerated + 3) / 4
        guard regenerated >= 3 * segment else { throw Zstd.corrupt("\(regenerated) literals cannot be split into four streams") }
        var start = 6
        for index in 0..<4 {
            let size = index < 3 ? sizes[index] : data.count - start
            try huffman.decode(
                UnsafeRawBufferPointer(rebasing: data[start..<(start + size)]), count: index < 3 ? segment : regenerated - 3 * segment, into: &literals)
            start += size
        }
        return literals
    }
}

/// The decompressed bytes of every frame, in memory of their own so that a match copies from earlier output into the
/// end without zero-filling first; at most `limit` bytes.
private final class ZstdOutput {
    private var storage: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int
    let limit: Int

    init(limit: Int) {
        self.limit = limit
        capacity = 64 * 1024
        storage = .allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }

    /// Room for `extra` more bytes (and no more than the limit allows: `tooLarge` past it).
    @inline(__always)
    private func grow(by extra: Int) throws {
        guard extra <= limit - count else {
            throw SightlineError(.tooLarge, "zstd data decompresses to more than the limit of \(limit) bytes")
        }
        if count + extra > capacity { reserve(extra) }
    }

    /// Makes room for `extra` bytes beyond the current count.
    func reserve(_ extra: Int) {
        let needed = count + Swift.min(extra, limit - count)
        guard needed > capacity else { return }
        let newCapacity = Swift.max(needed, capacity * 2)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: storage, count: count)
        storage.deallocate()
        storage = grown
        capacity = newCapacity
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        try grow(by: bytes.count)
        if let base = bytes.baseAddress { (storage + count).update(from: base.assumingMemoryBound(to: UInt8.self), count: bytes.count) }
        count += bytes.count
    }

    func append(repeating value: UInt8, count extra: Int) throws {
        try grow(by: extra)
        (storage + count).initialize(repeating: value, count: extra)
        count += extra
    }

    /// Appends `length` bytes starting `offset` bytes back; an overlapping match repeats the last `offset` bytes.
    @inline(__always)
    func copyMatch(offset: Int, length: Int) throws {
        try grow(by: length)
        let from = storage + (count - offset)
        let to = storage + count
        if offset >= length {
            to.update(from: from, count: length)
        } else {
            for step in 0..<length { to[step] = from[step] }
        }
        count += length
    }

    /// The bytes from `start` on, valid until the next append.
    func bytes(from start: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: storage + start, count: count - start)
    }

    /// A copy of every byte.
    func bytes() -> [UInt8] {
        Array(bytes(from: 0))
    }
}

extension UInt32 {
    fileprivate init(littleEndian buffer: UnsafeRawBufferPointer, at offset: Int) {
        self = UInt32(buffer[offset]) | UInt32(buffer[offset + 1]) << 8 | UInt32(buffer[offset + 2]) << 16 | UInt32(buffer[offset + 3]) << 24
    }
}

// MARK: - Bitstreams

/// A bitstream read from its end toward its start, as Huffman streams and sequences are: the last byte's highest set
/// bit marks the end, and the bits below it are read first, highest first. Reads past the start give zeros and take
/// ``position`` below zero, which the callers check.
private struct BackwardBits {
    let bytes: UnsafeRawBufferPointer
    /// How many bits are left unread.
    var position: Int

    init(_ bytes: UnsafeRawBufferPointer, what: String) throws {
        guard let last = bytes.last, last != 0 else { throw Zstd.corrupt("the \(what) bitstream has no end mark") }
        self.bytes = bytes
        position = bytes.count * 8 - last.leadingZeroBitCount - 1
    }

    /// The next `count` (at most 32) bits, without reading them.
    @inline(__always)
    func peek(_ count: Int) -> UInt64 {
        let high = position
        let low = high - count
        // Fast path: the eight bytes ending with the byte that holds bit `high - 1` hold all `count` bits.
        let end = (high + 7) >> 3
        if end >= 8 && low >= 0 && end <= bytes.count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self))
            return (word >> UInt64(low - (end - 8) * 8)) & ((1 << UInt64(count)) - 1)
        }
        guard count > 0, high > 0 else { return 0 }
        let from = Swift.max(low, 0)
        var word: UInt64 = 0
        for index in stride(from: (high - 1) >> 3, through: from >> 3, by: -1) { word = word << 8 | UInt64(bytes[index]) }
        word >>= UInt64(from & 7)
        word &= (1 << UInt64(high - from)) - 1
        return word << UInt64(from - low)
    }

    @inline(__always)
    mutating func read(_ count: Int) -> UInt64 {
        let value = peek(count)
        position -= count
        return value
    }
}

/// A bitstream read from its start, lowest bits first, as FSE table descriptions are.
private struct ForwardBits {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var bytesUsed: Int { (position + 7) / 8 }

    func peek(_ count: Int) -> Int {
        var value = 0
        for bit in 0..<count {
            let at = position + bit
            guard at >> 3 < bytes.count else { break }
            value |= Int((bytes[at >> 3] >> UInt8(at & 7)) & 1) << bit
        }
        return value
    }

    mutating func skip(_ count: Int, what: String) throws {
        position += count
        guard bytesUsed <= bytes.count else { throw Zstd.corrupt("truncated \(what) table description") }
    }
}

// MARK: - FSE

/// A finite-state-entropy decoding table: for each state, its symbol and how the next state is read.
private struct ZstdFSETable {
    /// One state: its symbol, and the next state is `baseline` plus the next `bits` bits.
    struct Entry {
        var symbol: UInt8
        var bits: UInt8
        var baseline: UInt16
    }

    var accuracyLog: Int
    var entries: [Entry]

    init(rle symbol: UInt8) {
        accuracyLog = 0
        entries = [Entry(symbol: symbol, bits: 0, baseline: 0)]
    }

    /// The table of a normalized distribution (`-1` for "less than one").
    init(distribution: [Int], accuracyLog: Int) {
        self.accuracyLog = accuracyLog
        let size = 1 << accuracyLog
        var symbols = [UInt8](repeating: 0, count: size)
        var highest = size - 1
        for (symbol, count) in distribution.enumerated() where count == -1 {
            symbols[highest] = UInt8(symbol)
            highest -= 1
        }
        let step = size >> 1 + size >> 3 + 3
        var spot = 0
        for (symbol, count) in distribution.enumerated() where count > 0 {
            for _ in 0..<count {
                symbols[spot] = UInt8(symbol)
                repeat { spot = (spot + step) & (size - 1) } while spot > highest
            }
        }
        var next = distribution.map { $0 == -1 ? 1 : $0 }
        entries = symbols.map { symbol in
            let nextState = next[Int(symbol)]
            next[Int(symbol)] += 1
            let bits = accuracyLog - (Int.bitWidth - 1 - nextState.leadingZeroBitCount)
            return Entry(symbol: symbol, bits: UInt8(bits), baseline: UInt16(nextState << bits - size))
        }
    }

    @inline(__always)
    func symbol(_ state: Int) -> UInt8 { entries[state].symbol }

    @inline(__always)
    func nextState(_ state: Int, _ bits: inout BackwardBits) -> Int {
        let entry = entries[state]
        return Int(entry.baseline) + Int(bits.read(Int(entry.bits)))
    }

    /// A table description (RFC 8878 §4.1.1): the accuracy log, then each symbol's normalized count in a variable
    /// number of bits, zero counts followed by 2-bit repeat flags.
    static func read(_ reader: inout ForwardBits, maxAccuracyLog: Int, maxSymbol: Int, what: String) throws -> ZstdFSETable {
        let accuracyLog = reader.peek(4) + 5
        try reader.skip(4, what: what)
        guard accuracyLog <= maxAccuracyLog else {
            throw Zstd.corrupt("the \(what) table's accuracy log \(accuracyLog) is larger than \(maxAccuracyLog)")
        }
        var remaining = 1 << accuracyLog + 1
        var threshold = 1 << accuracyLog
        var bitCount = accuracyLog + 1
        var distribution: [Int] = []
        while remaining > 1 {
            guard distribution.count <= maxSymbol else { throw Zstd.corrupt("the \(what) table describes more than \(maxSymbol + 1) symbols") }
            let largest = 2 * threshold - 1 - remaining
            var value = reader.peek(bitCount)
            if value & (threshold - 1) < largest {
                value &= threshold - 1
                try reader.skip(bitCount - 1, what: what)
            } else {
                value &= 2 * threshold - 1
                if value >= threshold { value -= largest }
                try reader.skip(bitCount, what: what)
            }
            let count = value - 1
            remaining -= abs(count)
            distribution.append(count)
            if count == 0 {
                var repeats = 3
                while repeats == 3 {
                    repeats = reader.peek(2)
                    try reader.skip(2, what: what)
                    distribution += repeatElement(0, count: repeats)
                }
                guard distribution.count <= maxSymbol + 1 else { throw Zstd.corrupt("the \(what) table describes more than \(maxSymbol + 1) symbols") }
            }
            while remaining < threshold && threshold > 1 {
                bitCount -= 1
                threshold >>= 1
            }
        }
        guard remaining == 1 else { throw Zstd.corrupt("the \(what) table's counts do not add up to \(1 << accuracyLog)") }
        return ZstdFSETable(distribution: distribution, accuracyLog: accuracyLog)
    }
}

/// The three codes of a sequence: their limits, predefined distributions, baselines and extra bits (RFC 8878 §3.1.1.3.2).
private enum SequenceCodes {
    enum Kind: CustomStringConvertible {
        case literalLengths, offsets, matchLengths

        var description: String {
            switch self {
            case .literalLengths: "literal lengths"
            case .offsets: "offsets"
            case .matchLengths: "match lengths"
            }
        }

        var maxSymbol: Int {
            switch self {
            case .literalLengths: 35
            case .offsets: 31
            case .matchLengths: 52
            }
        }

        var maxAccuracyLog: Int {
            switch self {
            case .literalLengths, .matchLengths: 9
            case .offsets: 8
            }
        }

        var predefined: ZstdFSETable {
            switch self {
            case .literalLengths: SequenceCodes.predefinedLiteralLengths
            case .offsets: SequenceCodes.predefinedOffsets
            case .matchLengths: SequenceCodes.predefinedMatchLengths
            }
        }
    }

    static let predefinedLiteralLengths = ZstdFSETable(
        distribution: [4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1],
        accuracyLog: 6)
    static let predefinedMatchLengths = ZstdFSETable(
        distribution: [
            1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
            1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1,
        ], accuracyLog: 6)
    static let predefinedOffsets = ZstdFSETable(
        distribution: [1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1], accuracyLog: 5)

    static let literalLengthBase: [Int] =
        Array(0...15) + [16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
    static let literalLengthBits: [Int] = Array(repeating: 0, count: 16) + [1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    static let matchLengthBase: [Int] =
        Array(3...34) + [35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051, 4099, 8195, 16387, 32771, 65539]
    static let matchLengthBits: [Int] = Array(repeating: 0, count: 32) + [1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
}

// MARK: - Huffman

/// A Huffman decoding table indexed by the next `maxBits` bits: each entry's symbol and code length.
private struct ZstdHuffmanTable {
    var maxBits: Int
    var symbols: [UInt8]
    var lengths: [UInt8]

    /// A Huffman tree description (RFC 8878 §4.2.1): weights given four bits each or FSE-coded, the last one implied.
    /// Returns the table and the bytes the description took.
    static func read(_ data: UnsafeRawBufferPointer) throws -> (ZstdHuffmanTable, Int) {
        guard let header = data.first else { throw Zstd.corrupt("missing Huffman tree description") }
        var weights: [UInt8] = []
        let used: Int
        if header >= 128 {
            let count = Int(header) - 127
            used = 1 + (count + 1) / 2
            guard data.count >= used else { throw Zstd.corrupt("truncated Huffman weights") }
            for index in 0..<count {
                let byte = data[1 + index / 2]
                weights.append(index % 2 == 0 ? byte >> 4 : byte & 15)
            }
        } else {
            used = 1 + Int(header)
            guard data.count >= used else { throw Zstd.corrupt("truncated FSE-coded Huffman weights") }
            let coded = UnsafeRawBufferPointer(rebasing: data[1..<used])
            var reader = ForwardBits(coded)
            let table = try ZstdFSETable.read(&reader, maxAccuracyLog: 6, maxSymbol: 255, what: "Huffman weights")
            var bits = try BackwardBits(UnsafeRawBufferPointer(rebasing: coded[reader.bytesUsed...]), what: "Huffman weights")
            var states = [Int(bits.read(table.accuracyLog)), Int(bits.read(table.accuracyLog))]
            // The two states take turns; once the stream is overread, the other state gives the last weight.
            var turn = 0
            while true {
                guard weights.count < 255 else { throw Zstd.corrupt("more than 255 Huffman weights") }
                weights.append(table.symbol(states[turn]))
                states[turn] = table.nextState(states[turn], &bits)
                if bits.position < 0 {
                    weights.append(table.symbol(states[1 - turn]))
                    break
                }
                turn = 1 - turn
            }
        }
        return (try ZstdHuffmanTable(weights: weights), used)
    }

    init(weights: [UInt8]) throws {
        var total = 0
        for weight in weights where weight > 0 {
            guard weight <= 11 else { throw Zstd.corrupt("Huffman weight \(weight) is larger than 11") }
            total += 1 << (weight - 1)
        }
        guard total > 0 else { throw Zstd.corrupt("Huffman weights are all zero") }
        maxBits = Int.bitWidth - total.leadingZeroBitCount
        let rest = 1 << maxBits - total
        guard maxBits <= 11, rest & (rest - 1) == 0 else { throw Zstd.corrupt("Huffman weights do not form a prefix code") }
        let all = weights + [UInt8(rest.trailingZeroBitCount + 1)]
        var start = [Int](repeating: 0, count: 13)
        for weight in all where weight > 0 { start[Int(weight) + 1] += 1 << (weight - 1) }
        for weight in 1...12 { start[weight] += start[weight - 1] }
        symbols = [UInt8](repeating: 0, count: 1 << maxBits)
        lengths = [UInt8](repeating: 0, count: 1 << maxBits)
        for (symbol, weight) in all.enumerated() where weight > 0 {
            let span = 1 << (weight - 1)
            let first = start[Int(weight)]
            for index in first..<(first + span) {
                symbols[index] = UInt8(symbol)
                lengths[index] = UInt8(maxBits + 1 - Int(weight))
            }
            start[Int(weight)] += span
        }
    }

    /// Appends `count` symbols decoded from one stream, which must end exactly at its start.
    func decode(_ stream: UnsafeRawBufferPointer, count: Int, into literals: inout [UInt8]) throws {
        var bits = try BackwardBits(stream, what: "Huffman")
        let maxBits = maxBits
        symbols.withUnsafeBufferPointer { symbols in
            lengths.withUnsafeBufferPointer { lengths in
                // `peek` masks to `maxBits` bits, so every index is inside the tables.
                for _ in 0..<count {
                    let index = Int(bits.peek(maxBits))
                    literals.append(symbols[index])
                    bits.position -= Int(lengths[index])
                }
            }
        }
        guard bits.position == 0 else { throw Zstd.corrupt("a Huffman stream does not end where its literals do") }
    }
}
