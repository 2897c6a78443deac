import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineTSDB

@Suite struct CompactorTests {
    /// Ten level-0 blocks of a few seconds each; series `s0…s9` appear in every block, `only-k` only in block k.
    static func writeSmallBlocks(_ directory: TemporaryDirectory, seed: UInt64 = 11) throws -> (metas: [BlockMeta], series: [SeriesChunks]) {
        var rng = SplitMix64(seed: seed)
        var metas: [BlockMeta] = []
        var all: [Labels: [ChunkData]] = [:]
        for k in 0..<10 {
            let start = 1_000_000 + Int64(k) * 10_000
            var series: [SeriesChunks] = []
            for s in 0..<10 {
                let labels = BlockFixtures.labels(["__name__": "requests", "series": "s\(s)", "job": s % 2 == 0 ? "api" : "db"])
                series.append(SeriesChunks(labels: labels, chunks: [BlockFixtures.chunk(start + Int64(s), start + 9_000, samples: 5, size: 12 + s, rng: &rng)]))
            }
            series.append(SeriesChunks(
                labels: BlockFixtures.labels(["__name__": "only", "k": "\(k)"]),
                chunks: [BlockFixtures.chunk(start, start + 5_000, samples: 3, size: 9, rng: &rng)]))
            for entry in series { all[entry.labels, default: []] += entry.chunks }
            metas.append(try #require(try BlockWriter.write(series, level: 0, sources: [], into: directory.path)))
        }
        let expected = all.map { SeriesChunks(labels: $0.key, chunks: $0.value) }.sorted { $0.labels < $1.labels }
        return (metas, expected)
    }

    @Test func tenSmallBlocksBecomeOneWithEverySeriesAndChunk() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (metas, series) = try Self.writeSmallBlocks(directory)
        let blocks = try metas.map { try Block(directory: BlockFixtures.blockPath(directory, $0)) }
        var mergeCalls = 0
        let meta = try #require(try Compactor.compact(blocks, into: directory.path) { chunks in
            mergeCalls += 1
            return BlockFixtures.concatenate(chunks)
        })
        #expect(meta.level == 1)
        #expect(meta.sources == metas.map(\.id).sorted())
        #expect(meta.minTime == metas.map(\.minTime).min())
        #expect(meta.maxTime == metas.map(\.maxTime).max())
        #expect(meta.stats.series == 20)
        #expect(meta.stats.samples == metas.reduce(0) { $0 + $1.stats.samples })
        // The s* series had 10 small chunks each: merged into one. The only-k series had one chunk: copied.
        #expect(mergeCalls == 10)
        #expect(meta.stats.chunks == 20)
        let merged = try Block(directory: BlockFixtures.blockPath(directory, meta))
        let got = try merged.select([], minTime: .min, maxTime: .max)
        #expect(got.map(\.labels) == series.map(\.labels))
        for (result, original) in zip(got, series) {
            #expect(result.chunks == (original.chunks.count > 1 ? BlockFixtures.concatenate(original.chunks) : original.chunks))
        }
        // The inputs are untouched: deleting them is the store's job.
        #expect(try directory.entries().count == 11)
    }

    @Test func fullNonOverlappingChunksAreCopiedWithoutMerging() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        var rng = SplitMix64(seed: 12)
        let labels = BlockFixtures.labels(["__name__": "x"])
        let first = BlockFixtures.chunks(start: 0, count: 2, rng: &rng)
        let second = BlockFixtures.chunks(start: 10_000_000, count: 2, rng: &rng)
        let a = try #require(try BlockWriter.write([SeriesChunks(labels: labels, chunks: second)], level: 0, sources: [], into: directory.path))
        let b = try #require(try BlockWriter.write([SeriesChunks(labels: labels, chunks: first)], level: 3, sources: [], into: directory.path))
        let blocks = try [a, b].map { try Block(directory: BlockFixtures.blockPath(directory, $0)) }
        let meta = try #require(try Compactor.compact(blocks, into: directory.path) { _ in
            Issue.record("merge must not be called")
            return []
        })
        #expect(meta.level == 4)
        let got = try Block(directory: BlockFixtures.blockPath(directory, meta)).select([], minTime: .min, maxTime: .max)
        #expect(got == [SeriesChunks(labels: labels, chunks: first + second)])
    }

    @Test func overlappingChunksGoThroughMerge() throws {
        var rng = SplitMix64(seed: 13)
        let a = BlockFixtures.chunk(0, 1_000, samples: 120, rng: &rng)
        let b = BlockFixtures.chunk(500, 2_000, samples: 120, rng: &rng)
        let c = BlockFixtures.chunk(3_000, 4_000, samples: 120, rng: &rng)
        var seen: [[ChunkData]] = []
        let result = try Compactor.mergeIfNeeded([c, b, a]) { chunks in
            seen.append(chunks)
            return BlockFixtures.concatenate(chunks)
        }
        #expect(seen == [[a, b, c]])
        #expect(result == BlockFixtures.concatenate([a, b, c]))
        // Overlap with an earlier chunk that is not the previous one still counts.
        let long = BlockFixtures.chunk(0, 10_000, samples: 120, rng: &rng)
        var called = false
        _ = try Compactor.mergeIfNeeded([long, c, BlockFixtures.chunk(5_000, 6_000, samples: 120, rng: &rng)]) { called = true; return $0 }
        #expect(called)
        // One small chunk among full ones is left alone.
        let small = BlockFixtures.chunk(5_000, 6_000, samples: 10, rng: &rng)
        #expect(try Compactor.mergeIfNeeded([a, c, small]) { _ in [] } == [a, c, small])
    }

    @Test func equalMinTimesComeOlderBlockFirst() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        var rng = SplitMix64(seed: 14)
        let labels = BlockFixtures.labels(["__name__": "x"])
        let old = BlockFixtures.chunk(0, 1_000, samples: 120, rng: &rng)
        let new = BlockFixtures.chunk(0, 1_000, samples: 120, rng: &rng)
        let a = try #require(try BlockWriter.write([SeriesChunks(labels: labels, chunks: [old])], level: 0, sources: [], into: directory.path))
        let b = try #require(try BlockWriter.write([SeriesChunks(labels: labels, chunks: [new])], level: 0, sources: [], into: directory.path))
        #expect(a.id < b.id)
        // Whatever order the caller passes the blocks in.
        let blocks = try [b, a].map { try Block(directory: BlockFixtures.blockPath(directory, $0)) }
        var seen: [[ChunkData]] = []
        _ = try Compactor.compact(blocks, into: directory.path) { chunks in
            seen.append(chunks)
            return [chunks[chunks.count - 1]]
        }
        #expect(seen == [[old, new]])
    }

    @Test func blockIDsAreMonotonicWithinAProcess() {
        let ids = (0..<1_000).map { _ in BlockID.generate(nowMs: 1_000) }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy(BlockID.isValid))
        #expect(BlockID.successor("0000000000000000000000000Z") == "00000000000000000000000010")
    }

    @Test func mergeErrorLeavesNoPartialBlock() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (metas, _) = try Self.writeSmallBlocks(directory)
        let blocks = try metas.map { try Block(directory: BlockFixtures.blockPath(directory, $0)) }
        struct Boom: Error {}
        #expect(throws: Boom.self) { try Compactor.compact(blocks, into: directory.path) { _ in throw Boom() } }
        #expect(try directory.entries() == metas.map(\.id).sorted())
    }
}
