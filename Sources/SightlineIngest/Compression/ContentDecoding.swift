import Foundation
package import SightlineCore

/// The `Content-Encoding`s Sightline's HTTP receivers take for OTLP bodies: none (`identity`), `gzip` and `snappy`
/// (the block format, as remote write and Loki send it).
package enum ContentDecoding {
    /// `body` with `encoding` undone, at most `limit` bytes.
    /// - Throws: `unsupportedMediaType` for another encoding; `tooLarge` past `limit`; `invalidArgument` or
    ///   `dataCorrupted` for a body the encoding cannot read.
    package static func decode(_ body: UnsafeRawBufferPointer, encoding: String?, limit: Int) throws -> [UInt8] {
        switch (encoding ?? "").trimmingCharacters(in: .whitespaces).lowercased() {
        case "", "identity": Array(body)
        case "gzip", "x-gzip": try Gzip.decompress(body, maxOutput: limit)
        case "snappy": try Snappy.decompress(body, maxOutput: limit)
        default:
            throw SightlineError(.unsupportedMediaType, "unsupported Content-Encoding \"\(encoding ?? "")\": use gzip, snappy (block format) or none")
        }
    }
}
