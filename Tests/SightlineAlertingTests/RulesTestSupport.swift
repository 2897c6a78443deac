import Foundation
import Logging
import SightlineCore
import SightlineQuery
import SightlineTestSupport

@testable import SightlineAlerting

/// An in-memory metric store: the PromQL engine reads it, and the rule manager's sample sink writes into it, so
/// recorded series and `ALERTS` are visible to later queries as in the server.
final class RulesTestStore: MetricQuerier, RuleSampleSink, @unchecked Sendable {
    // Guarded by `lock`.
    private var series: [Labels: [(t: Int64, v: Double)]] = [:]
    private var written: [MetricSample] = []
    private let lock = NSLock()

    /// Adds samples to a series; a later sample at the same time replaces the earlier one.
    func add(_ labels: Labels, _ samples: [(t: Int64, v: Double)]) {
        lock.lock()
        defer { lock.unlock() }
        var existing = series[labels] ?? []
        for sample in samples {
            if let index = existing.firstIndex(where: { $0.t == sample.t }) { existing[index] = sample } else { existing.append(sample) }
        }
        existing.sort { $0.t < $1.t }
        series[labels] = existing
    }

    /// Everything the rule manager wrote, in order.
    var writtenSamples: [MetricSample] {
        lock.lock()
        defer { lock.unlock() }
        return written
    }

    /// The samples written at `timestampMs` whose metric name is `name`.
    func written(_ name: String, atMs timestampMs: Int64) -> [MetricSample] {
        writtenSamples.filter { $0.labels.metricName == name && $0.timestampMs == timestampMs }
    }

    func write(_ samples: [MetricSample], tenant: Tenant) async throws {
        lock.withLock { written += samples }
        for sample in samples { add(sample.labels, [(sample.timestampMs, sample.value)]) }
    }

    func select(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [SeriesSamples] {
        lock.lock()
        defer { lock.unlock() }
        var out: [SeriesSamples] = []
        for (labels, samples) in series where matchers.allSatisfy({ $0.matches(labels) }) {
            let window = samples.filter { $0.t >= startMs && $0.t <= endMs }
            out.append(SeriesSamples(labels: labels, timestampsMs: window.map(\.t), values: window.map(\.v)))
        }
        return out.sorted { $0.labels < $1.labels }
    }

    func labelNames(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] { [] }
    func labelValues(tenant: Tenant, name: String, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] { [] }
    func metadata(tenant: Tenant, metric: String?) throws -> [MetricMetadata] { [] }
}

/// Records what the rule manager hands to the notifier.
final class RulesTestAlertSink: AlertSink, @unchecked Sendable {
    private var batches: [[Alert]] = []
    private let lock = NSLock()

    func send(_ alerts: [Alert], tenant: Tenant) async {
        lock.withLock { batches.append(alerts) }
    }

    /// The batches sent so far; clears the record.
    func take() -> [[Alert]] {
        lock.lock()
        defer { lock.unlock() }
        let out = batches
        batches = []
        return out
    }
}

/// A manager over a fresh store, with rules from YAML text written to a temporary file.
struct RulesHarness {
    let store = RulesTestStore()
    let alerts = RulesTestAlertSink()
    let manager: RuleManager
    let directory: TemporaryDirectory

    init(_ yaml: String, options: RuleManager.Options = RuleManager.Options(), directory: TemporaryDirectory? = nil) throws {
        let directory = try directory ?? TemporaryDirectory(prefix: "sightline-rules")
        self.directory = directory
        var options = options
        if options.stateDirectory == nil { options.stateDirectory = directory.file("state") }
        manager = RuleManager(
            engines: RuleQueryEngines(promql: PromQLRuleQueryEngine(engine: PromQLEngine(querier: store))), sampleSink: store,
            alertSink: alerts, options: options, logger: Logger(label: "rules-test"))
        try yaml.write(toFile: directory.file("rules.yml"), atomically: true, encoding: .utf8)
    }

    /// Loads (or reloads) `rules.yml`, optionally rewritten with `yaml`.
    func load(_ yaml: String? = nil) async throws {
        if let yaml { try yaml.write(toFile: directory.file("rules.yml"), atomically: true, encoding: .utf8) }
        try await manager.reload(files: [.default: [directory.file("rules.yml")]])
    }

    func evaluate(atSeconds seconds: Int64) async {
        await manager.evaluate(tenant: .default, atMs: seconds * 1000)
    }

    /// The alerts of the first rule named `name`.
    func alerts(of name: String) async -> [ActiveAlert] {
        await manager.status(tenant: .default).flatMap(\.rules).first { $0.name == name }?.alerts ?? []
    }

    func rule(_ name: String) async -> RuleStatus? {
        await manager.status(tenant: .default).flatMap(\.rules).first { $0.name == name }
    }
}
