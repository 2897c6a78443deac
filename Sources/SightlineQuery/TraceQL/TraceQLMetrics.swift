#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
package import SightlineCore

/// The time intervals a TraceQL metrics query counts spans in, as Tempo's range queries lay them out: intervals of
/// `step` that end on multiples of `step` (since the epoch), closed on the right, `(t - step, t]`, from the one that
/// holds the requested start to the one that holds the requested end, and one more before them (Tempo's frontend
/// adds it). A span counts in the interval that holds its start. An instant query has one interval, `(start, end]`.
package struct TraceQLMetricsWindow: Hashable, Sendable {
    /// The exclusive start of the first interval.
    package let startNano: UInt64
    package let stepNano: UInt64
    package let count: Int

    /// The intervals of a range query.
    /// - Throws: `invalidArgument` when `end` is not after `start`, the step is 0, or there would be more than
    ///   `maxIntervals` intervals.
    package init(rangeFrom start: UInt64, to end: UInt64, step: UInt64, maxIntervals: Int = 10_000) throws {
        guard end > start else { throw SightlineError(.invalidArgument, "end must be greater than start") }
        guard step > 0 else { throw SightlineError(.invalidArgument, "step must be positive") }
        // The last interval ends at or after `end`, and the scan reads one nanosecond past it: both must fit.
        guard end <= UInt64.max - step - 1 else { throw SightlineError(.invalidArgument, "end is out of range") }
        let first = start / step * step
        let last = end % step == 0 ? end : (end / step + 1) * step
        let intervals = (last - first) / step + 1
        guard intervals <= UInt64(maxIntervals) else {
            let minimum = (end - start + UInt64(maxIntervals) - 1) / UInt64(maxIntervals)
            throw SightlineError(
                .invalidArgument,
                "step of \(GoTime.duration(Int64(clamping: step))) is too small, minimum step for given range is \(GoTime.duration(Int64(clamping: minimum)))")
        }
        startNano = first >= step ? first - step : 0
        stepNano = step
        count = Int(intervals)
    }

    /// The single interval of an instant query, `(start, end]`.
    package init(instantFrom start: UInt64, to end: UInt64) throws {
        guard end > start else { throw SightlineError(.invalidArgument, "end must be greater than start") }
        guard end < UInt64.max else { throw SightlineError(.invalidArgument, "end is out of range") }
        startNano = start
        stepNano = end - start
        count = 1
    }

    /// The default step for a range query: about 240 intervals, rounded down to a whole number of 50 ms under a minute's
    /// range, else of the largest of 1 h, 5 m, 1 m, 15 s, 5 s and 1 s it exceeds; at least 50 ms or 1 s.
    package static func defaultStep(from start: UInt64, to end: UInt64) -> UInt64 {
        let range = end > start ? end - start : 0
        let baseline = range / 240
        if range < 60_000_000_000 { return max(baseline / 50_000_000 * 50_000_000, 50_000_000) }
        let second: UInt64 = 1_000_000_000
        for granularity in [3600 * second, 300 * second, 60 * second, 15 * second, 5 * second, second] where baseline > granularity {
            return baseline / granularity * granularity
        }
        return second
    }

    /// The spans' start times the intervals cover, as a half-open range.
    package var scanRange: TimeRange {
        TimeRange(startNano: startNano + 1, endNano: startNano + UInt64(count) * stepNano + 1)
    }

    /// The interval holding `start`, if any.
    func interval(of start: UInt64) -> Int? {
        guard start > startNano else { return nil }
        let index = Int((start - startNano - 1) / stepNano)
        return index < count ? index : nil
    }

    /// Interval `index`'s time: its end, in milliseconds.
    package func timestampMs(_ index: Int) -> Int64 {
        Int64((startNano + UInt64(index + 1) * stepNano) / 1_000_000)
    }
}

