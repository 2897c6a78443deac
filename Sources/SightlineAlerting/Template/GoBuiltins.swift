import SightlineCore
import SightlineQuery

/// A template value Go's built-in functions (``GoBuiltins``) can work on.
protocol GoBuiltinValue: GoTemplateValue {
    /// The value as one of Go's basic kinds (those a template constant has); nil for a map, list or struct, which
    /// print but do not compare.
    var basic: GoTemplateLiteral? { get }
    /// The Go type name used in error messages (`map[string]string`).
    var goTypeName: String { get }
    /// What `len` gives; nil when the value has no length.
    var length: Int? { get }
    /// `index value key`: one step.
    /// - Throws: ``GoTemplateFailure`` with Go's message.
    func indexed(by key: Self) throws(GoTemplateFailure) -> Self
    /// Whether the value's Go type has a `String` method (`time.Time`, `time.Duration`), which `%v` and `%s` print
    /// instead of the value's kind.
    var hasStringMethod: Bool { get }
}

extension GoBuiltinValue {
    var hasStringMethod: Bool { false }
}

/// Go's built-in template functions, shared by the alert-rule and notification templates: `and or not len index
/// print printf println eq ne lt le gt ge html urlquery`.
enum GoBuiltins {
    static let names: Set<String> = [
        "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt", "ge", "html", "urlquery",
    ]

    /// Calls the built-in `name`; nil when `name` is not one.
    static func call<Value: GoBuiltinValue>(_ name: String, _ arguments: [Value]) throws(GoTemplateFailure) -> Value? {
        func count(_ expected: Int) throws(GoTemplateFailure) { try GoTemplateFailure.checkCount(name, want: expected, got: arguments.count) }
        switch name {
        case "and":
            guard !arguments.isEmpty else { throw .argument("wrong number of args for and: want at least 1 got 0") }
            return arguments.first(where: { !$0.isTruthy }) ?? arguments[arguments.count - 1]
        case "or":
            guard !arguments.isEmpty else { throw .argument("wrong number of args for or: want at least 1 got 0") }
            return arguments.first(where: { $0.isTruthy }) ?? arguments[arguments.count - 1]
        case "not":
            try count(1)
            return Value(literal: .bool(!arguments[0].isTruthy))
        case "len":
            try count(1)
            guard let length = arguments[0].length else { throw .returned("len of type \(arguments[0].goTypeName)") }
            return Value(literal: .int(Int64(length)))
        case "index":
            guard let base = arguments.first else { throw .argument("wrong number of args for index: want at least 1 got 0") }
            var value = base
            for key in arguments.dropFirst() { value = try value.indexed(by: key) }
            return value
        case "print":
            // Go's Sprint adds spaces between operands when neither is a string.
            var out = ""
            for (index, argument) in arguments.enumerated() {
                if index > 0, !isString(argument), !isString(arguments[index - 1]) { out += " " }
                out += argument.printed
            }
            return Value(literal: .string(out))
        case "println":
            return Value(literal: .string(arguments.map(\.printed).joined(separator: " ") + "\n"))
        case "printf":
            guard let format = arguments.first else { throw .argument("wrong number of args for printf: want at least 1 got 0") }
            guard case .string(let text)? = format.basic else {
                throw .argument("wrong type for value; expected string; got \(format.goTypeName)")
            }
            return Value(literal: .string(GoFormat.sprintf(text, Array(arguments.dropFirst()))))
        case "eq", "ne", "lt", "le", "gt", "ge":
            guard arguments.count >= 2 else { throw .returned("missing argument for comparison") }
            if name == "eq" {
                for other in arguments.dropFirst() where try compare(arguments[0], other, equalityOnly: true) == 0 {
                    return Value(literal: .bool(true))
                }
                return Value(literal: .bool(false))
            }
            try count(2)
            let order = try compare(arguments[0], arguments[1], equalityOnly: name == "ne")
            let result =
                switch name {
                case "ne": order != 0
                case "lt": order < 0
                case "le": order <= 0
                case "gt": order > 0
                default: order >= 0
                }
            return Value(literal: .bool(result))
        case "html":
            try count(1)
            return Value(literal: .string(htmlEscape(arguments[0].printed)))
        case "urlquery":
            return Value(literal: .string(queryEscape(arguments.map(\.printed).joined())))
        default:
            return nil
        }
    }

    private static func isString(_ value: some GoBuiltinValue) -> Bool {
        if case .string? = value.basic { return true }
        return false
    }

    /// Go's `eq`/`lt`… on basic kinds: strings with strings, ints with ints, floats with floats, bools (equality only).
    static func compare<Value: GoBuiltinValue>(_ a: Value, _ b: Value, equalityOnly: Bool) throws(GoTemplateFailure) -> Int {
        switch (a.basic, b.basic) {
        case (.string(let x)?, .string(let y)?): return x == y ? 0 : (x < y ? -1 : 1)
        case (.int(let x)?, .int(let y)?): return x == y ? 0 : (x < y ? -1 : 1)
        case (.float(let x)?, .float(let y)?): return x == y ? 0 : (x < y ? -1 : 1)
        case (.bool(let x)?, .bool(let y)?):
            guard equalityOnly else { throw .returned("invalid type for comparison") }
            return x == y ? 0 : 1
        case (.null?, .null?):
            guard equalityOnly else { throw .returned("invalid type for comparison") }
            return 0
        case (.null?, _), (_, .null?):
            guard equalityOnly else { throw .returned("invalid type for comparison") }
            throw .returned("incompatible types for comparison")
        case (nil, _):
            throw .returned(equalityOnly ? "non-comparable type \(a.printed): \(a.goTypeName)" : "invalid type for comparison")
        default:
            throw .returned("incompatible types for comparison")
        }
    }

    /// Go's `html` function: `< > & " '` escaped, scalar by scalar as Go does bytes (a quote followed by a combining
    /// mark is still escaped). With `inTemplateText`, html/template's escaping of a value in HTML text, which also
    /// writes `+` as `&#43;` and NUL as U+FFFD.
    static func htmlEscape(_ text: String, inTemplateText: Bool = false) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            case "+" where inTemplateText: out += "&#43;"
            case "\0" where inTemplateText: out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Go's `url.QueryEscape`: spaces as `+`, everything but `A-Z a-z 0-9 - _ . ~` percent-encoded.
    static func queryEscape(_ text: String) -> String {
        PercentEncoding.encode(text, spaceAsPlus: true)
    }
}
