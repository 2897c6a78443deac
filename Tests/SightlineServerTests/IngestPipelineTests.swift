import Logging
import SightlineTestSupport
import Testing

@testable import SightlineCore
import SightlineLogStore
import SightlineTraceStore
import SightlineTSDB
@testable import SightlineServer
@testable import SightlineStorageCore

struct IngestPipelineTests {
    private static func open(_ directory: String) throws -> (IngestPipeline, LogStore) {
        let logger = Logger(label: "test")
        let wal = try WriteAheadLog(directory: directory + "/wal", options: WALOptions(segmentSize: 4096, fsync: .always), logger: logger)
        let logs = try LogStore(directory: directory + "/logs", logger: logger)
        let spans = try TraceStore(directory: directory + "/traces", logger: logger)
        let pipeline = IngestPipeline(wal: wal, stores: [logs, spans], limits: IngestLimits(), metrics: ServerMetrics(), logger: logger)
        try pipeline.replayAndOpen()
        return (pipeline, logs)
    }

    private static func batch(_ range: Range<Int>) -> DecodedBatch {
        DecodedBatch(.logs(range.map { LogRecord(timeUnixNano: UInt64($0), body: .string("r\($0)")) }))
    }

    private static func bodies(_ store: LogStore, tenant: Tenant = .default) throws -> [String] {
        try store.logs(tenant: tenant, in: .all, limit: .max).map(\.body.text).sorted()
    }

    @Test func everyRecordSurvivesCheckpointsAndACrashExactlyOnce() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-pipeline")
        defer { temporary.remove() }
        let directory = temporary.path
        let (pipeline, _) = try Self.open(directory)
        _ = try await pipeline.ingest(Self.batch(0..<50), tenant: .default, protocol: "test", bytes: 0)
        try await pipeline.checkpoint()
        _ = try await pipeline.ingest(Self.batch(50..<80), tenant: .default, protocol: "test", bytes: 0)
        // A crash: the WAL is closed, but the stores never persist what arrived after the checkpoint.
        try await pipeline.wal.close()

        let (reopened, logs) = try Self.open(directory)
        let expected = (0..<80).map { "r\($0)" }.sorted()
        #expect(try Self.bodies(logs) == expected)
        _ = try await reopened.ingest(Self.batch(80..<90), tenant: .default, protocol: "test", bytes: 0)
        try await reopened.shutdown()

