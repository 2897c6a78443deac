import SightlineCore

/// A relabeling regular expression, fully anchored as in Prometheus (`^(?:regex)$`).
///
/// The default `(.*)` and patterns without metacharacters are matched without the regex engine: metric relabeling runs
/// for every scraped sample.
package struct RelabelRegex: Sendable, Hashable {
    /// The pattern as configured.
    package let pattern: String
    private let matcher: Matcher
    /// Why the pattern does not compile, or nil.
    package let compileError: String?

    private enum Matcher: Sendable {
        /// `(.*)`: matches everything; group 1 is the whole value.
        case everything
        /// A pattern without metacharacters: matches exactly that text; no groups.
        case literal(String)
        case regex(CompiledRegex)
        case invalid
    }

    /// Compiles `pattern`. A pattern that does not compile matches nothing; ``compileError`` says why.
    package init(_ pattern: String) {
        self.pattern = pattern
        if pattern == "(.*)" {
            matcher = .everything
            compileError = nil
        } else if !pattern.utf8.contains(where: { Self.metacharacters.contains($0) }) {
            matcher = .literal(pattern)
            compileError = nil
        } else {
            do {
                let regex = try Regex("(?:\(pattern))").matchingSemantics(.unicodeScalar)
                matcher = .regex(CompiledRegex(regex))
                compileError = nil
            } catch {
                matcher = .invalid
                compileError = "\(error)"
            }
        }
    }

    private static let metacharacters = Set(#"\.+*?()|[]{}^$"#.utf8)

    /// What a match captured: group 0 is the whole value.
    package struct Match {
        package var groups: [Substring?]
        package var names: [String?]
    }

    /// Whether the whole of `value` matches.
    package func matches(_ value: String) -> Bool {
        switch matcher {
        case .everything: true
        case .literal(let text): value == text
        case .regex(let box): box.wholeMatch(value) != nil
        case .invalid: false
        }
    }

    /// Matches the whole of `value` and returns the groups, or nil.
    package func match(_ value: String) -> Match? {
        switch matcher {
        case .everything: return Match(groups: [value[...], value[...]], names: [nil, nil])
        case .literal(let text): return value == text ? Match(groups: [value[...]], names: [nil]) : nil
        case .invalid: return nil
        case .regex(let box):
            guard let match = box.wholeMatch(value) else { return nil }
            var groups: [Substring?] = []
            var names: [String?] = []
            for element in match.output {
                groups.append(element.substring)
                names.append(element.name)
            }
            return Match(groups: groups, names: names)
        }
    }

    /// Expands `$1`, `${1}`, `$name`, `${name}` and `$$` in `template` with Go's `regexp.Expand` rules: a name is
    /// the longest run of letters, digits and `_` (so `$1x` is the group named `1x`, which is empty); unknown groups
    /// expand to nothing; a `$` not followed by a name is kept.
    package static func expand(_ template: String, _ match: Match) -> String {
        guard template.utf8.contains(UInt8(ascii: "$")) else { return template }
        let bytes = Array(template.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            guard c == UInt8(ascii: "$") else {
                out.append(c)
                i += 1
                continue
            }
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "$") {
                out.append(c)
                i += 1
                continue
            }
            guard let (name, next) = extractName(bytes, at: i) else {
                out.append(c)
                continue
            }
            i = next
            if let index = Int(name), name.utf8.allSatisfy({ $0 &- 0x30 < 10 }) {
                if index < match.groups.count, let group = match.groups[index] { out.append(contentsOf: group.utf8) }
            } else if let index = match.names.firstIndex(of: name), let group = match.groups[index] {
                out.append(contentsOf: group.utf8)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F
    }

    private static func extractName(_ bytes: [UInt8], at start: Int) -> (String, Int)? {
        var i = start
        let braced = i < bytes.count && bytes[i] == UInt8(ascii: "{")
        if braced { i += 1 }
        let nameStart = i
        while i < bytes.count, isNameByte(bytes[i]) { i += 1 }
        guard i > nameStart else { return nil }
        let name = String(decoding: bytes[nameStart..<i], as: UTF8.self)
        if braced {
            guard i < bytes.count, bytes[i] == UInt8(ascii: "}") else { return nil }
            i += 1
        }
        return (name, i)
    }

    package static func == (lhs: RelabelRegex, rhs: RelabelRegex) -> Bool { lhs.pattern == rhs.pattern }
    package func hash(into hasher: inout Hasher) { hasher.combine(pattern) }
}

/// Holds a compiled regex. `Regex` is not `Sendable`; a compiled one is never mutated, and matching does not mutate it.
private final class CompiledRegex: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>
    init(_ regex: Regex<AnyRegexOutput>) { self.regex = regex }
    func wholeMatch(_ value: String) -> Regex<AnyRegexOutput>.Match? { try? regex.wholeMatch(in: value) }
}
