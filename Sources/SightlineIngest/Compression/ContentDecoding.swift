import Foundation
import SightlineCore

/// The `Content-Encoding`s Sightline's HTTP receivers take for OTLP bodies: none (`identity`), `gzip`, `deflate` (the
/// zlib format, or a raw DEFLATE stream as some clients send it), `snappy` (the block format, as remote write and
/// Loki send it) and `zstd` (as the Datadog Agent sends it).
package enum ContentDecoding {
    /// `body` with `encoding` undone, at most `limit` bytes.
    /// - Throws: `unsupportedMediaType` for another encoding; `tooLarge` past `limit`; `invalidArgument` or
    ///   `dataCorrupted` for a body the encoding cannot read.
    package static func decode(_ body: UnsafeRawBufferPointer, encoding: String?, limit: Int) throws -> [UInt8] {
        switch (encoding ?? "").trimmingCharacters(in: .whitespaces).lowercased() {
        case "", "identity": Array(body)
        case "gzip", "x-gzip": try Gzip.decompress(body, maxOutput: limit)
        case "snappy": try Snappy.decompress(body, maxOutput: limit)
        case "deflate": try zlib(body, limit: limit)
        case "zstd": try Zstd.decompress(body, maxOutput: limit)
        default:
            throw SightlineError(
                .unsupportedMediaType, "unsupported Content-Encoding \"\(encoding ?? "")\": use gzip, deflate, snappy (block format), zstd or none")
        }
    }

    /// A zlib stream (RFC 1950: a two-byte header, DEFLATE, the Adler-32 of the output), or raw DEFLATE when the
    /// first two bytes are not a zlib header.
    static func zlib(_ body: UnsafeRawBufferPointer, limit: Int) throws -> [UInt8] {
        let isZlib = body.count >= 6 && body[0] & 0x0F == 8 && body[0] >> 4 <= 7 && (UInt16(body[0]) << 8 | UInt16(body[1])) % 31 == 0
        guard isZlib else { return try Inflate.decompress(body, maxOutput: limit) }
        guard body[1] & 0x20 == 0 else { throw SightlineError(.invalidArgument, "invalid deflate data: a preset dictionary is not supported") }
        var output = InflateOutput(maxOutput: limit, sizeHint: body.count * 4)
        let end = try Inflate.inflate(body, from: 2, into: &output)
        let plain = output.finish()
        guard end + 4 <= body.count else { throw SightlineError(.invalidArgument, "invalid deflate data: the Adler-32 checksum is missing") }
        let stored = UInt32(body[end]) << 24 | UInt32(body[end + 1]) << 16 | UInt32(body[end + 2]) << 8 | UInt32(body[end + 3])
        // Adler-32, reduced every 5,552 bytes (the most that cannot overflow 32 bits).
        var a: UInt32 = 1
        var b: UInt32 = 0
        var start = 0
        while start < plain.count {
            let end = min(start + 5_552, plain.count)
            for index in start..<end {
                a &+= UInt32(plain[index])
                b &+= a
            }
            a %= 65_521
            b %= 65_521
            start = end
        }
        guard stored == b << 16 | a else { throw SightlineError(.invalidArgument, "invalid deflate data: Adler-32 checksum mismatch") }
        return plain
    }
}
