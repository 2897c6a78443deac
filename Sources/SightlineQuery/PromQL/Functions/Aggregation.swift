package import SightlineCore

/// The kernels of PromQL's aggregation operators (`sum`, `avg`, `topk`, …) over one group of samples.
///
/// The evaluator groups the input vector (by `by`/`without` labels) and feeds each group to a kernel. The value
/// aggregations come as small accumulators with `add(_:)` and `result`, mirroring Prometheus' single pass over the
/// input, so a group never needs its values in an array (except `quantile`, which must sort them). The selecting
/// aggregations (`topk`, `bottomk`, `limitk`, `limit_ratio`) take the group's samples and return the chosen ones.
package enum Aggregation {
    // MARK: - sum, avg

    /// `sum`: Kahan-compensated (Neumaier) summation, the first value taken as it is, as in Prometheus 3.
    package struct Sum: Sendable {
        private var value = 0.0
        private var compensation = 0.0
        private var seen = false

        /// An empty sum.
        package init() {}

        /// Adds one value.
        package mutating func add(_ v: Double) {
            if !seen {
                seen = true
                value = v
                return
            }
            (value, compensation) = KahanSummation.add(v, to: value, compensation: compensation)
        }

        /// The sum, or nil when nothing was added (a group without samples has no output).
        package var result: Double? { seen ? value + compensation : nil }
    }

    /// `avg`: the Kahan-compensated sum divided by the count while the sum stays finite; once it would overflow, the
    /// incremental mean `mean·(n-1)/n + v/n`, still compensated. This is Prometheus 3's hybrid, which is more accurate
    /// than a pure incremental mean and still copes with values near `Double.greatestFiniteMagnitude`.
    package struct Average: Sendable {
        private var sum = 0.0
        private var mean = 0.0
        private var compensation = 0.0
        private var count = 0.0
        private var incremental = false

        /// An empty average.
        package init() {}

        /// Adds one value.
        package mutating func add(_ v: Double) {
            if count == 0 {
                count = 1
                sum = v
                mean = v
                return
            }
            count += 1
            if !incremental {
                let (newSum, newC) = KahanSummation.add(v, to: sum, compensation: compensation)
                if !newSum.isInfinite {
                    sum = newSum
                    compensation = newC
                    return
                }
                incremental = true
                mean = sum / (count - 1)
                compensation /= count - 1
            }
            let q = (count - 1) / count
            (mean, compensation) = KahanSummation.add(v / count, to: q * mean, compensation: q * compensation)
        }

        /// The mean, or nil when nothing was added.
        package var result: Double? {
            if count == 0 { return nil }
            if incremental { return mean + compensation }
            return sum / count + compensation / count
        }
    }

    // MARK: - min, max, count, group

    /// `min` and `max`: the extreme value; a NaN is replaced by any later value, so the result is NaN only when every
    /// value is NaN.
    package struct Extreme: Sendable {
        private let isMax: Bool
        private var value = Double.nan
        private var seen = false

        /// An empty `min` (`isMax` false) or `max` (`isMax` true).
        package init(isMax: Bool) {
            self.isMax = isMax
        }

        /// Adds one value.
        package mutating func add(_ v: Double) {
            if !seen {
                seen = true
                value = v
                return
            }
            if isMax ? (value < v || value.isNaN) : (value > v || value.isNaN) {
                value = v
            }
        }

        /// The extreme value, or nil when nothing was added.
        package var result: Double? { seen ? value : nil }
    }

    /// `count`: the number of samples in the group.
    package static func count(_ samples: Int) -> Double? { samples > 0 ? Double(samples) : nil }

    /// `group`: 1 for any non-empty group.
    package static func group(_ samples: Int) -> Double? { samples > 0 ? 1 : nil }

    // MARK: - stddev, stdvar

    /// `stdvar` and `stddev`: the population variance by Welford's online algorithm, as Prometheus' aggregation does
    /// it (without compensation, unlike `stdvar_over_time`). A group whose first value is NaN or infinite yields NaN.
    package struct Variance: Sendable {
        private var count = 0.0
        private var mean = 0.0
        private var m2 = 0.0

        /// An empty variance.
        package init() {}

        /// Adds one value.
        package mutating func add(_ v: Double) {
            if count == 0 {
                count = 1
                mean = v
                m2 = v.isNaN || v.isInfinite ? .nan : 0
                return
            }
            count += 1
            let delta = v - mean
            mean += delta / count
            m2 += delta * (v - mean)
        }

        /// The population variance (`stdvar`), or nil when nothing was added.
        package var variance: Double? { count > 0 ? m2 / count : nil }

        /// The population standard deviation (`stddev`), or nil when nothing was added.
        package var standardDeviation: Double? { variance.map { $0.squareRoot() } }
    }

    // MARK: - quantile

    /// The φ-quantile of `values`, as Prometheus' `quantile` aggregation and `quantile_over_time` compute it.
    ///
    /// The values are sorted in place with NaN before every number; the result interpolates linearly between the two
    /// values around rank `φ·(n-1)`. NaN for no values or a NaN φ, -Inf for φ < 0, +Inf for φ > 1.
    package static func quantile(_ phi: Double, _ values: inout [Double]) -> Double {
        if values.isEmpty || phi.isNaN { return .nan }
        if phi < 0 { return -.infinity }
        if phi > 1 { return .infinity }
        values.sort { lhs, rhs in (lhs.isNaN && !rhs.isNaN) || lhs < rhs }
        let n = Double(values.count)
        let rank = phi * (n - 1)
        let lowerIndex = max(0, rank.rounded(.down))
        let upperIndex = min(n - 1, lowerIndex + 1)
        let weight = rank - rank.rounded(.down)
        return values[Int(lowerIndex)] * (1 - weight) + values[Int(upperIndex)] * weight
    }

    /// The φ-quantile of a sequence of values; see ``quantile(_:_:)``.
    package static func quantile(_ phi: Double, of values: some Sequence<Double>) -> Double {
        var array = Array(values)
        return quantile(phi, &array)
    }

    // MARK: - topk, bottomk, limitk, limit_ratio

    /// Checks the `k` of `topk`, `bottomk` and `limitk` as Prometheus does before evaluating, with its messages:
    /// `Parameter value is NaN`, `Scalar value … underflows int64`, `Scalar value … overflows int64`.
    package static func validateK(_ k: Double) throws(SightlineError) {
        if k.isNaN { throw SightlineError(.invalidArgument, "Parameter value is NaN") }
        if k <= -9_223_372_036_854_775_808.0 {
            throw SightlineError(.invalidArgument, "Scalar value \(PromQLFloat.formatG(k)) underflows int64")
        }
        if k >= 9_223_372_036_854_775_808.0 {
            throw SightlineError(.invalidArgument, "Scalar value \(PromQLFloat.formatG(k)) overflows int64")
        }
    }

    /// The number of samples `topk`, `bottomk` and `limitk` keep: `k` truncated toward zero (Go's `int64(k)`), at most
    /// `available`. Zero or less means an empty result. `k` must have passed ``validateK(_:)``.
    package static func effectiveK(_ k: Double, available: Int) -> Int {
        guard k.isFinite, k > -9.2e18, k < 9.2e18 else { return k > 0 ? available : 0 }
        let truncated = Int64(k.rounded(.towardZero))
        return Int(max(0, min(truncated, Int64(available))))
    }

    /// `topk(k, …)` over one group: the `k` samples with the largest values, largest first.
    ///
    /// NaN ranks below every number, so it is chosen only when there are not enough numbers, and it is listed last.
    /// Among equal values the choice follows Prometheus' heap (the earliest sample wins at the boundary) and, for
    /// up to 12 results, the output order of ties too (Go sorts such short slices by insertion).
    package static func topK<Element: Valued>(_ k: Double, _ samples: [Element]) -> [Element] {
        selectK(effectiveK(k, available: samples.count), samples, top: true)
    }

    /// `bottomk(k, …)` over one group: the `k` samples with the smallest values, smallest first, NaN last.
    package static func bottomK<Element: Valued>(_ k: Double, _ samples: [Element]) -> [Element] {
        selectK(effectiveK(k, available: samples.count), samples, top: false)
    }

    /// `limitk(k, …)` over one group: the first `k` samples in input order, whatever their values.
    package static func limitK(_ k: Double, _ samples: [Sample]) -> [Sample] {
        Array(samples.prefix(effectiveK(k, available: samples.count)))
    }

    /// The ratio `limit_ratio` works with: capped to [-1, 1] (Prometheus warns "ratio value should be between -1 and
    /// 1, got …, capping to …" when it caps).
    ///
    /// - Throws: ``SightlineError`` `Ratio value is NaN` for a NaN ratio.
    package static func clampRatio(_ ratio: Double) throws(SightlineError) -> Double {
        if ratio.isNaN { throw SightlineError(.invalidArgument, "Ratio value is NaN") }
        return min(1, max(-1, ratio))
    }

    /// `limit_ratio(r, …)` over one group: a deterministic sample of about `|r|` of the series.
    ///
    /// As in Prometheus, each series gets an offset in [0, 1], the xxHash64 of its labels divided by `UInt64.max`
    /// (``LabelsHash/sampleOffset(_:)``). A positive `r` keeps the series with offset below `r`; a negative `r` keeps
    /// those with offset at least `1 + r`, so `limit_ratio(r)` and `limit_ratio(-(1 - r))` are complements. `r` is
    /// capped to [-1, 1]; zero keeps nothing. Input order is kept.
    package static func limitRatio(_ ratio: Double, _ samples: [Sample]) -> [Sample] {
        let r = min(1, max(-1, ratio))
        if r == 0 || r.isNaN { return [] }
        return samples.filter { LabelsHash.keepForRatio(r, offset: LabelsHash.sampleOffset($0.metric)) }
    }

    private static func selectK<Element: Valued>(_ k: Int, _ samples: [Element], top: Bool) -> [Element] {
        guard k > 0 else { return [] }
        // Prometheus' heap order: the element that is "less" sits at the top and is the one replaced. NaN is less
        // than everything, in both heaps.
        @inline(__always) func less(_ a: Double, _ b: Double) -> Bool {
            if a.isNaN { return true }
            return top ? a < b : a > b
        }
        var heap = GoHeap<Element>(capacity: k, less: less)
        for sample in samples {
            if heap.count < k {
                heap.push(sample)
            } else {
                let root = heap.elements[0].v
                let better = top ? root < sample.v : root > sample.v
                if better || (root.isNaN && !sample.v.isNaN) {
                    heap.elements[0] = sample
                    if k > 1 { heap.fix(0) }
                }
            }
        }
        var result = heap.elements
        // Go sorts with sort.Reverse of the heap's order: best first, NaN last.
        if result.count <= 12 {
            // Go's sort uses insertion sort for short slices; replaying it keeps the order of ties identical.
            var i = 1
            while i < result.count {
                var j = i
                while j > 0 && less(result[j - 1].v, result[j].v) {
                    result.swapAt(j, j - 1)
                    j -= 1
                }
                i += 1
            }
        } else {
            result.sort { lhs, rhs in
                if lhs.v.isNaN || rhs.v.isNaN { return !lhs.v.isNaN && rhs.v.isNaN }
                return top ? lhs.v > rhs.v : lhs.v < rhs.v
            }
        }
        return result
    }

    // MARK: - count_values

    /// `count_values("label", …)`: counts the samples per distinct value and grouping.
    ///
    /// Each sample's labels get `label` set to the value formatted as Prometheus formats it
    /// (``PromQLFloat/format(_:)``, Go's `'f'` with shortest digits); `grouping` then maps those labels to the
    /// output labels (the evaluator's `by`/`without` projection, applied after the new label is set, so the label can
    /// overwrite a grouping label). The result has one sample per distinct output labels, in first-seen order, with the
    /// count as value and timestamp `t`.
    ///
    /// - Throws: ``SightlineError`` `invalid label name "…"` when `label` is not a valid label name.
    package static func countValues(
        _ samples: InstantVector, label: String, t: Int64, grouping: (Labels) -> Labels
    ) throws(SightlineError) -> InstantVector {
        guard LabelName.isValid(label) else {
            throw SightlineError(.invalidArgument, "invalid label name \(LabelName.goQuoted(label))")
        }
        var order: [Labels] = []
        var counts: [Labels: Int] = [:]
        for sample in samples {
            let metric = LabelName.setting(label, to: PromQLFloat.format(sample.v), in: sample.metric)
            let key = grouping(metric)
            if let existing = counts[key] {
                counts[key] = existing + 1
            } else {
                counts[key] = 1
                order.append(key)
            }
        }
        return order.map { Sample(metric: $0, t: t, v: Double(counts[$0] ?? 0)) }
    }
}

