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
    /// overwrite: it writes `name_extracted` instead), and the base names a stage removed since. A record has tens
    /// of labels at most: searching them beats hashing every name of every record.
    private var baseCount = 0
    private var removedBaseNames: [String] = []
    /// Whether a stage changed the list since ``reset(stream:metadata:line:severityNumber:)``.
    private(set) var changed = false

    package init() {}

    /// The record's stream labels, line and severity number, from which `detected_level` is derived when asked for
    /// and not set.
    private var record: (stream: Labels, line: String, severityNumber: Int32)?

    /// Starts a record: the stream labels, then the structured metadata (which wins over a stream label of the same
    /// name); with the record's line and severity number, `detected_level` is derived when a stage asks for it and
    /// the metadata has none (see ``LogLevelDetection``).
    package mutating func reset(stream: Labels, metadata: [Label], line: String? = nil, severityNumber: Int32 = 0) {
        record = line.map { (stream, $0, severityNumber) }
        names.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        categories.removeAll(keepingCapacity: true)
        removedBaseNames.removeAll(keepingCapacity: true)
        for label in stream.labels {
            names.append(label.name)
            values.append(label.value)
            categories.append(.stream)
        }
        for label in metadata {
            if let index = names.firstIndex(of: label.name) {
                values[index] = label.value
                categories[index] = .structuredMetadata
            } else {
                names.append(label.name)
                values.append(label.value)
                categories.append(.structuredMetadata)
            }
        }
        baseCount = names.count
        changed = false
    }

    /// The value of `name`, or nil when absent.
    package func get(_ name: String) -> String? {
        if let index = names.firstIndex(of: name) { return values[index] }
        guard name == LogLevelDetection.label, let record else { return nil }
        return LogLevelDetection.level(
            streamValue: { record.stream[$0] }, metadataValue: metadataValue, severityNumber: record.severityNumber, line: record.line)
    }

    /// The value of the structured metadata `name` the record started with, if no stage removed it.
    private func metadataValue(_ name: String) -> String? {
        guard let index = names[..<baseCount].firstIndex(of: name), categories[index] == .structuredMetadata else { return nil }
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
        set(isBase(name) ? name + "_extracted" : name, value)
    }

    /// Whether a parser would write `name` as `name_extracted`.
    func isBase(_ name: String) -> Bool { names[..<baseCount].contains(name) || removedBaseNames.contains(name) }

    /// Removes the entry at `index`, remembering a base name.
    private mutating func remove(at index: Int) {
        changed = true
        if index < baseCount {
            removedBaseNames.append(names[index])
            baseCount -= 1
        }
        names.remove(at: index)
        values.remove(at: index)
        categories.remove(at: index)
    }

    /// Removes `name`.
    package mutating func delete(_ name: String) {
        guard let index = names.firstIndex(of: name) else { return }
        remove(at: index)
    }

    /// Keeps only the labels `keep` says to keep.
    mutating func retain(_ keep: (String, String) -> Bool) {
        var index = 0
        while index < names.count {
            if keep(names[index], values[index]) {
                index += 1
            } else {
                remove(at: index)
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

    /// The labels named in `names` (each once), sorted, empty values dropped: `labels.keeping(Set(names))` without
    /// building the others.
    package func labels(keeping names: [String]) -> Labels {
        var list: [Label] = []
        list.reserveCapacity(names.count)
        for name in names {
            if let value = get(name) { list.append(Label(name, value)) }
        }
        return Labels(list)
    }

    /// The labels of one category, sorted, empty values dropped.
    package func labels(_ category: Category) -> Labels {
        var list: [Label] = []
        for index in names.indices where categories[index] == category { list.append(Label(names[index], values[index])) }
        return Labels(list)
    }

    /// The labels as they are now, for templates (no copy is made until the builder changes).
    var snapshot: Snapshot { Snapshot(builder: self) }

    /// The labels of a record at one point of its pipeline, looked up by name (`detected_level` derived as
    /// ``get(_:)`` derives it).
    struct Snapshot {
        let builder: LogLabelsBuilder
        var names: [String] { builder.names }
        var values: [String] { builder.values }

        /// The value of `name`, or nil when absent.
        subscript(name: String) -> String? { builder.get(name) }

        /// The positions of the labels in name order.
        var nameOrder: [Int] { names.indices.sorted { names[$0] < names[$1] } }
    }
}
