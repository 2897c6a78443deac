import SightlineCore

/// The time sections that several decimal chunks of one block share, stored once in the block's `times` file.
///
/// A scrape stamps every sample of a target with the same time, so the series of one target (a hundred for a
/// node exporter) have equal timestamps, and their decimal chunks begin with equal bits: the sample count, the first
/// time and the packed deltas of deltas (``DecimalChunk/timeSectionBitCount(_:)``). With jittered scrapes those bits
/// are a third of a chunk. A block keeps each such section once; the chunk records that repeat it hold a reference
/// and their remaining bits, and reading puts the chunk back together bit for bit (``ChunkRecord``).
///
/// The file (format version 2 of a block; version-1 blocks have none):
/// ```
/// "SLBT"  u8 version (1)
/// uvarint count
/// per section: uvarint bitCount, uvarint length (= ⌈bitCount / 8⌉), the bits zero-padded to that many bytes
/// u32     CRC-32C of everything above
/// ```
struct BlockTimes: Sendable {
    /// Each section's bits, padded with zeros to whole bytes.
    private(set) var sections: [[UInt8]] = []
    /// How many bits of each section count.
    private(set) var bitCounts: [Int] = []

    static let magic: [UInt8] = Array("SLBT".utf8)
    static let version: UInt8 = 1

    /// No sections: what a version-1 block has.
    init() {}

    var count: Int { sections.count }

    /// Adds a section (the first `bitCount` bits of `bytes`) and returns its reference.
    mutating func append(_ bytes: [UInt8], bitCount: Int) -> Int {
        sections.append(bytes)
        bitCounts.append(bitCount)
        return sections.count - 1
    }

    /// The file's bytes.
    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 16 + sections.reduce(0) { $0 + $1.count + 2 })
        writer.writeRaw(Self.magic)
        writer.writeByte(Self.version)
        writer.writeVarint(UInt64(sections.count))
        for (section, bits) in zip(sections, bitCounts) {
            writer.writeVarint(UInt64(bits))
            writer.writeBytes(section)
        }
        let crc = writer.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        writer.writeUInt32LE(crc)
        return writer.bytes
    }

    /// Decodes the file read from `path`.
    /// - Throws: `dataCorrupted` naming the file when the magic, version, CRC or a length is wrong.
    init(bytes: [UInt8], path: String) throws {
        func corrupted(_ what: String) -> SightlineError {
            SightlineError(.dataCorrupted, "times file \(path): \(what)")
        }
        let headerLength = Self.magic.count + 1
        guard bytes.count >= headerLength + 4 else { throw corrupted("\(bytes.count) bytes is too short") }
        guard Array(bytes[0..<Self.magic.count]) == Self.magic, bytes[Self.magic.count] == Self.version else {
            throw corrupted("bad magic or version at offset 0")
        }
        try bytes.withUnsafeBytes { raw in
            let body = UnsafeRawBufferPointer(rebasing: raw[0..<raw.count - 4])
            let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: raw.count - 4, as: UInt32.self))
            guard CRC32C.checksum(body) == stored else { throw corrupted("CRC mismatch") }
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: body[headerLength...]))
            do {
                let count = try reader.readCount()
                sections.reserveCapacity(count)
                bitCounts.reserveCapacity(count)
                for index in 0..<count {
                    let bits = try reader.readVarint()
                    let section = try reader.readBytes()
                    guard bits > 0, (bits + 7) / 8 == UInt64(section.count) else {
                        throw corrupted("section \(index) of \(bits) bits in \(section.count) bytes")
                    }
                    sections.append(section)
                    bitCounts.append(Int(bits))
                }
                guard reader.isAtEnd else { throw corrupted("bytes after the last section") }
            } catch let error as SightlineError where error.code == .dataCorrupted && !error.message.hasPrefix("times file") {
                throw corrupted(error.message)
            }
        }
    }
}

/// The writer's side of ``BlockTimes``: finds the decimal chunks whose time section an earlier chunk of the block
/// had, and gives them a shared reference.
///
/// The first chunk with a given section is stored whole (a section nothing repeats costs nothing extra); the second
/// puts the section in the table. At most ``trackedLimit`` distinct sections are remembered, so a block whose series
/// share nothing (pushed samples with their own times) costs bounded memory to write.
struct TimeSectionSharing {
    /// A section's bits (trailing bits of the last byte zeroed) and their number.
    private struct Section: Hashable {
        var bytes: [UInt8]
        var bitCount: Int
    }

    /// Each section seen: nil while only one chunk had it, its table reference once another did.
    private var seen: [Section: Int?] = [:]
    /// The sections stored in the `times` file.
    private(set) var table = BlockTimes()

    /// How many distinct sections are remembered: ~16 MiB of 240-byte sections, a block of 65,536 scrape targets'
    /// worth of chunks in one time range.
    static let trackedLimit = 1 << 16

    /// The table reference and section length for a chunk whose time section an earlier chunk had, or nil when the
    /// chunk is to be stored whole (another encoding, the first with its section, or not a valid decimal chunk).
    mutating func reference(for chunk: ChunkData) -> (ref: Int, bitCount: Int)? {
        guard chunk.encoding == .decimal, let bitCount = DecimalChunk.timeSectionBitCount(chunk.bytes) else { return nil }
        var bytes = Array(chunk.bytes[0..<(bitCount + 7) / 8])
        if bitCount % 8 != 0 { bytes[bytes.count - 1] &= 0xFF &<< UInt8(8 - bitCount % 8) }
        let section = Section(bytes: bytes, bitCount: bitCount)
        switch seen[section] {
        case .some(.some(let ref)):
            return (ref, bitCount)
        case .some(.none):
            let ref = table.append(bytes, bitCount: bitCount)
            seen[section] = .some(ref)
            return (ref, bitCount)
        case .none:
            if seen.count < Self.trackedLimit { seen[section] = .some(nil) }
            return nil
        }
    }
}
