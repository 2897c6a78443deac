#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import SightlineCore

/// The value of a metric expression at one step.
enum LogQLStepValue {
    case scalar(Double)
    case vector([Sample])
}

/// Evaluates a metric query over a list of step times (ns): each range aggregation is computed for every step from
/// one scan, then the expression tree is walked once per step.
struct LogQLMetricEvaluator {
    let source: any LogSource
    let tenant: Tenant
    /// The evaluation times, ascending, in ns.
    let steps: [Int64]
    let limits: LogQLEngine.Limits

    init(source: any LogSource, tenant: Tenant, steps: [Int64], limits: LogQLEngine.Limits) {
        self.source = source
        self.tenant = tenant
        self.steps = steps
        self.limits = limits
    }

    /// The expression's value at every step.
    func evaluate(_ expr: LogQLExpr) throws -> [LogQLStepValue] {
        var leaves: [[[Sample]]] = []
        var computed: [String: [[Sample]]] = [:]
        try collectLeaves(expr, into: &leaves, computed: &computed)
        // PromQL's evaluator supplies vector matching; it needs no series of its own here.
        let binary = PromQLEvaluator(
            querier: NoSeries(), tenant: tenant, options: PromQLEngine.Options(), startMs: 0, endMs: 0, stepMs: 0, isRange: false)
        var out: [LogQLStepValue] = []
        out.reserveCapacity(steps.count)
        for stepIndex in steps.indices {
            var leafIndex = 0
            out.append(try evaluate(expr, stepIndex: stepIndex, leaves: leaves, leafIndex: &leafIndex, binary: binary))
        }
        return out
    }

    // MARK: - Range aggregations

    /// Computes every range aggregation of `expr`, in the order ``evaluate(_:stepIndex:leaves:leafIndex:binary:)``
    /// meets them.
    /// A range aggregation written twice (`sum by (a) (rate(X[1m])) / sum(rate(X[1m]))`) is computed, and scanned,
    /// once: `computed` holds the results by the aggregation's text.
    private func collectLeaves(_ expr: LogQLExpr, into leaves: inout [[[Sample]]], computed: inout [String: [[Sample]]]) throws {
        switch expr {
        case .rangeAggregation(let range):
            let key = range.description
            if let known = computed[key] {
                leaves.append(known)
            } else {
                let result = try rangeAggregation(range)
                computed[key] = result
                leaves.append(result)
            }
        case .vectorAggregation(let aggregation):
            if case .rangeAggregation(let range) = aggregation.expr, let pushed = Self.pushedGrouping(aggregation, over: range) {
                // `sum by (x) (count_over_time(…))` is `count_over_time(…) by (x)`: group the records at once instead of
                // making a series per label set (one per record when records carry ids as structured metadata).
                var grouped = range
                grouped.grouping = pushed
                // Not the same as the written `count_over_time(…) by (x)`, which hides `__error__` series.
                let key = "sum " + grouped.description
                if let known = computed[key] {
                    leaves.append(known)
                } else {
                    let result = try rangeAggregation(grouped, errorsKeepTheirLabels: true)
                    computed[key] = result
                    leaves.append(result)
                }
            } else {
                try collectLeaves(aggregation.expr, into: &leaves, computed: &computed)
            }
        case .binary(let binary):
            try collectLeaves(binary.lhs, into: &leaves, computed: &computed)
            try collectLeaves(binary.rhs, into: &leaves, computed: &computed)
        case .labelReplace(let inner, _): try collectLeaves(inner, into: &leaves, computed: &computed)
        case .log, .literal, .vector: break
        }
    }

    /// The grouping a `sum` or `sum by (…)` can push into the range aggregation below it: when the range function is
    /// a count of records or bytes, so the sum of the per-series values is, exactly, the value over the group's
    /// records; nil otherwise. (`rate` and `bytes_rate` are left out: dividing before or after summing differs in the
    /// last bits.) A record whose pipeline set `__error__` keeps all its labels in the pushed aggregation, so the error
    /// is reported for the series it would have had (``rangeAggregation(_:errorsKeepTheirLabels:)``).
    static func pushedGrouping(_ aggregation: VectorAggregationExpr, over range: RangeAggregationExpr) -> LogQLGrouping? {
        let grouping = aggregation.grouping ?? LogQLGrouping(labels: [], without: false)
        guard aggregation.op == .sum, !grouping.without, range.grouping == nil, range.range.unwrap == nil,
            range.op == .countOverTime || range.op == .bytesOverTime
        else { return nil }
        return grouping
    }

