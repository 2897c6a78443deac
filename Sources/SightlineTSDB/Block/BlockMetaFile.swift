import Foundation
import SightlineCore

/// Encodes and decodes `meta.json`. Pure: no file I/O.
enum BlockMetaFile {
    /// The JSON bytes of `meta`: sorted keys, indented, for people reading the directory.
    static func encode(_ meta: BlockMeta) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(meta)) + [0x0A]
        } catch {
            throw SightlineError(.internal, "encode block meta \(meta.id)", cause: error)
        }
    }

    /// Decodes the `meta.json` read from `path`.
    /// - Throws: `dataCorrupted` naming the file when it is not valid JSON or has another format version.
    static func decode(_ bytes: [UInt8], path: String) throws -> BlockMeta {
        let meta: BlockMeta
        do {
            meta = try JSONDecoder().decode(BlockMeta.self, from: Data(bytes))
        } catch {
            throw SightlineError(.dataCorrupted, "meta file \(path): not a valid block meta at offset 0", cause: error)
        }
        guard BlockMeta.readableVersions.contains(meta.version) else {
            throw SightlineError(.dataCorrupted, "meta file \(path): unsupported block format version \(meta.version)")
        }
        guard meta.minTime <= meta.maxTime else {
            throw SightlineError(.dataCorrupted, "meta file \(path): minTime \(meta.minTime) > maxTime \(meta.maxTime)")
        }
        return meta
    }
}