        let (_, again) = try Self.open(directory)
        #expect(try Self.bodies(again) == (0..<90).map { "r\($0)" }.sorted())
    }

    /// Checkpoints started together (the periodic one, a deletion's, the shutdown's) while records keep arriving: a
    /// crash after them loses nothing and duplicates nothing.
    @Test func checkpointsStartedTogetherUnderLoadLoseNothing() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-pipeline")
        defer { temporary.remove() }
        let (pipeline, _) = try Self.open(temporary.path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for round in 0..<10 {
                        let start = (writer * 10 + round) * 10
                        _ = try await pipeline.ingest(Self.batch(start..<(start + 10)), tenant: .default, protocol: "test", bytes: 0)
                    }
                }
            }
            for _ in 0..<8 { group.addTask { try await pipeline.checkpoint() } }
            try await group.waitForAll()
        }
        try await pipeline.wal.close()
        let (_, logs) = try Self.open(temporary.path)
        #expect(try Self.bodies(logs) == (0..<400).map { "r\($0)" }.sorted())
    }

    /// A pipeline over a metrics store only, with small WAL segments so records of one run span several.
    private static func openMetrics(_ directory: String) throws -> (IngestPipeline, TSDB) {
        let logger = Logger(label: "test")
        let wal = try WriteAheadLog(directory: directory + "/wal", options: WALOptions(segmentSize: 2048, fsync: .always), logger: logger)
        let tsdb = try TSDB(directory: directory + "/tsdb", logger: logger)
        let deduplicator = try BatchDeduplicator(path: directory + "/batch-ids")
        let pipeline = IngestPipeline(
            wal: wal, stores: [tsdb], limits: IngestLimits(), metrics: ServerMetrics(), logger: logger, deduplicator: deduplicator)
        try pipeline.replayAndOpen()
        return (pipeline, tsdb)
    }

    /// Samples of 12 series (two metrics), one per series per round, at one time per round.
    private static func metricRound(_ round: Int) -> DecodedBatch {
        let samples = (0..<12).map { series in
            MetricSample(
                labels: Labels(["__name__": series < 6 ? "up" : "load", "instance": "host-\(series)"]),
                timestampMs: 1_000_000 + Int64(round) * 15_000 + Int64(series % 3), value: Double(round * 100 + series))
        }
        return DecodedBatch(.metrics(MetricBatch(samples: samples)))
    }

    private static func storedSamples(_ tsdb: TSDB) throws -> [String] {
        try tsdb.select(tenant: .default, matchers: [LabelMatcher("instance", .regexMatch, ".+")], startMs: 0, endMs: .max)
            .flatMap { series in zip(series.timestampsMs, series.values).map { "\(series.labels) \($0) \($1)" } }.sorted()
    }

    @Test func metricsRecordsNamingTheirSeriesByNumberReplayExactlyOnce() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-pipeline")
        defer { temporary.remove() }
        let directory = temporary.path
        var (pipeline, tsdb) = try Self.openMetrics(directory)
        var expected: [String] = []
        func ingest(_ rounds: Range<Int>, into pipeline: IngestPipeline, tsdb: TSDB) async throws {
            for round in rounds {
                let batchID = round.isMultiple(of: 3) ? "batch-\(round)" : nil
                let outcome = try await pipeline.ingest(Self.metricRound(round), tenant: .default, protocol: "test", bytes: 0, batchID: batchID)
                #expect(outcome.accepted == 12 && outcome.rejected == 0)
            }
        }
        // The first round creates the series; the later ones name them by number once their segment defined them.
        try await ingest(0..<10, into: pipeline, tsdb: tsdb)
        try await pipeline.checkpoint()
        try await ingest(10..<40, into: pipeline, tsdb: tsdb)
        #expect(pipeline.wal.currentSegment >= 3)
        expected = try Self.storedSamples(tsdb)
        #expect(expected.count == 40 * 12)
        // A crash: the WAL is closed, but the store never persists what arrived after the checkpoint.
        try await pipeline.wal.close()

        (pipeline, tsdb) = try Self.openMetrics(directory)
        #expect(try Self.storedSamples(tsdb) == expected)
        // A batch resent under its id after the crash is not stored twice.
        let resent = try await pipeline.ingest(Self.metricRound(39), tenant: .default, protocol: "test", bytes: 0, batchID: "batch-39")
        #expect(resent.accepted == 0 && resent.rejected == 0)
        try await ingest(40..<50, into: pipeline, tsdb: tsdb)
        expected = try Self.storedSamples(tsdb)
        #expect(expected.count == 50 * 12)
        try await pipeline.wal.close()

        (pipeline, tsdb) = try Self.openMetrics(directory)
        #expect(try Self.storedSamples(tsdb) == expected)
        try await pipeline.shutdown()
    }

    @Test func aCheckpointStartsOnceTheWALPassesItsBoundBeforeTheInterval() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-pipeline")
        defer { temporary.remove() }
        let (pipeline, logs) = try Self.open(temporary.path)
        let service = PeriodicService.checkpoints(
            pipeline, interval: .seconds(3600), maxWALBytes: 64 << 10, logger: Logger(label: "test"), poll: .milliseconds(20))
        let running = Task { try await service.run() }
        defer { running.cancel() }
        // Under the bound nothing happens within several polls.
        _ = try await pipeline.ingest(Self.batch(0..<10), tenant: .default, protocol: "test", bytes: 0)
        try await Task.sleep(for: .milliseconds(200))
        #expect(logs.persistedSegment < 1)
        // Past it (and well before the hour), the stores persist and the WAL is cut back.
        for start in stride(from: 10, to: 3010, by: 100) {
            _ = try await pipeline.ingest(Self.batch(start..<start + 100), tenant: .default, protocol: "test", bytes: 0)
        }
        var waited = 0
        while (logs.persistedSegment < 1 || pipeline.wal.totalBytes >= 64 << 10) && waited < 500 {
            try await Task.sleep(for: .milliseconds(20))
            waited += 1
        }
        #expect(logs.persistedSegment >= 1)
        #expect(pipeline.wal.totalBytes < 64 << 10)
        #expect(try Self.bodies(logs).count == 3010)
        running.cancel()
        try await pipeline.shutdown()
    }

    @Test func checkpointRemovesWALSegments() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-pipeline")
        defer { temporary.remove() }
        let directory = temporary.path
        let (pipeline, _) = try Self.open(directory)
        for start in stride(from: 0, to: 400, by: 40) {
            _ = try await pipeline.ingest(Self.batch(start..<start + 40), tenant: .default, protocol: "test", bytes: 0)
        }
        let before = pipeline.wal.totalBytes
        try await pipeline.checkpoint()
        #expect(pipeline.wal.totalBytes < before)
        try await pipeline.shutdown()
    }

    @Test func rejectedRecordsAreCountedNotStored() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-pipeline")
        defer { temporary.remove() }
        let directory = temporary.path
        let (pipeline, logs) = try Self.open(directory)
        var records = (0..<3).map { LogRecord(timeUnixNano: UInt64($0), body: .string("ok\($0)")) }
        records.append(LogRecord(body: .string(String(repeating: "x", count: IngestLimits().maxLogBodyBytes + 1))))
        let outcome = try await pipeline.ingest(DecodedBatch(.logs(records), rejected: 2, rejectionMessage: "two bad ids"), tenant: .default, protocol: "test", bytes: 0)
        #expect(outcome.accepted == 3)
        #expect(outcome.rejected == 3)
        #expect(outcome.message.contains("two bad ids"))
        #expect(outcome.message.contains("exceeds the limit"))
        #expect(try Self.bodies(logs) == ["ok0", "ok1", "ok2"])
        try await pipeline.shutdown()
    }
}
