import Foundation
import Logging
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineTSDB

@Suite struct BlockStoreTests {
    static let logger = Logger(label: "test.blockstore")

    @Test func openCleansTemporaryDirectoriesAndCompactedSources() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (metas, series) = try CompactorTests.writeSmallBlocks(directory)
        // A compaction that finished writing but crashed before deleting its sources.
        let blocks = try metas.map { try Block(directory: BlockFixtures.blockPath(directory, $0)) }
        let merged = try #require(try Compactor.compact(blocks, into: directory.path, merge: BlockFixtures.concatenate))
        // A block write that crashed half-way, and a deletion that crashed half-way.
        try FileManager.default.createDirectory(atPath: directory.file("01J00000000000000000000000.tmp"), withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: directory.file("01J00000000000000000000000.tmp/chunks")))
        try FileManager.default.createDirectory(atPath: directory.file("01J00000000000000000000001.deleting.tmp"), withIntermediateDirectories: true)
        // Unrelated entries are left alone.
        try FileManager.default.createDirectory(atPath: directory.file("lost+found"), withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: directory.file("README")))

        let store = try BlockStore(directory: directory.path, logger: Self.logger)
        #expect(store.metas == [merged])
        #expect(try directory.entries() == ["README", merged.id, "lost+found"].sorted())
        let got = try store.select([], minTime: .min, maxTime: .max)
        #expect(got.map(\.labels) == series.map(\.labels))
        #expect(got.map { $0.chunks.reduce(0) { $0 + $1.sampleCount } } == series.map { $0.chunks.reduce(0) { $0 + $1.sampleCount } })
    }

    @Test func addAndSelectMergeSeriesAcrossBlocks() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let store = try BlockStore(directory: directory.path, logger: Self.logger)
        var rng = SplitMix64(seed: 21)
        let a = BlockFixtures.labels(["__name__": "up", "job": "api"])
        let b = BlockFixtures.labels(["__name__": "up", "job": "db"])
        let late = BlockFixtures.chunks(start: 10_000_000, count: 2, rng: &rng)
        let early = BlockFixtures.chunks(start: 0, count: 2, rng: &rng)
        let other = BlockFixtures.chunks(start: 0, count: 1, rng: &rng)
        #expect(try store.add([]) == nil)
        let first = try #require(try store.add([SeriesChunks(labels: a, chunks: late)]))
        let second = try #require(try store.add([SeriesChunks(labels: a, chunks: early), SeriesChunks(labels: b, chunks: other)]))
        #expect(store.metas.map(\.id) == [second.id, first.id])  // time order
        #expect(store.totalBytes > 0)
        #expect(try store.select([], minTime: .min, maxTime: .max) == [
            SeriesChunks(labels: a, chunks: early + late), SeriesChunks(labels: b, chunks: other),
        ])
        #expect(try store.select([try LabelMatcher("job", .equal, "api")], minTime: 10_000_000, maxTime: .max) == [
            SeriesChunks(labels: a, chunks: late),
        ])
        #expect(try store.labelNames([]) == ["__name__", "job"])
        #expect(try store.labelValues("job", []) == ["api", "db"])
        #expect(try store.labelValues("job", [try LabelMatcher("job", .notEqual, "api")]) == ["db"])
        // Reopening sees the same.
        let reopened = try BlockStore(directory: directory.path, logger: Self.logger)
        #expect(reopened.metas == store.metas)
        #expect(reopened.totalBytes == store.totalBytes)
    }

    @Test func compactMergesTenSmallBlocksAndDeletesTheSources() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (metas, series) = try CompactorTests.writeSmallBlocks(directory)
        let store = try BlockStore(directory: directory.path, logger: Self.logger)
        #expect(store.metas.count == 10)
        let before = try store.select([], minTime: .min, maxTime: .max)
        #expect(before.map(\.labels) == series.map(\.labels))

        // The data is from 1970: every bucket is complete.
        #expect(try store.compact(merge: BlockFixtures.concatenate) == 10)
        let after = store.metas
        #expect(after.count == 1)
        let merged = try #require(after.first)
        #expect(merged.level == 1)
        #expect(merged.sources == metas.map(\.id).sorted())
        #expect(try directory.entries() == [merged.id])
        let got = try store.select([], minTime: .min, maxTime: .max)
        #expect(got.map(\.labels) == before.map(\.labels))
        for (result, original) in zip(got, before) {
            // Every chunk is there, concatenated in minTime order by the test merge.
            #expect(result.chunks == (original.chunks.count > 1 ? BlockFixtures.concatenate(original.chunks) : original.chunks))
        }
        // Nothing more to do.
        #expect(try store.compact(merge: BlockFixtures.concatenate) == 0)
        // And it survives a reopen.
        #expect(try BlockStore(directory: directory.path, logger: Self.logger).metas == after)
    }

    @Test func recentTinyBlocksWaitForTheFanout() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let store = try BlockStore(directory: directory.path, logger: Self.logger)
        var rng = SplitMix64(seed: 22)
        let now: Int64 = 1_760_000_000_000
        let labels = BlockFixtures.labels(["__name__": "x"])
        let bucket = CompactionPlanner.bucketStart(now, 2 * CompactionPlanner.hourMs)
        for i in 0..<3 {
            let t = bucket + Int64(i) * 10_000
            try store.add([SeriesChunks(labels: labels, chunks: [BlockFixtures.chunk(t, t + 5_000, samples: 5, rng: &rng)])])
        }
        #expect(try store.compact(nowMs: now, merge: BlockFixtures.concatenate) == 0)
        let t = bucket + 40_000
        try store.add([SeriesChunks(labels: labels, chunks: [BlockFixtures.chunk(t, t + 5_000, samples: 5, rng: &rng)])])
        #expect(try store.compact(nowMs: now, merge: BlockFixtures.concatenate) == 4)
        #expect(store.metas.count == 1)
        #expect(try store.select([], minTime: .min, maxTime: .max).first?.chunks.first?.sampleCount == 20)
    }

    @Test func readersRacingCompactionSeeOldOrNewBlocksNeverBoth() async throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (_, series) = try CompactorTests.writeSmallBlocks(directory)
        let store = try BlockStore(directory: directory.path, logger: Self.logger)
        let expectedSamples = series.reduce(0) { $0 + $1.chunks.reduce(0) { $0 + $1.sampleCount } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<50 {
                        let got = try store.select([], minTime: .min, maxTime: .max)
                        // Old and new blocks together would double the samples.
                        #expect(got.reduce(0) { $0 + $1.chunks.reduce(0) { $0 + $1.sampleCount } } == expectedSamples)
                        #expect(got.count == series.count)
                    }
                }
            }
            group.addTask {
                let written = try store.compact(merge: BlockFixtures.concatenate)
                #expect(written == 10)
            }
            try await group.waitForAll()
        }
    }
}
