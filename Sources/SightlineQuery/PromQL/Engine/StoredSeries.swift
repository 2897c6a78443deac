import SightlineCore

/// A series as selected from the querier once per query, searched by time for every step.
///
/// A class, so that walking a selector's series at every step neither copies nor retains its three arrays, and so that
/// it can keep cursors: the evaluation times of a range query only move forward, so each search starts where the
/// previous one ended (a binary search still serves a time earlier than the last one, as subqueries ask for).
final class StoredSeries {
    let labels: Labels
    let timestamps: [Int64]
    let values: [Double]

    /// The number of samples at or before the last instant lookup's time.
    private var instantCursor = 0
    /// See ``nonStaleColumns()`` and ``nonStalePoints()``.
    private var nonStaleSamples: (timestamps: [Int64], values: [Double])?
    private var nonStale: [FloatPoint]?
    /// The number of non-stale points at or before the last range lookup's start and end.
    private var startCursor = 0
    private var endCursor = 0

    init(labels: Labels, timestamps: [Int64], values: [Double]) {
        self.labels = labels
        self.timestamps = timestamps
        self.values = values
    }

    /// The number of elements of the ascending `times` that are `<= t`, searched from `hint`, the previous answer.
    @inline(__always)
    static func count(atOrBefore t: Int64, in times: [Int64], hint: inout Int) -> Int {
        var low: Int
        var high: Int
        let n = times.count
        var h = min(hint, n)
        if h > 0 && times[h - 1] > t {
            low = 0
            high = h - 1
        } else {
            var steps = 0
            while h < n && times[h] <= t && steps < 8 {
                h += 1
                steps += 1
            }
            if h == n || times[h] > t {
                hint = h
                return h
            }
            low = h
            high = n
        }
        while low < high {
            let mid = (low + high) / 2
            if times[mid] <= t { low = mid + 1 } else { high = mid }
        }
        hint = low
        return low
    }

    /// The index of the last sample with timestamp `<= t`, or nil.
    func lastIndex(atOrBefore t: Int64) -> Int? {
        let count = Self.count(atOrBefore: t, in: timestamps, hint: &instantCursor)
        return count == 0 ? nil : count - 1
    }

    /// The index of the sample an instant selector reads at `ref`: the newest in `(ref - lookback, ref]`, unless it is
    /// a staleness marker; nil when there is none.
    func instantIndex(at ref: Int64, lookback: Int64) -> Int? {
        guard let index = lastIndex(atOrBefore: ref), timestamps[index] > ref - lookback, !StaleNaN.isStale(values[index]) else { return nil }
        return index
    }

    /// The non-stale points with `start < t <= end`, a slice of the series' points.
    func points(after start: Int64, through end: Int64) -> ArraySlice<FloatPoint> {
        let points = nonStalePoints()
        let range = nonStaleRange(after: start, through: end)
        guard !range.isEmpty else { return [] }
        return points[range]
    }

    /// The points that are not staleness markers (``nonStaleColumns()`` as points), in time order, built on first use.
    func nonStalePoints() -> [FloatPoint] {
        if let built = nonStale { return built }
        let (times, values) = nonStaleColumns()
        var built: [FloatPoint] = []
        built.reserveCapacity(times.count)
        for index in times.indices { built.append(FloatPoint(t: times[index], v: values[index])) }
        nonStale = built
        return built
    }

    /// The indices into ``nonStalePoints()`` of the points with `start < t <= end` (found from the cursors).
    func nonStaleRange(after start: Int64, through end: Int64) -> Range<Int> {
        let times = nonStaleColumns().timestamps
        let last = Self.count(atOrBefore: end, in: times, hint: &endCursor)
        let first = Self.count(atOrBefore: start, in: times, hint: &startCursor)
        return first < last ? first..<last : first..<first
    }

    /// The timestamps and values without the staleness markers: the series' own arrays when it has none (most
    /// series), else copies built on first use.
    func nonStaleColumns() -> (timestamps: [Int64], values: [Double]) {
        if let built = nonStaleSamples { return built }
        var hasMarkers = false
        for value in values where StaleNaN.isStale(value) {
            hasMarkers = true
            break
        }
        var built = (timestamps: timestamps, values: values)
        if hasMarkers {
            built = ([], [])
            for index in values.indices where !StaleNaN.isStale(values[index]) {
                built.timestamps.append(timestamps[index])
                built.values.append(values[index])
            }
        }
        nonStaleSamples = built
        return built
    }
}