/// The answer of a TraceQL metrics query: series of samples, one per interval that has a value.
package struct TraceQLMetricsResult: Sendable {
    package struct Series: Sendable {
        package var labels: [Label]
        /// Interval index and value, ascending.
        package var samples: [(interval: Int, value: Double)]
        package var exemplars: [Exemplar]
    }

    package struct Label: Hashable, Sendable {
        package var name: String
        package var value: LabelValue
    }

    /// A label's value, typed as Tempo types it (statuses, kinds, durations and `nil` as strings).
    package enum LabelValue: Hashable, Sendable {
        case string(String), int(Int64), double(Double), bool(Bool)
    }

    /// A span that stands for a sample: its trace, its start and its value.
    package struct Exemplar: Sendable {
        package var traceID: TraceID
        package var timestampMs: Int64
        package var value: Double
    }

    package var series: [Series]
    package var inspectedTraces = 0
}

extension TraceQLQuery {
    /// Whether the query ends in a metrics function.
    package var isMetricsQuery: Bool { metrics != nil }

    /// Evaluates a metrics query over the spans of `tenant` that start in `window`.
    ///
    /// A query whose spanset is one filter, and whose function and `by` fields read no trace-level field, is decided
    /// span by span as the store scans (``TraceSource/forEachSpan(matching:_:)``). Otherwise the traces of the
    /// candidate spans are read whole, at most `traceLimit` of them, and their matched spans counted.
    /// - Throws: `invalidArgument` for a search query, or when more than `traceLimit` traces would have to be read.
    package func metrics(
        source: any TraceSource, tenant: Tenant, window: TraceQLMetricsWindow, exemplars: Int = 100, traceLimit: Int = 20_000
    ) throws -> TraceQLMetricsResult {
        guard let metrics else {
            throw SightlineError(.invalidArgument, "not a metrics query: end it with a metrics function such as | rate() or | count_over_time()")
        }
        var accumulator = MetricsAccumulator(metrics, window: window, exemplars: exemplars, query: self)
        var prefilter = prefilter(tenant: tenant, range: window.scanRange, limit: 0)
        var inspectedTraces = 0
        let spanBySpan = isSpanLevel(metrics)
        prefilter.spanDetails = readsDetails(metrics, spanBySpan: spanBySpan)
        if spanBySpan {
            let noTrace = TraceSummary([])
            try source.forEachSpan(matching: prefilter) { span in accumulator.observe(span, context: noTrace) }
        } else {
            var candidates = Set<TraceID>()
            try source.forEachSpan(matching: prefilter) { span in
                guard candidates.insert(span.traceID).inserted, candidates.count > traceLimit else { return }
                throw SightlineError(
                    .invalidArgument,
                    "this metrics query reads whole traces (structural operators, trace-level fields or spanset stages) and would read more than \(traceLimit); narrow the time range or the filter")
            }
            for id in candidates {
                let trace = try source.trace(tenant: tenant, id: id)
                inspectedTraces += 1
                let summary = TraceSummary(trace)
                for span in matchingSpans(in: trace, summary: summary) where window.scanRange.contains(span.startTimeUnixNano) {
                    accumulator.observe(span, context: summary)
                }
            }
        }
        var result = accumulator.result()
        result.inspectedTraces = inspectedTraces
        return result
    }

    /// Whether the spans the store hands out need their details (attributes, events, status message): when the
    /// filter reads them, or, decided span by span, the function or `by` fields do; `compare()` reads every attribute.
    private func readsDetails(_ metrics: Metrics, spanBySpan: Bool) -> Bool {
        var fields = filterFields
        if spanBySpan {
            fields += metrics.by.map(\.field)
            switch metrics.function {
            case .rate, .countOverTime: break
            case .overTime(_, let field), .histogramOverTime(let field), .quantileOverTime(let field, _): fields.append(field)
            case .compare: return true
            }
        }
        return fields.contains(where: \.readsDetails)
    }