/// What `topk` and `bottomk` rank: a sample, or a step matrix's cell (its series' index and value).
package protocol Valued {
    var v: Double { get }
}

extension Sample: Valued {}

/// A binary heap with the same sift-up and sift-down steps as Go's `container/heap`, so that the choice among equal
/// values in `topk`/`bottomk` matches Prometheus.
private struct GoHeap<Element: Valued> {
    var elements: [Element] = []
    let less: (Double, Double) -> Bool

    init(capacity: Int, less: @escaping (Double, Double) -> Bool) {
        elements.reserveCapacity(capacity)
        self.less = less
    }

    var count: Int { elements.count }

    mutating func push(_ sample: Element) {
        elements.append(sample)
        up(elements.count - 1)
    }

    mutating func fix(_ index: Int) {
        if !down(index, elements.count) { up(index) }
    }

    private mutating func up(_ start: Int) {
        var j = start
        while true {
            let i = (j - 1) / 2
            if i == j || !less(elements[j].v, elements[i].v) { break }
            elements.swapAt(i, j)
            j = i
        }
    }

    private mutating func down(_ start: Int, _ n: Int) -> Bool {
        var i = start
        while true {
            let j1 = 2 * i + 1
            if j1 >= n || j1 < 0 { break }
            var j = j1
            let j2 = j1 + 1
            if j2 < n && less(elements[j2].v, elements[j1].v) { j = j2 }
            if !less(elements[j].v, elements[i].v) { break }
            elements.swapAt(i, j)
            i = j
        }
        return i > start
    }
}
