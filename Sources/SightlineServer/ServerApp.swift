import Foundation
import Hummingbird
import HummingbirdWebSocket
package import Logging
package import ServiceLifecycle
package import UnixSignals
import SightlineAuditStore
import SightlineCore
import SightlineScrape
import SightlineStorageCore
import SightlineLogStore
import SightlineTSDB
import SightlineTraceStore

/// Assembles `sightline server`: opens the WAL and the stores, builds the HTTP and gRPC listeners, and returns them as
/// one service group.
///
/// Start order (shutdown runs in reverse): storage (replays the WAL; on shutdown persists and closes it last), the
/// store's own services (merges and retention, or ClickHouse's timed inserts), the NATS queue consumer when
/// configured, checkpoints, audit digests, span metrics, self tracing, the notifier, rule evaluation, the SIGHUP
/// reloader, scraping, the syslog, Graphite and OpenTSDB listeners, OTLP/gRPC, HTTP. So on SIGTERM the listeners stop
/// accepting and finish in-flight requests first, then the stores are flushed (on ClickHouse: inserted) and the WAL
/// fsynced.
package enum ServerApp {
    /// The services of one server, and what tests need to reach inside.
    package struct Assembly: Sendable {
        package var group: ServiceGroup
        package var pipeline: IngestPipeline
        package var api: APIDependencies
        /// The rule evaluator and the notifier.
        package var alerting: AlertingRuntime
    }

    /// Opens storage under `configuration.dataDirectory` and builds the service group.
    /// - Parameters:
    ///   - signals: the signals that stop the group gracefully (SIGTERM and SIGINT for the real process).
    ///   - reloadSignals: the signals that reload the rule files and the Alertmanager config (SIGHUP).
    /// - Throws: when the data directory cannot be created, the WAL or a store is damaged, or a rule file or the
    ///   Alertmanager config is invalid.
    package static func assemble(
        _ configuration: ServerConfiguration, logger: Logger, signals: [UnixSignal] = [.sigterm, .sigint],
        reloadSignals: [UnixSignal] = [.sighup], onHTTPListening: (@Sendable (Int) -> Void)? = nil
    ) async throws -> Assembly {
        let dataDirectory = configuration.dataDirectory
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let metrics = ServerMetrics()
        var walOptions = WALOptions()
        walOptions.segmentSize = configuration.wal.segmentSize
        walOptions.fsync = configuration.wal.fsync
        walOptions.observer = { _, _, writeSeconds, fsyncSeconds in
            metrics.walCommitted(writeSeconds: writeSeconds, fsyncSeconds: fsyncSeconds)
        }
        let wal = try WriteAheadLog(directory: dataDirectory + "/wal", options: walOptions, logger: logger)
        // Opening the WAL logs a torn tail it cut off, with the bytes dropped.
        let storage = try await StorageBackend.open(configuration, metrics: metrics, logger: logger)
        let spanMetrics = configuration.traces.spanMetrics ? SpanMetrics(clockMs: { Int64(Date().timeIntervalSince1970 * 1000) }) : nil
        let pipeline = IngestPipeline(
            wal: wal, stores: storage.stores, limits: configuration.limits, metrics: metrics, logger: logger,
            observers: spanMetrics.map { [$0] } ?? [],
            deduplicator: try BatchDeduplicator(path: dataDirectory + "/batch-ids"),
            publisher: configuration.queue.publish
                ? configuration.queue.natsURL.map { QueuePublisher(url: $0, configuration: configuration.queue, logger: logger) } : nil
        )
        var api = APIDependencies(
            pipeline: pipeline, authenticator: Authenticator(tokens: configuration.tokens), limits: configuration.limits,
            metrics: metrics, logs: storage.logs, spans: storage.spans, samples: storage.samples, tsdb: storage.tsdb
        )
        let alerting = try AlertingRuntime(
            configuration: configuration, pipeline: pipeline, samples: storage.samples, logs: storage.logs, logger: logger)
        api.alerting = alerting
        api.promQLFeatures = configuration.promQLFeatures
        api.otlpTranslation = configuration.otlpTranslation
        api.logRetention = configuration.logs.retention
        let audit = storage.audit
        api.audit = audit
        if let folder = configuration.ui.assetsDirectory {
            api.ui = try WebUIAssets(directory: folder)
        } else {
            api.ui = WebUIAssets.bundled()
            if api.ui == nil { logger.warning("the web UI's files are not beside the executable: serving no UI") }
        }
        let selfTracer = configuration.traces.selfTracing ? SelfTracer(resource: SelfTracer.defaultResource()) : nil
        api.selfTracer = selfTracer
        api.selfTracingIngest = configuration.traces.selfTracingIngest
        let scrapeTargets = ScrapeTargetStatus()
        api.scrapeTargets = scrapeTargets
        if storage.tsdb != nil { api.snapshotsDirectory = configuration.dataDirectory + "/snapshots" }
        let router = HTTPAPI.router(api)
        let http = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: router),
            configuration: .init(
                address: .hostname(configuration.httpAddress.host, port: configuration.httpAddress.port),
                serverName: "sightline"
            ),
            onServerRunning: { channel in
                logger.info("HTTP listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
                if let port = channel.localAddress?.port { onHTTPListening?(port) }
            },
            logger: logger
        )
        let grpc = OTLPGRPCServer.make(address: configuration.otlpGRPCAddress, api: api, logger: logger)
        let scraper = ScrapeManager(configs: configuration.scrapeConfigs, logger: logger, status: scrapeTargets) { tenant, batch in
            _ = try await pipeline.ingest(DecodedBatch(.metrics(batch)), tenant: tenant, protocol: "scrape", bytes: 0)
        }
        let services: [any Service] = [StorageService(pipeline: pipeline, logger: logger)] + storage.services
            + QueueConsumer.services(for: configuration.queue, api: api, logger: logger) + [
            PeriodicService.checkpoints(
                pipeline, interval: configuration.wal.checkpointInterval, maxWALBytes: configuration.wal.checkpointBytes, logger: logger),
            PeriodicService(
                name: "audit digests and retention", interval: configuration.audit.digestInterval, logger: logger,
                operation: {
                    let now = AuditStore.wallClockNano()
                    try await audit.writeDigests(now: now)
                    try await audit.applyRetention(now: now)
                },
                atShutdown: {
                    try await audit.writeDigests(now: AuditStore.wallClockNano())
                    await audit.close()
                }),
            PeriodicService(name: "span metrics", interval: configuration.traces.spanMetricsInterval, logger: logger) {
                guard let spanMetrics, pipeline.isReady else { return }
                for (tenant, batch) in spanMetrics.collect(nowMs: Int64(Date().timeIntervalSince1970 * 1000)) where !batch.samples.isEmpty {
                    _ = try await pipeline.ingest(DecodedBatch(.metrics(batch)), tenant: tenant, protocol: "span_metrics", bytes: 0)
                }
            },
            PeriodicService(name: "self tracing", interval: .seconds(1), logger: logger) {
                guard let selfTracer, pipeline.isReady else { return }
                let (spans, dropped) = selfTracer.drain()
                if dropped > 0 { logger.warning("own spans dropped: the buffer was full", metadata: ["spans": "\(dropped)"]) }
                guard !spans.isEmpty else { return }
                _ = try await pipeline.ingest(
                    DecodedBatch(.traces(spans)), tenant: configuration.traces.selfTracingTenant, protocol: "self_tracing", bytes: 0)
            },
            NotifierService(runtime: alerting),
            RuleEvaluationService(
                runtime: alerting, pipeline: pipeline, logger: logger, leadership: configuration.alerting.leaderElection.map(AlertingLeadership.init)),
            ReloadSignalService(runtime: alerting, signals: reloadSignals, logger: logger),
            scraper,
            StreamListener(.syslog, configuration: configuration.syslog, pipeline: pipeline, logger: logger),
            StreamListener(.graphite, configuration: configuration.graphite, pipeline: pipeline, logger: logger),
            StreamListener(.openTSDB, configuration: configuration.openTSDB, pipeline: pipeline, logger: logger),
            grpc,
            http,
        ]
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map {
                .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
            },
            gracefulShutdownSignals: signals,
            cancellationSignals: [],
            logger: logger
        )
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(60)
        groupConfiguration.maximumCancellationDuration = .seconds(10)
        let group = ServiceGroup(configuration: groupConfiguration)
        return Assembly(group: group, pipeline: pipeline, api: api, alerting: alerting)
    }
}
