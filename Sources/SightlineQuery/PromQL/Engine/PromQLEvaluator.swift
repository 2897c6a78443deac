import SightlineCore

/// Evaluates one query: holds the selected series, the annotations and the limits while the expression is walked.
///
/// Not thread-safe and not reused: ``PromQLEngine`` creates one per query.
final class PromQLEvaluator {
    let querier: any MetricQuerier
    let tenant: Tenant
    let options: PromQLEngine.Options
    /// The query's start, end and step (step 0 for an instant query), for `@ start()`, `@ end()` and `step()`.
    let startMs: Int64
    let endMs: Int64
    let stepMs: Int64
    let deadline: ContinuousClock.Instant

    /// Whether evaluation currently runs over several steps (a range query or a subquery), where Prometheus checks
    /// each node's output for duplicate labelsets.
    var inRange: Bool
    /// Series per selector key, selected once over ``selectSpan``.
    private var cache: [String: [StoredSeries]] = [:]
    /// The time span every selector needs, as Prometheus' `FindMinMaxTime` computes it.
    var selectSpan: (start: Int64, end: Int64) = (0, 0)
    /// Samples held by the current step.
    var currentSamples = 0
    /// Per-query memos of label derivations that depend only on the input labels (group keys, match signatures, name
    /// removal): a series' labels do not change between steps, so each is derived and hashed once per query.
    var labelMemos: [LabelDerivation: LabelMemo] = [:]
    /// Sub-expressions of a range query computed for all steps at once, by their PromQL text (see ``StepMatrix``).
    var stepMatrices: [String: StepMatrix] = [:]
    /// How many subqueries enclose the expression being evaluated: inside one, times are not the query's steps.
    var subqueryDepth = 0
    private(set) var warnings: [String] = []
    private(set) var infos: [String] = []

    init(
        querier: any MetricQuerier, tenant: Tenant, options: PromQLEngine.Options, startMs: Int64, endMs: Int64, stepMs: Int64,
        isRange: Bool
    ) {
        self.querier = querier
        self.tenant = tenant
        self.options = options
        self.startMs = startMs
        self.endMs = endMs
        self.stepMs = stepMs
        self.inRange = isRange
        self.deadline = ContinuousClock.now.advanced(by: options.timeout)
    }

    // MARK: - Annotations

    func warn(_ message: String) {
        let text = "PromQL warning: " + message
        if !warnings.contains(text) { warnings.append(text) }
    }

    func info(_ message: String) {
        let text = "PromQL info: " + message
        if !infos.contains(text) { infos.append(text) }
    }

    // MARK: - Limits

    func checkDeadline() throws(PromQLError) {
        if ContinuousClock.now > deadline { throw PromQLError.timedOut }
    }

    func account(_ samples: Int) throws(PromQLError) {
        currentSamples += samples
        if currentSamples > options.maxSamples { throw PromQLError.tooManySamples }
    }

    // MARK: - Running

    /// Evaluates an instant query and applies the final name removal.
    func runInstant(_ expr: Expr) throws(PromQLError) -> PromQLResult {
        selectSpan = try timeSpan(of: expr)
        let t = startMs
        let value = try eval(expr, at: t)
        let result: PromQLValue
        switch value {
        case .scalar(let v): result = .scalar(t: t, v: v)
        case .string(let s): result = .string(t: t, v: s)
        case .vector(let samples):
            var out: [Sample] = []
            out.reserveCapacity(samples.count)
            var seen = Set<Labels>()
            for sample in samples {
                let metric = sample.dropName ? sample.metric.withoutMetricName : sample.metric
                if !seen.insert(metric).inserted { throw PromQLError.duplicateLabelset }
                out.append(Sample(metric: metric, t: t, v: sample.v))
            }
            result = .vector(out)
        case .matrix(let series):
            var merged: [Labels: [FloatPoint]] = [:]
            for item in series {
                let metric = item.dropName ? item.metric.withoutMetricName : item.metric
                merged[metric, default: []].append(contentsOf: item.points)
            }
            var out: [Series] = []
            for (metric, var points) in merged {
                points.sort { $0.t < $1.t }
                for index in points.indices.dropFirst() where points[index].t == points[index - 1].t {
                    throw PromQLError.duplicateLabelset
                }
                out.append(Series(metric: metric, points: points))
            }
            out.sort { $0.metric < $1.metric }
            result = .matrix(out)
        }
        return PromQLResult(value: result, warnings: warnings, infos: infos)
    }

