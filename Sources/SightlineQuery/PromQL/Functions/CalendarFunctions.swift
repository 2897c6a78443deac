import SightlineCore

/// The kernels of PromQL's date functions (`year`, `month`, `day_of_week`, …): each takes a Unix time in seconds and
/// returns a calendar field in UTC.
///
/// As in Prometheus, the time is first truncated toward zero to whole seconds (Go's `int64(v)`). The proleptic
/// Gregorian calendar is computed with integer arithmetic (days since the epoch to civil date), so any time that fits
/// in 64-bit seconds works, including before 1970. NaN, the infinities and values outside the 64-bit range give NaN;
/// Go's conversion of such values is platform-dependent, so Prometheus' answer for them is arbitrary.
package enum CalendarFunctions {
    /// `minute(v)`: 0–59.
    package static func minute(_ seconds: Double) -> Double {
        field(seconds) { Double($0.secondOfDay / 60 % 60) }
    }

    /// `hour(v)`: 0–23.
    package static func hour(_ seconds: Double) -> Double {
        field(seconds) { Double($0.secondOfDay / 3600) }
    }

    /// `day_of_week(v)`: 0 (Sunday) – 6 (Saturday).
    package static func dayOfWeek(_ seconds: Double) -> Double {
        field(seconds) { Double($0.weekday) }
    }

    /// `day_of_month(v)`: 1–31.
    package static func dayOfMonth(_ seconds: Double) -> Double {
        field(seconds) { Double($0.day) }
    }

    /// `day_of_year(v)`: 1–365, or 366 in leap years.
    package static func dayOfYear(_ seconds: Double) -> Double {
        field(seconds) { date in
            let cumulative = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
            var day = cumulative[Int(date.month) - 1] + Int(date.day)
            if date.month > 2 && isLeapYear(date.year) { day += 1 }
            return Double(day)
        }
    }

    /// `days_in_month(v)`: 28–31.
    package static func daysInMonth(_ seconds: Double) -> Double {
        field(seconds) { Double(daysIn(month: $0.month, year: $0.year)) }
    }

    /// `month(v)`: 1 (January) – 12.
    package static func month(_ seconds: Double) -> Double {
        field(seconds) { Double($0.month) }
    }

    /// `year(v)`.
    package static func year(_ seconds: Double) -> Double {
        field(seconds) { Double($0.year) }
    }

    /// A UTC civil date and time of day.
    package struct CivilTime: Sendable, Hashable {
        /// The year (proleptic Gregorian, astronomical numbering).
        package var year: Int64
        /// 1–12.
        package var month: Int64
        /// 1–31.
        package var day: Int64
        /// 0 (Sunday) – 6.
        package var weekday: Int64
        /// 0–86399.
        package var secondOfDay: Int64
    }

    /// The UTC civil time of `seconds` since the Unix epoch.
    package static func civilTime(unixSeconds seconds: Int64) -> CivilTime {
        let days = SightlineCore.CivilTime.floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = SightlineCore.CivilTime.civil(fromDays: days)
        // 1970-01-01 was a Thursday.
        let weekday = SightlineCore.CivilTime.floorModulo(days + 4, 7)
        return CivilTime(year: year, month: month, day: day, weekday: weekday, secondOfDay: secondOfDay)
    }

    private static func field(_ seconds: Double, _ extract: (CivilTime) -> Double) -> Double {
        guard seconds.isFinite, seconds > -9.2e18, seconds < 9.2e18 else { return .nan }
        return extract(civilTime(unixSeconds: Int64(seconds.rounded(.towardZero))))
    }

    private static func isLeapYear(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
