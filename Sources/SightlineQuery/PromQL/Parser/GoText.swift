/// Text formatting that matches what Prometheus (written in Go) prints, so that error messages and
/// `format_query` output are byte-for-byte the same: Go's `%q` quoting, `strconv.FormatFloat(v, 'f', -1, 64)`
/// and `model.Duration.String()`.
package enum GoText {
    /// Go's `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`; nil for anything else.
    package static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": true
        case "0", "f", "F", "FALSE", "false", "False": false
        default: nil
        }
    }

    /// Go's `strconv.Quote`: a double-quoted string with Go escapes.
    package static func quote(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars { appendEscaped(scalar, quote: "\"", to: &out) }
        out.append("\"")
        return out
    }

    /// Go's `%q` for a rune: `'c'`, with Go escapes.
    package static func quoteRune(_ scalar: Unicode.Scalar) -> String {
        var out = "'"
        appendEscaped(scalar, quote: "'", to: &out)
        out.append("'")
        return out
    }

    /// Go's `%#U`: `U+0063 'c'` (the quoted form only for printable runes).
    package static func unicodeName(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        return isPrint(scalar) ? "\(code) '\(scalar)'" : code
    }

    /// Go's `%.Nq`: the first `runes` runes of `value`, quoted.
    package static func quotePrefix(_ value: String, runes: Int) -> String {
        quote(String(String.UnicodeScalarView(value.unicodeScalars.prefix(runes))))
    }

    /// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
    package static func isPrint(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark,
            .decimalNumber, .letterNumber, .otherNumber,
            .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation,
            .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    private static func appendEscaped(_ scalar: Unicode.Scalar, quote: Unicode.Scalar, to out: inout String) {
        switch scalar {
        case quote, "\\":
            out.append("\\")
            out.unicodeScalars.append(scalar)
        case "\u{07}": out.append("\\a")
        case "\u{08}": out.append("\\b")
        case "\u{0C}": out.append("\\f")
        case "\n": out.append("\\n")
        case "\r": out.append("\\r")
        case "\t": out.append("\\t")
        case "\u{0B}": out.append("\\v")
        case "\u{FFFD}":
            // Go would print the invalid bytes this stands for; the escape at least parses back to the same string.
            out.append("\\ufffd")
        default:
            if isPrint(scalar) {
                out.unicodeScalars.append(scalar)
            } else if scalar.value < 0x20 || scalar.value == 0x7F {
                out.append("\\x" + hex(scalar.value, digits: 2))
            } else if scalar.value < 0x10000 {
                out.append("\\u" + hex(scalar.value, digits: 4))
            } else {
                out.append("\\U" + hex(scalar.value, digits: 8))
            }
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// Go's `strconv.FormatFloat(value, 'f', -1, 64)`: the shortest digits that round-trip, never an exponent.
    /// Infinities print as `+Inf`/`-Inf`, NaN as `NaN`.
    package static func formatFloat(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        // Swift's description is the shortest round-trip form, possibly with an exponent: "1e-05", "1.5e+20", "12.0".
        var text = "\(value.magnitude)"
        var exponent = 0
        if let eIndex = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: eIndex)...]) ?? 0
            text = String(text[..<eIndex])
        }
        var integerPart = text
        var fractionPart = ""
        if let dot = text.firstIndex(of: ".") {
            integerPart = String(text[..<dot])
            fractionPart = String(text[text.index(after: dot)...])
        }
        var digits = integerPart + fractionPart
        var pointPosition = integerPart.count + exponent
        // Drop leading zeros (keeping the point position right) and trailing zeros.
        while digits.count > 1, digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.count > 1, digits.last == "0", digits.count > pointPosition { digits.removeLast() }
        var result: String
        if pointPosition <= 0 {
            result = "0." + String(repeating: "0", count: -pointPosition) + digits
        } else if pointPosition >= digits.count {
            result = digits + String(repeating: "0", count: pointPosition - digits.count)
        } else {
            let split = digits.index(digits.startIndex, offsetBy: pointPosition)
            result = String(digits[..<split]) + "." + String(digits[split...])
        }
        if result.contains(".") {
            while result.last == "0" { result.removeLast() }
            if result.last == "." { result.removeLast() }
        }
        return value < 0 ? "-" + result : result
    }

    /// Go's `fmt.Sprintf("%f", value)`: six decimals, `+Inf`, `-Inf`, `NaN`.
    package static func formatFixed6(_ value: Double) -> String { formatFixed(value, decimals: 6) }

    /// Go's `strconv.FormatFloat(value, 'f', decimals, 64)` for small decimal counts.
    package static func formatFixed(_ value: Double, decimals: Int) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (value.magnitude * scale).rounded(.toNearestOrEven)
        guard scaled < 9.0e18 else {
            // Too large for integer arithmetic: fall back to the shortest form with zero padding.
            let whole = formatFloat(value.magnitude.rounded(.towardZero))
            return (value < 0 ? "-" : "") + whole + (decimals > 0 ? "." + String(repeating: "0", count: decimals) : "")
        }
        let integer = UInt64(scaled)
        let divisor = UInt64(scale)
        let whole = integer / divisor
        let fraction = integer % divisor
        var text = String(whole)
        if decimals > 0 {
            let fractionText = String(fraction)
            text += "." + String(repeating: "0", count: decimals - fractionText.count) + fractionText
        }
        return (value < 0 && scaled != 0 ? "-" : "") + text
    }
}
