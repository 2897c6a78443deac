import SightlineCore

/// The `__error__` values Loki sets.
enum LogPipelineError {
    static let json = "JSONParserErr"
    static let logfmt = "LogfmtParserErr"
    static let labelFilter = "LabelFilterErr"
    static let sampleExtraction = "SampleExtractionErr"
    static let templateFormat = "TemplateFormatErr"
}

/// Label names as Loki's parsers write them: characters outside `[A-Za-z0-9_]` become `_`, a leading digit gets a
/// `_` in front, surrounding spaces are dropped.
enum LabelKey {
    static func sanitize(_ key: String) -> String {
        // Most keys are label names already: nothing to build.
        if let first = key.utf8.first, !(first >= 0x30 && first <= 0x39), key.utf8.allSatisfy(LogQLLexer.isIdentifierByte) { return key }
        let trimmed = key.trimmingSpaces
        var bytes: [UInt8] = []
        bytes.reserveCapacity(trimmed.utf8.count + 1)
        var changed = false
        var first = true
        for scalar in trimmed.unicodeScalars {
            if first && scalar.value >= 0x30 && scalar.value <= 0x39 {
                bytes.append(UInt8(ascii: "_"))
                changed = true
            }
            first = false
            if scalar.isASCII, let byte = UInt8(exactly: scalar.value), LogQLLexer.isIdentifierByte(byte) {
                bytes.append(byte)
            } else {
                bytes.append(UInt8(ascii: "_"))
                changed = true
            }
        }
        return changed ? String(decoding: bytes, as: UTF8.self) : trimmed
    }
}

/// `| json`: every field of a JSON object line, nested objects flattened with `_`, arrays skipped; or, with
/// extractions, the values at the given paths (a missing path sets an empty label, an object or array its JSON text).
struct JSONStage {
    let extractions: [(name: String, path: [JSONPath.Component])]

    init(_ extractions: [LabelExtraction]) {
        self.extractions = extractions.map { ($0.name, JSONPath.parse($0.path) ?? [.key($0.path)]) }
    }

    /// Adds the fields of a JSON line, or sets `__error__=JSONParserErr`.
    func process(_ line: String, _ labels: inout LogLabelsBuilder) {
        let document: LogJSONValue
        do {
            document = try LogJSONReader.parse(line, keepRaw: !extractions.isEmpty)
        } catch {
            labels.setError(LogPipelineError.json, details: error.message)
            return
        }
        if extractions.isEmpty {
            guard case .object(let members, _) = document else {
                labels.setError(LogPipelineError.json, details: "Value looks like object, but can't find closing '}' symbol")
                return
            }
            Self.forEachField(of: members) { name, value, _ in labels.setParsed(name, value.labelValue) }
        } else {
            for (name, path) in extractions {
                labels.setParsed(name, JSONPath.lookup(path, in: document)?.labelValue ?? "")
            }
        }
    }

    /// Calls `visit` with every scalar member of an object and the name `| json` gives it — nested objects' members
    /// under `outer_inner` — and the keys leading to it; arrays and nulls are passed by.
    static func forEachField(
        of members: [(key: String, value: LogJSONValue)], _ visit: (_ name: String, _ value: LogJSONValue, _ path: [String]) -> Void
    ) {
        var path: [String] = []
        func walk(_ members: [(key: String, value: LogJSONValue)], prefix: String) {
            for (key, value) in members {
                let name = prefix.isEmpty ? LabelKey.sanitize(key) : prefix + "_" + LabelKey.sanitize(key)
                guard !name.isEmpty else { continue }
                path.append(key)
                switch value {
                case .object(let inner, _): walk(inner, prefix: name)
                case .array, .null: break
                default: visit(name, value, path)
                }
                path.removeLast()
            }
        }
        walk(members, prefix: "")
    }
}

/// `| unpack`: a JSON object written by Promtail's `pack` stage: string fields become labels, `_entry` the line.
enum UnpackStage {
    static func process(_ line: inout String, _ labels: inout LogLabelsBuilder) {
        guard case .object(let members, _) = (try? LogJSONReader.parse(line, keepRaw: false)) ?? .null else {
            labels.setError(LogPipelineError.json, details: "expected a JSON object")
            return
        }
        var entry: String?
        for (key, value) in members {
            guard case .string(let text) = value else { continue }
            if key == "_entry" {
                entry = text
            } else {
                labels.setParsed(LabelKey.sanitize(key), text)
            }
        }
        if let entry { line = entry }
    }
}

/// `| logfmt`: `key=value` pairs (values bare or double-quoted with escapes). Without `--strict` a malformed pair is
/// skipped; with it parsing stops and `__error__=LogfmtParserErr` is set. Keys without a value are dropped unless
/// `--keep-empty`. With extractions only the named keys are kept, under their label names.
struct LogfmtStage {
    let strict: Bool
    let keepEmpty: Bool
    let extractions: [LabelExtraction]

    /// Adds the pairs of a logfmt line.
    func process(_ line: String, _ labels: inout LogLabelsBuilder) {
        var wanted: [String: String] = [:]
        for extraction in extractions { wanted[extraction.path] = extraction.name }
        var found = Set<String>()
        var failure: String?
        var text = line
        text.withUTF8 { bytes in
            LogfmtPairs.scan(bytes) { pair in
                if !extractions.isEmpty {
                    guard let name = wanted[pair.key] else { return true }
                    found.insert(pair.key)
                    labels.setParsed(name, pair.value)
                    return true
                }
                if pair.value.isEmpty && !keepEmpty { return true }
                let name = LabelKey.sanitize(pair.key)
                if !name.isEmpty { labels.setParsed(name, pair.value) }
                return true
            } malformed: { position in
                failure = "logfmt syntax error at pos \(position) on line 1: unexpected '\"'"
                return !strict
            }
        }
        if strict, let failure { labels.setError(LogPipelineError.logfmt, details: failure) }
        for extraction in extractions where !found.contains(extraction.path) && labels.get(extraction.name) == nil {
            labels.set(extraction.name, "")
        }
    }
}

/// `| regexp "…"`: the named groups of the first match become labels; a line that does not match is left alone.
struct LogRegexpParser {
    let regex: LogRegex
    let names: [String]

    /// - Throws: `invalidArgument` for an invalid expression or one without named groups.
    init(_ pattern: String) throws(SightlineError) {
        guard let regex = LogRegex(pattern) else {
            throw SightlineError(.invalidArgument, "invalid regular expression \(GoText.quote(pattern))")
        }
        let names = RegexGroupNames.names(in: pattern)
        if names.isEmpty { throw SightlineError(.invalidArgument, "at least one named capture must be supplied") }
        for name in names where LabelKey.sanitize(name) != name || name.isEmpty {
            throw SightlineError(.invalidArgument, "invalid extracted label name '\(name)'")
        }
        self.regex = regex
        self.names = names
    }

    /// Adds the named groups of the first match.
    func process(_ line: String, _ labels: inout LogLabelsBuilder) {
        guard let groups = regex.namedGroups(line) else { return }
        for (name, value) in groups {
            labels.setParsed(name, value ?? "")
        }
    }
}
