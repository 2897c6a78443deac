import Foundation
import Logging
import ServiceLifecycle
import SightlineAuditStore
import SightlineClickHouse
import SightlineCore
import SightlineLogStore
import SightlineTSDB
import SightlineTraceStore

/// The stores a server writes through its pipeline and reads from: the embedded engines under the data directory, or
/// ClickHouse (`storage.backend: clickhouse`), where the server keeps only its write-ahead log and any number of
/// servers share the data. The query engines, alerting and the UI see only the store protocols, never which it is.
struct StorageBackend {
    /// What the pipeline applies batches to, one store per signal.
    var stores: [any SignalStore]
    var logs: any LogQuerier & LogSource
    var spans: any TraceSource
    var samples: any MetricQuerier
    /// The embedded metrics engine, for its statistics (`/api/v1/status/tsdb`); nil on ClickHouse.
    var tsdb: TSDB?
    /// The audit trail: hash-chained files under `<data_dir>/audit`, or ClickHouse tables with one chain per tenant
    /// and server (the signing key and the server's writer id stay in `<data_dir>/audit`).
    var audit: any AuditBackend
    /// The store's background work: merges and retention, or ClickHouse's timed inserts and partition drops.
    var services: [any Service]

    /// Opens the configured backend.
    /// - Throws: when a store under the data directory is damaged, or ClickHouse cannot be reached or migrated.
    static func open(_ configuration: ServerConfiguration, metrics: ServerMetrics, logger: Logger) async throws -> StorageBackend {
        switch configuration.storage.backend {
        case .embedded: try embedded(configuration, metrics: metrics, logger: logger)
        case .clickhouse: try await clickHouse(configuration, logger: logger)
        }
    }

    private static func embedded(_ configuration: ServerConfiguration, metrics: ServerMetrics, logger: Logger) throws -> StorageBackend {
        let dataDirectory = configuration.dataDirectory
        var logOptions = LogStoreOptions()
        logOptions.defaultRetention = configuration.logs.retention
        logOptions.retention = configuration.logs.retentionRules.map { LogRetentionRule(tenant: $0.tenant, matchers: $0.matchers, maxAge: $0.maxAge) }
        logOptions.rolloverMaxBytes = configuration.logs.rolloverMaxBytes
        logOptions.rolloverMaxAge = configuration.logs.rolloverMaxAge
        let logs = try LogStore(directory: dataDirectory + "/logs", options: logOptions, logger: logger)
        var tsdbOptions = TSDB.Options()
        tsdbOptions.outOfOrderWindowMs = configuration.metrics.outOfOrderWindow.milliseconds
        tsdbOptions.retentionMs = configuration.metrics.retention?.milliseconds
        tsdbOptions.retentionBytes = configuration.metrics.retentionBytes
        tsdbOptions.maxSeriesPerTenant = configuration.metrics.maxSeriesPerTenant
        tsdbOptions.maxSamplesPerRequest = configuration.metrics.maxSamplesPerRequest
        tsdbOptions.maxExemplarsPerTenant = configuration.metrics.maxExemplarsPerTenant
        let tsdb = try TSDB(directory: dataDirectory + "/tsdb", options: tsdbOptions, logger: logger)
        let traces = try TraceStore(
            directory: dataDirectory + "/traces", options: TraceStoreOptions(retention: configuration.traces.retention), logger: logger)
        let services: [any Service] = [
            PeriodicService(name: "metrics maintenance", interval: configuration.metrics.maintenanceInterval, logger: logger) {
                try tsdb.maintain(metrics: metrics, logger: logger)
            },
            PeriodicService(name: "logs maintenance", interval: configuration.logs.maintenanceInterval, logger: logger) {
                _ = try logs.maintain(now: LogStore.wallClockNano())
            },
            PeriodicService(name: "traces maintenance", interval: configuration.traces.maintenanceInterval, logger: logger) {
                _ = try traces.maintain(nowNano: UInt64(Date().timeIntervalSince1970 * 1e9))
            },
        ]
        let audit = try AuditStore(directory: dataDirectory + "/audit", options: auditOptions(configuration), logger: logger)
        return StorageBackend(
            stores: [logs, tsdb, traces], logs: logs, spans: traces, samples: tsdb, tsdb: tsdb, audit: audit, services: services)
    }

    private static func clickHouse(_ configuration: ServerConfiguration, logger: Logger) async throws -> StorageBackend {
        let settings = configuration.storage.clickhouse
        guard let url = settings.url else {
            throw SightlineError(.configuration, "storage.backend clickhouse needs storage.clickhouse.url (or --clickhouse-url)")
        }
        let client = try ClickHouseClient(url: url, database: settings.database, user: settings.user, password: settings.password)
        try await client.createDatabase()
        // What the server remembers of ClickHouse: the last WAL segment each table fully holds.
        let checkpoints = configuration.dataDirectory + "/clickhouse"
        try FileManager.default.createDirectory(atPath: checkpoints, withIntermediateDirectories: true)
        let logs = try await ClickHouseLogStore(client: client, checkpointDirectory: checkpoints)
        let traces = try await ClickHouseTraceStore(client: client, checkpointDirectory: checkpoints)
        var metricOptions = ClickHouseMetricStore.Options()
        metricOptions.maxSamplesPerRequest = configuration.metrics.maxSamplesPerRequest
        let samples = try await ClickHouseMetricStore(client: client, checkpointDirectory: checkpoints, options: metricOptions)
        let audit = try await ClickHouseAuditStore(
            client: client, directory: configuration.dataDirectory + "/audit", options: auditOptions(configuration), logger: logger)
        let version = try await client.version()
        logger.info("storage: ClickHouse", metadata: ["url": "\(url)", "database": "\(settings.database)", "version": "\(version)"])

        let nowNano: @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1e9) }
        let services: [any Service] = [
            // Inserts what arrived since the last tick; a failure keeps the rows buffered (and in the WAL) for the next.
            PeriodicService(
                name: "clickhouse inserts", interval: settings.flushInterval, logger: logger,
                operation: {
                    try await logs.flush()
                    try await traces.flush()
                    try await samples.flush()
                }),
            // Whole days older than the retention go; ClickHouse partitions by day, shared by the tenants.
            PeriodicService(name: "clickhouse retention", interval: configuration.logs.maintenanceInterval, logger: logger) {
                if let retention = configuration.logs.retention {
                    _ = try await logs.dropPartitions(olderThan: nowNano() - UInt64(max(0, retention.milliseconds)) * 1_000_000)
                }
                if let retention = configuration.traces.retention {
                    _ = try await traces.dropPartitions(olderThan: nowNano() - UInt64(max(0, retention.milliseconds)) * 1_000_000)
                }
                if let retention = configuration.metrics.retention {
                    _ = try await samples.dropPartitions(olderThan: Int64(Date().timeIntervalSince1970 * 1000) - retention.milliseconds)
                }
            },
        ]
        return StorageBackend(
            stores: [logs, samples, traces], logs: logs, spans: traces, samples: samples, tsdb: nil, audit: audit, services: services)
    }

    /// The audit store's options from the `audit:` section (segment size matters to the embedded store only).
    private static func auditOptions(_ configuration: ServerConfiguration) -> AuditStoreOptions {
        var options = AuditStoreOptions()
        options.retention = configuration.audit.retention
        options.tenantRetention = configuration.audit.tenantRetention
        options.segmentMaxBytes = configuration.audit.segmentMaxBytes
        return options
    }
}
