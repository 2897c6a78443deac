import SightlineCore
import SightlineStorageCore
import SightlineTestSupport
import Testing

struct LZ4BlockTests {
    /// Compresses and decompresses `input`, expecting the same bytes back; returns the compressed size.
    @discardableResult
    private func roundTrip(_ input: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        let compressed = LZ4Block.compress(input)
        #expect(compressed.count <= LZ4Block.maxCompressedSize(input.count), sourceLocation: sourceLocation)
        let decompressed = try LZ4Block.decompress(compressed, decompressedSize: input.count)
        #expect(decompressed == input, sourceLocation: sourceLocation)
        return compressed.count
    }

    @Test func emptyInputRoundTrips() throws {
        let compressed = LZ4Block.compress([])
        #expect(compressed == [0])
        #expect(try LZ4Block.decompress(compressed, decompressedSize: 0) == [])
    }

    @Test func shortInputsRoundTrip() throws {
        for length in 0...40 {
            try roundTrip((0..<length).map { UInt8($0 % 3) })
        }
    }

    @Test func repetitiveTextCompresses() throws {
        let line = "GET /api/v1/orders HTTP/1.1 200 512 \"-\" \"curl/8.4.0\"\n"
        let input = Array(String(repeating: line, count: 2000).utf8)
        let size = try roundTrip(input)
        #expect(size * 20 < input.count)
    }

    @Test func runsAndOverlappingMatchesRoundTrip() throws {
        try roundTrip([UInt8](repeating: 7, count: 100_000))
        try roundTrip(Array("abababababababababababababababababababab".utf8))
    }

    @Test func matchesOfEveryLengthEndingAnywhereRoundTrip() throws {
        // A repeat of 4–48 bytes followed by 0–13 other bytes: match extension in words, then bytes, stopping at the
        // first difference or at the last-literals limit.
        var random = SplitMix64(seed: 9)
        let pattern = (0..<64).map { _ in UInt8.random(in: 0...255, using: &random) }
        for length in 4...48 {
            for tail in 0...13 {
                var input = pattern + (0..<16).map { _ in UInt8.random(in: 0...255, using: &random) }
                input += pattern.prefix(length)
                input += (0..<tail).map { _ in UInt8.random(in: 0...255, using: &random) }
                try roundTrip(input)
            }
        }
    }

    @Test func incompressibleInputRoundTripsWithinBound() throws {
        var random = SplitMix64(seed: 42)
        let input = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let size = try roundTrip(input)
        #expect(size >= input.count)
    }

    @Test func seededMixedInputsRoundTrip() throws {
        var random = SplitMix64(seed: 7)
        for _ in 0..<50 {
            let length = Int.random(in: 0...70_000, using: &random)
            let alphabet = UInt8.random(in: 1...255, using: &random)
            // Runs of random length from a small alphabet mixed with copies of earlier bytes, far and near.
            var input: [UInt8] = []
            input.reserveCapacity(length)
            while input.count < length {
                if input.count > 8 && Bool.random(using: &random) {
                    let distance = Int.random(in: 1...min(input.count, 70_000), using: &random)
                    let run = Int.random(in: 1...300, using: &random)
                    for _ in 0..<run where input.count < length { input.append(input[input.count - distance]) }
                } else {
                    input.append(UInt8.random(in: 0...alphabet, using: &random))
                }
            }
            try roundTrip(input)
        }
    }

    /// A block the `lz4` command line tool wrote (`lz4 -BD`, the block taken out of its frame).
    @Test func decodesReferenceBlock() throws {
        let block: [UInt8] = [
            0xf0, 0x10, 0x74, 0x68, 0x65, 0x20, 0x71, 0x75, 0x69, 0x63, 0x6b, 0x20, 0x62, 0x72, 0x6f, 0x77, 0x6e, 0x20, 0x66, 0x6f,
            0x78, 0x20, 0x6a, 0x75, 0x6d, 0x70, 0x73, 0x20, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x1f, 0x00, 0x91, 0x6c, 0x61, 0x7a, 0x79,
            0x20, 0x64, 0x6f, 0x67, 0x3b, 0x0e, 0x00, 0x0f, 0x2d, 0x00, 0x14, 0xaf, 0x20, 0x61, 0x67, 0x61, 0x69, 0x6e, 0x20, 0x61,
            0x6e, 0x64, 0x0a, 0x00, 0x03, 0x50, 0x67, 0x61, 0x69, 0x6e, 0x2e,
        ]
        let text = "the quick brown fox jumps over the lazy dog; the quick brown fox jumps over the lazy dog again and again and again and again."
        #expect(try LZ4Block.decompress(block, decompressedSize: text.utf8.count) == Array(text.utf8))
    }

    @Test func damagedBlocksThrowDataCorrupted() throws {
        let input = Array(String(repeating: "sightline log store ", count: 500).utf8)
        let compressed = LZ4Block.compress(input)
        // Wrong sizes, an empty block, cut blocks, an offset before the start.
        for (bytes, size) in [(compressed, input.count - 1), (compressed, input.count + 1), ([], 0), ([0x1F, 0x41], 20)] {
            #expect(sightlineError { _ = try LZ4Block.decompress(bytes, decompressedSize: size) }?.code == .dataCorrupted)
        }
        for cut in [1, 2, compressed.count / 2, compressed.count - 1] {
            #expect(sightlineError { _ = try LZ4Block.decompress(Array(compressed.prefix(cut)), decompressedSize: input.count) }?.code == .dataCorrupted)
        }
        #expect(sightlineError { _ = try LZ4Block.decompress([0x10, 0x41, 0x05, 0x00], decompressedSize: 9) }?.code == .dataCorrupted)
        // Random damage must never trap: it decodes or throws dataCorrupted.
        var random = SplitMix64(seed: 3)
        for _ in 0..<300 {
            var damaged = compressed
            for _ in 0..<3 { damaged[Int.random(in: 0..<damaged.count, using: &random)] = UInt8.random(in: 0...255, using: &random) }
            expectDecodesOrFails(with: .dataCorrupted) { _ = try LZ4Block.decompress(damaged, decompressedSize: input.count) }
        }
    }
}
