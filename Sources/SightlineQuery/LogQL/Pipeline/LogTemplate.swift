import SightlineCore

/// The templates of `line_format` and `label_format`: Go's `text/template` (``GoTemplate``: actions, trimming,
/// comments, pipelines, `if`/`range`/`with`, variables, named templates) with a record's labels as dot — `.name` is a
/// label (a missing one is "", Loki's `missingkey=zero`), `.` all of them, printed as a map — and the functions
/// `__line__`, `__timestamp__` (the record time, printed as Go prints a `time.Time` in UTC; `date "2006-01-02"
/// __timestamp__` formats it with a Go layout; `unixEpoch`, `unixEpochMillis`, `unixEpochNanos` turn it into a
/// number), `printf` (verbs `%s %v %d %f %.Nf %q %x %%` with widths),
/// `ToUpper`/`upper`, `ToLower`/`lower`, `title`, `trim`, `trimSpace`, `trimPrefix`, `trimSuffix`, `trimAll`,
/// `replace`, `default`, `contains`, `hasPrefix`, `hasSuffix`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `and`, `or`,
/// `not`, `len`, `repeat`, `substr`, `trunc`, `regexReplaceAll`, `regexReplaceAllLiteral`, `add`, `sub`, `mul`, `div`,
/// `mod`, `addf`, `subf`, `mulf`, `divf`, `int`, `float64`, `abs`, `ceil`, `floor`, `round`, `max`, `min`, `maxf`,
/// `minf`, and Loki's `alignLeft`, `alignRight`, `indent`, `nindent`, `count`, `bytes`, `duration`,
/// `duration_seconds`, `urlencode`, `urldecode`, `b64enc`, `b64dec`. `toDate`, `now`, `fromJson`, `toJson` and the other
/// Sprig functions are not supported: they are parse errors.
struct LogTemplate: Sendable {
    private let template: GoTemplate

    /// Parses a template.
    /// - Throws: `invalidArgument` naming the problem, Go-style (`template: line:1: function "x" not defined`).
    init(_ text: String) throws(SightlineError) {
        do {
            template = try GoTemplate(name: "line", text: text, functions: LogTemplateFunctions.names)
        } catch {
            throw SightlineError(.invalidArgument, error.message)
        }
    }

    /// Renders the template for one record: dot is its labels (a missing label is "", Loki's `missingkey=zero`).
    /// - Throws: `invalidArgument` for a failing function (wrong argument types, bad regex).
    func render(labels: LogLabelsBuilder.Snapshot, line: String, timestampNs: Int64) throws(SightlineError) -> String {
        do {
            return try template.execute(data: .labels(labels), functions: LogTemplateFunctions(line: line, timestampNs: timestampNs))
        } catch {
            throw SightlineError(.invalidArgument, error.message)
        }
    }
}

/// A value in a LogQL template: label values and function results, numbers as Sprig sees them (float64).
enum LogTemplateValue: GoTemplateValue {
    case string(String)
    case number(Double)
    case bool(Bool)
    /// The record's labels (dot).
    case labels(LogLabelsBuilder.Snapshot)
    /// An instant in ns (`__timestamp__`), printed as Go prints a `time.Time`.
    case time(Int64)

    init(literal: GoTemplateLiteral) {
        switch literal {
        case .string(let text): self = .string(text)
        case .int(let value): self = .number(Double(value))
        case .float(let value): self = .number(value)
        case .bool(let value): self = .bool(value)
        case .null: self = .string("")
        }
    }

    var printed: String {
        switch self {
        case .time(let ns): GoTime.string(ns)
        case .string(let text): text
        case .number(let value): value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : GoText.formatFloat(value)
        case .bool(let value): value ? "true" : "false"
        case .labels(let labels): "map[" + labels.nameOrder.map { "\(labels.names[$0]):\(labels.values[$0])" }.joined(separator: " ") + "]"
        }
    }

    var isTruthy: Bool {
        switch self {
        case .string(let text): !text.isEmpty
        case .number(let value): value != 0
        case .bool(let value): value
        case .labels(let labels): !labels.names.isEmpty
        case .time: true
        }
    }

    /// The labels by sorted name.
    var rangeElements: [(key: LogTemplateValue, element: LogTemplateValue)]? {
        guard case .labels(let labels) = self else { return nil }
        return labels.nameOrder.map { (.string(labels.names[$0]), .string(labels.values[$0])) }
    }

