package import SightlineCore

/// Alertmanager's matcher syntax: `name="value"`, `name!="value"`, `name=~"re"`, `name!~"re"`, one at a time or as a
/// list `{a="b", c=~"d"}`. Values may be unquoted (`severity=critical`), as Alertmanager 0.25 accepts.
package enum MatcherText {
    /// Parses one matcher.
    /// - Throws: `invalidArgument` naming the text when it is not a matcher or its regex does not compile.
    package static func parse(_ text: String) throws -> LabelMatcher {
        let trimmed = text.notifyTrimmed
        let chars = Array(trimmed)
        var index = 0
        while index < chars.count, chars[index].isNotifyLabelNameCharacter(first: index == 0) { index += 1 }
        let name = String(chars[0..<index])
        guard !name.isEmpty else { throw SightlineError(.invalidArgument, "bad matcher format: \(text)") }
        while index < chars.count, chars[index] == " " { index += 1 }
        let kind: LabelMatcher.Kind
        let rest = String(chars[index...])
        if rest.hasPrefix("=~") { kind = .regexMatch; index += 2 }
        else if rest.hasPrefix("!~") { kind = .regexNoMatch; index += 2 }
        else if rest.hasPrefix("!=") { kind = .notEqual; index += 2 }
        else if rest.hasPrefix("=") { kind = .equal; index += 1 }
        else { throw SightlineError(.invalidArgument, "bad matcher format: \(text)") }
        var value = String(chars[index...]).notifyTrimmed
        if value.hasPrefix("\"") {
            guard value.count >= 2, value.hasSuffix("\""), let unquoted = unquote(value) else {
                throw SightlineError(.invalidArgument, "bad matcher format: \(text): the value's quotes are not closed")
            }
            value = unquoted
        }
        return try LabelMatcher(name, kind, value)
    }

    /// Parses a comma-separated list of matchers, optionally in braces; commas inside quotes do not split.
    package static func parseList(_ text: String) throws -> [LabelMatcher] {
        var body = text.notifyTrimmed
        if body.hasPrefix("{") {
            guard body.hasSuffix("}") else { throw SightlineError(.invalidArgument, "bad matcher format: \(text): missing '}'") }
            body = String(body.dropFirst().dropLast())
        }
        var parts: [String] = []
        var current = ""
        var inQuotes = false
        var escaped = false
        for c in body {
            if escaped { current.append(c); escaped = false; continue }
            if c == "\\" && inQuotes { current.append(c); escaped = true; continue }
            if c == "\"" { inQuotes.toggle() }
            if c == "," && !inQuotes {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        if !current.notifyTrimmed.isEmpty { parts.append(current) }
        return try parts.map { try parse($0) }
    }

    /// The matcher as Alertmanager prints it: `name=~"value"`.
    package static func format(_ matcher: LabelMatcher) -> String {
        "\(matcher.name)\(matcher.kind.rawValue)\(JSONText.quoted(matcher.value))"
    }

    /// A list as Alertmanager prints it in route keys: `{a="b",c=~"d"}`.
    package static func format(_ matchers: [LabelMatcher]) -> String {
        "{" + matchers.map { format($0) }.joined(separator: ",") + "}"
    }

    private static func unquote(_ quoted: String) -> String? {
        var out = ""
        var escaped = false
        for c in quoted.dropFirst().dropLast() {
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "\"" {
                return nil
            } else {
                out.append(c)
            }
        }
        return escaped ? nil : out
    }
}

extension Character {
    /// Whether the character may appear in a label name (`[a-zA-Z_][a-zA-Z0-9_]*`; `:` too, as matchers allow).
    func isNotifyLabelNameCharacter(first: Bool) -> Bool {
        guard isASCII else { return false }
        if isLetter || self == "_" || self == ":" { return true }
        return !first && isNumber
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    var notifyTrimmed: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" || first == "\n" || first == "\r" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" || last == "\n" || last == "\r" { scalars.removeLast() }
        return String(scalars)
    }
}

extension LabelMatcher {
    /// Whether every matcher of `matchers` holds for `labels`.
    static func notifyAll(_ matchers: [LabelMatcher], match labels: Labels) -> Bool {
        matchers.allSatisfy { $0.matches(labels) }
    }
}
