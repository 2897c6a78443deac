package import SightlineCore
package import SightlineQuery

/// A value a notification template sees: Alertmanager's template data (`.Status`, `.Alerts`, `.CommonLabels`, …)
/// reduced to the shapes Go's text/template walks over.
package indirect enum NotifyTemplateValue: Sendable, GoBuiltinValue {
    case string(String)
    /// Go's `template.HTML` (what `safeHtml` makes): a string that HTML templates write without escaping.
    case html(String)
    case int(Int)
    case float(Double)
    case bool(Bool)
    case null
    /// A list, with named fields (`.Alerts.Firing`).
    case list([NotifyTemplateValue], fields: [String: NotifyTemplateValue])
    /// A label or annotation set, sorted by name: fields are keys, plus the methods `SortedPairs`, `Names`, `Values`
    /// and `Remove`.
    case kv([(String, String)])
    /// A struct with named fields.
    case object([String: NotifyTemplateValue])
    /// A Go `map[string]interface{}` (what `dict` makes): keys in sorted order when printed, ranged or encoded.
    case dict([String: NotifyTemplateValue])
    /// A Go `time.Time`: an instant and the zone it is shown in.
    case time(GoTime.Instant, ZoneInfo)
    /// A Go `time.Duration` in nanoseconds.
    case duration(Int64)

    package init(literal: GoTemplateLiteral) {
        switch literal {
        case .string(let s): self = .string(s)
        case .int(let i): self = .int(Int(clamping: i))
        case .float(let f): self = .float(f)
        case .bool(let b): self = .bool(b)
        case .null: self = .null
        }
    }

    /// Go's truth: non-empty, non-zero, true.
    package var isTruthy: Bool {
        switch self {
        case .string(let s), .html(let s): !s.isEmpty
        case .int(let i): i != 0
        case .float(let f): f != 0
        case .bool(let b): b
        case .null: false
        case .list(let items, _): !items.isEmpty
        case .kv(let pairs): !pairs.isEmpty
        case .dict(let entries): !entries.isEmpty
        case .object, .time: true
        case .duration(let nanoseconds): nanoseconds != 0
        }
    }

    /// The text `{{ . }}` prints, as Go's fmt would.
    package var printed: String {
        switch self {
        case .string(let s), .html(let s): s
        case .int(let i): String(i)
        case .float(let f): PromQLFloat.formatG(f)
        case .bool(let b): b ? "true" : "false"
        case .null: "<no value>"
        case .list(let items, _): "[" + items.map(\.printed).joined(separator: " ") + "]"
        case .kv(let pairs): "map[" + pairs.map { "\($0.0):\($0.1)" }.joined(separator: " ") + "]"
        case .object(let fields): "{" + Self.fieldOrder(fields).compactMap { fields[$0]?.printed }.joined(separator: " ") + "}"
        case .dict(let entries): "map[" + entries.keys.sorted().map { "\($0):\(entries[$0]?.printed ?? "")" }.joined(separator: " ") + "]"
        case .time(let instant, let zone): GoTime.string(instant, zone: zone.kind(atSecond: instant.seconds))
        case .duration(let nanoseconds): GoTime.duration(nanoseconds)
        }
    }

    /// A list's items by index, a label set's values by name, 0…n-1 for an int n.
    package var rangeElements: [(key: NotifyTemplateValue, element: NotifyTemplateValue)]? {
        switch self {
        case .list(let items, _): items.enumerated().map { (.int($0.offset), $0.element) }
        case .kv(let pairs): pairs.map { (.string($0.0), .string($0.1)) }
        case .dict(let entries): entries.keys.sorted().map { (.string($0), entries[$0] ?? .null) }
        case .int(let count): (0..<max(0, count)).map { (.int($0), .int($0)) }
        case .null: []
        default: nil
        }
    }

    /// A field, or one of a label set's methods without arguments; a label a set lacks is "" (`missingkey=zero`).
    package func field(_ name: String) throws(GoTemplateFailure) -> NotifyTemplateValue {
        switch self {
        case .object(let fields):
            guard let value = fields[name] else { throw .argument("can't evaluate field \(name) in type \(goTypeName)") }
            return value
        case .list(_, let fields):
            guard let value = fields[name] else { throw .argument("can't evaluate field \(name) in type \(goTypeName)") }
            return value
        case .kv(let pairs):
            switch name {
            case "SortedPairs":
                return .list(
                    pairs.map { .object(["Name": .string($0.0), "Value": .string($0.1)]) },
                    fields: ["Names": .list(pairs.map { .string($0.0) }, fields: [:]), "Values": .list(pairs.map { .string($0.1) }, fields: [:])])
            case "Names": return .list(pairs.map { .string($0.0) }, fields: [:])
            case "Values": return .list(pairs.map { .string($0.1) }, fields: [:])
            default: return .string(pairs.first { $0.0 == name }?.1 ?? "")
            }
        case .dict(let entries): return entries[name] ?? .null
        case .time, .duration:
            // Methods without arguments read like fields (`.StartsAt.Unix`).
            if let value = try method(name, arguments: []) { return value }
            throw .argument("can't evaluate field \(name) in type \(goTypeName)")
        case .null: throw .argument("nil pointer evaluating interface {}.\(name)")
        default: throw .argument("can't evaluate field \(name) in type \(goTypeName)")
        }
    }

    /// A method: `Remove names` on a label set (the set without those labels), and the methods of Go's `time.Time`
    /// and `time.Duration` that templates use.
    package func method(_ name: String, arguments: [NotifyTemplateValue]) throws(GoTemplateFailure) -> NotifyTemplateValue? {
        func count(_ expected: Int) throws(GoTemplateFailure) { try GoTemplateFailure.checkCount(name, want: expected, got: arguments.count) }
        switch self {
        case .kv(let pairs) where name == "Remove":
            try count(1)
            guard case .list(let items, _) = arguments[0] else {
                throw .argument("wrong type for value; expected []string; got \(arguments[0].goTypeName)")
            }
            let removed = Set(items.map(\.printed))
            return .kv(pairs.filter { !removed.contains($0.0) })
        case .time(let instant, let zone):
            return try Self.timeMethod(name, instant, zone, arguments, count: count)
        case .duration(let nanoseconds):
            let value: NotifyTemplateValue
            switch name {
            case "String": value = .string(GoTime.duration(nanoseconds))
            case "Hours": value = .float(Double(nanoseconds) / 3.6e12)
            case "Minutes": value = .float(Double(nanoseconds) / 6e10)
            case "Seconds": value = .float(Double(nanoseconds) / 1e9)
            case "Milliseconds": value = .int(Int(nanoseconds / 1_000_000))
            case "Microseconds": value = .int(Int(nanoseconds / 1000))
            case "Nanoseconds": value = .int(Int(nanoseconds))
            case "Abs": value = .duration(nanoseconds == .min ? .max : abs(nanoseconds))
            default: return nil
            }
            try count(0)
            return value
        default:
            return nil
        }
    }

    /// `time.Time`'s methods: `Format layout`, `String`, `Unix`, `UnixMilli`, `UnixNano`, `UTC`, `Local`, `IsZero`,
    /// the civil fields (`Year`, `Month`, `Day`, `YearDay`, `Weekday`, `Hour`, `Minute`, `Second`, `Nanosecond`),
    /// `Add d`, `Sub t`, `Before t`, `After t`, `Equal t`. `Month` and `Weekday` give their names, as they print.
    private static func timeMethod(
        _ name: String, _ instant: GoTime.Instant, _ zone: ZoneInfo, _ arguments: [NotifyTemplateValue],
        count: (Int) throws(GoTemplateFailure) -> Void
    ) throws(GoTemplateFailure) -> NotifyTemplateValue? {
        func other() throws(GoTemplateFailure) -> GoTime.Instant {
            try count(1)
            guard case .time(let other, _) = arguments[0] else {
                throw .argument("wrong type for value; expected time.Time; got \(arguments[0].goTypeName)")
            }
            return other
        }
        let local = zone.kind(atSecond: instant.seconds)
        switch name {
        case "Format":
            try count(1)
            guard case .string(let layout) = arguments[0] else {
                throw .argument("wrong type for value; expected string; got \(arguments[0].goTypeName)")
            }
            return .string(GoTime.format(instant, layout: layout, zone: local))
        case "Add":
            try count(1)
            switch arguments[0] {
            case .duration(let nanoseconds): return .time(instant.adding(nanoseconds: nanoseconds), zone)
            case .int(let nanoseconds): return .time(instant.adding(nanoseconds: Int64(nanoseconds)), zone)
            default: throw .argument("wrong type for value; expected time.Duration; got \(arguments[0].goTypeName)")
            }
        case "Sub": return .duration(instant.nanoseconds(since: try other()))
        case "Before": return .bool(instant < (try other()))
        case "After": return .bool(instant > (try other()))
        case "Equal": return .bool(instant == (try other()))
        default: break
        }
        let civil = GoTime.civil(instant, zone: local)
        let value: NotifyTemplateValue
        switch name {
        case "String": value = .string(GoTime.string(instant, zone: local))
        case "Unix": value = .int(Int(instant.seconds))
        case "UnixMilli": value = .int(Int(instant.seconds * 1000 + instant.nanosecond / 1_000_000))
        case "UnixNano": value = .int(Int(instant.nanoseconds(since: GoTime.Instant(seconds: 0, nanosecond: 0))))
        case "UTC": value = .time(instant, .utc)
        case "Local": value = .time(instant, (try? GoLocation.load("Local")) ?? .utc)
        case "IsZero": value = .bool(instant == GoTime.Instant.zero)
        case "Year": value = .int(Int(civil.year))
        case "Month": value = .string(GoTime.monthName(civil.month))
        case "Day": value = .int(Int(civil.day))
        case "YearDay": value = .int(Int(civil.dayOfYear))
        case "Weekday": value = .string(GoTime.weekdayName(civil.weekday))
        case "Hour": value = .int(Int(civil.hour))
        case "Minute": value = .int(Int(civil.minute))
        case "Second": value = .int(Int(civil.second))
        case "Nanosecond": value = .int(Int(instant.nanosecond))
        default: return nil
        }
        try count(0)
        return value
    }

    var basic: GoTemplateLiteral? {
        switch self {
        case .string(let s), .html(let s): .string(s)
        case .int(let i): .int(Int64(i))
        case .float(let f): .float(f)
        case .bool(let b): .bool(b)
        case .null: .null
        case .duration(let nanoseconds): .int(nanoseconds)
        case .list, .kv, .object, .dict, .time: nil
        }
    }

    var hasStringMethod: Bool {
        switch self {
        case .time, .duration: true
        default: false
        }
    }

    var goTypeName: String {
        switch self {
        case .string: "string"
        case .html: "template.HTML"
        case .int: "int"
        case .float: "float64"
        case .bool: "bool"
        case .null: "<nil>"
        case .list: "[]interface {}"
        case .kv: "template.KV"
        case .dict: "map[string]interface {}"
        case .object: "struct"
        case .time: "time.Time"
        case .duration: "time.Duration"
        }
    }

    /// The fields of Alertmanager's template structs in their Go declaration order (`Data`, `Alert`, `Pair`), which
    /// `fmt` prints and `encoding/json` encodes in; other names follow, sorted.
    static let goFieldOrder = [
        "Receiver", "Status", "Alerts", "GroupLabels", "CommonLabels", "CommonAnnotations", "ExternalURL", "Labels", "Annotations", "StartsAt",
        "EndsAt", "GeneratorURL", "Fingerprint", "Name", "Value",
    ]

    static func fieldOrder(_ fields: [String: NotifyTemplateValue]) -> [String] {
        goFieldOrder.filter { fields[$0] != nil } + fields.keys.filter { !goFieldOrder.contains($0) }.sorted()
    }

    var length: Int? {
        switch self {
        case .string(let s), .html(let s): s.utf8.count
        case .list(let items, _): items.count
        case .kv(let pairs): pairs.count
        case .dict(let entries): entries.count
        default: nil
        }
    }

    /// A label set or struct by name, a list by position.
    func indexed(by key: NotifyTemplateValue) throws(GoTemplateFailure) -> NotifyTemplateValue {
        switch (self, key) {
        case (.kv(let pairs), .string(let name)): return .string(pairs.first { $0.0 == name }?.1 ?? "")
        case (.object(let fields), .string(let name)), (.dict(let fields), .string(let name)): return fields[name] ?? .null
        case (.list(let items, _), .int(let i)):
            guard items.indices.contains(i) else { throw .returned("index out of range: \(i)") }
            return items[i]
        default: throw .returned("can't index item of type \(goTypeName)")
        }
    }
}

