import SightlineCore

/// The encoding of one chunk in a block's `chunks` file. Pure: no file I/O.
///
/// ```
/// encoding     u8            ChunkEncoding raw value, or 3: a decimal chunk whose time section is in `times`
/// sampleCount  uvarint
/// [timesRef    uvarint]      encoding 3 only: the section's position in the block's times file
/// length       uvarint       payload length
/// payload      length bytes  ChunkData.bytes, opaque; for encoding 3 the bits after the time section
/// crc          u32 LE        CRC32C of everything above
/// ```
///
/// Times are not repeated here: the index holds each chunk's minTime/maxTime and record length. An encoding-3
/// record's payload holds the chunk's bits after the section's `b` bits; the chunk ended on a byte boundary, so they
/// were `8 × length − (b mod 8)` bits, and reading gives back the chunk byte for byte (``BlockTimes``).
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

    /// The encoding byte of a decimal chunk whose time section is stored in the block's ``BlockTimes``.
    static let sharedTimesEncoding: UInt8 = 3

    /// Appends the record of decimal `chunk` whose first `bitCount` bits are section `ref` of the block's times
    /// file, and returns its length in bytes.
    static func append(_ chunk: ChunkData, sharingTimes ref: Int, bitCount: Int, to writer: inout ByteWriter) -> Int {
        let start = writer.bytes.count
        writer.writeByte(sharedTimesEncoding)
        writer.writeVarint(UInt64(max(0, chunk.sampleCount)))
        writer.writeVarint(UInt64(ref))
        var rest = BitWriter(capacity: chunk.bytes.count)
        rest.writeBits(of: chunk.bytes, bitCount..<chunk.bytes.count * 8)
        writer.writeBytes(rest.finishedBytes())
        let crc = writer.bytes[start...].withUnsafeBytes { CRC32C.checksum($0) }
        writer.writeUInt32LE(crc)
        return writer.bytes.count - start
    }

    /// The chunk whose first `bitCount` bits are `section`'s and whose remaining bits are `rest`'s (the section's
    /// last `bitCount mod 8` bits share a byte with the first of `rest`, which therefore ends in that many padding
    /// bits): one allocation, eight bytes a step, since queries rebuild every shared chunk they read.
    static func joined(_ section: [UInt8], bitCount: Int, _ rest: UnsafeRawBufferPointer) -> [UInt8] {
        let whole = bitCount >> 3
        let shift = UInt64(bitCount & 7)
        let count = whole + rest.count
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            let base = UnsafeMutableRawPointer(out.baseAddress!)
            section.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: whole) }
            let target = base + whole
            if shift == 0 {
                if let source = rest.baseAddress { target.copyMemory(from: source, byteCount: rest.count) }
            } else {
                // The bits still to be written, left-aligned: first the section's last ones.
                var carry = UInt64(section[whole] & (0xFF &<< UInt8(8 - shift))) &<< 56
                var i = 0
                while i + 8 <= rest.count {
                    let word = UInt64(bigEndian: rest.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                    target.storeBytes(of: (carry | (word &>> shift)).bigEndian, toByteOffset: i, as: UInt64.self)
                    carry = word &<< (64 - shift)
                    i += 8
                }
                while i < rest.count {
                    let byte = UInt64(rest[i]) &<< 56
                    target.storeBytes(of: UInt8(truncatingIfNeeded: (carry | (byte &>> shift)) &>> 56), toByteOffset: i, as: UInt8.self)
                    carry = byte &<< (8 - shift)
                    i += 1
                }
            }
            initialized = count
        }
    }

    /// Decodes the record `record` read from `offset` of the file `path`, giving it the times the index recorded and
    /// taking shared time sections from `times`.
    /// - Throws: `dataCorrupted` naming the file and offset when the CRC, the length, the encoding or a time section
    ///   reference is wrong.
    static func decode(
        _ record: UnsafeRawBufferPointer, minTime: Int64, maxTime: Int64, times: BlockTimes, path: String, offset: UInt64
    ) throws -> ChunkData {
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
            let sampleCount = try reader.readVarint()
            if rawEncoding == sharedTimesEncoding {
                let ref = try reader.readVarint()
                let rest = try reader.readBytesInPlace()
                guard reader.isAtEnd, sampleCount <= UInt64(Int.max) else { throw corrupted("length mismatch") }
                guard ref < UInt64(times.count) else {
                    throw corrupted("time section \(ref) of a block with \(times.count)")
                }
                guard !rest.isEmpty else { throw corrupted("empty payload after time section \(ref)") }
                return ChunkData(
                    minTime: minTime, maxTime: maxTime, sampleCount: Int(sampleCount), encoding: .decimal,
                    bytes: joined(times.sections[Int(ref)], bitCount: times.bitCounts[Int(ref)], rest))
            }
            guard let encoding = ChunkEncoding(rawValue: rawEncoding) else { throw corrupted("unknown encoding \(rawEncoding)") }
            let bytes = try reader.readBytes()
            guard reader.isAtEnd, sampleCount <= UInt64(Int.max) else { throw corrupted("length mismatch") }
            return ChunkData(minTime: minTime, maxTime: maxTime, sampleCount: Int(sampleCount), encoding: encoding, bytes: bytes)
        } catch let error as SightlineError where error.code == .dataCorrupted && !error.message.hasPrefix("chunks file") {
            throw corrupted(error.message)
        }
    }
}
