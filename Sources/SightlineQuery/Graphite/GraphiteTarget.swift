package import SightlineCore

/// A Graphite render target (`sumSeries(servers.web*.cpu)`, `alias(a.b, "x")`), parsed: a path expression, a call,
/// or a literal argument. The grammar is graphite-web's: a call is a name and arguments in parentheses, separated by
/// commas, each an expression or `name=value`; strings are in single or double quotes; a path expression runs to
/// the next `,` or `)` outside `{…}` and `[…]`.
package indirect enum GraphiteTarget: Sendable, Equatable, CustomStringConvertible {
    case path(String)
    case call(String, [GraphiteTarget], keywords: [(String, GraphiteTarget)])
    case number(Double)
    case string(String)
    case bool(Bool)

    package static func == (a: GraphiteTarget, b: GraphiteTarget) -> Bool { a.description == b.description }

    /// The target written back as graphite-web names series made from it: arguments joined by `,`, strings quoted.
    package var description: String {
        switch self {
        case .path(let path): path
        case .number(let value): GraphiteTarget.format(value)
        case .string(let text): "'" + text + "'"
        case .bool(let value): value ? "True" : "False"
        case .call(let name, let arguments, let keywords):
            name + "(" + (arguments.map(\.description) + keywords.map { "\($0.0)=\($0.1)" }).joined(separator: ",") + ")"
        }
    }

    /// A number as Python's `%g` writes it in series names: `2`, `0.5`, `1e-05`.
    package static func format(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// Parses a target.
    /// - Throws: `invalidArgument` naming the position and what was expected there.
    package static func parse(_ text: String) throws -> GraphiteTarget {
        var parser = Parser(Array(text.utf8))
        parser.skipSpaces()
        let target = try parser.expression()
        parser.skipSpaces()
        guard parser.position == parser.bytes.count else { throw parser.error("unexpected \"\(parser.rest)\" after the target") }
        return target
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var rest: String { String(decoding: bytes[position...].prefix(32), as: UTF8.self) }

        func error(_ message: String) -> SightlineError {
            SightlineError(.invalidArgument, "invalid target at character \(position + 1): \(message)")
        }

        mutating func skipSpaces() {
            while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x09 { position += 1 }
        }

        mutating func expression() throws -> GraphiteTarget {
            guard position < bytes.count else { throw error("expected an expression") }
            let first = bytes[position]
            if first == UInt8(ascii: "'") || first == UInt8(ascii: "\"") { return .string(try quoted(first)) }
            // A name followed by `(` is a call; anything else runs to the next separator.
            var end = position
            while end < bytes.count, Self.isNameByte(bytes[end]) { end += 1 }
            if end > position, end < bytes.count, bytes[end] == UInt8(ascii: "(") {
                let name = String(decoding: bytes[position..<end], as: UTF8.self)
                position = end + 1
                return try call(name)
            }
            let token = try pathToken()
            guard !token.isEmpty else { throw error("expected an expression") }
            if token == "true" || token == "True" { return .bool(true) }
            if token == "false" || token == "False" { return .bool(false) }
            if let number = Double(token), token.first.map({ $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." }) == true {
                return .number(number)
            }
            return .path(token)
        }

        mutating func call(_ name: String) throws -> GraphiteTarget {
            var arguments: [GraphiteTarget] = []
            var keywords: [(String, GraphiteTarget)] = []
            skipSpaces()
            if position < bytes.count, bytes[position] == UInt8(ascii: ")") {
                position += 1
                return .call(name, arguments, keywords: keywords)
            }
            while true {
                skipSpaces()
                // `name=value`: a keyword argument.
                var end = position
                while end < bytes.count, Self.isNameByte(bytes[end]) { end += 1 }
                if end > position, end < bytes.count, bytes[end] == UInt8(ascii: "="), end + 1 < bytes.count, bytes[end + 1] != UInt8(ascii: "=") {
                    let keyword = String(decoding: bytes[position..<end], as: UTF8.self)
                    position = end + 1
                    skipSpaces()
                    keywords.append((keyword, try expression()))
                } else {
                    guard keywords.isEmpty else { throw error("positional argument after keyword arguments in \(name)()") }
                    arguments.append(try expression())
                }
                skipSpaces()
                guard position < bytes.count else { throw error("expected ',' or ')' to close \(name)(") }
                if bytes[position] == UInt8(ascii: ")") {
                    position += 1
                    return .call(name, arguments, keywords: keywords)
                }
                guard bytes[position] == UInt8(ascii: ",") else { throw error("expected ',' or ')' in \(name)(), found \"\(rest)\"") }
                position += 1
            }
        }

        /// A path expression or bare literal: up to `,` or `)` outside braces and brackets.
        mutating func pathToken() throws -> String {
            let start = position
            var braces = 0
            var brackets = 0
            while position < bytes.count {
                let c = bytes[position]
                if braces == 0 && brackets == 0 && (c == UInt8(ascii: ",") || c == UInt8(ascii: ")") || c == 0x20) { break }
                if c == UInt8(ascii: "(") { throw error("unexpected '(' in a path") }
                switch c {
                case UInt8(ascii: "{"): braces += 1
                case UInt8(ascii: "}"): braces -= 1
                case UInt8(ascii: "["): brackets += 1
                case UInt8(ascii: "]"): brackets -= 1
                default: break
                }
                guard braces >= 0, brackets >= 0 else { throw error("unbalanced '}' or ']'") }
                position += 1
            }
            guard braces == 0, brackets == 0 else { throw error("unclosed '{' or '['") }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func quoted(_ quote: UInt8) throws -> String {
            position += 1
            var out: [UInt8] = []
            while position < bytes.count {
                let c = bytes[position]
                if c == quote {
                    position += 1
                    return String(decoding: out, as: UTF8.self)
                }
                // Backslashes stay as written (regexes and `\1` references need them), except before the quote.
                if c == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == quote {
                    out.append(quote)
                    position += 2
                    continue
                }
                out.append(c)
                position += 1
            }
            throw error("unterminated string")
        }

        static func isNameByte(_ c: UInt8) -> Bool {
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F
        }
    }
}

/// Graphite's glob patterns over dotted names: `*` and `?` within a node, `[a-c]` character classes, `{a,b}`
/// alternatives. Translated to an RE2/PromQL regex so a store selects the names, and matched node by node for
/// `/metrics/find`.
package enum GraphiteGlob {
    /// The regex (fully anchored, as ``LabelMatcher`` anchors it) matching the names `pattern` matches.
    package static func regex(_ pattern: String) -> String {
        var out = ""
        var inClass = false
        var braces = 0
        for c in pattern {
            if inClass {
                if c == "]" { inClass = false }
                out += c == "\\" ? "\\\\" : String(c)
                continue
            }
            switch c {
            case "*": out += "[^.]*"
            case "?": out += "[^.]"
            case "[":
                inClass = true
                out.append("[")
            case "{":
                braces += 1
                out += "(?:"
            case "}" where braces > 0:
                braces -= 1
                out += ")"
            case "," where braces > 0: out += "|"
            default:
                if "\\.+()|^$".contains(c) || c == "}" || c == "," { out += "\\" }
                out.append(c)
            }
        }
        return out
    }

    /// Whether `pattern` has anything but literal characters.
    package static func isLiteral(_ pattern: String) -> Bool {
        !pattern.contains(where: { "*?[{".contains($0) })
    }
}
