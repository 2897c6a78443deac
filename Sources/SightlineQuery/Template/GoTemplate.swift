/// An error parsing or executing a template, with Go's `text/template` message
/// (`template: NAME:1: function "x" not defined`).
package struct GoTemplateError: Error, Sendable {
    package var message: String

    package init(message: String) { self.message = message }
}

/// A Go value of a basic kind: a constant written in a template (what a ``GoTemplateValue`` is made from), and a value
/// as Go's built-in functions compare and print it.
package enum GoTemplateLiteral: Sendable {
    case string(String)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    /// Go's untyped `nil`.
    case null
}

/// A parsed Go `text/template`: one parser and one executor for every template language Sightline speaks — LogQL's
/// `line_format`/`label_format`, Prometheus' alert templates and Alertmanager's notification templates. What differs
/// between them is the data (a ``GoTemplateValue``) and the functions (a ``GoTemplateFunctions``), not the language.
///
/// Supported: text and actions with `{{-`/`-}}` trimming and `{{/* comments */}}`; pipelines with `|`; variables
/// (`$x := …`, `$x = …`, `$`), fields and methods (`.Labels.job`, `$labels.job`, `(pipeline).Field`, `(pipeline).Method args`,
/// `.CommonLabels.Remove $names`); string, raw string, number, `true`/`false`/`nil` literals; `if`/`else if`/`else`/`end`,
/// `range` (with `$i, $v :=`, `else`, `break` and `continue`), `with` (with `else`), `define`, `template` and `block`.
/// Not supported:
/// character constants and complex numbers. An unknown function name is a parse error, as in Go.
package struct GoTemplate: Sendable {
    /// A node of the parsed template.
    indirect enum Node: Sendable {
        case text(String)
        case action(Pipeline)
        case ifNode(Pipeline, [Node], [Node]?)
        case rangeNode(Pipeline, [Node], [Node]?)
        case withNode(Pipeline, [Node], [Node]?)
        /// `{{template "name" pipeline}}` (and the call half of `block`).
        case template(String, Pipeline?, position: Int)
        /// `{{break}}` and `{{continue}}`, inside a `range` body.
        case breakNode
        case continueNode
    }

    /// A pipeline: optional variable declarations, then commands joined by `|`.
    struct Pipeline: Sendable {
        var variables: [String] = []
        var isAssignment = false
        var commands: [Command] = []
        var position: Int
    }

    /// One command of a pipeline: a function with arguments, or a single operand.
    struct Command: Sendable {
        var operands: [Operand]
        var position: Int
        /// The command's source text, for error messages (`at <humanize $value>`).
        var text: String
    }

    /// An operand of a command.
    indirect enum Operand: Sendable {
        case dot
        case field([String])
        case variable(String, [String])
        case function(String)
        case literal(GoTemplateLiteral)
        case pipeline(Pipeline, [String])
    }

    /// The template's name, in error messages.
    package let name: String
    let source: [UInt8]
    let root: [Node]
    /// The templates `{{define}}` and `{{block}}` name, by name.
    package let definitions: [String: Definition]

    /// A named template's body, with the source its positions refer to.
    package struct Definition: Sendable {
        let name: String
        let source: [UInt8]
        let body: [Node]
    }

    /// Parses `text`; `functions` are the names that may be called.
    /// - Throws: ``GoTemplateError`` with Go's message.
    package init(name: String, text: String, functions: Set<String>) throws(GoTemplateError) {
        self.name = name
        self.source = Array(text.utf8)
        var parser = TemplateParser(name: name, source: source, functions: functions)
        self.root = try parser.parseTemplate()
        var definitions: [String: Definition] = [:]
        for (defined, body) in parser.definitions { definitions[defined] = Definition(name: defined, source: source, body: body) }
        self.definitions = definitions
    }

    /// The `line` (1-based) and `column` (0-based byte) of a position in `source`, as Go's `ErrorContext` reports them.
    static func location(of position: Int, in source: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = 0
        for index in 0..<min(position, source.count) where source[index] == 0x0A {
            line += 1
            lineStart = index + 1
        }
        return (line, position - lineStart)
    }
}

