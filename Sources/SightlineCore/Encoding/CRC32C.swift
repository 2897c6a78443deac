#if arch(x86_64) && os(Linux)
import Glibc
import SightlineCRC32CHardware
#endif

/// CRC-32C (Castagnoli): the checksum the write-ahead log stores with every record.
///
/// Reflected polynomial `0x82F63B78`, initial value and final XOR `0xFFFFFFFF` (the iSCSI / ext4 / RFC 3720 variant).
/// Through the CPU's `crc32` instruction where there is one (x86-64 with SSE 4.2, see `CRC32CHardware`), else
/// table-driven, sixteen bytes per step (``SlicedCRC32``), in pure Swift.
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

    /// Whether the CPU has the `crc32` instruction.
    package static let hasInstruction: Bool = {
        #if arch(x86_64) && os(Linux)
        // The SSE 4.2 flag as the kernel lists it for the first CPU (CPUID is not reachable from Swift without that
        // target feature).
        let descriptor = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        // The first CPU's entry is a few KiB.
        while text.count < 1 << 14 {
            let read = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            guard read > 0 else { break }
            text += chunk[..<read]
        }
        guard let flags = text.split(separator: UInt8(ascii: "\n")).first(where: { $0.starts(with: "flags".utf8) }) else { return false }
        return flags.split(separator: UInt8(ascii: " ")).contains { $0.elementsEqual("sse4_2".utf8) }
        #else
        return false
        #endif
    }()

    /// The CRC-32C of `bytes`, continuing from `seed` (0 for a fresh checksum).
    package static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        #if arch(x86_64) && os(Linux)
        if hasInstruction { return ~CRC32CHardware.update(~seed, bytes) }
        #endif
        return crc.checksum(bytes, seed: seed)
    }

    /// ``checksum(_:seed:)-(UnsafeRawBufferPointer,_)`` computed from tables whatever the CPU has.
    package static func tableChecksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        crc.checksum(bytes, seed: seed)
    }

    /// The CRC-32C of `bytes`, continuing from `seed` (0 for a fresh checksum).
    package static func checksum(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, seed: seed) }
    }
}
