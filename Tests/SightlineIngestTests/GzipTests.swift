import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineIngest

struct GzipTests {
    private static let short = Array("Hello, Sightline! Hello, Sightline! gzip works.\n".utf8)

    /// The 200 KB text the level 1/6/9 fixtures compress: 100 KB of one repeated line, then pseudo-random words.
    static let sampleText: [UInt8] = {
        var out: [UInt8] = []
        let line = Array("The quick brown fox jumps over the lazy dog. 0123456789\n".utf8)
        while out.count < 100_000 { out += line }
        let words = [
            "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu", "xi",
            "omicron", "pi",
        ]
        var state: UInt32 = 12345
        var index = 0
        while out.count < 200_000 {
            var parts: [String] = []
            for _ in 0..<8 {
                state = state &* 1_103_515_245 &+ 12345
                parts.append(words[Int((state >> 16) % 16)])
            }
            out += Array("line \(index): \(parts.joined(separator: " "))\n".utf8)
            index += 1
        }
        return Array(out[..<200_000])
    }()

    private func error(_ bytes: [UInt8], maxOutput: Int = 1 << 20) -> SightlineError? {
        sightlineError { _ = try Gzip.decompress(bytes, maxOutput: maxOutput) }
    }

    @Test func crc32MatchesTheCheckValueWholeInPiecesAndAsAnySequence() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        var random = SplitMix64(seed: 32)
        let data = (0..<1_003).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let whole = CRC32.checksum(data)
        // Every split point, across the 8-byte steps and the byte tail.
        for split in [0, 1, 7, 8, 9, 500, 1_002, 1_003] {
            #expect(CRC32.checksum(Array(data[split...]), continuing: CRC32.checksum(Array(data[..<split]))) == whole, "split \(split)")
        }
        // A sequence without contiguous storage takes the byte-at-a-time path.
        #expect(CRC32.checksum(data.lazy.map { $0 }) == whole)
    }

    @Test func decompressesEmptyInput() throws {
        #expect(try Gzip.decompress(GzipFixtures.empty, maxOutput: 0) == [])
    }

    @Test func decompressesShortTextStoredAndWithAllHeaderFlags() throws {
        #expect(try Gzip.decompress(GzipFixtures.short, maxOutput: 1000) == Self.short)
        #expect(try Gzip.decompress(GzipFixtures.stored, maxOutput: 1000) == Self.short)
        #expect(try Gzip.decompress(GzipFixtures.allHeaderFlags, maxOutput: 1000) == Self.short)
    }

    @Test(arguments: [GzipFixtures.sampleLevel1, GzipFixtures.sampleLevel6, GzipFixtures.sampleLevel9])
    func decompressesLargeTextAtEveryLevel(fixture: [UInt8]) throws {
        let output = try Gzip.decompress(fixture, maxOutput: 200_000)
        #expect(output.count == 200_000)
        #expect(output == Self.sampleText)
    }

    @Test func decompressesConcatenatedMembers() throws {
        #expect(try Gzip.decompress(GzipFixtures.multiMember, maxOutput: 1000) == Array("first member\nsecond member\n".utf8))
    }

    @Test func enforcesTheOutputLimit() {
        let error = error(GzipFixtures.sampleLevel6, maxOutput: 199_999)
        #expect(error?.code == .tooLarge)
        #expect(self.error(GzipFixtures.short, maxOutput: 10)?.code == .tooLarge)
        #expect(self.error(GzipFixtures.stored, maxOutput: 10)?.code == .tooLarge)
    }

    @Test func detectsCorruptCRCAndLength() {
        var badCRC = GzipFixtures.short
        badCRC[badCRC.count - 8] ^= 0x01
        #expect(error(badCRC)?.code == .invalidArgument)
        #expect(error(badCRC)?.message == "invalid gzip data: CRC-32 mismatch in member 0")
        var badLength = GzipFixtures.short
        badLength[badLength.count - 1] ^= 0x01
        #expect(error(badLength)?.message == "invalid gzip data: length mismatch in member 0")
        var badHeaderCRC = GzipFixtures.allHeaderFlags
        // The header CRC sits right after "a comment\0".
        let commentEnd = (0..<badHeaderCRC.count).first { i in
            Array(badHeaderCRC[i..<min(i + 10, badHeaderCRC.count)]) == Array("a comment\0".utf8)
        }
        if let commentEnd {
            badHeaderCRC[commentEnd + 10] ^= 0xFF
            #expect(error(badHeaderCRC)?.message == "invalid gzip data: header CRC mismatch")
        } else {
            Issue.record("comment not found in fixture")
        }
    }

    @Test func detectsTruncationAndBadHeaders() {
        #expect(error([])?.message == "invalid gzip data: truncated header of member 0")
        #expect(error([0x1F, 0x8C, 8, 0, 0, 0, 0, 0, 0, 3])?.message == "invalid gzip data: bad magic number in member 0")
        let fixture = GzipFixtures.sampleLevel6
        for cut in [fixture.count - 1, fixture.count - 8, fixture.count / 2, 11] {
            let error = error(Array(fixture[..<cut]))
            #expect(error?.code == .invalidArgument, "cut at \(cut)")
        }
        var trailingGarbage = GzipFixtures.short
        trailingGarbage += [1, 2, 3]
        #expect(error(trailingGarbage)?.code == .invalidArgument)
    }

    @Test func randomCorruptionNeverTraps() {
        var rng = SplitMix64(seed: 7)
        for (fixture, rounds) in [(GzipFixtures.short, 500), (GzipFixtures.stored, 500), (GzipFixtures.sampleLevel1, 40)] {
            for _ in 0..<rounds {
                var corrupted = fixture
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    corrupted[10 + Int(rng.next() % UInt64(corrupted.count - 10))] = UInt8(truncatingIfNeeded: rng.next())
                }
                let cut = Int(rng.next() % UInt64(corrupted.count + 1))
                expectDecodesOrFails(with: .invalidArgument, .tooLarge) {
                    _ = try Gzip.decompress(Array(corrupted[..<cut]), maxOutput: 300_000)
                }
            }
        }
    }

    @Test func crc32MatchesKnownValues() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        #expect(CRC32.checksum(Self.sampleText) == 3_387_206_892)
    }
}