    /// One series' samples, ascending in time: every sample (`values`), or, for functions that can be combined from
    /// partial results, one ``WindowStats`` per bucket (`stats`) with the bucket's end as its time.
    private struct SampleBucket {
        var labels: Labels
        var times: [Int64] = []
        var values: [Double] = []
        var stats: [WindowStats] = []
        /// The time of the series' first record.
        var firstTime = Int64.max

        /// The buckets of `self` and `other` (another part's buckets of the same series), in time order.
        func merging(_ other: SampleBucket) -> SampleBucket {
            var out = SampleBucket(labels: labels, firstTime: Swift.min(firstTime, other.firstTime))
            out.times.reserveCapacity(times.count + other.times.count)
            out.stats.reserveCapacity(times.count + other.times.count)
            var (i, j) = (0, 0)
            while i < times.count || j < other.times.count {
                if j == other.times.count || (i < times.count && times[i] < other.times[j]) {
                    out.times.append(times[i])
                    out.stats.append(stats[i])
                    i += 1
                } else if i == times.count || other.times[j] < times[i] {
                    out.times.append(other.times[j])
                    out.stats.append(other.stats[j])
                    j += 1
                } else {
                    var both = stats[i]
                    both.merge(other.stats[j])
                    out.times.append(times[i])
                    out.stats.append(both)
                    i += 1
                    j += 1
                }
            }
            return out
        }
    }

    /// A range aggregation's series as its records are read: the pipeline run on each, its series found (its labels,
    /// its group, or all its labels when it carries an error the grouping must not hide), its sample kept or added to
    /// its bucket.
    private struct SeriesCollector {
        let pipeline: LogPipeline
        let postFilters: [LabelFilter]
        let unwrap: UnwrapExpr?
        let grouping: LogQLGrouping?
        let isBytes: Bool
        let groupsDirectly: Bool
        let errorsKeepTheirLabels: Bool
        /// The bucket width, nil to keep every sample.
        let width: Int64?
        let origin: Int64
        let groupNames: [String]
        var index: [Labels: Int] = [:]
        var series: [SampleBucket] = []
        var builder = LogLabelsBuilder()

        init(
            pipeline: LogPipeline, postFilters: [LabelFilter], unwrap: UnwrapExpr?, grouping: LogQLGrouping?, isBytes: Bool,
            groupsDirectly: Bool, errorsKeepTheirLabels: Bool, width: Int64?, origin: Int64
        ) {
            self.pipeline = pipeline
            self.postFilters = postFilters
            self.unwrap = unwrap
            self.grouping = grouping
            self.isBytes = isBytes
            self.groupsDirectly = groupsDirectly
            self.errorsKeepTheirLabels = errorsKeepTheirLabels
            self.width = width
            self.origin = origin
            self.groupNames = Array(Set(grouping?.labels ?? []))
        }

