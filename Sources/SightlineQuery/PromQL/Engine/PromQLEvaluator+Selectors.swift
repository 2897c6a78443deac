import SightlineCore

/// A range vector with the window it was taken over, for the functions that extrapolate to the window's edges.
struct RangeWindow {
    var series: [RangeSeries]
    /// The exclusive start and inclusive end of the window (milliseconds).
    var start: Int64
    var end: Int64
    /// Whether the points reach past the window (`anchored`, `smoothed`).
    var reach: RangeFunctions.Reach = .none
}

extension PromQLEvaluator {
    // MARK: - Durations and @

    /// A duration of the query, given literally or as a duration expression (`[step()*2]`).
    func milliseconds(_ fixed: Int64, _ expr: DurationExpr?, allowNegative: Bool) throws(PromQLError) -> Int64 {
        guard let expr else { return fixed }
        do {
            return try expr.milliseconds(stepMilliseconds: stepMs, rangeMilliseconds: endMs - startMs, allowNegative: allowNegative)
        } catch let error as SightlineError {
            throw PromQLError(.execution, error.message)
        } catch {
            throw PromQLError(.execution, "\(error)")
        }
    }

    /// The time an `@` modifier pins evaluation to, or nil.
    func pinnedTime(_ at: AtModifier?) -> Int64? {
        switch at {
        case .none: nil
        case .timestamp(let t): t
        case .start: startMs
        case .end: endMs
        }
    }

    // MARK: - Selectors

    /// An instant selector at `t`: per series the newest non-stale sample in `(ref - lookback, ref]`, where `ref` is
    /// the `@` time (or `t`) minus the offset. Samples keep their own timestamps (for `timestamp()`).
    func selectInstant(_ selector: VectorSelector, at t: Int64) throws(PromQLError) -> [Sample] {
        let offset = try milliseconds(selector.offset, selector.offsetExpr, allowNegative: true)
        let ref = (pinnedTime(selector.at) ?? t) - offset
        var out: [Sample] = []
        if selector.smoothed {
            let lookback = options.lookbackDeltaMs
            for series in try series(for: selector.matchers) {
                guard let value = RangeFunctions.smoothedValue(series.points(after: ref - lookback, through: ref + lookback), at: ref) else { continue }
                out.append(Sample(metric: series.labels, t: t, v: value))
            }
            try account(out.count)
            return out
        }
        for series in try series(for: selector.matchers) {
            guard let index = series.instantIndex(at: ref, lookback: options.lookbackDeltaMs) else { continue }
            out.append(Sample(metric: series.labels, t: series.timestamps[index], v: series.values[index]))
        }
        try account(out.count)
        return out
    }

    /// A range selector at `t`: the non-stale points in `(ref - range, ref]` of every series with any; anchored from
    /// a lookback earlier, smoothed also to a lookback later.
    func selectRange(_ matrix: MatrixSelector, at t: Int64) throws(PromQLError) -> RangeWindow {
        let selector = matrix.selector
        let offset = try milliseconds(selector.offset, selector.offsetExpr, allowNegative: true)
        let range = try milliseconds(matrix.range, matrix.rangeExpr, allowNegative: false)
        let ref = (pinnedTime(selector.at) ?? t) - offset
        let reach = Self.reach(of: selector)
        let before = reach == .none ? 0 : options.lookbackDeltaMs
        let after = reach == .smoothed ? options.lookbackDeltaMs : 0
        var out: [RangeSeries] = []
        var count = 0
        for series in try series(for: selector.matchers) {
            let points = series.points(after: ref - range - before, through: ref + after)
            if points.isEmpty { continue }
            count += points.count
            out.append(RangeSeries(metric: series.labels, points: points, dropName: false))
        }
        try account(count)
        return RangeWindow(series: out, start: ref - range, end: ref, reach: reach)
    }

    static func reach(of selector: VectorSelector) -> RangeFunctions.Reach {
        selector.anchored ? .anchored : selector.smoothed ? .smoothed : .none
    }

