import Foundation
package import SightlineCore

/// A series as Graphite's render API computes with it: values on a fixed grid of `step` seconds from `start`,
/// `nil` where there is none, with the name functions build (`scale(servers.web1.cpu,2)`) and the tags.
package struct GraphiteSeries: Sendable, Equatable {
    /// How points are merged when a series is consolidated to fewer points (`maxDataPoints`, `consolidateBy`).
    package enum Consolidation: String, Sendable {
        case average, sum, min, max, first, last
    }

    package var name: String
    /// What combining functions name their result after: the path pattern the series was fetched with, or the name a
    /// transforming function gave it.
    package var pathExpression: String
    package var tags: [String: String]
    /// Unix seconds of the first point.
    package var start: Int64
    package var step: Int64
    package var values: [Double?]
    package var consolidation: Consolidation = .average

    package init(name: String, pathExpression: String? = nil, tags: [String: String] = [:], start: Int64, step: Int64, values: [Double?]) {
        self.name = name
        self.pathExpression = pathExpression ?? name
        self.tags = tags.isEmpty ? ["name": name] : tags
        self.start = start
        self.step = step
        self.values = values
    }

    /// The time of point `index`.
    package func time(_ index: Int) -> Int64 { start + Int64(index) * step }

    /// The series renamed by a transforming function: `name` and path expression both.
    func renamed(_ name: String) -> GraphiteSeries {
        var copy = self
        copy.name = name
        copy.pathExpression = name
        return copy
    }

    /// `values` merged `count` points at a time by ``consolidation`` (points with no value left out; none: nil).
    package func consolidated(by count: Int) -> GraphiteSeries {
        guard count > 1 else { return self }
        var copy = self
        copy.step = step * Int64(count)
        copy.values = stride(from: 0, to: values.count, by: count).map { index in
            Self.aggregate(values[index..<min(index + count, values.count)].compactMap { $0 }, consolidation)
        }
        return copy
    }

    static func aggregate(_ present: [Double], _ how: Consolidation) -> Double? {
        guard let first = present.first, let last = present.last else { return nil }
        switch how {
        case .average: return present.reduce(0, +) / Double(present.count)
        case .sum: return present.reduce(0, +)
        case .min: return present.min()
        case .max: return present.max()
        case .first: return first
        case .last: return last
        }
    }

    /// The series' name as Graphite writes a tagged series: the metric name, then `;tag=value` sorted by tag.
    package static func name(of labels: Labels) -> String {
        var name = labels.metricName
        for label in labels.labels where label.name != Labels.metricName {
            name += ";" + label.name + "=" + label.value
        }
        return name
    }

    /// The tags of a stored series: its labels, `__name__` as `name`.
    package static func tags(of labels: Labels) -> [String: String] {
        var tags: [String: String] = [:]
        for label in labels.labels { tags[label.name == Labels.metricName ? "name" : label.name] = label.value }
        return tags
    }
}

/// Graphite's `from`/`until` and interval strings.
package enum GraphiteTime {
    /// Seconds in a Graphite time unit (`s`, `min`, `h`, `d`, `w`, `mon` = 30 d, `y` = 365 d and their long forms).
    static func unitSeconds(_ unit: String) -> Int64? {
        switch unit.lowercased() {
        case "s", "sec", "secs", "second", "seconds": 1
        case "min", "mins", "minute", "minutes": 60
        case "h", "hour", "hours": 3600
        case "d", "day", "days": 86400
        case "w", "week", "weeks": 604_800
        case "mon", "month", "months": 2_592_000
        case "y", "year", "years": 31_536_000
        default: nil
        }
    }

    /// `1h`, `-10min`, `+2d`: signed seconds (unsigned means positive).
    /// - Throws: `invalidArgument` naming the text.
    package static func interval(_ text: String) throws -> Int64 {
        var body = Substring(text.trimmingCharacters(in: .whitespaces))
        var sign: Int64 = 1
        if body.hasPrefix("-") {
            sign = -1
            body = body.dropFirst()
        } else if body.hasPrefix("+") {
            body = body.dropFirst()
        }
        let digits = body.prefix { $0.isNumber }
        guard let count = Int64(digits), let unit = unitSeconds(String(body.dropFirst(digits.count))) else {
            throw SightlineError(.invalidArgument, "invalid interval \"\(text)\": use a number and a unit such as 10min, 1h, 2d")
        }
        return sign * count * unit
    }

    /// A `from`/`until` value as Unix seconds: `now`, Unix seconds, a relative `-1h` or `now-1h`, `HH:MM_YYYYMMDD` or
    /// `YYYYMMDD` (UTC).
    /// - Throws: `invalidArgument` naming the parameter and the text.
    package static func parse(_ text: String, parameter: String, now: Int64) throws -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func invalid() -> SightlineError {
            SightlineError(.invalidArgument, "invalid \(parameter) \"\(text)\": use now, Unix seconds, -1h, HH:MM_YYYYMMDD or YYYYMMDD")
        }
        if trimmed == "now" { return now }
        if trimmed.hasPrefix("now") {
            guard let offset = try? interval(String(trimmed.dropFirst(3))) else { throw invalid() }
            return now + offset
        }
        if trimmed.hasPrefix("-") || trimmed.hasPrefix("+") {
            guard let offset = try? interval(trimmed) else { throw invalid() }
            return now + offset
        }
        if trimmed.count == 8, let day = civilDay(trimmed) { return day }
        if trimmed.count == 14, trimmed.dropFirst(2).first == ":", trimmed.dropFirst(5).first == "_",
            let hour = Int64(trimmed.prefix(2)), let minute = Int64(trimmed.dropFirst(3).prefix(2)), hour < 24, minute < 60,
            let day = civilDay(String(trimmed.suffix(8)))
        {
            return day + hour * 3600 + minute * 60
        }
        if trimmed.allSatisfy({ $0.isNumber }), let seconds = Int64(trimmed) { return seconds }
        throw invalid()
    }

    /// `YYYYMMDD` as Unix seconds at midnight UTC.
    private static func civilDay(_ text: String) -> Int64? {
        guard text.count == 8, text.allSatisfy({ $0.isNumber }), let year = Int(text.prefix(4)), let month = Int(text.dropFirst(4).prefix(2)),
            let day = Int(text.suffix(2)), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        return CivilTime.days(fromYear: Int64(year), month: Int64(month), day: Int64(day)) * 86400
    }
}
