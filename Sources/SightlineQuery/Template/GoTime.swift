import SightlineCore

/// Go's time formatting for UTC instants: `time.Time.String()` and `Format(layout)` with Go's reference layout
/// (`2006-01-02 15:04:05.999999999 -0700 MST`).
package enum GoTime {
    /// The civil fields of an instant (UTC).
    package struct Fields {
        var year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64, nanosecond: Int64, weekday: Int64
    }

    /// The civil date and time of an instant in ns since the epoch, in UTC.
    package static func fields(_ nanoseconds: Int64) -> Fields {
        let seconds = CivilTime.floorDivide(nanoseconds, 1_000_000_000)
        var nanos = nanoseconds % 1_000_000_000
        if nanos < 0 { nanos += 1_000_000_000 }
        let days = CivilTime.floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday (4).
        let (year, month, day) = CivilTime.civil(fromDays: days)
        return Fields(
            year: year, month: month, day: day, hour: secondOfDay / 3600, minute: secondOfDay % 3600 / 60, second: secondOfDay % 60,
            nanosecond: nanos, weekday: weekday)
    }

    /// Go's `time.Time.String()` in UTC: `2023-11-14 22:13:20.123 +0000 UTC`.
    package static func string(_ nanoseconds: Int64) -> String {
        format(nanoseconds, layout: "2006-01-02 15:04:05.999999999 -0700 MST")
    }

    private static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    private static let dayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    /// Formats with a Go layout; the zone is always UTC.
    package static func format(_ nanoseconds: Int64, layout: String) -> String {
        let f = fields(nanoseconds)
        func pad(_ value: Int64, _ width: Int, _ fill: Character = "0") -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: fill, count: width - text.count) + text
        }
        let hour12 = f.hour % 12 == 0 ? 12 : f.hour % 12
        // Longest tokens first, as Go's layout scanner prefers them.
        let tokens: [(String, () -> String)] = [
            ("January", { monthNames[Int(f.month - 1)] }), ("Monday", { dayNames[Int(f.weekday)] }),
            ("Z07:00", { "Z" }), ("-07:00", { "+00:00" }), ("-0700", { "+0000" }), ("Z0700", { "Z" }), ("-07", { "+00" }),
            ("2006", { pad(f.year, 4) }), ("Jan", { String(monthNames[Int(f.month - 1)].prefix(3)) }),
            ("Mon", { String(dayNames[Int(f.weekday)].prefix(3)) }), ("MST", { "UTC" }),
            ("01", { pad(f.month, 2) }), ("02", { pad(f.day, 2) }), ("_2", { pad(f.day, 2, " ") }), ("06", { pad(f.year % 100, 2) }),
            ("15", { pad(f.hour, 2) }), ("03", { pad(hour12, 2) }), ("04", { pad(f.minute, 2) }), ("05", { pad(f.second, 2) }),
            ("PM", { f.hour >= 12 ? "PM" : "AM" }), ("pm", { f.hour >= 12 ? "pm" : "am" }),
            ("1", { String(f.month) }), ("2", { String(f.day) }), ("3", { String(hour12) }), ("4", { String(f.minute) }),
            ("5", { String(f.second) }),
        ]
        let scalars = Array(layout.unicodeScalars)
        var out = ""
        var index = 0
        outer: while index < scalars.count {
            // Fractional seconds: `.000…` (fixed) or `.999…` (trailing zeros and the dot dropped).
            if (scalars[index] == "." || scalars[index] == ","), index + 1 < scalars.count, scalars[index + 1] == "0" || scalars[index + 1] == "9" {
                let digit = scalars[index + 1]
                var end = index + 1
                while end < scalars.count && scalars[end] == digit { end += 1 }
                let width = end - index - 1
                if end >= scalars.count || !("0"..."9").contains(scalars[end]) {
                    var fraction = pad(f.nanosecond, 9)
                    fraction = String(fraction.prefix(width))
                    if digit == "9" {
                        while fraction.hasSuffix("0") { fraction.removeLast() }
                        if !fraction.isEmpty { out += "." + fraction }
                    } else {
                        out += String(scalars[index]) + fraction
                    }
                    index = end
                    continue
                }
            }
            for (token, value) in tokens {
                let tokenScalars = Array(token.unicodeScalars)
                if index + tokenScalars.count <= scalars.count && Array(scalars[index..<(index + tokenScalars.count)]) == tokenScalars {
                    out += value()
                    index += tokenScalars.count
                    continue outer
                }
            }
            out.unicodeScalars.append(scalars[index])
            index += 1
        }
        return out
    }
}