/// A template failed to parse or run; the message says where and why, as Go's messages do.
package struct NotifyTemplateError: Error, Sendable, CustomStringConvertible {
    package var message: String
    init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// Alertmanager's notification templates: Go's text/template (``GoTemplate``) over ``NotifyTemplateValue``, with
/// Go's built-in functions (``GoBuiltins``) and Alertmanager's (``NotifyFunctions``).
package struct NotifyTemplate: Sendable {
    fileprivate let template: GoTemplate

    /// Parses `text`.
    /// - Throws: ``NotifyTemplateError`` naming what is malformed.
    package init(_ text: String) throws {
        do {
            template = try GoTemplate(name: "notification", text: text, functions: NotifyFunctions.names)
        } catch {
            throw NotifyTemplateError(error.message)
        }
    }

    /// Renders with `data` as dot; `library` supplies `{{ template "name" }}` definitions (Alertmanager's defaults);
    /// `since` measures from `now`.
    /// With `html`, values are written as html/template writes them in HTML text (escaped, unless `safeHtml`), as
    /// Alertmanager renders the templates of receivers that send HTML.
    package func render(_ data: NotifyTemplateValue, library: NotifyTemplateLibrary = .defaults, now: GoTime.Instant, html: Bool = false) throws -> String {
        do {
            let escape: ((NotifyTemplateValue) -> String)? = html ? { value in
                if case .html(let text) = value { return text }
                return GoBuiltins.htmlEscape(value.printed, inTemplateText: true)
            } : nil
            return try template.execute(data: data, functions: NotifyFunctions(now: now), library: library.definitions, escape: escape)
        } catch {
            throw NotifyTemplateError(error.message)
        }
    }

    /// Parses and renders in one step, for one-off template strings from the configuration.
    package static func render(
        _ text: String, _ data: NotifyTemplateValue, library: NotifyTemplateLibrary = .defaults, now: GoTime.Instant, html: Bool = false
    ) throws -> String {
        try NotifyTemplate(text).render(data, library: library, now: now, html: html)
    }
}

/// The functions of notification templates: Alertmanager's `toUpper`, `toLower`, `title`, `trimSpace`, `join`,
/// `match`, `reReplaceAll`, `safeHtml`, `safeUrl`, `urlUnescape`, `stringSlice`, `date`, `tz`, `since` and
/// `humanizeDuration`.
private struct NotifyFunctions: GoTemplateFunctions {
    static let names = GoBuiltins.names.union([
        "toUpper", "toLower", "title", "trimSpace", "join", "match", "reReplaceAll", "safeHtml", "safeUrl", "urlUnescape", "stringSlice", "date", "tz",
        "since", "humanizeDuration", "now", "toJson", "list", "append", "dict", "base64encode", "base64decode",
    ])

    /// The time `since` measures from.
    let now: GoTime.Instant

    func call(_ name: String, _ arguments: [NotifyTemplateValue]) throws(GoTemplateFailure) -> NotifyTemplateValue {
        if let builtin = try GoBuiltins.call(name, arguments) { return builtin }
        func count(_ expected: Int) throws(GoTemplateFailure) { try GoTemplateFailure.checkCount(name, want: expected, got: arguments.count) }
        func string(_ argument: NotifyTemplateValue) throws(GoTemplateFailure) -> String {
            guard case .string(let text) = argument else {
                throw .argument("wrong type for value; expected string; got \(argument.goTypeName)")
            }
            return text
        }
        func strings(_ expected: Int) throws(GoTemplateFailure) -> [String] {
            try count(expected)
            var texts: [String] = []
            for argument in arguments { texts.append(try string(argument)) }
            return texts
        }
        func time(_ argument: NotifyTemplateValue) throws(GoTemplateFailure) -> (GoTime.Instant, ZoneInfo) {
            guard case .time(let instant, let zone) = argument else {
                throw .argument("wrong type for value; expected time.Time; got \(argument.goTypeName)")
            }
            return (instant, zone)
        }
        switch name {
        case "safeUrl": return .string(try strings(1)[0])
        case "urlUnescape": return .string(try Self.queryUnescape(try strings(1)[0]))
        case "stringSlice":
            var items: [NotifyTemplateValue] = []
            for argument in arguments { items.append(.string(try string(argument))) }
            return .list(items, fields: [:])
        case "list": return .list(arguments, fields: [:])
        case "append":
            guard let first = arguments.first else { throw .argument("wrong number of args for append: want at least 1 got 0") }
            guard case .list(let items, _) = first else { throw .argument("wrong type for value; expected []interface {}; got \(first.goTypeName)") }
            return .list(items + arguments.dropFirst(), fields: [:])
        case "dict":
            guard arguments.count % 2 == 0 else { throw .returned("dict requires an even number of arguments") }
            var entries: [String: NotifyTemplateValue] = [:]
            for index in stride(from: 0, to: arguments.count, by: 2) {
                guard case .string(let key) = arguments[index] else { throw .returned("dict keys must be strings") }
                entries[key] = arguments[index + 1]
            }
            return .dict(entries)
        case "toJson":
            try count(1)
            return .string(try NotifyJSON.encode(arguments[0]))
        case "base64encode":
            let text = try strings(1)[0]
            // Go's base64.URLEncoding: the URL-safe alphabet, with padding.
            return .string(String(Base64.encode(Array(text.utf8)).map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 }))
        case "base64decode":
            let text = try strings(1)[0]
            guard text.utf8.count % 4 == 0, !text.contains("+"), !text.contains("/"), let bytes = Base64.decode(text) else {
                throw .returned("illegal base64 data at input byte \(NotifyJSON.firstBadBase64Byte(text))")
            }
            return .string(String(decoding: bytes, as: UTF8.self))
        case "now":
            try count(0)
            return .time(now, (try? GoLocation.load("Local")) ?? .utc)
        case "date":
            try count(2)
            let layout = try string(arguments[0])
            let (instant, zone) = try time(arguments[1])
            return .string(GoTime.format(instant, layout: layout, zone: zone.kind(atSecond: instant.seconds)))
        case "tz":
            try count(2)
            let zoneName = try string(arguments[0])
            let (instant, _) = try time(arguments[1])
            do {
                return .time(instant, try GoLocation.load(zoneName))
            } catch {
                throw .returned(error.message)
            }
        case "since":
            try count(1)
            return .duration(now.nanoseconds(since: try time(arguments[0]).0))
        case "humanizeDuration":
            try count(1)
            let seconds: Double
            switch arguments[0] {
            case .float(let value): seconds = value
            case .int(let value): seconds = Double(value)
            case .duration(let nanoseconds): seconds = Double(nanoseconds) / 1e9
            case .string(let text): seconds = try TemplateFunctions.parseFloat(text)
            default: throw .returned("can't convert \(arguments[0].goTypeName) to float")
            }
            return .string(TemplateFunctions.humanizeDuration(seconds))
        case "toUpper": return .string(try strings(1)[0].uppercased())
        case "toLower": return .string(try strings(1)[0].lowercased())
        case "title": return .string(TemplateFunctions.title(try strings(1)[0]))
        case "trimSpace":
            let text = try strings(1)[0]
            guard let first = text.firstIndex(where: { !$0.isWhitespace }), let last = text.lastIndex(where: { !$0.isWhitespace }) else {
                return .string("")
            }
            return .string(String(text[first...last]))
        case "safeHtml": return .html(try strings(1)[0])
        case "join":
            guard arguments.count == 2 else { throw .argument("wrong number of args for join: want 2 got \(arguments.count)") }
            guard case .string(let separator) = arguments[0] else {
                throw .argument("wrong type for value; expected string; got \(arguments[0].goTypeName)")
            }
            guard case .list(let items, _) = arguments[1] else {
                throw .argument("wrong type for value; expected []string; got \(arguments[1].goTypeName)")
            }
            return .string(items.map(\.printed).joined(separator: separator))
        case "match":
            let texts = try strings(2)
            do {
                return .bool(try GoRegex(texts[0]).matches(texts[1]))
            } catch {
                throw .returned(error.message)
            }
        case "reReplaceAll":
            let texts = try strings(3)
            do {
                return .string(try GoRegex(texts[0]).replaceAll(in: texts[2], with: texts[1]))
            } catch {
                throw .returned(error.message)
            }
        default:
            throw .returned("function \(GoText.quote(name)) not defined")
        }
    }
}

