package import SightlineCore

/// `label_replace(v, dst, replacement, src, regex)`: validated once per call, then applied to each series.
///
/// The regular expression is anchored at both ends and `.` matches newlines (Prometheus compiles
/// `^(?s:regex)$`). When it matches the value of `src` (an absent label reads as the empty string), `dst` is set to
/// `replacement` with `$1`, `${1}`, `$name`, `${name}` and `$$` expanded as Go's `Regexp.Expand` does; an empty result
/// removes `dst`. When it does not match, the series is left unchanged.
///
/// Swift's `Regex` stands in for Go's RE2. Matching is by Unicode scalar with ASCII-only `\d`, `\s` and `\w`, as in
/// RE2; full matches with captures agree for the syntax both share. RE2-only syntax (for example `\pN` without
/// braces, or `\C`) may be rejected, and Swift-only syntax (backreferences, lookaround) is accepted where RE2 would
/// fail.
package struct LabelReplace {
    /// The destination label.
    package let destination: String
    /// The replacement template.
    package let replacement: String
    /// The source label.
    package let source: String
    private let regex: Regex<AnyRegexOutput>

    /// Validates the arguments as Prometheus does, in the same order.
    ///
    /// - Throws: ``SightlineError`` `invalid regular expression in label_replace(): <regex>` when the expression does
    ///   not compile, then `invalid destination label name in label_replace(): <dst>` for an invalid destination.
    package init(destination: String, replacement: String, source: String, regex: String) throws(SightlineError) {
        do {
            self.regex = try Regex("(?s:" + regex + ")")
                .matchingSemantics(.unicodeScalar)
                .asciiOnlyDigits()
                .asciiOnlyWhitespace()
                .asciiOnlyWordCharacters()
        } catch {
            throw SightlineError(.invalidArgument, "invalid regular expression in label_replace(): \(regex)")
        }
        guard LabelName.isValid(destination) else {
            throw SightlineError(.invalidArgument, "invalid destination label name in label_replace(): \(destination)")
        }
        self.destination = destination
        self.replacement = replacement
        self.source = source
    }

    /// The labels after the replacement, or nil when the regular expression does not match (labels unchanged).
    package func apply(to labels: Labels) -> Labels? {
        let value = labels[source] ?? ""
        guard let match = try? regex.wholeMatch(in: value) else { return nil }
        let expanded = Self.expand(replacement, match: match.output)
        return LabelName.setting(destination, to: expanded, in: labels)
    }

    /// Applies the replacement to a sample's labels. Writing `__name__` clears `dropName` (the new name is kept);
    /// otherwise `dropName` is unchanged.
    package func apply(to sample: inout Sample) {
        guard let labels = apply(to: sample.metric) else { return }
        sample.metric = labels
        if destination == Labels.metricName { sample.dropName = false }
    }

    /// Go's `Regexp.Expand`: `$$` is a dollar; `$name` takes the longest run of letters, digits and underscores (so
    /// `$1x` names the group `1x`); `${name}` is explicit; an all-digit name is a group number (no leading zeros); an
    /// unknown or non-participating group expands to nothing; a `$` not followed by a name is kept.
    static func expand(_ template: String, match: AnyRegexOutput) -> String {
        let scalars = Array(template.unicodeScalars)
        var out = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            guard scalar == "$" else {
                out.append(scalar)
                index += 1
                continue
            }
            index += 1
            if index < scalars.count && scalars[index] == "$" {
                out.append("$")
                index += 1
                continue
            }
            guard let (name, next) = extractName(scalars, from: index) else {
                out.append("$")
                continue
            }
            index = next
            if let number = groupNumber(name) {
                if number < match.count, let text = match[number].substring {
                    out.append(contentsOf: text.unicodeScalars)
                }
            } else if let element = match.first(where: { $0.name == name }), let text = element.substring {
                out.append(contentsOf: text.unicodeScalars)
            }
        }
        return String(out)
    }

    private static func extractName(_ scalars: [Unicode.Scalar], from start: Int) -> (String, Int)? {
        var index = start
        var braced = false
        if index < scalars.count && scalars[index] == "{" {
            braced = true
            index += 1
        }
        let nameStart = index
        while index < scalars.count && isNameScalar(scalars[index]) { index += 1 }
        if index == nameStart { return nil }
        var name = String.UnicodeScalarView()
        name.append(contentsOf: scalars[nameStart..<index])
        if braced {
            guard index < scalars.count && scalars[index] == "}" else { return nil }
            index += 1
        }
        return (String(name), index)
    }

    private static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "_" { return true }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
            return true
        default:
            return false
        }
    }

    /// The group number an all-ASCII-digit name denotes (at most 1e8, no leading zero), or nil for a named group.
    private static func groupNumber(_ name: String) -> Int? {
        var number = 0
        for byte in name.utf8 {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") && number < 100_000_000 else { return nil }
            number = number * 10 + Int(byte - UInt8(ascii: "0"))
        }
        if name.utf8.count > 1 && name.utf8.first == UInt8(ascii: "0") { return nil }
        return number
    }
}
