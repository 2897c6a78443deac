package import SightlineCore

/// An alert in the notifier: what a sender posted, merged with earlier updates of the same label set.
package struct StoredAlert: Sendable, Equatable {
    package var labels: Labels
    package var annotations: Labels
    package var startsAtMs: Int64
    /// Always set: the sender's end, or the time `resolve_timeout` after the last update.
    package var endsAtMs: Int64
    package var generatorURL: String
    package var updatedAtMs: Int64
    /// Whether `endsAtMs` came from `resolve_timeout` rather than the sender.
    package var timeout: Bool
    package let fingerprint: UInt64

    package init(labels: Labels, annotations: Labels, startsAtMs: Int64, endsAtMs: Int64, generatorURL: String, updatedAtMs: Int64, timeout: Bool) {
        self.labels = labels
        self.annotations = annotations
        self.startsAtMs = startsAtMs
        self.endsAtMs = endsAtMs
        self.generatorURL = generatorURL
        self.updatedAtMs = updatedAtMs
        self.timeout = timeout
        self.fingerprint = AlertFingerprint.of(labels)
    }

    /// Whether the alert is resolved at `nowMs`.
    package func isResolved(atMs nowMs: Int64) -> Bool { endsAtMs <= nowMs }

    /// Alertmanager's merge of an update `newer` into this alert: the earliest start; the later explicit end.
    func merged(with other: StoredAlert, nowMs: Int64) -> StoredAlert {
        if other.updatedAtMs < updatedAtMs { return other.merged(with: self, nowMs: nowMs) }
        var result = other
        if startsAtMs < other.startsAtMs { result.startsAtMs = startsAtMs }
        if other.isResolved(atMs: nowMs) {
            if isResolved(atMs: nowMs), endsAtMs > other.endsAtMs { result.endsAtMs = endsAtMs }
        } else if endsAtMs > other.endsAtMs, !timeout {
            result.endsAtMs = endsAtMs
        }
        return result
    }
}

/// Alerts of one route with the same group labels, notified together.
package struct AggregationGroup: Sendable {
    package let id: String
    package let routeIndex: Int
    /// Alertmanager's group key: `<route key>:<group labels>`.
    package let groupKey: String
    package let groupLabels: Labels
    package var alerts: [UInt64: StoredAlert] = [:]
    package var nextFlushMs: Int64
    package var hasFlushed = false
}

/// One notification to one integration of a receiver, waiting to be sent or retried.
package struct Delivery: Sendable {
    package var tenant: Tenant
    package var groupID: String
    package var groupKey: String
    package var groupLabels: Labels
    package var receiver: String
    package var integration: NotifyIntegration
    package var logKey: String
    /// The alerts to send (resolved ones only with `send_resolved`), sorted.
    package var alerts: [StoredAlert]
    /// What the notification log records once this succeeds.
    package var firing: [UInt64]
    package var resolved: [UInt64]
    /// When the alerts' states were taken (resolved means `endsAt` ≤ this).
    package var flushedAtMs: Int64
    /// True when nothing needs sending but the log must learn the group is resolved (no `send_resolved`).
    package var logOnly: Bool
    package var flushID: Int
    package var attempts = 0
    package var nextAttemptMs: Int64
    /// After this the delivery is dropped; the group's next flush makes a new one.
    package var deadlineMs: Int64
}