    /// Whether each span can be decided on its own: one filter without trace-level fields, no spanset stages, and a
    /// function and `by` fields that read none either.
    private func isSpanLevel(_ metrics: Metrics) -> Bool {
        guard case .filter(let condition) = spansets, stages.allSatisfy({ if case .select = $0 { true } else { false } }) else { return false }
        if let condition, Self.readsTrace(condition) { return false }
        if metrics.by.contains(where: \.field.readsTrace) { return false }
        switch metrics.function {
        case .rate, .countOverTime: return true
        case .overTime(_, let field), .histogramOverTime(let field), .quantileOverTime(let field, _): return !field.readsTrace
        case .compare(let condition, _, _, _): return condition.map { !Self.readsTrace($0) } ?? true
        }
    }
}

/// Counts observed spans into series by interval, then turns them into ``TraceQLMetricsResult``.
private struct MetricsAccumulator {
    typealias Label = TraceQLMetricsResult.Label
    typealias LabelValue = TraceQLMetricsResult.LabelValue

    let metrics: TraceQLQuery.Metrics
    let window: TraceQLMetricsWindow
    let exemplarLimit: Int
    let query: TraceQLQuery

    /// What one series has gathered: a value per interval (a count, a sum, a minimum or a maximum; NaN where min,
    /// max or sum saw nothing), `avg_over_time`'s counts beside its sums, `quantile_over_time`'s power-of-two buckets
    /// per interval (bucket → spans), and the first span of each interval as its exemplar.
    struct SeriesState {
        var values: [Double]
        var counts: [Double] = []
        var buckets: [[Double: Int]] = []
        var exemplars: [TraceQLMetricsResult.Exemplar?] = []
    }

    /// Per series key: the `by` values, then a histogram's bucket.
    var series: [[TraceQLQuery.Value?]: SeriesState] = [:]
    /// `compare()`'s counts by selection or baseline, attribute and value, and per attribute in total (value nil).
    var comparison: [CompareKey: [Double]] = [:]
    /// The value of a new series' intervals: 0 for counts, NaN where nothing may be there.
    let empty: Double

    struct CompareKey: Hashable {
        var selected: Bool
        var name: String
        var value: LabelValue?
    }

    init(_ metrics: TraceQLQuery.Metrics, window: TraceQLMetricsWindow, exemplars: Int, query: TraceQLQuery) {
        self.metrics = metrics
        self.window = window
        self.exemplarLimit = max(0, exemplars)
        self.query = query
        switch metrics.function {
        case .rate, .countOverTime, .histogramOverTime: empty = 0
        default: empty = .nan
        }
    }

    mutating func observe(_ span: Span, context: TraceSummary) {
        guard let interval = window.interval(of: span.startTimeUnixNano) else { return }
        if case .compare(let condition, _, let start, let end) = metrics.function {
            var selected = condition.map { query.holds($0, span, context) } ?? true
            if let start, let end { selected = selected && span.startTimeUnixNano > start && span.startTimeUnixNano <= end }
            compare(span, selected: selected, interval: interval)
            return
        }
        var key = metrics.by.map { TraceQLQuery.value(of: $0.field, in: span, context: context) }
        var value = Double.nan
        var bucket: Double?
        switch metrics.function {
        case .overTime(_, let field):
            guard let number = Self.number(field, span, context) else { return }
            value = number
        case .histogramOverTime(let field):
            guard let found = Self.bucket(field, span, context) else { return }
            key.append(.float(found))
        case .quantileOverTime(let field, _):
            guard let found = Self.bucket(field, span, context) else { return }
            bucket = found
            value = Self.number(field, span, context) ?? found
        default:
            break
        }
        let (function, count, empty, exemplarLimit) = (metrics.function, window.count, empty, exemplarLimit)
        let exemplar = exemplarLimit > 0
            ? TraceQLMetricsResult.Exemplar(traceID: span.traceID, timestampMs: Int64(span.startTimeUnixNano / 1_000_000), value: value) : nil
        series[key, default: SeriesState(values: Array(repeating: empty, count: count))].observe(
            value, bucket: bucket, interval: interval, function: function, exemplar: exemplar)
    }

    /// A numeric field as the `_over_time` functions read it: the `duration` intrinsic in seconds, other numbers as
    /// they are (other durations in nanoseconds, as Tempo has it).
    private static func number(_ field: TraceQLQuery.Field, _ span: Span, _ context: TraceSummary) -> Double? {
        guard let value = TraceQLQuery.value(of: field, in: span, context: context), let number = value.number else { return nil }
        return field == .duration ? number / 1e9 : number
    }

