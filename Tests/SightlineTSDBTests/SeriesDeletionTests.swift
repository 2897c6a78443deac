import Foundation
import Logging
import SightlineTestSupport
import Testing

@testable import SightlineCore
@testable import SightlineTSDB

/// Deleting samples (``SeriesDeletion``) from the head and the blocks, against a model of what should be left.
struct SeriesDeletionTests {
    private static let tenant = Tenant(uncheckedID: "acme")
    private static let everything = [try! LabelMatcher("__name__", .regexMatch, ".+")]

    /// What the engine should hold: per series, its samples by time.
    private struct Model {
        var series: [Labels: [Int64: Double]] = [:]

        mutating func apply(_ batch: MetricBatch) {
            for sample in batch.samples where series[sample.labels]?[sample.timestampMs] == nil {
                series[sample.labels, default: [:]][sample.timestampMs] = sample.value
            }
            for deletion in batch.deletions {
                for labels in series.keys where deletion.covers(labels) {
                    series[labels] = series[labels]?.filter { $0.key < deletion.startMs || $0.key > deletion.endMs }
                }
            }
        }

        var expected: [SeriesSamples] {
            series.filter { !$0.value.isEmpty }.keys.sorted().map { labels in
                let samples = series[labels]!.sorted { $0.key < $1.key }
                return SeriesSamples(labels: labels, timestampsMs: samples.map(\.key), values: samples.map(\.value))
            }
        }

        func newest(_ labels: Labels) -> Int64? { series[labels]?.keys.max() }
    }

    private static func stored(_ tsdb: TSDB) throws -> [SeriesSamples] {
        try tsdb.select(tenant: tenant, matchers: everything, startMs: .min, endMs: .max)
    }

    private static func batch(_ metrics: MetricBatch) -> TenantBatch { TenantBatch(tenant: tenant, batch: .metrics(metrics)) }

    private static let series = [
        Labels(["__name__": "cpu", "instance": "a"]), Labels(["__name__": "cpu", "instance": "b"]),
        Labels(["__name__": "mem", "instance": "a"]), Labels(["__name__": "mem", "instance": "b"]),
    ]

    private static let selectors: [[LabelMatcher]] = [
        [try! LabelMatcher("instance", .equal, "a")],
        [try! LabelMatcher("__name__", .equal, "cpu")],
        [try! LabelMatcher("__name__", .regexMatch, "cpu|mem"), try! LabelMatcher("instance", .notEqual, "a")],
        [try! LabelMatcher("instance", .regexMatch, "b")],
        [try! LabelMatcher("__name__", .equal, "absent")],
    ]

