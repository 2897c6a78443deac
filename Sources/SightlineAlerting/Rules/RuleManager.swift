import Foundation
package import Logging
package import SightlineCore
import SightlineQuery

/// Evaluates the alerting and recording rules of every tenant, as Prometheus' rule manager does.
///
/// - Each group is evaluated on its interval at slots spread by a hash of its file and name (Prometheus'
///   `EvalTimestamp`); the groups of one tenant run one after the other in file order, and the rules of a group in
///   order, each writing its output before the next runs, so later rules see what earlier ones recorded.
/// - Alerting rules follow Prometheus' state machine (pending → firing after `for`, `keep_firing_for`, resolved alerts
///   kept 15 minutes and sent as resolved), write `ALERTS` and `ALERTS_FOR_STATE`, and hand alerts to the
///   ``AlertSink`` after each group evaluation with Prometheus' resend rules.
/// - Series a rule stops returning get a staleness marker; so do the series of rules and groups a reload removes (at
///   the tenant's next evaluation).
/// - With a state directory, active alerts survive restarts (see ``RuleStateFile``). With a mirror, every state
///   document written goes to it too, and ``replaceState(tenant:document:)`` takes a shared one over (leader election).
///
/// ```swift
/// let manager = RuleManager(
///     engines: RuleQueryEngines(promql: PromQLRuleQueryEngine(engine: PromQLEngine(querier: store))),
///     sampleSink: pipelineSink, alertSink: notifier,
///     options: .init(stateDirectory: dataDir + "/rules"), logger: logger)
/// try await manager.reload(files: [.default: ["rules/api.yml"]])
/// await manager.run()               // until the task is cancelled; or drive evaluate(tenant:atMs:) yourself
/// ```
package actor RuleManager {
    /// Settings of the manager; Prometheus' defaults.
    package struct Options: Sendable {
        /// The interval of groups that do not set one (Prometheus' `evaluation_interval`).
        package var evaluationIntervalMs: Int64
        /// The query offset of groups that do not set one (Prometheus' `rule_query_offset`).
        package var queryOffsetMs: Int64
        /// The least time between two sends of an unchanged alert (Prometheus' `--rules.alert.resend-delay`).
        package var resendDelayMs: Int64
        /// The server's external labels: `$externalLabels` in templates, and added to sent alerts.
        package var externalLabels: Labels
        /// The server's external URL: `$externalURL`, and the base of alerts' generator URLs.
        package var externalURL: String
        /// Where active alerts are kept across restarts; nil keeps them in memory only.
        package var stateDirectory: String?

        package init(
            evaluationIntervalMs: Int64 = 60_000, queryOffsetMs: Int64 = 0, resendDelayMs: Int64 = 60_000,
            externalLabels: Labels = Labels([]), externalURL: String = "", stateDirectory: String? = nil
        ) {
            self.evaluationIntervalMs = evaluationIntervalMs
            self.queryOffsetMs = queryOffsetMs
            self.resendDelayMs = resendDelayMs
            self.externalLabels = externalLabels
            self.externalURL = externalURL
            self.stateDirectory = stateDirectory
        }
    }

    private let engines: RuleQueryEngines
    private let sampleSink: any RuleSampleSink
    private let alertSink: any AlertSink
    private let options: Options
    private let logger: Logger
    private var tenants: [Tenant: [GroupRuntime]] = [:]
    /// Alerts read from state files whose rules have not been loaded yet, by ``RuleStateFile/key(file:group:rule:labels:)``.
    private var restoredAlerts: [Tenant: [String: [ActiveAlert]]] = [:]
    private var stateFilesRead: Set<Tenant> = []
    /// Series of removed rules, marked stale at the tenant's next evaluation.
    private var pendingStale: [Tenant: Set<Labels>] = [:]
    private var generations = 0
    /// Gets every state document written (shared state with leader election).
    private let mirror: (any AlertingStateMirror)?

    /// A manager with no rules; call ``reload(files:)`` or ``reload(groups:)``.
    package init(
        engines: RuleQueryEngines, sampleSink: any RuleSampleSink, alertSink: any AlertSink, options: Options = Options(),
        logger: Logger, mirror: (any AlertingStateMirror)? = nil
    ) {
        self.mirror = mirror
        self.engines = engines
        self.sampleSink = sampleSink
        self.alertSink = alertSink
        self.options = options
        self.logger = logger
    }

    // MARK: Loading

    /// Loads the rule files of each tenant and replaces every group, keeping the state of unchanged rules.
    /// - Throws: every diagnostic of every invalid file; nothing changes then.
    package func reload(files: [Tenant: [String]]) throws(RuleFileErrors) {
        var groups: [Tenant: [RuleGroupDefinition]] = [:]
        var diagnostics: [RuleFileDiagnostic] = []
        for (tenant, paths) in files {
            switch RuleFiles.load(paths: paths, checkers: engines) {
            case .success(let loaded): groups[tenant] = loaded
            case .failure(let errors): diagnostics += errors.diagnostics
            }
        }
        guard diagnostics.isEmpty else { throw RuleFileErrors(diagnostics: diagnostics) }
        reload(groups: groups)
    }

    /// Replaces every group with `groups` (tenants not named lose their groups). A rule with the same group (file and
    /// name), name, expression and labels as before keeps its alerts, health and series; other removed rules' series
    /// are marked stale. Rules new since start-up get their alerts back from the state directory.
    package func reload(groups: [Tenant: [RuleGroupDefinition]]) {
        var next: [Tenant: [GroupRuntime]] = [:]
        for tenant in Set(groups.keys).union(tenants.keys) {
            readStateFileIfNeeded(tenant)
            var old: [String: GroupRuntime] = [:]
            for group in tenants[tenant] ?? [] { old[Self.key(group.definition)] = group }
            var runtimes: [GroupRuntime] = []
            for definition in groups[tenant] ?? [] {
                generations += 1
                var runtime = GroupRuntime(
                    definition: definition,
                    rules: definition.rules.map { RuleRuntime(definition: $0, groupLabels: definition) },
                    intervalMs: max(definition.intervalMs ?? options.evaluationIntervalMs, 1),
                    queryOffsetMs: definition.queryOffsetMs ?? options.queryOffsetMs, generation: generations)
                if let previous = old.removeValue(forKey: Self.key(definition)) {
                    carryOver(from: previous, to: &runtime, tenant: tenant)
                } else {
                    restore(&runtime, tenant: tenant)
                }
                runtimes.append(runtime)
            }
            for removed in old.values {
                for rule in removed.rules { pendingStale[tenant, default: []].formUnion(rule.seriesInPreviousEvaluation) }
            }
            if !runtimes.isEmpty { next[tenant] = runtimes }
        }
        tenants = next
    }

    private static func key(_ group: RuleGroupDefinition) -> String { group.file + "\u{0}" + group.name }

    /// Moves the state of unchanged rules from `previous` into `runtime`; the others' series become stale.
    private func carryOver(from previous: GroupRuntime, to runtime: inout GroupRuntime, tenant: Tenant) {
        var used = Set<Int>()
        for index in runtime.rules.indices {
            let rule = runtime.rules[index]
            guard
                let match = previous.rules.indices.first(where: {
                    !used.contains($0) && previous.rules[$0].definition.hasSameIdentity(as: rule.definition)
                        && previous.rules[$0].labels == rule.labels
                })
            else { continue }
            used.insert(match)
            let old = previous.rules[match]
            runtime.rules[index].active = old.active
            runtime.rules[index].health = old.health
            runtime.rules[index].lastError = old.lastError
            runtime.rules[index].lastEvaluationMs = old.lastEvaluationMs
            runtime.rules[index].evaluationSeconds = old.evaluationSeconds
            runtime.rules[index].seriesInPreviousEvaluation = old.seriesInPreviousEvaluation
        }
        for index in previous.rules.indices where !used.contains(index) {
            pendingStale[tenant, default: []].formUnion(previous.rules[index].seriesInPreviousEvaluation)
        }
        runtime.lastEvaluationMs = previous.lastEvaluationMs
        runtime.evaluationSeconds = previous.evaluationSeconds
        if previous.intervalMs == runtime.intervalMs { runtime.nextEvaluationMs = previous.nextEvaluationMs }
    }

    /// Gives the alerting rules of a new group the alerts the state file kept for them.
    private func restore(_ runtime: inout GroupRuntime, tenant: Tenant) {
        for index in runtime.rules.indices where runtime.rules[index].definition.kind == .alerting {
            let rule = runtime.rules[index]
            let key = RuleStateFile.key(file: runtime.definition.file, group: runtime.definition.name, rule: rule.definition, labels: rule.labels)
            guard let alerts = restoredAlerts[tenant]?.removeValue(forKey: key) else { continue }
            for alert in alerts { runtime.rules[index].active[alert.labels] = alert }
        }
    }

    private func readStateFileIfNeeded(_ tenant: Tenant) {
        guard let directory = options.stateDirectory, stateFilesRead.insert(tenant).inserted else { return }
        let path = RuleStateFile.path(directory: directory, tenant: tenant)
        do {
            guard let file = try RuleStateFile.read(path: path) else { return }
            var byKey: [String: [ActiveAlert]] = [:]
            for rule in file.rules { byKey[file.key(of: rule)] = rule.alerts.map(RuleStateFile.restored) }
            restoredAlerts[tenant] = byKey
        } catch {
            logger.warning("alert state not restored", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
        }
    }

    /// Writes the tenant's active alerts to its state file and hands the document to the mirror.
    private func writeStateFile(_ tenant: Tenant, mirrored: Bool = true) {
        guard options.stateDirectory != nil || mirror != nil else { return }
        var file = RuleStateFile()
        for group in tenants[tenant] ?? [] {
            for rule in group.rules where rule.definition.kind == .alerting && !rule.active.isEmpty {
                file.rules.append(
                    RuleStateFile.StoredRule(
                        file: group.definition.file, group: group.definition.name, name: rule.definition.name, expr: rule.definition.expr,
                        labels: rule.labels.map { [$0.name, $0.value] },
                        alerts: rule.active.keys.sorted().compactMap { rule.active[$0].map(RuleStateFile.stored) }))
            }
        }
        do {
            let bytes = try file.encoded()
            if let directory = options.stateDirectory { try RuleStateFile.write(bytes, path: RuleStateFile.path(directory: directory, tenant: tenant)) }
            if mirrored { mirror?.saved(AlertingStateDocument(.ruleAlerts, tenant: tenant), bytes: bytes) }
        } catch {
            logger.error("alert state not saved", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
        }
    }

    /// Replaces the tenant's active alerts with a shared state document (what a server does when it takes the lead,
    /// before it evaluates): each alerting rule gets exactly the alerts the document has for it — so `for` timers go
    /// on from their `activeAt` and firing alerts stay firing — and alerts of rules not loaded yet wait for them.
    /// The result is written to the local state file. Call it while the evaluation is not running.
    /// - Throws: `dataCorrupted` when the document does not decode; nothing changes then.
    package func replaceState(tenant: Tenant, document: [UInt8]) throws {
        let file = try RuleStateFile.decode(document, source: "the shared alert state of tenant \(tenant.id)")
        var byKey: [String: [ActiveAlert]] = [:]
        for rule in file.rules { byKey[file.key(of: rule)] = rule.alerts.map(RuleStateFile.restored) }
        stateFilesRead.insert(tenant)
        for groupIndex in (tenants[tenant] ?? []).indices {
            guard let group = tenants[tenant]?[groupIndex] else { continue }
            for ruleIndex in group.rules.indices where group.rules[ruleIndex].definition.kind == .alerting {
                let rule = group.rules[ruleIndex]
                let key = RuleStateFile.key(file: group.definition.file, group: group.definition.name, rule: rule.definition, labels: rule.labels)
                var active: [Labels: ActiveAlert] = [:]
                for alert in byKey.removeValue(forKey: key) ?? [] { active[alert.labels] = alert }
                tenants[tenant]?[groupIndex].rules[ruleIndex].active = active
            }
        }
        restoredAlerts[tenant] = byKey
        writeStateFile(tenant, mirrored: false)
    }

    // MARK: Evaluation

    /// Evaluates every group of `tenant` at exactly `atMs`, in file order (for tests and manual driving).
    package func evaluate(tenant: Tenant, atMs: Int64) async {
        for key in (tenants[tenant] ?? []).map({ Self.key($0.definition) }) {
            await evaluateGroup(tenant: tenant, key: key, atMs: atMs)
        }
    }

    /// Evaluates the groups whose slot has come by `nowMs` (a missed slot is skipped to the latest one): tenants side
    /// by side, the groups of one tenant in file order. A group seen for the first time is scheduled for its next slot.
    /// Drive it from one loop only (``run(now:)`` or a test), not alongside ``evaluate(tenant:atMs:)`` for the same tenant.
    /// - Returns: the earliest next slot of any group, or nil when there are no groups.
    @discardableResult
    package func evaluateDue(nowMs: Int64) async -> Int64? {
        var earliest: Int64?
        // Tenants whose last groups were removed get their staleness markers now: no evaluation of theirs will.
        for tenant in pendingStale.keys.sorted() where tenants[tenant] == nil {
            let stale = pendingStale.removeValue(forKey: tenant) ?? []
            await write(stale.sorted().map { MetricSample(labels: $0, timestampMs: nowMs, value: StaleNaN.value) }, tenant: tenant)
        }
        var due: [Tenant: [(key: String, slotMs: Int64)]] = [:]
        for tenant in tenants.keys.sorted() {
            for index in (tenants[tenant] ?? []).indices {
                guard let group = tenants[tenant]?[index] else { continue }
                let next = group.nextEvaluationMs ?? group.evaluationSlot(atOrBefore: nowMs) + group.intervalMs
                var scheduled = next
                if next <= nowMs {
                    let missed = (nowMs - next) / group.intervalMs
                    let slot = next + missed * group.intervalMs
                    scheduled = slot + group.intervalMs
                    due[tenant, default: []].append((Self.key(group.definition), slot))
                }
                tenants[tenant]?[index].nextEvaluationMs = scheduled
                earliest = min(earliest ?? scheduled, scheduled)
            }
        }
        // Tenants run side by side; the groups of one tenant run one after the other in file order.
        await withTaskGroup(of: Void.self) { tasks in
            for (tenant, work) in due {
                tasks.addTask {
                    for (key, slot) in work { await self.evaluateGroup(tenant: tenant, key: key, atMs: slot) }
                }
            }
        }
        return earliest
    }

    /// Runs ``evaluateDue(nowMs:)`` on the wall clock until the task is cancelled, waking at least every second so
    /// that reloaded groups are picked up. Wrap it in a `Service` to run it in the server's service group.
    package func run(now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) async {
        while !Task.isCancelled {
            let next = await evaluateDue(nowMs: now())
            let wait = min(max((next ?? Int64.max) - now(), 5), 1000)
            do {
                try await Task.sleep(for: .milliseconds(wait))
            } catch {
                return
            }
        }
    }

    private func evaluateGroup(tenant: Tenant, key: String, atMs timestampMs: Int64) async {
        guard var group = tenants[tenant]?.first(where: { Self.key($0.definition) == key }) else { return }
        let generation = group.generation
        if let stale = pendingStale.removeValue(forKey: tenant), !stale.isEmpty {
            let markers = stale.sorted().map { MetricSample(labels: $0, timestampMs: timestampMs - group.queryOffsetMs, value: StaleNaN.value) }
            await write(markers, tenant: tenant)
        }
        var context = RuleEvaluationContext(
            tenant: tenant, engine: nil, engineError: nil, externalLabels: options.externalLabels, externalURL: options.externalURL)
        do {
            context.engine = try engines.engine(for: group.definition.language)
        } catch {
            context.engineError = RuleRuntime.message(of: error)
        }
        let start = ContinuousClock.now
        let (alerts, stateChanged) = await Self.runRules(
            &group, atMs: timestampMs, context: context, options: options, sampleSink: sampleSink, logger: logger)
        let elapsed = ContinuousClock.now - start
        group.evaluationSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        group.lastEvaluationMs = timestampMs
        // Write back unless a reload replaced the group meanwhile (its state was carried over from before this run).
        if let index = tenants[tenant]?.firstIndex(where: { Self.key($0.definition) == key && $0.generation == generation }) {
            group.nextEvaluationMs = tenants[tenant]?[index].nextEvaluationMs
            tenants[tenant]?[index] = group
            if stateChanged { writeStateFile(tenant) }
        }
        if !alerts.isEmpty { await alertSink.send(alerts, tenant: tenant) }
    }

    /// Runs the rules of `group` in order, writing each rule's output before the next runs. Not isolated to the
    /// actor, so that long queries leave the manager free to answer status calls and to evaluate other tenants.
    /// - Returns: the alerts to send, and whether any alert changed state.
    private nonisolated static func runRules(
        _ group: inout GroupRuntime, atMs timestampMs: Int64, context: RuleEvaluationContext, options: Options,
        sampleSink: any RuleSampleSink, logger: Logger
    ) async -> (alerts: [Alert], stateChanged: Bool) {
        var stateChanged = false
        var alerts: [Alert] = []
        for index in group.rules.indices {
            let outcome = group.rules[index].evaluate(
                atMs: timestampMs, queryOffsetMs: group.queryOffsetMs, limit: group.definition.limit, context: context)
            stateChanged = stateChanged || outcome.alertStateChanged
            if group.rules[index].definition.kind == .alerting && group.rules[index].health == .ok {
                alerts += group.rules[index].alertsToSend(
                    atMs: timestampMs, resendDelayMs: options.resendDelayMs, intervalMs: group.intervalMs,
                    externalLabels: options.externalLabels,
                    generatorURL: generatorURL(group.rules[index].definition.expr, externalURL: options.externalURL))
            }
            if !outcome.samples.isEmpty {
                do {
                    try await sampleSink.write(outcome.samples, tenant: context.tenant)
                } catch {
                    group.rules[index].health = .err
                    group.rules[index].lastError = RuleRuntime.message(of: error)
                    logger.warning(
                        "rule output not written",
                        metadata: [
                            "tenant": "\(context.tenant)", "group": "\(group.definition.name)", "rule": "\(group.rules[index].definition.name)",
                        ])
                }
            }
        }
        return (alerts, stateChanged)
    }

    private func write(_ samples: [MetricSample], tenant: Tenant) async {
        do {
            try await sampleSink.write(samples, tenant: tenant)
        } catch {
            logger.warning("staleness markers not written", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
        }
    }

    /// Prometheus' generator URL: the external URL and the expression's table link.
    private nonisolated static func generatorURL(_ expr: String, externalURL: String) -> String {
        var base = externalURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/graph?g0.expr=" + GoBuiltins.queryEscape(expr) + "&g0.tab=1"
    }

    // MARK: Status

    /// A snapshot of `tenant`'s groups for the API (``RulesAPI``) and the UI.
    package func status(tenant: Tenant) -> [RuleGroupStatus] {
        (tenants[tenant] ?? []).map { group in
            RuleGroupStatus(
                name: group.definition.name, file: group.definition.file, language: group.definition.language,
                intervalMs: group.intervalMs, limit: group.definition.limit, evaluationSeconds: group.evaluationSeconds,
                lastEvaluationMs: group.lastEvaluationMs,
                rules: group.rules.map { rule in
                    RuleStatus(
                        kind: rule.definition.kind, name: rule.definition.name,
                        // The expression passed the engine's check when loaded; any feature it uses prints.
                        query: group.definition.language == .promql
                            ? ((try? PromQLParser.parse(rule.definition.expr, options: .allFeatures))?.description ?? rule.definition.expr)
                            : rule.definition.expr,
                        forMs: rule.definition.forMs, keepFiringForMs: rule.definition.keepFiringForMs, labels: rule.labels,
                        annotations: rule.definition.annotations, state: rule.state,
                        alerts: rule.active.keys.sorted().compactMap { rule.active[$0] }, health: rule.health, lastError: rule.lastError,
                        evaluationSeconds: rule.evaluationSeconds, lastEvaluationMs: rule.lastEvaluationMs)
                })
        }
    }

    /// The tenants that have rules.
    package var tenantsWithRules: [Tenant] { tenants.keys.sorted() }
}

/// A group as ``RuleManager/status(tenant:)`` reports it.
package struct RuleGroupStatus: Sendable {
    package var name: String
    package var file: String
    package var language: RuleQueryLanguage
    package var intervalMs: Int64
    package var limit: Int
    package var evaluationSeconds: Double
    package var lastEvaluationMs: Int64?
    package var rules: [RuleStatus]
}

/// A rule as ``RuleManager/status(tenant:)`` reports it.
package struct RuleStatus: Sendable {
    package var kind: RuleDefinition.Kind
    package var name: String
    /// The expression, in canonical form for PromQL (as Prometheus shows it).
    package var query: String
    package var forMs: Int64
    package var keepFiringForMs: Int64
    /// The rule's labels including the group's, unexpanded.
    package var labels: [Label]
    package var annotations: [Label]
    /// The highest state of its alerts.
    package var state: AlertState
    /// Its alerts, pending, firing and recently resolved, by labels.
    package var alerts: [ActiveAlert]
    package var health: RuleHealth
    package var lastError: String?
    package var evaluationSeconds: Double
    package var lastEvaluationMs: Int64?
}
