import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineTSDB

/// Time sections shared by the decimal chunks of series scraped together (``BlockTimes``, ``TimeSectionSharing``).
@Suite struct BlockTimesTests {
    /// `count` decimal values as exporters write them: a random walk of integers over 10^k, k in 0...3 (counters
    /// of bytes, hundredths of seconds, ...).
    private func decimalValues(_ count: Int, rng: inout SplitMix64) -> [Double] {
        let scale = [1.0, 10, 100, 1000][Int.random(in: 0...3, using: &rng)]
        let step = Int64(1) << Int.random(in: 0...30, using: &rng)
        var m = Int64.random(in: -(1 << 40)...(1 << 40), using: &rng)
        return (0..<count).map { _ in
            m += Int64.random(in: -step...step, using: &rng)
            return Double(m) / scale
        }
    }

    /// `targets` scrape targets of `perTarget` series each: one jittered time column per target (15 s step, ±2 ms),
    /// `samples` decimal samples per series encoded the way blocks store them.
    private func scrapedSeries(targets: Int, perTarget: Int, samples: Int, start: Int64 = 1_700_000_000_000, seed: UInt64) -> [SeriesChunks] {
        var generator = SeriesGenerator(seed: seed)
        var series: [SeriesChunks] = []
        for target in 0..<targets {
            let offset = Int64.random(in: 0..<15_000, using: &generator.rng)
            let times = (0..<samples).map { i in start + offset + Int64(i) * 15_000 + Int64.random(in: -2...2, using: &generator.rng) }
            for index in 0..<perTarget {
                let values = decimalValues(samples, rng: &generator.rng)
                series.append(SeriesChunks(
                    labels: BlockFixtures.labels(["__name__": "m\(index)", "instance": "host-\(target)"]),
                    chunks: ChunkCodec.encodeForBlock(timestamps: times, values: values)))
            }
        }
        return series
    }

    @Test func seriesScrapedTogetherStoreTheirTimesOnceAndReadBackByteForByte() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block-times")
        defer { directory.remove() }
        // 600 samples: two chunks per series (480 + 120), each shared by the target's series.
        let series = scrapedSeries(targets: 6, perTarget: 9, samples: 600, seed: 11)
        let chunks = series.flatMap(\.chunks)
        #expect(chunks.allSatisfy { $0.encoding == .decimal })
        let meta = try #require(try BlockWriter.write(series, level: 0, sources: [], into: directory.path))
        let block = try Block(directory: BlockFixtures.blockPath(directory, meta))
        #expect(meta.version == 2)
        #expect(block.times.count == 6 * 2)
        #expect(try block.select([], minTime: .min, maxTime: .max) == series.sorted { $0.labels < $1.labels })

        // The chunks file holds each section once, plus a few bytes of framing and reference per chunk.
        let sectionBytes = try chunks.map { (try #require(DecimalChunk.timeSectionBitCount($0.bytes)) + 7) / 8 }
        let uniqueSectionBytes = (0..<block.times.count).reduce(0) { $0 + block.times.sections[$1].count }
        let chunksFile = try BlockFiles.size(directory.file(meta.id + "/chunks"))
        let payloads = chunks.reduce(0) { $0 + $1.bytes.count }
        let repeated = sectionBytes.reduce(0, +) - 2 * uniqueSectionBytes  // the table's copy and each first chunk's
        #expect(chunksFile <= Int64(5 + payloads - repeated + 12 * chunks.count))
        #expect(chunksFile >= Int64(payloads - sectionBytes.reduce(0, +)))
    }

    /// Every alignment of the section's end within a byte, every chunk length: the record gives the chunk back.
    @Test func sharedRecordsRebuildEveryChunkBitForBit() throws {
        var generator = SeriesGenerator(seed: 0x71E5)
        var sharing = TimeSectionSharing()
        var alignments = Set<Int>()
        for round in 0..<400 {
            let count = round % 7 == 0 ? Int.random(in: 1...3, using: &generator.rng) : Int.random(in: 4...480, using: &generator.rng)
            var t = Int64.random(in: -(1 << 40)...(1 << 40), using: &generator.rng)
            let times = (0..<count).map { _ in
                t += Int64.random(in: 1...Int64(1 << Int.random(in: 1...30, using: &generator.rng)), using: &generator.rng)
                return t
            }
            let first = try #require(DecimalChunk.encode(timestamps: times, values: decimalValues(count, rng: &generator.rng)))
            let second = try #require(DecimalChunk.encode(timestamps: times, values: decimalValues(count, rng: &generator.rng)))
            #expect(sharing.reference(for: first) == nil, "round \(round): the first chunk with a section is stored whole")
            let reference = sharing.reference(for: second)
            let shared = try #require(reference)
            #expect(shared.bitCount == DecimalChunk.timeSectionBitCount(second.bytes))
            alignments.insert(shared.bitCount % 8)
            var writer = ByteWriter()
            let length = ChunkRecord.append(second, sharingTimes: shared.ref, bitCount: shared.bitCount, to: &writer)
            #expect(length == writer.bytes.count)
            let decoded = try writer.bytes.withUnsafeBytes {
                try ChunkRecord.decode($0, minTime: second.minTime, maxTime: second.maxTime, times: sharing.table, path: "chunks", offset: 5)
            }
            #expect(decoded == second, "round \(round)")
            let samples = try DecimalChunk.decode(decoded)
            #expect(samples.timestamps == times)
        }
        #expect(alignments.count == 8)
        #expect(sharing.table.count == 400)
    }

    @Test func chunksThatAreNotDecimalAreStoredWhole() {
        var rng = SplitMix64(seed: 3)
        var sharing = TimeSectionSharing()
        let chunk = BlockFixtures.chunk(1000, 2000, rng: &rng)
        #expect(sharing.reference(for: chunk) == nil)
        #expect(sharing.reference(for: chunk) == nil)
        let damaged = ChunkData(minTime: 0, maxTime: 0, sampleCount: 5, encoding: .decimal, bytes: [0x05])
        #expect(sharing.reference(for: damaged) == nil)
        #expect(sharing.reference(for: damaged) == nil)
        #expect(sharing.table.count == 0)
    }

    @Test func compactionKeepsSharingAcrossInputBlocks() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block-times")
        defer { directory.remove() }
        let early = scrapedSeries(targets: 3, perTarget: 4, samples: 480, start: 1_700_000_000_000, seed: 21)
        let late = scrapedSeries(targets: 3, perTarget: 4, samples: 480, start: 1_700_000_000_000 + 480 * 15_000, seed: 22)
        let blocks = try [early, late].map { series in
            let meta = try #require(try BlockWriter.write(series, level: 0, sources: [], into: directory.path))
            return try Block(directory: BlockFixtures.blockPath(directory, meta))
        }
        let merged = try #require(try Compactor.compact(blocks, into: directory.path, merge: ChunkCodec.compact))
        let block = try Block(directory: BlockFixtures.blockPath(directory, merged))
        #expect(block.times.count == 6)
        let expected = zip(early, late).map { SeriesChunks(labels: $0.labels, chunks: $0.chunks + $1.chunks) }
        #expect(try block.select([], minTime: .min, maxTime: .max) == expected.sorted { $0.labels < $1.labels })
    }