        mutating func take(_ record: LogRecord) {
            let time = record.logQLTimeNano
            var line = record.line
            var labels: Labels
            if groupsDirectly, let grouping {
                // Only the grouping's labels are needed: structured metadata wins over a stream label of the same name,
                // as in LogLabelsBuilder.
                guard pipeline.process(line: &line, timeNs: time, labels: &builder) else { return }
                labels = Labels(grouping.labels.map { name in Label(name, record.groupingValue(name)) })
            } else if unwrap == nil && grouping == nil && pipeline.keepsLabels && record.structuredMetadata.isEmpty {
                // Nothing can add a label: the series is the stream, and no label list needs building.
                guard pipeline.process(line: &line, timeNs: time, labels: &builder) else { return }
                labels = record.streamLabels
            } else {
                builder.reset(stream: record.streamLabels, metadata: record.structuredMetadata, line: record.line, severityNumber: record.severityNumber)
                guard pipeline.process(line: &line, timeNs: time, labels: &builder) else { return }
                labels = Labels([])
            }
            var value = 1.0
            if isBytes { value = Double(line.utf8.count) }
            if let unwrap {
                let text = builder.get(unwrap.label) ?? ""
                if text.isEmpty { return }
                if let converted = LogQLMetricEvaluator.convert(text, unwrap.conversion) {
                    value = converted
                } else {
                    value = 0
                    builder.setError(
                        LogPipelineError.sampleExtraction, details: LogQLMetricEvaluator.conversionError(text, unwrap.conversion))
                }
                for filter in postFilters where !filter.process(&builder) { return }
            }
            if groupsDirectly {
                // Already the grouping's labels.
            } else if let grouping {
                // The builder holds the record's labels.
                if errorsKeepTheirLabels && builder.hasError {
                    labels = builder.labels
                } else if grouping.without {
                    labels = grouping.key(builder.labels)
                    if let unwrap { labels = labels.removing([unwrap.label]) }
                } else {
                    labels = builder.labels(keeping: groupNames)
                }
            } else {
                if labels.labels.isEmpty { labels = builder.labels }
                if let unwrap { labels = labels.removing([unwrap.label]) }
            }
            let slot: Int
            if let existing = index[labels] {
                slot = existing
            } else {
                slot = series.count
                index[labels] = slot
                series.append(SampleBucket(labels: labels))
            }
            if time < series[slot].firstTime { series[slot].firstTime = time }
            if let width {
                LogQLMetricEvaluator.add(
                    value, bucketEnd: LogBucketCount.bucketEnd(of: time, originNano: origin, widthNano: width), to: &series[slot])
            } else {
                series[slot].times.append(time)
                series[slot].values.append(value)
            }
        }

        /// Adds the buckets another part of the same scan collected.
        mutating func merge(_ other: SeriesCollector) {
            for one in other.series {
                if let slot = index[one.labels] {
                    series[slot] = series[slot].merging(one)
                } else {
                    index[one.labels] = series.count
                    series.append(one)
                }
            }
        }
    }

    /// What the combinable range functions need of a set of samples: count, sum, extremes, first and last, and
    /// Welford's mean and sum of squared deviations (merged with Chan's formula).
    struct WindowStats {
        var count = 0.0
        var sum = 0.0
        var min = Double.nan
        var max = Double.nan
        var first = Double.nan
        var last = Double.nan
        var mean = 0.0
        var m2 = 0.0

        init() {}

        /// The stats of `count` samples summing to `sum`, for counts made elsewhere: only ``count`` and ``sum`` are
        /// meaningful (enough for `count_over_time`, `bytes_over_time` and the rates).
        init(count: Double, sum: Double) {
            self.count = count
            self.sum = sum
        }

        /// Adds one sample (in time order).
        mutating func add(_ v: Double) {
            count += 1
            sum += v
            if count == 1 { first = v }
            last = v
            if v < min || min.isNaN { min = v }
            if v > max || max.isNaN { max = v }
            let delta = v - mean
            mean += delta / count
            m2 += delta * (v - mean)
        }

        /// Adds the samples of a later bucket.
        mutating func merge(_ other: WindowStats) {
            guard other.count > 0 else { return }
            guard count > 0 else {
                self = other
                return
            }
            let total = count + other.count
            let delta = other.mean - mean
            m2 += other.m2 + delta * delta * count * other.count / total
            mean += delta * other.count / total
            count = total
            sum += other.sum
            if other.min < min || min.isNaN { min = other.min }
            if other.max > max || max.isNaN { max = other.max }
            last = other.last
        }
    }

    /// The bucket width for combinable functions: the largest duration that divides both the range and the step, so
    /// every window is a whole number of buckets (the range itself for an instant query). Nil for functions that need
    /// every sample.
    private func bucketWidth(_ expr: RangeAggregationExpr) -> Int64? {
        if expr.op == .quantileOverTime || expr.op == .rateCounter { return nil }
        let stepNs = steps.count > 1 ? steps[1] - steps[0] : expr.range.rangeNs
        var a = stepNs
        var b = expr.range.rangeNs
        while b != 0 { (a, b) = (b, a % b) }
        return a > 0 ? a : nil
    }

