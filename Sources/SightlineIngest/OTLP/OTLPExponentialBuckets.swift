import Foundation

/// Exponential histograms as classic ones: the store and PromQL have no native histograms, so an exponential point
/// becomes `_bucket{le}` series whose bounds are its bucket boundaries, and `histogram_quantile` reads them as usual.
///
/// Boundaries finer than ``maxScale`` are merged down to it (bucket `i` at scale `s` lies in bucket `i >> (s - t)` at
/// the coarser scale `t`, exactly). Every boundary at a scale up to ``maxScale`` is also one at ``maxScale``, and is
/// computed from its index there, so an `le` value is the same text whatever scale a point came with: when an SDK
/// lowers its scale as its range grows, the series it keeps go on and only the finer ones stop.
extension OTLPExponentialHistogramPoint {
    /// The finest scale kept: 8 buckets per power of two, each about 9 % wide (OpenTelemetry SDKs often settle
    /// around it for latencies spanning a few decades with their default of 160 buckets).
    static let maxScale: Int32 = 3
    /// The scales OpenTelemetry defines.
    static let validScales: ClosedRange<Int32> = -10...20
    /// The most buckets kept on each side of zero (OpenTelemetry SDKs' default maximum); a point spanning more is
    /// merged to a coarser scale, as an SDK would, so one point cannot make a series per bucket of a huge range.
    static let maxBuckets = 160

    /// The point as an explicit-bounds one: negative buckets (upper bounds `-base^i`), the zero bucket (upper bound
    /// `zeroThreshold`, present when it or a negative bucket holds observations), then positive buckets (upper bounds
    /// `base^(i+1)`), all at `min(scale, maxScale)`. Observations beyond the largest finite bound count in `+Inf`.
    /// Empty buckets farthest from zero are left out; a side spanning more than ``maxBuckets`` is merged further.
    var explicit: OTLPHistogramPoint {
        var scale = min(self.scale, Self.maxScale)
        while scale > Self.validScales.lowerBound,
            max(Self.span(positive, shift: Int(self.scale - scale)), Self.span(negative, shift: Int(self.scale - scale))) > Self.maxBuckets
        {
            scale -= 1
        }
        let shift = Int(self.scale - scale)
        var bounds = ExplicitBounds()
        let negative = Self.merged(self.negative, shift: shift)
        for (index, count) in zip(negative.indices, negative.counts).reversed() {
            bounds.add(upperBound: -Self.boundary(index, scale: scale), count: count)
        }
        if zeroCount > 0 || !negative.counts.isEmpty {
            bounds.add(upperBound: zeroThreshold.isFinite && zeroThreshold > 0 ? zeroThreshold : 0, count: zeroCount)
        }
        let positive = Self.merged(self.positive, shift: shift)
        for (index, count) in zip(positive.indices, positive.counts) {
            bounds.add(upperBound: Self.boundary(index + 1, scale: scale), count: count)
        }
        return OTLPHistogramPoint(
            attributes: attributes, timeUnixNano: timeUnixNano, count: count, sum: sum,
            bucketCounts: bounds.counts + [bounds.beyond], explicitBounds: bounds.bounds, flags: flags, exemplars: exemplars)
    }

    /// `base^index` at `scale` (≤ ``maxScale``), computed at ``maxScale`` so equal boundaries are equal bits.
    static func boundary(_ index: Int, scale: Int32) -> Double {
        let fine = index << Int(maxScale - scale)
        return exp2(Double(fine) / Double(1 << Int(maxScale)))
    }

    /// How many buckets `buckets` spans, up to its last non-empty one, at a scale `shift` steps coarser.
    private static func span(_ buckets: Buckets, shift: Int) -> Int {
        guard let end = buckets.counts.lastIndex(where: { $0 > 0 }) else { return 0 }
        let offset = Int(buckets.offset)
        return ((offset + end) >> shift) - (offset >> shift) + 1
    }

    /// `buckets` at a scale `shift` steps coarser: counts of buckets that fall together are added. Empty buckets
    /// farthest from zero are left out (their bounds tell nothing); the others bound the next bucket's observations.
    private static func merged(_ buckets: Buckets, shift: Int) -> (indices: Range<Int>, counts: [UInt64]) {
        guard let end = buckets.counts.lastIndex(where: { $0 > 0 }) else { return (0..<0, []) }
        let offset = Int(buckets.offset)
        guard shift > 0 else { return (offset..<offset + end + 1, Array(buckets.counts[...end])) }
        let first = offset >> shift
        let last = (offset + end) >> shift
        var counts = [UInt64](repeating: 0, count: last - first + 1)
        for (i, count) in buckets.counts[...end].enumerated() {
            counts[((offset + i) >> shift) - first] &+= count
        }
        return (first..<last + 1, counts)
    }

