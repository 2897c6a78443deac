/// Turns literal tokens into values the way Prometheus does: numbers (`strconv.ParseInt(s, 0, 64)` then
/// `ParseFloat`), durations (`model.ParseDuration`) and quoted strings (`strutil.Unquote`).
enum PromQLLiteral {
    /// Parses a number token: decimal, octal (`010` is 8), hexadecimal, floating point, `Inf`, `NaN`, with `_`
    /// separators. The error message is the text after `error parsing number: `.
    static func number(_ text: String) -> Result<Double, LiteralError> {
        switch text.lowercased() {
        case "inf", "+inf", "infinity": return .success(.infinity)
        case "-inf", "-infinity": return .success(-.infinity)
        case "nan": return .success(.nan)
        default: break
        }
        let clean = text.replacingUnderscores()
        let lower = clean.lowercased()
        if lower.hasPrefix("0x") {
            if let value = Int64(lower.dropFirst(2), radix: 16) { return .success(Double(value)) }
            return .failure(LiteralError("strconv.ParseFloat: parsing \(GoText.quote(text)): invalid syntax"))
        }
        if clean.count > 1, clean.hasPrefix("0"), clean.allSatisfy({ ("0"..."7").contains($0) }) {
            if let value = Int64(clean.dropFirst(), radix: 8) { return .success(Double(value)) }
        }
        if clean.allSatisfy(\.isASCIIDigit), let value = Int64(clean) { return .success(Double(value)) }
        // Swift does not accept "1." or "1.e5"; Go does.
        var normalized = ""
        var previous: Character = " "
        for character in clean {
            if previous == ".", !character.isASCIIDigit { normalized.append("0") }
            normalized.append(character)
            previous = character
        }
        if previous == "." { normalized.append("0") }
        if normalized.hasPrefix(".") { normalized = "0" + normalized }
        guard let value = Double(normalized) else {
            return .failure(LiteralError("strconv.ParseFloat: parsing \(GoText.quote(text)): invalid syntax"))
        }
        if value.isInfinite { return .failure(LiteralError("strconv.ParseFloat: parsing \(GoText.quote(text)): value out of range")) }
        return .success(value)
    }

    /// Parses a Prometheus duration (`1h30m`, `5m`, `1y`, `500ms`, `0`) to milliseconds: units `y w d h m s ms`, each at
    /// most once and largest first.
    static func duration(_ text: String) -> Result<Int64, LiteralError> {
        if text == "0" { return .success(0) }
        if text.isEmpty { return .failure(LiteralError("empty duration string")) }
        let units: [(name: String, order: Int, milliseconds: UInt64)] = [
            ("y", 1, 365 * 24 * 3_600_000), ("w", 2, 7 * 24 * 3_600_000), ("d", 3, 24 * 3_600_000), ("h", 4, 3_600_000),
            ("m", 5, 60_000), ("s", 6, 1000), ("ms", 7, 1),
        ]
        let bytes = Array(text.utf8)
        var index = 0
        var total: UInt64 = 0
        var lastOrder = 0
        let invalid = LiteralError("not a valid duration string: \(GoText.quote(text))")
        while index < bytes.count {
            let digitsStart = index
            while index < bytes.count, (48...57).contains(bytes[index]) { index += 1 }
            guard index > digitsStart, let count = UInt64(String(decoding: bytes[digitsStart..<index], as: UTF8.self)) else {
                return .failure(invalid)
            }
            let unitStart = index
            while index < bytes.count, !(48...57).contains(bytes[index]) { index += 1 }
            guard index > unitStart else { return .failure(invalid) }
            let unitName = String(decoding: bytes[unitStart..<index], as: UTF8.self)
            guard let unit = units.first(where: { $0.name == unitName }) else {
                return .failure(LiteralError("unknown unit \(GoText.quote(unitName)) in duration \(GoText.quote(text))"))
            }
            guard unit.order > lastOrder else { return .failure(invalid) }
            lastOrder = unit.order
            let (product, overflow) = count.multipliedReportingOverflow(by: unit.milliseconds)
            let (sum, overflow2) = total.addingReportingOverflow(product)
            // Prometheus keeps nanoseconds in an Int64.
            guard !overflow, !overflow2, sum <= UInt64(Int64.max / 1_000_000) else { return .failure(LiteralError("duration out of range")) }
            total = sum
        }
        return .success(Int64(total))
    }

    /// Removes the quotes of a string token and resolves its escapes (the lexer already checked them).
    /// Byte escapes that do not form valid UTF-8 become U+FFFD.
    static func unquote(_ text: String) -> String {
        guard let quote = text.unicodeScalars.first, text.unicodeScalars.count >= 2 else { return text }
        let scalars = Array(text.unicodeScalars.dropFirst().dropLast())
        if quote == "`" { return String(String.UnicodeScalarView(scalars)) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(scalars.count)
        var index = 0
        func append(_ scalar: Unicode.Scalar) { bytes.append(contentsOf: Array(String(scalar).utf8)) }
        func hexValue(_ count: Int, radix: UInt32) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<count where index < scalars.count {
                value = value &* radix &+ (UInt32(String(scalars[index]), radix: Int(radix)) ?? 0)
                index += 1
            }
            return value
        }
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            guard scalar == "\\", index < scalars.count else {
                append(scalar)
                continue
            }
            let escape = scalars[index]
            index += 1
            switch escape {
            case "a": bytes.append(7)
            case "b": bytes.append(8)
            case "f": bytes.append(12)
            case "n": bytes.append(10)
            case "r": bytes.append(13)
            case "t": bytes.append(9)
            case "v": bytes.append(11)
            case "0"..."7":
                index -= 1
                bytes.append(UInt8(truncatingIfNeeded: hexValue(3, radix: 8)))
            case "x": bytes.append(UInt8(truncatingIfNeeded: hexValue(2, radix: 16)))
            case "u": append(Unicode.Scalar(hexValue(4, radix: 16)) ?? "\u{FFFD}")
            case "U": append(Unicode.Scalar(hexValue(8, radix: 16)) ?? "\u{FFFD}")
            default: append(escape)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Why a literal did not parse.
    struct LiteralError: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
