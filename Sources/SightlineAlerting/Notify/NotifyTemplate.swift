import Foundation

/// A value a notification template sees: Alertmanager's template data (`.Status`, `.Alerts`, `.CommonLabels`, …)
/// reduced to the shapes Go's text/template walks over.
package indirect enum NotifyTemplateValue: Sendable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case null
    /// A list, with named fields (`.Alerts.Firing`).
    case list([NotifyTemplateValue], fields: [String: NotifyTemplateValue])
    /// A label or annotation set, sorted by name: fields are keys, plus the methods `SortedPairs`, `Names`, `Values`
    /// and `Remove`.
    case kv([(String, String)])
    /// A struct with named fields.
    case object([String: NotifyTemplateValue])

    /// Go's truth: non-empty, non-zero, true.
    var isTruthy: Bool {
        switch self {
        case .string(let s): !s.isEmpty
        case .int(let i): i != 0
        case .bool(let b): b
        case .null: false
        case .list(let items, _): !items.isEmpty
        case .kv(let pairs): !pairs.isEmpty
        case .object: true
        }
    }

    /// The text `{{ . }}` prints, as Go's fmt would.
    var printed: String {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        case .bool(let b): b ? "true" : "false"
        case .null: "<no value>"
        case .list(let items, _): "[" + items.map(\.printed).joined(separator: " ") + "]"
        case .kv(let pairs): "map[" + pairs.map { "\($0.0):\($0.1)" }.joined(separator: " ") + "]"
        case .object(let fields): "{" + fields.keys.sorted().compactMap { fields[$0]?.printed }.joined(separator: " ") + "}"
        }
    }

    /// The field or method `name` without arguments.
    func field(_ name: String) throws -> NotifyTemplateValue {
        switch self {
        case .object(let fields):
            guard let value = fields[name] else { throw NotifyTemplateError("can't evaluate field \(name)") }
            return value
        case .list(_, let fields):
            guard let value = fields[name] else { throw NotifyTemplateError("can't evaluate field \(name) of a list") }
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
        case .null: return .null
        default: throw NotifyTemplateError("can't evaluate field \(name) of \(printed)")
        }
    }
}

/// A template failed to parse or run; the message says where and why, as Go's messages do.
package struct NotifyTemplateError: Error, Sendable, CustomStringConvertible {
    package var message: String
    init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// A subset of Go's text/template, enough for Alertmanager's notification templates: `{{ .Field.Chain }}`, `$`,
/// variables from `range $i, $v :=`, pipelines with `|`, `if`/`else if`/`else`, `range`, `with`, `template "name" .`,
/// `define`, comments, `{{-`/`-}}` trimming, and the functions `len`, `toUpper`, `toLower`, `title`, `join`, `eq`,
/// `ne`, `lt`, `le`, `gt`, `ge`, `and`, `or`, `not`, `print`, `printf`, `index`, `trimSpace`, `safeHtml`, `html`,
/// `urlquery`, `reReplaceAll`, `match`.
package struct NotifyTemplate: Sendable {
    fileprivate let nodes: [TNode]
    fileprivate let defines: [String: [TNode]]

    /// Parses `text`.
    /// - Throws: ``NotifyTemplateError`` naming what is malformed.
    package init(_ text: String) throws {
        var parser = TParser(items: try TLexer.items(text))
        var defines: [String: [TNode]] = [:]
        nodes = try parser.parseList(until: [], defines: &defines).nodes
        self.defines = defines
    }

    /// Renders with `data` as dot; `library` supplies `{{ template "name" }}` definitions (Alertmanager's defaults).
    package func render(_ data: NotifyTemplateValue, library: NotifyTemplateLibrary = .defaults) throws -> String {
        var out = ""
        var defs = library.definitions
        for (name, body) in defines { defs[name] = body }
        var context = TContext(root: data, variables: ["$": data], definitions: defs, depth: 0)
        try context.run(nodes, dot: data, into: &out)
        return out
    }

    /// Parses and renders in one step, for one-off template strings from the configuration.
    package static func render(_ text: String, _ data: NotifyTemplateValue, library: NotifyTemplateLibrary = .defaults) throws -> String {
        try NotifyTemplate(text).render(data, library: library)
    }
}

/// Named templates (`{{ define "name" }}`) available to every template: Sightline's versions of Alertmanager's
/// default templates, so unconfigured titles and bodies read the way Alertmanager's do.
package struct NotifyTemplateLibrary: Sendable {
    fileprivate var definitions: [String: [TNode]]

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
            return NotifyTemplateLibrary(definitions: try NotifyTemplate(source).defines)
        } catch {
            // The built-in source is fixed; a failure here is a bug caught by the tests, not by users.
            return NotifyTemplateLibrary(definitions: [:])
        }
    }()
}

