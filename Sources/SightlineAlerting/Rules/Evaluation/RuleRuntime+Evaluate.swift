import SightlineCore
import SightlineQuery

/// What a rule evaluation needs besides the rule: the tenant, the query engine and the server's identity.
struct RuleEvaluationContext: Sendable {
    var tenant: Tenant
    var engine: (any RuleQueryEngine)?
    /// Why `engine` is nil (no LogQL engine plugged in).
    var engineError: String?
    var externalLabels: Labels
    var externalURL: String
}

/// What one rule evaluation produced.
struct RuleEvaluationOutcome {
    /// Samples to write: the rule's output and staleness markers for series it no longer returns.
    var samples: [MetricSample] = []
    /// Whether any alert appeared, disappeared or changed state (the persisted state must be rewritten).
    var alertStateChanged = false
}

extension RuleRuntime {
    /// How long resolved alerts stay in memory so that they are re-sent as resolved (Prometheus' `resolvedRetention`).
    static let resolvedRetentionMs: Int64 = 15 * 60_000

    /// Evaluates the rule at `timestampMs` as Prometheus' `AlertingRule.Eval`/`RecordingRule.Eval` and the group loop
    /// do: query at `timestampMs - queryOffsetMs`, update alerts, and list the samples to write with staleness markers.
    /// An error sets health `err` and the error text, writes nothing and leaves the previous series alone.
    mutating func evaluate(
        atMs timestampMs: Int64, queryOffsetMs: Int64, limit: Int, context: RuleEvaluationContext
    ) -> RuleEvaluationOutcome {
        let start = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - start
            evaluationSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            lastEvaluationMs = timestampMs
        }
        let queryTimeMs = timestampMs - queryOffsetMs
        var outcome = RuleEvaluationOutcome()
        let vector: [MetricSample]
        do {
            guard let engine = context.engine else {
                throw SightlineError(.unavailable, context.engineError ?? "no query engine for this rule")
            }
            let result = try engine.instant(definition.expr, tenant: context.tenant, timeMs: queryTimeMs)
            switch definition.kind {
            case .recording:
                vector = try record(result, timeMs: queryTimeMs, limit: limit)
            case .alerting:
                vector = try alert(
                    result, timestampMs: timestampMs, queryTimeMs: queryTimeMs, limit: limit, context: context,
                    changed: &outcome.alertStateChanged)
            }
        } catch {
            health = .err
            lastError = Self.message(of: error)
            return outcome
        }
        health = .ok
        lastError = nil
        var returned = Set<Labels>()
        returned.reserveCapacity(vector.count)
        for sample in vector { returned.insert(sample.labels) }
        outcome.samples = vector
        for series in seriesInPreviousEvaluation where !returned.contains(series) {
            outcome.samples.append(MetricSample(labels: series, timestampMs: queryTimeMs, value: StaleNaN.value))
        }
        seriesInPreviousEvaluation = returned
        return outcome
    }

    static func message(of error: any Error) -> String {
        if let error = error as? SightlineError { return error.message }
        if let error = error as? PromQLError { return error.message }
        return "\(error)"
    }

    /// A recording rule's output: the result renamed and relabelled.
    private func record(_ result: [(Labels, Double)], timeMs: Int64, limit: Int) throws -> [MetricSample] {
        var samples: [MetricSample] = []
        samples.reserveCapacity(result.count)
        var seen = Set<Labels>()
        for (metric, value) in result {
            var labels = LabelName.setting(Labels.metricName, to: definition.name, in: metric)
            for label in self.labels { labels = LabelName.setting(label.name, to: label.value, in: labels) }
            guard seen.insert(labels).inserted else {
                throw SightlineError(.invalidArgument, "vector contains metrics with the same labelset after applying rule labels")
            }
            samples.append(MetricSample(labels: labels, timestampMs: timeMs, value: value))
        }
        if limit > 0 && samples.count > limit {
            throw SightlineError(.invalidArgument, "exceeded limit of \(limit) with \(samples.count) series")
        }
        return samples
    }

    /// Prometheus' alerting state machine for one evaluation; returns the `ALERTS` and `ALERTS_FOR_STATE` samples.
    private mutating func alert(
        _ result: [(Labels, Double)], timestampMs: Int64, queryTimeMs: Int64, limit: Int, context: RuleEvaluationContext,
        changed: inout Bool
    ) throws -> [MetricSample] {
        let templateName = "__alert_" + definition.name
        let engine = context.engine
        let tenant = context.tenant
        let query: @Sendable (String) throws -> [(Labels, Double)] = { expr in
            guard let engine else { throw SightlineError(.unavailable, "no query engine") }
            // Prometheus runs template queries at the evaluation time itself, without the query offset.
            return try engine.instant(expr, tenant: tenant, timeMs: timestampMs)
        }
        var current: [Labels: ActiveAlert] = [:]
        for (metric, value) in result {
            func expand(_ text: String) -> String {
                RuleTemplate.expand(
                    text, name: templateName, labels: metric, externalLabels: context.externalLabels, externalURL: context.externalURL,
                    value: value, evaluationTimeMs: timestampMs, query: query)
            }
            var labels = LabelName.setting(Labels.metricName, to: "", in: metric)
            for label in self.labels { labels = LabelName.setting(label.name, to: expand(label.value), in: labels) }
            labels = LabelName.setting("alertname", to: definition.name, in: labels)
            let annotations = Labels(definition.annotations.map { Label($0.name, expand($0.value)) })
            guard current[labels] == nil else {
                throw SightlineError(.invalidArgument, "vector contains metrics with the same labelset after applying alert labels")
            }
            current[labels] = ActiveAlert(labels: labels, annotations: annotations, state: .pending, value: value, activeAtMs: timestampMs)
        }
        for (key, alert) in current {
            // An alert that is still pending or firing keeps its timers; a resolved one starts over as pending.
            if var existing = active[key], existing.state != .inactive {
                existing.value = alert.value
                existing.annotations = alert.annotations
                active[key] = existing
                continue
            }
            active[key] = alert
            changed = true
        }
        var samples: [MetricSample] = []
        var activeCount = 0
        for key in active.keys.sorted() {
            guard var alert = active[key] else { continue }
            if current[key] == nil {
                var keepFiring = false
                if alert.state == .firing && definition.keepFiringForMs > 0 {
                    if alert.keepFiringSinceMs == nil {
                        alert.keepFiringSinceMs = timestampMs
                        changed = true
                    }
                    if let since = alert.keepFiringSinceMs, timestampMs - since < definition.keepFiringForMs { keepFiring = true }
                }
                // Pending alerts go at once; resolved ones stay for the retention period so they are sent as resolved.
                if alert.state == .pending || (alert.resolvedAtMs.map { timestampMs - $0 > Self.resolvedRetentionMs } ?? false) {
                    active[key] = nil
                    changed = true
                    continue
                }
                if alert.state != .inactive && !keepFiring {
                    alert.state = .inactive
                    alert.resolvedAtMs = timestampMs
                    changed = true
                }
                if !keepFiring {
                    active[key] = alert
                    continue
                }
            } else if alert.keepFiringSinceMs != nil {
                alert.keepFiringSinceMs = nil
                changed = true
            }
            activeCount += 1
            if alert.state == .pending && timestampMs - alert.activeAtMs >= definition.forMs {
                alert.state = .firing
                alert.firedAtMs = timestampMs
                changed = true
            }
            active[key] = alert
            samples.append(MetricSample(labels: alertsSeries(alert), timestampMs: queryTimeMs, value: 1))
            samples.append(
                MetricSample(labels: alertsForStateSeries(alert), timestampMs: queryTimeMs, value: Double(alert.activeAtMs / 1000)))
        }
        if limit > 0 && activeCount > limit {
            active = [:]
            changed = true
            throw SightlineError(.invalidArgument, "exceeded limit of \(limit) with \(activeCount) alerts")
        }
        return samples
    }

    /// `ALERTS{alertname, alertstate, …}`: the rule's labels overlaid with the alert's.
    private func alertsSeries(_ alert: ActiveAlert) -> Labels {
        var labels = Labels(self.labels.filter { !$0.value.isEmpty })
        for label in alert.labels.labels { labels = LabelName.setting(label.name, to: label.value, in: labels) }
        labels = LabelName.setting(Labels.metricName, to: "ALERTS", in: labels)
        labels = LabelName.setting("alertname", to: definition.name, in: labels)
        return LabelName.setting("alertstate", to: alert.state.rawValue, in: labels)
    }

    /// `ALERTS_FOR_STATE{alertname, …}`, whose value is the alert's `activeAt` in seconds.
    private func alertsForStateSeries(_ alert: ActiveAlert) -> Labels {
        var labels = Labels(self.labels.filter { !$0.value.isEmpty })
        for label in alert.labels.labels { labels = LabelName.setting(label.name, to: label.value, in: labels) }
        labels = LabelName.setting(Labels.metricName, to: "ALERTS_FOR_STATE", in: labels)
        return LabelName.setting("alertname", to: definition.name, in: labels)
    }

    /// The alerts to hand to the alert sink now (Prometheus' `sendAlerts`): firing and resolved alerts that were never
    /// sent, changed to resolved since the last send, or were last sent more than `resendDelayMs` ago.
    mutating func alertsToSend(
        atMs timestampMs: Int64, resendDelayMs: Int64, intervalMs: Int64, externalLabels: Labels, generatorURL: String
    ) -> [Alert] {
        var out: [Alert] = []
        for key in active.keys.sorted() {
            guard var alert = active[key], alert.state != .pending else { continue }
            let resolvedSinceSent = alert.resolvedAtMs.map { resolved in alert.lastSentAtMs.map { resolved > $0 } ?? true } ?? false
            let due = alert.lastSentAtMs.map { $0 + resendDelayMs < timestampMs } ?? true
            guard resolvedSinceSent || due else { continue }
            alert.lastSentAtMs = timestampMs
            // Allow for two evaluation or delivery failures before the receiver resolves the alert on its own.
            let validUntil = timestampMs + 4 * max(resendDelayMs, intervalMs)
            alert.validUntilMs = validUntil
            active[key] = alert
            var labels = alert.labels
            for label in externalLabels.labels where labels[label.name] == nil {
                labels = LabelName.setting(label.name, to: label.value, in: labels)
            }
            out.append(
                Alert(
                    labels: labels, annotations: alert.annotations, startsAtMs: alert.firedAtMs ?? alert.activeAtMs,
                    endsAtMs: alert.resolvedAtMs ?? validUntil, generatorURL: generatorURL))
        }
        return out
    }
}