    /// The power-of-two bucket a histogram counts a value in: the least power of two at least the value, durations in
    /// nanoseconds (shown in seconds), whole numbers from 2 up; other values have none.
    private static func bucket(_ field: TraceQLQuery.Field, _ span: Span, _ context: TraceSummary) -> Double? {
        switch TraceQLQuery.value(of: field, in: span, context: context) {
        case .duration(let ns):
            return ns <= 0 ? 0 : Log2Buckets.ceilingPowerOfTwo(UInt64(ns)) / 1e9
        case .int(let n) where n >= 2:
            return Log2Buckets.ceilingPowerOfTwo(UInt64(n))
        default:
            return nil
        }
    }

    // MARK: compare()

    /// The intrinsics `compare()` counts besides the attributes, with their names.
    private static let compareIntrinsics: [(field: TraceQLQuery.Field, name: String)] = [
        (.name, "name"), (.status, "status"), (.kind, "kind"), (.statusMessage, "statusMessage"),
    ]

    private mutating func compare(_ span: Span, selected: Bool, interval: Int) {
        let intervals = window.count
        func count(_ name: String, _ value: LabelValue) {
            comparison[CompareKey(selected: selected, name: name, value: value), default: Array(repeating: 0, count: intervals)][interval] += 1
            comparison[CompareKey(selected: selected, name: name, value: nil), default: Array(repeating: 0, count: intervals)][interval] += 1
        }
        for (field, name) in Self.compareIntrinsics {
            guard let value = TraceQLQuery.value(of: field, in: span, context: nil), value != .string("") else { continue }
            count(name, Self.labelValue(value))
        }
        for (scope, attributes) in [("span.", span.attributes), ("resource.", span.resource)] {
            var seen = Set<String>()
            for attribute in attributes where seen.insert(attribute.key).inserted {
                let value: LabelValue
                switch attribute.value {
                case .string(let text): value = .string(text)
                case .int(let number): value = .int(number)
                case .double(let number): value = .double(number)
                case .bool(let flag): value = .bool(flag)
                default: continue
                }
                count(scope + attribute.key, value)
            }
        }
    }

    // MARK: Result

    func result() -> TraceQLMetricsResult {
        var series: [TraceQLMetricsResult.Series] = []
        switch metrics.function {
        case .compare(_, let topN, _, _):
            var byAttribute: [CompareKey: [(value: LabelValue, samples: [Double], total: Double)]] = [:]
            for (key, samples) in comparison {
                guard let value = key.value else { continue }
                byAttribute[CompareKey(selected: key.selected, name: key.name), default: []].append((value, samples, samples.reduce(0, +)))
            }
            for (attribute, values) in byAttribute {
                let kind = attribute.selected ? "selection" : "baseline"
                let top = values.sorted { ($0.total, Self.sortText($1.value)) > ($1.total, Self.sortText($0.value)) }.prefix(topN)
                for (value, samples, _) in top {
                    series.append(make([Label(name: "__meta_type", value: .string(kind)), Label(name: attribute.name, value: value)], samples, []))
                }
                series.append(
                    make([Label(name: "__meta_type", value: .string(kind + "_total")), Label(name: attribute.name, value: .string("nil"))],
                         comparison[attribute] ?? [], []))
            }
        case .quantileOverTime(_, let quantiles):
            for (key, state) in self.series {
                for q in quantiles {
                    let samples = state.buckets.map { $0.isEmpty ? 0 : Log2Buckets.quantile(q, $0) }
                    series.append(make(labels(key) + [Label(name: "p", value: .double(q))], samples, state.exemplars))
                }
            }
        default:
            for (key, state) in self.series {
                var current = state.values
                if !state.counts.isEmpty {
                    for index in current.indices { current[index] = state.counts[index] > 0 ? current[index] / state.counts[index] : .nan }
                }
                if case .rate = metrics.function {
                    let seconds = Double(window.stepNano) / 1e9
                    current = current.map { $0 / seconds }
                }
                var labels = labels(metrics.function.isHistogram ? Array(key.dropLast()) : key)
                if case .float(let bucket)? = key.last, metrics.function.isHistogram {
                    labels.append(Label(name: "__bucket", value: .double(bucket)))
                }
                series.append(make(labels, current, state.exemplars))
            }
        }
        series.removeAll { $0.samples.isEmpty }
        series.sort { Self.sortKey($0.labels).lexicographicallyPrecedes(Self.sortKey($1.labels)) }
        // Ranked after sorting, so that ties go to the series that sorts first.
        if let rank = metrics.rank { series = Self.keepRanked(series, bottom: rank.bottom, k: rank.k) }
        return TraceQLMetricsResult(series: series)
    }