// MARK: - Lexing

/// One piece of a template: literal text, or the tokens of one `{{ … }}` action.
private enum TItem {
    case text(String)
    case action([TToken])
}

private enum TToken: Equatable {
    case field([String])  // .A.B ; [] is "."
    case variable(String, [String])  // $x.A
    case string(String)
    case number(Int)
    case identifier(String)
    case pipe, open, close, declare, comma
}

private enum TLexer {
    static func items(_ text: String) throws -> [TItem] {
        var items: [TItem] = []
        let chars = Array(text)
        var index = 0
        var pendingText = ""
        var trimNextText = false
        while index < chars.count {
            if chars[index] == "{", index + 1 < chars.count, chars[index + 1] == "{" {
                var start = index + 2
                var trimLeft = false
                if start + 1 < chars.count, chars[start] == "-", chars[start + 1] == " " || chars[start + 1] == "\n" || chars[start + 1] == "\t" {
                    trimLeft = true
                    start += 1
                }
                guard let close = findClose(chars, from: start) else { throw NotifyTemplateError("unclosed action") }
                var end = close
                var trimRight = false
                if end - 1 >= start, chars[end - 1] == "-", end - 2 >= start, chars[end - 2] == " " || chars[end - 2] == "\n" || chars[end - 2] == "\t" {
                    trimRight = true
                    end -= 1
                }
                if trimNextText { pendingText = String(pendingText.drop(while: { $0.isWhitespace })) }
                if trimLeft { while let last = pendingText.last, last.isWhitespace { pendingText.removeLast() } }
                if !pendingText.isEmpty { items.append(.text(pendingText)) }
                pendingText = ""
                let body = String(chars[start..<end]).trimmingCharacters(in: .whitespacesAndNewlines)
                if !(body.hasPrefix("/*") && body.hasSuffix("*/")) {
                    items.append(.action(try tokens(body)))
                }
                trimNextText = trimRight
                index = close + 2
            } else {
                pendingText.append(chars[index])
                index += 1
            }
        }
        if trimNextText { pendingText = String(pendingText.drop(while: { $0.isWhitespace })) }
        if !pendingText.isEmpty { items.append(.text(pendingText)) }
        return items
    }

    /// The index of the `}}` closing an action, skipping quoted strings.
    static func findClose(_ chars: [Character], from start: Int) -> Int? {
        var index = start
        var quote: Character?
        while index < chars.count {
            let c = chars[index]
            if let q = quote {
                if c == "\\" && q == "\"" { index += 2; continue }
                if c == q { quote = nil }
            } else if c == "\"" || c == "`" {
                quote = c
            } else if c == "}", index + 1 < chars.count, chars[index + 1] == "}" {
                return index
            }
            index += 1
        }
        return nil
    }

    static func tokens(_ body: String) throws -> [TToken] {
        var tokens: [TToken] = []
        let chars = Array(body)
        var index = 0
        func word() -> String {
            let start = index
            while index < chars.count, chars[index].isLetter || chars[index].isNumber || chars[index] == "_" || chars[index] == "." { index += 1 }
            return String(chars[start..<index])
        }
        while index < chars.count {
            let c = chars[index]
            if c.isWhitespace { index += 1; continue }
            switch c {
            case "|": tokens.append(.pipe); index += 1
            case "(": tokens.append(.open); index += 1
            case ")":
                tokens.append(.close)
                index += 1
                // A field chain after a parenthesized pipeline, `(…).Field`, is not supported; Alertmanager's defaults do not need it.
            case ",": tokens.append(.comma); index += 1
            case ":":
                guard index + 1 < chars.count, chars[index + 1] == "=" else { throw NotifyTemplateError("unexpected \":\" in \(body)") }
                tokens.append(.declare)
                index += 2
            case "=": tokens.append(.declare); index += 1
            case "\"", "`":
                var value = ""
                index += 1
                var closed = false
                while index < chars.count {
                    let d = chars[index]
                    if d == c { closed = true; index += 1; break }
                    if d == "\\" && c == "\"", index + 1 < chars.count {
                        let e = chars[index + 1]
                        switch e {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        default: value.append(e)
                        }
                        index += 2
                        continue
                    }
                    value.append(d)
                    index += 1
                }
                guard closed else { throw NotifyTemplateError("unterminated string in \(body)") }
                tokens.append(.string(value))
            case ".":
                let text = word()
                tokens.append(.field(text == "." ? [] : text.split(separator: ".").map(String.init)))
            case "$":
                index += 1
                let text = word()
                let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                tokens.append(.variable("$" + (parts.first ?? ""), Array(parts.dropFirst())))
            default:
                if c.isNumber || c == "-" {
                    let start = index
                    index += 1
                    while index < chars.count, chars[index].isNumber { index += 1 }
                    guard let number = Int(String(chars[start..<index])) else { throw NotifyTemplateError("bad number in \(body)") }
                    tokens.append(.number(number))
                } else if c.isLetter || c == "_" {
                    tokens.append(.identifier(word()))
                } else {
                    throw NotifyTemplateError("unexpected \"\(c)\" in \(body)")
                }
            }
        }
        return tokens
    }
}

