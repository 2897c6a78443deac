import SightlineCore

/// The encoding of one chunk in a block's `chunks` file. Pure: no file I/O.
///
/// ```
/// encoding     u8
/// sampleCount  uvarint
/// length       uvarint       payload length
/// payload      length bytes  ChunkData.bytes, opaque
/// crc          u32 LE        CRC32C of everything above
/// ```
///
/// Times are not repeated here: the index holds each chunk's minTime/maxTime and record length.
enum ChunkRecord {
    /// Appends the record of `chunk` to `writer` and returns its length in bytes.
    static func append(_ chunk: ChunkData, to writer: inout ByteWriter) -> Int {
        let start = writer.bytes.count
        writer.writeByte(chunk.encoding.rawValue)
        writer.writeVarint(UInt64(max(0, chunk.sampleCount)))
        writer.writeBytes(chunk.bytes)
        let crc = writer.bytes[start...].withUnsafeBytes { CRC32C.checksum($0) }
        writer.writeUInt32LE(crc)
        return writer.bytes.count - start
    }

    /// Decodes the record `record` read from `offset` of the file `path`, giving it the times the index recorded.
    /// - Throws: `dataCorrupted` naming the file and offset when the CRC, the length or the encoding is wrong.
    static func decode(_ record: UnsafeRawBufferPointer, minTime: Int64, maxTime: Int64, path: String, offset: UInt64) throws -> ChunkData {
        func corrupted(_ what: String) -> SightlineError {
            SightlineError(.dataCorrupted, "chunks file \(path): \(what) in chunk record at offset \(offset)")
        }
        guard record.count > 4 else { throw corrupted("record of \(record.count) bytes is too short") }
        let body = UnsafeRawBufferPointer(rebasing: record[0..<record.count - 4])
        let stored = UInt32(littleEndian: record.loadUnaligned(fromByteOffset: record.count - 4, as: UInt32.self))
        guard CRC32C.checksum(body) == stored else { throw corrupted("CRC mismatch") }
        var reader = ByteReader(body)
        do {
            let rawEncoding = try reader.readByte()
            guard let encoding = ChunkEncoding(rawValue: rawEncoding) else { throw corrupted("unknown encoding \(rawEncoding)") }
            let sampleCount = try reader.readVarint()
            let bytes = try reader.readBytes()
            guard reader.isAtEnd, sampleCount <= UInt64(Int.max) else { throw corrupted("length mismatch") }
            return ChunkData(minTime: minTime, maxTime: maxTime, sampleCount: Int(sampleCount), encoding: encoding, bytes: bytes)
        } catch let error as SightlineError where error.code == .dataCorrupted && !error.message.hasPrefix("chunks file") {
            throw corrupted(error.message)
        }
    }
}