    /// A series from a value per interval (NaN: none) and the exemplars of its intervals, at most the limit of them,
    /// spread evenly; a rate's or count's exemplar shows its interval's value.
    private func make(_ labels: [Label], _ values: [Double], _ spans: [TraceQLMetricsResult.Exemplar?]) -> TraceQLMetricsResult.Series {
        let samples = values.enumerated().compactMap { $0.element.isNaN ? nil : ($0.offset, $0.element) }
        var picked = spans.enumerated().compactMap { interval, exemplar in exemplar.map { (key: interval, value: $0) } }
        if picked.count > exemplarLimit {
            let stride = Double(picked.count) / Double(exemplarLimit)
            picked = (0..<exemplarLimit).map { picked[Int(Double($0) * stride)] }
        }
        let exemplars = picked.map { interval, exemplar in
            var exemplar = exemplar
            if exemplar.value.isNaN { exemplar.value = values[interval] }
            return exemplar
        }
        return TraceQLMetricsResult.Series(labels: labels, samples: samples, exemplars: exemplars)
    }

    /// The labels of a `by` key: the fields' values, a missing one left out; when all are missing, the first field
    /// with the string `nil`; without `by`, `__name__` with the function's name (histograms and quantiles get their
    /// own label instead).
    private func labels(_ key: [TraceQLQuery.Value?]) -> [Label] {
        guard !metrics.by.isEmpty else {
            switch metrics.function {
            case .histogramOverTime, .quantileOverTime: return []
            default: return [Label(name: "__name__", value: .string(metrics.function.name))]
            }
        }
        let present = zip(metrics.by, key).compactMap { by, value in value.map { Label(name: by.name, value: Self.labelValue($0)) } }
        return present.isEmpty ? [Label(name: metrics.by[0].name, value: .string("nil"))] : present
    }

    static func labelValue(_ value: TraceQLQuery.Value) -> LabelValue {
        switch value {
        case .string(let text): .string(text)
        case .int(let number): .int(number)
        case .float(let number): .double(number)
        case .bool(let flag): .bool(flag)
        case .null: .string("nil")
        case .duration, .status, .kind: .string(value.typedText?.text ?? "")
        }
    }

    /// `topk`/`bottomk`: at each interval, only the samples of the `k` highest (lowest) series stay.
    static func keepRanked(_ series: [TraceQLMetricsResult.Series], bottom: Bool, k: Int) -> [TraceQLMetricsResult.Series] {
        var byInterval: [Int: [(series: Int, value: Double)]] = [:]
        for (number, item) in series.enumerated() {
            for sample in item.samples { byInterval[sample.interval, default: []].append((number, sample.value)) }
        }
        var kept = Set<[Int]>()
        for (interval, candidates) in byInterval {
            let ranked = candidates.sorted { bottom ? ($0.value, $0.series) < ($1.value, $1.series) : ($0.value, $1.series) > ($1.value, $0.series) }
            for candidate in ranked.prefix(k) { kept.insert([candidate.series, interval]) }
        }
        return series.enumerated().compactMap { number, item in
            var item = item
            item.samples.removeAll { !kept.contains([number, $0.interval]) }
            return item.samples.isEmpty ? nil : item
        }
    }

