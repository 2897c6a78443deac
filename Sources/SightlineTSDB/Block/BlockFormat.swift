/// Constants of the block files' binary format (see the `Blocks` article for the full layout).
enum BlockFormat {
    /// The first bytes of a `chunks` file: `SLBC` then ``chunksVersion``.
    static let chunksMagic: [UInt8] = Array("SLBC".utf8)
    /// The first bytes of an `index` file: `SLBI` then ``indexVersion``.
    static let indexMagic: [UInt8] = Array("SLBI".utf8)
    /// The version byte after the `chunks` magic: its framing, unchanged since format version 1 of a block
    /// (``BlockMeta/currentVersion`` says which records a block may have).
    static let chunksVersion: UInt8 = 1
    /// The version byte after the `index` magic: 2 since a series' labels are written as those it shares with the
    /// previous series plus the rest (block format version 2); 1 before, every label written.
    static let indexVersion: UInt8 = 2
    /// The `index` versions this code reads.
    static let readableIndexVersions: ClosedRange<UInt8> = 1...2
    /// The size of the magic plus the version byte at the start of both files.
    static let headerLength = 5
    /// The index sections, in file order; the table of contents has one (offset, length) pair for each.
    static let sectionNames = ["symbols", "series", "label index", "postings"]
    /// The size of the index's table of contents: four pairs of little-endian `UInt64`, then its CRC32C.
    static let tableOfContentsLength = sectionNames.count * 16 + 4
}