// MARK: - Parsing

private struct TPipeline: Sendable {
    var declarations: [String]
    var commands: [[TArg]]
}

private indirect enum TArg: Sendable {
    case field([String])
    case variable(String, [String])
    case string(String)
    case number(Int)
    case bool(Bool)
    case null
    case function(String)
    case pipeline(TPipeline)
}

private indirect enum TNode: Sendable {
    case text(String)
    case action(TPipeline)
    case ifNode(TPipeline, [TNode], [TNode])
    case range(TPipeline, [TNode], [TNode])
    case with(TPipeline, [TNode], [TNode])
    case template(String, TPipeline?)
}

private struct TParser {
    let items: [TItem]
    var position = 0

    init(items: [TItem]) { self.items = items }

    /// Parses nodes until one of `terminators` (`end`, `else`), returning which one ended the list with its tokens.
    mutating func parseList(until terminators: Set<String>, defines: inout [String: [TNode]]) throws -> (nodes: [TNode], end: [TToken]?) {
        var nodes: [TNode] = []
        while position < items.count {
            let item = items[position]
            position += 1
            switch item {
            case .text(let text): nodes.append(.text(text))
            case .action(let tokens):
                guard let first = tokens.first else { throw NotifyTemplateError("empty action") }
                if case .identifier(let keyword) = first {
                    if terminators.contains(keyword) { return (nodes, tokens) }
                    switch keyword {
                    case "if", "range", "with":
                        let pipeline = try parsePipeline(Array(tokens.dropFirst()))
                        let (body, end) = try parseList(until: ["end", "else"], defines: &defines)
                        var elseBody: [TNode] = []
                        if let end, end.first == .identifier("else") {
                            if end.count > 1, end[1] == .identifier("if") || end[1] == .identifier("with") {
                                // `else if …` / `else with …` opens a nested block that shares this block's `end`.
                                position -= 1
                                let rest = Array(end.dropFirst())
                                let nested = try parseNested(rest, defines: &defines)
                                elseBody = [nested]
                            } else {
                                let (body, end) = try parseList(until: ["end"], defines: &defines)
                                guard end != nil else { throw NotifyTemplateError("unexpected EOF: missing {{ end }}") }
                                elseBody = body
                            }
                        } else if end == nil {
                            throw NotifyTemplateError("unexpected EOF: missing {{ end }} for \(keyword)")
                        }
                        switch keyword {
                        case "if": nodes.append(.ifNode(pipeline, body, elseBody))
                        case "range": nodes.append(.range(pipeline, body, elseBody))
                        default: nodes.append(.with(pipeline, body, elseBody))
                        }
                        continue
                    case "template":
                        guard tokens.count >= 2, case .string(let name) = tokens[1] else { throw NotifyTemplateError("template needs a quoted name") }
                        let rest = Array(tokens.dropFirst(2))
                        nodes.append(.template(name, rest.isEmpty ? nil : try parsePipeline(rest)))
                        continue
                    case "define", "block":
                        guard tokens.count >= 2, case .string(let name) = tokens[1] else { throw NotifyTemplateError("\(keyword) needs a quoted name") }
                        let (body, end) = try parseList(until: ["end"], defines: &defines)
                        guard end != nil else { throw NotifyTemplateError("unexpected EOF: missing {{ end }} for define \"\(name)\"") }
                        defines[name] = body
                        if keyword == "block" {
                            let rest = Array(tokens.dropFirst(2))
                            nodes.append(.template(name, rest.isEmpty ? nil : try parsePipeline(rest)))
                        }
                        continue
                    case "end", "else": throw NotifyTemplateError("unexpected {{ \(keyword) }}")
                    default: break
                    }
                }
                nodes.append(.action(try parsePipeline(tokens)))
            }
        }
        return (nodes, nil)
    }