    // MARK: Running totals (delta temporality)

    /// The point at `scale` when that is coarser than its own (buckets that fall together added), else itself.
    func downscaled(to scale: Int32) -> OTLPExponentialHistogramPoint {
        guard scale < self.scale else { return self }
        var point = self
        let shift = Int(self.scale - scale)
        point.scale = scale
        for side in [\OTLPExponentialHistogramPoint.positive, \.negative] {
            let merged = Self.merged(self[keyPath: side], shift: shift)
            point[keyPath: side] = Buckets(offset: Int32(merged.indices.lowerBound), counts: merged.counts)
        }
        return point
    }

    /// The observations of both points, at the coarser of their scales; time, attributes and flags are `later`'s.
    /// The sum is kept only when both points have one; the zero threshold is the wider one.
    func adding(_ later: OTLPExponentialHistogramPoint) -> OTLPExponentialHistogramPoint {
        let scale = min(self.scale, later.scale)
        let earlier = downscaled(to: scale)
        var total = later.downscaled(to: scale)
        total.positive = Self.sum(earlier.positive, total.positive)
        total.negative = Self.sum(earlier.negative, total.negative)
        total.zeroCount = earlier.zeroCount &+ total.zeroCount
        total.zeroThreshold = max(earlier.zeroThreshold, total.zeroThreshold)
        total.count = earlier.count &+ total.count
        total.sum = earlier.sum.flatMap { sum in total.sum.map { sum + $0 } }
        return total
    }

    /// Whether two points hold the same observations (a delta point sent again).
    func hasSameObservations(as other: OTLPExponentialHistogramPoint) -> Bool {
        count == other.count && sum?.bitPattern == other.sum?.bitPattern && scale == other.scale && zeroCount == other.zeroCount
            && zeroThreshold.bitPattern == other.zeroThreshold.bitPattern && positive.offset == other.positive.offset
            && positive.counts == other.positive.counts && negative.offset == other.negative.offset && negative.counts == other.negative.counts
    }

    /// The most buckets either side spans.
    var widestSide: Int { max(Self.span(positive, shift: 0), Self.span(negative, shift: 0)) }

    /// Bucket by bucket sums of two sides at one scale.
    private static func sum(_ a: Buckets, _ b: Buckets) -> Buckets {
        if a.counts.isEmpty { return b }
        if b.counts.isEmpty { return a }
        let first = min(Int(a.offset), Int(b.offset))
        let end = max(Int(a.offset) + a.counts.count, Int(b.offset) + b.counts.count)
        var counts = [UInt64](repeating: 0, count: end - first)
        for side in [a, b] {
            for (i, count) in side.counts.enumerated() { counts[Int(side.offset) - first + i] &+= count }
        }
        return Buckets(offset: Int32(first), counts: counts)
    }

    /// Ascending explicit bounds with their bucket counts, built bucket by bucket.
    private struct ExplicitBounds {
        var bounds: [Double] = []
        var counts: [UInt64] = []
        /// Counts of buckets whose bound overflowed to +Inf.
        private var overflowed: UInt64 = 0
        /// Counts of buckets whose bound overflowed to -Inf, added to the next bucket.
        private var carried: UInt64 = 0

        /// The count above the largest bound (`+Inf`'s own bucket).
        var beyond: UInt64 { overflowed &+ carried }

        /// Adds the bucket ending at `upperBound`; one whose bound is not above the previous one is added to it (a
        /// zero threshold as wide as the first positive buckets), one whose bound overflowed goes to `+Inf`.
        mutating func add(upperBound: Double, count: UInt64) {
            if upperBound == .infinity {
                overflowed &+= count
            } else if upperBound == -.infinity {
                carried &+= count
            } else if let last = bounds.last, upperBound <= last {
                counts[counts.count - 1] &+= count
            } else {
                bounds.append(upperBound)
                counts.append(count &+ carried)
                carried = 0
            }
        }
    }
}
