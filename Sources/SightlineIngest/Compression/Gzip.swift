import SightlineCore

/// Decompresses gzip data (RFC 1952), as HTTP bodies with `Content-Encoding: gzip` carry it.
///
/// Reads every member of a multi-member file, skips the optional header fields (FEXTRA, FNAME, FCOMMENT, FHCRC,
/// checking the header CRC) and checks each member's CRC-32 and length.
///
/// ```swift
/// let body = try compressed.withUnsafeBytes { try Gzip.decompress($0, maxOutput: 16 << 20) }
/// ```
package enum Gzip {
    private static let headerText: UInt8 = 0x01
    private static let headerCRC: UInt8 = 0x02
    private static let headerExtra: UInt8 = 0x04
    private static let headerName: UInt8 = 0x08
    private static let headerComment: UInt8 = 0x10

    /// Decompresses all members of a gzip file.
    /// - Parameters:
    ///   - bytes: The gzip data.
    ///   - maxOutput: The most bytes the output may have.
    /// - Returns: The concatenated output of every member.
    /// - Throws: ``SightlineError`` `.tooLarge` when the output would exceed `maxOutput`;
    ///   `.invalidArgument` for a bad header, corrupt or truncated data, or a CRC or length mismatch.
    package static func decompress(_ bytes: UnsafeRawBufferPointer, maxOutput: Int) throws -> [UInt8] {
        var output = InflateOutput(maxOutput: maxOutput, sizeHint: bytes.count * 4)
        var offset = 0
        var member = 0
        repeat {
            let start = output.count
            offset = try skipHeader(bytes, at: offset, member: member)
            offset = try Inflate.inflate(bytes, from: offset, into: &output)
            guard bytes.count - offset >= 8 else { throw corrupt("truncated trailer of member \(member)") }
            let expectedCRC = littleEndian32(bytes, at: offset)
            let expectedSize = littleEndian32(bytes, at: offset + 4)
            offset += 8
            let data = output.slice(from: start)
            guard CRC32.checksum(data) == expectedCRC else { throw corrupt("CRC-32 mismatch in member \(member)") }
            guard UInt32(truncatingIfNeeded: data.count) == expectedSize else {
                throw corrupt("length mismatch in member \(member)")
            }
            member += 1
            // Some writers pad the file with zeros after the last member.
            if (offset..<bytes.count).allSatisfy({ bytes[$0] == 0 }) { break }
        } while offset < bytes.count
        return output.finish()
    }

    /// Decompresses gzip data held in a byte array.
    package static func decompress(_ bytes: [UInt8], maxOutput: Int) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try decompress($0, maxOutput: maxOutput) }
    }

    private static func corrupt(_ message: String) -> SightlineError {
        SightlineError(.invalidArgument, "invalid gzip data: \(message)")
    }

    private static func littleEndian32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    /// Checks a member header and returns the offset of its DEFLATE data.
    private static func skipHeader(_ bytes: UnsafeRawBufferPointer, at start: Int, member: Int) throws -> Int {
        guard bytes.count - start >= 10 else { throw corrupt("truncated header of member \(member)") }
        guard bytes[start] == 0x1F, bytes[start + 1] == 0x8B else { throw corrupt("bad magic number in member \(member)") }
        guard bytes[start + 2] == 8 else { throw corrupt("unknown compression method \(bytes[start + 2])") }
        let flags = bytes[start + 3]
        guard flags & 0xE0 == 0 else { throw corrupt("reserved header flags set") }
        var offset = start + 10
        if flags & headerExtra != 0 {
            guard bytes.count - offset >= 2 else { throw corrupt("truncated extra field") }
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            offset += 2
            guard bytes.count - offset >= length else { throw corrupt("truncated extra field") }
            offset += length
        }
        for flag in [headerName, headerComment] where flags & flag != 0 {
            while true {
                guard offset < bytes.count else { throw corrupt("truncated header string") }
                offset += 1
                if bytes[offset - 1] == 0 { break }
            }
        }
        if flags & headerCRC != 0 {
            guard bytes.count - offset >= 2 else { throw corrupt("truncated header CRC") }
            let expected = UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
            let actual = UInt16(truncatingIfNeeded: CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[start..<offset])))
            guard expected == actual else { throw corrupt("header CRC mismatch") }
            offset += 2
        }
        return offset
    }
}
