/// The number, duration and byte-size formats LogQL reads, in queries and in label values (`unwrap duration(x)`,
/// `| latency > 250ms`, `| size > 1KB`).
package enum LogQLUnits {
    /// A decimal float as Go's `strconv.ParseFloat` reads it (`12`, `-1.5`, `.5`, `1.`, `1e3`, `Inf`, `NaN`; `010`
    /// is ten, not octal), or nil — also for values out of range, which Go reports as an error.
    package static func number(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        var index = 0
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        let rest = String(decoding: bytes[index...], as: UTF8.self).lowercased()
        if rest == "inf" || rest == "infinity" { return negative ? -.infinity : .infinity }
        if rest == "nan" { return .nan }
        // digits [. digits] [e [+-] digits], with at least one mantissa digit.
        var normalized = negative ? "-" : ""
        var mantissaDigits = 0
        var sawDot = false
        while index < bytes.count, LogQLLexer.isDigit(bytes[index]) || (bytes[index] == UInt8(ascii: ".") && !sawDot) {
            if bytes[index] == UInt8(ascii: ".") {
                sawDot = true
                if mantissaDigits == 0 { normalized += "0" }
                normalized += "."
            } else {
                mantissaDigits += 1
                normalized.unicodeScalars.append(Unicode.Scalar(bytes[index]))
            }
            index += 1
        }
        guard mantissaDigits > 0 else { return nil }
        if normalized.hasSuffix(".") { normalized += "0" }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            normalized += "e"
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                normalized.unicodeScalars.append(Unicode.Scalar(bytes[index]))
                index += 1
            }
            let exponentStart = index
            while index < bytes.count, LogQLLexer.isDigit(bytes[index]) {
                normalized.unicodeScalars.append(Unicode.Scalar(bytes[index]))
                index += 1
            }
            guard index > exponentStart else { return nil }
        }
        guard index == bytes.count, let value = Double(normalized), value.isFinite else { return nil }
        return value
    }

    /// A Go duration (`1h30m`, `1.5s`, `250ms`, `-3us`) extended with Prometheus' `d`, `w` and `y`, in nanoseconds;
    /// nil when the text is not one. A bare `0` is zero.
    package static func durationNanoseconds(_ text: String) -> Int64? {
        var scalars = Substring(text).unicodeScalars[...]
        var negative = false
        if let first = scalars.first, first == "-" || first == "+" {
            negative = first == "-"
            scalars = scalars.dropFirst()
        }
        if String(scalars) == "0" { return 0 }
        guard !scalars.isEmpty else { return nil }
        var total = 0.0
        while !scalars.isEmpty {
            var number = ""
            while let scalar = scalars.first, ("0"..."9").contains(scalar) || scalar == "." {
                number.unicodeScalars.append(scalar)
                scalars = scalars.dropFirst()
            }
            guard !number.isEmpty, number != ".", let value = Double(number.hasPrefix(".") ? "0" + number : number.hasSuffix(".") ? number + "0" : number)
            else { return nil }
            var unit = ""
            while let scalar = scalars.first, !("0"..."9").contains(scalar), scalar != "." {
                unit.unicodeScalars.append(scalar)
                scalars = scalars.dropFirst()
            }
            guard let scale = durationUnits[unit] else { return nil }
            total += value * scale
        }
        guard total.isFinite, total < 9.2e18 else { return nil }
        let nanos = Int64(total.rounded(.towardZero))
        return negative ? -nanos : nanos
    }

    private static let durationUnits: [String: Double] = [
        "ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9, "d": 86_400e9,
        "w": 604_800e9, "y": 31_536_000e9,
    ]

    /// A byte size as go-humanize's `ParseBytes` reads it: a number, optional spaces, and a case-insensitive unit —
    /// none or `B`, SI (`kB`, `MB`, … 1000-based, also `K`, `M`) or IEC (`KiB`, `MiB`, … 1024-based, also `Ki`); nil
    /// otherwise.
    package static func bytes(_ text: String) -> Double? {
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count, ("0"..."9").contains(scalars[index]) || scalars[index] == "." { index += 1 }
        guard index > 0, let value = Double(String(String.UnicodeScalarView(scalars[0..<index]))) else { return nil }
        while index < scalars.count, scalars[index] == " " { index += 1 }
        let unit = String(String.UnicodeScalarView(scalars[index...])).lowercased()
        guard let scale = byteUnits[unit] else { return nil }
        let result = (value * scale).rounded(.towardZero)
        return result < 1.8e19 ? result : nil
    }

    private static let byteUnits: [String: Double] = {
        var units: [String: Double] = ["": 1, "b": 1]
        let prefixes = ["k", "m", "g", "t", "p", "e"]
        var si = 1.0
        var iec = 1.0
        for prefix in prefixes {
            si *= 1000
            iec *= 1024
            units[prefix] = si
            units[prefix + "b"] = si
            units[prefix + "i"] = iec
            units[prefix + "ib"] = iec
        }
        return units
    }()
}
