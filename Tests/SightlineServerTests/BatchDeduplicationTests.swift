import Logging
import SightlineTestSupport
import Testing

@testable import SightlineCore
import SightlineLogStore
@testable import SightlineServer
@testable import SightlineStorageCore

/// Batches sent with an id (`X-Sightline-Batch-ID`) are stored once, however often they are retried, across
/// checkpoints and crashes.
struct BatchDeduplicationTests {
    private static func open(_ directory: String) throws -> (IngestPipeline, LogStore) {
        let logger = Logger(label: "test")
        let wal = try WriteAheadLog(directory: directory + "/wal", options: WALOptions(segmentSize: 4096, fsync: .always), logger: logger)
        let logs = try LogStore(directory: directory + "/logs", logger: logger)
        let pipeline = IngestPipeline(
            wal: wal, stores: [logs], limits: IngestLimits(), metrics: ServerMetrics(), logger: logger,
            deduplicator: try BatchDeduplicator(path: directory + "/batch-ids")
        )
        try pipeline.replayAndOpen()
        return (pipeline, logs)
    }

    private static func batch(_ range: Range<Int>) -> DecodedBatch {
        DecodedBatch(.logs(range.map { LogRecord(timeUnixNano: UInt64($0), body: .string("r\($0)")) }))
    }

    private static func count(_ store: LogStore) throws -> Int {
        try store.logs(tenant: .default, in: .all, limit: .max).count
    }

    @Test func aRetriedBatchIsStoredOnce() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-dedup")
        defer { temporary.remove() }
        let (pipeline, logs) = try Self.open(temporary.path)
        let first = try await pipeline.ingest(Self.batch(0..<10), tenant: .default, protocol: "test", bytes: 0, batchID: "agent-1")
        let retry = try await pipeline.ingest(Self.batch(0..<10), tenant: .default, protocol: "test", bytes: 0, batchID: "agent-1")
        #expect(first.accepted == 10)
        #expect(retry == IngestPipeline.Outcome(accepted: 0, rejected: 0, message: ""))
        _ = try await pipeline.ingest(Self.batch(10..<12), tenant: .default, protocol: "test", bytes: 0, batchID: "agent-2")
        _ = try await pipeline.ingest(Self.batch(12..<13), tenant: .default, protocol: "test", bytes: 0)
        _ = try await pipeline.ingest(Self.batch(12..<13), tenant: .default, protocol: "test", bytes: 0)
        #expect(try Self.count(logs) == 14)
        try await pipeline.shutdown()
    }

    @Test func idsSurviveACrashAndACheckpoint() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-dedup")
        defer { temporary.remove() }
        let (pipeline, _) = try Self.open(temporary.path)
        _ = try await pipeline.ingest(Self.batch(0..<10), tenant: .default, protocol: "test", bytes: 0, batchID: "before-checkpoint")
        try await pipeline.checkpoint()
        _ = try await pipeline.ingest(Self.batch(10..<20), tenant: .default, protocol: "test", bytes: 0, batchID: "after-checkpoint")
        // A crash: only the WAL knows the second batch and its id.
        try await pipeline.wal.close()

        let (reopened, logs) = try Self.open(temporary.path)
        #expect(try Self.count(logs) == 20)
        for id in ["before-checkpoint", "after-checkpoint"] {
            let retry = try await reopened.ingest(Self.batch(0..<10), tenant: .default, protocol: "test", bytes: 0, batchID: id)
            #expect(retry.accepted == 0)
        }
        try await reopened.shutdown()
        let (again, stored) = try Self.open(temporary.path)
        #expect(try Self.count(stored) == 20)
        #expect(again.deduplicator?.contains("after-checkpoint") == true)
        try await again.shutdown()
    }

    @Test func aBadIdIsRefusedAndTheWindowIsBounded() throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-dedup")
        defer { temporary.remove() }
        #expect(throws: SightlineError.self) { try BatchDeduplicator.validate("") }
        #expect(throws: SightlineError.self) { try BatchDeduplicator.validate("has space") }
        let window = try BatchDeduplicator(path: temporary.path + "/ids", capacity: 3)
        #expect(window.reserve("a") == .reserved)
        #expect(window.reserve("a") == .inFlight)
        window.accept("a")
        #expect(window.reserve("a") == .duplicate)
        for id in ["b", "c", "d"] { window.accept(id) }
        #expect(!window.contains("a"))
        try window.persist()
        let reloaded = try BatchDeduplicator(path: temporary.path + "/ids", capacity: 3)
        #expect(reloaded.count == 3 && reloaded.contains("d"))
        try POSIXFile.writeAtomically(Array("SBIDgarbage".utf8), to: temporary.path + "/ids")
        #expect(throws: SightlineError.self) { try BatchDeduplicator(path: temporary.path + "/ids") }
    }
}
