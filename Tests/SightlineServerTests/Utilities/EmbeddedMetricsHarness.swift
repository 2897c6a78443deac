import Foundation
import Logging
import SightlineCore
import SightlineLogStore
import SightlineStorageCore
import SightlineTSDB
import SightlineTraceStore

@testable import SightlineServer

/// A server's API over a WAL and the embedded metrics engine in `directory`, replayed as at start.
struct EmbeddedMetricsHarness {
    let api: APIDependencies
    let tsdb: TSDB

    init(_ directory: String, tokens: [TokenGrant] = []) throws {
        let logger = Logger(label: "test")
        let wal = try WriteAheadLog(directory: directory + "/wal", options: WALOptions(fsync: .always), logger: logger)
        let logs = try LogStore(directory: directory + "/logs", logger: logger)
        let spans = try TraceStore(directory: directory + "/traces", logger: logger)
        tsdb = try TSDB(directory: directory + "/tsdb", logger: logger)
        let pipeline = IngestPipeline(wal: wal, stores: [logs, spans, tsdb], limits: IngestLimits(), metrics: ServerMetrics(), logger: logger)
        try pipeline.replayAndOpen()
        var api = APIDependencies(
            pipeline: pipeline, authenticator: Authenticator(tokens: tokens), limits: IngestLimits(), metrics: ServerMetrics(),
            logs: logs, spans: spans, samples: tsdb, tsdb: tsdb)
        api.snapshotsDirectory = directory + "/snapshots"
        self.api = api
    }

    func client() -> RouterClient { RouterClient(HTTPAPI.router(api)) }

    /// Ten samples a minute apart from 1000 s for each of `up{instance="a"}`, `up{instance="b"}` and `load`.
    func write(value: Double = 1) async throws {
        var samples: [MetricSample] = []
        for labels in [Labels(["__name__": "up", "instance": "a"]), Labels(["__name__": "up", "instance": "b"]), Labels(["__name__": "load"])] {
            for i in 0..<10 { samples.append(MetricSample(labels: labels, timestampMs: 1_000_000 + Int64(i) * 60_000, value: value)) }
        }
        _ = try await api.pipeline.ingest(DecodedBatch(.metrics(MetricBatch(samples: samples))), tenant: .default, protocol: "test", bytes: 0)
    }

    /// `series timestamps…` for every stored series.
    func stored() throws -> [String] {
        try tsdb.select(tenant: .default, matchers: [LabelMatcher("__name__", .regexMatch, ".+")], startMs: .min, endMs: .max)
            .map { "\($0.labels) \($0.timestampsMs.map { String($0 / 60_000) }.joined(separator: ","))" }
    }
}
