package import SightlineQuery

/// A value a notification template sees: Alertmanager's template data (`.Status`, `.Alerts`, `.CommonLabels`, …)
/// reduced to the shapes Go's text/template walks over.
package indirect enum NotifyTemplateValue: Sendable, GoBuiltinValue {
    case string(String)
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
        case .string(let s): !s.isEmpty
        case .int(let i): i != 0
        case .float(let f): f != 0
        case .bool(let b): b
        case .null: false
        case .list(let items, _): !items.isEmpty
        case .kv(let pairs): !pairs.isEmpty
        case .object: true
        }
    }

    /// The text `{{ . }}` prints, as Go's fmt would.
    package var printed: String {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        case .float(let f): PromQLFloat.formatG(f)
        case .bool(let b): b ? "true" : "false"
        case .null: "<no value>"
        case .list(let items, _): "[" + items.map(\.printed).joined(separator: " ") + "]"
        case .kv(let pairs): "map[" + pairs.map { "\($0.0):\($0.1)" }.joined(separator: " ") + "]"
        case .object(let fields): "{" + fields.keys.sorted().compactMap { fields[$0]?.printed }.joined(separator: " ") + "}"
        }
    }

    /// A list's items by index, a label set's values by name, 0…n-1 for an int n.
    package var rangeElements: [(key: NotifyTemplateValue, element: NotifyTemplateValue)]? {
        switch self {
        case .list(let items, _): items.enumerated().map { (.int($0.offset), $0.element) }
        case .kv(let pairs): pairs.map { (.string($0.0), .string($0.1)) }
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
        case .null: throw .argument("nil pointer evaluating interface {}.\(name)")
        default: throw .argument("can't evaluate field \(name) in type \(goTypeName)")
        }
    }

    /// `Remove names` on a label set: the set without those labels.
    package func method(_ name: String, arguments: [NotifyTemplateValue]) throws(GoTemplateFailure) -> NotifyTemplateValue? {
        guard case .kv(let pairs) = self, name == "Remove" else { return nil }
        guard arguments.count == 1 else { throw .argument("wrong number of args for Remove: want 1 got \(arguments.count)") }
        guard case .list(let items, _) = arguments[0] else {
            throw .argument("wrong type for value; expected []string; got \(arguments[0].goTypeName)")
        }
        let removed = Set(items.map(\.printed))
        return .kv(pairs.filter { !removed.contains($0.0) })
    }

    var basic: GoTemplateLiteral? {
        switch self {
        case .string(let s): .string(s)
        case .int(let i): .int(Int64(i))
        case .float(let f): .float(f)
        case .bool(let b): .bool(b)
        case .null: .null
        case .list, .kv, .object: nil
        }
    }

    var goTypeName: String {
        switch self {
        case .string: "string"
        case .int: "int"
        case .float: "float64"
        case .bool: "bool"
        case .null: "<nil>"
        case .list: "[]interface {}"
        case .kv: "template.KV"
        case .object: "struct"
        }
    }

    var length: Int? {
        switch self {
        case .string(let s): s.utf8.count
        case .list(let items, _): items.count
        case .kv(let pairs): pairs.count
        default: nil
        }
    }

    /// A label set or struct by name, a list by position.
    func indexed(by key: NotifyTemplateValue) throws(GoTemplateFailure) -> NotifyTemplateValue {
        switch (self, key) {
        case (.kv(let pairs), .string(let name)): return .string(pairs.first { $0.0 == name }?.1 ?? "")
        case (.object(let fields), .string(let name)): return fields[name] ?? .null
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
/// Go's built-in functions (``GoBuiltins``) and Alertmanager's `toUpper`, `toLower`, `title`, `trimSpace`, `join`,
/// `match`, `reReplaceAll` and `safeHtml`.
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

    /// Renders with `data` as dot; `library` supplies `{{ template "name" }}` definitions (Alertmanager's defaults).
    package func render(_ data: NotifyTemplateValue, library: NotifyTemplateLibrary = .defaults) throws -> String {
        do {
            return try template.execute(data: data, functions: NotifyFunctions(), library: library.definitions)
        } catch {
            throw NotifyTemplateError(error.message)
        }
    }

    /// Parses and renders in one step, for one-off template strings from the configuration.
    package static func render(_ text: String, _ data: NotifyTemplateValue, library: NotifyTemplateLibrary = .defaults) throws -> String {
        try NotifyTemplate(text).render(data, library: library)
    }
}

/// The functions of notification templates.
private struct NotifyFunctions: GoTemplateFunctions {
    static let names = GoBuiltins.names.union(["toUpper", "toLower", "title", "trimSpace", "join", "match", "reReplaceAll", "safeHtml"])

    func call(_ name: String, _ arguments: [NotifyTemplateValue]) throws(GoTemplateFailure) -> NotifyTemplateValue {
        if let builtin = try GoBuiltins.call(name, arguments) { return builtin }
        func strings(_ expected: Int) throws(GoTemplateFailure) -> [String] {
            guard arguments.count == expected else {
                throw .argument("wrong number of args for \(name): want \(expected) got \(arguments.count)")
            }
            var texts: [String] = []
            for argument in arguments {
                guard case .string(let text) = argument else {
                    throw .argument("wrong type for value; expected string; got \(argument.goTypeName)")
                }
                texts.append(text)
            }
            return texts
        }
        switch name {
        case "toUpper": return .string(try strings(1)[0].uppercased())
        case "toLower": return .string(try strings(1)[0].lowercased())
        case "title": return .string(TemplateFunctions.title(try strings(1)[0]))
        case "trimSpace":
            let text = try strings(1)[0]
            guard let first = text.firstIndex(where: { !$0.isWhitespace }), let last = text.lastIndex(where: { !$0.isWhitespace }) else {
                return .string("")
            }
            return .string(String(text[first...last]))
        case "safeHtml": return .string(try strings(1)[0])
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

/// Named templates (`{{ define "name" }}`) available to every template: Sightline's versions of Alertmanager's
/// default templates, so unconfigured titles and bodies read the way Alertmanager's do.
package struct NotifyTemplateLibrary: Sendable {
    fileprivate var definitions: [String: GoTemplate.Definition]

    /// How many templates are defined.
    package var count: Int { definitions.count }

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
