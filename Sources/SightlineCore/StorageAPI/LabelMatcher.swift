/// A condition on one label, as in a PromQL selector: `=`, `!=`, `=~`, `!~`. Regexes are fully anchored.
package struct LabelMatcher: Hashable, Sendable, CustomStringConvertible {
    package enum Kind: String, Sendable, CaseIterable {
        case equal = "=", notEqual = "!=", regexMatch = "=~", regexNoMatch = "!~"
    }

    package let name: String
    package let kind: Kind
    package let value: String
    private let regex: RegexBox?

    /// Creates a matcher.
    /// - Throws: `invalidArgument` naming the pattern when a regex does not compile.
    package init(_ name: String, _ kind: Kind, _ value: String) throws {
        self.name = name
        self.kind = kind
        self.value = value
        switch kind {
        case .equal, .notEqual: regex = nil
        case .regexMatch, .regexNoMatch:
            do {
                regex = RegexBox(try Regex("^(?:\(value))$"))
            } catch {
                throw SightlineError(.invalidArgument, "invalid regular expression \"\(value)\" for label \(name)", cause: error)
            }
        }
    }

    /// Whether a label value (empty when the label is absent) satisfies the matcher.
    package func matches(_ labelValue: String) -> Bool {
        switch kind {
        case .equal: labelValue == value
        case .notEqual: labelValue != value
        case .regexMatch: regex?.matches(labelValue) ?? false
        case .regexNoMatch: !(regex?.matches(labelValue) ?? false)
        }
    }

    /// Whether a series satisfies the matcher.
    package func matches(_ labels: Labels) -> Bool { matches(labels[name] ?? "") }

    package var description: String { "\(name)\(kind.rawValue)\(JSONText.quoted(value))" }

    /// Matchers are equal when their name, kind and value are (the compiled regex follows from them).
    package static func == (a: LabelMatcher, b: LabelMatcher) -> Bool { a.name == b.name && a.kind == b.kind && a.value == b.value }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(kind)
        hasher.combine(value)
    }
}

/// Holds a compiled regex. `Regex` is not `Sendable`; a compiled one is never mutated, and matching does not mutate it.
private final class RegexBox: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>
    init(_ regex: Regex<AnyRegexOutput>) { self.regex = regex }
    func matches(_ value: String) -> Bool { (try? regex.wholeMatch(in: value)) != nil }
}