    /// Evaluates a range query step by step and assembles the matrix.
    func runRange(_ expr: Expr) throws(PromQLError) -> PromQLResult {
        selectSpan = try timeSpan(of: expr)
        if let matrix = try prepareStepMatrices(expr), let series = try rangeResult(matrix) {
            return PromQLResult(value: .matrix(series), warnings: warnings, infos: infos)
        }
        let nameDropping = labelMemo(.dropName)
        var index: [Labels: Int] = [:]
        var series: [Series] = []
        var totalPoints = 0
        var t = startMs
        while t <= endMs {
            try checkDeadline()
            currentSamples = totalPoints
            let value = try eval(expr, at: t)
            var samples: [(Labels, Double)] = []
            switch value {
            case .scalar(let v): samples = [(Labels([]), v)]
            case .vector(let vector):
                var seen = Set<Labels>()
                samples.reserveCapacity(vector.count)
                seen.reserveCapacity(vector.count)
                for sample in vector {
                    let metric = sample.dropName ? nameDropping.derive(sample.metric) { $0.withoutMetricName } : sample.metric
                    if !seen.insert(metric).inserted { throw PromQLError.duplicateLabelset }
                    samples.append((metric, sample.v))
                }
            case .string, .matrix:
                throw PromQLError(.badData, "invalid expression type for range query, must be Scalar or instant Vector")
            }
            for (metric, v) in samples {
                if let position = index[metric] {
                    series[position].points.append(FloatPoint(t: t, v: v))
                } else {
                    index[metric] = series.count
                    series.append(Series(metric: metric, points: [FloatPoint(t: t, v: v)]))
                }
            }
            totalPoints += samples.count
            if totalPoints > options.maxSamples { throw PromQLError.tooManySamples }
            t += stepMs
        }
        series.sort { $0.metric < $1.metric }
        return PromQLResult(value: .matrix(series), warnings: warnings, infos: infos)
    }

    // MARK: - Label memos

    /// The memo of one derivation, created on first use.
    func labelMemo(_ derivation: LabelDerivation) -> LabelMemo {
        if let memo = labelMemos[derivation] { return memo }
        let memo = LabelMemo()
        labelMemos[derivation] = memo
        return memo
    }

    // MARK: - Evaluation

    /// The value of `expr` at time `t` (milliseconds).
    func eval(_ expr: Expr, at t: Int64) throws(PromQLError) -> EvalValue {
        switch expr {
        case .number(let value, _):
            return .scalar(value)
        case .string(let value):
            return .string(value)
        case .paren(let inner):
            return try eval(inner, at: t)
        case .unary(let op, let inner):
            let value = try eval(inner, at: t)
            guard op == .minus else { return value }
            switch value {
            case .scalar(let v): return .scalar(-v)
            case .vector(let samples):
                return .vector(samples.map { Sample(metric: $0.metric, t: t, v: -$0.v, dropName: true) })
            default: return value
            }
        case .vectorSelector(let selector):
            return .vector(try selectInstant(selector, at: t))
        case .matrixSelector(let selector):
            let window = try selectRange(selector, at: t)
            guard window.reach != .none else { return .matrix(window.series) }
            // A bare anchored or smoothed range shows its points between values made up at both edges.
            return .matrix(window.series.compactMap { series in
                let points = RangeFunctions.extendedPoints(
                    series.points, start: window.start, end: window.end, smoothed: window.reach == .smoothed)
                return points.isEmpty ? nil : RangeSeries(metric: series.metric, points: points[...], dropName: series.dropName)
            })
        case .subquery(let subquery):
            return .matrix(try evalSubquery(subquery, at: t).series)
        case .binary(let binary):
            if !stepMatrices.isEmpty, let vector = try stepMatrixVector(expr, at: t) { return .vector(vector) }
            return try evalBinary(binary, at: t)
        case .aggregate(let aggregate):
            if !stepMatrices.isEmpty, let vector = try stepMatrixVector(expr, at: t) { return .vector(vector) }
            return .vector(try evalAggregate(aggregate, at: t))
        case .call(let call):
            if !stepMatrices.isEmpty, let vector = try stepMatrixVector(expr, at: t) { return .vector(vector) }
            return try evalCall(call, at: t)
        }
    }