    /// A range aggregation at every step: one forward scan over `(first - range - offset, last - offset]`, samples
    /// bucketed per output series, then a sliding window per step.
    ///
    /// Functions that combine from partial results (all but `quantile_over_time` and `rate_counter`) keep one
    /// ``WindowStats`` per series and bucket of ``bucketWidth(_:)``, not the samples, so memory follows the number of
    /// steps rather than the number of records.
    ///
    /// With `errorsKeepTheirLabels` (a grouping pushed down from `sum by`), a record whose pipeline set `__error__`
    /// is not grouped: it stays in the series of all its labels, which then fails the query as it would have unpushed.
    private func rangeAggregation(_ expr: RangeAggregationExpr, errorsKeepTheirLabels: Bool = false) throws -> [[Sample]] {
        let range = expr.range
        let width = bucketWidth(expr)
        // Bucket j holds the samples in (origin + (j-1)·width, origin + j·width]; window ends lie on that grid.
        let origin = steps[0] &- range.offsetNs
        let selector = range.selector
        let pipeline = try LogPipeline(selector.stages)
        let postFilters = try (range.unwrap?.postFilters ?? []).map { filter throws(SightlineError) in try LabelFilter(filter) }
        // Wrapping arithmetic: only absurd times and offsets overflow, and they must not trap.
        let first = steps[0] &- range.offsetNs &- range.rangeNs
        let last = steps[steps.count - 1] &- range.offsetNs
        // The window is left-open: a record exactly at `first` belongs to no step.
        let scan = LogScan(
            tenant: tenant, matchers: selector.matchers, range: LogQLEngine.timeRange(from: first &+ 1, to: last &+ 1), direction: .forward,
            lineContains: selector.requiredSubstrings)
        let unwrap = range.unwrap
        let grouping = expr.grouping
        let isBytes = expr.op == .bytesOverTime || expr.op == .bytesRate
        // `by (…)` over a pipeline that sets no label: the series key is read straight off the record.
        let groupsDirectly = unwrap == nil && grouping?.without == false && pipeline.keepsLabels
        var series: [SampleBucket]
        if let width, let groups = try countsInStore(expr, scan: scan, origin: origin, width: width, groupsDirectly: groupsDirectly) {
            // `sum by (…) (count_over_time(…))` and `sum by (…) (bytes_over_time(…))` over plain `|=` filters: the store
            // counted, per group of the grouping's label values (the labels the scan below would give, empty ones
            // dropped; distinct values give distinct labels).
            let names = grouping?.labels ?? []
            series = groups.map { group in
                SampleBucket(
                    labels: Labels(zip(names, group.values).map { Label($0, $1) }), times: group.buckets.map(\.endNano),
                    stats: group.buckets.map { WindowStats(count: Double($0.records), sum: Double(isBytes ? $0.bytes : $0.records)) })
            }
        } else {
            var collector = SeriesCollector(
                pipeline: pipeline, postFilters: postFilters, unwrap: unwrap, grouping: grouping, isBytes: isBytes,
                groupsDirectly: groupsDirectly, errorsKeepTheirLabels: errorsKeepTheirLabels, width: width, origin: origin)
            // Counts of records and bytes (integer sums are exact in any order) and the extremes of unwrapped values do
            // not depend on the order records come in: the store folds its blocks on several threads, and the parts'
            // buckets are combined. (Sums of unwrapped values do: float addition is not associative.)
            let orderFree =
                unwrap == nil
                ? expr.op == .countOverTime || expr.op == .bytesOverTime || expr.op == .rate || expr.op == .bytesRate
                : expr.op == .minOverTime || expr.op == .maxOverTime
            if width != nil && orderFree, let parts = source as? any LogPartitionedScanning {
                let empty = collector
                let partials = try parts.fold(scan, start: { empty }, { collector, record in collector.take(record) })
                for partial in partials { collector.merge(partial) }
                // The order a time-ordered scan would have made them in (for which series an error names).
                collector.series.sort { $0.firstTime != $1.firstTime ? $0.firstTime < $1.firstTime : $0.labels < $1.labels }
            } else {
                try source.scan(scan) { record in
                    collector.take(record)
                    return true
                }
            }
            series = collector.series
        }

        var out = [[Sample]](repeating: [], count: steps.count)
        if expr.op == .absentOverTime {
            let labels = Self.absentLabels(selector.matchers)
            var covered = [Bool](repeating: false, count: steps.count)
            for one in series { markCovered(one.times, range: range, &covered) }
            for (stepIndex, isCovered) in covered.enumerated() where !isCovered {
                out[stepIndex].append(Sample(metric: labels, t: LogQLEngine.milliseconds(steps[stepIndex]), v: 1))
            }
            return out
        }
        for one in series {
            // Samples of one series arrive in scan order; a source may interleave equal times, so make sure.
            var times = one.times
            var values = one.values
            if width == nil && zip(times, times.dropFirst()).contains(where: { $0 > $1 }) {
                let order = times.indices.sorted { times[$0] < times[$1] }
                times = order.map { one.times[$0] }
                values = order.map { one.values[$0] }
            }
            guard let firstTime = times.first, let lastTime = times.last else { continue }
            var low = 0
            var high = 0
            // Only the steps whose window can hold one of the series' samples: from the first window ending at or
            // after the first sample to the last window starting before the last sample.
            var stepIndex = Self.firstIndex(in: steps, atLeast: firstTime &+ range.offsetNs)
            while stepIndex < steps.count {
                let step = steps[stepIndex]
                defer { stepIndex += 1 }
                let windowEnd = step &- range.offsetNs
                let windowStart = windowEnd &- range.rangeNs
                if windowStart >= lastTime { break }
                while high < times.count && times[high] <= windowEnd { high += 1 }
                while low < high && times[low] <= windowStart { low += 1 }
                guard low < high else { continue }
                let value =
                    width == nil
                    ? Self.aggregate(expr, times: times[low..<high], values: values[low..<high], windowEnd: windowEnd)
                    : Self.aggregate(expr, stats: one.stats[low..<high])
                if one.labels[LogLabelsBuilder.errorLabel] != nil {
                    throw SightlineError(.invalidArgument, Self.pipelineError(one.labels))
                }
                out[stepIndex].append(Sample(metric: one.labels, t: LogQLEngine.milliseconds(step), v: value))
            }
        }
        return out
    }

