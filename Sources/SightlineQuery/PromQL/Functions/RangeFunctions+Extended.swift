/// Prometheus' experimental extended range selectors (`promql-extended-range-selectors`): `x[5m] anchored` also reads
/// the last sample at or before the window's start, and `x[5m] smoothed` interpolates the values at both edges from
/// the samples around them, as `x smoothed` does at an instant. The evaluator hands these kernels the points of the
/// widened window: anchored `(start - lookback, end]`, smoothed `(start - lookback, end + lookback]`.
extension RangeFunctions {
    /// How a range selector reads past its window.
    package enum Reach: Sendable {
        case none, anchored, smoothed
    }

    /// The functions an anchored range may be given, and those a smoothed one may (Prometheus' lists).
    package static let anchoredFunctions = ["changes", "delta", "increase", "rate", "resets"]
    package static let smoothedFunctions = ["delta", "increase", "rate"]

    /// `rate`, `increase` and `delta` over an extended window: the difference between the values at the window's
    /// edges — the anchor and the last sample, or values interpolated at the edges when smoothed — plus, for
    /// counters, the values lost to resets in between; per second of `rangeSeconds` for `rate`. Nil when no sample
    /// lies after the start (or, smoothed, none before the end).
    package static func extendedRate(
        _ slice: ArraySlice<FloatPoint>, rangeStart: Int64, rangeEnd: Int64, rangeSeconds: Double, smoothed: Bool, isCounter: Bool, isRate: Bool
    ) -> Double? {
        let points = Array(slice)
        guard let (first, last) = edges(points, start: rangeStart, end: rangeEnd, smoothed: smoothed) else { return nil }
        let left = leftValue(points, first, rangeStart, smoothed: smoothed, isCounter: isCounter)
        let right = rightValue(points, last, rangeEnd, smoothed: smoothed, isCounter: isCounter)
        var result = right - left
        if isCounter {
            // Resets at the edges are in the edge values already; those strictly inside are added here.
            let innerFirst = points[first].t <= rangeStart ? first + 1 : first
            let innerLast = points[last].t >= rangeEnd ? last - 1 : last
            var previous = left
            if innerFirst <= innerLast {
                for point in points[innerFirst...innerLast] {
                    if point.v < previous { result += previous }
                    previous = point.v
                }
            }
            if right < previous { result += previous }
        }
        return isRate ? result / rangeSeconds : result
    }

    /// The points an anchored `changes` or `resets` counts over: from the last one at or before the window's start
    /// (the anchor) on; nil when none lies after the start.
    package static func anchoredPoints(_ points: ArraySlice<FloatPoint>, rangeStart: Int64) -> ArraySlice<FloatPoint>? {
        let after = points.firstIndex { $0.t > rangeStart } ?? points.endIndex
        guard after < points.endIndex else { return nil }
        return points[max(points.startIndex, after - 1)...]
    }

    /// A bare anchored or smoothed range as a query result: the points inside the window between two made-up edge
    /// points at `start` and `end` (the anchor's value, or values interpolated at the edges when smoothed).
    package static func extendedPoints(_ slice: ArraySlice<FloatPoint>, start: Int64, end: Int64, smoothed: Bool) -> [FloatPoint] {
        let points = Array(slice)
        guard let (first, last) = edges(points, start: start, end: end, smoothed: smoothed) else { return [] }
        let left = leftValue(points, first, start, smoothed: smoothed, isCounter: false)
        let right = rightValue(points, last, end, smoothed: smoothed, isCounter: false)
        let innerFirst = points[first].t <= start ? first + 1 : first
        let innerLast = points[last].t >= end ? last - 1 : last
        var out = [FloatPoint(t: start, v: left)]
        if innerFirst <= innerLast { out += points[innerFirst...innerLast] }
        out.append(FloatPoint(t: end, v: right))
        return out
    }

    /// `x smoothed` at `t`: the sample at `t`, else the value interpolated between its neighbours, else the last one
    /// before (none after yet); nil with no sample before. `points` are those within the lookback on both sides.
    package static func smoothedValue(_ points: ArraySlice<FloatPoint>, at t: Int64) -> Double? {
        let next = points.firstIndex { $0.t >= t } ?? points.endIndex
        if next < points.endIndex && points[next].t == t { return points[next].v }
        guard next > points.startIndex else { return nil }
        let previous = points[next - 1]
        guard next < points.endIndex else { return previous.v }
        return interpolate(previous, points[next], at: t, isCounter: false)
    }

    /// The indices of the first point used (the last at or before `start`, else the first) and the last (the first at
    /// or after `end` when smoothed, else the last), or nil when no point lies after `start` (or, smoothed, the first
    /// used lies after `end`).
    private static func edges(_ points: [FloatPoint], start: Int64, end: Int64, smoothed: Bool) -> (Int, Int)? {
        guard !points.isEmpty else { return nil }
        var last = points.count - 1
        let first = max(0, (points[..<last].firstIndex { $0.t > start } ?? last) - 1)
        if smoothed { last = points[..<last].firstIndex { $0.t >= end } ?? last }
        if points[last].t <= start { return nil }
        if smoothed && points[first].t > end { return nil }
        return (first, last)
    }

    private static func leftValue(_ points: [FloatPoint], _ first: Int, _ start: Int64, smoothed: Bool, isCounter: Bool) -> Double {
        if smoothed && points[first].t < start { return interpolate(points[first], points[first + 1], at: start, isCounter: isCounter) }
        return points[first].v
    }

    private static func rightValue(_ points: [FloatPoint], _ last: Int, _ end: Int64, smoothed: Bool, isCounter: Bool) -> Double {
        if smoothed && last > 0 && points[last].t > end { return interpolate(points[last - 1], points[last], at: end, isCounter: isCounter) }
        return points[last].v
    }

    /// The straight line between two points at `t`; a counter that fell is taken to have restarted from zero.
    private static func interpolate(_ a: FloatPoint, _ b: FloatPoint, at t: Int64, isCounter: Bool) -> Double {
        let from = isCounter && b.v < a.v ? 0 : a.v
        return from + (b.v - from) * Double(t - a.t) / Double(b.t - a.t)
    }
}
