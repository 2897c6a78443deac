import SightlineCore

/// A series as selected from the querier once per query, searched by time for every step.
struct StoredSeries {
    var labels: Labels
    var timestamps: [Int64]
    var values: [Double]

    /// The index of the last sample with timestamp `<= t`, or nil.
    func lastIndex(atOrBefore t: Int64) -> Int? {
        var low = 0
        var high = timestamps.count
        while low < high {
            let mid = (low + high) / 2
            if timestamps[mid] <= t { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? nil : low - 1
    }

    /// The non-stale points with `start < t <= end`.
    func points(after start: Int64, through end: Int64) -> [FloatPoint] {
        guard let last = lastIndex(atOrBefore: end) else { return [] }
        let first = (lastIndex(atOrBefore: start) ?? -1) + 1
        guard first <= last else { return [] }
        var out: [FloatPoint] = []
        out.reserveCapacity(last - first + 1)
        for index in first...last where !StaleNaN.isStale(values[index]) {
            out.append(FloatPoint(t: timestamps[index], v: values[index]))
        }
        return out
    }
}
