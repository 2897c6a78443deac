import Logging
import SightlineTestSupport
import Testing

@testable import SightlineCore
import SightlineLogStore
import SightlineTraceStore
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
