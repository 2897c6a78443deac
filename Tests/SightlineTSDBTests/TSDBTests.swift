import Logging
import SightlineTestSupport
import Testing

@testable import SightlineCore
@testable import SightlineTSDB

/// The engine as the server uses it: head, checkpoints into blocks, reopen, compaction, retention.
struct TSDBTests {
    private static let tenant = Tenant(uncheckedID: "acme")

    private static func batch(series: Int, from start: Int64, count: Int, step: Int64 = 15_000) -> TenantBatch {
        var samples: [MetricSample] = []
        for s in 0..<series {
            let labels = Labels(["__name__": "requests_total", "instance": "host-\(s)", "job": "api"])
            for i in 0..<count {
                let t = start + Int64(i) * step
                samples.append(MetricSample(labels: labels, timestampMs: t, value: Double(s * 1000 + i)))
            }
        }
        return TenantBatch(tenant: tenant, batch: .metrics(MetricBatch(samples: samples)))
    }

    private static func all(_ tsdb: TSDB) throws -> [SeriesSamples] {
        try tsdb.select(tenant: tenant, matchers: [LabelMatcher("__name__", .equal, "requests_total")], startMs: .min, endMs: .max)
    }

    private static func expected(series: Int, segments: [(start: Int64, count: Int)]) -> [SeriesSamples] {
        (0..<series).map { s in
            var result = SeriesSamples(labels: Labels(["__name__": "requests_total", "instance": "host-\(s)", "job": "api"]))
            for (start, count) in segments {
                for i in 0..<count {
                    result.timestampsMs.append(start + Int64(i) * 15_000)
                    result.values.append(Double(s * 1000 + i))
                }
            }
            return result
        }
    }

    @Test func samplesSurviveCheckpointReopenAndCompaction() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-tsdb")
        defer { directory.remove() }
        let path = directory.path
        let logger = Logger(label: "test")
        var tsdb = try TSDB(directory: path, logger: logger)
        // Ten checkpoints of 40 samples per series each, as the server's checkpoint loop would make them.
        var segments: [(Int64, Int)] = []
        for segment in 0..<10 {
            let start = Int64(segment) * 40 * 15_000
            try tsdb.apply(Self.batch(series: 5, from: start, count: 40), at: WALPosition(segment: segment, offset: 0))
            try tsdb.persist(throughSegment: segment)
            segments.append((start, 40))
        }
        // One more segment that stays in the head only.
        try tsdb.apply(Self.batch(series: 5, from: 400 * 15_000, count: 7), at: WALPosition(segment: 10, offset: 0))
        segments.append((400 * 15_000, 7))
        #expect(try Self.all(tsdb) == Self.expected(series: 5, segments: segments))
        #expect(tsdb.persistedSegment == 9)

        // Reopen: blocks come back; the unpersisted segment would be replayed from the WAL.
        tsdb = try TSDB(directory: path, logger: logger)
        #expect(tsdb.persistedSegment == 9)
        try tsdb.apply(Self.batch(series: 5, from: 400 * 15_000, count: 7), at: WALPosition(segment: 10, offset: 0))
        #expect(try Self.all(tsdb) == Self.expected(series: 5, segments: segments))

