package import SightlineCore

/// The query language a rule group's expressions are written in.
///
/// Rule files use Prometheus' format for both languages (Loki's ruler does the same). A group opts into LogQL with the
/// group-level key `query_language: logql`; without it, the group is PromQL. The key is Sightline's own: Prometheus'
/// `promtool` rejects it, so keep LogQL groups in their own files.
package enum RuleQueryLanguage: String, Sendable, Hashable, CaseIterable {
    case promql
    case logql
}

/// One rule as written in a rule file: an alerting rule (`alert:`) or a recording rule (`record:`).
package struct RuleDefinition: Sendable, Hashable {
    /// Whether the rule raises alerts or records series.
    package enum Kind: String, Sendable, Hashable {
        case alerting
        case recording
    }

    package var kind: Kind
    /// The alert name or the recorded metric name.
    package var name: String
    /// The query expression, as written.
    package var expr: String
    /// How long a series must be in the result before its alert fires (`for`), in ms; 0 for recording rules.
    package var forMs: Int64
    /// How long an alert keeps firing after its series left the result (`keep_firing_for`), in ms.
    package var keepFiringForMs: Int64
    /// The rule's labels in name order, templates unexpanded; an empty value removes the label from the result.
    package var labels: [Label]
    /// The rule's annotations in name order, templates unexpanded (alerting rules only).
    package var annotations: [Label]
    /// The line of the rule in its file, for messages.
    package var line: Int

    package init(
        kind: Kind, name: String, expr: String, forMs: Int64 = 0, keepFiringForMs: Int64 = 0, labels: [Label] = [],
        annotations: [Label] = [], line: Int = 0
    ) {
        self.kind = kind
        self.name = name
        self.expr = expr
        self.forMs = forMs
        self.keepFiringForMs = keepFiringForMs
        self.labels = labels.sorted { $0.name < $1.name }
        self.annotations = annotations.sorted { $0.name < $1.name }
        self.line = line
    }

    /// Whether two rules are the same for the purpose of keeping state across a reload (Prometheus' rule equality:
    /// name, expression and labels; `for` and annotations may change without losing the alerts).
    func hasSameIdentity(as other: RuleDefinition) -> Bool {
        kind == other.kind && name == other.name && expr == other.expr && labels == other.labels
    }
}

/// A rule group as written in a rule file: rules evaluated in order, together, on one interval.
package struct RuleGroupDefinition: Sendable, Hashable {
    /// The group's name, unique within its file.
    package var name: String
    /// The file the group was read from (its identity together with the name).
    package var file: String
    /// The evaluation interval in ms; nil uses the manager's default (Prometheus' `evaluation_interval`, 1m).
    package var intervalMs: Int64?
    /// The most alerts (alerting rules) or series (recording rules) one rule may produce; 0 means no limit.
    package var limit: Int
    /// How far back queries look (`query_offset`), in ms; nil uses the manager's default.
    package var queryOffsetMs: Int64?
    /// Labels added to every rule of the group (a rule's own labels win).
    package var labels: [Label]
    /// The language of the group's expressions.
    package var language: RuleQueryLanguage
    /// The rules in file order.
    package var rules: [RuleDefinition]
    /// The line of the group in its file, for messages.
    package var line: Int

    package init(
        name: String, file: String, intervalMs: Int64? = nil, limit: Int = 0, queryOffsetMs: Int64? = nil,
        labels: [Label] = [], language: RuleQueryLanguage = .promql, rules: [RuleDefinition], line: Int = 0
    ) {
        self.name = name
        self.file = file
        self.intervalMs = intervalMs
        self.limit = limit
        self.queryOffsetMs = queryOffsetMs
        self.labels = labels.sorted { $0.name < $1.name }
        self.language = language
        self.rules = rules
        self.line = line
    }

    /// The rule's labels with the group's labels merged under them, as Prometheus applies group labels.
    func effectiveLabels(of rule: RuleDefinition) -> [Label] {
        guard !labels.isEmpty else { return rule.labels }
        var merged: [String: String] = [:]
        for label in labels { merged[label.name] = label.value }
        for label in rule.labels { merged[label.name] = label.value }
        return merged.map { Label($0.key, $0.value) }.sorted { $0.name < $1.name }
    }
}
