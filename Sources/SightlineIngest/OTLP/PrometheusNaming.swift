/// Prometheus names for OTLP metrics and attributes, as Prometheus's OTLP receiver builds them: with its default
/// translation strategy `UnderscoreEscapingWithSuffixes` (``metricName(_:unit:type:)``, ``labelName(_:)``), or another
/// of Prometheus 3's strategies (``metricName(_:unit:type:strategy:)``, ``labelName(_:escaping:)``).
package enum PrometheusNaming {
    /// The kind of metric a name is built for; it decides the `_total` and `_ratio` suffixes.
    package enum MetricType: Sendable {
        case gauge, monotonicCounter, nonMonotonicCounter, histogram, summary
    }

    private static let unitNames: [String: String] = [
        "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
        "ns": "nanoseconds",
        "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tibibytes",
        "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
        "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
        "Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent",
    ]

    private static let perUnitNames: [String: String] = [
        "s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year",
    ]

    private static func isMetricNameByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x3A
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// Builds the Prometheus metric name of an OTLP metric.
    ///
    /// The name is split at every character outside `[a-zA-Z0-9:]` (so runs of `_` collapse), the unit is
    /// appended unless already a word of the name (`s` → `seconds`, `By` → `bytes`, `m/s` → `meters_per_second`,
    /// `{…}` annotations dropped), then `_total` for monotonic counters and `_ratio` for gauges of unit `1`.
    /// A name starting with a digit gets a `_` prefix.
    /// - Parameters:
    ///   - name: The OTLP metric name, e.g. `http.server.duration`.
    ///   - unit: The OTLP (UCUM) unit, e.g. `s`.
    ///   - type: What the metric becomes.
    /// - Returns: e.g. `http_server_duration_seconds`; empty when nothing valid remains.
    package static func metricName(_ name: String, unit: String, type: MetricType) -> String {
        var tokens = name.utf8.split(whereSeparator: { !isMetricNameByte($0) }).map { String(decoding: $0, as: UTF8.self) }
        let (mainUnit, perUnit) = unitSuffixes(unit)
        var main = cleanUpUnit(mainUnit)
        var per = cleanUpUnit(perUnit)
        if tokens.contains(main) { main = "" }
        if per == "per_" {
            per = ""
        } else {
            while per.hasSuffix("_") { per.removeLast() }
            if tokens.contains(per) { per = "" }
        }
        if !per.isEmpty { while main.hasSuffix("_") { main.removeLast() } }
        if !main.isEmpty { tokens.append(main) }
        if !per.isEmpty { tokens.append(per) }
        if type == .monotonicCounter {
            tokens.removeAll { $0 == "total" }
            tokens.append("total")
        }
        if unit == "1" && type == .gauge {
            tokens.removeAll { $0 == "ratio" }
            tokens.append("ratio")
        }
        var result = tokens.joined(separator: "_")
        if let first = result.utf8.first, isDigit(first) { result = "_" + result }
        if result.utf8.allSatisfy({ $0 == UInt8(ascii: "_") }) { return "" }
        return result
    }

    /// The metric name `strategy` builds: escaped with suffixes as ``metricName(_:unit:type:)``; escaped without
    /// suffixes (split at characters outside `[a-zA-Z0-9:_]`, joined by `_`, a leading digit prefixed by `_`); in UTF-8
    /// with suffixes (the name kept, the unit's words — not cleaned up — appended unless the name already ends in them,
    /// then `_per_…`, `_total` and `_ratio`, each replacing the same word at the end); or the name as it is.
    /// - Returns: the name, empty when nothing valid remains.
    package static func metricName(_ name: String, unit: String, type: MetricType, strategy: OTLPDecoder.OTLPTranslation.Strategy) -> String {
        switch strategy {
        case .underscoreEscapingWithSuffixes:
            return metricName(name, unit: unit, type: type)
        case .underscoreEscapingWithoutSuffixes:
            let tokens = name.utf8.split(whereSeparator: { !isMetricNameByte($0) && $0 != UInt8(ascii: "_") })
            var result = tokens.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "_")
            if let first = result.utf8.first, isDigit(first) { result = "_" + result }
            return result.utf8.allSatisfy({ $0 == UInt8(ascii: "_") }) ? "" : result
        case .noTranslation:
            return name
        case .noUTF8EscapingWithSuffixes:
            // Innermost first: the main unit, then `per_…`, `_total` and `_ratio`, each trimmed from the end and put back.
            var base = name
            func trim(_ suffix: String) -> Bool {
                guard base.hasSuffix(suffix), base.utf8.count > suffix.utf8.count + 1 else { return false }
                base = String(base.dropLast(suffix.count + 1))
                return true
            }
            let ratio = unit == "1" && type == .gauge
            if ratio { _ = trim("ratio") }
            let total = type == .monotonicCounter
            if total { _ = trim("total") }
            let (main, per) = unitSuffixes(unit)
            if !per.isEmpty { _ = trim(per) }
            if !main.isEmpty && !base.hasSuffix(main) { base += "_" + main }
            if !per.isEmpty { base += "_" + per }
            if total { base += "_total" }
            if ratio { base += "_ratio" }
            return base
        }
    }

    /// A label name from an attribute key: escaped as ``labelName(_:)`` does, or, without escaping, the key itself.
    package static func labelName(_ key: String, escaping: Bool) -> String {
        escaping ? labelName(key) : key
    }

    /// The Prometheus form of an OTLP unit: `s` → `seconds`, `By/s` → `bytes_per_second`, `1` → "".
    package static func unitName(_ unit: String) -> String {
        let (main, per) = unitSuffixes(unit)
        let parts = [cleanUpUnit(main), cleanUpUnit(per)].map { part in
            var p = Substring(part)
            while p.hasPrefix("_") { p = p.dropFirst() }
            while p.hasSuffix("_") { p = p.dropLast() }
            return String(p)
        }.filter { !$0.isEmpty }
        return parts.joined(separator: "_")
    }

    /// The main and `per_` suffixes of a unit, before clean-up.
    private static func unitSuffixes(_ unit: String) -> (main: String, per: String) {
        let parts = unit.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        var main = ""
        var per = ""
        if let first = parts.first {
            let trimmed = trimSpaces(first)
            if !trimmed.isEmpty && !trimmed.contains("{") && !trimmed.contains("}") {
                main = unitNames[trimmed] ?? trimmed
            }
        }
        if parts.count > 1 && !parts[1].isEmpty {
            let trimmed = trimSpaces(parts[1])
            if !trimmed.isEmpty && !trimmed.contains("{") && !trimmed.contains("}") {
                per = perUnitNames[trimmed] ?? trimmed
            }
            if !per.isEmpty { per = "per_" + per }
        }
        return (main, per)
    }

    private static func trimSpaces(_ s: Substring) -> String {
        var t = s
        while let c = t.first, c.isWhitespace { t = t.dropFirst() }
        while let c = t.last, c.isWhitespace { t = t.dropLast() }
        return String(t)
    }

    /// Replaces characters outside `[a-zA-Z0-9:]` with `_`, collapses runs of `_` and drops a leading `_`.
    private static func cleanUpUnit(_ unit: String) -> String {
        var out: [UInt8] = []
        for c in unit.utf8 {
            let mapped = isMetricNameByte(c) ? c : UInt8(ascii: "_")
            if mapped == UInt8(ascii: "_") && out.last == UInt8(ascii: "_") { continue }
            out.append(mapped)
        }
        if out.first == UInt8(ascii: "_") { out.removeFirst() }
        return String(decoding: out, as: UTF8.self)
    }

    /// Builds a Prometheus label name from an OTLP attribute key.
    ///
    /// Characters outside `[a-zA-Z0-9]` become `_` with runs collapsed (a reserved `__name__`-style key keeps its
    /// surrounding `__`), and a key starting with a digit gets a `key_` prefix.
    /// - Returns: The label name, or "" when the key is empty or only underscores remain.
    package static func labelName(_ key: String) -> String {
        guard !key.isEmpty else { return "" }
        var body = Substring(key)
        let reserved = key.utf8.count >= 4 && key.hasPrefix("__") && key.hasSuffix("__")
        if reserved { body = body.dropFirst(2).dropLast(2) }
        var out: [UInt8] = []
        out.reserveCapacity(key.utf8.count + 4)
        var previousWasUnderscore = false
        for c in body.utf8 {
            let valid = (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || isDigit(c)
            if valid {
                out.append(c)
                previousWasUnderscore = false
            } else if !previousWasUnderscore {
                out.append(UInt8(ascii: "_"))
                previousWasUnderscore = true
            }
        }
        var name = String(decoding: out, as: UTF8.self)
        if reserved { name = "__" + name + "__" }
        if let first = name.utf8.first, isDigit(first) { name = "key_" + name }
        if name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") }) { return "" }
        return name
    }

    /// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)` does, as Prometheus writes `le` and `quantile`:
    /// shortest round-trip digits, no exponent, no trailing `.0`; `+Inf`, `-Inf`, `NaN`.
    package static func formatFloat(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        let text = "\(value)"
        var negative = false
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        if mantissa.hasPrefix("-") {
            negative = true
            mantissa = mantissa.dropFirst()
        }
        let pointIndex = mantissa.firstIndex(of: ".")
        let integerDigits = pointIndex.map { mantissa[..<$0] } ?? mantissa
        let fractionDigits = pointIndex.map { mantissa[mantissa.index(after: $0)...] } ?? ""
        var digits = Array((integerDigits + fractionDigits).utf8)
        var point = integerDigits.utf8.count + exponent
        // Drop leading zeros (e.g. "0.5") and trailing zeros (e.g. "1.0").
        while digits.count > 1 && digits.first == UInt8(ascii: "0") {
            digits.removeFirst()
            point -= 1
        }
        while digits.count > 1 && digits.last == UInt8(ascii: "0") { digits.removeLast() }
        var out = negative ? "-" : ""
        if point <= 0 {
            out += "0." + String(repeating: "0", count: -point) + String(decoding: digits, as: UTF8.self)
        } else if point >= digits.count {
            out += String(decoding: digits, as: UTF8.self) + String(repeating: "0", count: point - digits.count)
        } else {
            out += String(decoding: digits[..<point], as: UTF8.self) + "." + String(decoding: digits[point...], as: UTF8.self)
        }
        return out
    }
}
