import Foundation
package import Logging
package import SightlineAlerting
package import SightlineCore
import SightlineStorageCore
import SightlineQuery

/// The server's alerting: the rule evaluator and the built-in notifier, wired to the ingestion pipeline and the
/// stores, with the reload that SIGHUP and `POST /-/reload` trigger.
///
/// - Rule output (recording rules, `ALERTS`, `ALERTS_FOR_STATE`, staleness markers) goes through the ingestion
///   pipeline (``PipelineRuleSampleSink``): into the WAL, then the metric store, visible to queries on return.
/// - Alerts go to the notifier and, when `alerting.forward_to` is set, to external Alertmanagers.
/// - State lives under the data directory: `rules/` (pending and firing alerts) and `alertmanager/` (alerts,
///   silences and the notification log per tenant). With `alerting.leader_election` it is shared through NATS
///   JetStream too (``SharedAlertingState``), and the notifier sends only while this server holds the lease.
package final class AlertingRuntime: Sendable {
    /// The rule evaluator.
    package let rules: RuleManager
    /// The built-in Alertmanager.
    package let notifier: Notifier
    /// The Alertmanager v2 API over ``notifier``.
    package let alertmanagerAPI: AlertmanagerAPI
    private let rulePatterns: [Tenant: [String]]
    private let alertmanagerConfig: String?
    /// The query engines rules are checked and evaluated with.
    private let engines: RuleQueryEngines
    private let logger: Logger
    /// The state shared with the other servers of the leader election; nil without one.
    let shared: SharedAlertingState?

    /// The configuration the notifier runs with when `alerting.alertmanager_config` is not set: every alert goes to
    /// a receiver without integrations, so the v2 API still holds alerts and silences.
    static let defaultNotifierConfig = """
        route:
          receiver: none
        receivers:
          - name: none
        """

    /// Builds the evaluator and the notifier and checks the rule files once.
    /// - Throws: `configuration` naming every invalid rule file with its line, or a bad Alertmanager config;
    ///   `io` when the state directories cannot be made or read.
    package init(
        configuration: ServerConfiguration, pipeline: IngestPipeline, samples: any MetricQuerier, logs: any LogSource, logger: Logger
    ) throws {
        let alerting = configuration.alerting
        let stateDirectory = configuration.dataDirectory + "/rules"
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let shared = alerting.leaderElection.map { SharedAlertingState($0, logger: logger) }
        self.shared = shared
        // With leader election only the lease holder's notifier sends, from when it has taken the shared state over.
        let sending = shared == nil
        if let path = alerting.alertmanagerConfig {
            notifier = try Notifier(
                configPath: path, dataDirectory: configuration.dataDirectory + "/alertmanager", externalURL: alerting.externalURL,
                logger: logger, mirror: shared, sending: sending)
        } else {
            notifier = try Notifier(
                config: NotifyConfigFile.parse(Self.defaultNotifierConfig, path: "(built-in notifier config)"),
                dataDirectory: configuration.dataDirectory + "/alertmanager", externalURL: alerting.externalURL, logger: logger,
                mirror: shared, sending: sending)
        }
        alertmanagerAPI = AlertmanagerAPI(notifier: notifier)
        var sinks: [any AlertSink] = []
        for url in alerting.forwardTo { sinks.append(AlertmanagerForwarder(baseURL: url, logger: logger)) }
        let externalLabels = Labels(alerting.externalLabels.sorted { $0.key < $1.key }.map { Label($0.key, $0.value) })
        var engineOptions = PromQLEngine.Options()
        engineOptions.parserOptions = configuration.promQLFeatures
        let engines = RuleQueryEngines(
            promql: PromQLRuleQueryEngine(engine: PromQLEngine(querier: samples, options: engineOptions)), logql: LogQLRuleQueryEngine(source: logs))
        self.engines = engines
        rules = RuleManager(
            engines: engines,
            sampleSink: PipelineRuleSampleSink(pipeline: pipeline),
            alertSink: AlertFanOut(notifier: notifier, forwarders: sinks),
            options: RuleManager.Options(
                evaluationIntervalMs: Self.milliseconds(alerting.evaluationInterval), resendDelayMs: Self.milliseconds(alerting.resendDelay),
                externalLabels: externalLabels, externalURL: alerting.externalURL, stateDirectory: stateDirectory),
            logger: logger, mirror: shared)
        rulePatterns = configuration.rules.files
        alertmanagerConfig = alerting.alertmanagerConfig
        self.logger = logger
        // Fail the start on a bad rule file, as Prometheus does; the evaluator loads them when it starts.
        _ = try checkedRuleFiles()
    }

    /// The rule files of every tenant, globs expanded, after checking that each one is valid.
    /// - Throws: `configuration` listing every problem as `file:line:column: message`.
    private func checkedRuleFiles() throws -> [Tenant: [String]] {
        let files = rulePatterns.mapValues(Self.expand)
        var problems: [String] = []
        for paths in files.values {
            if case .failure(let errors) = RuleFiles.load(paths: paths, checkers: engines) { problems.append(errors.description) }
        }
        guard problems.isEmpty else { throw SightlineError(.configuration, "invalid rule files:\n" + problems.joined(separator: "\n")) }
        return files
    }

    /// Loads the rule files into the evaluator (at start and on reload).
    /// - Throws: `configuration` naming the invalid files; the evaluator keeps its rules then.
    package func loadRules() async throws {
        let files = try checkedRuleFiles()
        do {
            try await rules.reload(files: files)
        } catch {
            throw error.sightlineError
        }
        logger.info("rules loaded", metadata: ["tenants": "\(files.count)", "files": "\(files.values.reduce(0) { $0 + $1.count })"])
    }

    /// Reads the rule files and the Alertmanager config again (SIGHUP, `POST /-/reload`). Each part is checked before
    /// it is applied, so a bad file leaves that part as it was.
    /// - Throws: `configuration` with every problem found.
    package func reload() async throws {
        var problems: [String] = []
        do { try await loadRules() } catch let error as SightlineError { problems.append(error.message) }
        if let path = alertmanagerConfig {
            do { try await notifier.reload(configPath: path) } catch let error as SightlineError { problems.append(error.message) }
        }
        guard problems.isEmpty else { throw SightlineError(.configuration, problems.joined(separator: "\n")) }
        logger.info("alerting configuration reloaded")
    }

    /// The paths a pattern names: the sorted matches of a glob, or the path itself when it has no glob characters
    /// (so a missing file is reported rather than silently skipped).
    static func expand(_ patterns: [String]) -> [String] { FileGlob.paths(patterns, keepingLiterals: true) }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}

