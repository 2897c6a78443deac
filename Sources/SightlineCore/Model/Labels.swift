/// A label name and value of a metric series.
package struct Label: Hashable, Sendable, Comparable {
    package var name: String
    package var value: String

    package init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    package static func < (lhs: Label, rhs: Label) -> Bool {
        lhs.name == rhs.name ? lhs.value < rhs.value : lhs.name < rhs.name
    }
}

/// The identity of a metric series: its labels sorted by name, `__name__` included, no empty values, no duplicate names.
package struct Labels: Hashable, Sendable, CustomStringConvertible {
    /// The label carrying the metric name.
    package static let metricName = "__name__"

    /// The labels in ascending name order.
    package private(set) var labels: [Label]

    /// Sorts the labels by name and drops empty values, as Prometheus does. Duplicate names keep the last value.
    package init(_ labels: [Label]) {
        var sorted = labels.filter { !$0.value.isEmpty }
        sorted.sort { $0.name < $1.name }
        var unique: [Label] = []
        unique.reserveCapacity(sorted.count)
        for label in sorted {
            if let last = unique.last, last.name == label.name { unique[unique.count - 1] = label } else { unique.append(label) }
        }
        self.labels = unique
    }

    /// Builds labels from name/value pairs.
    package init(_ pairs: KeyValuePairs<String, String>) {
        self.init(pairs.map { Label($0.key, $0.value) })
    }

    /// The value of the label `name`, or nil.
    package subscript(name: String) -> String? {
        labels.first(where: { $0.name == name })?.value
    }

    /// The metric name (`__name__`), or an empty string.
    package var metricName: String { self[Self.metricName] ?? "" }

    /// `name{a="b", c="d"}`, the way Prometheus prints a series.
    package var description: String {
        let rest = labels.filter { $0.name != Self.metricName }
            .map { "\($0.name)=\"\(PromText.escapeLabelValue($0.value))\"" }
            .joined(separator: ", ")
        return rest.isEmpty ? metricName : "\(metricName){\(rest)}"
    }
}
