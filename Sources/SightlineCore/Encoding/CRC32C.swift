/// CRC-32C (Castagnoli): the checksum the write-ahead log stores with every record.
///
/// Reflected polynomial `0x82F63B78`, initial value and final XOR `0xFFFFFFFF` (the iSCSI / ext4 / RFC 3720 variant).
/// Table-driven, sixteen bytes per step (``SlicedCRC32``), in pure Swift.
///
/// `seed` continues an earlier checksum, so `checksum(b, seed: checksum(a)) == checksum(a + b)`.
///
/// ```swift
/// CRC32C.checksum(Array("123456789".utf8))  // 0xE3069283
/// ```
package enum CRC32C {
    /// The reflected Castagnoli polynomial.
    package static let polynomial: UInt32 = 0x82F6_3B78

    private static let crc = SlicedCRC32(polynomial: polynomial)

    /// The CRC-32C of `bytes`, continuing from `seed` (0 for a fresh checksum).
    package static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        crc.checksum(bytes, seed: seed)
    }

    /// The CRC-32C of `bytes`, continuing from `seed` (0 for a fresh checksum).
    package static func checksum(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, seed: seed) }
    }
}
