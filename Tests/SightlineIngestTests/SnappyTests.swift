import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineIngest

struct SnappyTests {
    private func roundTrip(_ input: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        let compressed = Snappy.compress(input)
        #expect(compressed.count <= Snappy.maxCompressedLength(input.count), sourceLocation: sourceLocation)
        #expect(try compressed.withUnsafeBytes { try Snappy.decompressedLength($0) } == input.count, sourceLocation: sourceLocation)
        let output = try Snappy.decompress(compressed, maxOutput: input.count)
        #expect(output == input, sourceLocation: sourceLocation)
        return compressed
    }

    private func error(_ bytes: [UInt8], maxOutput: Int = 1 << 20) -> SightlineError? {
        sightlineError { _ = try Snappy.decompress(bytes, maxOutput: maxOutput) }
    }

    /// A block from a length and raw element bytes.
    private func block(_ length: Int, _ elements: [UInt8]) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.writeRawVarint(UInt64(length))
        return writer.bytes + elements
    }

    // MARK: Round trips

    @Test func roundTripsEmptyAndOneByte() throws {
        #expect(try roundTrip([]) == [0])
        #expect(try roundTrip([42]) == [1, 0, 42])
        #expect(try Snappy.decompress([0], maxOutput: 0) == [])
    }

    @Test func roundTripsShortInputsOfEveryLength() throws {
        let text = RemoteWriteFixtures.mixedText(300)
        for count in 0...text.count {
            _ = try roundTrip(Array(text[..<count]))
        }
    }

    @Test func compressesHighlyRepetitiveInput() throws {
        let ones = [UInt8](repeating: 7, count: 1 << 20)
        #expect(try roundTrip(ones).count < 60_000)
        var phrase: [UInt8] = []
        while phrase.count < 1 << 20 { phrase += Array("node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} ".utf8) }
        #expect(try roundTrip(phrase).count < 60_000)
    }

    @Test func roundTripsRandomMegabyte() throws {
        let random = RemoteWriteFixtures.randomBytes(1 << 20, seed: 7)
        let compressed = try roundTrip(random)
        #expect(compressed.count > random.count)  // incompressible: literals only, with their small overhead
    }

    @Test func compressesAboutAsWellAsTheReference() throws {
        let text = RemoteWriteFixtures.mixedText(70_000)
        let compressed = try roundTrip(text)
        // The reference (Rust snap via cramjam) produced 12,529 bytes; the same algorithm should land close.
        #expect(compressed.count < RemoteWriteFixtures.snappyMixed.count * 11 / 10)
    }

    // MARK: Reference fixtures

    @Test func decompressesReferenceBlocks() throws {
        #expect(
            try Snappy.decompress(RemoteWriteFixtures.snappyShort, maxOutput: 100)
                == Array("Hello, Sightline! Hello, Sightline! snappy works.\n".utf8))
        let mixed = try Snappy.decompress(RemoteWriteFixtures.snappyMixed, maxOutput: 70_000)
        #expect(mixed.count == 70_000)
        #expect(CRC32.checksum(mixed) == RemoteWriteFixtures.mixedCRC32)
        #expect(mixed == RemoteWriteFixtures.mixedText(70_000))
        #expect(
            try Snappy.decompress(RemoteWriteFixtures.snappyRandom, maxOutput: 200)
                == RemoteWriteFixtures.randomBytes(200, seed: 99))
    }

    // MARK: Element forms

    /// Offsets below 8 repeat a pattern shorter than a word; 8 and more move in words whose sources overlap the copy.
    @Test(arguments: [1, 2, 3, 4, 7, 8, 9, 15, 16])
    func decodesOverlappingCopies(offset: Int) throws {
        let seed = Array("wxyzabcdefghijkl".utf8.prefix(offset))
        func expected(_ count: Int) -> [UInt8] { (0..<count).map { seed[$0 % offset] } }
        let literal: [UInt8] = [UInt8(offset - 1) << 2] + seed
        // copy-1: length 4...11, offset < 2048.
        let copy1 = block(offset + 11, literal + [0b000_111_01, UInt8(offset)])
        #expect(try Snappy.decompress(copy1, maxOutput: 100) == expected(offset + 11))
        // copy-2: length up to 64.
        let copy2 = block(offset + 64 + 5, literal + [63 << 2 | 2, UInt8(offset), 0, 4 << 2 | 2, UInt8(offset), 0])
        #expect(try Snappy.decompress(copy2, maxOutput: 200) == expected(offset + 69))
        // copy-4: what no common encoder writes, but decoders must read.
        let copy4 = block(offset + 40, literal + [39 << 2 | 3, UInt8(offset), 0, 0, 0])
        #expect(try Snappy.decompress(copy4, maxOutput: 200) == expected(offset + 40))
    }

    @Test func decodesEveryLiteralLengthForm() throws {
        let data = RemoteWriteFixtures.randomBytes(70_000, seed: 3)
        // Tag 60..63: the length minus one follows in 1, 2, 3 or 4 little-endian bytes.
        for (count, header) in [(61, [60 << 2, 60] as [UInt8]), (300, [61 << 2, 0x2B, 0x01]), (70_000, [62 << 2, 0x6F, 0x11, 0x01]),
            (1000, [63 << 2, 0xE7, 0x03, 0, 0])]
        {
            let input = block(count, header + data[..<count])
            #expect(try Snappy.decompress(input, maxOutput: count) == Array(data[..<count]))
        }
    }

    @Test func copiesFarBackWithTwoAndFourByteOffsets() throws {
        let data = RemoteWriteFixtures.randomBytes(70_000, seed: 5)
        // 70,000 literal bytes, then copy 10 bytes from 66,000 back (copy-4) and from 1,000 back (copy-2).
        var elements: [UInt8] = [62 << 2, 0x6F, 0x11, 0x01] + data
        elements += [9 << 2 | 3, 0xD0, 0x01, 0x01, 0x00]  // 66,000 = 0x101D0
        elements += [9 << 2 | 2, 0xE8, 0x03]
        let output = try Snappy.decompress(block(70_020, elements), maxOutput: 70_020)
        #expect(Array(output[70_000..<70_010]) == Array(data[4000..<4010]))
        #expect(Array(output[70_010..<70_020]) == Array(output[69_010..<69_020]))
    }

    // MARK: Errors

    @Test func rejectsDeclaredLengthOverTheLimit() {
        let compressed = Snappy.compress([UInt8](repeating: 1, count: 1000))
        #expect(error(compressed, maxOutput: 999)?.code == .tooLarge)
        #expect(error(block(Int(UInt32.max), []), maxOutput: 1 << 20)?.code == .tooLarge)
        #expect(error(compressed, maxOutput: 1000) == nil)
    }

    @Test func rejectsMalformedBlocks() {
        let cases: [([UInt8], String)] = [
            ([], "missing length"),
            ([0x80], "truncated length"),
            ([0x80, 0x80, 0x80, 0x80, 0x80, 0x01], "longer than 5 bytes"),
            ([0xFF, 0xFF, 0xFF, 0xFF, 0x7F], "exceeds 2^32 - 1"),
            ([0, 0], "after the end of an empty block"),
            (block(5, [4 << 2, 1, 2, 3]), "runs past the end of the input"),
            (block(5, [60 << 2]), "truncated literal length"),
            (block(3, [2 << 2, 1, 2, 3, 1]), "truncated 1-byte-offset copy"),
            (block(3, [2 << 2, 1, 2, 3, 2, 1]), "truncated 2-byte-offset copy"),
            (block(3, [2 << 2, 1, 2, 3, 3, 1, 0, 0]), "truncated 4-byte-offset copy"),
            (block(10, [2 << 2, 1, 2, 3, 0b000_011_01, 0]), "refers 0 bytes back"),
            (block(10, [2 << 2, 1, 2, 3, 0b000_011_01, 4]), "refers 4 bytes back, but only 3"),
            (block(10, [2 << 2, 1, 2, 3, 0b000_111_01, 1]), "runs past the declared length"),
            (block(2, [2 << 2, 1, 2, 3]), "runs past the declared length 2"),
            (block(5, [2 << 2, 1, 2, 3]), "decoded 3 bytes, but the block declares 5"),
        ]
        for (input, message) in cases {
            let failure = error(input)
            #expect(failure?.code == .invalidArgument, "\(input)")
            #expect(failure?.message.contains(message) == true, "\(input): \(failure?.message ?? "no error"), expected \(message)")
            #expect(failure?.message.hasPrefix("invalid snappy data: ") == true)
        }
    }

    @Test func corruptInputNeverTraps() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let sources = [
            RemoteWriteFixtures.snappyMixed, RemoteWriteFixtures.snappyShort,
            Snappy.compress(RemoteWriteFixtures.mixedText(5000)),
        ]
        for source in sources {
            for _ in 0..<300 {
                var input = source
                switch next() % 3 {
                case 0: input = Array(input[..<(next() % input.count)])
                case 1:
                    for _ in 0...(next() % 4) { input[next() % input.count] ^= UInt8(1 << (next() % 8)) }
                default:
                    input[next() % input.count] = UInt8(truncatingIfNeeded: next())
                }
                expectDecodesOrFails(with: .invalidArgument, .tooLarge) {
                    let output = try Snappy.decompress(input, maxOutput: 1 << 20)
                    #expect(output.count == (try? input.withUnsafeBytes { try Snappy.decompressedLength($0) }))
                }
            }
        }
    }
}
