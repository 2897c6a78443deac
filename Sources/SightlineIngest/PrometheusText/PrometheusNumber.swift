/// Reads and writes the numbers of the Prometheus text format: float values and integer timestamps.
package enum PrometheusNumber {
    /// Exact powers of ten: every one up to 1e22 is representable, which makes the fast path exact (Clinger).
    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ]

    /// Parses a float the way Go's `strconv.ParseFloat` does for decimal input: an optional sign, digits with an
    /// optional fraction and exponent, or (in any case) `NaN`, `Inf`, `+Inf`, `-Inf`, `Infinity`. No hex, no `_`.
    /// - Parameters:
    ///   - p: The first byte.
    ///   - count: How many bytes.
    /// - Returns: The value, or nil when the bytes are not a number.
    package static func parseDouble(_ p: UnsafePointer<UInt8>, count: Int) -> Double? {
        guard case let (start, negative)? = sign(p, count: count) else { return nil }
        var i = start
        let first = p[i] | 0x20
        if first == UInt8(ascii: "i") {
            let rest = count - i
            guard rest == 3 || rest == 8 else { return nil }
            let word: StaticString = "infinity"
            for k in 0..<rest where p[i + k] | 0x20 != word.utf8Start[k] { return nil }
            return negative ? -.infinity : .infinity
        }
        if first == UInt8(ascii: "n") {
            guard i == 0, count == 3, p[1] | 0x20 == UInt8(ascii: "a"), p[2] | 0x20 == UInt8(ascii: "n") else { return nil }
            return .nan
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var sawDigit = false
        var exponent = 0
        var fast = true
        // Integer part.
        while i < count, p[i] &- 0x30 < 10 {
            sawDigit = true
            if mantissa == 0 && p[i] == 0x30 {
                i += 1
                continue
            }
            if digits < 19 {
                mantissa = mantissa &* 10 &+ UInt64(p[i] &- 0x30)
                digits += 1
            } else {
                fast = false
            }
            i += 1
        }
        if i < count, p[i] == UInt8(ascii: ".") {
            i += 1
            while i < count, p[i] &- 0x30 < 10 {
                sawDigit = true
                if mantissa == 0 && p[i] == 0x30 {
                    exponent -= 1
                } else if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(p[i] &- 0x30)
                    digits += 1
                    exponent -= 1
                } else {
                    fast = false
                }
                i += 1
            }
        }
        guard sawDigit else { return nil }
        if i < count, p[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            var expNegative = false
            if i < count, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") {
                expNegative = p[i] == UInt8(ascii: "-")
                i += 1
            }
            var expValue = 0
            var sawExpDigit = false
            while i < count, p[i] &- 0x30 < 10 {
                sawExpDigit = true
                if expValue < 100_000 { expValue = expValue * 10 + Int(p[i] &- 0x30) }
                i += 1
            }
            guard sawExpDigit else { return nil }
            exponent += expNegative ? -expValue : expValue
        }
        guard i == count else { return nil }
        if fast, mantissa <= 1 << 53, exponent >= -22, exponent <= 22 {
            var value = Double(mantissa)
            value = exponent < 0 ? value / powersOfTen[-exponent] : value * powersOfTen[exponent]
            return negative ? -value : value
        }
        // Rare: more than 19 significant digits or a large exponent. The bytes are validated decimal syntax.
        return Double(String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self))
    }

    /// Parses a decimal `Int64` with an optional sign.
    /// - Returns: The value, or nil when the bytes are not an integer or overflow.
    package static func parseInt64(_ p: UnsafePointer<UInt8>, count: Int) -> Int64? {
        guard case let (start, negative)? = sign(p, count: count) else { return nil }
        var i = start
        var value: Int64 = 0
        while i < count {
            let d = p[i] &- 0x30
            guard d < 10 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            value = s
            i += 1
        }
        return value
    }

    /// Reads an optional leading `+` or `-`.
    /// - Returns: The index of the first byte after the sign and whether it was `-`; nil when nothing follows.
    private static func sign(_ p: UnsafePointer<UInt8>, count: Int) -> (start: Int, negative: Bool)? {
        guard count > 0 else { return nil }
        let hasSign = p[0] == UInt8(ascii: "+") || p[0] == UInt8(ascii: "-")
        let start = hasSign ? 1 : 0
        guard start < count else { return nil }
        return (start, p[0] == UInt8(ascii: "-"))
    }

    /// Formats a value as Prometheus writes it: `NaN`, `+Inf`, `-Inf`, integers without a fraction, others in the
    /// shortest form that reads back to the same `Double`.
    package static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 {
            if value == 0 { return value.sign == .minus ? "-0" : "0" }
            return String(Int64(value))
        }
        return value.description
    }
}