/// Tokens inside an action.
private enum Token: Equatable {
    case dot
    case field(String)
    case variable(String)
    case identifier(String)
    case string(String)
    case number(String)
    case pipe
    case leftParen
    case rightParen
    case declare
    case assign
    case comma
}

/// A token with its byte position and whether whitespace precedes it.
private struct PositionedToken {
    var token: Token
    var position: Int
    var spaceBefore: Bool
}

/// Splits the template into text and actions, then parses actions into the node tree.
private struct TemplateParser {
    let name: String
    let source: [UInt8]
    let functions: Set<String>
    /// Declared variables, innermost scope last.
    var scopes: [[String]] = [["$"]]
    /// The bodies of `{{define}}` and `{{block}}`, by name.
    var definitions: [String: [GoTemplate.Node]] = [:]
    /// How many `if`/`range`/`with`/`define` bodies enclose the list being parsed (`define` is top level only).
    var depth = 0
    /// How many `range` bodies enclose the list being parsed (within the current named template).
    var rangeDepth = 0

    /// Text and actions in order; an action holds its tokens and the position of its `{{`.
    enum Item {
        case text(String)
        case action([PositionedToken], position: Int, end: Int)
    }

    var items: [Item] = []
    var index = 0

    init(name: String, source: [UInt8], functions: Set<String>) {
        self.name = name
        self.source = source
        self.functions = functions
    }

