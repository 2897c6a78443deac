import SightlineCore

/// A block's `index` file decoded into flat arrays: what ``Block`` keeps in memory to answer matchers.
///
/// Series are numbered `0..<seriesCount` in label order (`Labels`' `<`). Postings stay varint-encoded in memory
/// and are decoded per query. Layout: see ``BlockIndexEncoder``.
struct BlockIndex: Sendable {
    /// Every distinct label name and value, sorted by UTF-8 bytes; refs index this array.
    let symbols: [String]
    /// Series `s`'s (name, value) refs are `labelRefs[2 * labelStart[s] ..< 2 * labelStart[s + 1]]`.
    private let labelStart: [UInt32]
    private let labelRefs: [UInt32]
    /// Series `s`'s chunks are `chunkStart[s] ..< chunkStart[s + 1]` in the chunk arrays.
    private let chunkStart: [UInt32]
    private let chunkOffsets: [UInt64]
    private let chunkLengths: [UInt32]
    private let chunkMinTimes: [Int64]
    private let chunkMaxTimes: [Int64]
    /// Label names (symbol refs, ascending) and where each one's values are in `valueRefs`/`postingsOffsets`.
    private let nameRefs: [UInt32]
    private let nameLookup: [String: Int]
    private let valueStart: [UInt32]
    private let valueRefs: [UInt32]
    private let postingsOffsets: [UInt32]
    /// The postings section payload.
    private let postings: [UInt8]
    /// The file the index was read from, for error messages.
    let path: String

    /// How many series the block holds.
    var seriesCount: Int { labelStart.count - 1 }
    /// How many chunks the block holds.
    var chunkCount: Int { chunkOffsets.count }