extension NotifyFunctions {
    /// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte.
    /// - Throws: Go's `invalid URL escape "%zz"` for a `%` without two hex digits.
    static func queryUnescape(_ text: String) throws(GoTemplateFailure) -> String {
        let bytes = Array(text.utf8)
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x41...0x46: byte - 0x37
            case 0x61...0x66: byte - 0x57
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case 0x25:
                guard index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) else {
                    let escape = String(decoding: bytes[index..<min(index + 3, bytes.count)], as: UTF8.self)
                    throw .returned("invalid URL escape \(GoText.quote(escape))")
                }
                out.append(high << 4 | low)
                index += 3
            case 0x2B:
                out.append(0x20)
                index += 1
            default:
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Named templates (`{{ define "name" }}`) available to every template: Sightline's versions of Alertmanager's
/// default templates, so unconfigured titles and bodies read the way Alertmanager's do.
package struct NotifyTemplateLibrary: Sendable {
    fileprivate var definitions: [String: GoTemplate.Definition]

    /// How many templates are defined.
    package var count: Int { definitions.count }

    /// Whether a template of that name is defined.
    package func defines(_ name: String) -> Bool { definitions[name] != nil }

    /// This library with the templates a template file defines (`templates:` in the Alertmanager config) added; a
    /// name defined again replaces the earlier definition, as in Alertmanager. Text outside `define` is ignored.
    /// - Throws: ``NotifyTemplateError`` with Go's message naming the file (`template: slack.tmpl:3: …`).
    package func adding(file name: String, text: String) throws -> NotifyTemplateLibrary {
        let parsed: GoTemplate
        do {
            parsed = try GoTemplate(name: name, text: text, functions: NotifyFunctions.names)
        } catch {
            throw NotifyTemplateError(error.message)
        }
        return NotifyTemplateLibrary(definitions: definitions.merging(parsed.definitions) { $1 })
    }

    /// The built-in definitions.
    package static let defaults: NotifyTemplateLibrary = {
        // Templates written for Sightline in the shape of Alertmanager's defaults: same subject line, same fields.
        let source = #"""
            {{ define "__alertmanager" }}Alertmanager{{ end }}
            {{ define "__alertmanagerURL" }}{{ .ExternalURL }}/#/alerts?receiver={{ .Receiver | urlquery }}{{ end }}
            {{ define "__subject" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.SortedPairs.Values | join " " }} {{ if gt (len .CommonLabels) (len .GroupLabels) }}({{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join " " }}{{ end }}){{ end }}{{ end }}
            {{ define "__description" }}{{ end }}
            {{ define "__text_alert_list" }}{{ range . }}Labels:
            {{ range .Labels.SortedPairs }} - {{ .Name }} = {{ .Value }}
            {{ end }}Annotations:
            {{ range .Annotations.SortedPairs }} - {{ .Name }} = {{ .Value }}
            {{ end }}Source: {{ .GeneratorURL }}
            {{ end }}{{ end }}
            {{ define "__text_alert_list_markdown" }}{{ range . }}
            Labels:
            {{ range .Labels.SortedPairs }}  - {{ .Name }} = {{ .Value }}
            {{ end }}
            Annotations:
            {{ range .Annotations.SortedPairs }}  - {{ .Name }} = {{ .Value }}
            {{ end }}
            Source: {{ .GeneratorURL }}
            {{ end }}{{ end }}
            {{ define "discord.default.title" }}{{ template "__subject" . }}{{ end }}
            {{ define "discord.default.message" }}{{ if gt (len .Alerts.Firing) 0 }}Alerts Firing:
            {{ template "__text_alert_list" .Alerts.Firing }}{{ end }}{{ if gt (len .Alerts.Resolved) 0 }}Alerts Resolved:
            {{ template "__text_alert_list" .Alerts.Resolved }}{{ end }}{{ end }}
            {{ define "telegram.default.message" }}{{ if gt (len .Alerts.Firing) 0 }}Alerts Firing:
            {{ template "__text_alert_list" .Alerts.Firing }}{{ end }}{{ if gt (len .Alerts.Resolved) 0 }}Alerts Resolved:
            {{ template "__text_alert_list" .Alerts.Resolved }}{{ end }}{{ end }}
            {{ define "msteams.default.title" }}{{ template "__subject" . }}{{ end }}
            {{ define "msteams.default.summary" }}{{ template "__subject" . }}{{ end }}
            {{ define "msteams.default.text" }}{{ if gt (len .Alerts.Firing) 0 }}# Alerts Firing:
            {{ template "__text_alert_list_markdown" .Alerts.Firing }}{{ end }}{{ if gt (len .Alerts.Resolved) 0 }}# Alerts Resolved:
            {{ template "__text_alert_list_markdown" .Alerts.Resolved }}{{ end }}{{ end }}
            {{ define "msteamsv2.default.title" }}{{ template "__subject" . }}{{ end }}
            {{ define "msteamsv2.default.text" }}{{ template "msteams.default.text" . }}{{ end }}
            {{ define "slack.default.title" }}{{ template "__subject" . }}{{ end }}
            {{ define "slack.default.username" }}{{ template "__alertmanager" . }}{{ end }}
            {{ define "slack.default.fallback" }}{{ template "slack.default.title" . }} | {{ template "slack.default.titlelink" . }}{{ end }}
            {{ define "slack.default.pretext" }}{{ end }}
            {{ define "slack.default.titlelink" }}{{ template "__alertmanagerURL" . }}{{ end }}
            {{ define "slack.default.text" }}{{ end }}
            {{ define "pagerduty.default.description" }}{{ template "__subject" . }}{{ end }}
            {{ define "pagerduty.default.client" }}{{ template "__alertmanager" . }}{{ end }}
            {{ define "pagerduty.default.clientURL" }}{{ template "__alertmanagerURL" . }}{{ end }}
            {{ define "pagerduty.default.instances" }}{{ template "__text_alert_list" . }}{{ end }}
            {{ define "opsgenie.default.message" }}{{ template "__subject" . }}{{ end }}
            {{ define "__text_annotations_and_alerts" }}{{ .CommonAnnotations.SortedPairs.Values | join " " }}
            {{ if gt (len .Alerts.Firing) 0 -}}
            Alerts Firing:
            {{ template "__text_alert_list" .Alerts.Firing }}
            {{- end }}
            {{ if gt (len .Alerts.Resolved) 0 -}}
            Alerts Resolved:
            {{ template "__text_alert_list" .Alerts.Resolved }}
            {{- end }}
            {{- end }}
            {{ define "opsgenie.default.description" }}{{ template "__text_annotations_and_alerts" . }}{{ end }}
            {{ define "opsgenie.default.source" }}{{ template "__alertmanagerURL" . }}{{ end }}
            {{ define "victorops.default.state_message" }}{{ template "__text_annotations_and_alerts" . }}{{ end }}
            {{ define "victorops.default.entity_display_name" }}{{ template "__subject" . }}{{ end }}
            {{ define "victorops.default.monitoring_tool" }}{{ template "__alertmanager" . }}{{ end }}
            {{ define "__annotations_and_alert_lists" }}{{ .CommonAnnotations.SortedPairs.Values | join " " }}
            {{ if gt (len .Alerts.Firing) 0 }}
            Alerts Firing:
            {{ template "__text_alert_list" .Alerts.Firing }}
            {{ end }}
            {{ if gt (len .Alerts.Resolved) 0 }}
            Alerts Resolved:
            {{ template "__text_alert_list" .Alerts.Resolved }}
            {{ end }}
            {{ end }}
            {{ define "webex.default.message" }}{{ template "__annotations_and_alert_lists" . }}{{ end }}
            {{ define "pushover.default.title" }}{{ template "__subject" . }}{{ end }}
            {{ define "pushover.default.message" }}{{ template "__annotations_and_alert_lists" . }}{{ end }}
            {{ define "pushover.default.url" }}{{ template "__alertmanagerURL" . }}{{ end }}
            {{ define "sns.default.subject" }}{{ template "__subject" . }}{{ end }}
            {{ define "sns.default.message" }}{{ template "__annotations_and_alert_lists" . }}{{ end }}
            {{ define "rocketchat.default.title" }}{{ template "__subject" . }}{{ end }}
            {{ define "rocketchat.default.alias" }}{{ template "__alertmanager" . }}{{ end }}
            {{ define "rocketchat.default.titlelink" }}{{ template "__alertmanagerURL" . }}{{ end }}
            {{ define "rocketchat.default.emoji" }}{{ end }}
            {{ define "rocketchat.default.iconurl" }}{{ end }}
            {{ define "rocketchat.default.text" }}{{ end }}
            {{ define "jira.default.summary" }}{{ template "__subject" . }}{{ end }}
            {{ define "jira.default.description" }}{{ if gt (len .Alerts.Firing) 0 }}# Alerts Firing:
            {{ template "__text_alert_list_markdown" .Alerts.Firing }}{{ end }}{{ if gt (len .Alerts.Resolved) 0 }}# Alerts Resolved:
            {{ template "__text_alert_list_markdown" .Alerts.Resolved }}{{ end }}{{ end }}
            {{ define "jira.default.priority" }}{{ $priority := "" }}{{ range .Alerts.Firing }}{{ $severity := index .Labels "severity" }}{{ if eq $severity "critical" }}{{ $priority = "High" }}{{ else if and (eq $severity "warning") (ne $priority "High") }}{{ $priority = "Medium" }}{{ else if and (eq $severity "info") (eq $priority "") }}{{ $priority = "Low" }}{{ end }}{{ end }}{{ if eq $priority "" }}{{ range .Alerts.Resolved }}{{ $severity := index .Labels "severity" }}{{ if eq $severity "critical" }}{{ $priority = "High" }}{{ else if and (eq $severity "warning") (ne $priority "High") }}{{ $priority = "Medium" }}{{ else if and (eq $severity "info") (eq $priority "") }}{{ $priority = "Low" }}{{ end }}{{ end }}{{ end }}{{ $priority }}{{ end }}
            {{ define "wechat.default.message" }}{{ template "__subject" . }}
            {{ template "__text_annotations_and_alerts" . }}
            AlertmanagerUrl:
            {{ template "__alertmanagerURL" . }}{{ end }}
            {{ define "wechat.default.to_user" }}{{ end }}
            {{ define "wechat.default.to_party" }}{{ end }}
            {{ define "wechat.default.to_tag" }}{{ end }}
            {{ define "wechat.default.agent_id" }}{{ end }}
            {{ define "email.default.subject" }}{{ template "__subject" . }}{{ end }}
            {{ define "email.default.html" }}<!DOCTYPE html>
            <html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><title>{{ template "__subject" . }}</title></head>
            <body>
            <p><a href="{{ template "__alertmanagerURL" . }}">{{ .Alerts | len }} alert{{ if gt (len .Alerts) 1 }}s{{ end }} for {{ range .GroupLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}</a></p>
            {{ if gt (len .Alerts.Firing) 0 }}<h2>[{{ .Alerts.Firing | len }}] Firing</h2>
            {{ range .Alerts.Firing }}<p>Labels<br>{{ range .Labels.SortedPairs }}{{ .Name | html }} = {{ .Value | html }}<br>{{ end }}{{ if gt (len .Annotations) 0 }}Annotations<br>{{ end }}{{ range .Annotations.SortedPairs }}{{ .Name | html }} = {{ .Value | html }}<br>{{ end }}<a href="{{ .GeneratorURL }}">Source</a></p>
            {{ end }}{{ end }}{{ if gt (len .Alerts.Resolved) 0 }}<h2>[{{ .Alerts.Resolved | len }}] Resolved</h2>
            {{ range .Alerts.Resolved }}<p>Labels<br>{{ range .Labels.SortedPairs }}{{ .Name | html }} = {{ .Value | html }}<br>{{ end }}{{ if gt (len .Annotations) 0 }}Annotations<br>{{ end }}{{ range .Annotations.SortedPairs }}{{ .Name | html }} = {{ .Value | html }}<br>{{ end }}<a href="{{ .GeneratorURL }}">Source</a></p>
            {{ end }}{{ end }}<p>Sent by Sightline</p>
            </body></html>
            {{ end }}
            """#
        do {
            return NotifyTemplateLibrary(definitions: try NotifyTemplate(source).template.definitions)
        } catch {
            // The built-in source is fixed; a failure here is a bug caught by the tests, not by users.
            return NotifyTemplateLibrary(definitions: [:])
        }
    }()
}