    /// Parses the block opened by `else if …` (the action at `position`, whose tokens are `tokens`).
    mutating func parseNested(_ tokens: [TToken], defines: inout [String: [TNode]]) throws -> TNode {
        position += 1
        let pipeline = try parsePipeline(Array(tokens.dropFirst()))
        let (body, end) = try parseList(until: ["end", "else"], defines: &defines)
        guard let end else { throw NotifyTemplateError("unexpected EOF: missing {{ end }}") }
        var elseBody: [TNode] = []
        if end.first == .identifier("else") {
            if end.count > 1, end[1] == .identifier("if") || end[1] == .identifier("with") {
                position -= 1
                elseBody = [try parseNested(Array(end.dropFirst()), defines: &defines)]
            } else {
                let (body, end) = try parseList(until: ["end"], defines: &defines)
                guard end != nil else { throw NotifyTemplateError("unexpected EOF: missing {{ end }}") }
                elseBody = body
            }
        }
        return tokens.first == .identifier("with") ? .with(pipeline, body, elseBody) : .ifNode(pipeline, body, elseBody)
    }

    func parsePipeline(_ tokens: [TToken]) throws -> TPipeline {
        var tokens = tokens[...]
        var declarations: [String] = []
        if let declareIndex = tokens.firstIndex(of: .declare) {
            for token in tokens[..<declareIndex] {
                switch token {
                case .variable(let name, let fields) where fields.isEmpty: declarations.append(name)
                case .comma: continue
                default: throw NotifyTemplateError("bad variable declaration")
                }
            }
            tokens = tokens[(declareIndex + 1)...]
        }
        var commands: [[TArg]] = []
        var current: [TArg] = []
        var index = tokens.startIndex
        while index < tokens.endIndex {
            let token = tokens[index]
            switch token {
            case .pipe:
                guard !current.isEmpty else { throw NotifyTemplateError("missing command before |") }
                commands.append(current)
                current = []
            case .open:
                var depth = 1
                var end = index + 1
                while end < tokens.endIndex {
                    if tokens[end] == .open { depth += 1 }
                    if tokens[end] == .close { depth -= 1; if depth == 0 { break } }
                    end += 1
                }
                guard end < tokens.endIndex else { throw NotifyTemplateError("unclosed (") }
                current.append(.pipeline(try parsePipeline(Array(tokens[(index + 1)..<end]))))
                index = end
            case .close: throw NotifyTemplateError("unexpected )")
            case .field(let path): current.append(.field(path))
            case .variable(let name, let path): current.append(.variable(name, path))
            case .string(let s): current.append(.string(s))
            case .number(let n): current.append(.number(n))
            case .identifier(let name):
                switch name {
                case "true": current.append(.bool(true))
                case "false": current.append(.bool(false))
                case "nil": current.append(.null)
                default: current.append(.function(name))
                }
            case .declare, .comma: throw NotifyTemplateError("unexpected := or ,")
            }
            index += 1
        }
        guard !current.isEmpty else { throw NotifyTemplateError("missing value for command") }
        commands.append(current)
        return TPipeline(declarations: declarations, commands: commands)
    }
}

// MARK: - Running

private struct TContext {
    let root: NotifyTemplateValue
    var variables: [String: NotifyTemplateValue]
    let definitions: [String: [TNode]]
    var depth: Int