/// One tenant's notifier state: the alert store, aggregation groups, silences and notification log, as a synchronous
/// state machine driven by a clock value, so tests control time exactly and the service only adds I/O around it.
package struct TenantDispatcher: Sendable {
    package let tenant: Tenant
    package private(set) var alerts: [UInt64: StoredAlert] = [:]
    package private(set) var groups: [String: AggregationGroup] = [:]
    package var silences = SilenceStore()
    package var log = NotificationLog()
    /// Flushes whose deliveries are under way: when all succeed, the group forgets its resolved alerts.
    private var flushes: [Int: FlushRecord] = [:]
    private var nextFlushID = 0

    private struct FlushRecord {
        var groupID: String
        var remaining: Int
        var failed = false
        var resolved: [(UInt64, Int64)]
    }

    package init(tenant: Tenant) { self.tenant = tenant }

    // MARK: Alerts in

    /// Merges alerts into the store and puts them into their groups, as Alertmanager's `POST /api/v2/alerts` does:
    /// a missing start is now (or the end), a missing end is now + `resolve_timeout`.
    package mutating func receive(_ incoming: [Alert], config: NotifyConfig, nowMs: Int64) {
        for alert in incoming {
            var startsAt = alert.startsAtMs
            if startsAt <= 0 || NotifyRFC3339.isZero(startsAt) { startsAt = alert.endsAtMs ?? nowMs }
            let timeout = alert.endsAtMs == nil
            let endsAt = alert.endsAtMs ?? nowMs + config.global.resolveTimeoutMs
            var stored = StoredAlert(
                labels: alert.labels, annotations: alert.annotations, startsAtMs: startsAt, endsAtMs: endsAt,
                generatorURL: alert.generatorURL, updatedAtMs: nowMs, timeout: timeout)
            if let old = alerts[stored.fingerprint] {
                // Merge when the activity ranges overlap; a new episode after a resolved one replaces it.
                if (stored.endsAtMs > old.startsAtMs && stored.endsAtMs < old.endsAtMs)
                    || (stored.startsAtMs > old.startsAtMs && stored.startsAtMs < old.endsAtMs) {
                    stored = old.merged(with: stored, nowMs: nowMs)
                }
            }
            insert(stored, config: config, nowMs: nowMs)
        }
    }

    /// Puts an alert (new, updated or restored) into the store and its groups.
    package mutating func insert(_ alert: StoredAlert, config: NotifyConfig, nowMs: Int64) {
        alerts[alert.fingerprint] = alert
        for route in config.route.match(alert.labels) {
            let groupLabels = route.groupLabels(of: alert.labels)
            let groupKey = "\(route.key):\(Self.labelSetText(groupLabels))"
            let id = "\(route.index):\(groupKey)"
            var group = groups[id] ?? AggregationGroup(
                id: id, routeIndex: route.index, groupKey: groupKey, groupLabels: groupLabels, nextFlushMs: nowMs + route.groupWaitMs)
            group.alerts[alert.fingerprint] = alert
            // An alert older than group_wait flushes a group that has not flushed yet at once.
            if !group.hasFlushed, alert.startsAtMs + route.groupWaitMs < nowMs { group.nextFlushMs = min(group.nextFlushMs, nowMs) }
            groups[id] = group
        }
    }

    /// Restores alerts from a snapshot after a restart: each goes back into its groups, which flush once their
    /// group_wait since the alert's start has passed; the notification log keeps anything from being sent twice.
    package mutating func restore(_ snapshot: [StoredAlert], config: NotifyConfig, nowMs: Int64) {
        for alert in snapshot { insert(alert, config: config, nowMs: nowMs) }
    }

    /// `{a="b", c="d"}`, as Prometheus' `LabelSet.String()` prints a label set.
    package static func labelSetText(_ labels: Labels) -> String {
        "{" + labels.labels.map { "\($0.name)=\(JSONText.quoted($0.value))" }.joined(separator: ", ") + "}"
    }

    // MARK: Muting

    /// The fingerprints of the firing alerts that inhibit an alert with `labels`, per the inhibit rules.
    /// (Builds an index each call; a flush or an API listing builds one ``inhibitionIndex(config:nowMs:)`` instead.)
    package func inhibitors(of labels: Labels, config: NotifyConfig, nowMs: Int64) -> [UInt64] {
        inhibitionIndex(config: config, nowMs: nowMs).inhibitors(of: labels)
    }

    /// The firing source alerts of every inhibit rule, by the values of the rule's `equal` labels, as of `nowMs`.
    package func inhibitionIndex(config: NotifyConfig, nowMs: Int64) -> InhibitionIndex {
        InhibitionIndex(rules: config.inhibitRules, alerts: alerts.values.filter { !$0.isResolved(atMs: nowMs) })
    }

    /// Whether an interval named in `names` contains `nowMs`.
    static func inAnyInterval(_ names: [String], config: NotifyConfig, nowMs: Int64) -> Bool {
        names.contains { name in config.timeIntervals[name]?.contains { $0.contains(ms: nowMs) } ?? false }
    }

    // MARK: Flushing

    /// When the next group is due, or nil when there are no groups.
    package var nextFlushMs: Int64? { groups.values.map(\.nextFlushMs).min() }

    /// Flushes every group that is due: mutes (time intervals, inhibition, silences), asks the notification log what
    /// needs sending, and returns the deliveries to make. Groups flush again after `group_interval`.
    package mutating func flushDue(config: NotifyConfig, nowMs: Int64) -> [Delivery] {
        let routes = Dictionary(uniqueKeysWithValues: config.route.all.map { ($0.index, $0) })
        var deliveries: [Delivery] = []
        // Built once per flush round, when a group first needs it.
        var index: InhibitionIndex?
        for id in groups.keys.sorted() {
            guard var group = groups[id], group.nextFlushMs <= nowMs, let route = routes[group.routeIndex] else { continue }
            group.nextFlushMs = nowMs + route.groupIntervalMs
            group.hasFlushed = true
            groups[id] = group
            let flushID = nextFlushID
            nextFlushID += 1
            let all = group.alerts.values.sorted { $0.labels < $1.labels }
            let resolvedSnapshot = all.filter { $0.isResolved(atMs: nowMs) }.map { ($0.fingerprint, $0.updatedAtMs) }
            var made: [Delivery] = []
            let muted = (!route.activeTimeIntervals.isEmpty && !Self.inAnyInterval(route.activeTimeIntervals, config: config, nowMs: nowMs))
                || Self.inAnyInterval(route.muteTimeIntervals, config: config, nowMs: nowMs)
            if index == nil, !muted, !config.inhibitRules.isEmpty { index = inhibitionIndex(config: config, nowMs: nowMs) }
            let visible = muted ? [] : all.filter { alert in
                (index?.inhibitors(of: alert.labels).isEmpty ?? true)
                    && silences.silencing(alert.labels, nowMs: nowMs).isEmpty
            }
            if !visible.isEmpty, let receiver = config.receiver(named: route.receiver) {
                let firing = visible.filter { !$0.isResolved(atMs: nowMs) }
                let resolved = visible.filter { $0.isResolved(atMs: nowMs) }
                let firingSet = Set(firing.map(\.fingerprint))
                let resolvedSet = Set(resolved.map(\.fingerprint))
                for integration in receiver.integrations {
                    let key = NotificationLog.key(receiver: receiver.name, integration: integration.name, index: integration.index, groupKey: group.groupKey)
                    guard NotificationLog.needsUpdate(
                        log.entry(key), firing: firingSet, resolved: resolvedSet, sendResolved: integration.sendResolved,
                        repeatIntervalMs: route.repeatIntervalMs, nowMs: nowMs)
                    else { continue }
                    let toSend = integration.sendResolved ? visible : firing
                    made.append(Delivery(
                        tenant: tenant, groupID: id, groupKey: group.groupKey, groupLabels: group.groupLabels, receiver: receiver.name,
                        integration: integration, logKey: key, alerts: toSend, firing: firingSet.sorted(), resolved: resolvedSet.sorted(),
                        flushedAtMs: nowMs, logOnly: toSend.isEmpty, flushID: flushID, nextAttemptMs: nowMs,
                        deadlineMs: nowMs + route.groupIntervalMs))
                }
            }
            flushes[flushID] = FlushRecord(groupID: id, remaining: made.count, resolved: resolvedSnapshot)
            if made.isEmpty { finish(flushID) }
            deliveries += made
        }
        return deliveries
    }

    /// Records a delivery that succeeded (or needed no sending): the log learns what the receiver now knows.
    package mutating func delivered(_ delivery: Delivery, nowMs: Int64) {
        log.log(key: delivery.logKey, firing: delivery.firing, resolved: delivery.resolved, nowMs: nowMs)
        guard var record = flushes[delivery.flushID] else { return }
        record.remaining -= 1
        flushes[delivery.flushID] = record
        if record.remaining <= 0 { finish(delivery.flushID) }
    }

    /// Records a delivery given up (its deadline passed, or a newer flush replaced it): the group keeps its resolved
    /// alerts, so the next flush tries again.
    package mutating func abandoned(_ delivery: Delivery) {
        guard var record = flushes[delivery.flushID] else { return }
        record.failed = true
        record.remaining -= 1
        flushes[delivery.flushID] = record
        if record.remaining <= 0 { finish(delivery.flushID) }
    }

    /// Ends a flush: when every delivery succeeded, resolved alerts not updated since leave the group, and an empty
    /// group is removed.
    private mutating func finish(_ flushID: Int) {
        guard let record = flushes.removeValue(forKey: flushID) else { return }
        guard !record.failed, var group = groups[record.groupID] else { return }
        for (fingerprint, updatedAt) in record.resolved where group.alerts[fingerprint]?.updatedAtMs == updatedAt {
            group.alerts[fingerprint] = nil
        }
        groups[record.groupID] = group.alerts.isEmpty ? nil : group
    }

    /// Forgets resolved alerts that no group holds any more, expired silences and old log entries.
    /// Returns which of alerts, silences and log changed.
    package mutating func collectGarbage(nowMs: Int64) -> (alerts: Bool, silences: Bool, log: Bool) {
        var held: Set<UInt64> = []
        for group in groups.values { held.formUnion(group.alerts.keys) }
        let before = alerts.count
        alerts = alerts.filter { !$0.value.isResolved(atMs: nowMs) || held.contains($0.key) }
        return (alerts.count != before, silences.collectGarbage(nowMs: nowMs), log.collectGarbage(nowMs: nowMs))
    }
}

