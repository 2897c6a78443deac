import SightlineCore

/// The LZ4 block format (no frame header, no checksums), written in Swift: what the embedded stores compress their
/// columns with.
///
/// A block is a list of sequences. Each sequence is a token byte (high nibble: literal count, low nibble: match length
/// minus 4; 15 means "more length bytes follow, each adding up to 255"), the literals, a 2-byte little-endian offset
/// back into the output, then the extra match-length bytes. The last sequence has literals only. As the reference
/// implementation requires, the last 5 bytes are always literals and no match starts within the last 12 bytes, so
/// the output decodes with the `lz4` tool's block decoder, and its blocks decode here.
///
/// The compressor is a greedy single-pass matcher over a hash table of 4-byte sequences (the reference "fast" mode).
/// The decompressor needs the decompressed size (the stores keep it next to the block) and checks every length and
/// offset, so damaged input throws `dataCorrupted` and never reads or writes out of bounds.
package enum LZ4Block {
    private static let minMatch = 4
    /// No match may start in the last 12 bytes of the input.
    private static let matchFindLimit = 12
    /// The last 5 bytes are always literals.
    private static let lastLiterals = 5
    private static let maxOffset = 65535

    /// The largest output ``compress(_:)`` can produce for `count` input bytes.
    package static func maxCompressedSize(_ count: Int) -> Int { count + count / 255 + 16 }

    /// Compresses `input` into one LZ4 block.
    package static func compress(_ input: [UInt8]) -> [UInt8] {
        input.withUnsafeBytes { compress($0) }
    }

    /// Compresses `input` into one LZ4 block.
    package static func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        let count = input.count
        let capacity = maxCompressedSize(count)
        return [UInt8](unsafeUninitializedCapacity: capacity) { output, written in
            written = compress(input, into: UnsafeMutableRawBufferPointer(output))
        }
    }

    /// Compresses into `output`, which has room for ``maxCompressedSize(_:)`` bytes; returns the bytes written.
    private static func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        let count = input.count
        guard let src = input.baseAddress, let dst = output.baseAddress else {
            // Empty input: one token saying "no literals".
            if let dst = output.baseAddress, output.count > 0 { dst.storeBytes(of: 0, as: UInt8.self); return 1 }
            return 0
        }
        var out = 0
        var anchor = 0
        if count > matchFindLimit {
            // Smaller inputs get smaller tables: allocating and clearing 256 KiB for a 40-byte column is the cost.
            var hashLog = 10
            while hashLog < 16 && (1 << hashLog) < count { hashLog += 1 }
            let shift = UInt32(32 - hashLog)
            let table = UnsafeMutablePointer<Int32>.allocate(capacity: 1 << hashLog)
            defer { table.deallocate() }
            table.initialize(repeating: -1, count: 1 << hashLog)
            let limit = count - matchFindLimit
            var position = 0
            @inline(__always) func read32(_ at: Int) -> UInt32 { src.loadUnaligned(fromByteOffset: at, as: UInt32.self) }
            @inline(__always) func hash(_ value: UInt32) -> Int { Int((value &* 2_654_435_761) >> shift) }
            var step = 1 << 6  // skip faster through incompressible data, as the reference does
            while position <= limit {
                let sequence = read32(position)
                let slot = hash(sequence)
                let candidate = Int(table[slot])
                table[slot] = Int32(position)
                guard candidate >= 0, position - candidate <= maxOffset, read32(candidate) == sequence else {
                    position += step >> 6
                    step += 1
                    continue
                }
                step = 1 << 6
                // Extend the match backwards over literals, then forwards up to the last-literals limit.
                var start = position
                var matchStart = candidate
                while start > anchor && matchStart > 0 && src.load(fromByteOffset: start - 1, as: UInt8.self) == src.load(fromByteOffset: matchStart - 1, as: UInt8.self) {
                    start -= 1
                    matchStart -= 1
                }
                let matched = position + minMatch
                let end = matched + commonPrefixLength(src + matched, src + candidate + minMatch, count: count - lastLiterals - matched)
                out = writeSequence(
                    dst, at: out, literals: src + anchor, literalCount: start - anchor, offset: start - matchStart,
                    matchLength: end - start
                )
                anchor = end
                position = end
                // Index a position inside the match so nearby repeats are found.
                if end - 2 > 0 && end - 2 <= limit { table[hash(read32(end - 2))] = Int32(end - 2) }
            }
        }
        // The last literals.
        out = writeSequence(dst, at: out, literals: src + anchor, literalCount: count - anchor, offset: 0, matchLength: 0)
        return out
    }

    /// Writes one sequence; `matchLength` 0 means the final literals-only sequence.
    @inline(__always)
    private static func writeSequence(
        _ dst: UnsafeMutableRawPointer, at start: Int, literals: UnsafeRawPointer, literalCount: Int, offset: Int, matchLength: Int
    ) -> Int {
        var out = start
        let tokenAt = out
        out += 1
        var token: UInt8 = 0
        if literalCount >= 15 {
            token = 0xF0
            var rest = literalCount - 15
            while rest >= 255 {
                dst.storeBytes(of: 255, toByteOffset: out, as: UInt8.self)
                out += 1
                rest -= 255
            }
            dst.storeBytes(of: UInt8(rest), toByteOffset: out, as: UInt8.self)
            out += 1
        } else {
            token = UInt8(literalCount) << 4
        }
        (dst + out).copyMemory(from: literals, byteCount: literalCount)
        out += literalCount
        if matchLength > 0 {
            dst.storeBytes(of: UInt8(offset & 0xFF), toByteOffset: out, as: UInt8.self)
            dst.storeBytes(of: UInt8(offset >> 8), toByteOffset: out + 1, as: UInt8.self)
            out += 2
            let extra = matchLength - minMatch
            if extra >= 15 {
                token |= 0x0F
                var rest = extra - 15
                while rest >= 255 {
                    dst.storeBytes(of: 255, toByteOffset: out, as: UInt8.self)
                    out += 1
                    rest -= 255
                }
                dst.storeBytes(of: UInt8(rest), toByteOffset: out, as: UInt8.self)
                out += 1
            } else {
                token |= UInt8(extra)
            }
        }
        dst.storeBytes(of: token, toByteOffset: tokenAt, as: UInt8.self)
        return out
    }

    /// Decompresses one LZ4 block that holds exactly `decompressedSize` bytes.
    /// - Throws: `dataCorrupted` when the block is cut, refers before the start of the output, overflows
    ///   `decompressedSize`, or ends short of it.
    package static func decompress(_ input: [UInt8], decompressedSize: Int) throws -> [UInt8] {
        try input.withUnsafeBytes { try decompress($0, decompressedSize: decompressedSize) }
    }

    /// Decompresses one LZ4 block that holds exactly `decompressedSize` bytes.
    /// - Throws: `dataCorrupted` as ``decompress(_:decompressedSize:)-([UInt8],_)`` does.
    package static func decompress(_ input: UnsafeRawBufferPointer, decompressedSize: Int) throws -> [UInt8] {
        guard decompressedSize >= 0 else { throw corrupted("negative decompressed size \(decompressedSize)") }
        var failure: SightlineError?
        let result = [UInt8](unsafeUninitializedCapacity: decompressedSize) { output, written in
            do {
                written = try decompress(input, into: output)
            } catch {
                failure = error as? SightlineError ?? corrupted("\(error)")
                written = 0
            }
        }
        if let failure { throw failure }
        return result
    }

    private static func corrupted(_ what: String) -> SightlineError {
        SightlineError(.dataCorrupted, "LZ4 block is damaged: \(what)")
    }

    private static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<UInt8>) throws -> Int {
        let inCount = input.count
        let outCount = output.count
        guard inCount > 0 else { throw corrupted("empty input") }
        guard let src = input.baseAddress else { throw corrupted("empty input") }
        let dst = output.baseAddress
        var inPos = 0
        var outPos = 0
        @inline(__always) func readByte() throws -> Int {
            guard inPos < inCount else { throw corrupted("cut at input byte \(inPos)") }
            defer { inPos += 1 }
            return Int(src.load(fromByteOffset: inPos, as: UInt8.self))
        }
        @inline(__always) func readLength(_ base: Int) throws -> Int {
            var length = base
            while true {
                let byte = try readByte()
                length += byte
                guard length <= outCount + 15 else { throw corrupted("length \(length) exceeds the output size \(outCount)") }
                if byte != 255 { return length }
            }
        }
        while true {
            let token = try readByte()
            var literalCount = token >> 4
            if literalCount == 15 { literalCount = try readLength(15) }
            guard literalCount <= inCount - inPos else { throw corrupted("\(literalCount) literals at input byte \(inPos) run past the end") }
            guard literalCount <= outCount - outPos else { throw corrupted("\(literalCount) literals overflow the output at \(outPos)") }
            if literalCount > 0, let dst {
                UnsafeMutableRawPointer(dst + outPos).copyMemory(from: src + inPos, byteCount: literalCount)
            }
            inPos += literalCount
            outPos += literalCount
            if inPos == inCount { break }  // the last sequence has no match
            let offset = try readByte() | (try readByte() << 8)
            guard offset > 0, offset <= outPos else { throw corrupted("match offset \(offset) at output byte \(outPos)") }
            var matchLength = token & 0x0F
            if matchLength == 15 { matchLength = try readLength(15) }
            matchLength += minMatch
            guard matchLength <= outCount - outPos else { throw corrupted("match of \(matchLength) overflows the output at \(outPos)") }
            guard let dst else { throw corrupted("match in an empty output") }
            // Copy forward byte by byte when the match overlaps its own output (a run), else in one move.
            if offset >= matchLength {
                UnsafeMutableRawPointer(dst + outPos).copyMemory(from: dst + outPos - offset, byteCount: matchLength)
            } else {
                var from = outPos - offset
                for index in outPos..<(outPos + matchLength) {
                    dst[index] = dst[from]
                    from += 1
                }
            }
            outPos += matchLength
        }
        guard outPos == outCount else { throw corrupted("decoded \(outPos) bytes, expected \(outCount)") }
        return outPos
    }
}