        // Compaction merges the small blocks and changes nothing a query sees.
        var merged = 0
        while true {
            let step = try tsdb.compact()
            if step == 0 { break }
            merged += step
        }
        #expect(merged > 0)
        #expect(try Self.all(tsdb) == Self.expected(series: 5, segments: segments))
    }

    /// Series decoded on every core come back as on one thread: in label order, from blocks alone and from blocks
    /// with the head.
    @Test func parallelDecodeReturnsWhatOneThreadDoes() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-tsdb")
        defer { directory.remove() }
        var options = TSDB.Options()
        options.parallelDecodeSamples = 0
        options.retentionMs = nil
        let tsdb = try TSDB(directory: directory.path, options: options, logger: Logger(label: "test"))
        try tsdb.apply(Self.batch(series: 60, from: 0, count: 50), at: WALPosition(segment: 0, offset: 0))
        try tsdb.persist(throughSegment: 0)
        let blocksOnly = [(start: Int64(0), count: 50)]
        let sorted = { (series: [SeriesSamples]) in series.sorted { $0.labels < $1.labels } }
        #expect(try Self.all(tsdb) == sorted(Self.expected(series: 60, segments: blocksOnly)))
        try tsdb.apply(Self.batch(series: 60, from: 50 * 15_000, count: 9), at: WALPosition(segment: 1, offset: 0))
        #expect(try Self.all(tsdb) == sorted(Self.expected(series: 60, segments: blocksOnly + [(50 * 15_000, 9)])))
    }

    @Test func aCheckpointReplayedTwiceIsNotSeenTwice() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-tsdb")
        defer { directory.remove() }
        let path = directory.path
        let tsdb = try TSDB(directory: path, logger: Logger(label: "test"))
        try tsdb.apply(Self.batch(series: 2, from: 0, count: 30), at: WALPosition(segment: 0, offset: 0))
        try tsdb.persist(throughSegment: 0)
        // A crash after the block was written but before the checkpoint file: the segment is applied again.
        let reopened = try TSDB(directory: path, logger: Logger(label: "test"))
        try reopened.apply(Self.batch(series: 2, from: 0, count: 30), at: WALPosition(segment: 0, offset: 0))
        #expect(try Self.all(reopened) == Self.expected(series: 2, segments: [(0, 30)]))
    }

    @Test func admissionRefusesTooOldAndConflictingSamples() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-tsdb")
        defer { directory.remove() }
        let path = directory.path
        var options = TSDB.Options()
        options.outOfOrderWindowMs = 60_000
        options.maxSeriesPerTenant = 3
        let tsdb = try TSDB(directory: path, options: options, logger: Logger(label: "test"))
        try tsdb.apply(Self.batch(series: 1, from: 1_000_000, count: 1), at: WALPosition(segment: 0, offset: 0))
        let labels = Labels(["__name__": "requests_total", "instance": "host-0", "job": "api"])
        let probe = TenantBatch(
            tenant: Self.tenant,
            batch: .metrics(MetricBatch(samples: [
                MetricSample(labels: labels, timestampMs: 1_000_000 - 30_000, value: 1),  // in the window
                MetricSample(labels: labels, timestampMs: 1_000_000 - 120_000, value: 1),  // too old
                MetricSample(labels: labels, timestampMs: 1_000_000, value: 42),  // conflicts with the stored 0
            ]))
        )
        let admission = tsdb.admit(probe)
        #expect(admission.rejections == ["out_of_order": 1, "duplicate_sample": 1])
        #expect(admission.message.contains("requests_total"))
        #expect(admission.batch.recordCount == 1)

        let tooMany = tsdb.admit(Self.batch(series: 5, from: 2_000_000, count: 1))
        #expect(tooMany.rejections["too_many_series"] == 2)
        #expect(tooMany.message.contains("3"))
    }

    @Test func retentionDropsOnlyOldBlocks() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-tsdb")
        defer { directory.remove() }
        let path = directory.path
        var options = TSDB.Options()
        options.retentionMs = 86_400_000
        let tsdb = try TSDB(directory: path, options: options, logger: Logger(label: "test"))
        let day: Int64 = 86_400_000
        try tsdb.apply(Self.batch(series: 1, from: 0, count: 10), at: WALPosition(segment: 0, offset: 0))
        try tsdb.persist(throughSegment: 0)
        try tsdb.apply(Self.batch(series: 1, from: 3 * day, count: 10), at: WALPosition(segment: 1, offset: 0))
        try tsdb.persist(throughSegment: 1)
        let removed = try tsdb.applyRetention(nowMs: 3 * day + 10 * 15_000)
        #expect(removed.count == 1)
        #expect(try Self.all(tsdb) == Self.expected(series: 1, segments: [(3 * day, 10)]))
    }
}