    /// The per-group, per-bucket counts of a `sum by (…) (count_over_time(…))` or `sum by (…) (bytes_over_time(…))`
    /// (`by` or no grouping labels, not `without`) whose pipeline is only `|=` filters, from a store that counts where
    /// the records are (``LogBucketCounting``); nil when the query needs the records (anything else) or the store
    /// cannot count this scan.
    private func countsInStore(
        _ expr: RangeAggregationExpr, scan: LogScan, origin: Int64, width: Int64, groupsDirectly: Bool
    ) throws -> [LogGroupCount]? {
        guard groupsDirectly, let grouping = expr.grouping, !grouping.without,
            expr.op == .countOverTime || expr.op == .bytesOverTime, expr.range.selector.isOnlySubstringFilters,
            let counting = source as? any LogBucketCounting
        else { return nil }
        return try counting.countBuckets(scan, originNano: origin, widthNano: width, groupBy: grouping.labels)
    }

    /// Adds a sample to the bucket ending at `bucketEnd`; buckets stay in time order even if the source delivers
    /// equal times out of order.
    private static func add(_ value: Double, bucketEnd: Int64, to series: inout SampleBucket) {
        if let last = series.times.last, last == bucketEnd {
            series.stats[series.stats.count - 1].add(value)
            return
        }
        var index = series.times.count
        while index > 0 && series.times[index - 1] > bucketEnd { index -= 1 }
        if index > 0 && series.times[index - 1] == bucketEnd {
            series.stats[index - 1].add(value)
            return
        }
        var stats = WindowStats()
        stats.add(value)
        series.times.insert(bucketEnd, at: index)
        series.stats.insert(stats, at: index)
    }