    /// Blocks written before the `times` file existed (format version 1) still open and read.
    @Test func versionOneBlocksStillOpen() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block-times")
        defer { directory.remove() }
        var rng = SplitMix64(seed: 4)
        let series = BlockFixtures.matcherSeries(rng: &rng)
        let meta = try #require(try BlockWriter.write(series, level: 0, sources: [], into: directory.path))
        let path = BlockFixtures.blockPath(directory, meta)
        var old = meta
        old.version = 1
        try BlockFiles.writeFile(path + "/meta.json", try BlockMetaFile.encode(old))
        try FileManager.default.removeItem(atPath: path + "/times")
        let block = try Block(directory: path)
        #expect(block.meta.version == 1)
        #expect(try block.select([], minTime: .min, maxTime: .max) == series.sorted { $0.labels < $1.labels })

        old.version = 3
        try BlockFiles.writeFile(path + "/meta.json", try BlockMetaFile.encode(old))
        let error = #expect(throws: SightlineError.self) { try Block(directory: path) }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains("unsupported block format version 3") == true)
    }

    @Test func aDamagedTimesFileIsCorruptionNamingIt() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block-times")
        defer { directory.remove() }
        let meta = try #require(try BlockWriter.write(
            scrapedSeries(targets: 2, perTarget: 3, samples: 100, seed: 5), level: 0, sources: [], into: directory.path))
        let timesPath = BlockFixtures.blockPath(directory, meta) + "/times"
        let bytes = try BlockFixtures.read(timesPath)
        for damaged in [Array(bytes[0..<(bytes.count - 1)]), bytes.enumerated().map { $0 == 9 ? $1 ^ 0x10 : $1 }, [UInt8](Array("SLBX".utf8)) + bytes[4...]] {
            try BlockFiles.writeFile(timesPath, damaged)
            let error = #expect(throws: SightlineError.self) { try Block(directory: BlockFixtures.blockPath(directory, meta)) }
            #expect(error?.code == .dataCorrupted)
            #expect(error?.message.contains("times file \(timesPath)") == true)
        }
    }

    @Test func aReferenceToAMissingSectionIsCorruption() throws {
        var rng = SplitMix64(seed: 9)
        let chunk = try #require(DecimalChunk.encode(timestamps: (0..<50).map { Int64($0) * 15_000 }, values: decimalValues(50, rng: &rng)))
        var writer = ByteWriter()
        _ = ChunkRecord.append(chunk, sharingTimes: 2, bitCount: try #require(DecimalChunk.timeSectionBitCount(chunk.bytes)), to: &writer)
        let error = #expect(throws: SightlineError.self) {
            try writer.bytes.withUnsafeBytes {
                try ChunkRecord.decode($0, minTime: chunk.minTime, maxTime: chunk.maxTime, times: BlockTimes(), path: "chunks", offset: 77)
            }
        }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains("time section 2 of a block with 0 in chunk record at offset 77") == true)
    }

    @Test func theTimesFileRoundTrips() throws {
        var table = BlockTimes()
        _ = table.append([0xA0], bitCount: 3)
        _ = table.append([0x12, 0x34, 0x56], bitCount: 24)
        let decoded = try BlockTimes(bytes: table.encoded(), path: "times")
        #expect(decoded.sections == table.sections)
        #expect(decoded.bitCounts == [3, 24])
        #expect(try BlockTimes(bytes: BlockTimes().encoded(), path: "times").count == 0)
    }
}
