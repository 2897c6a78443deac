import SightlineCore
import SightlineQuery

/// The functions of Prometheus' alert templates and Go's built-in template functions.
struct TemplateFunctions: GoTemplateFunctions {
    var externalURL: String
    var evaluationTimeMs: Int64
    var query: (@Sendable (String) throws -> [(Labels, Double)])?

    func call(_ name: String, _ arguments: [TemplateValue]) throws(GoTemplateFailure) -> TemplateValue {
        func count(_ expected: Int) throws(GoTemplateFailure) {
            guard arguments.count == expected else {
                throw .argument("wrong number of args for \(name): want \(expected) got \(arguments.count)")
            }
        }
        func string(_ index: Int) throws(GoTemplateFailure) -> String {
            guard case .string(let s) = arguments[index] else {
                throw .argument("wrong type for value; expected string; got \(arguments[index].goTypeName)")
            }
            return s
        }
        func float(_ index: Int) throws(GoTemplateFailure) -> Double { try Self.toFloat(arguments[index]) }

        switch name {
        // Go's built-ins.
        case "and":
            guard !arguments.isEmpty else { throw .argument("wrong number of args for and: want at least 1 got 0") }
            return arguments.first(where: { !$0.isTruthy }) ?? arguments[arguments.count - 1]
        case "or":
            guard !arguments.isEmpty else { throw .argument("wrong number of args for or: want at least 1 got 0") }
            return arguments.first(where: { $0.isTruthy }) ?? arguments[arguments.count - 1]
        case "not":
            try count(1)
            return .bool(!arguments[0].isTruthy)
        case "len":
            try count(1)
            switch arguments[0] {
            case .string(let s): return .int(Int64(s.utf8.count))
            case .stringMap(let m): return .int(Int64(m.count))
            case .samples(let s): return .int(Int64(s.count))
            default: throw .returned("len of type \(arguments[0].goTypeName)")
            }
        case "index":
            guard let base = arguments.first else { throw .argument("wrong number of args for index: want at least 1 got 0") }
            var value = base
            for key in arguments.dropFirst() {
                switch (value, key) {
                case (.stringMap(let m), .string(let k)): value = .string(m[k] ?? "")
                case (.samples(let s), .int(let i)):
                    guard i >= 0, i < s.count else { throw .returned("error calling index: index out of range: \(i)") }
                    value = .sample(s[Int(i)])
                default: throw .returned("can't index item of type \(value.goTypeName)")
                }
            }
            return value
        case "print":
            // Go's Sprint adds spaces between operands when neither is a string.
            var out = ""
            for (index, argument) in arguments.enumerated() {
                if index > 0, !Self.isString(argument), !Self.isString(arguments[index - 1]) { out += " " }
                out += argument.printed
            }
            return .string(out)
        case "println":
            return .string(arguments.map(\.printed).joined(separator: " ") + "\n")
        case "printf":
            guard !arguments.isEmpty else { throw .argument("wrong number of args for printf: want at least 1 got 0") }
            return .string(GoFormat.sprintf(try string(0), Array(arguments.dropFirst())))
        case "eq", "ne", "lt", "le", "gt", "ge":
            guard arguments.count >= 2 else { throw .returned("missing argument for comparison") }
            if name == "eq" {
                for other in arguments.dropFirst() where try Self.compare(arguments[0], other, equalityOnly: true) == 0 { return .bool(true) }
                return .bool(false)
            }
            guard arguments.count == 2 else { throw .argument("wrong number of args for \(name): want 2 got \(arguments.count)") }
            let order = try Self.compare(arguments[0], arguments[1], equalityOnly: name == "ne")
            switch name {
            case "ne": return .bool(order != 0)
            case "lt": return .bool(order < 0)
            case "le": return .bool(order <= 0)
            case "gt": return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case "html", "safeHtml":
            try count(1)
            if name == "safeHtml" { return .string(try string(0)) }
            var out = ""
            for character in arguments[0].printed {
                switch character {
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "&": out += "&amp;"
                case "\"": out += "&#34;"
                case "'": out += "&#39;"
                default: out.append(character)
                }
            }
            return .string(out)
        case "urlquery":
            return .string(Self.queryEscape(arguments.map(\.printed).joined()))

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
            return .string(Self.goTime(milliseconds: Int64(nanoseconds) / 1_000_000))
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
            return .string("/graph?g0.expr=\(Self.queryEscape(try string(0)))&g0.tab=0")
        case "tableLink":
            try count(1)
            return .string("/graph?g0.expr=\(Self.queryEscape(try string(0)))&g0.tab=1")

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

    private static func isString(_ value: TemplateValue) -> Bool {
        if case .string = value { return true }
        return false
    }

    /// Prometheus' `convertToFloat`: numbers as they are, strings parsed as Go's `strconv.ParseFloat` would.
    static func toFloat(_ value: TemplateValue) throws(GoTemplateFailure) -> Double {
        switch value {
        case .float(let f): return f
        case .int(let i): return Double(i)
        case .string(let s):
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
        default:
            throw .returned("can't convert \(value.goTypeName) to float")
        }
    }

    /// Go's `eq`/`lt`… on basic kinds: strings with strings, ints with ints, floats with floats, bools (equality only).
    static func compare(_ a: TemplateValue, _ b: TemplateValue, equalityOnly: Bool) throws(GoTemplateFailure) -> Int {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x == y ? 0 : (x < y ? -1 : 1)
        case (.int(let x), .int(let y)): return x == y ? 0 : (x < y ? -1 : 1)
        case (.float(let x), .float(let y)): return x == y ? 0 : (x < y ? -1 : 1)
        case (.bool(let x), .bool(let y)):
            guard equalityOnly else { throw .returned("invalid type for comparison") }
            return x == y ? 0 : 1
        case (.null, _), (_, .null):
            guard equalityOnly else { throw .returned("invalid type for comparison") }
            if case .null = a, case .null = b { return 0 }
            throw .returned("incompatible types for comparison")
        case (.stringMap, _), (.samples, _), (.sample, _), (.record, _):
            throw .returned(equalityOnly ? "non-comparable type \(a.printed): \(a.goTypeName)" : "invalid type for comparison")
        default:
            throw .returned("incompatible types for comparison")
        }
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

    /// Go's `fmt.Sprint(time.Time)` of a UTC time: `2006-01-02 15:04:05.999999999 +0000 UTC` (fraction trimmed).
    static func goTime(milliseconds: Int64) -> String {
        let (days, msOfDay) = milliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        var day = days
        var ms = msOfDay
        if ms < 0 {
            ms += 86_400_000
            day -= 1
        }
        let (year, month, dayOfMonth) = civil(fromDays: day)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let hour = ms / 3_600_000
        let minute = (ms / 60_000) % 60
        let second = (ms / 1000) % 60
        let fraction = ms % 1000
        var yearText = String(abs(year))
        while yearText.count < 4 { yearText = "0" + yearText }
        if year < 0 { yearText = "-" + yearText }
        var out = "\(yearText)-\(two(month))-\(two(dayOfMonth)) \(two(hour)):\(two(minute)):\(two(second))"
        if fraction != 0 {
            var text = String(fraction)
            while text.count < 3 { text = "0" + text }
            while text.hasSuffix("0") { text.removeLast() }
            out += "." + text
        }
        return out + " +0000 UTC"
    }

    /// The proleptic Gregorian date of a number of days since 1970-01-01.
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        CivilTime.civil(fromDays: days)
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

    /// Go's `url.QueryEscape`: spaces as `+`, everything but `A-Z a-z 0-9 - _ . ~` percent-encoded.
    static func queryEscape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x5F, 0x2E, 0x7E: out.unicodeScalars.append(Unicode.Scalar(byte))
            case 0x20: out += "+"
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count < 2 ? "0" + hex : hex)
            }
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
