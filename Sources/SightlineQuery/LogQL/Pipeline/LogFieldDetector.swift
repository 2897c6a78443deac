package import SightlineCore

/// The fields of log entries as Loki's `/detected_fields` finds them, for Grafana's Logs Drilldown: each entry's
/// structured metadata (with its `detected_level`), the labels the query's own parsers extracted, and what parsing
/// the line as JSON — or, when it is not JSON, as logfmt — gives. Stream labels are not fields; a parsed name that is
/// a stream label or structured metadata is `name_extracted`, as Loki's parsers write it.
package struct LogFieldDetector {
    /// One field: its values, the type of its latest value, the parsers that found it and, from JSON, its path.
    package struct Field: Sendable, Equatable {
        package var name: String
        package var type: String
        package var values: Set<String>
        /// `json`, `logfmt`, in the order they first found it; empty when only metadata or the query's parsers did.
        package var parsers: [String]
        /// The keys leading to the field in a JSON line (`["user", "id"]` for `user_id`).
        package var jsonPath: [String]?
    }

    /// The most distinct fields kept; later new names are passed by.
    package let limit: Int
    /// The fields in the order they were found.
    package private(set) var fields: [Field] = []
    private var index: [String: Int] = [:]

    package init(limit: Int) {
        self.limit = limit
    }

    /// Labels that are never fields.
    private static let excluded: Set<String> = [LogLabelsBuilder.errorLabel, LogLabelsBuilder.errorDetailsLabel, "__preserve_error__"]

    /// Adds the fields of one entry of the stream `stream`.
    package mutating func add(stream: Labels, entry: LogEntry) {
        for (name, value, parser, path) in Self.candidates(stream: stream, entry: entry) {
            guard !Self.excluded.contains(name), stream[name] == nil else { continue }
            let slot: Int
            if let known = index[name] {
                slot = known
            } else {
                guard fields.count < limit else { continue }
                slot = fields.count
                index[name] = slot
                fields.append(Field(name: name, type: "string", values: [], parsers: [], jsonPath: nil))
            }
            fields[slot].values.insert(value)
            fields[slot].type = Self.type(of: value)
            if let parser, !fields[slot].parsers.contains(parser) { fields[slot].parsers.append(parser) }
            if let path { fields[slot].jsonPath = path }
        }
    }

    /// Every (name, value, parser, JSON path) an entry offers, its metadata first.
    static func candidates(stream: Labels, entry: LogEntry) -> [(String, String, String?, [String]?)] {
        var out: [(String, String, String?, [String]?)] = []
        let metadata = entry.structuredMetadata
        for label in entry.structuredMetadataWithLevel(stream: stream).labels { out.append((label.name, label.value, nil, nil)) }
        for label in entry.parsed.labels { out.append((label.name, label.value, nil, nil)) }
        func name(_ key: String) -> String {
            stream[key] != nil || metadata[key] != nil ? key + "_extracted" : key
        }
        if let document = try? LogJSONReader.parse(entry.line, keepRaw: false), case .object(let members, _) = document {
            JSONStage.forEachField(of: members) { label, value, path in out.append((name(label), value.labelValue, "json", path)) }
        } else {
            var builder = LogLabelsBuilder()
            builder.reset(stream: Labels([]), metadata: [])
            LogfmtStage(strict: false, keepEmpty: false, extractions: []).process(entry.line, &builder)
            for label in builder.labels(.parsed).labels { out.append((name(label.name), label.value, "logfmt", nil)) }
        }
        return out
    }

    /// The type Loki gives a value: the first of `int`, `float`, `boolean`, `duration`, `bytes` it reads as, else
    /// `string`.
    package static func type(of value: String) -> String {
        if Int64(value) != nil { return "int" }
        if LogQLUnits.number(value) != nil { return "float" }
        if GoText.parseBool(value) != nil { return "boolean" }
        // Go's durations, without the days, weeks and years LogQL adds.
        if LogQLUnits.durationNanoseconds(value) != nil, !value.contains(where: { "dwy".contains($0) }) { return "duration" }
        if LogQLUnits.bytes(value) != nil { return "bytes" }
        return "string"
    }
}
