import SightlineCore

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as gzip and zlib use it; sixteen bytes per step
/// (``SlicedCRC32``).
package enum CRC32 {
    private static let crc = SlicedCRC32(polynomial: 0xEDB8_8320)

    /// The CRC-32 of `bytes`.
    /// - Parameters:
    ///   - bytes: The data.
    ///   - initial: The CRC of the data before `bytes`, to continue a running checksum.
    package static func checksum(_ bytes: UnsafeRawBufferPointer, continuing initial: UInt32 = 0) -> UInt32 {
        crc.checksum(bytes, seed: initial)
    }

    /// The CRC-32 of `bytes`.
    package static func checksum(_ bytes: [UInt8], continuing initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: initial) }
    }

    /// The CRC-32 of any byte sequence: contiguous ones at the speed of the buffer overload, others byte by byte.
    package static func checksum(_ bytes: some Sequence<UInt8>, continuing initial: UInt32 = 0) -> UInt32 {
        crc.checksum(bytes, seed: initial)
    }
}