    /// Decodes and checks the bytes of an `index` file read from `path`.
    /// - Throws: `dataCorrupted` naming `path` and the offset of the bad section or value.
    init(bytes: [UInt8], path: String) throws {
        self.path = path
        func corrupted(_ what: String) -> SightlineError { SightlineError(.dataCorrupted, "index file \(path): \(what)") }

        let minimum = BlockFormat.headerLength + BlockFormat.tableOfContentsLength
        guard bytes.count >= minimum else { throw corrupted("\(bytes.count) bytes is too short for an index at offset 0") }
        guard Array(bytes[0..<4]) == BlockFormat.indexMagic else { throw corrupted("bad magic at offset 0") }
        guard BlockFormat.readableIndexVersions.contains(bytes[4]) else { throw corrupted("unsupported version \(bytes[4]) at offset 4") }
        let frontCoded = bytes[4] >= 2

        // Table of contents and section CRCs.
        let tocOffset = bytes.count - BlockFormat.tableOfContentsLength
        var ranges: [Range<Int>] = []
        try bytes.withUnsafeBytes { raw in
            let toc = UnsafeRawBufferPointer(rebasing: raw[tocOffset..<raw.count - 4])
            let storedTOC = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: raw.count - 4, as: UInt32.self))
            guard CRC32C.checksum(toc) == storedTOC else { throw corrupted("CRC mismatch in table of contents at offset \(tocOffset)") }
            var reader = ByteReader(toc)
            var end = BlockFormat.headerLength
            for name in BlockFormat.sectionNames {
                let offset = try reader.readUInt64LE()
                let length = try reader.readUInt64LE()
                guard offset == UInt64(end), length <= UInt64(tocOffset), offset + length + 4 <= UInt64(tocOffset) else {
                    throw corrupted("\(name) section out of bounds at offset \(offset)")
                }
                let range = Int(offset)..<Int(offset + length)
                let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: range.upperBound, as: UInt32.self))
                guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[range])) == stored else {
                    throw corrupted("CRC mismatch in \(name) section at offset \(range.lowerBound)")
                }
                ranges.append(range)
                end = range.upperBound + 4
            }
            guard end == tocOffset else { throw corrupted("unexpected bytes between sections and table of contents at offset \(end)") }
        }

        /// Runs `body` on a reader over section `i`, turning short reads and bad values into errors naming the section.
        func parse<T>(_ i: Int, _ body: (inout ByteReader) throws -> T) throws -> T {
            let range = ranges[i]
            return try bytes.withUnsafeBytes { raw in
                var reader = ByteReader(UnsafeRawBufferPointer(rebasing: raw[range]))
                do {
                    return try body(&reader)
                } catch let error as SightlineError where error.code == .dataCorrupted {
                    throw corrupted("malformed \(BlockFormat.sectionNames[i]) section at offset \(range.lowerBound + reader.offset): \(error.message)")
                }
            }
        }
        func bad(_ what: String) -> SightlineError { SightlineError(.dataCorrupted, what) }

        // Symbols.
        let symbols: [String] = try parse(0) { reader in
            let count = try reader.readCount()
            var symbols: [String] = []
            symbols.reserveCapacity(count)
            var previous: [UInt8] = []
            for _ in 0..<count {
                let shared = try reader.readVarint()
                guard shared <= UInt64(previous.count) else { throw bad("shared prefix \(shared) longer than previous symbol") }
                let suffix = try reader.readBytes()
                let bytes = Array(previous[0..<Int(shared)]) + suffix
                symbols.append(String(decoding: bytes, as: UTF8.self))
                previous = bytes
            }
            guard reader.isAtEnd else { throw bad("trailing bytes") }
            return symbols
        }
        self.symbols = symbols
        let symbolCount = UInt64(symbols.count)

        // Series.
        var labelStart: [UInt32] = [0]
        var labelRefs: [UInt32] = []
        var chunkStart: [UInt32] = [0]
        var chunkOffsets: [UInt64] = []
        var chunkLengths: [UInt32] = []
        var chunkMinTimes: [Int64] = []
        var chunkMaxTimes: [Int64] = []
        try parse(1) { reader in
            let baseTime = try reader.readSignedVarint()
            let count = try reader.readCount()
            labelStart.reserveCapacity(count + 1)
            chunkStart.reserveCapacity(count + 1)
            var expectedOffset = UInt64(BlockFormat.headerLength)
            for _ in 0..<count {
                if frontCoded {
                    // The first `shared` pairs of the previous series, then the rest.
                    let previous = labelStart.count < 2 ? 0..<0 : Int(labelStart[labelStart.count - 2])..<Int(labelStart[labelStart.count - 1])
                    let shared = try reader.readVarint()
                    guard shared <= UInt64(previous.count) else { throw bad("\(shared) labels shared with a series of \(previous.count)") }
                    labelRefs.append(contentsOf: labelRefs[(2 * previous.lowerBound)..<(2 * (previous.lowerBound + Int(shared)))])
                }
                let labelCount = try reader.readCount()
                for _ in 0..<labelCount * 2 {
                    let ref = try reader.readVarint()
                    guard ref < symbolCount else { throw bad("symbol ref \(ref) out of range") }
                    labelRefs.append(UInt32(ref))
                }
                labelStart.append(UInt32(labelRefs.count / 2))
                let chunks = try reader.readCount()
                if chunks > 0 {
                    var offset = expectedOffset &+ (try reader.readVarint())
                    var previousMax = baseTime
                    for i in 0..<chunks {
                        let minTime = i == 0
                            ? baseTime &+ Int64(bitPattern: try reader.readVarint())
                            : previousMax &+ (try reader.readSignedVarint())
                        let maxTime = minTime &+ Int64(bitPattern: try reader.readVarint())
                        let length = try reader.readVarint()
                        guard length > 4, length < UInt64(UInt32.max) else { throw bad("chunk record length \(length)") }
                        chunkOffsets.append(offset)
                        chunkLengths.append(UInt32(length))
                        chunkMinTimes.append(minTime)
                        chunkMaxTimes.append(maxTime)
                        offset &+= length
                        previousMax = maxTime
                    }
                    expectedOffset = offset
                }
                chunkStart.append(UInt32(chunkOffsets.count))
            }
            guard reader.isAtEnd else { throw bad("trailing bytes") }
        }
        self.labelStart = labelStart
        self.labelRefs = labelRefs
        self.chunkStart = chunkStart
        self.chunkOffsets = chunkOffsets
        self.chunkLengths = chunkLengths
        self.chunkMinTimes = chunkMinTimes
        self.chunkMaxTimes = chunkMaxTimes

        // Label index.
        let postingsLength = UInt64(ranges[3].count)
        var nameRefs: [UInt32] = []
        var nameLookup: [String: Int] = [:]
        var valueStart: [UInt32] = [0]
        var valueRefs: [UInt32] = []
        var postingsOffsets: [UInt32] = []
        try parse(2) { reader in
            let names = try reader.readCount()
            for _ in 0..<names {
                let name = try reader.readVarint()
                guard name < symbolCount else { throw bad("name ref \(name) out of range") }
                nameLookup[symbols[Int(name)]] = nameRefs.count
                nameRefs.append(UInt32(name))
                let values = try reader.readCount()
                var value: UInt64 = 0
                var offset: UInt64 = 0
                for _ in 0..<values {
                    value &+= try reader.readVarint()
                    offset &+= try reader.readVarint()
                    guard value < symbolCount, offset < postingsLength else { throw bad("value ref \(value) or postings offset \(offset) out of range") }
                    valueRefs.append(UInt32(value))
                    postingsOffsets.append(UInt32(offset))
                }
                valueStart.append(UInt32(valueRefs.count))
            }
            guard reader.isAtEnd else { throw bad("trailing bytes") }
        }
        self.nameRefs = nameRefs
        self.nameLookup = nameLookup
        self.valueStart = valueStart
        self.valueRefs = valueRefs
        self.postingsOffsets = postingsOffsets
        self.postings = Array(bytes[ranges[3]])
    }

    // MARK: Series

    /// The labels of series `ref`.
    func labels(ofSeries ref: Int) -> Labels {
        let range = Int(labelStart[ref])..<Int(labelStart[ref + 1])
        var labels: [Label] = []
        labels.reserveCapacity(range.count)
        for i in range { labels.append(Label(symbols[Int(labelRefs[2 * i])], symbols[Int(labelRefs[2 * i + 1])])) }
        return Labels(labels)
    }

    /// The value of label `name` (a symbol ref) in series `ref`, as a symbol ref.
    func valueRef(ofSeries ref: Int, name: UInt32) -> UInt32? {
        for i in Int(labelStart[ref])..<Int(labelStart[ref + 1]) where labelRefs[2 * i] == name { return labelRefs[2 * i + 1] }
        return nil
    }

    /// The name refs of series `ref`'s labels.
    func nameRefs(ofSeries ref: Int) -> [UInt32] {
        (Int(labelStart[ref])..<Int(labelStart[ref + 1])).map { labelRefs[2 * $0] }
    }

    /// The indices (into the chunk arrays) of series `ref`'s chunks.
    func chunks(ofSeries ref: Int) -> Range<Int> { Int(chunkStart[ref])..<Int(chunkStart[ref + 1]) }

    /// Chunk `i`'s location and time range.
    func chunk(_ i: Int) -> BlockChunkRef {
        BlockChunkRef(offset: chunkOffsets[i], length: chunkLengths[i], minTime: chunkMinTimes[i], maxTime: chunkMaxTimes[i])
    }

    /// Whether chunk `i` has samples in `minTime...maxTime`.
    func chunk(_ i: Int, overlaps minTime: Int64, _ maxTime: Int64) -> Bool {
        chunkMinTimes[i] <= maxTime && chunkMaxTimes[i] >= minTime
    }

    // MARK: Labels and matchers

    /// The symbol ref of `string`, found by binary search in the byte-ordered symbol table.
    func symbolRef(_ string: String) -> UInt32? {
        var low = 0
        var high = symbols.count
        while low < high {
            let mid = (low + high) / 2
            if symbols[mid].utf8.lexicographicallyPrecedes(string.utf8) { low = mid + 1 } else { high = mid }
        }
        return low < symbols.count && symbols[low] == string ? UInt32(low) : nil
    }

    /// The label name's position in the label index, or nil when no series has it.
    func nameIndex(_ name: String) -> Int? { nameLookup[name] }

    /// Every label name in the block, sorted.
    func labelNames() -> [String] { nameRefs.map { symbols[Int($0)] }.sorted() }

    /// Every value label `name` takes in the block, sorted.
    func labelValues(_ name: String) -> [String] {
        guard let n = nameLookup[name] else { return [] }
        return (Int(valueStart[n])..<Int(valueStart[n + 1])).map { symbols[Int(valueRefs[$0])] }.sorted()
    }

    /// The series matching every matcher (all series for no matchers).
    ///
    /// A matcher that matches the empty string also selects series without its label, as in Prometheus:
    /// it is evaluated as "not any of the values that fail it".
    func series(matching matchers: [LabelMatcher]) throws -> SeriesSet {
        var result = SeriesSet(count: seriesCount, full: true)
        for matcher in matchers {
            let matchesEmpty = matcher.matches("")
            var set = SeriesSet(count: seriesCount, full: false)
            if let n = nameLookup[matcher.name] {
                let values = Int(valueStart[n])..<Int(valueStart[n + 1])
                if (matcher.kind == .equal || matcher.kind == .notEqual) && !matcher.value.isEmpty {
                    // `a="x"` selects x's postings; `a!="x"` (which matches "") fails only for x: the complement of them.
                    if let ref = symbolRef(matcher.value), let i = binarySearch(valueRefs, values, ref) {
                        try addPostings(i, to: &set)
                    }
                } else {
                    // Collect the values that pass (or, when "" passes, the ones that fail) the matcher.
                    for i in values where matcher.matches(symbols[Int(valueRefs[i])]) != matchesEmpty {
                        try addPostings(i, to: &set)
                    }
                }
            }
            if matchesEmpty { set.invert() }
            result.formIntersection(set)
            if result.isEmpty { break }
        }
        return result
    }

    /// The position of `ref` in `array[range]` (ascending), or nil.
    private func binarySearch(_ array: [UInt32], _ range: Range<Int>, _ ref: UInt32) -> Int? {
        var low = range.lowerBound
        var high = range.upperBound
        while low < high {
            let mid = (low + high) / 2
            if array[mid] < ref { low = mid + 1 } else { high = mid }
        }
        return low < range.upperBound && array[low] == ref ? low : nil
    }

    /// Decodes the postings list of value entry `i` into `set`.
    private func addPostings(_ i: Int, to set: inout SeriesSet) throws {
        let start = Int(postingsOffsets[i])
        try postings.withUnsafeBytes { raw in
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: raw[start...]))
            do {
                let count = try reader.readCount()
                var ref: UInt64 = 0
                for _ in 0..<count {
                    ref &+= try reader.readVarint()
                    guard ref < UInt64(seriesCount) else {
                        throw SightlineError(.dataCorrupted, "series ref \(ref) out of range")
                    }
                    set.insert(Int(ref))
                }
            } catch let error as SightlineError where error.code == .dataCorrupted {
                throw SightlineError(.dataCorrupted, "index file \(path): malformed postings list at offset \(start) of the postings section: \(error.message)")
            }
        }
    }
}