/// Firing source alerts of each inhibit rule, keyed by their values of the rule's `equal` labels, so that checking
/// whether an alert is inhibited costs a lookup per rule rather than a scan of every alert.
package struct InhibitionIndex: Sendable {
    private struct Source: Sendable {
        var fingerprint: UInt64
        /// Whether the source also matches the rule's target matchers.
        var alsoTarget: Bool
    }

    private let rules: [InhibitRule]
    private let sources: [[String: [Source]]]

    /// Indexes `firing` (alerts that are not resolved) for `rules`.
    package init(rules: [InhibitRule], alerts firing: [StoredAlert]) {
        self.rules = rules
        sources = rules.map { rule in
            var byKey: [String: [Source]] = [:]
            for alert in firing where LabelMatcher.notifyAll(rule.sourceMatchers, match: alert.labels) {
                byKey[Self.key(rule, alert.labels), default: []].append(
                    Source(fingerprint: alert.fingerprint, alsoTarget: LabelMatcher.notifyAll(rule.targetMatchers, match: alert.labels)))
            }
            return byKey
        }
    }

    private static func key(_ rule: InhibitRule, _ labels: Labels) -> String {
        rule.equal.map { labels[$0] ?? "" }.joined(separator: "\u{0}")
    }

    /// The fingerprints of the firing alerts that inhibit an alert with `labels`, sorted. An alert never inhibits
    /// itself, and when it is a source too, only sources that are not targets inhibit it (Alertmanager's rule).
    package func inhibitors(of labels: Labels) -> [UInt64] {
        let fingerprint = AlertFingerprint.of(labels)
        var found: Set<UInt64> = []
        for (index, rule) in rules.enumerated() where LabelMatcher.notifyAll(rule.targetMatchers, match: labels) {
            guard let candidates = sources[index][Self.key(rule, labels)] else { continue }
            let twoSided = LabelMatcher.notifyAll(rule.sourceMatchers, match: labels)
            for source in candidates where source.fingerprint != fingerprint && !(twoSided && source.alsoTarget) {
                found.insert(source.fingerprint)
            }
        }
        return found.sorted()
    }
}
