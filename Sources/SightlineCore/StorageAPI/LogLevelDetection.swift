/// Loki's `detected_level`: the level of a log record as Loki 3.7 discovers it, so Grafana's level filters and
/// per-level volumes (`| detected_level="error"`, `sum by (detected_level) (…)`) work on every record.
///
/// Loki stores the level as structured metadata when it ingests a record; Sightline derives it when a query asks for it
/// by name, from what Loki would have looked at, in Loki's order:
/// 1. a `detected_level` the sender set (normalised);
/// 2. a stream label named in ``fields`` (the first name of the list the stream has), then structured metadata so
///    named (OpenTelemetry's `severity_text` is one), normalised — a value outside the known levels is kept as sent;
/// 3. OpenTelemetry's severity number, when set;
/// 4. the line: the first string-valued key of ``fields`` in a JSON object line (the top level and one level down),
///    or the key of ``fields`` that comes first in the list in a logfmt line (names compared ignoring case); a value
///    outside the known levels, or none, leaves it to
/// 5. the first level keyword in the line standing as a word of its own (`[warn]`, `level=error`, ` info `),
///    ignoring case; `unknown` when there is none.
package enum LogLevelDetection {
    /// The structured metadata name.
    package static let label = "detected_level"

    /// The names a level is looked for under, in order of preference (Loki's `log_level_fields` default).
    package static let fields = [
        "level", "LEVEL", "Level", "log.level", "severity", "SEVERITY", "Severity", "SeverityText", "lvl", "LVL", "Lvl",
        "severity_text", "Severity_Text", "SEVERITY_TEXT",
    ]

    /// How deep in a JSON line keys are looked at: the top level and the objects directly inside it.
    static let jsonMaxDepth = 2

    /// The level of a record with these stream labels, structured metadata (looked up by name, without the derived
    /// level), OpenTelemetry severity number (0 when unset) and line.
    package static func level(
        streamValue: (String) -> String?, metadataValue: (String) -> String?, severityNumber: Int32, line: String
    ) -> String {
        if let sent = metadataValue(label) { return normalised(sent) ?? sent }
        for name in fields {
            if let value = streamValue(name) { return normalised(value) ?? value }
        }
        for name in fields {
            if let value = metadataValue(name) { return normalised(value) ?? value }
        }
        if severityNumber != 0 { return level(severityNumber: severityNumber) }
        return level(line: line)
    }

    /// OpenTelemetry's severity number ranges: 1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–20 error, 21–24 fatal.
    static func level(severityNumber: Int32) -> String {
        switch severityNumber {
        case 0: "unknown"
        case ...4: "trace"
        case 5...8: "debug"
        case 9...12: "info"
        case 13...16: "warn"
        case 17...20: "error"
        case 21...24: "fatal"
        default: "unknown"
        }
    }

    /// The level a line says: a level field of a JSON or logfmt line, else a keyword.
    static func level(line: String) -> String {
        var line = line
        return line.withUTF8 { level(bytes: $0) }
    }

    private static func level(bytes: UnsafeBufferPointer<UInt8>) -> String {
        var first = 0
        var last = bytes.count - 1
        while first <= last && isSpace(bytes[first]) { first += 1 }
        while last >= first && isSpace(bytes[last]) { last -= 1 }
        var field: String?
        if first < last && bytes[first] == UInt8(ascii: "{") && bytes[last] == UInt8(ascii: "}") {
            var scanner = JSONLevelScanner(bytes: bytes, position: first)
            field = scanner.levelField()
        } else if bytes.contains(UInt8(ascii: "=")) {
            field = logfmtLevelField(bytes)
        }
        if let field, let level = normalised(field) { return level }
        return keywordLevel(bytes)
    }

    /// The known level `value` names, ignoring case (`ERR`, `Warning`, `dbg`…); nil for anything else.
    package static func normalised(_ value: String) -> String? {
        switch value.lowercased() {
        case "trace", "trc": "trace"
        case "debug", "dbg": "debug"
        case "info", "inf", "information": "info"
        case "warn", "wrn", "warning": "warn"
        case "error", "err": "error"
        case "critical": "critical"
        case "fatal": "fatal"
        default: nil
        }
    }

    // MARK: Keywords

    /// The keywords and their levels, in order of preference at one position.
    private static let keywords: [(word: [UInt8], level: String)] = [
        ("trace", "trace"), ("debug", "debug"), ("fatal", "fatal"), ("critical", "critical"), ("error", "error"),
        ("err", "error"), ("warning", "warn"), ("warn", "warn"), ("info", "info"),
    ].map { (Array($0.0.utf8), $0.1) }

    /// The level of the earliest keyword standing as a word; `unknown` when none does.
    static func keywordLevel(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        for start in bytes.indices where start == 0 || isLeftBoundary(bytes[start - 1]) {
            for (word, level) in keywords where start + word.count <= bytes.count {
                var matches = true
                for offset in word.indices where lowercased(bytes[start + offset]) != word[offset] {
                    matches = false
                    break
                }
                let end = start + word.count
                if matches && (end == bytes.count || isRightBoundary(bytes[end])) { return level }
            }
        }
        return "unknown"
    }

    private static func isLeftBoundary(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x20, 0x09, 0x0A, UInt8(ascii: "["), UInt8(ascii: "("), UInt8(ascii: "{"), UInt8(ascii: "\""), UInt8(ascii: "="): true
        default: false
        }
    }

    private static func isRightBoundary(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x20, 0x09, 0x0A, UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"),
            UInt8(ascii: "}"), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "!"), UInt8(ascii: "\""), UInt8(ascii: "="):
            true
        default: false
        }
    }

    @inline(__always) private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    @inline(__always) private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    // MARK: logfmt

    /// ``fields`` in lower case, as bytes.
    private static let lowercasedFields = fields.map { Array($0.lowercased().utf8) }

    /// The value of the logfmt key that comes first in ``fields`` (keys compared ignoring case), nil when none is.
    static func logfmtLevelField(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var best: (rank: Int, value: String)?
        LogfmtPairs.scan(bytes) { pair in
            let key = pair.key.utf8
            guard let rank = lowercasedFields.firstIndex(where: { name in name.count == key.count && zip(name, key).allSatisfy { $0 == lowercased($1) } })
            else { return true }
            if best == nil || rank < best!.rank { best = (rank, pair.value) }
            return rank > 0
        }
        return best?.value
    }
}

