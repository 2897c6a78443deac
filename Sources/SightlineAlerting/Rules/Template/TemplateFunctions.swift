import SightlineCore
import SightlineQuery

/// The functions of Prometheus' alert templates, after Go's built-ins (``GoBuiltins``).
struct TemplateFunctions: GoTemplateFunctions {
    var externalURL: String
    var evaluationTimeMs: Int64
    var query: (@Sendable (String) throws -> [(Labels, Double)])?

    func call(_ name: String, _ arguments: [TemplateValue]) throws(GoTemplateFailure) -> TemplateValue {
        func count(_ expected: Int) throws(GoTemplateFailure) { try GoTemplateFailure.checkCount(name, want: expected, got: arguments.count) }
        func string(_ index: Int) throws(GoTemplateFailure) -> String {
            guard case .string(let s) = arguments[index] else {
                throw .argument("wrong type for value; expected string; got \(arguments[index].goTypeName)")
            }
            return s
        }
        func float(_ index: Int) throws(GoTemplateFailure) -> Double { try Self.toFloat(arguments[index]) }

        if let builtin = try GoBuiltins.call(name, arguments) { return builtin }
        switch name {
        case "safeHtml":
            try count(1)
            return .string(try string(0))

        // Prometheus' numbers.
        case "humanize":
            try count(1)
            return .string(Self.humanize(try float(0)))
        case "humanize1024":
            try count(1)
            return .string(Self.humanize1024(try float(0)))
        case "humanizeDuration":
            try count(1)
            return .string(Self.humanizeDuration(try float(0)))
        case "humanizePercentage":
            try count(1)
            return .string(GoFormat.g4(try float(0) * 100) + "%")
        case "humanizeTimestamp":
            try count(1)
            let seconds = try float(0)
            if seconds.isNaN || seconds.isInfinite { return .string(GoFormat.g4(seconds)) }
            let nanoseconds = seconds * 1e9
            guard nanoseconds < 9.223372036854775807e18, nanoseconds >= -9.223372036854775808e18 else {
                throw .returned("\(PromQLFloat.formatG(seconds)) cannot be represented as a nanoseconds timestamp since it overflows int64")
            }
            // Prometheus keeps milliseconds (model.Time).
            return .string(GoTime.string(Int64(nanoseconds) / 1_000_000 * 1_000_000))
        case "parseDuration":
            try count(1)
            let text = try string(0)
            guard let milliseconds = RuleDuration.parse(text) else { throw .returned("not a valid duration string: \(GoText.quote(text))") }
            return .float(Double(milliseconds) / 1000)
        case "now":
            try count(0)
            return .float(Double(evaluationTimeMs) / 1000)

        // Strings.
        case "title":
            try count(1)
            return .string(Self.title(try string(0)))
        case "toUpper":
            try count(1)
            return .string(try string(0).uppercased())
        case "toLower":
            try count(1)
            return .string(try string(0).lowercased())
        case "match":
            try count(2)
            let pattern = try string(0)
            let text = try string(1)
            do {
                let regex = try GoRegex(pattern)
                return .bool(regex.matches(text))
            } catch {
                throw .returned(error.message)
            }
        case "reReplaceAll":
            try count(3)
            let pattern = try string(0)
            let replacement = try string(1)
            let text = try string(2)
            do {
                return .string(try GoRegex(pattern).replaceAll(in: text, with: replacement))
            } catch {
                throw .returned(error.message)
            }
        case "stripPort":
            try count(1)
            return .string(Self.stripPort(try string(0)))
        case "stripDomain":
            try count(1)
            let host = try string(0)
            let (hostPart, port) = Self.splitHostPort(host)
            if hostPart.contains(":") { return .string(host) }  // IPv6 stays as it is
            if hostPart.split(separator: ".").allSatisfy({ Int($0) != nil }) && hostPart.contains(".") { return .string(host) }
            let short = String(hostPart.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            return .string(port.map { short + ":" + $0 } ?? short)

        // Links.
        case "externalURL":
            try count(0)
            return .string(externalURL)
        case "pathPrefix":
            try count(0)
            return .string(Self.path(of: externalURL))
        case "graphLink":
            try count(1)
            return .string("/graph?g0.expr=\(GoBuiltins.queryEscape(try string(0)))&g0.tab=0")
        case "tableLink":
            try count(1)
            return .string("/graph?g0.expr=\(GoBuiltins.queryEscape(try string(0)))&g0.tab=1")

        // Queries.
        case "query":
            try count(1)
            let expression = try string(0)
            guard let query else { throw .returned("query is not available here") }
            do {
                let result = try query(expression)
                return .samples(result.map { TemplateSample(labels: RuleTemplate.map($0.0), value: $0.1) })
            } catch let error as SightlineError {
                throw .returned(error.message)
            } catch {
                throw .returned("\(error)")
            }
        case "first":
            try count(1)
            guard case .samples(let samples) = arguments[0] else {
                throw .argument("wrong type for value; expected template.queryResult; got \(arguments[0].goTypeName)")
            }
            guard let first = samples.first else { throw .returned("first() called on vector with no elements") }
            return .sample(first)
        case "label":
            try count(2)
            let label = try string(0)
            guard case .sample(let sample) = arguments[1] else {
                throw .argument("wrong type for value; expected *template.sample; got \(arguments[1].goTypeName)")
            }
            return .string(sample.labels[label] ?? "")
        case "value", "strvalue":
            try count(1)
            guard case .sample(let sample) = arguments[0] else {
                throw .argument("wrong type for value; expected *template.sample; got \(arguments[0].goTypeName)")
            }
            return name == "value" ? .float(sample.value) : .string(sample.labels["__value__"] ?? "")
        case "sortByLabel":
            try count(2)
            let label = try string(0)
            guard case .samples(let samples) = arguments[1] else {
                throw .argument("wrong type for value; expected template.queryResult; got \(arguments[1].goTypeName)")
            }
            let sorted = samples.enumerated().sorted {
                let a = $0.element.labels[label] ?? ""
                let b = $1.element.labels[label] ?? ""
                return a == b ? $0.offset < $1.offset : a < b
            }
            return .samples(sorted.map(\.element))
        case "args":
            var fields: [String: TemplateValue] = [:]
            for (index, argument) in arguments.enumerated() { fields["arg\(index)"] = argument }
            return .record(fields, typeName: "map[string]interface {}")
        default:
            throw .returned("function \(GoText.quote(name)) not defined")
        }
    }

    // MARK: Helpers

    /// Prometheus' `convertToFloat`: numbers as they are, strings parsed as Go's `strconv.ParseFloat` would.
    static func toFloat(_ value: TemplateValue) throws(GoTemplateFailure) -> Double {
        switch value {
        case .float(let f): return f
        case .int(let i): return Double(i)
        case .string(let s): return try parseFloat(s)
        default:
            throw .returned("can't convert \(value.goTypeName) to float")
        }
    }

    /// Go's `strconv.ParseFloat(s, 64)` as the humanize functions see it: decimal and hex floats, `Inf`, `NaN`.
    static func parseFloat(_ s: String) throws(GoTemplateFailure) -> Double {
        let lower = s.lowercased()
        switch lower {
        case "inf", "+inf", "infinity", "+infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        case "nan": return .nan
        default: break
        }
        guard !lower.contains("n"), let parsed = Double(s) else {
            throw .returned("strconv.ParseFloat: parsing \(GoText.quote(s)): invalid syntax")
        }
        return parsed
    }

    static func humanize(_ input: Double) -> String {
        var v = input
        if v == 0 || v.isNaN || v.isInfinite { return GoFormat.g4(v) }
        if abs(v) >= 1 {
            var prefix = ""
            for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
                if abs(v) < 1000 { break }
                prefix = p
                v /= 1000
            }
            return GoFormat.g4(v) + prefix
        }
        var prefix = ""
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if abs(v) >= 1 { break }
            prefix = p
            v *= 1000
        }
        return GoFormat.g4(v) + prefix
    }

    static func humanize1024(_ input: Double) -> String {
        var v = input
        if abs(v) <= 1 || v.isNaN || v.isInfinite { return GoFormat.g4(v) }
        var prefix = ""
        for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
            if abs(v) < 1024 { break }
            prefix = p
            v /= 1024
        }
        return GoFormat.g4(v) + prefix
    }

    static func humanizeDuration(_ input: Double) -> String {
        var v = input
        if v.isNaN || v.isInfinite { return GoFormat.g4(v) }
        if v == 0 { return GoFormat.g4(v) + "s" }
        if abs(v) >= 1 {
            var sign = ""
            if v < 0 {
                sign = "-"
                v = -v
            }
            let whole = v < 9.2e18 ? Int64(v) : Int64.max
            let seconds = whole % 60
            let minutes = (whole / 60) % 60
            let hours = (whole / 3600) % 24
            let days = whole / 86400
            if days != 0 { return "\(sign)\(days)d \(hours)h \(minutes)m \(seconds)s" }
            if hours != 0 { return "\(sign)\(hours)h \(minutes)m \(seconds)s" }
            if minutes != 0 { return "\(sign)\(minutes)m \(seconds)s" }
            return sign + GoFormat.g4(v) + "s"
        }
        var prefix = ""
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if abs(v) >= 1 { break }
            prefix = p
            v *= 1000
        }
        return GoFormat.g4(v) + prefix + "s"
    }

    /// Go's `strings.Title`: the first letter of each word upper-cased; words are split at anything but letters,
    /// digits, underscores and marks.
    static func title(_ text: String) -> String {
        var out = ""
        var previousIsSeparator = true
        for character in text {
            if previousIsSeparator { out += character.uppercased() } else { out.append(character) }
            let isWordCharacter = character.isLetter || character.isNumber || character == "_"
            previousIsSeparator = !isWordCharacter
        }
        return out
    }

    private static func splitHostPort(_ text: String) -> (String, String?) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            return rest.hasPrefix(":") ? (host, String(rest.dropFirst())) : (host, nil)
        }
        let colons = text.filter { $0 == ":" }.count
        if colons == 1, let colon = text.firstIndex(of: ":") {
            return (String(text[..<colon]), String(text[text.index(after: colon)...]))
        }
        return (text, nil)
    }

    static func stripPort(_ text: String) -> String {
        let colons = text.filter { $0 == ":" }.count
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            return String(text[text.index(after: text.startIndex)..<close])
        }
        guard colons == 1 else { return text }
        return splitHostPort(text).0
    }

    private static func path(of url: String) -> String {
        let parts = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        // scheme:, "", host, path…
        guard parts.count == 4, parts[0].hasSuffix(":"), parts[1].isEmpty else { return "" }
        let rest = "/" + parts[3]
        guard let slash = rest.firstIndex(of: "/") else { return "" }
        return String(rest[slash...].prefix { $0 != "?" && $0 != "#" })
    }
}
