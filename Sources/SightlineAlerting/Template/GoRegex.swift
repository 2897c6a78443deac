import SightlineQuery

/// A regular expression with Go's `regexp` behaviour for `match` and `reReplaceAll`: unanchored search, and `$1`,
/// `${name}`, `$$` in replacements as `Regexp.Expand` reads them.
///
/// Swift's `Regex` stands in for RE2 (as in ``SightlineQuery/LabelReplace``): the syntax both share behaves alike.
struct GoRegex {
    private let regex: Regex<AnyRegexOutput>

    /// Compiles `pattern`.
    /// - Throws: ``GoTemplateError`` like Go's `regexp.Compile` error.
    init(_ pattern: String) throws(GoTemplateError) {
        do {
            regex = try Regex(pattern).matchingSemantics(.unicodeScalar).asciiOnlyDigits().asciiOnlyWhitespace().asciiOnlyWordCharacters()
        } catch {
            throw GoTemplateError(message: "error parsing regexp: \(error): `\(pattern)`")
        }
    }

    /// Whether the expression matches anywhere in `text`.
    func matches(_ text: String) -> Bool { (try? regex.firstMatch(in: text)) != nil }

    /// Go's `ReplaceAllString`: every non-overlapping match replaced by `replacement` with `$` references expanded.
    func replaceAll(in text: String, with replacement: String) throws(GoTemplateError) -> String {
        var out = ""
        var position = text.startIndex
        var searchFrom = text.startIndex
        var previousMatchEnd: String.Index?
        while searchFrom <= text.endIndex {
            let match: Regex<AnyRegexOutput>.Match?
            do {
                match = try regex.firstMatch(in: text[searchFrom...])
            } catch {
                throw GoTemplateError(message: "\(error)")
            }
            guard let match else { break }
            let range = match.range
            // Go skips an empty match right after the previous match.
            if range.isEmpty, let previousMatchEnd, range.lowerBound == previousMatchEnd {
                if searchFrom == text.endIndex { break }
                searchFrom = text.unicodeScalars.index(after: searchFrom)
                continue
            }
            out += text[position..<range.lowerBound]
            out += Self.expand(replacement, match: match.output)
            position = range.upperBound
            previousMatchEnd = range.upperBound
            if range.isEmpty {
                if range.upperBound == text.endIndex { break }
                let next = text.unicodeScalars.index(after: range.upperBound)
                out += text[range.upperBound..<next]
                position = next
                searchFrom = next
            } else {
                searchFrom = range.upperBound
            }
        }
        out += text[position...]
        return out
    }

    /// Go's `Regexp.Expand` of `template` with the groups of `match`.
    static func expand(_ template: String, match: AnyRegexOutput) -> String {
        let scalars = Array(template.unicodeScalars)
        var out = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            guard scalars[index] == "$" else {
                out.append(scalars[index])
                index += 1
                continue
            }
            index += 1
            if index < scalars.count, scalars[index] == "$" {
                out.append("$")
                index += 1
                continue
            }
            var braced = false
            var cursor = index
            if cursor < scalars.count, scalars[cursor] == "{" {
                braced = true
                cursor += 1
            }
            let nameStart = cursor
            while cursor < scalars.count, scalars[cursor] == "_" || scalars[cursor].properties.isAlphabetic
                || (scalars[cursor].value >= 0x30 && scalars[cursor].value <= 0x39)
            {
                cursor += 1
            }
            if cursor == nameStart || (braced && (cursor >= scalars.count || scalars[cursor] != "}")) {
                out.append("$")
                continue
            }
            let name = String(String.UnicodeScalarView(scalars[nameStart..<cursor]))
            index = braced ? cursor + 1 : cursor
            if let number = Int(name), !(name.count > 1 && name.hasPrefix("0")) {
                if number < match.count, let text = match[number].substring { out.append(contentsOf: text.unicodeScalars) }
            } else if let element = match.first(where: { $0.name == name }), let text = element.substring {
                out.append(contentsOf: text.unicodeScalars)
            }
        }
        return String(out)
    }
}
