import SightlineCore

/// The byte layout of a WAL segment file, and a scanner that checks it. Pure: no file I/O.
///
/// ```
/// segment := header frame*
/// header  := magic "SWAL" (4 bytes) | version: UInt32 LE (= 1)                        8 bytes
/// frame   := length: UInt32 LE | crc32c(payload): UInt32 LE | payload (length bytes)  8 + length bytes
/// ```
///
/// A payload is never empty, so a run of zero bytes (what a file system may leave after a crash) never parses as a
/// record. An empty file (created, then the machine stopped before the header was written) holds no records.
enum WALSegmentFormat {
    /// The first four bytes of every segment.
    static let magic: [UInt8] = Array("SWAL".utf8)
    /// The format version written after the magic.
    static let version: UInt32 = 1
    /// The size of the segment header; the first frame starts here.
    static let headerSize = 8
    /// The size of a frame header (length and checksum).
    static let frameHeaderSize = 8
    /// The largest payload the WAL accepts (1 GiB).
    static let maxPayloadSize = 1 << 30

    /// The segment header bytes.
    static var header: [UInt8] {
        var bytes = magic
        withUnsafeBytes(of: version.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Appends a frame to `buffer` whose payload `write` appends after the frame header, then fills the header in.
    /// - Returns: the payload's size.
    static func appendFrame(to buffer: inout [UInt8], payload write: (inout [UInt8]) -> Void) -> Int {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: frameHeaderSize))
        write(&buffer)
        let size = buffer.count - start - frameHeaderSize
        buffer.withUnsafeMutableBytes { frame in
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: frame[(start + frameHeaderSize)...]))
            frame.storeBytes(of: UInt32(truncatingIfNeeded: size).littleEndian, toByteOffset: start, as: UInt32.self)
            frame.storeBytes(of: crc.littleEndian, toByteOffset: start + 4, as: UInt32.self)
        }
        return size
    }

    /// Appends the frame of `payload` to `buffer`; `crc` is `CRC32C.checksum(payload)` when the caller has it already.
    static func appendFrame(_ payload: [UInt8], crc: UInt32? = nil, to buffer: inout [UInt8]) {
        let length = UInt32(truncatingIfNeeded: payload.count).littleEndian
        let crc = (crc ?? CRC32C.checksum(payload)).littleEndian
        withUnsafeBytes(of: length) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: crc) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: payload)
    }

    /// Why a segment's bytes are not all valid.
    enum Damage: Equatable, CustomStringConvertible {
        /// Fewer bytes than a header: a segment whose creation was cut short.
        case incompleteHeader(bytes: Int)
        /// A full header that is not a WAL header of a known version: not a torn write.
        case foreignHeader
        /// A frame that is cut short or fails its length or checksum check.
        case badRecord(String)

        /// Whether a crash while writing explains the damage, so that it may be cut off the last segment.
        var isTornTail: Bool {
            switch self {
            case .incompleteHeader, .badRecord: true
            case .foreignHeader: false
            }
        }

        var description: String {
            switch self {
            case .incompleteHeader(let bytes): "segment header is incomplete (\(bytes) of \(WALSegmentFormat.headerSize) bytes)"
            case .foreignHeader: "segment header has the wrong magic or an unknown version"
            case .badRecord(let reason): reason
            }
        }
    }

    /// What ``scan(_:visit:)`` found.
    struct ScanResult: Equatable {
        /// How many valid records precede `validEnd`.
        var records: Int
        /// The length of the valid prefix: the file may be truncated to this length.
        var validEnd: Int
        /// Why the bytes from `validEnd` on are not valid; `nil` when the whole segment is valid.
        var damage: Damage?
    }

    /// Checks a whole segment, calling `visit` with the offset and payload of every valid record in order, and stops
    /// at the first damage.
    static func scan(
        _ bytes: UnsafeRawBufferPointer,
        visit: (_ offset: Int, _ payload: UnsafeRawBufferPointer) throws -> Void
    ) rethrows -> ScanResult {
        if bytes.isEmpty { return ScanResult(records: 0, validEnd: 0, damage: nil) }
        guard bytes.count >= headerSize else {
            return ScanResult(records: 0, validEnd: 0, damage: .incompleteHeader(bytes: bytes.count))
        }
        guard bytes.prefix(4).elementsEqual(magic),
            UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) == version
        else { return ScanResult(records: 0, validEnd: 0, damage: .foreignHeader) }

        var offset = headerSize
        var records = 0
        while offset < bytes.count {
            let left = bytes.count - offset
            guard left >= frameHeaderSize else {
                return ScanResult(records: records, validEnd: offset, damage: .badRecord("frame header cut short (\(left) bytes)"))
            }
            let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            guard length > 0, length <= maxPayloadSize else {
                return ScanResult(records: records, validEnd: offset, damage: .badRecord("invalid record length \(length)"))
            }
            guard length <= left - frameHeaderSize else {
                return ScanResult(
                    records: records, validEnd: offset,
                    damage: .badRecord("record length \(length) exceeds the \(left - frameHeaderSize) bytes left")
                )
            }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + frameHeaderSize)..<(offset + frameHeaderSize + length)])
            let computed = CRC32C.checksum(payload)
            guard computed == stored else {
                return ScanResult(
                    records: records, validEnd: offset,
                    damage: .badRecord("record checksum mismatch (stored \(hex(stored)), computed \(hex(computed)))")
                )
            }
            try visit(offset, payload)
            records += 1
            offset += frameHeaderSize + length
        }
        return ScanResult(records: records, validEnd: offset, damage: nil)
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