    mutating func run(_ nodes: [TNode], dot: NotifyTemplateValue, into out: inout String) throws {
        for node in nodes {
            switch node {
            case .text(let text): out += text
            case .action(let pipeline):
                let value = try evaluate(pipeline, dot: dot)
                if pipeline.declarations.isEmpty { out += value.printed }
            case .ifNode(let pipeline, let body, let elseBody):
                if try evaluate(pipeline, dot: dot).isTruthy { try run(body, dot: dot, into: &out) } else { try run(elseBody, dot: dot, into: &out) }
            case .with(let pipeline, let body, let elseBody):
                let value = try evaluate(pipeline, dot: dot)
                if value.isTruthy { try run(body, dot: value, into: &out) } else { try run(elseBody, dot: dot, into: &out) }
            case .range(let pipeline, let body, let elseBody):
                var bare = pipeline
                bare.declarations = []
                let value = try evaluate(bare, dot: dot)
                var elements: [(NotifyTemplateValue, NotifyTemplateValue)] = []
                switch value {
                case .list(let items, _): elements = items.enumerated().map { (.int($0.offset), $0.element) }
                case .kv(let pairs): elements = pairs.map { (.string($0.0), .string($0.1)) }
                case .null: break
                case .int(let n): elements = (0..<max(0, n)).map { (.int($0), .int($0)) }
                default: throw NotifyTemplateError("range can't iterate over \(value.printed)")
                }
                if elements.isEmpty { try run(elseBody, dot: dot, into: &out); continue }
                let saved = variables
                for (key, element) in elements {
                    if pipeline.declarations.count == 1 { variables[pipeline.declarations[0]] = element }
                    if pipeline.declarations.count == 2 {
                        variables[pipeline.declarations[0]] = key
                        variables[pipeline.declarations[1]] = element
                    }
                    try run(body, dot: element, into: &out)
                }
                variables = saved
            case .template(let name, let pipeline):
                guard let body = definitions[name] else { throw NotifyTemplateError("no such template \"\(name)\"") }
                guard depth < 100 else { throw NotifyTemplateError("template \"\(name)\" nests too deeply") }
                let value = try pipeline.map { try evaluate($0, dot: dot) } ?? .null
                var inner = TContext(root: value, variables: ["$": value], definitions: definitions, depth: depth + 1)
                try inner.run(body, dot: value, into: &out)
            }
        }
    }

    mutating func evaluate(_ pipeline: TPipeline, dot: NotifyTemplateValue) throws -> NotifyTemplateValue {
        var value: NotifyTemplateValue?
        for command in pipeline.commands {
            value = try evaluate(command, dot: dot, piped: value)
        }
        let result = value ?? .null
        for name in pipeline.declarations { variables[name] = result }
        return result
    }

    mutating func evaluate(_ command: [TArg], dot: NotifyTemplateValue, piped: NotifyTemplateValue?) throws -> NotifyTemplateValue {
        guard let first = command.first else { return .null }
        if case .function(let name) = first {
            var args = try command.dropFirst().map { try argument($0, dot: dot) }
            if let piped { args.append(piped) }
            return try Self.call(name, args)
        }
        // A method with arguments: `.CommonLabels.Remove .GroupLabels.Names`.
        if case .field(let path) = first, path.last == "Remove", command.count == 2 || piped != nil {
            let receiver = try resolve(dot, Array(path.dropLast()))
            let names = command.count == 2 ? try argument(command[1], dot: dot) : piped ?? .null
            guard case .kv(let pairs) = receiver, case .list(let items, _) = names else { throw NotifyTemplateError("Remove needs a label set and a list of names") }
            let removed = Set(items.map(\.printed))
            return .kv(pairs.filter { !removed.contains($0.0) })
        }
        guard command.count == 1, piped == nil else { throw NotifyTemplateError("can't give arguments to a non-function") }
        return try argument(first, dot: dot)
    }

    mutating func argument(_ arg: TArg, dot: NotifyTemplateValue) throws -> NotifyTemplateValue {
        switch arg {
        case .field(let path): return try resolve(dot, path)
        case .variable(let name, let path):
            guard let value = variables[name] else { throw NotifyTemplateError("undefined variable \(name)") }
            return try resolve(value, path)
        case .string(let s): return .string(s)
        case .number(let n): return .int(n)
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .function(let name): return try Self.call(name, [])
        case .pipeline(let pipeline): return try evaluate(pipeline, dot: dot)
        }
    }

    func resolve(_ value: NotifyTemplateValue, _ path: [String]) throws -> NotifyTemplateValue {
        var current = value
        for name in path { current = try current.field(name) }
        return current
    }