    /// A combinable range function over the buckets of one window (never empty).
    private static func aggregate(_ expr: RangeAggregationExpr, stats buckets: ArraySlice<WindowStats>) -> Double {
        var window = WindowStats()
        for bucket in buckets { window.merge(bucket) }
        let seconds = Double(expr.range.rangeNs) / 1e9
        switch expr.op {
        case .countOverTime: return window.count
        case .rate: return expr.range.unwrap == nil ? window.count / seconds : window.sum / seconds
        case .bytesOverTime, .sumOverTime: return window.sum
        case .bytesRate: return window.sum / seconds
        case .avgOverTime: return window.sum / window.count
        case .minOverTime: return window.min
        case .maxOverTime: return window.max
        case .firstOverTime: return window.first
        case .lastOverTime: return window.last
        case .stdvarOverTime: return window.m2 / window.count
        case .stddevOverTime: return (window.m2 / window.count).squareRoot()
        case .absentOverTime: return 1
        case .quantileOverTime, .rateCounter: return .nan
        }
    }

    /// The index of the first step at or after `time` (`steps.count` when none).
    private static func firstIndex(in steps: [Int64], atLeast time: Int64) -> Int {
        var low = 0
        var high = steps.count
        while low < high {
            let middle = (low + high) / 2
            if steps[middle] < time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Marks the steps whose window holds one of `times`.
    private func markCovered(_ times: [Int64], range: LogRangeExpr, _ covered: inout [Bool]) {
        var low = 0
        var high = 0
        for (stepIndex, step) in steps.enumerated() {
            let windowEnd = step &- range.offsetNs
            while high < times.count && times[high] <= windowEnd { high += 1 }
            while low < high && times[low] <= windowEnd &- range.rangeNs { low += 1 }
            if low < high { covered[stepIndex] = true }
        }
    }

    /// Loki's `absent_over_time` labels: the equality matchers of the selector (a name given twice is dropped).
    private static func absentLabels(_ matchers: [LabelMatcher]) -> Labels {
        var seen: [String: Int] = [:]
        for matcher in matchers { seen[matcher.name, default: 0] += 1 }
        var labels: [Label] = []
        for matcher in matchers where matcher.kind == .equal && seen[matcher.name] == 1 {
            labels.append(Label(matcher.name, matcher.value))
        }
        return Labels(labels)
    }

    /// Loki's message for a series that carries `__error__`.
    static func pipelineError(_ labels: Labels) -> String {
        let error = labels[LogLabelsBuilder.errorLabel] ?? ""
        return "pipeline error: '\(error)' for series: '\(labels.promString)'.\n"
            + "Use a label filter to intentionally skip this error. (e.g | __error__!=\"\(error)\").\n"
            + "To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n"
            + "The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n"
    }

    /// A label value as `unwrap` converts it.
    static func convert(_ text: String, _ conversion: UnwrapExpr.Conversion) -> Double? {
        let trimmed = text.trimmingSpaces
        switch conversion {
        case .number: return LogQLUnits.number(trimmed)
        case .duration: return LogQLUnits.durationNanoseconds(trimmed).map { Double($0) / 1e9 }
        case .bytes: return LogQLUnits.bytes(trimmed)
        }
    }

    private static func conversionError(_ text: String, _ conversion: UnwrapExpr.Conversion) -> String {
        switch conversion {
        case .number: "strconv.ParseFloat: parsing \(GoText.quote(text)): invalid syntax"
        case .duration: "time: invalid duration \(GoText.quote(text))"
        case .bytes: "strconv.ParseFloat: parsing \(GoText.quote(text)): invalid syntax"
        }
    }

    /// The range function over one window (never empty).
    private static func aggregate(
        _ expr: RangeAggregationExpr, times: ArraySlice<Int64>, values: ArraySlice<Double>, windowEnd: Int64
    ) -> Double {
        let seconds = Double(expr.range.rangeNs) / 1e9
        switch expr.op {
        case .countOverTime: return Double(values.count)
        case .rate:
            if expr.range.unwrap == nil { return Double(values.count) / seconds }
            return values.reduce(0, +) / seconds
        case .bytesOverTime, .sumOverTime: return values.reduce(0, +)
        case .bytesRate: return values.reduce(0, +) / seconds
        case .avgOverTime:
            var average = Aggregation.Average()
            for v in values { average.add(v) }
            return average.result ?? .nan
        case .minOverTime:
            var extreme = Aggregation.Extreme(isMax: false)
            for v in values { extreme.add(v) }
            return extreme.result ?? .nan
        case .maxOverTime:
            var extreme = Aggregation.Extreme(isMax: true)
            for v in values { extreme.add(v) }
            return extreme.result ?? .nan
        case .stdvarOverTime, .stddevOverTime:
            var count = 0.0
            var mean = 0.0
            var aux = 0.0
            for v in values {
                count += 1
                let delta = v - mean
                mean += delta / count
                aux += delta * (v - mean)
            }
            return expr.op == .stdvarOverTime ? aux / count : (aux / count).squareRoot()
        case .quantileOverTime: return Aggregation.quantile(expr.parameter ?? .nan, of: values)
        case .firstOverTime: return values.first ?? .nan
        case .lastOverTime: return values.last ?? .nan
        case .absentOverTime: return 1
        case .rateCounter: return counterRate(times: times, values: values, rangeNs: expr.range.rangeNs, windowEnd: windowEnd)
        }
    }

    /// `rate_counter`: Prometheus' extrapolated counter rate, over the window's real boundaries (ns), as Loki computes
    /// it; 0 for fewer than two samples.
    private static func counterRate(times: ArraySlice<Int64>, values: ArraySlice<Double>, rangeNs: Int64, windowEnd: Int64) -> Double {
        guard values.count >= 2, let firstValue = values.first, let lastValue = values.last, let firstTime = times.first,
            let lastTime = times.last
        else { return 0 }
        let windowStart = windowEnd - rangeNs
        var result = lastValue - firstValue
        var previous = 0.0
        for v in values {
            if v < previous { result += previous }
            previous = v
        }
        var durationToStart = Double(firstTime - windowStart) / 1e9
        var durationToEnd = Double(windowEnd - lastTime) / 1e9
        let sampled = Double(lastTime - firstTime) / 1e9
        let average = sampled / Double(values.count - 1)
        let threshold = average * 1.1
        if durationToStart >= threshold { durationToStart = average / 2 }
        var durationToZero = durationToStart
        if result > 0 && firstValue >= 0 { durationToZero = sampled * (firstValue / result) }
        if durationToZero < durationToStart { durationToStart = durationToZero }
        if durationToEnd >= threshold { durationToEnd = average / 2 }
        let extrapolated = sampled + durationToStart + durationToEnd
        result *= extrapolated / sampled
        return result / (Double(rangeNs) / 1e9)
    }

    // MARK: - The expression per step

    /// The value of `expr` at one step; range aggregations come precomputed from `leaves`, in walk order.
    private func evaluate(
        _ expr: LogQLExpr, stepIndex: Int, leaves: [[[Sample]]], leafIndex: inout Int, binary: PromQLEvaluator
    ) throws -> LogQLStepValue {
        let tMs = LogQLEngine.milliseconds(steps[stepIndex])
        switch expr {
        case .literal(let value):
            return .scalar(value)
        case .vector(let value):
            return .vector([Sample(metric: Labels([]), t: tMs, v: value)])
        case .log:
            throw SightlineError(.invalidArgument, "log queries cannot be evaluated as metrics")
        case .rangeAggregation:
            let samples = leaves[leafIndex][stepIndex]
            leafIndex += 1
            return .vector(samples)
        case .labelReplace(let inner, let arguments):
            let value = try evaluate(inner, stepIndex: stepIndex, leaves: leaves, leafIndex: &leafIndex, binary: binary)
            guard case .vector(var samples) = value else { return value }
            let replace = try LabelReplace(
                destination: arguments.destination, replacement: arguments.replacement, source: arguments.source, regex: arguments.regex)
            for index in samples.indices { replace.apply(to: &samples[index]) }
            return .vector(samples)
        case .vectorAggregation(let aggregation):
            let value = try evaluate(aggregation.expr, stepIndex: stepIndex, leaves: leaves, leafIndex: &leafIndex, binary: binary)
            let input: [Sample]
            switch value {
            case .vector(let samples): input = samples
            case .scalar(let v): input = [Sample(metric: Labels([]), t: tMs, v: v)]
            }
            return .vector(Self.aggregate(aggregation, input, t: tMs))
        case .binary(let expr):
            let lhs = try evaluate(expr.lhs, stepIndex: stepIndex, leaves: leaves, leafIndex: &leafIndex, binary: binary)
            let rhs = try evaluate(expr.rhs, stepIndex: stepIndex, leaves: leaves, leafIndex: &leafIndex, binary: binary)
            switch (lhs, rhs) {
            case (.scalar(let l), .scalar(let r)):
                return .scalar(PromQLEvaluator.scalarBinop(expr.op, l, r))
            case (.vector(let l), .scalar(let r)):
                return .vector(binary.vectorScalar(expr.op, l, r, swap: false, returnBool: expr.returnBool, at: tMs))
            case (.scalar(let l), .vector(let r)):
                return .vector(binary.vectorScalar(expr.op, r, l, swap: true, returnBool: expr.returnBool, at: tMs))
            case (.vector(let l), .vector(let r)):
                let matching = expr.matching ?? VectorMatching(cardinality: expr.op.isSetOperator ? .manyToMany : .oneToOne)
                switch expr.op {
                case .and: return .vector(binary.vectorAnd(l, r, matching))
                case .or: return .vector(binary.vectorOr(l, r, matching))
                case .unless: return .vector(binary.vectorUnless(l, r, matching))
                default:
                    do {
                        return .vector(try binary.vectorBinop(expr.op, l, r, matching, returnBool: expr.returnBool, at: tMs))
                    } catch {
                        throw SightlineError(.invalidArgument, error.message)
                    }
                }
            }
        }
    }

    /// A vector aggregation over one step's samples, with PromQL's kernels.
    private static func aggregate(_ aggregation: VectorAggregationExpr, _ input: [Sample], t: Int64) -> [Sample] {
        switch aggregation.op {
        case .sort, .sortDesc:
            let descending = aggregation.op == .sortDesc
            return input.sorted { lhs, rhs in
                if lhs.v.isNaN != rhs.v.isNaN { return rhs.v.isNaN }
                return descending ? lhs.v > rhs.v : lhs.v < rhs.v
            }
        default:
            break
        }
        var slots: [Labels: Int] = [:]
        var keys: [Labels] = []
        var groups: [[Sample]] = []
        for sample in input {
            let key = aggregation.grouping?.key(sample.metric) ?? Labels([])
            if let slot = slots[key] {
                groups[slot].append(sample)
            } else {
                slots[key] = keys.count
                keys.append(key)
                groups.append([sample])
            }
        }
        var out: [Sample] = []
        for (slot, key) in keys.enumerated() {
            let members = groups[slot]
            let value: Double?
            switch aggregation.op {
            case .topk, .approxTopk:
                out += Aggregation.topK(aggregation.parameter ?? 0, members)
                continue
            case .bottomk:
                out += Aggregation.bottomK(aggregation.parameter ?? 0, members)
                continue
            case .sum:
                var sum = Aggregation.Sum()
                for member in members { sum.add(member.v) }
                value = sum.result
            case .avg:
                var average = Aggregation.Average()
                for member in members { average.add(member.v) }
                value = average.result
            case .min, .max:
                var extreme = Aggregation.Extreme(isMax: aggregation.op == .max)
                for member in members { extreme.add(member.v) }
                value = extreme.result
            case .count:
                value = Aggregation.count(members.count)
            case .stddev, .stdvar:
                var variance = Aggregation.Variance()
                for member in members { variance.add(member.v) }
                value = aggregation.op == .stddev ? variance.standardDeviation : variance.variance
            case .sort, .sortDesc:
                value = nil
            }
            if let value { out.append(Sample(metric: key, t: t, v: value)) }
        }
        return out
    }
}
