package import SightlineCore

/// One entry of a named time interval, in Alertmanager's `time_intervals` syntax. Each non-empty field must hold for
/// a time to be inside; within a field any of the ranges may hold. Ranges are inclusive, except `times`, whose end
/// minute is exclusive.
package struct TimeIntervalSpec: Sendable {
    /// Minutes of the day, `[start, end)`.
    package var times: [NotifyIntRange] = []
    /// 0 = Sunday … 6 = Saturday.
    package var weekdays: [NotifyIntRange] = []
    /// 1…31, or negative counting from the month's end (-1 is the last day).
    package var daysOfMonth: [NotifyIntRange] = []
    /// 1…12.
    package var months: [NotifyIntRange] = []
    package var years: [NotifyIntRange] = []
    /// The time zone the fields are read in (`location`, as Go's `time.LoadLocation` finds it).
    package var location: ZoneInfo = .utc
    package init() {}

    /// Whether `ms` (since the epoch) is inside this interval.
    package func contains(ms: Int64) -> Bool {
        let local = ms + Int64(location.kind(atSecond: NotifyRFC3339.floorDiv(ms, 1000)).offset) * 1000
        let days = NotifyRFC3339.floorDiv(local, 86_400_000)
        let minute = Int((local - days * 86_400_000) / 60_000)
        let (year, month, day) = NotifyRFC3339.civil(fromDays: days)
        // 1970-01-01 was a Thursday (4).
        let weekday = Int(((days % 7) + 7 + 4) % 7)
        if !times.isEmpty, !times.contains(where: { minute >= $0.start && minute < $0.end }) { return false }
        if !weekdays.isEmpty, !weekdays.contains(where: { $0.contains(weekday) }) { return false }
        if !daysOfMonth.isEmpty {
            let monthDays = Self.daysIn(month: Int(month), year: Int(year))
            let matches = daysOfMonth.contains { range in
                let start = range.start < 0 ? monthDays + range.start + 1 : range.start
                let end = range.end < 0 ? monthDays + range.end + 1 : range.end
                return Int(day) >= start && Int(day) <= min(end, monthDays)
            }
            if !matches { return false }
        }
        if !months.isEmpty, !months.contains(where: { $0.contains(Int(month)) }) { return false }
        if !years.isEmpty, !years.contains(where: { $0.contains(Int(year)) }) { return false }
        return true
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static let weekdayNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    static let monthNames = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
    ]

    /// Parses `HH:MM` to minutes of the day (24:00 allowed as an end).
    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
            (0...24).contains(h), (0..<60).contains(m), h * 60 + m <= 1440
        else { return nil }
        return h * 60 + m
    }

    /// Parses `a` or `a:b` where each side is a name (from `names`, 0- or 1-based by `base`) or an integer.
    static func range(_ text: String, names: [String], base: Int, allowNegative: Bool, bounds: ClosedRange<Int>) -> NotifyIntRange? {
        let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false).map { String($0).notifyTrimmed }
        guard parts.count == 1 || parts.count == 2 else { return nil }
        func value(_ part: String) -> Int? {
            if let index = names.firstIndex(of: part) { return index + base }
            guard let number = Int(part) else { return nil }
            if allowNegative, number < 0, -number <= bounds.upperBound { return number }
            return bounds.contains(number) ? number : nil
        }
        guard let start = value(parts[0]), let end = value(parts.count == 2 ? parts[1] : parts[0]) else { return nil }
        if (start < 0) == (end < 0), start > end { return nil }
        if start < 0, end > 0 { return nil }
        return NotifyIntRange(start, end)
    }
}

/// An inclusive range of integers whose ends may be negative (days counted from a month's end), so `1:-1` is valid.
package struct NotifyIntRange: Sendable, Equatable {
    package var start: Int
    package var end: Int
    package init(_ start: Int, _ end: Int) {
        self.start = start
        self.end = end
    }
    /// Whether `value` is within the range.
    package func contains(_ value: Int) -> Bool { value >= start && value <= end }
}
