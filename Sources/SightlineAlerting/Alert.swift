package import SightlineCore

/// An alert as the rule evaluator hands it to the notifier, in Alertmanager's model: what Prometheus posts to
/// Alertmanager's `/api/v2/alerts`, and what an external Prometheus may post to Sightline.
///
/// An alert is identified by its labels. It fires while `endsAt` is unset or in the future, and is resolved once
/// `endsAt` has passed; the sender re-sends firing alerts with a fresh `endsAt` so that a lost sender lets them resolve.
package struct Alert: Hashable, Sendable {
    package var labels: Labels
    package var annotations: Labels
    /// When the alert started firing, in ms since the epoch.
    package var startsAtMs: Int64
    /// When it resolves (or resolved), in ms since the epoch; nil while firing with no end announced.
    package var endsAtMs: Int64?
    /// A link back to the rule's expression.
    package var generatorURL: String

    package init(labels: Labels, annotations: Labels = Labels([]), startsAtMs: Int64, endsAtMs: Int64? = nil, generatorURL: String = "") {
        self.labels = labels
        self.annotations = annotations
        self.startsAtMs = startsAtMs
        self.endsAtMs = endsAtMs
        self.generatorURL = generatorURL
    }

    /// Whether the alert is resolved at `nowMs`.
    package func isResolved(atMs nowMs: Int64) -> Bool { endsAtMs.map { $0 <= nowMs } ?? false }
}

/// Where evaluated alerts go: the notifier of the same server, or an external Alertmanager.
package protocol AlertSink: Sendable {
    /// Hands over the current alerts of `tenant` (firing ones, and resolved ones once, with `endsAt` set).
    func send(_ alerts: [Alert], tenant: Tenant) async
}