    /// Random writes (in order and out of order), checkpoints, compactions, deletions and crashes (the engine
    /// reopened and the batches since the last checkpoint applied again, as WAL replay does): after every step the
    /// engine holds what the model does.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomOperationsMatchTheModel(seed: UInt64) throws {
        let directory = try TemporaryDirectory(prefix: "sightline-delete")
        defer { directory.remove() }
        var options = TSDB.Options()
        options.retentionMs = nil
        let logger = Logger(label: "test")
        var tsdb = try TSDB(directory: directory.path, options: options, logger: logger)
        var random = SplitMix64(seed: seed)
        var model = Model()
        var segment = 0
        var offset: Int64 = 0
        var unpersisted: [(TenantBatch, WALPosition)] = []
        var clock: Int64 = 1_000_000
        func apply(_ metrics: MetricBatch) throws {
            let position = WALPosition(segment: segment, offset: offset)
            offset += 1
            try tsdb.apply(Self.batch(metrics), at: position)
            unpersisted.append((Self.batch(metrics), position))
            model.apply(metrics)
        }
        var deletions = 0
        for step in 0..<160 {
            let operation = Int.random(in: 0..<100, using: &random)
            switch operation {
            case 0..<45:
                var samples: [MetricSample] = []
                for labels in Self.series where Bool.random(using: &random) {
                    var t = max(clock, (model.newest(labels) ?? clock) + 15_000)
                    for _ in 0..<Int.random(in: 1...30, using: &random) {
                        samples.append(MetricSample(labels: labels, timestampMs: t, value: Double(Int.random(in: 0..<1000, using: &random))))
                        t += 15_000
                    }
                }
                clock += 15_000 * 10
                try apply(MetricBatch(samples: samples))
            case 45..<55:
                var samples: [MetricSample] = []
                for labels in Self.series {
                    guard let newest = model.newest(labels) else { continue }
                    let t = newest - Int64.random(in: 1...600, using: &random) * 1000 - 500
                    if model.series[labels]?[t] == nil { samples.append(MetricSample(labels: labels, timestampMs: t, value: -Double(step))) }
                }
                try apply(MetricBatch(samples: samples))
            case 55..<68:
                try tsdb.persist(throughSegment: segment)
                unpersisted = []
                segment += 1
                offset = 0
            case 68..<73:
                try tsdb.compact()
            case 73..<88:
                let matchers = Self.selectors[Int.random(in: 0..<Self.selectors.count, using: &random)]
                let deletion: SeriesDeletion
                if Int.random(in: 0..<4, using: &random) == 0 {
                    deletion = SeriesDeletion(matchers: matchers)
                } else {
                    let start = Int64.random(in: 1_000_000...clock, using: &random)
                    deletion = SeriesDeletion(matchers: matchers, startMs: start, endMs: start + Int64.random(in: 0...3_000_000, using: &random))
                }
                try apply(MetricBatch(deletions: [deletion]))
                deletions += 1
            default:
                // A crash: what the blocks hold survives, the head comes back from the WAL.
                tsdb = try TSDB(directory: directory.path, options: options, logger: logger)
                for (batch, position) in unpersisted { try tsdb.apply(batch, at: position) }
            }
            #expect(try Self.stored(tsdb) == model.expected, "seed \(seed), step \(step), operation \(operation)")
        }
        #expect(deletions > 5)
        try tsdb.persist(throughSegment: segment)
        let reopened = try TSDB(directory: directory.path, options: options, logger: logger)
        #expect(try Self.stored(reopened) == model.expected)
    }

    /// Writing deleted samples again stores them, also the newest one, which the head would otherwise take for an
    /// identical duplicate of what it held and skip; admission lets them through too.
    @Test func deletedSamplesCanBeWrittenAgain() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-delete")
        defer { directory.remove() }
        let tsdb = try TSDB(directory: directory.path, logger: Logger(label: "test"))
        let labels = Self.series[0]
        let samples = [90_000, 100_000, 110_000].map { MetricSample(labels: labels, timestampMs: Int64($0), value: 1) }
        try tsdb.apply(Self.batch(MetricBatch(samples: samples)), at: WALPosition(segment: 0, offset: 0))
        // The newest sample goes, one is left.
        try tsdb.apply(
            Self.batch(MetricBatch(deletions: [SeriesDeletion(matchers: Self.selectors[0], startMs: 95_000, endMs: 200_000)])),
            at: WALPosition(segment: 0, offset: 1))
        #expect(try Self.stored(tsdb).map(\.timestampsMs) == [[90_000]])
        let again = Self.batch(MetricBatch(samples: Array(samples[1...])))
        let admission = tsdb.admit(again)
        #expect(admission.rejections.isEmpty)
        #expect(admission.batch == again.batch)
        try tsdb.apply(again, at: WALPosition(segment: 0, offset: 2))
        #expect(try Self.stored(tsdb).map(\.timestampsMs) == [[90_000, 100_000, 110_000]])
        // Every sample goes (from the blocks too), then the newest comes back alone.
        try tsdb.persist(throughSegment: 0)
        try tsdb.apply(Self.batch(MetricBatch(deletions: [SeriesDeletion(matchers: Self.selectors[0])])), at: WALPosition(segment: 1, offset: 0))
        #expect(try Self.stored(tsdb).isEmpty)
        try tsdb.apply(Self.batch(MetricBatch(samples: [samples[2]])), at: WALPosition(segment: 1, offset: 1))
        #expect(try Self.stored(tsdb).map(\.timestampsMs) == [[110_000]])
    }

    /// A series deleted whole leaves the label APIs of head and blocks, and a block left empty leaves the disk.
    @Test func aSeriesDeletedWholeLeavesLabelsAndBlocks() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-delete")
        defer { directory.remove() }
        let tsdb = try TSDB(directory: directory.path, logger: Logger(label: "test"))
        let samples = Self.series.enumerated().map { index, labels in MetricSample(labels: labels, timestampMs: 1_000_000 + Int64(index), value: 1) }
        try tsdb.apply(Self.batch(MetricBatch(samples: samples)), at: WALPosition(segment: 0, offset: 0))
        try tsdb.persist(throughSegment: 0)
        let later = Self.series.map { MetricSample(labels: $0, timestampMs: 2_000_000, value: 2) }
        try tsdb.apply(Self.batch(MetricBatch(samples: later)), at: WALPosition(segment: 1, offset: 0))
        let blocksDirectory = directory.path + "/" + Self.tenant.id + "/blocks"
        let blocksBefore = try FileManager.default.contentsOfDirectory(atPath: blocksDirectory)
        #expect(blocksBefore.count == 1)

        try tsdb.apply(
            Self.batch(MetricBatch(deletions: [SeriesDeletion(matchers: Self.selectors[0])])), at: WALPosition(segment: 1, offset: 1))
        #expect(try tsdb.labelValues(tenant: Self.tenant, name: "instance", matchers: [], startMs: .min, endMs: .max) == ["b"])
        #expect(try tsdb.labelNames(tenant: Self.tenant, matchers: Self.selectors[0], startMs: .min, endMs: .max) == [])
        let blocksAfter = try FileManager.default.contentsOfDirectory(atPath: blocksDirectory)
        #expect(blocksAfter.count == 1 && blocksAfter != blocksBefore)

        try tsdb.apply(
            Self.batch(MetricBatch(deletions: [SeriesDeletion(matchers: Self.everything, startMs: 0, endMs: 1_500_000)])),
            at: WALPosition(segment: 1, offset: 2))
        #expect(try FileManager.default.contentsOfDirectory(atPath: blocksDirectory).isEmpty)
        #expect(try Self.stored(tsdb).map(\.timestampsMs) == [[2_000_000], [2_000_000]])
    }

    /// A snapshot is a directory the engine opens: blocks linked, the head written as a block (unless skipped), the
    /// metadata copied; later writes, compaction and deletion of the live data leave it as it was.
    @Test func aSnapshotOpensAsItsOwnEngineAndStaysAsItWas() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-snapshot")
        defer { directory.remove() }
        let tsdb = try TSDB(directory: directory.file("tsdb"), logger: Logger(label: "test"))
        let early = Self.series.map { MetricSample(labels: $0, timestampMs: 1_000_000, value: 1) }
        try tsdb.apply(
            Self.batch(MetricBatch(samples: early, metadata: [MetricMetadata(metricFamily: "cpu", kind: .gauge, help: "CPU.")])),
            at: WALPosition(segment: 0, offset: 0))
        try tsdb.persist(throughSegment: 0)
        let late = Self.series.map { MetricSample(labels: $0, timestampMs: 2_000_000, value: 2) }
        try tsdb.apply(Self.batch(MetricBatch(samples: late)), at: WALPosition(segment: 1, offset: 0))
        let expected = try Self.stored(tsdb)
        #expect(try tsdb.snapshot(tenant: Self.tenant, into: directory.file("snap"), skipHead: false) == 2)
        #expect(try tsdb.snapshot(tenant: Self.tenant, into: directory.file("blocks-only"), skipHead: true) == 1)

        try tsdb.apply(Self.batch(MetricBatch(deletions: [SeriesDeletion(matchers: Self.everything)])), at: WALPosition(segment: 1, offset: 1))
        #expect(try Self.stored(tsdb).isEmpty)
        let snapshot = try TSDB(directory: directory.file("snap"), logger: Logger(label: "test"))
        #expect(try Self.stored(snapshot) == expected)
        #expect(try snapshot.metadata(tenant: Self.tenant, metric: "cpu").map(\.help) == ["CPU."])
        let blocksOnly = try TSDB(directory: directory.file("blocks-only"), logger: Logger(label: "test"))
        #expect(try Self.stored(blocksOnly).map(\.timestampsMs) == Array(repeating: [1_000_000], count: 4))
        // Another tenant's snapshot holds nothing of this one.
        #expect(try tsdb.snapshot(tenant: Tenant(uncheckedID: "other"), into: directory.file("other"), skipHead: false) == 0)
    }

    /// A crash between writing a block's copy and deleting the block: opening the directory keeps the copy only.
    @Test func aRewrittenBlockReplacesItsSourceOnOpen() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-delete")
        defer { directory.remove() }
        let logger = Logger(label: "test")
        let store = try BlockStore(directory: directory.path, logger: logger)
        let chunks = ChunkCodec.encode(timestamps: [1, 2, 3, 4], values: [1, 2, 3, 4])
        let meta = try #require(try store.add([SeriesChunks(labels: Self.series[0], chunks: chunks), SeriesChunks(labels: Self.series[1], chunks: chunks)]))
        let block = try Block(directory: directory.path + "/" + meta.id)
        let copy = try #require(try Compactor.rewrite(block, into: directory.path, series: [0]) { chunks in
            try ChunkCodec.removing(from: 2, through: 3, in: chunks) { ChunkCodec.encode(timestamps: $0, values: $1) }.chunks
        })
        #expect(copy.sources == [meta.id] && copy.level == meta.level && copy.stats.samples == 6)
        let reopened = try BlockStore(directory: directory.path, logger: logger)
        #expect(reopened.metas.map(\.id) == [copy.id])
        let series = try reopened.select(Self.everything, minTime: .min, maxTime: .max)
        #expect(try series.map { try $0.chunks.flatMap { try ChunkCodec.decodeAll($0).timestamps } } == [[1, 4], [1, 2, 3, 4]])
    }
}
