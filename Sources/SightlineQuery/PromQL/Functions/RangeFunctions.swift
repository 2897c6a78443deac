package import SightlineCore

/// The kernels of PromQL's range-vector functions (`rate(x[5m])`, `avg_over_time(x[1h])`, …): each takes the float
/// points of one series inside one window and returns the function's value, or nil when Prometheus emits no sample.
///
/// The window is Prometheus 3's left-open interval `(rangeStart, rangeEnd]`, in milliseconds: the evaluator selects
/// the points (and drops staleness markers) before it calls a kernel, and passes the window bounds for the functions
/// that extrapolate to them. With an `offset` or `@` modifier the window is shifted but the evaluation time is not;
/// only `predict_linear` needs the latter.
///
/// NaN and the infinities flow through the arithmetic exactly as in Prometheus (which is IEEE arithmetic in Go), so,
/// for example, `sum_over_time` of `[1, NaN]` is NaN and `max_over_time` ignores NaN unless every value is NaN.
/// Native histograms are outside these kernels; a caller holding a mix of floats and histograms passes the floats.
package enum RangeFunctions {
    // MARK: - rate, increase, delta

    /// `rate(v[range])`: the per-second increase of a counter over the window, extrapolated to the window edges.
    ///
    /// See ``extrapolatedRate(_:rangeStart:rangeEnd:isCounter:isRate:)`` for the algorithm. Nil with fewer than two
    /// points.
    package static func rate(_ points: ArraySlice<FloatPoint>, rangeStart: Int64, rangeEnd: Int64) -> Double? {
        extrapolatedRate(points, rangeStart: rangeStart, rangeEnd: rangeEnd, isCounter: true, isRate: true)
    }

    /// `increase(v[range])`: the increase of a counter over the window, extrapolated to the window edges
    /// (`rate × range seconds`, computed the same way). Nil with fewer than two points.
    package static func increase(_ points: ArraySlice<FloatPoint>, rangeStart: Int64, rangeEnd: Int64) -> Double? {
        extrapolatedRate(points, rangeStart: rangeStart, rangeEnd: rangeEnd, isCounter: true, isRate: false)
    }

    /// `delta(v[range])`: the difference between the last and first value of a gauge, extrapolated to the window
    /// edges, without counter-reset handling or the zero floor. Nil with fewer than two points.
    package static func delta(_ points: ArraySlice<FloatPoint>, rangeStart: Int64, rangeEnd: Int64) -> Double? {
        extrapolatedRate(points, rangeStart: rangeStart, rangeEnd: rangeEnd, isCounter: false, isRate: false)
    }

    /// Prometheus' `extrapolatedRate` for float samples, shared by `rate`, `increase` and `delta`.
    ///
    /// 1. The raw result is `last - first`; for counters, every decrease between neighbours is a reset, and the value
    ///    before the reset is added back.
    /// 2. The average interval between the points is `(lastT - firstT) / (n - 1)`. If the first point lies within
    ///    1.1 average intervals of `rangeStart`, the result is extrapolated all the way to `rangeStart`; otherwise the
    ///    series is assumed to start inside the window and the extrapolation covers only half an average interval.
    ///    The same rule applies between the last point and `rangeEnd`.
    /// 3. For counters, the extrapolation to the left stops where the counter would reach zero (if the first value
    ///    is not negative and the raw result is positive), since counters are never negative.
    /// 4. The result is scaled by `(sampled + toStart + toEnd) / sampled`, and divided by the window length in
    ///    seconds for `rate`.
    ///
    /// Needs at least two points; with fewer, Prometheus emits nothing (start-timestamp based single-sample rates are
    /// not modelled here).
    package static func extrapolatedRate(
        _ points: ArraySlice<FloatPoint>, rangeStart: Int64, rangeEnd: Int64, isCounter: Bool, isRate: Bool
    ) -> Double? {
        guard points.count >= 2, let first = points.first, let last = points.last else { return nil }
        var result = last.v - first.v
        if isCounter {
            var previous = first.v
            for point in points.dropFirst() {
                if point.v < previous { result += previous }
                previous = point.v
            }
        }
        return extrapolate(
            result, first: first, last: last, count: points.count, rangeStart: rangeStart, rangeEnd: rangeEnd, isCounter: isCounter,
            rateSeconds: isRate ? durationSeconds(milliseconds: rangeEnd - rangeStart) : nil)
    }

    /// Steps 2–4 of ``extrapolatedRate(_:rangeStart:rangeEnd:isCounter:isRate:)``: extrapolates the raw `result` of
    /// `count` (at least two) points from `first` to `last` to the window's edges, and divides by `rateSeconds` (the
    /// window's length in seconds, as ``durationSeconds(milliseconds:)`` computes it) for `rate`. Apart so that a
    /// caller that knows the raw result without the window's points (`last - first` when it holds no counter reset)
    /// needs only the window's two ends, and so that the divisor is computed once per query.
    @inline(__always)
    package static func extrapolate(
        _ result: Double, first: FloatPoint, last: FloatPoint, count: Int, rangeStart: Int64, rangeEnd: Int64, isCounter: Bool,
        rateSeconds: Double?
    ) -> Double {
        extrapolate(
            SIMD2(repeating: result), firstTime: SIMD2(repeating: first.t), firstValue: SIMD2(repeating: first.v),
            lastTime: SIMD2(repeating: last.t), count: SIMD2(repeating: Int64(count)), rangeStart: SIMD2(repeating: rangeStart),
            rangeEnd: SIMD2(repeating: rangeEnd), isCounter: isCounter, rateSeconds: rateSeconds)[0]
    }

    /// ``extrapolate(_:first:last:count:rangeStart:rangeEnd:isCounter:rateSeconds:)`` for two windows at once, lane by
    /// lane with the same IEEE operations (so bit for bit the same results): the divisions, which bound this
    /// computation, then run two to an instruction.
    @inline(__always)
    package static func extrapolate(
        _ result: SIMD2<Double>, firstTime: SIMD2<Int64>, firstValue: SIMD2<Double>, lastTime: SIMD2<Int64>, count: SIMD2<Int64>,
        rangeStart: SIMD2<Int64>, rangeEnd: SIMD2<Int64>, isCounter: Bool, rateSeconds: Double?
    ) -> SIMD2<Double> {
        var durationToStart = SIMD2<Double>(firstTime &- rangeStart) / 1000
        var durationToEnd = SIMD2<Double>(rangeEnd &- lastTime) / 1000
        let sampledInterval = SIMD2<Double>(lastTime &- firstTime) / 1000
        let averageDurationBetweenSamples = sampledInterval / SIMD2<Double>(count &- 1)
        let extrapolationThreshold = averageDurationBetweenSamples * 1.1
        let halfAverage = averageDurationBetweenSamples / 2

        durationToStart.replace(with: halfAverage, where: durationToStart .>= extrapolationThreshold)
        if isCounter {
            // Not below zero: where the counter would reach zero, if that comes before the window's start.
            let durationToZero = sampledInterval * (firstValue / result)
            durationToStart.replace(
                with: durationToZero, where: (result .> 0) .& (firstValue .>= 0) .& (durationToZero .< durationToStart))
        }
        durationToEnd.replace(with: halfAverage, where: durationToEnd .>= extrapolationThreshold)

        var factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval
        factor.replace(with: 1, where: sampledInterval .== 0)
        if let rateSeconds {
            factor /= SIMD2(repeating: rateSeconds)
        }
        return result * factor
    }

    /// A millisecond duration in seconds, computed as Go's `time.Duration.Seconds` computes it (whole seconds plus
    /// the nanosecond remainder divided by 1e9), so that the divisor of `rate` rounds exactly as in Prometheus.
    package static func durationSeconds(milliseconds: Int64) -> Double {
        let seconds = milliseconds / 1000
        let nanoseconds = (milliseconds % 1000) * 1_000_000
        return Double(seconds) + Double(nanoseconds) / 1e9
    }

    // MARK: - irate, idelta

    /// `irate(v[range])`: the per-second rate between the last two points. A decrease is a counter reset, and then
    /// the rate is the last value divided by the interval. Nil with fewer than two points or when both share a
    /// timestamp.
    package static func irate(_ points: ArraySlice<FloatPoint>) -> Double? {
        instantValue(points, isRate: true)
    }

    /// `idelta(v[range])`: the difference between the last two points. Nil with fewer than two points or when both
    /// share a timestamp.
    package static func idelta(_ points: ArraySlice<FloatPoint>) -> Double? {
        instantValue(points, isRate: false)
    }

    private static func instantValue(_ points: ArraySlice<FloatPoint>, isRate: Bool) -> Double? {
        guard points.count >= 2 else { return nil }
        let newer = points[points.endIndex - 1]
        let older = points[points.endIndex - 2]
        let sampledInterval = newer.t - older.t
        if sampledInterval == 0 { return nil }
        var result = newer.v
        if !isRate || !(newer.v < older.v) {
            // A gauge, or a counter without a reset (or with a NaN, which compares false).
            result = newer.v - older.v
        }
        if isRate {
            result /= Double(sampledInterval) / 1000
        }
        return result
    }

    // MARK: - deriv, predict_linear

    /// `deriv(v[range])`: the slope, per second, of the least-squares line through the points. Nil with fewer than
    /// two points. A constant series has slope 0, but a constant infinite series gives NaN, as in Prometheus.
    package static func deriv(_ points: ArraySlice<FloatPoint>) -> Double? {
        guard points.count >= 2, let first = points.first else { return nil }
        // The regression is anchored at the first timestamp to keep the x values small, as Prometheus does.
        return linearRegression(points, interceptTime: first.t).slope
    }

    /// `predict_linear(v[range], t)`: the value the least-squares line through the points reaches `seconds` after
    /// the evaluation time (`evaluationTime`, in milliseconds; not the window end when an offset or `@` is used).
    /// Nil with fewer than two points.
    package static func predictLinear(_ points: ArraySlice<FloatPoint>, seconds: Double, evaluationTime: Int64) -> Double? {
        guard points.count >= 2 else { return nil }
        let (slope, intercept) = linearRegression(points, interceptTime: evaluationTime)
        return slope * seconds + intercept
    }

    /// Least-squares regression of value over time (in seconds relative to `interceptTime`), with every running sum
    /// Kahan-compensated as in Prometheus. Returns the slope and the value of the line at `interceptTime`. A constant
    /// series gives slope 0 and its value, unless the value is infinite, which gives NaN for both.
    package static func linearRegression(
        _ points: ArraySlice<FloatPoint>, interceptTime: Int64
    ) -> (slope: Double, intercept: Double) {
        var n = 0.0
        var sumX = 0.0, cX = 0.0
        var sumY = 0.0, cY = 0.0
        var sumXY = 0.0, cXY = 0.0
        var sumX2 = 0.0, cX2 = 0.0
        let initY = points.first?.v ?? 0
        var constY = true
        for point in points {
            if constY && point.v != initY { constY = false }
            n += 1
            let x = Double(point.t - interceptTime) / 1e3
            (sumX, cX) = KahanSummation.add(x, to: sumX, compensation: cX)
            (sumY, cY) = KahanSummation.add(point.v, to: sumY, compensation: cY)
            (sumXY, cXY) = KahanSummation.add(x * point.v, to: sumXY, compensation: cXY)
            (sumX2, cX2) = KahanSummation.add(x * x, to: sumX2, compensation: cX2)
        }
        if constY {
            if initY.isInfinite { return (.nan, .nan) }
            return (0, initY)
        }
        sumX += cX
        sumY += cY
        sumXY += cXY
        sumX2 += cX2
        let covXY = sumXY - sumX * sumY / n
        let varX = sumX2 - sumX * sumX / n
        let slope = covXY / varX
        let intercept = sumY / n - slope * sumX / n
        return (slope, intercept)
    }

    // MARK: - resets, changes

    /// `resets(v[range])`: how many times a value is lower than the one before it. Nil for an empty window.
    package static func resets(_ points: ArraySlice<FloatPoint>) -> Double? {
        guard var previous = points.first?.v else { return nil }
        var count = 0
        for point in points.dropFirst() {
            if point.v < previous { count += 1 }
            previous = point.v
        }
        return Double(count)
    }

    /// `changes(v[range])`: how many times a value differs from the one before it (two NaNs in a row are no change).
    /// Nil for an empty window.
    package static func changes(_ points: ArraySlice<FloatPoint>) -> Double? {
        guard var previous = points.first?.v else { return nil }
        var count = 0
        for point in points.dropFirst() {
            if point.v != previous && !(point.v.isNaN && previous.isNaN) { count += 1 }
            previous = point.v
        }
        return Double(count)
    }

    // MARK: - *_over_time

    /// `avg_over_time(v[range])`: the mean of the values.
    ///
    /// As in Prometheus 3, the mean is the Kahan-compensated sum divided by the count as long as the running sum stays
    /// finite; once adding a value would overflow, it switches to the incremental mean `mean·(n-1)/n + v/n`, still
    /// compensated. Nil for an empty window.
    package static func avgOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        guard let first = points.first else { return nil }
        var sum = first.v
        var count = 1.0
        var mean = 0.0
        var kahanC = 0.0
        var incrementalMean = false
        for point in points.dropFirst() {
            count += 1
            if !incrementalMean {
                let (newSum, newC) = KahanSummation.add(point.v, to: sum, compensation: kahanC)
                if !newSum.isInfinite {
                    sum = newSum
                    kahanC = newC
                    continue
                }
                incrementalMean = true
                mean = sum / (count - 1)
                kahanC /= count - 1
            }
            let q = (count - 1) / count
            (mean, kahanC) = KahanSummation.add(point.v / count, to: q * mean, compensation: q * kahanC)
        }
        if incrementalMean { return mean + kahanC }
        return sum / count + kahanC / count
    }

    /// `sum_over_time(v[range])`: the Kahan-compensated sum of the values (an infinite sum is returned as it is).
    /// Nil for an empty window.
    package static func sumOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        guard !points.isEmpty else { return nil }
        var sum = 0.0
        var c = 0.0
        for point in points {
            (sum, c) = KahanSummation.add(point.v, to: sum, compensation: c)
        }
        if sum.isInfinite { return sum }
        return sum + c
    }

    /// `count_over_time(v[range])`: the number of points. Nil for an empty window.
    package static func countOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        points.isEmpty ? nil : Double(points.count)
    }

    /// `min_over_time(v[range])`: the smallest value; NaN values are skipped unless all values are NaN.
    /// Nil for an empty window.
    package static func minOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        extreme(points) { current, best in current < best || best.isNaN }?.v
    }

    /// `max_over_time(v[range])`: the largest value; NaN values are skipped unless all values are NaN.
    /// Nil for an empty window.
    package static func maxOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        extreme(points) { current, best in current > best || best.isNaN }?.v
    }

    /// `ts_of_min_over_time(v[range])`: the timestamp, in seconds, of the last occurrence of the smallest value.
    package static func tsOfMinOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        extreme(points) { current, best in current <= best || best.isNaN }.map { Double($0.t) / 1000 }
    }

    /// `ts_of_max_over_time(v[range])`: the timestamp, in seconds, of the last occurrence of the largest value.
    package static func tsOfMaxOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        extreme(points) { current, best in current >= best || best.isNaN }.map { Double($0.t) / 1000 }
    }

    /// Prometheus' `compareOverTime`: starts from the first point and takes every later point for which
    /// `replaces(point, best)` holds.
    private static func extreme(
        _ points: ArraySlice<FloatPoint>, replaces: (Double, Double) -> Bool
    ) -> FloatPoint? {
        guard var best = points.first else { return nil }
        for point in points where replaces(point.v, best.v) {
            best = point
        }
        return best
    }

    /// `last_over_time(v[range])`: the most recent value. Nil for an empty window.
    package static func lastOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        points.last?.v
    }

    /// `first_over_time(v[range])`: the oldest value. Nil for an empty window.
    package static func firstOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        points.first?.v
    }

    /// `ts_of_last_over_time(v[range])`: the timestamp, in seconds, of the most recent point.
    package static func tsOfLastOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        points.last.map { Double($0.t) / 1000 }
    }

    /// `ts_of_first_over_time(v[range])`: the timestamp, in seconds, of the oldest point.
    package static func tsOfFirstOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        points.first.map { Double($0.t) / 1000 }
    }

    /// `present_over_time(v[range])`: 1 for a window with any point. Nil for an empty window.
    package static func presentOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        points.isEmpty ? nil : 1
    }

    /// `stdvar_over_time(v[range])`: the population variance, computed with Welford's online algorithm whose mean and
    /// sum of squares are both Kahan-compensated, as in Prometheus. Nil for an empty window.
    package static func stdvarOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        guard !points.isEmpty else { return nil }
        var count = 0.0
        var mean = 0.0, cMean = 0.0
        var aux = 0.0, cAux = 0.0
        for point in points {
            count += 1
            let delta = point.v - (mean + cMean)
            (mean, cMean) = KahanSummation.add(delta / count, to: mean, compensation: cMean)
            (aux, cAux) = KahanSummation.add(delta * (point.v - (mean + cMean)), to: aux, compensation: cAux)
        }
        return (aux + cAux) / count
    }

    /// `stddev_over_time(v[range])`: the square root of ``stdvarOverTime(_:)``. Nil for an empty window.
    package static func stddevOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        stdvarOverTime(points).map { $0.squareRoot() }
    }

    /// `quantile_over_time(φ, v[range])`: the φ-quantile of the values, interpolated as in
    /// ``Aggregation/quantile(_:_:)`` (NaN sorts first; φ < 0 gives -Inf, φ > 1 gives +Inf, NaN φ gives NaN).
    /// Nil for an empty window.
    package static func quantileOverTime(_ phi: Double, _ points: ArraySlice<FloatPoint>) -> Double? {
        guard !points.isEmpty else { return nil }
        var values = points.map(\.v)
        return Aggregation.quantile(phi, &values)
    }

    /// `mad_over_time(v[range])`: the median absolute deviation from the median. A NaN value makes the result NaN.
    /// Nil for an empty window.
    package static func madOverTime(_ points: ArraySlice<FloatPoint>) -> Double? {
        guard !points.isEmpty else { return nil }
        var values: [Double] = []
        values.reserveCapacity(points.count)
        for point in points {
            if point.v.isNaN { return .nan }
            values.append(point.v)
        }
        let median = Aggregation.quantile(0.5, &values)
        for index in values.indices {
            values[index] = abs(values[index] - median)
        }
        return Aggregation.quantile(0.5, &values)
    }

    // MARK: - double_exponential_smoothing

    /// `double_exponential_smoothing(v[range], sf, tf)` (Holt's linear method): the smoothed value at the last point.
    ///
    /// The level starts at the first value and the trend at the difference of the first two values; each later value
    /// `x` updates `level = sf·x + (1-sf)·(level + trend)` and `trend = tf·(level - previousLevel) + (1-tf)·trend`.
    /// Nil with fewer than two points.
    ///
    /// - Throws: ``SightlineError`` with Prometheus' messages when `sf` or `tf` is not strictly between 0 and 1
    ///   (`invalid smoothing factor. Expected: 0 < sf < 1, got: 1.500000`), whether or not the window has points.
    package static func doubleExponentialSmoothing(
        _ points: ArraySlice<FloatPoint>, smoothingFactor sf: Double, trendFactor tf: Double
    ) throws(SightlineError) -> Double? {
        if sf <= 0 || sf >= 1 {
            throw SightlineError(
                .invalidArgument, "invalid smoothing factor. Expected: 0 < sf < 1, got: \(PromQLFloat.formatFixed6(sf))")
        }
        if tf <= 0 || tf >= 1 {
            throw SightlineError(
                .invalidArgument, "invalid trend factor. Expected: 0 < tf < 1, got: \(PromQLFloat.formatFixed6(tf))")
        }
        guard points.count >= 2 else { return nil }
        let base = points.startIndex
        var s0 = 0.0
        var s1 = points[base].v
        var b = points[base + 1].v - points[base].v
        var index = 1
        while index < points.count {
            let x = sf * points[base + index].v
            // The trend is updated from the previous two levels, except at the first step where it keeps its
            // initial value.
            if index > 1 {
                b = tf * (s1 - s0) + (1 - tf) * b
            }
            let y = (1 - sf) * (s1 + b)
            s0 = s1
            s1 = x + y
            index += 1
        }
        return s1
    }
}
