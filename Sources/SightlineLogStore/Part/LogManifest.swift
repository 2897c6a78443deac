import Glibc
import SightlineCore
import SightlineStorageCore

/// The store's commit point: which parts make up the store and the highest WAL segment they hold entirely.
///
/// Layout: `SLLM`, format version 1, the persisted segment (zigzag varint, -1 for none), the part count and the part
/// ids (varints), then the CRC-32C of everything before (4 bytes LE). Written with ``POSIXFile/writeAtomically(_:to:)``,
/// so a crash leaves the old or the new manifest, never a mix.
struct LogManifest: Equatable {
    var persistedSegment: Int = -1
    var partIDs: [UInt64] = []

    private static let magic: [UInt8] = Array("SLLM".utf8)

    /// The manifest's bytes.
    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 16 + partIDs.count * 3)
        w.writeRaw(Self.magic)
        w.writeByte(1)
        w.writeSignedVarint(Int64(persistedSegment))
        w.writeVarint(UInt64(partIDs.count))
        for id in partIDs { w.writeVarint(id) }
        w.writeUInt32LE(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Reads the manifest at `path`; nil when there is none (a new store).
    /// - Throws: `dataCorrupted` naming the file when it fails its checksum or does not parse.
    static func read(path: String) throws -> LogManifest? {
        guard access(path, F_OK) == 0 else { return nil }
        let bytes = try POSIXFile.readAll(path)
        guard bytes.count >= 9, Array(bytes.prefix(4)) == magic, bytes[4] == 1 else {
            throw SightlineError(.dataCorrupted, "\(path) is not a log store manifest")
        }
        let body = Array(bytes.dropLast(4))
        let crc = bytes.suffix(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        guard CRC32C.checksum(body) == crc else { throw SightlineError(.dataCorrupted, "\(path) fails its checksum") }
        do {
            return try body.withUnsafeBytes { raw in
                var r = ByteReader(UnsafeRawBufferPointer(rebasing: raw[5...]))
                var manifest = LogManifest()
                manifest.persistedSegment = Int(try r.readSignedVarint())
                let count = try r.readCount()
                for _ in 0..<count { manifest.partIDs.append(try r.readVarint()) }
                guard r.isAtEnd else { throw SightlineError(.dataCorrupted, "trailing bytes") }
                return manifest
            }
        } catch let error as SightlineError {
            throw SightlineError(.dataCorrupted, "\(path): \(error.message)")
        }
    }
}
