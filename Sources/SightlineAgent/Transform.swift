package import Foundation
package import SightlineCore

/// One step of a file source's transform chain. Fields are the record's attributes; the body is the raw line.
///
/// A parse step that fails keeps the record as it is and sets the attribute `error` to why: a record never
/// disappears because it did not parse (only ``drop(field:equals:)``, ``keep(field:equals:)`` and ``sample(_:)``
/// remove records, on purpose).
package enum Transform: Sendable {
    /// Parses the body as a JSON object; its top-level members become fields.
    case json
    /// Parses the body as logfmt (`key=value key2="quoted value"`).
    case logfmt
    /// Matches the body against a regular expression; named captures become fields.
    case regex(NSRegularExpressionBox)
    /// Takes the record time from a field: format `unix`, `unix_ms`, `unix_ns` or `rfc3339`.
    case timestamp(field: String, format: String)
    /// Sets fields to fixed values.
    case addFields([String: String])
    /// Renames fields (old → new).
    case renameFields([String: String])
    /// Removes fields.
    case dropFields([String])
    /// Sets stream labels from fields (label ← field) as resource attributes, so the server files the record under them.
    case streamLabels([String: String])
    /// Drops records whose field equals a value.
    case drop(field: String, equals: String)
    /// Keeps only records whose field equals a value.
    case keep(field: String, equals: String)
    /// Keeps one record in `n` (deterministically, by a hash of the line).
    case sample(Int)

    /// Runs `chain` on `record`; nil when the record was dropped.
    package static func apply(_ chain: [Transform], to record: LogRecord) -> LogRecord? {
        var record = record
        for step in chain {
            guard step.apply(&record) else { return nil }
        }
        return record
    }

    private func apply(_ record: inout LogRecord) -> Bool {
        switch self {
        case .json:
            let line = record.body.text
            guard let data = line.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else {
                Self.set(&record, "error", "json: the line is not a JSON object")
                return true
            }
            for (key, value) in object.sorted(by: { $0.key < $1.key }) { Self.set(&record, key, Self.text(value)) }
        case .logfmt:
            guard let pairs = Self.logfmt(record.body.text) else {
                Self.set(&record, "error", "logfmt: the line has no key=value pairs")
                return true
            }
            for (key, value) in pairs { Self.set(&record, key, value) }
        case .regex(let box):
            let line = record.body.text
            guard let match = box.regex.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) else {
                Self.set(&record, "error", "regex: the line does not match")
                return true
            }
            for name in box.names {
                let range = match.range(withName: name)
                if range.location != NSNotFound, let swiftRange = Range(range, in: line) { Self.set(&record, name, String(line[swiftRange])) }
            }
        case .timestamp(let field, let format):
            guard let value = Self.get(record, field), let nanos = Self.parseTime(value, format: format) else {
                Self.set(&record, "error", "timestamp: field \(field) is missing or not \(format)")
                return true
            }
            record.timeUnixNano = nanos
        case .addFields(let fields):
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) { Self.set(&record, key, value) }
        case .renameFields(let names):
            for index in record.attributes.indices {
                if let new = names[record.attributes[index].key] { record.attributes[index].key = new }
            }
        case .dropFields(let names):
            let drop = Set(names)
            record.attributes.removeAll { drop.contains($0.key) }
        case .streamLabels(let labels):
            for (label, field) in labels.sorted(by: { $0.key < $1.key }) {
                guard let value = Self.get(record, field) else { continue }
                record.resource.removeAll { $0.key == label }
                record.resource.append(Attribute(label, .string(value)))
            }
        case .drop(let field, let value):
            return Self.get(record, field) != value
        case .keep(let field, let value):
            return Self.get(record, field) == value
        case .sample(let n):
            guard n > 1 else { return true }
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in record.body.text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            return hash % UInt64(n) == 0
        }
        return true
    }

    private static func get(_ record: LogRecord, _ key: String) -> String? {
        record.attributes.last { $0.key == key }?.value.text
    }

    private static func set(_ record: inout LogRecord, _ key: String, _ value: String) {
        if let index = record.attributes.firstIndex(where: { $0.key == key }) {
            record.attributes[index].value = .string(value)
        } else {
            record.attributes.append(Attribute(key, .string(value)))
        }
    }

    private static func text(_ value: Any) -> String {
        switch value {
        case let string as String: return string
        case let number as NSNumber: return number.stringValue
        case is NSNull: return ""
        default:
            guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else { return "\(value)" }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// The pairs of a logfmt line, or nil when it has none.
    static func logfmt(_ line: String) -> [(String, String)]? {
        var pairs: [(String, String)] = []
        var characters = Substring(line)
        while true {
            characters = characters.drop { $0 == " " || $0 == "\t" }
            guard !characters.isEmpty else { break }
            let key = characters.prefix { $0 != "=" && $0 != " " }
            characters = characters.dropFirst(key.count)
            guard characters.first == "=" else {
                if !key.isEmpty { pairs.append((String(key), "true")) }
                continue
            }
            characters = characters.dropFirst()
            var value = ""
            if characters.first == "\"" {
                characters = characters.dropFirst()
                var escaped = false
                while let c = characters.first {
                    characters = characters.dropFirst()
                    if escaped {
                        value.append(c)
                        escaped = false
                    } else if c == "\\" {
                        escaped = true
                    } else if c == "\"" {
                        break
                    } else {
                        value.append(c)
                    }
                }
            } else {
                let raw = characters.prefix { $0 != " " && $0 != "\t" }
                value = String(raw)
                characters = characters.dropFirst(raw.count)
            }
            if !key.isEmpty { pairs.append((String(key), value)) }
        }
        return pairs.isEmpty ? nil : pairs
    }

    /// Nanoseconds since the epoch of `value` in `format`.
    static func parseTime(_ value: String, format: String) -> UInt64? {
        switch format {
        case "unix": return UInt64(value).map { $0 &* 1_000_000_000 } ?? Double(value).map { UInt64(max(0, $0) * 1e9) }
        case "unix_ms": return UInt64(value).map { $0 &* 1_000_000 } ?? Double(value).map { UInt64(max(0, $0) * 1e6) }
        case "unix_ns": return UInt64(value)
        case "rfc3339":
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: value) { return UInt64(max(0, date.timeIntervalSince1970) * 1e9) }
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.date(from: value).map { UInt64(max(0, $0.timeIntervalSince1970) * 1e9) }
        default: return nil
        }
    }
}

/// A compiled regular expression and its capture names (Sendable: NSRegularExpression is immutable).
package struct NSRegularExpressionBox: @unchecked Sendable {
    package let regex: NSRegularExpression
    package let names: [String]

    /// Compiles `pattern`.
    /// - Throws: `configuration` naming the pattern when it does not compile.
    package init(_ pattern: String) throws {
        do {
            regex = try NSRegularExpression(pattern: pattern)
        } catch {
            throw SightlineError(.configuration, "invalid regex \"\(pattern)\": \(error)")
        }
        let namePattern = try NSRegularExpression(pattern: "\\(\\?<([A-Za-z][A-Za-z0-9_]*)>")
        names = namePattern.matches(in: pattern, range: NSRange(pattern.startIndex..., in: pattern)).compactMap { match in
            Range(match.range(at: 1), in: pattern).map { String(pattern[$0]) }
        }
    }
}
