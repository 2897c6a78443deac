package import SightlineCore

/// Go's time text: `time.Time.String()`, `Format(layout)` with Go's reference layout
/// (`Mon Jan 2 15:04:05 MST 2006`) in any zone, and `time.Duration.String()`.
package enum GoTime {
    /// An instant: seconds since the epoch and the nanosecond within that second (0..<1e9), so that Go's zero time
    /// (year 1) and times past 2262 fit.
    package struct Instant: Sendable, Equatable, Comparable {
        package var seconds: Int64
        package var nanosecond: Int64

        package init(seconds: Int64, nanosecond: Int64) {
            let (whole, rest) = Self.split(nanosecond, 1_000_000_000)
            self.seconds = Self.saturatingSum(seconds, whole)
            self.nanosecond = rest
        }

        /// `value` as whole `unit`s, rounded down, and the rest (`0..<unit`), without overflowing.
        private static func split(_ value: Int64, _ unit: Int64) -> (whole: Int64, rest: Int64) {
            let (whole, rest) = value.quotientAndRemainder(dividingBy: unit)
            return rest < 0 ? (whole - 1, rest + unit) : (whole, rest)
        }

        private static func saturatingSum(_ a: Int64, _ b: Int64) -> Int64 {
            let (sum, overflow) = a.addingReportingOverflow(b)
            return overflow ? (b < 0 ? .min : .max) : sum
        }

        /// The instant `nanoseconds` after the epoch.
        package init(nanoseconds: Int64) { self.init(seconds: 0, nanosecond: nanoseconds) }

        /// The instant `milliseconds` after the epoch.
        package init(milliseconds: Int64) {
            let (seconds, rest) = Self.split(milliseconds, 1000)
            self.init(seconds: seconds, nanosecond: rest * 1_000_000)
        }

        /// Go's zero `time.Time`: 0001-01-01 00:00:00 UTC.
        package static let zero = Instant(seconds: CivilTime.days(fromYear: 1, month: 1, day: 1) * 86_400, nanosecond: 0)

        /// Nanoseconds from `other` to this instant, clamped to Int64 as Go's `Sub` clamps.
        package func nanoseconds(since other: Instant) -> Int64 {
            let seconds = seconds.subtractingReportingOverflow(other.seconds)
            let scaled = seconds.partialValue.multipliedReportingOverflow(by: 1_000_000_000)
            let total = scaled.partialValue.addingReportingOverflow(nanosecond - other.nanosecond)
            if seconds.overflow || scaled.overflow || total.overflow { return self < other ? .min : .max }
            return total.partialValue
        }

        /// This instant moved by `nanoseconds`.
        package func adding(nanoseconds: Int64) -> Instant {
            let (whole, rest) = Self.split(nanoseconds, 1_000_000_000)
            return Instant(seconds: Self.saturatingSum(seconds, whole), nanosecond: nanosecond + rest)
        }

        package static func < (a: Instant, b: Instant) -> Bool { (a.seconds, a.nanosecond) < (b.seconds, b.nanosecond) }
    }

    /// UTC as Go names it.
    package static let utc = ZoneInfo.Kind(offset: 0, isDaylight: false, abbreviation: "UTC")

    /// The civil fields of an instant in local time: month 1…12, day of year from 1, weekday 0 = Sunday.
    package struct Civil {
        package var year: Int64, month: Int64, day: Int64, dayOfYear: Int64, weekday: Int64
        package var hour: Int64, minute: Int64, second: Int64, nanosecond: Int64

        init(_ instant: Instant, offset: Int) {
            let local = instant.seconds + Int64(offset)
            let days = CivilTime.floorDivide(local, 86_400)
            let secondOfDay = local - days * 86_400
            (year, month, day) = CivilTime.civil(fromDays: days)
            dayOfYear = days - CivilTime.days(fromYear: year, month: 1, day: 1) + 1
            weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday (4).
            hour = secondOfDay / 3600
            minute = secondOfDay % 3600 / 60
            second = secondOfDay % 60
            nanosecond = instant.nanosecond
        }
    }

    /// Go's `time.Time.String()` in UTC for an instant in ns since the epoch: `2023-11-14 22:13:20.123 +0000 UTC`.
    package static func string(_ nanoseconds: Int64) -> String { string(Instant(nanoseconds: nanoseconds)) }

    /// Go's `time.Time.String()` of `instant` in `zone`: `2023-11-14 23:13:20.123 +0100 CET`.
    package static func string(_ instant: Instant, zone: ZoneInfo.Kind = utc) -> String {
        format(instant, layout: "2006-01-02 15:04:05.999999999 -0700 MST", zone: zone)
    }

    /// Formats an instant in ns since the epoch with a Go layout, in UTC.
    package static func format(_ nanoseconds: Int64, layout: String) -> String { format(Instant(nanoseconds: nanoseconds), layout: layout) }

    private static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    private static let dayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    /// The name of a month (1…12) and of a weekday (0 = Sunday), as Go's `Month` and `Weekday` print.
    package static func monthName(_ month: Int64) -> String { monthNames[Int(month - 1)] }
    package static func weekdayName(_ weekday: Int64) -> String { dayNames[Int(weekday)] }

    /// The civil date and time of `instant` in a zone.
    package static func civil(_ instant: Instant, zone: ZoneInfo.Kind) -> Civil { Civil(instant, offset: zone.offset) }

    /// Formats `instant` with a Go layout in `zone` (offset and abbreviation), as `time.Time.Format` does.
    package static func format(_ instant: Instant, layout: String, zone: ZoneInfo.Kind = utc) -> String {
        let f = Civil(instant, offset: zone.offset)
        func pad(_ value: Int64, _ width: Int, _ fill: Character = "0") -> String {
            let text = String(value.magnitude)
            let padded = text.count >= width ? text : String(repeating: fill, count: width - text.count) + text
            return value < 0 ? "-" + padded : padded
        }
        /// `±hh[:]mm[[:]ss]`, or `Z` for UTC in the ISO 8601 forms.
        func offset(iso: Bool, colon: Bool, minutes: Bool, seconds: Bool) -> String {
            if iso && zone.offset == 0 { return "Z" }
            let magnitude = Int64(zone.offset.magnitude)
            var out = zone.offset < 0 ? "-" : "+"
            out += pad(magnitude / 3600, 2)
            if minutes { out += (colon ? ":" : "") + pad(magnitude / 60 % 60, 2) }
            if seconds { out += (colon ? ":" : "") + pad(magnitude % 60, 2) }
            return out
        }
        let hour12 = f.hour % 12 == 0 ? 12 : f.hour % 12
        let scalars = Array(layout.unicodeScalars)
        func startsLowercase(_ index: Int) -> Bool { index < scalars.count && ("a"..."z").contains(scalars[index]) }
        // Longest elements first where one is a prefix of another, as Go's layout scanner prefers them; `Jan` and
        // `Mon` only count when no lowercase letter follows (`Month` is text).
        let elements: [(String, (Int) -> String?)] = [
            ("January", { _ in monthNames[Int(f.month - 1)] }), ("Monday", { _ in dayNames[Int(f.weekday)] }),
            ("Jan", { startsLowercase($0) ? nil : String(monthNames[Int(f.month - 1)].prefix(3)) }),
            ("Mon", { startsLowercase($0) ? nil : String(dayNames[Int(f.weekday)].prefix(3)) }),
            ("MST", { _ in zone.abbreviation.isEmpty ? offset(iso: false, colon: false, minutes: true, seconds: false) : zone.abbreviation }),
            ("Z07:00:00", { _ in offset(iso: true, colon: true, minutes: true, seconds: true) }),
            ("-07:00:00", { _ in offset(iso: false, colon: true, minutes: true, seconds: true) }),
            ("Z070000", { _ in offset(iso: true, colon: false, minutes: true, seconds: true) }),
            ("-070000", { _ in offset(iso: false, colon: false, minutes: true, seconds: true) }),
            ("Z07:00", { _ in offset(iso: true, colon: true, minutes: true, seconds: false) }),
            ("-07:00", { _ in offset(iso: false, colon: true, minutes: true, seconds: false) }),
            ("Z0700", { _ in offset(iso: true, colon: false, minutes: true, seconds: false) }),
            ("-0700", { _ in offset(iso: false, colon: false, minutes: true, seconds: false) }),
            ("Z07", { _ in offset(iso: true, colon: false, minutes: false, seconds: false) }),
            ("-07", { _ in offset(iso: false, colon: false, minutes: false, seconds: false) }),
            ("2006", { _ in pad(f.year, 4) }), ("_2006", { _ in "_" + pad(f.year, 4) }),
            ("002", { _ in pad(f.dayOfYear, 3) }), ("__2", { _ in pad(f.dayOfYear, 3, " ") }),
            ("01", { _ in pad(f.month, 2) }), ("02", { _ in pad(f.day, 2) }), ("_2", { _ in pad(f.day, 2, " ") }),
            ("03", { _ in pad(hour12, 2) }), ("04", { _ in pad(f.minute, 2) }), ("05", { _ in pad(f.second, 2) }),
            ("06", { _ in pad(f.year % 100, 2) }), ("15", { _ in pad(f.hour, 2) }),
            ("PM", { _ in f.hour >= 12 ? "PM" : "AM" }), ("pm", { _ in f.hour >= 12 ? "pm" : "am" }),
            ("1", { _ in String(f.month) }), ("2", { _ in String(f.day) }), ("3", { _ in String(hour12) }), ("4", { _ in String(f.minute) }),
            ("5", { _ in String(f.second) }),
        ]
        var out = ""
        var index = 0
        outer: while index < scalars.count {
            // Fractional seconds: `.000…` (fixed) or `.999…` (trailing zeros and the separator dropped); `,` works too.
            let separator = scalars[index]
            if separator == "." || separator == ",", index + 1 < scalars.count, scalars[index + 1] == "0" || scalars[index + 1] == "9" {
                let digit = scalars[index + 1]
                var end = index + 1
                while end < scalars.count && scalars[end] == digit { end += 1 }
                if end >= scalars.count || !("0"..."9").contains(scalars[end]) {
                    var fraction = String(pad(f.nanosecond, 9).prefix(end - index - 1))
                    if digit == "9" {
                        while fraction.hasSuffix("0") { fraction.removeLast() }
                        if !fraction.isEmpty { out += String(separator) + fraction }
                    } else {
                        out += String(separator) + fraction
                    }
                    index = end
                    continue
                }
            }
            for (element, value) in elements {
                let elementScalars = element.unicodeScalars
                let end = index + elementScalars.count
                if end <= scalars.count, scalars[index..<end].elementsEqual(elementScalars), let text = value(end) {
                    out += text
                    index = end
                    continue outer
                }
            }
            out.unicodeScalars.append(scalars[index])
            index += 1
        }
        return out
    }

    /// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
    package static func duration(_ nanoseconds: Int64) -> String {
        if nanoseconds == 0 { return "0s" }
        let magnitude = nanoseconds.magnitude
        let sign = nanoseconds < 0 ? "-" : ""
        /// `whole.fraction` of `value / 10^digits`, trailing zeros of the fraction dropped.
        func decimal(_ value: UInt64, digits: Int) -> String {
            var divisor: UInt64 = 1
            for _ in 0..<digits { divisor *= 10 }
            var fraction = String(value % divisor)
            fraction = String(repeating: "0", count: digits - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            return String(value / divisor) + (fraction.isEmpty ? "" : "." + fraction)
        }
        if magnitude < 1000 { return sign + String(magnitude) + "ns" }
        if magnitude < 1_000_000 { return sign + decimal(magnitude, digits: 3) + "µs" }
        if magnitude < 1_000_000_000 { return sign + decimal(magnitude, digits: 6) + "ms" }
        let seconds = decimal(magnitude % 60_000_000_000, digits: 9) + "s"
        let minutes = magnitude / 60_000_000_000
        if minutes == 0 { return sign + seconds }
        if minutes < 60 { return sign + String(minutes) + "m" + seconds }
        return sign + String(minutes / 60) + "h" + String(minutes % 60) + "m" + seconds
    }
}
