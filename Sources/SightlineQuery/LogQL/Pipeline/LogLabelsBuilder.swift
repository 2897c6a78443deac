package import SightlineCore

/// The labels of one record while its pipeline runs: the stream labels, the structured metadata and what parsers and
/// formatters add, in one small list (a record has tens of labels at most, so a linear search beats hashing).
package struct LogLabelsBuilder {
    /// The label Loki sets when a stage fails.
    package static let errorLabel = "__error__"
    /// The label with the failure's details.
    package static let errorDetailsLabel = "__error_details__"

    /// Where a label came from, as Loki's categorised responses tell them apart.
    package enum Category: UInt8, Sendable {
        case stream, structuredMetadata, parsed
    }

    private(set) var names: [String] = []
    private(set) var values: [String] = []
    private(set) var categories: [Category] = []
    /// How many of the first entries are stream labels and structured metadata (the "base" a parser must not
    /// overwrite: it writes `name_extracted` instead).
    private var baseNames: Set<String> = []
    /// Whether a stage changed the list since ``reset(stream:metadata:)``.
    private(set) var changed = false

    package init() {}

    /// Starts a record: the stream labels, then the structured metadata (which wins over a stream label of the same
    /// name).
    package mutating func reset(stream: Labels, metadata: [Label]) {
        names.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        categories.removeAll(keepingCapacity: true)
        baseNames.removeAll(keepingCapacity: true)
        for label in stream.labels {
            names.append(label.name)
            values.append(label.value)
            categories.append(.stream)
            baseNames.insert(label.name)
        }
        for label in metadata {
            baseNames.insert(label.name)
            if let index = names.firstIndex(of: label.name) {
                values[index] = label.value
                categories[index] = .structuredMetadata
            } else {
                names.append(label.name)
                values.append(label.value)
                categories.append(.structuredMetadata)
            }
        }
        changed = false
    }

    /// The value of `name`, or nil when absent.
    package func get(_ name: String) -> String? {
        guard let index = names.firstIndex(of: name) else { return nil }
        return values[index]
    }

    /// Sets `name` (added when absent); a label a stage sets counts as parsed, as in Loki.
    package mutating func set(_ name: String, _ value: String) {
        changed = true
        if let index = names.firstIndex(of: name) {
            values[index] = value
            categories[index] = .parsed
        } else {
            names.append(name)
            values.append(value)
            categories.append(.parsed)
        }
    }

    /// Sets a label a parser extracted: `name_extracted` when `name` is a stream label or structured metadata.
    mutating func setParsed(_ name: String, _ value: String) {
        set(baseNames.contains(name) ? name + "_extracted" : name, value)
    }

    /// Whether a parser would write `name` as `name_extracted`.
    func isBase(_ name: String) -> Bool { baseNames.contains(name) }

    /// Removes `name`.
    package mutating func delete(_ name: String) {
        guard let index = names.firstIndex(of: name) else { return }
        changed = true
        names.remove(at: index)
        values.remove(at: index)
        categories.remove(at: index)
    }

    /// Keeps only the labels `keep` says to keep.
    mutating func retain(_ keep: (String, String) -> Bool) {
        var index = 0
        while index < names.count {
            if keep(names[index], values[index]) {
                index += 1
            } else {
                changed = true
                names.remove(at: index)
                values.remove(at: index)
                categories.remove(at: index)
            }
        }
    }

    /// Whether a stage set `__error__`.
    var hasError: Bool { !(self.get(Self.errorLabel) ?? "").isEmpty }

    /// Sets `__error__` (unless one is already set) and its details.
    mutating func setError(_ error: String, details: String) {
        if hasError { return }
        set(Self.errorLabel, error)
        if !details.isEmpty { set(Self.errorDetailsLabel, details) }
    }

    /// Every label as `Labels` (sorted, empty values dropped).
    package var labels: Labels {
        var list: [Label] = []
        list.reserveCapacity(names.count)
        for index in names.indices { list.append(Label(names[index], values[index])) }
        return Labels(list)
    }

    /// The labels of one category, sorted, empty values dropped.
    package func labels(_ category: Category) -> Labels {
        var list: [Label] = []
        for index in names.indices where categories[index] == category { list.append(Label(names[index], values[index])) }
        return Labels(list)
    }

    /// The labels as a name → value map, for templates.
    var dictionary: [String: String] {
        var out: [String: String] = [:]
        out.reserveCapacity(names.count)
        for index in names.indices { out[names[index]] = values[index] }
        return out
    }
}