    /// Series order: fewer labels first, then by label names and values.
    private static func sortKey(_ labels: [Label]) -> [String] {
        let count = String(labels.count)
        return [String(repeating: "0", count: max(0, 4 - count.count)) + count] + labels.flatMap { [$0.name, sortText($0.value)] }
    }

    private static func sortText(_ value: LabelValue) -> String {
        switch value {
        case .string(let text): text
        case .int(let number): String(number)
        case .double(let number): String(number)
        case .bool(let flag): flag ? "true" : "false"
        }
    }
}

extension TraceQLQuery.Metrics.Function {
    /// The function's name, as the single label of an ungrouped series shows it.
    var name: String {
        switch self {
        case .rate: "rate"
        case .countOverTime: "count_over_time"
        case .overTime(let aggregate, _): aggregate.rawValue + "_over_time"
        case .histogramOverTime: "histogram_over_time"
        case .quantileOverTime: "quantile_over_time"
        case .compare: "compare"
        }
    }

    var isHistogram: Bool {
        if case .histogramOverTime = self { return true }
        return false
    }
}

/// Tempo's power-of-two histogram buckets and the quantiles it reads from them.
enum Log2Buckets {
    static func ceilingPowerOfTwo(_ n: UInt64) -> Double {
        n <= 1 ? 1 : Double(sign: .plus, exponent: UInt64.bitWidth - (n - 1).leadingZeroBitCount, significand: 1)
    }

    /// The quantile `q` of power-of-two buckets, as Tempo estimates it: the `ceil(q × total)`-th value lies in the
    /// bucket where the running count reaches it; exactly at a bucket's end it is the bucket's bound, otherwise it is
    /// interpolated on a log scale between the previous bound (half this one for the first bucket) and this one.
    static func quantile(_ q: Double, _ counts: [Double: Int]) -> Double {
        let sorted = counts.sorted { $0.key < $1.key }
        let total = sorted.reduce(0) { $0 + $1.value }
        let wanted = max(1, Int((q * Double(total)).rounded(.up)))
        var consumed = 0
        var previous: Double?
        for (bound, count) in sorted {
            if consumed + count >= wanted {
                if consumed + count == wanted { return bound }
                let low = previous ?? bound / 2
                guard low > 0, bound > 0 else { return bound }
                let fraction = Double(wanted - consumed) / Double(count)
                return exp2(log2(low) + (log2(bound) - log2(low)) * fraction)
            }
            consumed += count
            previous = bound
        }
        return sorted.last?.key ?? 0
    }
}

extension MetricsAccumulator.SeriesState {
    /// Adds one span: counts it, or folds its `value` into the interval's minimum, maximum, sum or average, or counts
    /// it in its quantile `bucket`; keeps it as the interval's exemplar when there is none yet.
    mutating func observe(
        _ value: Double, bucket: Double?, interval: Int, function: TraceQLQuery.Metrics.Function, exemplar: TraceQLMetricsResult.Exemplar?
    ) {
        switch function {
        case .rate, .countOverTime, .histogramOverTime:
            values[interval] += 1
        case .overTime(.min, _):
            values[interval] = values[interval].isNaN ? value : min(values[interval], value)
        case .overTime(.max, _):
            values[interval] = values[interval].isNaN ? value : max(values[interval], value)
        case .overTime(.sum, _), .overTime(.avg, _):
            values[interval] = values[interval].isNaN ? value : values[interval] + value
            if case .overTime(.avg, _) = function {
                if counts.isEmpty { counts = Array(repeating: 0, count: values.count) }
                counts[interval] += 1
            }
        case .quantileOverTime:
            if buckets.isEmpty { buckets = Array(repeating: [:], count: values.count) }
            if let bucket { buckets[interval][bucket, default: 0] += 1 }
        case .compare:
            break
        }
        if let exemplar {
            if exemplars.isEmpty { exemplars = Array(repeating: nil, count: values.count) }
            if exemplars[interval] == nil { exemplars[interval] = exemplar }
        }
    }
}