    func error(_ message: String, at position: Int) -> GoTemplateError {
        GoTemplateError(message: "template: \(name):\(GoTemplate.location(of: position, in: source).line): \(message)")
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    // MARK: Lexing

    mutating func lex() throws(GoTemplateError) {
        var position = 0
        var text: [UInt8] = []
        var trimNextText = false
        while position < source.count {
            if source[position] == 0x7B, position + 1 < source.count, source[position + 1] == 0x7B {
                let actionStart = position
                var inner = position + 2
                // `{{- ` trims the preceding text's trailing spaces.
                if inner + 1 < source.count, source[inner] == 0x2D, Self.isSpace(source[inner + 1]) {
                    while let last = text.last, Self.isSpace(last) { text.removeLast() }
                    inner += 2
                }
                if trimNextText {
                    text = Array(text.drop(while: { Self.isSpace($0) }))
                }
                if !text.isEmpty { items.append(.text(String(decoding: text, as: UTF8.self))) }
                text = []
                let (tokens, end, trimRight) = try lexAction(from: inner, actionStart: actionStart)
                if let tokens { items.append(.action(tokens, position: actionStart, end: end)) }
                trimNextText = trimRight
                position = end
                continue
            }
            text.append(source[position])
            position += 1
        }
        if trimNextText { text = Array(text.drop(while: { Self.isSpace($0) })) }
        if !text.isEmpty { items.append(.text(String(decoding: text, as: UTF8.self))) }
    }

    /// Lexes one action from just after `{{` (and a left trim marker). Returns nil tokens for a comment.
    private func lexAction(from start: Int, actionStart: Int) throws(GoTemplateError) -> ([PositionedToken]?, Int, Bool) {
        var position = start
        // Comments: {{/* … */}}, optionally with trim markers.
        var probe = position
        while probe < source.count, Self.isSpace(source[probe]) { probe += 1 }
        if probe + 1 < source.count, source[probe] == 0x2F, source[probe + 1] == 0x2A {
            var search = probe + 2
            while search + 1 < source.count, !(source[search] == 0x2A && source[search + 1] == 0x2F) { search += 1 }
            guard search + 1 < source.count else { throw error("unclosed comment", at: actionStart) }
            var after = search + 2
            var trimRight = false
            while after < source.count, Self.isSpace(source[after]) { after += 1 }
            if after < source.count, source[after] == 0x2D, after + 2 < source.count, source[after + 1] == 0x7D {
                trimRight = true
                after += 1
            }
            guard after + 1 < source.count, source[after] == 0x7D, source[after + 1] == 0x7D else {
                throw error("comment ends before closing delimiter", at: actionStart)
            }
            return (nil, after + 2, trimRight)
        }
        var tokens: [PositionedToken] = []
        var spaceBefore = true
        while true {
            guard position < source.count else { throw error("unclosed action", at: actionStart) }
            let byte = source[position]
            // ` -}}` closes with right trim; `}}` closes.
            if Self.isSpace(byte) {
                if position + 3 < source.count, source[position + 1] == 0x2D, source[position + 2] == 0x7D, source[position + 3] == 0x7D {
                    return (tokens, position + 4, true)
                }
                spaceBefore = true
                position += 1
                continue
            }
            if byte == 0x7D, position + 1 < source.count, source[position + 1] == 0x7D {
                return (tokens, position + 2, false)
            }
            let tokenStart = position
            func add(_ token: Token) {
                tokens.append(PositionedToken(token: token, position: tokenStart, spaceBefore: spaceBefore))
                spaceBefore = false
            }
            switch byte {
            case 0x7C:
                add(.pipe)
                position += 1
            case 0x28:
                add(.leftParen)
                position += 1
            case 0x29:
                add(.rightParen)
                position += 1
            case 0x2C:
                add(.comma)
                position += 1
            case 0x3A:
                guard position + 1 < source.count, source[position + 1] == 0x3D else {
                    throw error("expected :=", at: tokenStart)
                }
                add(.declare)
                position += 2
            case 0x3D:
                add(.assign)
                position += 1
            case 0x22:
                var value: [UInt8] = []
                position += 1
                var closed = false
                while position < source.count {
                    let c = source[position]
                    if c == 0x22 {
                        closed = true
                        position += 1
                        break
                    }
                    if c == 0x0A { break }
                    if c == 0x5C, position + 1 < source.count {
                        let e = source[position + 1]
                        position += 2
                        switch e {
                        case 0x6E: value.append(0x0A)
                        case 0x74: value.append(0x09)
                        case 0x72: value.append(0x0D)
                        case 0x5C: value.append(0x5C)
                        case 0x22: value.append(0x22)
                        case 0x27: value.append(0x27)
                        default:
                            value.append(0x5C)
                            value.append(e)
                        }
                        continue
                    }
                    value.append(c)
                    position += 1
                }
                guard closed else { throw error("unterminated quoted string", at: tokenStart) }
                add(.string(String(decoding: value, as: UTF8.self)))
            case 0x60:
                position += 1
                let valueStart = position
                while position < source.count, source[position] != 0x60 { position += 1 }
                guard position < source.count else { throw error("unterminated raw quoted string", at: tokenStart) }
                add(.string(String(decoding: source[valueStart..<position], as: UTF8.self)))
                position += 1
            case 0x2E:
                position += 1
                let nameStart = position
                while position < source.count, Self.isIdentifierByte(source[position]) { position += 1 }
                if position == nameStart {
                    if position < source.count, source[position] >= 0x30, source[position] <= 0x39 {
                        while position < source.count, Self.isNumberByte(source[position]) { position += 1 }
                        add(.number(String(decoding: source[tokenStart..<position], as: UTF8.self)))
                    } else {
                        add(.dot)
                    }
                } else {
                    add(.field(String(decoding: source[nameStart..<position], as: UTF8.self)))
                }
            case 0x24:
                position += 1
                while position < source.count, Self.isIdentifierByte(source[position]) { position += 1 }
                add(.variable(String(decoding: source[tokenStart..<position], as: UTF8.self)))
            case 0x2D, 0x2B, 0x30...0x39:
                position += 1
                while position < source.count, Self.isNumberByte(source[position]) { position += 1 }
                add(.number(String(decoding: source[tokenStart..<position], as: UTF8.self)))
            default:
                guard Self.isIdentifierByte(byte) else {
                    throw error("unexpected \(GoText.quoteRune(Unicode.Scalar(byte))) in command", at: tokenStart)
                }
                while position < source.count, Self.isIdentifierByte(source[position]) { position += 1 }
                add(.identifier(String(decoding: source[tokenStart..<position], as: UTF8.self)))
            }
        }
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F || byte >= 0x80
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || byte == 0x2E || byte == 0x5F || byte == 0x78 || byte == 0x58 || byte == 0x65 || byte == 0x45
            || ((byte == 0x2B || byte == 0x2D)) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
    }

    // MARK: Parsing

    mutating func parseTemplate() throws(GoTemplateError) -> [GoTemplate.Node] {
        try lex()
        let (nodes, terminator) = try parseList()
        if let (keyword, position) = terminator {
            throw error("unexpected {{\(keyword == "end" ? "end" : "else")}}", at: position)
        }
        return nodes
    }

    /// Parses nodes until `{{end}}` or `{{else …}}` (returned as the terminator) or the end of input.
    private mutating func parseList() throws(GoTemplateError) -> ([GoTemplate.Node], (String, Int)?) {
        var nodes: [GoTemplate.Node] = []
        while index < items.count {
            let item = items[index]
            index += 1
            switch item {
            case .text(let text):
                nodes.append(.text(text))
            case .action(let tokens, let position, _):
                guard let first = tokens.first else { throw error("missing value for command", at: position) }
                if case .identifier(let keyword) = first.token {
                    switch keyword {
                    case "end":
                        guard tokens.count == 1 else { throw error("unexpected \(describe(tokens[1].token)) in end", at: position) }
                        return (nodes, ("end", position))
                    case "else":
                        // Leave `else if …`/`else with …` tokens for the caller: rewind by re-inserting the remainder.
                        if tokens.count > 1 {
                            items[index - 1] = .action(Array(tokens.dropFirst()), position: position, end: 0)
                            index -= 1
                            return (nodes, ("else-chain", position))
                        }
                        return (nodes, ("else", position))
                    case "if", "range", "with":
                        depth += 1
                        nodes.append(try parseControl(keyword, tokens: Array(tokens.dropFirst()), position: position))
                        depth -= 1
                        continue
                    case "define", "block":
                        if keyword == "define" && depth > 0 { throw error("unexpected <define> in command", at: position) }
                        let (templateName, rest) = try templateName(keyword, tokens: Array(tokens.dropFirst()), position: position)
                        var pipeline: GoTemplate.Pipeline?
                        if keyword == "block" {
                            pipeline = try templateArgument(keyword, tokens: rest, position: position)
                        } else if let extra = rest.first {
                            throw error("unexpected \(describe(extra.token)) in define clause", at: extra.position)
                        }
                        // A named template sees only `$` (its own dot).
                        let outer = (scopes, rangeDepth)
                        (scopes, rangeDepth) = ([["$"]], 0)
                        depth += 1
                        let (body, terminator) = try parseList()
                        depth -= 1
                        (scopes, rangeDepth) = outer
                        guard let (end, endPosition) = terminator else { throw error("unexpected EOF", at: source.count) }
                        guard end == "end" else { throw error("unexpected {{else}}", at: endPosition) }
                        definitions[templateName] = body
                        if let pipeline { nodes.append(.template(templateName, pipeline, position: position)) }
                        continue
                    case "template":
                        let (templateName, rest) = try templateName(keyword, tokens: Array(tokens.dropFirst()), position: position)
                        let pipeline = rest.isEmpty ? nil : try templateArgument(keyword, tokens: rest, position: position)
                        nodes.append(.template(templateName, pipeline, position: position))
                        continue
                    case "break", "continue":
                        if let extra = tokens.dropFirst().first { throw error("unexpected \(describe(extra.token)) in {{\(keyword)}}", at: extra.position) }
                        guard rangeDepth > 0 else { throw error("{{\(keyword)}} outside {{range}}", at: position) }
                        nodes.append(keyword == "break" ? .breakNode : .continueNode)
                        continue
                    default:
                        break
                    }
                }
                var stream = TokenStream(tokens: tokens)
                let pipeline = try parsePipeline(&stream, context: "command", position: position, allowDeclaration: true)
                if let extra = stream.peek() { throw error("unexpected \(describe(extra.token)) in command", at: extra.position) }
                nodes.append(.action(pipeline))
            }
        }
        return (nodes, nil)
    }

    /// The quoted name that follows `define`, `template` or `block`, and the tokens after it.
    private func templateName(
        _ keyword: String, tokens: [PositionedToken], position: Int
    ) throws(GoTemplateError) -> (String, ArraySlice<PositionedToken>) {
        guard let first = tokens.first, case .string(let name) = first.token else {
            let found = tokens.first.map { describe($0.token) } ?? "EOF"
            throw error("unexpected \(found) in \(keyword) clause", at: tokens.first?.position ?? position)
        }
        return (name, tokens.dropFirst())
    }

    /// The pipeline after a `template` or `block` name: the named template's dot.
    private mutating func templateArgument(
        _ keyword: String, tokens: ArraySlice<PositionedToken>, position: Int
    ) throws(GoTemplateError) -> GoTemplate.Pipeline {
        var stream = TokenStream(tokens: Array(tokens))
        let pipeline = try parsePipeline(&stream, context: keyword, position: position, allowDeclaration: false)
        if pipeline.commands.isEmpty { throw error("missing value for \(keyword)", at: position) }
        if let extra = stream.peek() { throw error("unexpected \(describe(extra.token)) in \(keyword) clause", at: extra.position) }
        return pipeline
    }

    private mutating func parseControl(_ keyword: String, tokens: [PositionedToken], position: Int) throws(GoTemplateError) -> GoTemplate.Node {
        scopes.append([])
        var stream = TokenStream(tokens: tokens)
        let pipeline = try parsePipeline(&stream, context: keyword, position: position, allowDeclaration: true)
        if pipeline.commands.isEmpty { throw error("missing value for \(keyword)", at: position) }
        if let extra = stream.peek() { throw error("unexpected \(describe(extra.token)) in \(keyword)", at: extra.position) }
        if keyword == "range" { rangeDepth += 1 }
        let (body, terminator) = try parseList()
        if keyword == "range" { rangeDepth -= 1 }
        var elseBody: [GoTemplate.Node]?
        guard let (end, endPosition) = terminator else { throw error("unexpected EOF", at: source.count) }
        scopes.removeLast()
        switch end {
        case "end":
            break
        case "else":
            scopes.append([])
            let (rest, restTerminator) = try parseList()
            scopes.removeLast()
            guard let (restEnd, _) = restTerminator else { throw error("unexpected EOF", at: source.count) }
            guard restEnd == "end" else { throw error("expected end; found {{else}}", at: endPosition) }
            elseBody = rest
        case "else-chain":
            // `{{else if x}}` is `{{else}}{{if x}}…{{end}}` sharing the outer `{{end}}`.
            guard index < items.count, case .action(let chainTokens, let chainPosition, _) = items[index],
                let first = chainTokens.first, case .identifier(let chainKeyword) = first.token, chainKeyword == keyword || chainKeyword == "if" || chainKeyword == "with"
            else { throw error("unexpected tokens after else", at: endPosition) }
            index += 1
            elseBody = [try parseControl(chainKeyword, tokens: Array(chainTokens.dropFirst()), position: chainPosition)]
        default:
            throw error("unexpected {{\(end)}}", at: endPosition)
        }
        switch keyword {
        case "if": return .ifNode(pipeline, body, elseBody)
        case "range": return .rangeNode(pipeline, body, elseBody)
        default: return .withNode(pipeline, body, elseBody)
        }
    }

    private mutating func parsePipeline(
        _ stream: inout TokenStream, context: String, position: Int, allowDeclaration: Bool
    ) throws(GoTemplateError) -> GoTemplate.Pipeline {
        var pipeline = GoTemplate.Pipeline(position: stream.peek()?.position ?? position)
        // Declarations: `$x :=`, `$x =`, `$i, $v :=`.
        if allowDeclaration, case .variable(let first)? = stream.peek()?.token {
            var lookahead = stream
            _ = lookahead.next()
            var names = [first]
            if lookahead.peek()?.token == .comma, context == "range" {
                _ = lookahead.next()
                if case .variable(let second)? = lookahead.next()?.token { names.append(second) }
            }
            if let marker = lookahead.peek()?.token, marker == .declare || marker == .assign {
                _ = lookahead.next()
                stream = lookahead
                pipeline.variables = names
                pipeline.isAssignment = marker == .assign
                if marker == .declare {
                    for name in names { scopes[scopes.count - 1].append(name) }
                } else {
                    for name in names where !isDeclared(name) { throw error("undefined variable \(GoText.quote(name))", at: position) }
                }
            }
        }
        while let token = stream.peek() {
            if token.token == .rightParen { break }
            let command = try parseCommand(&stream)
            pipeline.commands.append(command)
            if stream.peek()?.token == .pipe {
                _ = stream.next()
                guard let next = stream.peek(), next.token != .rightParen else { throw error("missing command", at: token.position) }
            } else {
                break
            }
        }
        if pipeline.commands.isEmpty && !pipeline.variables.isEmpty { throw error("missing value for \(context)", at: position) }
        if pipeline.commands.isEmpty && context == "command" { throw error("missing value for command", at: position) }
        return pipeline
    }

    private func isDeclared(_ name: String) -> Bool { scopes.contains { $0.contains(name) } }

    private mutating func parseCommand(_ stream: inout TokenStream) throws(GoTemplateError) -> GoTemplate.Command {
        let start = stream.peek()?.position ?? 0
        var operands: [GoTemplate.Operand] = []
        var end = start
        while let token = stream.peek() {
            if token.token == .pipe || token.token == .rightParen { break }
            if token.token == .declare || token.token == .assign || token.token == .comma {
                throw error("unexpected \(describe(token.token)) in operand", at: token.position)
            }
            var operand = try parseOperand(&stream)
            // Fields written right after an operand (`$x.a`, `(p).b`) chain onto it.
            while let next = stream.peek(), !next.spaceBefore, case .field(let field) = next.token {
                _ = stream.next()
                switch operand {
                case .dot: operand = .field([field])
                case .field(let fields): operand = .field(fields + [field])
                case .variable(let name, let fields): operand = .variable(name, fields + [field])
                case .pipeline(let pipeline, let fields): operand = .pipeline(pipeline, fields + [field])
                default: throw error("unexpected . after term \(GoText.quote(field))", at: next.position)
                }
            }
            operands.append(operand)
            end = stream.lastEnd
        }
        guard !operands.isEmpty else { throw error("missing value for command", at: start) }
        var textEnd = max(start, min(end, source.count))
        while textEnd > start, Self.isSpace(source[textEnd - 1]) { textEnd -= 1 }
        let text = String(decoding: source[start..<textEnd], as: UTF8.self)
        return GoTemplate.Command(operands: operands, position: start, text: text)
    }

    private mutating func parseOperand(_ stream: inout TokenStream) throws(GoTemplateError) -> GoTemplate.Operand {
        guard let token = stream.next() else { throw error("missing value for command", at: 0) }
        switch token.token {
        case .dot: return .dot
        case .field(let name): return .field([name])
        case .variable(let name):
            guard isDeclared(name) else { throw error("undefined variable \(GoText.quote(name))", at: token.position) }
            return .variable(name, [])
        case .string(let value): return .literal(.string(value))
        case .number(let text):
            guard let value = Self.number(text) else { throw error("bad number syntax: \(GoText.quote(text))", at: token.position) }
            return .literal(value)
        case .identifier(let name):
            switch name {
            case "true": return .literal(.bool(true))
            case "false": return .literal(.bool(false))
            case "nil": return .literal(.null)
            default:
                guard functions.contains(name) else { throw error("function \(GoText.quote(name)) not defined", at: token.position) }
                return .function(name)
            }
        case .leftParen:
            let pipeline = try parsePipeline(&stream, context: "parenthesized pipeline", position: token.position, allowDeclaration: false)
            guard stream.next()?.token == .rightParen else { throw error("unclosed left paren", at: token.position) }
            return .pipeline(pipeline, [])
        default:
            throw error("unexpected \(describe(token.token)) in operand", at: token.position)
        }
    }

    /// A Go number constant: an int unless it has a point or an exponent (then float64).
    static func number(_ text: String) -> GoTemplateLiteral? {
        let cleaned = text.filter { $0 != "_" }
        let lower = cleaned.lowercased()
        let isHex = lower.hasPrefix("0x") || lower.hasPrefix("-0x") || lower.hasPrefix("+0x")
        if !isHex && (cleaned.contains(".") || lower.contains("e")) {
            return Double(cleaned).map { .float($0) }
        }
        var body = Substring(lower)
        var negative = false
        if body.hasPrefix("-") || body.hasPrefix("+") {
            negative = body.hasPrefix("-")
            body = body.dropFirst()
        }
        var radix = 10
        if body.hasPrefix("0x") {
            radix = 16
            body = body.dropFirst(2)
        } else if body.hasPrefix("0o") {
            radix = 8
            body = body.dropFirst(2)
        } else if body.hasPrefix("0b") {
            radix = 2
            body = body.dropFirst(2)
        } else if body.count > 1, body.hasPrefix("0") {
            radix = 8
            body = body.dropFirst()
        }
        guard let magnitude = Int64(body, radix: radix) else { return nil }
        return .int(negative ? -magnitude : magnitude)
    }

    private func describe(_ token: Token) -> String {
        switch token {
        case .dot: "<.>"
        case .field(let name): "<.\(name)>"
        case .variable(let name): "<\(name)>"
        case .identifier(let name): "<\(name)>"
        case .string(let value): GoText.quote(value)
        case .number(let text): "<\(text)>"
        case .pipe: "<|>"
        case .leftParen: "<(>"
        case .rightParen: "<)>"
        case .declare: "<:=>"
        case .assign: "<=>"
        case .comma: "<,>"
        }
    }
}

/// A cursor over an action's tokens.
private struct TokenStream {
    let tokens: [PositionedToken]
    var index = 0
    var lastEnd = 0

    init(tokens: [PositionedToken]) { self.tokens = tokens }

    func peek() -> PositionedToken? { index < tokens.count ? tokens[index] : nil }

    mutating func next() -> PositionedToken? {
        guard index < tokens.count else { return nil }
        let token = tokens[index]
        index += 1
        // The end of a token is the start of the next one minus any whitespace; approximate with the next start.
        lastEnd = index < tokens.count ? tokens[index].position : token.position + Self.length(token.token)
        return token
    }

    private static func length(_ token: Token) -> Int {
        switch token {
        case .dot, .pipe, .leftParen, .rightParen, .assign, .comma: 1
        case .declare: 2
        case .field(let name): name.utf8.count + 1
        case .variable(let name), .identifier(let name), .number(let name): name.utf8.count
        case .string(let value): value.utf8.count + 2
        }
    }
}
