import Foundation
import SightlineTestSupport
import Testing

@testable import SightlineClickHouse
@testable import SightlineCore

/// The series of one conformance script in a ClickHouse database of their own, written as the pipeline writes them
/// (admit, apply at increasing WAL positions, insert on commit) and read back through ``ClickHouseMetricStore``.
private final class ClickHouseConformanceData: PromQLTestData, @unchecked Sendable {
    // Used by one thread at a time: the runner's.
    private let url: String
    private let directory: TemporaryDirectory
    private var client: ClickHouseClient
    private var store: ClickHouseMetricStore
    private var generation = 0
    private var offset: Int64 = 0

    init(url: String, directory: TemporaryDirectory) throws {
        self.url = url
        self.directory = directory
        (client, store) = try Self.open(url: url, directory: directory, generation: 0)
    }

    deinit {
        let client = self.client
        try? ClickHouseClient.blocking { try await client.execute("DROP DATABASE IF EXISTS \(client.database)") }
    }

    /// A fresh database and store; the checkpoint directory is fresh too, so nothing counts as persisted.
    private static func open(url: String, directory: TemporaryDirectory, generation: Int) throws -> (ClickHouseClient, ClickHouseMetricStore) {
        let database = "t_conformance_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let client = try ClickHouseClient(url: url, database: database)
        let store = try ClickHouseClient.blocking {
            try await client.createDatabase()
            return try await ClickHouseMetricStore(client: client, checkpointDirectory: directory.file("ch-\(generation)"))
        }
        return (client, store)
    }

    var querier: any MetricQuerier { store }

    func clear() throws {
        let old = client
        try ClickHouseClient.blocking { try await old.execute("DROP DATABASE IF EXISTS \(old.database)") }
        generation += 1
        offset = 0
        (client, store) = try Self.open(url: url, directory: directory, generation: generation)
    }

    func add(_ labels: Labels, _ samples: [(t: Int64, v: Double)]) throws {
        let batch = TenantBatch(
            tenant: .default, batch: .metrics(MetricBatch(samples: samples.map { MetricSample(labels: labels, timestampMs: $0.t, value: $0.v) })))
        let admission = store.admit(batch)
        guard admission.rejected == 0 else { throw SightlineError(.invalidArgument, "samples of \(labels) rejected: \(admission.message)") }
        try store.apply(TenantBatch(tenant: .default, batch: admission.batch), at: WALPosition(segment: 0, offset: offset))
        offset += 1
    }

    func commit() throws {
        let store = self.store
        try ClickHouseClient.blocking { try await store.flush() }
    }
}

/// The PromQL conformance scripts (``PromQLConformance``) over the ClickHouse metric store: the same cases the
/// embedded engine passes must pass here.
@Suite(needsClickHouse) struct ClickHousePromQLConformanceTests {
    @Test func conformanceScripts() async throws {
        let url = try #require(clickHouseURL)
        let directory = try TemporaryDirectory(prefix: "sightline-ch-conformance")
        // The store blocks on ClickHouse: run off Swift's cooperative pool.
        let report = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PromQLConformance, any Error>) in
            Thread.detachNewThread {
                continuation.resume(with: Result { try PromQLConformance.run { try ClickHouseConformanceData(url: url, directory: directory) } })
            }
        }
        report.print()
        for problem in report.unparsable + report.unexpected {
            Issue.record("\(problem)")
        }
    }
}
