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
/// Series sort as Prometheus sorts them: label by label, name then value; a list that is a prefix of another comes first.
package struct Labels: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The label carrying the metric name.
    package static let metricName = "__name__"

    /// The labels in ascending name order.
    package private(set) var labels: [Label]

    /// The hash of `labels`, computed once: a series is looked up by its labels several times on the way in
    /// (admission, the store, the WAL record), and hashing every name and value each time was the costliest part.
    private var labelsHash: Int = 0

    package func hash(into hasher: inout Hasher) {
        hasher.combine(labelsHash)
    }

    /// What a `Dictionary` or `Set` asks for: the cached hash (itself the output of the seeded `Hasher`) mixed with
    /// the table's seed by one multiply, instead of a `Hasher` round per lookup, which cost as much as the lookup.
    package func _rawHashValue(seed: Int) -> Int {
        let mixed = UInt64(bitPattern: Int64(labelsHash ^ seed)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: mixed ^ (mixed >> 29))
    }

    package static func == (a: Labels, b: Labels) -> Bool {
        a.labelsHash == b.labelsHash && a.labels == b.labels
    }

    private static func hash(of labels: [Label]) -> Int {
        var hasher = Hasher()
        hasher.combine(labels.count)
        for label in labels {
            hasher.combine(label.name)
            hasher.combine(label.value)
        }
        return hasher.finalize()
    }

    /// Sorts the labels by name and drops empty values, as Prometheus does. Duplicate names keep the last value.
    ///
    /// Input that is already in order, with unique names and no empty values (what decoders usually hand over), is
    /// kept as it is without copying.
    package init(_ labels: [Label]) {
        var isClean = true
        for index in labels.indices {
            if labels[index].value.isEmpty || (index > 0 && !(labels[index - 1].name < labels[index].name)) {
                isClean = false
                break
            }
        }
        if isClean {
            self.labels = labels
            self.labelsHash = Self.hash(of: labels)
            return
        }
        var sorted: [Label] = []
        sorted.reserveCapacity(labels.count)
        for label in labels where !label.value.isEmpty { sorted.append(label) }
        // A stable sort, so that among equal names the last one given stays last and wins below.
        sorted = sorted.enumerated().sorted { ($0.element.name, $0.offset) < ($1.element.name, $1.offset) }.map(\.element)
        var unique: [Label] = []
        unique.reserveCapacity(sorted.count)
        for label in sorted {
            if let last = unique.last, last.name == label.name { unique[unique.count - 1] = label } else { unique.append(label) }
        }
        self.labels = unique
        self.labelsHash = Self.hash(of: unique)
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

    package static func < (a: Labels, b: Labels) -> Bool {
        for (x, y) in zip(a.labels, b.labels) {
            if x.name != y.name { return x.name < y.name }
            if x.value != y.value { return x.value < y.value }
        }
        return a.labels.count < b.labels.count
    }

    /// `name{a="b", c="d"}`, the way Prometheus prints a series.
    package var description: String {
        let rest = labels.filter { $0.name != Self.metricName }
            .map { "\($0.name)=\"\(PromText.escapeLabelValue($0.value))\"" }
            .joined(separator: ", ")
        return rest.isEmpty ? metricName : "\(metricName){\(rest)}"
    }
}