    /// A subquery at `t`: the inner expression evaluated at every multiple of the step in `(ref - range, ref]`.
    func evalSubquery(_ subquery: SubqueryExpr, at t: Int64) throws(PromQLError) -> RangeWindow {
        let offset = try milliseconds(subquery.offset, subquery.offsetExpr, allowNegative: true)
        let range = try milliseconds(subquery.range, subquery.rangeExpr, allowNegative: false)
        var step = try milliseconds(subquery.step, subquery.stepExpr, allowNegative: false)
        if step <= 0 { step = options.defaultSubqueryStepMs }
        let ref = (pinnedTime(subquery.at) ?? t) - offset
        let windowStart = ref - range
        var first = step * (windowStart / step)
        if first <= windowStart { first += step }

        let wasInRange = inRange
        inRange = first + step <= ref
        subqueryDepth += 1
        defer {
            inRange = wasInRange
            subqueryDepth -= 1
        }

        var index: [Labels: Int] = [:]
        var out: [RangeSeries] = []
        var count = 0
        var ts = first
        while ts <= ref {
            try checkDeadline()
            let value = try eval(subquery.expr, at: ts)
            let samples: [Sample]
            switch value {
            case .scalar(let v): samples = [Sample(metric: Labels([]), t: ts, v: v)]
            case .vector(let vector): samples = vector
            default: throw PromQLError(.internal, "subquery of a non-vector expression")
            }
            for sample in samples {
                if let position = index[sample.metric] {
                    if out[position].points.last?.t == ts { throw PromQLError.duplicateLabelset }
                    out[position].points.append(FloatPoint(t: ts, v: sample.v))
                    if sample.dropName { out[position].dropName = true }
                } else {
                    index[sample.metric] = out.count
                    out.append(RangeSeries(metric: sample.metric, points: [FloatPoint(t: ts, v: sample.v)], dropName: sample.dropName))
                }
            }
            count += samples.count
            ts += step
        }
        try account(count)
        return RangeWindow(series: out, start: windowStart, end: ref)
    }

    // MARK: - Time span

    /// The earliest and latest time any selector of `expr` reads, as Prometheus' `FindMinMaxTime`.
    func timeSpan(of expr: Expr) throws(PromQLError) -> (start: Int64, end: Int64) {
        var low = Int64.max
        var high = Int64.min
        try walkSpan(expr, subqueryOffset: 0, subqueryRange: 0, subqueryAt: nil, low: &low, high: &high)
        if high == Int64.min { return (0, 0) }
        return (low, high)
    }

    private func walkSpan(
        _ expr: Expr, subqueryOffset: Int64, subqueryRange: Int64, subqueryAt: Int64?, low: inout Int64, high: inout Int64
    ) throws(PromQLError) {
        func selectorSpan(_ selector: VectorSelector, evalRange: Int64) throws(PromQLError) {
            var start = startMs
            var end = endMs
            if let subqueryAt {
                start = subqueryAt
                end = subqueryAt
            }
            if let pinned = pinnedTime(selector.at) {
                start = pinned
                end = pinned
            } else {
                start -= subqueryOffset + subqueryRange
                end -= subqueryOffset
            }
            if evalRange == 0 {
                start -= options.lookbackDeltaMs - 1
            } else {
                start -= evalRange - 1
                if selector.anchored || selector.smoothed { start -= options.lookbackDeltaMs }
            }
            if selector.smoothed { end += options.lookbackDeltaMs }
            let offset = try milliseconds(selector.offset, selector.offsetExpr, allowNegative: true)
            low = min(low, start - offset)
            high = max(high, end - offset)
        }
        switch expr {
        case .number, .string:
            return
        case .vectorSelector(let selector):
            try selectorSpan(selector, evalRange: 0)
        case .matrixSelector(let matrix):
            try selectorSpan(matrix.selector, evalRange: try milliseconds(matrix.range, matrix.rangeExpr, allowNegative: false))
        case .subquery(let subquery):
            let offset = try milliseconds(subquery.offset, subquery.offsetExpr, allowNegative: true)
            let range = try milliseconds(subquery.range, subquery.rangeExpr, allowNegative: false)
            if let pinned = pinnedTime(subquery.at) {
                try walkSpan(subquery.expr, subqueryOffset: offset, subqueryRange: range, subqueryAt: pinned, low: &low, high: &high)
            } else {
                try walkSpan(
                    subquery.expr, subqueryOffset: subqueryOffset + offset, subqueryRange: subqueryRange + range,
                    subqueryAt: subqueryAt, low: &low, high: &high)
            }
        case .paren(let inner), .unary(_, let inner):
            try walkSpan(inner, subqueryOffset: subqueryOffset, subqueryRange: subqueryRange, subqueryAt: subqueryAt, low: &low, high: &high)
        case .binary(let binary):
            try walkSpan(binary.lhs, subqueryOffset: subqueryOffset, subqueryRange: subqueryRange, subqueryAt: subqueryAt, low: &low, high: &high)
            try walkSpan(binary.rhs, subqueryOffset: subqueryOffset, subqueryRange: subqueryRange, subqueryAt: subqueryAt, low: &low, high: &high)
        case .aggregate(let aggregate):
            if let param = aggregate.param {
                try walkSpan(param, subqueryOffset: subqueryOffset, subqueryRange: subqueryRange, subqueryAt: subqueryAt, low: &low, high: &high)
            }
            try walkSpan(aggregate.expr, subqueryOffset: subqueryOffset, subqueryRange: subqueryRange, subqueryAt: subqueryAt, low: &low, high: &high)
        case .call(let call):
            for argument in call.args {
                try walkSpan(argument, subqueryOffset: subqueryOffset, subqueryRange: subqueryRange, subqueryAt: subqueryAt, low: &low, high: &high)
            }
        }
    }
}
