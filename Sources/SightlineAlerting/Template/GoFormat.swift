#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SightlineQuery

/// Go's `fmt` formatting for the verbs templates use (`printf`, and the `%.4g` of Prometheus' humanize functions).
///
/// Numeric verbs go through C's `snprintf`, whose `%d %x %f %e %g` output equals Go's for finite values (both round
/// correctly, drop trailing zeros in `%g`, and print at least two exponent digits); Go's spellings of NaN and the
/// infinities, `%v`, `%s`, `%q` and `%t`, and Go's `%!verb(type=value)` complaints are done here.
enum GoFormat {
    /// `fmt.Sprintf("%.4g", value)`.
    static func g4(_ value: Double) -> String { float(value, spec: "%.4g", verb: "g", plus: false, width: 0, minus: false) }

    /// `fmt.Sprintf(format, arguments...)`.
    static func sprintf<Value: GoBuiltinValue>(_ format: String, _ arguments: [Value]) -> String {
        let bytes = Array(format.utf8)
        var out: [UInt8] = []
        var next = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == 0x25 else {
                out.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else {
                out += Array("%!(NOVERB)".utf8)
                break
            }
            var flags = ""
            while index < bytes.count, "+-# 0".utf8.contains(bytes[index]) {
                flags.append(Character(Unicode.Scalar(bytes[index])))
                index += 1
            }
            var width = ""
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                width.append(Character(Unicode.Scalar(bytes[index])))
                index += 1
            }
            var precision: String?
            if index < bytes.count, bytes[index] == 0x2E {
                index += 1
                var digits = ""
                while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                    digits.append(Character(Unicode.Scalar(bytes[index])))
                    index += 1
                }
                precision = digits.isEmpty ? "0" : digits
            }
            guard index < bytes.count else {
                out += Array("%!(NOVERB)".utf8)
                break
            }
            let verb = Character(Unicode.Scalar(bytes[index]))
            index += 1
            if verb == "%" {
                out.append(0x25)
                continue
            }
            guard next < arguments.count else {
                out += Array("%!\(verb)(MISSING)".utf8)
                continue
            }
            let argument = arguments[next]
            next += 1
            out += Array(formatOne(argument, verb: verb, flags: flags, width: Int(width) ?? 0, precision: precision).utf8)
        }
        if next < arguments.count {
            let extra = arguments[next...].map { "\($0.goTypeName)=\($0.printed)" }.joined(separator: ", ")
            out += Array("%!(EXTRA \(extra))".utf8)
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func pad(_ text: String, width: Int, minus: Bool, zero: Bool = false) -> String {
        let count = text.unicodeScalars.count
        guard width > count else { return text }
        let padding = String(repeating: zero ? "0" : " ", count: width - count)
        return minus ? text + padding : padding + text
    }

    private static func formatOne(_ value: some GoBuiltinValue, verb: Character, flags: String, width: Int, precision: String?) -> String {
        let minus = flags.contains("-")
        let precisionPart = precision.map { "." + $0 } ?? ""
        let spec = "%" + flags + (width > 0 ? String(width) : "") + precisionPart
        func bad() -> String { "%!\(verb)(\(value.goTypeName)=\(value.printed))" }
        if value.hasStringMethod, verb == "v" || verb == "s" { return pad(value.printed, width: width, minus: minus) }
        switch verb {
        case "v":
            if case .float(let f)? = value.basic {
                return float(f, spec: spec + "g", verb: "g", plus: flags.contains("+"), width: width, minus: minus)
            }
            if case .int(let i)? = value.basic { return integer(i, spec: spec + "d") }
            return pad(value.printed, width: width, minus: minus)
        case "s":
            guard case .string(var s)? = value.basic else {
                if case .float? = value.basic { return bad() }
                if case .int? = value.basic { return bad() }
                return pad(value.printed, width: width, minus: minus)
            }
            if let precision, let limit = Int(precision) { s = String(String.UnicodeScalarView(s.unicodeScalars.prefix(limit))) }
            return pad(s, width: width, minus: minus)
        case "q":
            guard case .string(let s)? = value.basic else { return bad() }
            return pad(GoText.quote(s), width: width, minus: minus)
        case "t":
            guard case .bool(let b)? = value.basic else { return bad() }
            return pad(b ? "true" : "false", width: width, minus: minus)
        case "d", "x", "X", "o", "b", "c":
            if case .int(let i)? = value.basic, verb != "b", verb != "c" { return integer(i, spec: spec + String(verb)) }
            if case .string(let s)? = value.basic, verb == "x" || verb == "X" {
                let hex = s.utf8.map { byte -> String in
                    let text = String(byte, radix: 16, uppercase: verb == "X")
                    return text.count < 2 ? "0" + text : text
                }.joined()
                return pad(hex, width: width, minus: minus)
            }
            return bad()
        case "f", "F", "e", "E", "g", "G":
            let number: Double
            switch value.basic {
            case .float(let f)?: number = f
            default: return bad()
            }
            let cVerb = verb == "F" ? "f" : String(verb)
            return float(number, spec: spec + cVerb, verb: cVerb, plus: flags.contains("+"), width: width, minus: minus)
        default:
            return "%!\(verb)(\(value.goTypeName)=\(value.printed))"
        }
    }

    private static func float(_ value: Double, spec: String, verb: String, plus: Bool, width: Int, minus: Bool) -> String {
        if value.isNaN { return pad("NaN", width: width, minus: minus) }
        if value.isInfinite { return pad(value < 0 ? "-Inf" : "+Inf", width: width, minus: minus) }
        // Go's shortest %v/%g: no precision given means the shortest round-trip digits, not C's six.
        if verb == "g", !spec.contains(".") {
            var text = PromQLFloat.formatG(value)
            if plus && value >= 0 { text = "+" + text }
            return pad(text, width: width, minus: minus)
        }
        return cFormat(spec) { buffer, size, format in withVaList([value]) { vsnprintf(buffer, size, format, $0) } }
    }

    private static func integer(_ value: Int64, spec: String) -> String {
        // C needs the length modifier for 64-bit integers.
        var cSpec = spec
        if let verb = cSpec.popLast() { cSpec += "ll" + String(verb) }
        return cFormat(cSpec) { buffer, size, format in withVaList([value]) { vsnprintf(buffer, size, format, $0) } }
    }

    private static func cFormat(_ spec: String, _ body: (UnsafeMutablePointer<CChar>, Int, UnsafePointer<CChar>) -> Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        let count = spec.withCString { format in
            buffer.withUnsafeMutableBufferPointer { pointer -> Int32 in
                guard let base = pointer.baseAddress else { return 0 }
                return body(base, pointer.count, format)
            }
        }
        let length = Int(max(0, min(count, 511)))
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