/// Finds the first key of ``LogLevelDetection/fields`` with a string value in a JSON object, in document order, at
/// most ``LogLevelDetection/jsonMaxDepth`` objects deep; arrays are not looked into. Malformed JSON finds nothing.
private struct JSONLevelScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var position: Int

    mutating func levelField() -> String? {
        var found: String?
        _ = object(depth: 1, found: &found)
        return found
    }

    /// Reads the object at `position` (its `{`); false when malformed. Stops once `found` is set.
    private mutating func object(depth: Int, found: inout String?) -> Bool {
        position += 1
        skipSpaces()
        if peek == UInt8(ascii: "}") {
            position += 1
            return true
        }
        while true {
            skipSpaces()
            guard peek == UInt8(ascii: "\""), let key = string() else { return false }
            skipSpaces()
            guard peek == UInt8(ascii: ":") else { return false }
            position += 1
            skipSpaces()
            if peek == UInt8(ascii: "\"") {
                guard let value = string() else { return false }
                if LogLevelDetection.fields.contains(key) {
                    found = value
                    return true
                }
            } else if peek == UInt8(ascii: "{") && depth < LogLevelDetection.jsonMaxDepth {
                guard object(depth: depth + 1, found: &found) else { return false }
                if found != nil { return true }
            } else {
                guard skipValue() else { return false }
            }
            skipSpaces()
            switch peek {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"):
                position += 1
                return true
            default: return false
            }
        }
    }

    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipSpaces() {
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
    }

    /// The string at `position` (its opening quote), unescaped; nil when it does not close or has a bad escape.
    private mutating func string() -> String? {
        try? JSONStringDecoding.read(bytes, at: &position)
    }

    /// Skips a number, literal, string, array or object; false when malformed.
    private mutating func skipValue() -> Bool {
        guard let byte = peek else { return false }
        switch byte {
        case UInt8(ascii: "\""): return string() != nil
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while let current = peek {
                switch current {
                case UInt8(ascii: "\""):
                    guard string() != nil else { return false }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        position += 1
                        return true
                    }
                default: break
                }
                position += 1
            }
            return false
        default:
            while let current = peek, current != UInt8(ascii: ","), current != UInt8(ascii: "}"), current != UInt8(ascii: "]"),
                current > 0x20
            {
                position += 1
            }
            return true
        }
    }
}
