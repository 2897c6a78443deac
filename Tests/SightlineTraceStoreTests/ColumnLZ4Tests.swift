import SightlineCore
import SightlineTestSupport
import Testing
@testable import SightlineTraceStore

struct ColumnLZ4Tests {
    /// Inputs that exercise literal runs, long matches, overlapping copies and the end-of-block rules.
    static func samples() -> [[UInt8]] {
        var random = SplitMix64(seed: 7)
        let noise = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let text = Array(String(repeating: "GET /api/v1/orders?id=42 HTTP/1.1 200 ", count: 300).utf8)
        var ids: [UInt8] = []
        for i in 0..<2000 { withUnsafeBytes(of: UInt64(0xABCD_0000 + i / 3).littleEndian) { ids.append(contentsOf: $0) } }
        return [[], [1], Array(repeating: 7, count: 12), Array(repeating: 7, count: 13), Array(repeating: 0, count: 100_000), noise, text, ids,
            noise.prefix(300) + text + noise.prefix(300)]
    }

    @Test func roundTripsAndCompressesRepetition() throws {
        for sample in Self.samples() {
            let compressed = ColumnLZ4.compress(sample)
            let restored = try compressed.withUnsafeBytes { try ColumnLZ4.decompress($0, size: sample.count) }
            #expect(restored == sample)
        }
        #expect(ColumnLZ4.compress(Array(repeating: 0, count: 100_000)).count < 1000)
    }

    @Test func damagedBlocksThrowDataCorrupted() throws {
        let sample = Self.samples()[6]
        let compressed = ColumnLZ4.compress(sample)
        let wrongSize = sightlineError { _ = try compressed.withUnsafeBytes { try ColumnLZ4.decompress($0, size: sample.count + 1) } }
        #expect(wrongSize?.code == .dataCorrupted)
        #expect(wrongSize?.message.contains("expands to") == true)
        let badOffset: [UInt8] = [0x10, 0x41, 0x05, 0x00, 0x00]
        #expect(sightlineError { _ = try badOffset.withUnsafeBytes { try ColumnLZ4.decompress($0, size: 10) } }?.message.contains("offset") == true)
        var random = SplitMix64(seed: 9)
        for _ in 0..<500 {
            var damaged = compressed.prefix(Int.random(in: 0...compressed.count, using: &random)).map { $0 }
            if !damaged.isEmpty { damaged[Int.random(in: 0..<damaged.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random) }
            expectDecodesOrFails(with: .dataCorrupted) { _ = try damaged.withUnsafeBytes { try ColumnLZ4.decompress($0, size: sample.count) } }
        }
    }
}
