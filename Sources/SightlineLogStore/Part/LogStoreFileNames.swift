/// Every name the log store uses on disk, in its directory:
///
/// - `manifest`: the parts that make up the store and the highest persisted WAL segment, replaced atomically
///   (`manifest.tmp`, then a rename). It is the store's commit point: a part file not named in it is not part of the
///   store (a crash between writing the part and the manifest) and is deleted on open, and its records are replayed
///   from the WAL.
/// - `parts/<id>.part`: one immutable part, `<id>` 16 lowercase hex digits; written as `<id>.part.tmp`, fsynced, then
///   renamed.
/// - `delete_requests`: the delete requests applied, per tenant (replaced atomically).
enum LogStoreFileNames {
    static let manifest = "manifest"
    static let deleteRequests = "delete_requests"
    static let partsDirectory = "parts"
    static let partSuffix = ".part"
    static let temporarySuffix = ".tmp"

    /// The file name of part `id`.
    static func part(_ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex + partSuffix
    }

    /// The id of a part file name, or nil for other names.
    static func partID(_ name: String) -> UInt64? {
        guard name.hasSuffix(partSuffix) else { return nil }
        let stem = name.dropLast(partSuffix.count)
        guard stem.count == 16 else { return nil }
        return UInt64(stem, radix: 16)
    }
}
