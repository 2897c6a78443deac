/// Calendar arithmetic in UTC on the proleptic Gregorian calendar, and RFC 3339 text, without Foundation.
package enum CivilTime {
    /// `a / b` rounded toward negative infinity.
    package static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    /// `a` modulo `b` (positive) with the sign of `b`, the remainder of ``floorDivide(_:_:)``.
    package static func floorModulo(_ a: Int64, _ b: Int64) -> Int64 {
        a - floorDivide(a, b) * b
    }

    /// Days since 1970-01-01 of a date (Howard Hinnant's `days_from_civil`).
    package static func days(fromYear year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a number of days since 1970-01-01 (`civil_from_days`).
    package static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// RFC 3339 in UTC with as many fraction digits as `fractionDigits` (0, 3, 6 or 9), e.g.
    /// `2026-11-26T13:05:55.123456789Z`; with `trimZeros` trailing zeros of the fraction (and a bare dot) are dropped,
    /// as Go's `RFC3339Nano` does.
    package static func rfc3339(nanoseconds: Int64, fractionDigits: Int = 9, trimZeros: Bool = false) -> String {
        let seconds = floorDivide(nanoseconds, 1_000_000_000)
        return rfc3339(seconds: seconds, nanosecond: nanoseconds - seconds * 1_000_000_000, fractionDigits: fractionDigits, trimZeros: trimZeros)
    }

    /// ``rfc3339(nanoseconds:fractionDigits:trimZeros:)`` for seconds since the epoch and a nanosecond within that
    /// second (0..<1e9), so that times beyond the year 2262 format too.
    package static func rfc3339(seconds: Int64, nanosecond: Int64, fractionDigits: Int = 9, trimZeros: Bool = false) -> String {
        let days = floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value.magnitude)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        var out = (year < 0 ? "-" : "") + pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T"
        out += pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
        let digits = min(max(fractionDigits, 0), 9)
        if digits > 0 {
            var divisor: Int64 = 1
            for _ in digits..<9 { divisor *= 10 }
            var fraction = pad(nanosecond / divisor, digits)
            if trimZeros { fraction = String(fraction.reversed().drop(while: { $0 == "0" }).reversed()) }
            if !fraction.isEmpty { out += "." + fraction }
        }
        return out + "Z"
    }
}