    /// A label of the labels (a missing one is "").
    func field(_ name: String) throws(GoTemplateFailure) -> LogTemplateValue {
        guard case .labels(let labels) = self else { throw .argument("can't evaluate field \(name) in type \(typeName)") }
        return .string(labels[name] ?? "")
    }

    private var typeName: String {
        switch self {
        case .string: "string"
        case .number: "float64"
        case .bool: "bool"
        case .labels: "map[string]string"
        case .time: "time.Time"
        }
    }

    var number: Double? {
        switch self {
        case .number(let value): value
        case .string(let text): LogQLUnits.number(text.trimmingSpaces) ?? (text.isEmpty ? 0 : nil)
        case .bool(let value): value ? 1 : 0
        case .labels: nil
        case .time(let ns): Double(ns)
        }
    }
}

/// The functions of LogQL templates: Go's, Sprig's and Loki's, and the record's `__line__` and `__timestamp__`.
private struct LogTemplateFunctions: GoTemplateFunctions {
    let line: String
    let timestampNs: Int64

    /// Calls a template function with Go template and Sprig semantics.
    func call(_ name: String, _ args: [LogTemplateValue]) throws(GoTemplateFailure) -> LogTemplateValue {
        func arity(_ count: Int) throws(GoTemplateFailure) { try GoTemplateFailure.checkCount(name, want: count, got: args.count) }
        func numbers() throws(GoTemplateFailure) -> (Double, Double) {
            try arity(2)
            guard let a = args[0].number, let b = args[1].number else {
                throw .argument("\(name): arguments must be numbers")
            }
            return (a, b)
        }
        switch name {
        case "__line__": return .string(line)
        case "__timestamp__":
            return .time(timestampNs)
        case "unixEpoch", "unixEpochMillis", "unixEpochNanos":
            try arity(1)
            guard case .time(let ns) = args[0] else { throw .argument("\(name): argument is not a time") }
            let divisor: Int64 = name == "unixEpoch" ? 1_000_000_000 : name == "unixEpochMillis" ? 1_000_000 : 1
            return .number(Double(ns / divisor))
        case "date":
            try arity(2)
            guard case .time(let ns) = args[1] else { throw .argument("date: argument is not a time") }
            return .string(GoTime.format(ns, layout: args[0].printed))
        case "ToUpper", "upper":
            try arity(1)
            return .string(args[0].printed.uppercased())
        case "ToLower", "lower":
            try arity(1)
            return .string(args[0].printed.lowercased())
        case "title":
            try arity(1)
            return .string(args[0].printed.split(separator: " ", omittingEmptySubsequences: false).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: " "))
        case "trim", "trimSpace":
            try arity(1)
            return .string(args[0].printed.trimmingSpaces)
        case "trimPrefix":
            try arity(2)
            let text = args[1].printed
            return .string(text.hasPrefix(args[0].printed) ? String(text.dropFirst(args[0].printed.count)) : text)
        case "trimSuffix":
            try arity(2)
            let text = args[1].printed
            return .string(text.hasSuffix(args[0].printed) ? String(text.dropLast(args[0].printed.count)) : text)
        case "trimAll":
            try arity(2)
            let cut = Set(args[0].printed)
            var text = Substring(args[1].printed)
            while let first = text.first, cut.contains(first) { text = text.dropFirst() }
            while let last = text.last, cut.contains(last) { text = text.dropLast() }
            return .string(String(text))
        case "replace":
            try arity(3)
            return .string(args[2].printed.replacingOccurrences(of: args[0].printed, with: args[1].printed))
        case "default":
            try arity(2)
            return args[1].isTruthy ? args[1] : args[0]
        case "contains":
            try arity(2)
            return .bool(ByteSearch.contains(args[1].printed, Array(args[0].printed.utf8)))
        case "hasPrefix":
            try arity(2)
            return .bool(args[0].printed.hasPrefix(args[1].printed))
        case "hasSuffix":
            try arity(2)
            return .bool(args[0].printed.hasSuffix(args[1].printed))
        case "eq", "ne", "lt", "le", "gt", "ge":
            try arity(2)
            let order: Int
            if case .string(let a) = args[0], case .string(let b) = args[1] {
                order = a < b ? -1 : (a == b ? 0 : 1)
            } else if let a = args[0].number, let b = args[1].number {
                order = a < b ? -1 : (a == b ? 0 : 1)
            } else {
                throw .argument("\(name): incompatible types for comparison")
            }
            switch name {
            case "eq": return .bool(order == 0)
            case "ne": return .bool(order != 0)
            case "lt": return .bool(order < 0)
            case "le": return .bool(order <= 0)
            case "gt": return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case "and":
            for arg in args where !arg.isTruthy { return arg }
            return args.last ?? .bool(true)
        case "or":
            for arg in args where arg.isTruthy { return arg }
            return args.last ?? .bool(false)
        case "not":
            try arity(1)
            return .bool(!args[0].isTruthy)
        case "len":
            try arity(1)
            return .number(Double(args[0].printed.count))
        case "repeat":
            try arity(2)
            return .string(String(repeating: args[1].printed, count: min(10_000, max(0, clampedInt(args[0].number ?? 0)))))
        case "substr":
            try arity(3)
            let text = Array(args[2].printed)
            let start = max(0, clampedInt(args[0].number ?? 0))
            var end = clampedInt(args[1].number ?? 0)
            if end < 0 || end > text.count { end = text.count }
            return .string(start < end ? String(text[start..<end]) : "")
        case "trunc":
            try arity(2)
            let count = clampedInt(args[0].number ?? 0)
            let text = args[1].printed
            return .string(count >= 0 ? String(text.prefix(count)) : String(text.suffix(-count)))
        case "regexReplaceAll", "regexReplaceAllLiteral":
            try arity(3)
            guard let regex = try? Regex(args[0].printed.replacingOccurrences(of: "(?P<", with: "(?<")) else {
                throw .returned("invalid regular expression \(GoText.quote(args[0].printed))")
            }
            // Sprig's order: regex, text, replacement.
            let text = args[1].printed
            let literal = name == "regexReplaceAllLiteral"
            let replacement = args[2].printed
            var out = ""
            var last = text.startIndex
            for match in text.matches(of: regex) {
                out += text[last..<match.range.lowerBound]
                out += literal ? replacement : LabelReplace.expand(replacement, match: match.output)
                last = match.range.upperBound
            }
            out += text[last...]
            return .string(out)
        case "add", "sub", "mul", "div", "mod", "addf", "subf", "mulf", "divf":
            let (a, b) = try numbers()
            let integer = !name.hasSuffix("f")
            let x = integer ? a.rounded(.towardZero) : a
            let y = integer ? b.rounded(.towardZero) : b
            switch name.prefix(3) {
            case "add": return .number(x + y)
            case "sub": return .number(x - y)
            case "mul": return .number(x * y)
            case "div":
                if y == 0 { throw .returned("division by zero") }
                return .number(integer ? (x / y).rounded(.towardZero) : x / y)
            default:
                if y == 0 { throw .returned("division by zero") }
                return .number(x.truncatingRemainder(dividingBy: y))
            }
        case "alignLeft", "alignRight":
            // Loki's: pad or cut to exactly `count` characters, text on the left or the right.
            try arity(2)
            let count = max(0, min(10_000, clampedInt(args[0].number ?? 0)))
            let text = Array(args[1].printed)
            if text.count >= count { return .string(name == "alignLeft" ? String(text.prefix(count)) : String(text.suffix(count))) }
            let padding = String(repeating: " ", count: count - text.count)
            return .string(name == "alignLeft" ? String(text) + padding : padding + String(text))
        case "indent", "nindent":
            try arity(2)
            let padding = String(repeating: " ", count: max(0, min(1000, clampedInt(args[0].number ?? 0))))
            let indented = padding + args[1].printed.replacingOccurrences(of: "\n", with: "\n" + padding)
            return .string(name == "nindent" ? "\n" + indented : indented)
        case "count":
            // Loki's: the number of matches of a regex.
            try arity(2)
            guard let regex = try? Regex(args[0].printed.replacingOccurrences(of: "(?P<", with: "(?<")) else {
                throw .returned("invalid regular expression \(GoText.quote(args[0].printed))")
            }
            return .number(Double(args[1].printed.matches(of: regex).count))
        case "abs", "ceil", "floor", "round":
            guard let value = args.first?.number else { throw .argument("\(name): argument must be a number") }
            switch name {
            case "abs": return .number(Swift.abs(value))
            case "ceil": return .number(value.rounded(.up))
            case "floor": return .number(value.rounded(.down))
            default:
                // Sprig's `round value precision`.
                var scale = 1.0
                for _ in 0..<max(0, min(15, clampedInt(args.count > 1 ? args[1].number ?? 0 : 0))) { scale *= 10 }
                return .number((value * scale).rounded(.toNearestOrAwayFromZero) / scale)
            }
        case "max", "min", "maxf", "minf":
            guard !args.isEmpty else { throw .argument("\(name): needs arguments") }
            var result = args[0].number ?? 0
            for arg in args.dropFirst() {
                let value = arg.number ?? 0
                result = name.hasPrefix("max") ? Swift.max(result, value) : Swift.min(result, value)
            }
            return .number(name.hasSuffix("f") ? result : result.rounded(.towardZero))
        case "bytes":
            // Loki's: a byte size (`1.5KB`) as a number.
            try arity(1)
            return .number(LogQLUnits.bytes(args[0].printed.trimmingSpaces) ?? 0)
        case "duration", "duration_seconds":
            // Loki's: a Go duration as seconds.
            try arity(1)
            return .number(LogQLUnits.durationNanoseconds(args[0].printed.trimmingSpaces).map { Double($0) / 1e9 } ?? 0)
        case "urlencode":
            try arity(1)
            return .string(PercentEncoding.encode(args[0].printed, spaceAsPlus: true))
        case "urldecode":
            try arity(1)
            let bytes = Array(args[0].printed.utf8)
            var out: [UInt8] = []
            var index = 0
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                    let value = UInt8(String(decoding: bytes[(index + 1)...(index + 2)], as: UTF8.self), radix: 16)
                {
                    out.append(value)
                    index += 3
                } else {
                    out.append(bytes[index] == UInt8(ascii: "+") ? UInt8(ascii: " ") : bytes[index])
                    index += 1
                }
            }
            return .string(String(decoding: out, as: UTF8.self))
        case "b64enc":
            try arity(1)
            return .string(Base64Text.encode(Array(args[0].printed.utf8)))
        case "b64dec":
            try arity(1)
            guard let decoded = Base64Text.decode(args[0].printed) else {
                throw .returned("illegal base64 data")
            }
            return .string(String(decoding: decoded, as: UTF8.self))
        case "int":
            try arity(1)
            return .number((args[0].number ?? 0).rounded(.towardZero))
        case "float64":
            try arity(1)
            return .number(args[0].number ?? 0)
        case "printf":
            guard let format = args.first else { throw .argument("wrong number of args for printf") }
            return .string(GoPrintf.format(format.printed, args.dropFirst().map { argument -> GoPrintf.Argument in
                switch argument {
                case .number(let value): .number(value)
                case .bool(let value): .string(value ? "true" : "false")
                default: .string(argument.printed)
                }
            }))
        default:
            throw .argument("function \(GoText.quote(name)) not defined")
        }
    }

    /// The functions the parser accepts.
    static let names: Set<String> = [
        "__line__", "__timestamp__", "unixEpoch", "unixEpochMillis", "unixEpochNanos", "date", "ToUpper", "upper", "ToLower", "lower", "title", "trim", "trimSpace",
        "trimPrefix", "trimSuffix", "trimAll", "replace", "default", "contains", "hasPrefix", "hasSuffix", "eq", "ne", "lt",
        "le", "gt", "ge", "and", "or", "not", "len", "repeat", "substr", "trunc", "regexReplaceAll", "regexReplaceAllLiteral",
        "add", "sub", "mul", "div", "mod", "addf", "subf", "mulf", "divf", "int", "float64", "printf", "alignLeft",
        "alignRight", "indent", "nindent", "count", "abs", "ceil", "floor", "round", "max", "min", "maxf", "minf", "bytes",
        "duration", "duration_seconds", "urlencode", "urldecode", "b64enc", "b64dec",
    ]
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%s %v %d %f %.Nf %g %q %x %X %%`, with width, `-` and `0` flags.
enum GoPrintf {
    enum Argument {
        case string(String)
        case number(Double)
    }

    /// Formats `arguments` by `format`; a verb without an argument prints `%!v(MISSING)` as Go does.
    static func format(_ format: String, _ arguments: [Argument]) -> String {
        let scalars = Array(format.unicodeScalars)
        var out = ""
        var index = 0
        var next = 0
        while index < scalars.count {
            let scalar = scalars[index]
            guard scalar == "%", index + 1 < scalars.count else {
                out.unicodeScalars.append(scalar)
                index += 1
                continue
            }
            index += 1
            var leftAlign = false
            var zeroPad = false
            while index < scalars.count, scalars[index] == "-" || scalars[index] == "0" || scalars[index] == "+" || scalars[index] == " " {
                if scalars[index] == "-" { leftAlign = true }
                if scalars[index] == "0" { zeroPad = true }
                index += 1
            }
            var width = 0
            while index < scalars.count, let digit = Int(String(scalars[index])) {
                width = width * 10 + digit
                index += 1
            }
            var precision: Int?
            if index < scalars.count, scalars[index] == "." {
                index += 1
                var value = 0
                while index < scalars.count, let digit = Int(String(scalars[index])) {
                    value = value * 10 + digit
                    index += 1
                }
                precision = value
            }
            guard index < scalars.count else { break }
            let verb = scalars[index]
            index += 1
            if verb == "%" {
                out += "%"
                continue
            }
            guard next < arguments.count else {
                out += "%!\(verb)(MISSING)"
                continue
            }
            let argument = arguments[next]
            next += 1
            var text: String
            switch (verb, argument) {
            case ("d", .number(let value)): text = value.isFinite && abs(value) < 9e18 ? String(Int64(value.rounded(.towardZero))) : GoText.formatFloat(value)
            case ("d", .string(let value)): text = Int64(value).map(String.init) ?? "%!d(string=\(value))"
            case ("f", .number(let value)), ("F", .number(let value)): text = GoText.formatFixed(value, decimals: precision ?? 6)
            case ("f", .string(let value)):
                text = LogQLUnits.number(value).map { GoText.formatFixed($0, decimals: precision ?? 6) } ?? "%!f(string=\(value))"
            case ("g", .number(let value)), ("v", .number(let value)):
                text = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : GoText.formatFloat(value)
            case ("q", .string(let value)): text = GoText.quote(value)
            case ("x", .string(let value)): text = value.utf8.map { String($0, radix: 16).leftPadded(2) }.joined()
            case ("x", .number(let value)): text = String(clampedInt(value), radix: 16)
            case ("X", .number(let value)): text = String(clampedInt(value), radix: 16).uppercased()
            case (_, .string(let value)): text = value
            case (_, .number(let value)): text = GoText.formatFloat(value)
            }
            if verb == "s", let precision { text = String(text.prefix(precision)) }
            if text.count < width {
                let padding = String(repeating: zeroPad && !leftAlign ? "0" : " ", count: width - text.count)
                text = leftAlign ? text + padding : padding + text
            }
            out += text
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}


/// `value` truncated to an `Int`, 0 for NaN and clamped to ±10^15 (template arguments come from log lines).
func clampedInt(_ value: Double) -> Int {
    guard value.isFinite else { return 0 }
    return Int(max(-1e15, min(1e15, value)).rounded(.towardZero))
}

/// Standard base64 (with padding), as Go's `base64.StdEncoding` writes and reads it.
enum Base64Text {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(group >> 18 & 63)])
            out.append(alphabet[Int(group >> 12 & 63)])
            out.append(index + 1 < bytes.count ? alphabet[Int(group >> 6 & 63)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[Int(group & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt32] = []
        for byte in text.utf8 where byte != UInt8(ascii: "=") {
            guard let index = alphabet.firstIndex(of: byte) else { return nil }
            values.append(UInt32(index))
        }
        guard values.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        var index = 0
        while index < values.count {
            let chunk = values[index..<min(index + 4, values.count)]
            var group: UInt32 = 0
            for (offset, value) in chunk.enumerated() { group |= value << UInt32(18 - 6 * offset) }
            out.append(UInt8(group >> 16 & 0xFF))
            if chunk.count > 2 { out.append(UInt8(group >> 8 & 0xFF)) }
            if chunk.count > 3 { out.append(UInt8(group & 0xFF)) }
            index += 4
        }
        return out
    }
}
