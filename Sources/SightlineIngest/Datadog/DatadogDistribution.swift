import Foundation

/// What Sightline keeps of one Datadog distribution point (the values one series saw in one flush interval): its
/// count, its sum and the quantiles VictoriaMetrics stores for Datadog sketches (0.5, 0.75, 0.9, 0.95, 0.99), so a
/// distribution becomes the series of a Prometheus summary: `m{quantile="0.5"}` …, `m_sum` and `m_count`, each the
/// interval's own value (Datadog distributions are not cumulative).
package struct DatadogDistribution: Equatable, Sendable {
    /// The quantiles stored, with their label values.
    package static let quantiles: [(q: Double, label: String)] = [(0.5, "0.5"), (0.75, "0.75"), (0.9, "0.9"), (0.95, "0.95"), (0.99, "0.99")]

    package var count: Double
    package var sum: Double
    /// The value at each of ``quantiles``, in that order.
    package var quantileValues: [Double]

    package init(count: Double, sum: Double, quantileValues: [Double]) {
        self.count = count
        self.sum = sum
        self.quantileValues = quantileValues
    }

    /// The distribution of raw values (`/api/v1/distribution_points`): exact quantiles, interpolated between the two
    /// values around rank `q·(n−1)` as PromQL's `quantile` does; all zero when there are no values.
    package init(values: [Double]) {
        let sorted = values.sorted()
        count = Double(sorted.count)
        sum = sorted.reduce(0, +)
        quantileValues = Self.quantiles.map { quantile in
            guard !sorted.isEmpty else { return 0 }
            let rank = quantile.q * Double(sorted.count - 1)
            let below = Int(rank.rounded(.down))
            let above = min(below + 1, sorted.count - 1)
            let weight = rank - Double(below)
            return sorted[below] * (1 - weight) + sorted[above] * weight
        }
    }

    /// The distribution a Datadog Agent sketch (`Dogsketch`) describes: its count and sum as sent, its quantiles
    /// read from its bins as the Agent reads them.
    package init(sketch: DatadogSketch) {
        count = Double(sketch.count)
        sum = sketch.sum
        quantileValues = Self.quantiles.map { sketch.quantile($0.q) }
    }
}

/// A DDSketch as the Datadog Agent sends it in `/api/beta/sketches`: the count, min, max and sum of the values, and
/// bins — key `k` counting the values `v` with `γ^(k−bias) ≤ |v| < γ^(k−bias+1)`, negative keys for negative values,
/// key 0 for values within 10⁻⁹ of zero, keys ±32767 for the infinities — sorted by key, a key repeated when its count
/// did not fit one bin. The Agent's configuration is fixed: relative accuracy 1/128, so γ = 1 + 2/128, and the
/// smallest magnitude told from zero 10⁻⁹, whose key is 1.
package struct DatadogSketch: Equatable, Sendable {
    package var count: Int64 = 0
    package var min: Double = 0
    package var max: Double = 0
    package var sum: Double = 0
    package var keys: [Int64] = []
    package var counts: [UInt64] = []

    package init(count: Int64 = 0, min: Double = 0, max: Double = 0, sum: Double = 0, keys: [Int64] = [], counts: [UInt64] = []) {
        self.count = count
        self.min = min
        self.max = max
        self.sum = sum
        self.keys = keys
        self.counts = counts
    }

    /// γ: consecutive bins' bounds differ by this factor.
    package static let gamma = 1 + 2.0 / 128
    private static let logGamma = log1p(2.0 / 128)
    /// Added to a power of γ to make its key, so that 10⁻⁹'s power gets the key 1.
    package static let bias = 1 - Int(floor(log(1e-9) / logGamma))
    /// The key of the infinities (the largest an int16 holds).
    private static let infiniteKey: Int64 = 32767

    /// The smallest magnitude a positive key's bin holds.
    package static func lowerBound(ofKey key: Int64) -> Double {
        if key < 0 { return -lowerBound(ofKey: -key) }
        if key == 0 { return 0 }
        if key >= infiniteKey { return .infinity }
        return pow(gamma, Double(Int(key) - bias))
    }

    /// The value below which a fraction `q` of the values lie: min for `q ≤ 0`, max for `q ≥ 1`, else found in the bin
    /// holding rank `round(q·(count−1))` (half to even, as the Agent ranks) and interpolated linearly inside it, the
    /// first bin starting at min and the last ending at max, and kept within [min, max]. 0 for an empty sketch.
    package func quantile(_ q: Double) -> Double {
        guard count > 0, !keys.isEmpty, keys.count == counts.count else { return 0 }
        if q <= 0 { return min }
        if q >= 1 { return max }
        let rank = (q * Double(count - 1)).rounded(.toNearestOrEven)
        var seen = 0.0
        for (index, key) in keys.enumerated() where counts[index] > 0 {
            let inBin = Double(counts[index])
            seen += inBin
            guard seen > rank else { continue }
            // Within the bin, from its low end (toward −∞) to its high end.
            let nearZero = Self.lowerBound(ofKey: key)
            var (low, high) = key < 0 ? (nearZero * Self.gamma, nearZero) : (nearZero, nearZero * Self.gamma)
            if index == 0 { low = min }
            if index == keys.count - 1 { high = max }
            let weight = (seen - rank) / inBin
            return Swift.min(Swift.max(low * weight + high * (1 - weight), min), max)
        }
        return max
    }
}
