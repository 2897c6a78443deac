package import SightlineCore

/// The state of one alert of an alerting rule, as Prometheus names it.
package enum AlertState: String, Sendable, Hashable, Codable, Comparable {
    case inactive
    case pending
    case firing

    private var rank: Int {
        switch self {
        case .inactive: 0
        case .pending: 1
        case .firing: 2
        }
    }

    package static func < (a: AlertState, b: AlertState) -> Bool { a.rank < b.rank }
}

/// Whether a rule's last evaluation worked: Prometheus' `ok`, `err`, `unknown` (not evaluated yet).
package enum RuleHealth: String, Sendable, Hashable {
    case unknown
    case ok
    case err
}

/// One alert an alerting rule holds, keyed by its labels (the series' labels without the metric name, plus the
/// rule's labels and `alertname`).
package struct ActiveAlert: Sendable, Hashable {
    package var labels: Labels
    package var annotations: Labels
    package var state: AlertState
    /// The value of the series at the latest evaluation that returned it.
    package var value: Double
    /// When the alert became pending (ms).
    package var activeAtMs: Int64
    /// When it started firing (ms).
    package var firedAtMs: Int64?
    /// When it resolved (ms); set once the series left the result (and `keep_firing_for` ran out).
    package var resolvedAtMs: Int64?
    /// When it was last handed to the alert sink (ms).
    package var lastSentAtMs: Int64?
    /// The `endsAt` announced with the last send (ms).
    package var validUntilMs: Int64?
    /// Since when it keeps firing without its series (ms), while `keep_firing_for` holds it.
    package var keepFiringSinceMs: Int64?
}

/// A rule with its evaluation state.
struct RuleRuntime: Sendable {
    var definition: RuleDefinition
    /// The rule's labels merged with the group's.
    var labels: [Label]
    /// Alerts by their labels (alerting rules).
    var active: [Labels: ActiveAlert] = [:]
    var health: RuleHealth = .unknown
    var lastError: String?
    /// The evaluation timestamp of the last evaluation (ms), nil before the first.
    var lastEvaluationMs: Int64?
    /// How long the last evaluation took, in seconds.
    var evaluationSeconds: Double = 0
    /// The series written by the last successful evaluation, for staleness markers.
    var seriesInPreviousEvaluation: Set<Labels> = []

    init(definition: RuleDefinition, groupLabels: RuleGroupDefinition) {
        self.definition = definition
        self.labels = groupLabels.effectiveLabels(of: definition)
    }

    /// The highest state of the rule's alerts.
    var state: AlertState { active.values.map(\.state).max() ?? .inactive }
}

/// A group with its rules and schedule.
struct GroupRuntime: Sendable {
    var definition: RuleGroupDefinition
    var rules: [RuleRuntime]
    var intervalMs: Int64
    var queryOffsetMs: Int64
    var lastEvaluationMs: Int64?
    var evaluationSeconds: Double = 0
    /// The next scheduled evaluation (ms), nil until the scheduler first sees the group.
    var nextEvaluationMs: Int64?
    /// Bumped whenever a reload replaces the group, so an evaluation that ran across a reload does not write back.
    var generation: Int

    /// Prometheus' spreading of groups over their interval: a fixed offset from a hash of file and name.
    var offsetMs: Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (definition.file + ";" + definition.name).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return Int64(hash % UInt64(max(intervalMs, 1)))
    }

    /// The latest evaluation slot at or before `nowMs` (Prometheus' `EvalTimestamp`).
    func evaluationSlot(atOrBefore nowMs: Int64) -> Int64 {
        let offset = offsetMs
        let adjusted = nowMs - offset
        var base = adjusted - adjusted % intervalMs
        if adjusted % intervalMs < 0 { base -= intervalMs }
        return base + offset
    }
}
