import SightlineCore

/// Times as the Prometheus HTTP API reads and writes them, in milliseconds since the Unix epoch.
///
/// Reading follows Prometheus' `parseTime`: Unix seconds with an optional fraction (`1435781451.781`, rounded to the
/// millisecond) or RFC 3339 with an optional fraction of up to nine digits (`2015-07-01T20:10:51.781Z`,
/// `2015-07-01T22:10:51+02:00`). Years beyond four digits are read too, so the bounds Prometheus clients send for
/// "no limit" (`-292273086-05-16T16:47:06Z`, `292277025-08-18T07:12:54.999999999Z`) parse.
package enum PrometheusAPITime {
    /// The earliest time a range may start at; earlier times are clamped to it. About 73 million years before 1970:
    /// far enough for any data, near enough that `end - start` never overflows in a store.
    package static let minMs: Int64 = -(1 << 61)
    /// The latest time a range may end at; later times are clamped to it.
    package static let maxMs: Int64 = 1 << 61

    /// Parses a time.
    /// - Returns: milliseconds since the epoch, or nil when `text` is neither a float nor RFC 3339 (or is out of range).
    package static func parse(_ text: String) -> Int64? {
        if let seconds = Double(text) {
            guard seconds.isFinite, seconds.magnitude < 9.2e15 else { return nil }
            let whole = seconds.rounded(.towardZero)
            return Int64(whole) * 1000 + Int64(((seconds - whole) * 1000).rounded())
        }
        return parseRFC3339(Array(text.utf8))
    }

    /// ``appendJSON(_:to:)`` as UTF-8 bytes.
    package static func appendJSON(_ ms: Int64, to out: inout [UInt8]) {
        var magnitude = ms.magnitude
        if ms < 0 { out.append(UInt8(ascii: "-")) }
        appendDigits(magnitude / 1000, to: &out)
        magnitude %= 1000
        guard magnitude != 0 else { return }
        out.append(UInt8(ascii: "."))
        out.append(UInt8(ascii: "0") + UInt8(magnitude / 100))
        out.append(UInt8(ascii: "0") + UInt8(magnitude / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
    }

    /// The decimal digits of `value`.
    private static func appendDigits(_ value: UInt64, to out: inout [UInt8]) {
        guard value >= 10 else {
            out.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        let start = out.count
        var rest = value
        while rest > 0 {
            out.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        }
        out[start...].reverse()
    }

    /// Appends a timestamp as results carry it, like Prometheus' `MarshalTimestamp`: a JSON number of Unix seconds,
    /// with a three-digit fraction when the milliseconds are not zero (`1435781451.781`, `1435781451.780`, `1435781451`).
    package static func appendJSON(_ ms: Int64, to out: inout String) {
        var bytes: [UInt8] = []
        appendJSON(ms, to: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// RFC 3339 in UTC with milliseconds, for people: `2015-07-01T20:10:51.781Z`.
    package static func rfc3339(_ ms: Int64) -> String {
        let seconds = CivilTime.floorDivide(ms, 1000)
        return CivilTime.rfc3339(seconds: seconds, nanosecond: (ms - seconds * 1000) * 1_000_000, fractionDigits: 3)
    }

    /// Parses `[-]YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`.
    private static func parseRFC3339(_ bytes: [UInt8]) -> Int64? {
        var index = 0
        func digits(_ count: Int) -> Int64? {
            guard index + count <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[index..<(index + count)] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            index += count
            return value
        }
        func expect(_ character: Character) -> Bool {
            guard index < bytes.count, let ascii = character.asciiValue, bytes[index] == ascii else { return false }
            index += 1
            return true
        }
        let negativeYear = expect("-")
        var yearDigits = 0
        while index + yearDigits < bytes.count, bytes[index + yearDigits] >= 0x30, bytes[index + yearDigits] <= 0x39 { yearDigits += 1 }
        guard yearDigits >= 4, yearDigits <= 10, let yearMagnitude = digits(yearDigits) else { return nil }
        let year = negativeYear ? -yearMagnitude : yearMagnitude
        guard expect("-"), let month = digits(2), expect("-"), let day = digits(2), expect("T"),
            let hour = digits(2), expect(":"), let minute = digits(2), expect(":"), let second = digits(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month), hour < 24, minute < 60, second < 60
        else { return nil }
        var fractionMs: Int64 = 0
        if expect(".") {
            var count = 0
            var scale: Int64 = 100
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                fractionMs += Int64(bytes[index] - 0x30) * scale
                scale /= 10
                count += 1
                index += 1
            }
            guard count >= 1, count <= 9 else { return nil }
        }
        var offsetSeconds: Int64 = 0
        if !expect("Z") {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") else { return nil }
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let offsetHours = digits(2), expect(":"), let offsetMinutes = digits(2), offsetHours < 24, offsetMinutes < 60 else {
                return nil
            }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard index == bytes.count else { return nil }
        let days = CivilTime.days(fromYear: year, month: month, day: day)
        let (daySeconds, overflow1) = days.multipliedReportingOverflow(by: 86_400)
        guard !overflow1 else { return nil }
        let seconds = daySeconds + hour * 3600 + minute * 60 + second - offsetSeconds
        let (ms, overflow2) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow2 else { return nil }
        let (total, overflow3) = ms.addingReportingOverflow(fractionMs)
        return overflow3 ? nil : total
    }

    private static func isLeap(_ year: Int64) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    private static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