    /// The value of a scalar-typed expression at `t`.
    func evalScalar(_ expr: Expr, at t: Int64) throws(PromQLError) -> Double {
        switch try eval(expr, at: t) {
        case .scalar(let v): return v
        case .vector(let samples): return samples.first?.v ?? .nan
        default: throw PromQLError(.internal, "expected a scalar expression")
        }
    }

    /// The value of a vector-typed expression at `t`.
    func evalVector(_ expr: Expr, at t: Int64) throws(PromQLError) -> [Sample] {
        switch try eval(expr, at: t) {
        case .vector(let samples): return samples
        case .scalar(let v): return [Sample(metric: Labels([]), t: t, v: v)]
        default: throw PromQLError(.internal, "expected an instant vector expression")
        }
    }

    /// The value of a string literal argument.
    func stringArgument(_ expr: Expr) -> String {
        if case .string(let value) = expr.unparenthesized { return value }
        return ""
    }

    /// Throws Prometheus' duplicate-labelset error when two samples share their labels.
    func checkDuplicates(_ samples: [Sample]) throws(PromQLError) {
        guard samples.count > 1 else { return }
        var seen = Set<Labels>()
        for sample in samples where !seen.insert(sample.metric).inserted {
            throw PromQLError.duplicateLabelset
        }
    }

    // MARK: - Series selection

    /// The series matching `matchers`, selected once per query over ``selectSpan``.
    func series(for matchers: [LabelMatcher]) throws(PromQLError) -> [StoredSeries] {
        let key = matchers.map(\.description).sorted().joined(separator: ",")
        if let cached = cache[key] { return cached }
        let selected: [SeriesSamples]
        do {
            selected = try querier.select(tenant: tenant, matchers: matchers, startMs: selectSpan.start, endMs: selectSpan.end)
        } catch let error as SightlineError {
            throw PromQLError(.unavailable, error.message)
        } catch {
            throw PromQLError(.unavailable, "\(error)")
        }
        let stored = selected.map { StoredSeries(labels: $0.labels, timestamps: $0.timestampsMs, values: $0.values) }
        cache[key] = stored
        return stored
    }
}

/// A label derivation the evaluator memoizes per query.
enum LabelDerivation: Hashable {
    /// An aggregation's group labels (`by`/`without`).
    case group(grouping: [String], without: Bool)
    /// A binary operation's match signature (`on`/`ignoring`).
    case signature(on: Bool, names: [String])
    /// A binary operation's result labels without `group_x` labels (then they depend on the left labels only).
    case resultMetric(changesSchema: Bool, oneToOne: Bool, on: Bool, names: [String])
    /// The final name removal.
    case dropName
}

/// Derived labels by input labels, for one ``LabelDerivation`` in one query.
final class LabelMemo {
    private var derived: [Labels: Labels] = [:]

    @inline(__always)
    func derive(_ labels: Labels, _ compute: (Labels) -> Labels) -> Labels {
        if let known = derived[labels] { return known }
        let value = compute(labels)
        derived[labels] = value
        return value
    }
}
