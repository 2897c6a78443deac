/// Every on-disk name the block layer uses, in one place.
///
/// A tenant's block directory holds one sub-directory per block, named by its ``BlockID``:
///
/// ```
/// <tenant>/01J9Z3K6Y8Q4W2T0R5V7X9B1C3/meta.json
/// <tenant>/01J9Z3K6Y8Q4W2T0R5V7X9B1C3/index
/// <tenant>/01J9Z3K6Y8Q4W2T0R5V7X9B1C3/times             (format version 2)
/// <tenant>/01J9Z3K6Y8Q4W2T0R5V7X9B1C3/chunks
/// <tenant>/01J9Z3K6Y8Q4W2T0R5V7X9B1C3.tmp/            a block being written (deleted on open)
/// <tenant>/01J9Z3K6Y8Q4W2T0R5V7X9B1C3.deleting.tmp/   a block being deleted (deleted on open)
/// ```
///
/// Any entry whose name ends in ``temporarySuffix`` is garbage after a crash.
enum BlockFileNames {
    /// The JSON metadata file of a block (``BlockMeta``), written last.
    static let meta = "meta.json"
    /// The file of concatenated chunk records.
    static let chunks = "chunks"
    /// The file holding symbols, series, label values and postings.
    static let index = "index"
    /// The file of time sections chunk records share (``BlockTimes``); blocks of format version 2 on.
    static let times = "times"
    /// The suffix of directories that are not (or no longer) blocks: written or deleted part-way.
    static let temporarySuffix = ".tmp"
    /// The suffix a block directory is renamed to before its files are removed.
    static let deletingSuffix = ".deleting.tmp"

    /// `directory/name`, with exactly one slash between them.
    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The directory name a block with `id` is written to before it is renamed into place.
    static func temporaryDirectory(_ id: String) -> String { id + temporarySuffix }

    /// The directory name a block with `id` is renamed to before its files are removed.
    static func deletingDirectory(_ id: String) -> String { id + deletingSuffix }

    /// Whether a directory entry is left over from an interrupted write or delete.
    static func isTemporary(_ name: String) -> Bool { name.hasSuffix(temporarySuffix) }
}
