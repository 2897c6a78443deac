import SightlineCore

/// The LZ4 block format (no frame): what the trace store compresses its columns with.
///
/// A private copy, named apart from the storage layer's shared codec so the two never clash: any LZ4 block codec
/// reads what this one writes, so it can be swapped for the shared one without changing the part format.
///
/// A block is a run of sequences; each is a token byte (high nibble: literal count, low nibble: match length − 4,
/// 15 meaning "more bytes follow, 255 each, until one is smaller"), the literals, a two-byte little-endian offset back
/// into the output, and the extra match-length bytes. The last sequence has literals only. As the format requires, the
/// last 5 bytes are literals and no match starts within the last 12 bytes.
///
/// The compressor is greedy with one hash table of 4-byte prefixes: fast, a fair ratio on columns of ids and varints.
/// The decompressor checks every length and offset, so damaged input throws rather than traps.
enum ColumnLZ4 {
    private static let hashBits = 13
    private static let minMatch = 4
    private static let lastLiterals = 5
    private static let matchFindLimit = 12

    /// Compresses `input`, appending the block to `output`.
    static func compress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        let count = input.count
        output.reserveCapacity(output.count + count + count / 255 + 16)
        var anchor = 0
        if count > matchFindLimit {
            var table = [Int32](repeating: -1, count: 1 << hashBits)
            let limit = count - matchFindLimit
            let matchEnd = count - lastLiterals
            var position = 0
            var misses = 0
            table.withUnsafeMutableBufferPointer { table in
                while position < limit {
                    let sequence = input.loadUnaligned(fromByteOffset: position, as: UInt32.self)
                    let hash = Int((sequence &* 2_654_435_761) >> UInt32(32 - hashBits))
                    let candidate = Int(table[hash])
                    table[hash] = Int32(position)
                    if candidate >= 0, position - candidate <= 65_535,
                        input.loadUnaligned(fromByteOffset: candidate, as: UInt32.self) == sequence
                    {
                        var length = minMatch
                        while position + length < matchEnd, input[candidate + length] == input[position + length] { length += 1 }
                        emit(
                            literals: UnsafeRawBufferPointer(rebasing: input[anchor..<position]), offset: position - candidate,
                            matchLength: length, into: &output)
                        position += length
                        anchor = position
                        misses = 0
                    } else {
                        misses += 1
                        position += 1 + (misses >> 6)
                    }
                }
            }
        }
        emit(literals: UnsafeRawBufferPointer(rebasing: input[anchor..<count]), offset: 0, matchLength: 0, into: &output)
    }

    /// Compresses a byte array.
    static func compress(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        input.withUnsafeBytes { compress($0, into: &output) }
        return output
    }

    /// Appends one sequence; `matchLength` 0 writes the final literals-only sequence.
    private static func emit(literals: UnsafeRawBufferPointer, offset: Int, matchLength: Int, into output: inout [UInt8]) {
        let literalCount = literals.count
        let matchCode = matchLength == 0 ? 0 : matchLength - minMatch
        output.append(UInt8(min(literalCount, 15) << 4 | min(matchCode, 15)))
        if literalCount >= 15 { appendLength(literalCount - 15, to: &output) }
        output.append(contentsOf: literals)
        guard matchLength > 0 else { return }
        output.append(UInt8(truncatingIfNeeded: offset))
        output.append(UInt8(truncatingIfNeeded: offset >> 8))
        if matchCode >= 15 { appendLength(matchCode - 15, to: &output) }
    }

    private static func appendLength(_ length: Int, to output: inout [UInt8]) {
        var rest = length
        while rest >= 255 {
            output.append(255)
            rest -= 255
        }
        output.append(UInt8(rest))
    }

    /// Decompresses a block that must expand to exactly `size` bytes.
    /// - Throws: `dataCorrupted` naming the problem when the block is damaged or expands to another size.
    static func decompress(_ input: UnsafeRawBufferPointer, size: Int) throws -> [UInt8] {
        guard size >= 0 else { throw SightlineError(.dataCorrupted, "LZ4 block: negative size \(size)") }
        var failure: String?
        let output = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var inPosition = 0
            var outPosition = 0
            let count = input.count
            func readLength(_ base: Int) -> Int? {
                var length = base
                while true {
                    guard inPosition < count else { return nil }
                    let byte = input[inPosition]
                    inPosition += 1
                    length += Int(byte)
                    if byte != 255 { return length }
                }
            }
            decode: while inPosition < count {
                let token = input[inPosition]
                inPosition += 1
                var literals = Int(token >> 4)
                if literals == 15 {
                    guard let length = readLength(15) else { failure = "literal length cut"; break decode }
                    literals = length
                }
                guard literals <= count - inPosition, literals <= size - outPosition else { failure = "literals overrun"; break decode }
                if literals > 0, let destination = buffer.baseAddress, let source = input.baseAddress {
                    (destination + outPosition).initialize(
                        from: source.advanced(by: inPosition).assumingMemoryBound(to: UInt8.self), count: literals)
                }
                inPosition += literals
                outPosition += literals
                if inPosition == count { break decode }
                guard count - inPosition >= 2 else { failure = "offset cut"; break decode }
                let offset = Int(input[inPosition]) | Int(input[inPosition + 1]) << 8
                inPosition += 2
                guard offset > 0, offset <= outPosition else { failure = "offset \(offset) outside the output"; break decode }
                var length = Int(token & 15)
                if length == 15 {
                    guard let extended = readLength(15) else { failure = "match length cut"; break decode }
                    length = extended
                }
                length += minMatch
                guard length <= size - outPosition else { failure = "match overruns the output"; break decode }
                var from = outPosition - offset
                if offset >= length, let base = buffer.baseAddress {
                    // Source and destination do not overlap: one bulk copy.
                    (base + outPosition).initialize(from: base + from, count: length)
                    outPosition += length
                } else {
                    // An overlapping match repeats the last `offset` bytes: copy forward byte by byte.
                    for _ in 0..<length {
                        buffer[outPosition] = buffer[from]
                        outPosition += 1
                        from += 1
                    }
                }
            }
            if failure == nil, outPosition != size { failure = "expands to \(outPosition) bytes, not \(size)" }
            // Zero what was not written so the array is always fully initialized, even on failure.
            if outPosition < size, let base = buffer.baseAddress { (base + outPosition).initialize(repeating: 0, count: size - outPosition) }
            initialized = size
        }
        if let failure { throw SightlineError(.dataCorrupted, "LZ4 block: \(failure)") }
        return output
    }
}