    static func call(_ name: String, _ args: [NotifyTemplateValue]) throws -> NotifyTemplateValue {
        func arity(_ n: Int) throws {
            guard args.count == n else { throw NotifyTemplateError("wrong number of args for \(name): want \(n) got \(args.count)") }
        }
        switch name {
        case "len":
            try arity(1)
            switch args[0] {
            case .list(let items, _): return .int(items.count)
            case .kv(let pairs): return .int(pairs.count)
            case .string(let s): return .int(s.utf8.count)
            case .object(let fields): return .int(fields.count)
            default: throw NotifyTemplateError("len of \(args[0].printed)")
            }
        case "toUpper": try arity(1); return .string(args[0].printed.uppercased())
        case "toLower": try arity(1); return .string(args[0].printed.lowercased())
        case "title": try arity(1); return .string(args[0].printed.capitalized)
        case "trimSpace": try arity(1); return .string(args[0].printed.trimmingCharacters(in: .whitespacesAndNewlines))
        case "safeHtml": try arity(1); return args[0]
        case "html":
            try arity(1)
            return .string(args[0].printed.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&#34;").replacingOccurrences(of: "'", with: "&#39;"))
        case "urlquery":
            try arity(1)
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-_.~")
            return .string(args[0].printed.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        case "join":
            try arity(2)
            guard case .list(let items, _) = args[1] else { throw NotifyTemplateError("join needs a list") }
            return .string(items.map(\.printed).joined(separator: args[0].printed))
        case "eq":
            guard args.count >= 2 else { throw NotifyTemplateError("eq needs two arguments") }
            return .bool(try args.dropFirst().contains { try compare(args[0], $0) == 0 })
        case "ne": try arity(2); return .bool(try compare(args[0], args[1]) != 0)
        case "lt": try arity(2); return .bool(try compare(args[0], args[1]) < 0)
        case "le": try arity(2); return .bool(try compare(args[0], args[1]) <= 0)
        case "gt": try arity(2); return .bool(try compare(args[0], args[1]) > 0)
        case "ge": try arity(2); return .bool(try compare(args[0], args[1]) >= 0)
        case "not": try arity(1); return .bool(!args[0].isTruthy)
        case "and":
            guard !args.isEmpty else { throw NotifyTemplateError("and needs arguments") }
            return args.first { !$0.isTruthy } ?? args[args.count - 1]
        case "or":
            guard !args.isEmpty else { throw NotifyTemplateError("or needs arguments") }
            return args.first { $0.isTruthy } ?? args[args.count - 1]
        case "print": return .string(args.map(\.printed).joined())
        case "println": return .string(args.map(\.printed).joined(separator: " ") + "\n")
        case "printf":
            guard let format = args.first else { throw NotifyTemplateError("printf needs a format") }
            return .string(printf(format.printed, Array(args.dropFirst())))
        case "index":
            try arity(2)
            switch (args[0], args[1]) {
            case (.kv(let pairs), let key): return .string(pairs.first { $0.0 == key.printed }?.1 ?? "")
            case (.list(let items, _), .int(let i)):
                guard items.indices.contains(i) else { throw NotifyTemplateError("index out of range: \(i)") }
                return items[i]
            case (.object(let fields), let key): return fields[key.printed] ?? .null
            default: throw NotifyTemplateError("can't index \(args[0].printed)")
            }
        case "reReplaceAll":
            try arity(3)
            guard let regex = try? NSRegularExpression(pattern: args[0].printed) else { throw NotifyTemplateError("bad regex \(args[0].printed)") }
            let text = args[2].printed
            let template = args[1].printed.replacingOccurrences(of: "${", with: "$").replacingOccurrences(of: "}", with: "")
            return .string(regex.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template))
        case "match":
            try arity(2)
            guard let regex = try? NSRegularExpression(pattern: args[0].printed) else { throw NotifyTemplateError("bad regex \(args[0].printed)") }
            let text = args[1].printed
            return .bool(regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil)
        default: throw NotifyTemplateError("function \"\(name)\" not defined")
        }
    }

    static func compare(_ a: NotifyTemplateValue, _ b: NotifyTemplateValue) throws -> Int {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.string(let x), .string(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.bool(let x), .bool(let y)): return x == y ? 0 : 1
        case (.null, .null): return 0
        default: throw NotifyTemplateError("incompatible types for comparison: \(a.printed) and \(b.printed)")
        }
    }

    static func printf(_ format: String, _ args: [NotifyTemplateValue]) -> String {
        var out = ""
        var rest = args[...]
        var chars = format.makeIterator()
        while let c = chars.next() {
            guard c == "%" else { out.append(c); continue }
            guard let verb = chars.next() else { out.append("%"); break }
            if verb == "%" { out.append("%"); continue }
            let value = rest.popFirst() ?? .null
            switch verb {
            case "q": out += "\"" + value.printed.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            default: out += value.printed
            }
        }
        return out
    }
}
