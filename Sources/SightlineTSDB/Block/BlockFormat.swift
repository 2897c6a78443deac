/// Constants of the block files' binary format (see the `Blocks` article for the full layout).
enum BlockFormat {
    /// The first bytes of a `chunks` file: `SLBC` then ``version``.
    static let chunksMagic: [UInt8] = Array("SLBC".utf8)
    /// The first bytes of an `index` file: `SLBI` then ``version``.
    static let indexMagic: [UInt8] = Array("SLBI".utf8)
    /// The version byte after the `chunks` and `index` magics: their framing, unchanged since format version 1 of
    /// a block (``BlockMeta/currentVersion`` says which records and files a block may have).
    static let version: UInt8 = 1
    /// The size of the magic plus the version byte at the start of both files.
    static let headerLength = 5
    /// The index sections, in file order; the table of contents has one (offset, length) pair for each.
    static let sectionNames = ["symbols", "series", "label index", "postings"]
    /// The size of the index's table of contents: four pairs of little-endian `UInt64`, then its CRC32C.
    static let tableOfContentsLength = sectionNames.count * 16 + 4
}
