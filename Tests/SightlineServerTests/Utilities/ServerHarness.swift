import Logging
import SightlineTestSupport

@testable import SightlineCore
@testable import SightlineServer
@testable import SightlineStorageCore
import SightlineLogStore
import SightlineTSDB
import SightlineTraceStore

/// A pipeline and the HTTP API over a fresh temporary data directory, with the embedded store of every signal.
struct ServerHarness {
    let temporary: TemporaryDirectory
    var api: APIDependencies

    /// - Parameters:
    ///   - replay: whether to replay the WAL and open ingestion, as the storage service does at start.
    ///   - reopening: the directory of an earlier harness to start over (a restart); a fresh one by default.
    init(
        tokens: [TokenGrant] = [], limits: IngestLimits = IngestLimits(), replay: Bool = true, reopening: TemporaryDirectory? = nil
    ) throws {
        temporary = try reopening ?? TemporaryDirectory(prefix: "sightline-server-test")
        let directory = temporary.path
        let logger = Logger(label: "test")
        let metrics = ServerMetrics()
        let wal = try WriteAheadLog(directory: directory + "/wal", options: WALOptions(fsync: .never), logger: logger)
        let logs = try LogStore(directory: directory + "/logs", logger: logger)
        let samples = try TSDB(directory: directory + "/tsdb", logger: logger)
        let spans = try TraceStore(directory: directory + "/traces", logger: logger)
        let pipeline = IngestPipeline(wal: wal, stores: [logs, samples, spans], limits: limits, metrics: metrics, logger: logger)
        if replay { try pipeline.replayAndOpen() }
        api = APIDependencies(
            pipeline: pipeline, authenticator: Authenticator(tokens: tokens), limits: limits, metrics: metrics,
            logs: logs, spans: spans, samples: samples
        )
    }

    /// A client that calls the router directly.
    func client() -> RouterClient { RouterClient(HTTPAPI.router(api)) }

    /// Stops as a crash would: the WAL is closed, the stores never persist what it holds.
    func crash() async throws { try await api.pipeline.wal.close() }

    /// The first byte of every WAL record after its optional batch id: the request marker or a batch format version.
    /// Call before ingestion opens (WAL replay is only allowed before the first append).
    func walRecordKinds() throws -> [UInt8] {
        var kinds: [UInt8] = []
        _ = try api.pipeline.wal.replay(afterSegment: -1) { _, payload in
            let (_, rest) = try BatchDeduplicator.splitID(payload)
            guard let kind = rest.first else { throw SightlineError(.dataCorrupted, "a WAL record holds only a batch id") }
            kinds.append(kind)
        }
        return kinds
    }

    /// Shuts the pipeline down and deletes the directory.
    func cleanUp() async {
        try? await api.pipeline.shutdown()
        temporary.remove()
    }
}
