#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Float formatting that matches Go's `strconv` and `fmt`, which is what Prometheus prints.
///
/// All forms use the shortest decimal digits that round-trip to the same `Double` (Swift's `description` and Go's
/// `strconv` both produce the shortest, closest digit string), laid out the way Go lays them out.
package enum PromQLFloat {
    /// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an exponent.
    ///
    /// Prometheus uses this form for the label values `count_values` writes. `1e6` is `"1000000"`, `1e-7` is
    /// `"0.0000001"`, `100` is `"100"`, `-0` is `"-0"`, and the special values are `"NaN"`, `"+Inf"` and `"-Inf"`.
    package static func format(_ value: Double) -> String {
        if let special = special(value) { return special }
        if let plain = plainDescription(value) { return plain }
        return formatByDigits(value)
    }

    /// ``format(_:)`` laid out from the digits alone, without the fast path (kept apart so tests compare the two).
    static func formatByDigits(_ value: Double) -> String {
        if let special = special(value) { return special }
        return ShortestDecimal(value).fixed()
    }

    /// The form of sample values in Prometheus' HTTP API (`util/jsonutil.MarshalFloat`, which follows
    /// `encoding/json`): `'f'` like ``format(_:)``, except that magnitudes below `1e-6` or from `1e21` up use Go's
    /// exponent form (`"1e-07"`, `"1.5e+21"`). The surrounding JSON quotes are not included.
    package static func formatAPI(_ value: Double) -> String {
        if let special = special(value) { return special }
        let magnitude = abs(value)
        if magnitude >= 1e-6, magnitude < 1e21, let plain = plainDescription(value) { return plain }
        return formatAPIByDigits(value)
    }

    /// ``formatAPI(_:)`` laid out from the digits alone, without the fast path (kept apart so tests compare the two).
    static func formatAPIByDigits(_ value: Double) -> String {
        if let special = special(value) { return special }
        let magnitude = abs(value)
        let decimal = ShortestDecimal(value)
        if magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21) {
            return decimal.exponential()
        }
        return decimal.fixed()
    }

    /// Go's `strconv.FormatFloat(v, 'g', -1, 64)`, which is also what `fmt`'s `%v` and `%g` print for a `float64`:
    /// shortest digits, in the exponent form when the decimal exponent is below -4 or at least 6 (so `1e6` is
    /// `"1e+06"`, `123456` is `"123456"` and `1e-5` is `"1e-05"`). Prometheus' error and warning messages use it.
    package static func formatG(_ value: Double) -> String {
        if let special = special(value) { return special }
        let decimal = ShortestDecimal(value)
        if decimal.digits.isEmpty { return decimal.fixed() }
        let exponent = decimal.pointPosition - 1
        if exponent < -4 || exponent >= 6 { return decimal.exponential() }
        return decimal.fixed()
    }

    /// Go's `fmt` verb `%f` (six decimals, correctly rounded), as used in some Prometheus error messages:
    /// `0.5` is `"0.500000"`, infinities are `"+Inf"` and `"-Inf"`.
    package static func formatFixed6(_ value: Double) -> String {
        if let special = special(value) { return special }
        var buffer = [CChar](repeating: 0, count: 400)
        let count = withVaList([value]) { arguments in
            buffer.withUnsafeMutableBufferPointer { pointer in
                vsnprintf(pointer.baseAddress, pointer.count, "%.6f", arguments)
            }
        }
        let bytes = buffer.prefix(Int(max(0, min(count, 399)))).map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Go's `'f'` form straight from Swift's `description` when that has no exponent (`"123.45"`, `"-0.001"`,
    /// `"5.0"` → `"5"`): the same shortest digits, laid out the same way, without taking them apart. Nil when the
    /// description uses an exponent (then ``ShortestDecimal`` lays the digits out). Values are formatted once per
    /// point of every API response, so this is the common path.
    private static func plainDescription(_ value: Double) -> String? {
        if value == value.rounded(.towardZero) && abs(value) < 1e15 {
            // Integers (counters, sizes, most gauges): their digits, and "-0" for negative zero as Go prints it.
            return value == 0 && value.sign == .minus ? "-0" : String(Int64(value))
        }
        let text = value.description
        if text.utf8.contains(UInt8(ascii: "e")) { return nil }
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    private static func special(_ value: Double) -> String? {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        return nil
    }
}

/// The shortest round-trip decimal digits of a finite double: `0.d1 d2 … dn × 10^pointPosition`.
private struct ShortestDecimal {
    /// The significant digits as ASCII bytes, without leading or trailing zeros; empty for zero.
    var digits: [UInt8] = []
    /// Where the decimal point sits relative to the first digit: `value = 0.digits × 10^pointPosition`.
    var pointPosition = 0
    /// Whether the sign bit is set (so `-0` keeps its sign, as in Go).
    var negative: Bool

    init(_ value: Double) {
        negative = value.sign == .minus
        // Swift's description prints the shortest digits that round-trip, as "123.45", "1e-07" or "1.5e+16".
        let text = Array(abs(value).description.utf8)
        var mantissa = text[...]
        var exponent = 0
        if let e = text.firstIndex(of: UInt8(ascii: "e")) {
            mantissa = text[..<e]
            var index = e + 1
            var exponentNegative = false
            if index < text.count, text[index] == UInt8(ascii: "-") || text[index] == UInt8(ascii: "+") {
                exponentNegative = text[index] == UInt8(ascii: "-")
                index += 1
            }
            while index < text.count {
                exponent = exponent * 10 + Int(text[index] - UInt8(ascii: "0"))
                index += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        var all: [UInt8] = []
        var integerDigits = 0
        var seenPoint = false
        for byte in mantissa {
            if byte == UInt8(ascii: ".") {
                seenPoint = true
                continue
            }
            all.append(byte)
            if !seenPoint { integerDigits += 1 }
        }
        var point = integerDigits + exponent
        // Strip leading zeros (each moves the point left) and trailing zeros.
        var start = 0
        while start < all.count, all[start] == UInt8(ascii: "0") {
            start += 1
            point -= 1
        }
        var end = all.count
        while end > start, all[end - 1] == UInt8(ascii: "0") { end -= 1 }
        digits = Array(all[start..<end])
        pointPosition = digits.isEmpty ? 0 : point
    }

    /// Go's `'f'` layout with as many decimals as needed.
    func fixed() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(digits.count + max(0, pointPosition) + max(0, -pointPosition) + 3)
        if negative { out.append(UInt8(ascii: "-")) }
        if digits.isEmpty {
            out.append(UInt8(ascii: "0"))
        } else if pointPosition <= 0 {
            out.append(UInt8(ascii: "0"))
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: -pointPosition))
            out.append(contentsOf: digits)
        } else if pointPosition >= digits.count {
            out.append(contentsOf: digits)
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: pointPosition - digits.count))
        } else {
            out.append(contentsOf: digits[..<pointPosition])
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: digits[pointPosition...])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Go's `'e'` layout: `d.ddde±XX`, at least two exponent digits.
    func exponential() -> String {
        var out: [UInt8] = []
        if negative { out.append(UInt8(ascii: "-")) }
        let shown = digits.isEmpty ? [UInt8(ascii: "0")] : digits
        out.append(shown[0])
        if shown.count > 1 {
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: shown[1...])
        }
        out.append(UInt8(ascii: "e"))
        let exponent = digits.isEmpty ? 0 : pointPosition - 1
        out.append(exponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        let magnitude = String(abs(exponent))
        if magnitude.utf8.count < 2 { out.append(UInt8(ascii: "0")) }
        out.append(contentsOf: magnitude.utf8)
        return String(decoding: out, as: UTF8.self)
    }
}
