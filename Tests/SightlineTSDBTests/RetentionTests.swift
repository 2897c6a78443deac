import Foundation
import Logging
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineTSDB

@Suite struct RetentionTests {
    static let h = CompactionPlanner.hourMs

    /// A store with four blocks covering hours [0,1], [2,3], [4,5], [6,7] (maxTime inclusive, ms).
    static func store(_ directory: TemporaryDirectory) throws -> (BlockStore, [BlockMeta]) {
        let store = try BlockStore(directory: directory.path, logger: Logger(label: "test.retention"))
        var rng = SplitMix64(seed: 31)
        var metas: [BlockMeta] = []
        for k in 0..<4 {
            let start = Int64(2 * k) * h
            let labels = BlockFixtures.labels(["__name__": "x", "k": "\(k)"])
            let chunk = BlockFixtures.chunk(start, start + h, size: 100 + 10 * k, rng: &rng)
            metas.append(try #require(try store.add([SeriesChunks(labels: labels, chunks: [chunk])])))
        }
        return (store, metas)
    }

    @Test func byAgeDeletesOnlyBlocksEndingBeforeTheCutoff() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (store, metas) = try Self.store(directory)
        // Cutoff = 10h − 7h = 3h: block 0 ends at 1h (deleted); block 1 ends exactly at 3h (kept).
        #expect(try store.applyRetention(maxAgeMs: 7 * Self.h, maxBytes: nil, nowMs: 10 * Self.h) == [metas[0].id])
        #expect(store.metas == Array(metas[1...]))
        #expect(try directory.entries() == metas[1...].map(\.id).sorted())
        // Cutoff 3h + 1 ms: block 1 goes too.
        #expect(try store.applyRetention(maxAgeMs: 7 * Self.h - 1, maxBytes: nil, nowMs: 10 * Self.h) == [metas[1].id])
        #expect(try store.applyRetention(maxAgeMs: nil, maxBytes: nil, nowMs: 100 * Self.h) == [])
        #expect(try store.select([], minTime: .min, maxTime: .max).map { $0.labels["k"] } == ["2", "3"])
        #expect(try BlockStore(directory: directory.path, logger: Logger(label: "test")).metas == Array(metas[2...]))
    }

    @Test func bySizeDeletesOldestBlocksUntilUnderTheLimit() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (store, metas) = try Self.store(directory)
        let total = store.totalBytes
        #expect(try store.applyRetention(maxAgeMs: nil, maxBytes: total, nowMs: 0) == [])
        #expect(try store.applyRetention(maxAgeMs: nil, maxBytes: total - 1, nowMs: 0) == [metas[0].id])
        #expect(store.metas == Array(metas[1...]))
        // Room for the newest two only.
        let newestTwo = store.totalBytes - (try sizeOfBlock(directory, metas[1]))
        #expect(try store.applyRetention(maxAgeMs: nil, maxBytes: newestTwo, nowMs: 0) == [metas[1].id])
        #expect(store.totalBytes == newestTwo)
        #expect(try directory.entries() == metas[2...].map(\.id).sorted())
    }

    @Test func ageThenSizeInOnePass() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (store, metas) = try Self.store(directory)
        let last = try sizeOfBlock(directory, metas[3])
        let deleted = try store.applyRetention(maxAgeMs: 7 * Self.h, maxBytes: last, nowMs: 10 * Self.h)
        #expect(deleted == [metas[0].id, metas[1].id, metas[2].id])
        #expect(store.metas == [metas[3]])
    }

    /// The size of a block's files.
    private func sizeOfBlock(_ directory: TemporaryDirectory, _ meta: BlockMeta) throws -> Int64 {
        try FileManager.default.contentsOfDirectory(atPath: directory.file(meta.id)).reduce(Int64(0)) { sum, file in
            sum + (try BlockFiles.size(directory.file(meta.id + "/" + file)))
        }
    }
}