/// Writes rule output through the ingestion pipeline, as any other metric batch: WAL first, then the metric store.
/// `ingest` applies the batch to the store before it returns, so a later rule of the same group sees it.
package struct PipelineRuleSampleSink: RuleSampleSink {
    let pipeline: IngestPipeline

    package init(pipeline: IngestPipeline) { self.pipeline = pipeline }

    /// - Throws: the pipeline's errors (e.g. `unavailable` during WAL replay), and `invalidArgument` when samples
    ///   were rejected (limits, out of order); the rule's health becomes `err` with the message.
    package func write(_ samples: [MetricSample], tenant: Tenant) async throws {
        guard !samples.isEmpty else { return }
        // Stored here even when direct pushes go to the queue: the group's later rules read it.
        let pipeline = self.pipeline
        let outcome = try await IngestPipeline.$storesHere.withValue(true) {
            try await pipeline.ingest(DecodedBatch(.metrics(MetricBatch(samples: samples))), tenant: tenant, protocol: "rules", bytes: 0)
        }
        if outcome.rejected > 0 {
            throw SightlineError(.invalidArgument, "\(outcome.rejected) of \(samples.count) rule samples were rejected: \(outcome.message)")
        }
    }
}

/// ``RuleQueryEngine`` over the LogQL engine, for groups with `query_language: logql`: the rule's expression must be
/// a LogQL metric query; its instant vector (or scalar) is the rule's result.
package struct LogQLRuleQueryEngine: RuleQueryEngine {
    private let source: (any LogSource)?

    /// An engine over `source`; without one it only checks syntax (`sightline rules check`).
    package init(source: (any LogSource)? = nil) { self.source = source }

    package func instant(_ expr: String, tenant: Tenant, timeMs: Int64) throws -> [(Labels, Double)] {
        guard let source else { throw SightlineError(.unavailable, "no log store to evaluate LogQL rules over") }
        // Rules may aggregate many streams: the series cap is the rule group's `limit`, not the API's.
        let engine = LogQLEngine(source: source, limits: LogQLEngine.Limits(maxSeries: 1_000_000))
        switch try engine.instant(query: expr, tenant: tenant, time: timeMs * 1_000_000) {
        case .vector(let samples): return samples.map { ($0.metric, $0.v) }
        case .scalar(_, let value): return [(Labels([]), value)]
        case .streams, .matrix: throw SightlineError(.invalidArgument, "LogQL rule result is not a vector or scalar")
        }
    }

    package func check(_ expr: String) throws {
        let info: LogQLQueryInfo
        do {
            info = try LogQLEngine.info(expr)
        } catch {
            throw SightlineError(.invalidArgument, error.description)
        }
        guard info.isMetric else {
            throw SightlineError(.invalidArgument, "a LogQL rule needs a metric query (e.g. sum(rate({app=\"x\"}[5m]))), not a log query")
        }
    }
}

/// Hands alerts to the notifier, and to the external Alertmanagers without waiting for them, so a slow or
/// unreachable one never delays rule evaluation (it gets firing alerts again at the next resend anyway).
struct AlertFanOut: AlertSink {
    let notifier: Notifier
    let forwarders: [any AlertSink]

    func send(_ alerts: [Alert], tenant: Tenant) async {
        await notifier.send(alerts, tenant: tenant)
        for forwarder in forwarders {
            Task { await forwarder.send(alerts, tenant: tenant) }
        }
    }
}
