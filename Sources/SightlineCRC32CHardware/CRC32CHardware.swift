#if arch(x86_64)
import _Builtin_intrinsics.intel

/// CRC-32C (Castagnoli) through SSE 4.2's `crc32` instruction, eight bytes an instruction: a tenth of the table-driven
/// checksum's time. This module is compiled for SSE 4.2 as a whole, so nothing here may run on a CPU without it:
/// `SightlineCore`'s `CRC32C` calls ``update(_:_:)`` only after finding the instruction.
package enum CRC32CHardware {
    /// Continues the checksum register `crc` (not its final inverted form) over `bytes`.
    package static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return crc }
        let count = bytes.count
        var wide = UInt64(crc)
        var offset = 0
        while offset + 8 <= count {
            wide = _mm_crc32_u64(wide, base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
        }
        var narrow = UInt32(truncatingIfNeeded: wide)
        while offset < count {
            narrow = _mm_crc32_u8(narrow, base.load(fromByteOffset: offset, as: UInt8.self))
            offset += 1
        }
        return narrow
    }
}
#endif
