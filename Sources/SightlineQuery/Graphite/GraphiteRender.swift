import Foundation
package import SightlineCore

/// Evaluates Graphite render targets over the metric store, as graphite-web's `/render` does.
///
/// A path expression selects the series whose name (`__name__`) its glob matches (``GraphiteGlob``);
/// `seriesByTag('tag=value', …)` selects by labels. Raw samples are put on a grid of ``storageStep`` seconds
/// (Graphite's storage resolution, which raw samples do not have): a point holds the last sample in
/// `[t, t + step)`. Functions are graphite-web's, with its names for the series they make; ``functions`` lists them.
package struct GraphiteRender: Sendable {
    package let querier: any MetricQuerier
    package let tenant: Tenant
    /// Unix seconds, `[from, until]`.
    package let from: Int64
    package let until: Int64
    package let storageStep: Int64

    package init(querier: any MetricQuerier, tenant: Tenant, from: Int64, until: Int64, storageStep: Int64) {
        self.querier = querier
        self.tenant = tenant
        self.from = from
        self.until = until
        self.storageStep = max(1, storageStep)
    }

    /// The functions ``evaluate(_:)`` knows.
    package static let functions: Set<String> = [
        "sumSeries", "sum", "averageSeries", "avg", "maxSeries", "minSeries", "diffSeries", "multiplySeries", "divideSeries",
        "rangeSeries", "countSeries", "group", "scale", "offset", "absolute", "transformNull", "keepLastValue",
        "removeAboveValue", "removeBelowValue", "derivative", "nonNegativeDerivative", "perSecond", "integral", "log",
        "invert", "movingAverage", "movingSum", "movingMin", "movingMax", "movingMedian", "timeShift", "summarize",
        "alias", "aliasByNode", "aliasByMetric", "aliasSub", "limit", "exclude", "grep", "highestCurrent", "highestMax",
        "highestAverage", "lowestCurrent", "lowestAverage", "currentAbove", "currentBelow", "averageAbove",
        "averageBelow", "maximumAbove", "maximumBelow", "minimumAbove", "minimumBelow", "sortByName", "sortByTotal",
        "sortByMaxima", "sortByMinima", "groupByNode", "groupByNodes", "constantLine", "asPercent", "consolidateBy",
        "seriesByTag", "color", "lineWidth", "alpha", "dashed", "secondYAxis", "stacked", "cactiStyle", "legendValue",
    ]

    /// Evaluates one target.
    /// - Throws: `invalidArgument` for an unknown function or a wrong argument, naming them; store errors.
    package func evaluate(_ target: GraphiteTarget) throws -> [GraphiteSeries] {
        switch target {
        case .path(let pattern): return try fetch(pattern)
        case .call(let name, let arguments, let keywords): return try call(name, arguments, keywords)
        case .number, .string, .bool:
            throw SightlineError(.invalidArgument, "target \(target) is not a series: use a path or a function")
        }
    }

    // MARK: Fetching

    /// The grid of this render: the first point and how many (graphite-web's whisper intervals).
    private var grid: (start: Int64, count: Int) {
        let start = from - CivilTime.floorModulo(from, storageStep) + storageStep
        let end = until - CivilTime.floorModulo(until, storageStep) + storageStep
        return (start, max(0, Int((end - start) / storageStep)))
    }

    private func fetch(_ pattern: String) throws -> [GraphiteSeries] {
        let matcher = try GraphiteGlob.isLiteral(pattern)
            ? LabelMatcher(Labels.metricName, .equal, pattern) : LabelMatcher(Labels.metricName, .regexMatch, GraphiteGlob.regex(pattern))
        return try fetch([matcher], pathExpression: pattern)
    }

    private func fetch(_ matchers: [LabelMatcher], pathExpression: String) throws -> [GraphiteSeries] {
        let (start, count) = grid
        let end = start + Int64(count) * storageStep
        let selected = try querier.select(tenant: tenant, matchers: matchers, startMs: start * 1000, endMs: end * 1000 - 1)
        return selected.map { series in
            var values = [Double?](repeating: nil, count: count)
            for (ms, value) in zip(series.timestampsMs, series.values) where !value.isNaN {
                let index = Int((CivilTime.floorDivide(ms, 1000) - start) / storageStep)
                if index >= 0 && index < count { values[index] = value }
            }
            return GraphiteSeries(
                name: GraphiteSeries.name(of: series.labels), pathExpression: pathExpression, tags: GraphiteSeries.tags(of: series.labels),
                start: start, step: storageStep, values: values)
        }.sorted { $0.name < $1.name }
    }

    /// The same render over a window moved by `seconds` (negative: earlier), or started earlier by `earlier` seconds.
    private func shifted(by seconds: Int64 = 0, startingEarlier earlier: Int64 = 0) -> GraphiteRender {
        GraphiteRender(querier: querier, tenant: tenant, from: from + seconds - earlier, until: until + seconds, storageStep: storageStep)
    }

    // MARK: Arguments

    private struct Arguments {
        let function: String
        let positional: [GraphiteTarget]
        let keywords: [(String, GraphiteTarget)]

        func argument(_ index: Int, _ keyword: String) -> GraphiteTarget? {
            if index < positional.count { return positional[index] }
            return keywords.first { $0.0 == keyword }?.1
        }

        func error(_ message: String) -> SightlineError { SightlineError(.invalidArgument, "\(function): \(message)") }

        func number(_ index: Int, _ keyword: String, default value: Double? = nil) throws -> Double {
            switch argument(index, keyword) {
            case .number(let number): return number
            case .string(let text), .path(let text): if let number = Double(text) { return number }
            case nil: if let value { return value }
            default: break
            }
            throw error("argument \(keyword) must be a number")
        }

        func optionalNumber(_ index: Int, _ keyword: String) throws -> Double? {
            guard let value = argument(index, keyword) else { return nil }
            if case .path("None") = value { return nil }
            return try number(index, keyword)
        }

        func string(_ index: Int, _ keyword: String, default value: String? = nil) throws -> String {
            switch argument(index, keyword) {
            case .string(let text), .path(let text): return text
            case .number(let number): return GraphiteTarget.format(number)
            case nil: if let value { return value }
            default: break
            }
            throw error("argument \(keyword) must be a string")
        }

        func bool(_ index: Int, _ keyword: String, default value: Bool) throws -> Bool {
            switch argument(index, keyword) {
            case .bool(let flag): return flag
            case .number(let number): return number != 0
            case nil: return value
            default: throw error("argument \(keyword) must be true or false")
            }
        }
    }

    private func series(_ target: GraphiteTarget?, _ arguments: Arguments) throws -> [GraphiteSeries] {
        guard let target else { throw arguments.error("a series list is missing") }
        return try evaluate(target)
    }

    /// Every positional argument from `index` on, evaluated and concatenated (functions taking `*seriesLists`).
    private func seriesLists(from index: Int, _ arguments: Arguments) throws -> [GraphiteSeries] {
        try arguments.positional.dropFirst(index).flatMap { try evaluate($0) }
    }

    // MARK: Functions

    private func call(_ function: String, _ positional: [GraphiteTarget], _ keywords: [(String, GraphiteTarget)]) throws -> [GraphiteSeries] {
        let arguments = Arguments(function: function, positional: positional, keywords: keywords)
        func first() throws -> [GraphiteSeries] { try series(arguments.argument(0, "seriesList"), arguments) }
        func map(_ rename: (GraphiteSeries) -> String, _ transform: ([Double?], GraphiteSeries) -> [Double?]) throws -> [GraphiteSeries] {
            try first().map { series in
                var out = series.renamed(rename(series))
                out.values = transform(series.values, series)
                return out
            }
        }
        func pointwise(_ rename: (GraphiteSeries) -> String, _ transform: @escaping (Double) -> Double?) throws -> [GraphiteSeries] {
            try map(rename) { values, _ in values.map { $0.flatMap(transform) } }
        }
        switch function {
        // `sum` and `avg` are aliases: their series are named as the long forms name theirs.
        case "sumSeries", "sum": return try combine("sumSeries", try seriesLists(from: 0, arguments), Self.aggregates["sum"]!)
        case "averageSeries", "avg": return try combine("averageSeries", try seriesLists(from: 0, arguments), Self.aggregates["average"]!)
        case "maxSeries": return try combine(function, try seriesLists(from: 0, arguments), Self.aggregates["max"]!)
        case "minSeries": return try combine(function, try seriesLists(from: 0, arguments), Self.aggregates["min"]!)
        case "rangeSeries": return try combine(function, try seriesLists(from: 0, arguments), Self.aggregates["range"]!)
        case "diffSeries":
            return try combine(function, try seriesLists(from: 0, arguments)) { $0.isEmpty ? nil : $0.dropFirst().reduce($0[0], -) }
        case "multiplySeries":
            return try combine(function, try seriesLists(from: 0, arguments), keepNil: true) { values in
                values.contains(nil) ? nil : values.reduce(1) { $0 * $1! }
            }
        case "countSeries":
            let all = try seriesLists(from: 0, arguments)
            return try combine(function, all, keepNil: true) { _ in Double(all.count) }
        case "group": return try seriesLists(from: 0, arguments)
        case "divideSeries":
            let dividends = try first()
            let divisors = try series(arguments.argument(1, "divisorSeries"), arguments)
            guard divisors.count == 1, let divisor = divisors.first else {
                throw arguments.error("the divisor must be exactly one series, got \(divisors.count)")
            }
            return try dividends.map { dividend in
                let (a, b) = try Self.aligned(dividend, divisor)
                var out = a.renamed("divideSeries(\(dividend.name),\(divisor.name))")
                out.values = zip(a.values, b.values).map { x, y in
                    guard let x, let y, y != 0 else { return nil }
                    return x / y
                }
                return out
            }
        case "scale":
            let factor = try arguments.number(1, "factor")
            return try pointwise({ "scale(\($0.name),\(GraphiteTarget.format(factor)))" }) { $0 * factor }
        case "offset":
            let factor = try arguments.number(1, "factor")
            return try pointwise({ "offset(\($0.name),\(GraphiteTarget.format(factor)))" }) { $0 + factor }
        case "absolute": return try pointwise({ "absolute(\($0.name))" }) { abs($0) }
        case "invert": return try pointwise({ "invert(\($0.name))" }) { $0 == 0 ? nil : 1 / $0 }
        case "log":
            let base = try arguments.number(1, "base", default: 10)
            return try pointwise({ "log(\($0.name), \(GraphiteTarget.format(base)))" }) { $0 <= 0 ? nil : Foundation.log($0) / Foundation.log(base) }
        case "removeAboveValue":
            let n = try arguments.number(1, "n")
            return try pointwise({ "removeAboveValue(\($0.name), \(GraphiteTarget.format(n)))" }) { $0 > n ? nil : $0 }
        case "removeBelowValue":
            let n = try arguments.number(1, "n")
            return try pointwise({ "removeBelowValue(\($0.name), \(GraphiteTarget.format(n)))" }) { $0 < n ? nil : $0 }
        case "transformNull":
            let value = try arguments.number(1, "default", default: 0)
            return try map({ "transformNull(\($0.name),\(GraphiteTarget.format(value)))" }) { values, _ in values.map { $0 ?? value } }
        case "keepLastValue":
            let limit = try arguments.number(1, "limit", default: .infinity)
            return try map({ "keepLastValue(\($0.name))" }) { values, _ in Self.keepLast(values, limit: limit) }
        case "derivative":
            return try map({ "derivative(\($0.name))" }) { values, _ in Self.deltas(values) { $1 - $0 } }
        case "nonNegativeDerivative", "perSecond":
            let maxValue = try arguments.optionalNumber(1, "maxValue")
            return try map({ "\(function)(\($0.name))" }) { values, series in
                Self.deltas(values) { previous, current in
                    var delta = current - previous
                    if delta < 0 {
                        guard let maxValue, maxValue >= current else { return nil }
                        delta = maxValue - previous + current + 1
                    }
                    return function == "perSecond" ? delta / Double(series.step) : delta
                }
            }
        case "integral":
            return try map({ "integral(\($0.name))" }) { values, _ in
                var total = 0.0
                return values.map { value in
                    guard let value else { return nil }
                    total += value
                    return total
                }
            }
        case "movingAverage", "movingSum", "movingMin", "movingMax", "movingMedian":
            return try moving(function, arguments)
        case "timeShift":
            let text = try arguments.string(1, "timeShift")
            let offset = try GraphiteTime.interval(text.hasPrefix("+") || text.hasPrefix("-") ? text : "-" + text)
            return try shifted(by: offset).series(arguments.argument(0, "seriesList"), arguments).map { series in
                var out = series.renamed("timeShift(\(series.name), \"\(text)\")")
                out.start -= offset
                return out
            }
        case "summarize": return try summarize(arguments)
        case "consolidateBy":
            let how = try arguments.string(1, "consolidationFunc")
            guard let consolidation = GraphiteSeries.Consolidation(rawValue: how == "avg" ? "average" : how) else {
                throw arguments.error("unknown consolidation function \"\(how)\": use average, sum, min, max, first or last")
            }
            return try first().map { series in
                var out = series.renamed("consolidateBy(\(series.name),\"\(how)\")")
                out.consolidation = consolidation
                return out
            }
        case "alias":
            let name = try arguments.string(1, "newName")
            return try first().map { series in
                var out = series
                out.name = name
                return out
            }
        case "aliasByNode":
            let nodes = try arguments.positional.dropFirst().enumerated().map { index, _ in Int(try arguments.number(index + 1, "nodes")) }
            return try first().map { series in
                var out = series
                out.name = Self.nodes(of: series.name, nodes)
                return out
            }
        case "aliasByMetric":
            return try first().map { series in
                var out = series
                out.name = Self.path(of: series.name).split(separator: ".", omittingEmptySubsequences: false).last.map(String.init) ?? series.name
                return out
            }
        case "aliasSub":
            let search = try arguments.string(1, "search")
            let replace = try arguments.string(2, "replace")
            let regex: Regex<AnyRegexOutput>
            do { regex = try Regex(search) } catch { throw arguments.error("invalid regular expression \"\(search)\"") }
            let template = replace.replacing(#/\\(\d)/#) { "$" + $0.output.1 }
            return try first().map { series in
                var out = series
                out.name = Self.substitute(regex, in: series.name, with: template)
                return out
            }
        case "limit":
            let n = Int(try arguments.number(1, "n"))
            return Array(try first().prefix(max(0, n)))
        case "exclude", "grep":
            let pattern = try arguments.string(1, "pattern")
            let regex: Regex<AnyRegexOutput>
            do { regex = try Regex(pattern) } catch { throw arguments.error("invalid regular expression \"\(pattern)\"") }
            return try first().filter { ((try? regex.firstMatch(in: $0.name)) != nil) == (function == "grep") }
        case "highestCurrent", "highestMax", "highestAverage", "lowestCurrent", "lowestAverage":
            let n = Int(try arguments.number(1, "n", default: 1))
            let measure = Self.aggregates[function.hasSuffix("Current") ? "last" : function.hasSuffix("Max") ? "max" : "average"]!
            let ranked = try first().map { ($0, measure($0.values.compactMap { $0 })) }.filter { $0.1 != nil }
            let sorted = ranked.sorted { function.hasPrefix("highest") ? $0.1! > $1.1! : $0.1! < $1.1! }
            return sorted.prefix(max(0, n)).map(\.0)
        case "currentAbove", "currentBelow", "averageAbove", "averageBelow", "maximumAbove", "maximumBelow", "minimumAbove", "minimumBelow":
            let n = try arguments.number(1, "n")
            let measure = Self.aggregates[["current": "last", "average": "average", "maximum": "max"][function.prefix(while: { $0.isLowercase })] ?? "min"]!
            let above = function.hasSuffix("Above")
            return try first().filter { series in
                guard let value = measure(series.values.compactMap { $0 }) else { return false }
                return above ? value > n : value < n
            }
        case "sortByName":
            let reverse = try arguments.bool(2, "reverse", default: false)
            let sorted = try first().sorted { $0.name < $1.name }
            return reverse ? sorted.reversed() : sorted
        case "sortByTotal", "sortByMaxima", "sortByMinima":
            let measure: ([Double]) -> Double = function == "sortByTotal" ? { $0.reduce(0, +) } : function == "sortByMaxima" ? { $0.max() ?? -.infinity } : { $0.min() ?? .infinity }
            let keyed = try first().map { ($0, measure($0.values.compactMap { $0 })) }
            return (function == "sortByMinima" ? keyed.sorted { $0.1 < $1.1 } : keyed.sorted { $0.1 > $1.1 }).map(\.0)
        case "groupByNode", "groupByNodes":
            let nodes: [Int]
            let callback: String
            if function == "groupByNode" {
                nodes = [Int(try arguments.number(1, "nodeNum"))]
                callback = try arguments.string(2, "callback", default: "average")
            } else {
                callback = try arguments.string(1, "callback")
                nodes = try arguments.positional.dropFirst(2).enumerated().map { index, _ in Int(try arguments.number(index + 2, "nodes")) }
            }
            guard let aggregate = Self.aggregates[callback] else { throw arguments.error("unknown callback \"\(callback)\"") }
            var groups: [String: [GraphiteSeries]] = [:]
            var order: [String] = []
            for series in try first() {
                let key = Self.nodes(of: series.name, nodes)
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(series)
            }
            return try order.flatMap { key in
                try combine(callback, groups[key]!, aggregate).map { series in
                    var out = series.renamed(key)
                    out.tags["name"] = key
                    return out
                }
            }
        case "constantLine":
            let value = try arguments.number(0, "value")
            let name = GraphiteTarget.format(value)
            return [GraphiteSeries(name: name, start: from, step: max(1, (until - from) / 2), values: [value, value, value])]
        case "asPercent": return try asPercent(arguments)
        case "seriesByTag":
            let expressions = try arguments.positional.indices.map { try arguments.string($0, "tagExpressions") }
            guard !expressions.isEmpty else { throw arguments.error("at least one tag expression is required") }
            let matchers = try expressions.map { try Self.tagMatcher($0) }
            let path = "seriesByTag(" + expressions.map { "'\($0)'" }.joined(separator: ",") + ")"
            return try fetch(matchers, pathExpression: path)
        case "color", "lineWidth", "alpha", "dashed", "secondYAxis", "stacked", "cactiStyle", "legendValue":
            return try first()  // drawing options: the data is unchanged
        default:
            throw SightlineError(.invalidArgument, "unknown function \(function)(); Sightline's render API has \(Self.functions.count) of graphite-web's functions (see the README)")
        }
    }

    /// graphite-web's aggregation callbacks by name.
    private static let aggregates: [String: @Sendable ([Double]) -> Double?] = [
        "average": { GraphiteSeries.aggregate($0, .average) }, "avg": { GraphiteSeries.aggregate($0, .average) },
        "sum": { GraphiteSeries.aggregate($0, .sum) }, "total": { GraphiteSeries.aggregate($0, .sum) },
        "max": { GraphiteSeries.aggregate($0, .max) }, "min": { GraphiteSeries.aggregate($0, .min) }, "count": { Double($0.count) },
        "median": { values in
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        },
        "range": { $0.isEmpty ? nil : $0.max()! - $0.min()! }, "last": { GraphiteSeries.aggregate($0, .last) }, "first": { GraphiteSeries.aggregate($0, .first) },
    ]

    /// One series from many, point by point over the values present (`aggregate` gets them); named after the inputs'
    /// path expressions, as graphite-web does.
    private func combine(
        _ function: String, _ series: [GraphiteSeries], keepNil: Bool = false, _ aggregate: ([Double?]) -> Double?
    ) throws -> [GraphiteSeries] {
        guard let head = series.first else { return [] }
        let aligned = try series.map { try Self.aligned($0, head).0 }
        var expressions: [String] = []
        for one in series where !expressions.contains(one.pathExpression) { expressions.append(one.pathExpression) }
        let name = "\(function)(\(expressions.joined(separator: ",")))"
        var out = aligned[0].renamed(name)
        var tags = head.tags
        for one in series { tags = tags.filter { one.tags[$0.key] == $0.value } }
        tags["name"] = tags["name"] ?? name
        out.tags = tags
        out.values = (0..<aligned[0].values.count).map { index in
            let column = aligned.map { index < $0.values.count ? $0.values[index] : nil }
            return keepNil ? aggregate(column) : aggregate(column.compactMap { $0 }.map { Optional($0) })
        }
        return [out]
    }

    private func combine(_ function: String, _ series: [GraphiteSeries], _ aggregate: @escaping ([Double]) -> Double?) throws -> [GraphiteSeries] {
        try combine(function, series) { aggregate($0.compactMap { $0 }) }
    }

    /// `a` on `b`'s grid when their steps differ (both consolidated to the larger step's multiple); the same series
    /// otherwise.
    private static func aligned(_ a: GraphiteSeries, _ b: GraphiteSeries) throws -> (GraphiteSeries, GraphiteSeries) {
        guard a.step != b.step else { return (a, b) }
        let step = lcm(a.step, b.step)
        return (a.consolidated(by: Int(step / a.step)), b.consolidated(by: Int(step / b.step)))
    }

    private static func lcm(_ a: Int64, _ b: Int64) -> Int64 {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        return a / x * b
    }

    private static func keepLast(_ values: [Double?], limit: Double) -> [Double?] {
        var out = values
        var last: Double?
        var gapStart = 0
        for index in values.indices {
            if let value = values[index] {
                if let last, index > gapStart, Double(index - gapStart) <= limit {
                    for fill in gapStart..<index { out[fill] = last }
                }
                last = value
                gapStart = index + 1
            }
        }
        // A gap at the end is filled too, as graphite-web does.
        if let last, gapStart < values.count, Double(values.count - gapStart) <= limit {
            for fill in gapStart..<values.count { out[fill] = last }
        }
        return out
    }

    /// `combine(previous, current)` for each point after one with a value; nil where either is missing.
    private static func deltas(_ values: [Double?], _ combine: (Double, Double) -> Double?) -> [Double?] {
        var previous: Double?
        return values.map { value in
            defer { previous = value }
            guard let value, let previous else { return nil }
            return combine(previous, value)
        }
    }

    private func moving(_ function: String, _ arguments: Arguments) throws -> [GraphiteSeries] {
        guard let window = arguments.argument(1, "windowSize") else { throw arguments.error("windowSize is missing") }
        let points: Int
        let label: String
        switch window {
        case .number(let count):
            guard count >= 1 else { throw arguments.error("windowSize must be at least 1") }
            points = Int(count)
            label = GraphiteTarget.format(count)
        case .string(let text), .path(let text):
            let seconds = abs(try GraphiteTime.interval(text))
            points = max(1, Int(seconds / storageStep))
            label = "\"\(text)\""
        default: throw arguments.error("windowSize must be a number of points or an interval such as \"5min\"")
        }
        let aggregate: ([Double]) -> Double? = switch function {
        case "movingSum": Self.aggregates["sum"]!
        case "movingMin": Self.aggregates["min"]!
        case "movingMax": Self.aggregates["max"]!
        case "movingMedian": Self.aggregates["median"]!
        default: Self.aggregates["average"]!
        }
        // The window before the first point is fetched too, so the first points have a full window.
        let extended = try shifted(startingEarlier: Int64(points) * storageStep).series(arguments.argument(0, "seriesList"), arguments)
        return extended.map { series in
            let lead = Int((grid.start - series.start) / series.step)
            var out = series.renamed("\(function)(\(series.name),\(label))")
            out.start = series.start + Int64(max(0, lead)) * series.step
            // The window ends at the point itself, as graphite-web 1.1.10 takes it (earlier versions stopped before it).
            out.values = (max(0, lead)..<series.values.count).map { index in
                aggregate(series.values[max(0, index - points + 1)...index].compactMap { $0 })
            }
            return out
        }
    }

    private func summarize(_ arguments: Arguments) throws -> [GraphiteSeries] {
        let text = try arguments.string(1, "intervalString")
        let interval = abs(try GraphiteTime.interval(text))
        let how = try arguments.string(2, "func", default: "sum")
        let alignToFrom = try arguments.bool(3, "alignToFrom", default: false)
        guard interval > 0 else { throw arguments.error("the interval \"\(text)\" must be longer than 0") }
        guard let aggregate = Self.aggregates[how] else { throw arguments.error("unknown function \"\(how)\"") }
        return try series(arguments.argument(0, "seriesList"), arguments).map { series in
            let first = alignToFrom ? series.start : series.start - CivilTime.floorModulo(series.start, interval)
            // graphite-web's last bucket starts at the interval holding the series' end, even one the end opens.
            let end = series.time(series.values.count)
            let last = alignToFrom ? first + (end - first + interval - 1) / interval * interval : end - CivilTime.floorModulo(end, interval) + interval
            var buckets: [[Double]] = Array(repeating: [], count: Int((last - first) / interval))
            for (index, value) in series.values.enumerated() {
                guard let value else { continue }
                let bucket = Int((series.time(index) - first) / interval)
                if bucket >= 0 && bucket < buckets.count { buckets[bucket].append(value) }
            }
            var out = series.renamed("summarize(\(series.name), \"\(text)\", \"\(how)\"\(alignToFrom ? ", true" : ""))")
            out.start = first
            out.step = interval
            out.values = buckets.map { $0.isEmpty ? nil : aggregate($0) }
            return out
        }
    }

    private func asPercent(_ arguments: Arguments) throws -> [GraphiteSeries] {
        let all = try series(arguments.argument(0, "seriesList"), arguments)
        let total: GraphiteSeries?
        var totalName: String
        switch arguments.argument(1, "total") {
        case .number(let number)?:
            return all.map { series in
                var out = series.renamed("asPercent(\(series.name),\(GraphiteTarget.format(number)))")
                out.values = series.values.map { $0.map { $0 / number * 100 } }
                return out
            }
        case nil, .path("None")?:
            total = try combine("sumSeries", all, Self.aggregates["sum"]!).first
            totalName = total?.name ?? ""
        case let target?:
            let totals = try evaluate(target)
            guard totals.count == 1 else { throw arguments.error("total must be one series, got \(totals.count)") }
            total = totals[0]
            totalName = totals[0].name
        }
        guard let total else { return [] }
        return try all.map { series in
            let (a, b) = try Self.aligned(series, total)
            var out = a.renamed("asPercent(\(series.name),\(totalName))")
            out.values = zip(a.values, b.values).map { value, whole in
                guard let value, let whole, whole != 0 else { return nil }
                return value / whole * 100
            }
            return out
        }
    }

    /// The path inside a name functions wrapped (`scale(a.b.c,2)` → `a.b.c`), without tags.
    static func path(of name: String) -> String {
        var text = Substring(name)
        if let open = text.lastIndex(of: "(") { text = text[text.index(after: open)...] }
        if let end = text.firstIndex(where: { $0 == "," || $0 == ")" }) { text = text[..<end] }
        if let semicolon = text.firstIndex(of: ";") { text = text[..<semicolon] }
        return String(text)
    }

    /// Nodes of the path (negative counts from the end) joined by `.`.
    static func nodes(of name: String, _ indices: [Int]) -> String {
        let parts = path(of: name).split(separator: ".", omittingEmptySubsequences: false)
        return indices.compactMap { index in
            let position = index < 0 ? parts.count + index : index
            return position >= 0 && position < parts.count ? String(parts[position]) : nil
        }.joined(separator: ".")
    }

    private static func substitute(_ regex: Regex<AnyRegexOutput>, in text: String, with template: String) -> String {
        text.replacing(regex) { match in
            var out = template
            for index in stride(from: match.output.count - 1, through: 0, by: -1) {
                let group = match.output[index].substring.map(String.init) ?? ""
                out = out.replacingOccurrences(of: "$\(index)", with: group)
            }
            return out
        }
    }

    /// A `seriesByTag` expression: `tag=value`, `tag!=value`, `tag=~regex`, `tag!=~regex` (`name` is the metric name;
    /// regexes are anchored at the start, as in Graphite).
    package static func tagMatcher(_ expression: String) throws -> LabelMatcher {
        for (token, kind) in [("!=~", LabelMatcher.Kind.regexNoMatch), ("=~", .regexMatch), ("!=", .notEqual), ("=", .equal)] {
            guard let range = expression.range(of: token) else { continue }
            let tag = String(expression[..<range.lowerBound])
            let value = String(expression[range.upperBound...])
            guard !tag.isEmpty else { break }
            let name = tag == "name" ? Labels.metricName : tag
            switch kind {
            case .regexMatch, .regexNoMatch: return try LabelMatcher(name, kind, "(?:\(value)).*")
            default: return try LabelMatcher(name, kind, value)
            }
        }
        throw SightlineError(.invalidArgument, "invalid tag expression \"\(expression)\": use tag=value, tag!=value, tag=~regex or tag!=~regex")
    }
}
