import SightlineCore

/// `histogram_quantile` and `histogram_fraction` over classic histograms: the `le` buckets of one series group
/// (`x_bucket{le="…"}`), with cumulative counts.
///
/// Both kernels sort the buckets by upper bound, merge buckets with the same bound (`le="0.2"` and `le="2e-1"`) by
/// adding their counts, and need a `+Inf` bucket; without one the result is NaN. Native histograms are outside these
/// kernels.
package enum ClassicHistogram {
    /// One cumulative bucket: the count of observations less than or equal to `upperBound`.
    package struct Bucket: Sendable, Hashable {
        /// The `le` bound.
        package var upperBound: Double
        /// The cumulative count.
        package var count: Double

        /// A bucket with the given bound and count.
        package init(upperBound: Double, count: Double) {
            self.upperBound = upperBound
            self.count = count
        }
    }

    /// The outcome of ``quantile(_:buckets:)``.
    package struct QuantileResult: Sendable, Hashable {
        /// The estimated quantile.
        package var value: Double
        /// Whether a bucket count lower than the one before it had to be raised. Prometheus then adds the info
        /// annotation ``forcedMonotonicityInfo``.
        package var forcedMonotonicity: Bool
        /// Whether numerically insignificant differences between neighbouring counts (relative 1e-12) were evened
        /// out, silently.
        package var fixedPrecision: Bool
        /// The lowest upper bound whose count was raised (+Inf when none was).
        package var minBucket: Double
        /// The highest upper bound whose count was raised (-Inf when none was).
        package var maxBucket: Double
        /// The largest amount by which a count was raised.
        package var maxDiff: Double
    }

    /// The text of Prometheus' info annotation for ``QuantileResult/forcedMonotonicity``.
    package static let forcedMonotonicityInfo =
        "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)"

    /// Prometheus' tolerance for evening out bucket counts that differ only by floating-point noise.
    private static let smallDeltaTolerance = 1e-12

    /// `histogram_quantile(φ, buckets)` for one classic histogram.
    ///
    /// - NaN φ gives NaN, φ < 0 gives -Inf, φ > 1 gives +Inf (Prometheus also warns about the last two).
    /// - Without a `+Inf` bucket, with fewer than two buckets after merging, or with zero observations: NaN.
    /// - Decreasing counts are raised to the count before them (``QuantileResult/forcedMonotonicity``).
    /// - The rank `φ·total` is located by binary search over the finite buckets. In the `+Inf` bucket the result is
    ///   the highest finite bound; in the first bucket, if its bound is not positive, the result is that bound;
    ///   otherwise it interpolates linearly within the bucket, the first bucket starting at 0.
    package static func quantile(_ phi: Double, buckets: [Bucket]) -> QuantileResult {
        var result = QuantileResult(
            value: .nan, forcedMonotonicity: false, fixedPrecision: false, minBucket: 0, maxBucket: 0, maxDiff: 0)
        if phi.isNaN { return result }
        if phi < 0 {
            result.value = -.infinity
            return result
        }
        if phi > 1 {
            result.value = .infinity
            return result
        }
        guard var buckets = prepared(buckets) else { return result }

        // Make the counts monotonic, ignoring noise-level differences in either direction.
        result.minBucket = .infinity
        result.maxBucket = -.infinity
        var previous = buckets[0].count
        for index in 1..<buckets.count {
            let current = buckets[index].count
            if current == previous { continue }
            if almostEqual(previous, current, tolerance: smallDeltaTolerance) {
                buckets[index].count = previous
                result.fixedPrecision = true
                continue
            }
            if current < previous {
                buckets[index].count = previous
                result.forcedMonotonicity = true
                result.minBucket = Swift.min(result.minBucket, buckets[index].upperBound)
                result.maxBucket = Swift.max(result.maxBucket, buckets[index].upperBound)
                if previous - current > result.maxDiff { result.maxDiff = previous - current }
                continue
            }
            previous = current
        }

        guard buckets.count >= 2 else { return result }
        let observations = buckets[buckets.count - 1].count
        if observations == 0 { return result }
        var rank = phi * observations
        // The first finite bucket whose count reaches the rank (the +Inf bucket when none does).
        var low = 0
        var high = buckets.count - 1
        while low < high {
            let middle = low + (high - low) / 2
            if buckets[middle].count >= rank { high = middle } else { low = middle + 1 }
        }
        let b = low
        if b == buckets.count - 1 {
            result.value = buckets[buckets.count - 2].upperBound
        } else if b == 0 && buckets[0].upperBound <= 0 {
            result.value = buckets[0].upperBound
        } else {
            var bucketStart = 0.0
            let bucketEnd = buckets[b].upperBound
            var count = buckets[b].count
            if b > 0 {
                bucketStart = buckets[b - 1].upperBound
                count -= buckets[b - 1].count
                rank -= buckets[b - 1].count
            }
            result.value = bucketStart + (bucketEnd - bucketStart) * (rank / count)
        }
        return result
    }

    /// ``quantile(_:buckets:)`` for `(le, count)` pairs.
    package static func quantile(_ phi: Double, buckets: [(le: Double, count: Double)]) -> QuantileResult {
        quantile(phi, buckets: buckets.map { Bucket(upperBound: $0.le, count: $0.count) })
    }

    /// `histogram_fraction(lower, upper, buckets)` for one classic histogram: the estimated fraction of observations
    /// in `(lower, upper]`, interpolating linearly inside buckets.
    ///
    /// The first bucket starts at 0 when its bound is positive and at -Inf otherwise; inside a bucket that starts at
    /// -Inf, and inside the `+Inf` bucket, nothing is interpolated (the whole bucket counts, or none of it). NaN
    /// without a `+Inf` bucket, with zero observations or with a NaN bound; 0 when `lower >= upper`.
    package static func fraction(lower: Double, upper: Double, buckets: [Bucket]) -> Double {
        guard let buckets = prepared(buckets) else { return .nan }
        let count = buckets[buckets.count - 1].count
        if count == 0 || lower.isNaN || upper.isNaN { return .nan }
        if lower >= upper { return 0 }

        var rank = 0.0
        var lowerRank = 0.0
        var upperRank = 0.0
        var lowerSet = false
        var upperSet = false
        var lowerBound = buckets[0].upperBound <= 0 ? -Double.infinity : 0
        for (index, bucket) in buckets.enumerated() {
            if index > 0 { lowerBound = buckets[index - 1].upperBound }
            let upperBound = bucket.upperBound
            func interpolate(_ v: Double) -> Double {
                if lowerBound == -.infinity { return bucket.count }
                return rank + (bucket.count - rank) * (v - lowerBound) / (upperBound - lowerBound)
            }
            if !lowerSet && lowerBound >= lower {
                lowerRank = rank
                lowerSet = true
            }
            if !upperSet && lowerBound >= upper {
                upperRank = rank
                upperSet = true
            }
            if lowerSet && upperSet { break }
            if !lowerSet && lowerBound < lower && upperBound > lower {
                lowerRank = interpolate(lower)
                lowerSet = true
            }
            if !upperSet && lowerBound < upper && upperBound > upper {
                upperRank = interpolate(upper)
                upperSet = true
            }
            if lowerSet && upperSet { break }
            rank = bucket.count
        }
        if !lowerSet || lowerRank > count { lowerRank = count }
        if !upperSet || upperRank > count { upperRank = count }
        return (upperRank - lowerRank) / count
    }

    /// ``fraction(lower:upper:buckets:)`` for `(le, count)` pairs.
    package static func fraction(lower: Double, upper: Double, buckets: [(le: Double, count: Double)]) -> Double {
        fraction(lower: lower, upper: upper, buckets: buckets.map { Bucket(upperBound: $0.le, count: $0.count) })
    }

    /// The buckets sorted by bound with equal bounds merged, or nil when there are none or the highest is not +Inf.
    private static func prepared(_ input: [Bucket]) -> [Bucket]? {
        guard !input.isEmpty else { return nil }
        let sorted = input.sorted { $0.upperBound < $1.upperBound }
        guard let last = sorted.last, last.upperBound == .infinity else { return nil }
        var merged: [Bucket] = []
        merged.reserveCapacity(sorted.count)
        for bucket in sorted {
            if let previous = merged.last, previous.upperBound == bucket.upperBound {
                merged[merged.count - 1].count += bucket.count
            } else {
                merged.append(bucket)
            }
        }
        return merged
    }

    /// Prometheus' `almost.Equal`: true for two NaNs, exact equality, or a relative difference below `tolerance`
    /// (absolute, scaled by the smallest normal double, near zero).
    package static func almostEqual(_ a: Double, _ b: Double, tolerance: Double) -> Bool {
        let aStale = StaleNaN.isStale(a)
        let bStale = StaleNaN.isStale(b)
        if aStale || bStale { return aStale && bStale }
        if a.isNaN && b.isNaN { return true }
        if a == b { return true }
        let absSum = abs(a) + abs(b)
        let diff = abs(a - b)
        let minNormal = Double.leastNormalMagnitude
        if a == 0 || b == 0 || absSum < minNormal {
            return diff < tolerance * minNormal
        }
        return diff / Swift.min(absSum, Double.greatestFiniteMagnitude) < tolerance
    }
}
