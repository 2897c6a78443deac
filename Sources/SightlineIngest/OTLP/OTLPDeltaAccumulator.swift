import Foundation
package import SightlineCore
import Synchronization

/// Running totals of OTLP series sent with delta temporality, so they are stored as Prometheus stores cumulative
/// ones (what Prometheus' `otlp-deltatocumulative` feature does).
///
/// The translator turns each delta point into samples as if it were cumulative — a sum into one sample, a histogram
/// into its `_bucket`, `_sum` and `_count` samples — and this adds each sample's value to the total of its series
/// (tenant and labels), replacing the value with the new total. Sums of `le`-cumulative bucket counts are again
/// `le`-cumulative, so histograms need nothing else. Exponential histograms are the exception: the `le` series a
/// delta point makes depend on the buckets it fills, so their totals are kept per exponential bucket instead
/// (``accumulate(tenant:labels:exponential:)``) and translated like cumulative points.
///
/// Per series, points must come in time order:
/// - a later point adds its delta;
/// - a point at the time of the series' last one with the same delta is a retry of a request whose answer was lost:
///   it gets the same total again (a duplicate sample the store takes as the same);
/// - an earlier point, or another delta at the same time, is refused with a message (an added delta cannot be taken
///   back).
///
/// A point without a recorded value becomes the staleness marker and ends the total. A NaN delta is stored as it is
/// and not added. Totals nobody updated for ``maxIdleMs`` are forgotten: the next point starts from its own delta,
/// which PromQL's `rate` reads as a counter reset. When a series has no total in the first ``maxIdleMs`` after the
/// accumulator was made — the first point after a restart — ``Seed`` may give its newest stored sample, so a restart
/// does not reset the total. Later, a series without a total cannot have one stored within the idle time (it would
/// have one here), so the store is not asked.
package final class OTLPDeltaAccumulator: Sendable {
    /// The newest stored sample of a series in `[startMs, endMs]`, if any (the server reads its metric store).
    package typealias Seed = @Sendable (_ tenant: String, _ labels: Labels, _ startMs: Int64, _ endMs: Int64) -> (timestampMs: Int64, value: Double)?

    private struct Key: Hashable {
        var tenant: String
        var labels: Labels
    }

    private struct Total {
        var timestampMs: Int64
        var value: Double
        /// The bits of the last delta added, nil when the total was seeded from the store.
        var lastDelta: UInt64?
        /// When the total was last updated, by the accumulator's clock.
        var touchedMs: Int64
    }

    /// The running total of an exponential histogram: a cumulative point.
    private struct ExponentialTotal {
        var point: OTLPExponentialHistogramPoint
        /// The last delta point added, to tell a retry from another point at the same time.
        var lastDelta: OTLPExponentialHistogramPoint
        var touchedMs: Int64
    }

    private struct State {
        var totals: [Key: Total] = [:]
        /// Exponential histograms by the labels of their `_count` series.
        var exponential: [Key: ExponentialTotal] = [:]
        var sweptMs: Int64 = 0

        mutating func sweep(now: Int64, maxIdleMs: Int64) {
            guard now - sweptMs >= min(maxIdleMs, 60_000) else { return }
            totals = totals.filter { now - $0.value.touchedMs < maxIdleMs }
            exponential = exponential.filter { now - $0.value.touchedMs < maxIdleMs }
            sweptMs = now
        }
    }

    /// What became of a delta exponential point.
    enum ExponentialOutcome {
        /// The running total after the point, to store as a cumulative point.
        case total(OTLPExponentialHistogramPoint)
        /// The point was refused, for this reason.
        case refused(String)
    }

    /// Totals not updated for this long are forgotten (default one hour).
    package let maxIdleMs: Int64
    /// The most series kept; points of further series are refused (default one million).
    package let maxSeries: Int
    private let seed: Seed?
    private let clock: @Sendable () -> Int64
    /// When the accumulator was made, by its clock.
    private let startedMs: Int64
    private let state = Mutex(State())

    /// - Parameters:
    ///   - maxIdleMs: How long an untouched total is kept.
    ///   - maxSeries: How many totals are kept at most.
    ///   - seed: Reads a series' newest stored sample when it has no total.
    ///   - clock: Milliseconds for idleness (the wall clock by default).
    package init(
        maxIdleMs: Int64 = 3_600_000, maxSeries: Int = 1_000_000, seed: Seed? = nil,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.maxIdleMs = maxIdleMs
        self.maxSeries = maxSeries
        self.seed = seed
        self.clock = clock
        self.startedMs = clock()
    }

    /// The number of series with a total (an exponential histogram counts once).
    package var count: Int { state.withLock { $0.totals.count + $0.exponential.count } }

    /// Replaces the values of the delta samples (`samples[i]` for `i` in `deltas`, ascending) with their series'
    /// totals, and removes the refused ones.
    /// - Returns: The messages of the refused samples, one per sample.
    func accumulate(tenant: String, samples: inout [MetricSample], deltas: [Int]) -> [String] {
        guard !deltas.isEmpty else { return [] }
        let now = clock()
        let seeds = seeds(tenant: tenant, samples: samples, deltas: deltas)
        var refused: [Int] = []
        var messages: [String] = []
        state.withLock { state in
            state.sweep(now: now, maxIdleMs: maxIdleMs)
            for index in deltas {
                let sample = samples[index]
                let key = Key(tenant: tenant, labels: sample.labels)
                if StaleNaN.isStale(sample.value) {
                    state.totals[key] = nil
                    continue
                }
                guard var total = state.totals[key] ?? seeds[key] else {
                    guard state.totals.count < maxSeries else {
                        refused.append(index)
                        messages.append("series \(sample.labels): more than \(maxSeries) delta series are tracked")
                        continue
                    }
                    if !sample.value.isNaN {
                        state.totals[key] = Total(timestampMs: sample.timestampMs, value: sample.value, lastDelta: sample.value.bitPattern, touchedMs: now)
                    }
                    continue
                }
                if sample.timestampMs > total.timestampMs {
                    if sample.value.isNaN { continue }
                    total.value += sample.value
                    total.timestampMs = sample.timestampMs
                    total.lastDelta = sample.value.bitPattern
                    total.touchedMs = now
                    state.totals[key] = total
                    samples[index].value = total.value
                } else if sample.timestampMs == total.timestampMs, total.lastDelta.map({ $0 == sample.value.bitPattern }) ?? true {
                    samples[index].value = total.value
                } else {
                    refused.append(index)
                    let what = sample.timestampMs == total.timestampMs ? "a second delta point at" : "a delta point older than"
                    messages.append(
                        "series \(sample.labels): \(what) the series' last one (\(total.timestampMs) ms); delta points must come in time order")
                }
            }
        }
        if !refused.isEmpty {
            var position = 0
            var kept = 0
            for index in samples.indices {
                if position < refused.count, refused[position] == index {
                    position += 1
                    continue
                }
                samples[kept] = samples[index]
                kept += 1
            }
            samples.removeLast(samples.count - kept)
        }
        return messages
    }

    /// Adds a delta exponential point to the running total of its histogram (`labels`: its `_count` series), kept as
    /// exponential buckets at the coarser of the scales seen (at most ``OTLPExponentialHistogramPoint/maxScale``),
    /// so that every `le` series made from the total goes on, whichever buckets a delta point fills.
    ///
    /// Points come in time order as for ``accumulate(tenant:samples:deltas:)``: a retry (same time, same
    /// observations) gets the same total, an older point or another one at the same time is refused, a point without
    /// a recorded value ends the total and is stored as it is (the staleness marker). The totals are not read back
    /// from the store: after a restart a histogram starts again from its next point, which `rate` reads as a reset.
    func accumulate(tenant: String, labels: Labels, exponential delta: OTLPExponentialHistogramPoint) -> ExponentialOutcome {
        let now = clock()
        let key = Key(tenant: tenant, labels: labels)
        return state.withLock { state -> ExponentialOutcome in
            state.sweep(now: now, maxIdleMs: maxIdleMs)
            if delta.flags & otlpNoRecordedValueFlag != 0 {
                state.exponential[key] = nil
                return .total(delta)
            }
            guard var total = state.exponential[key] else {
                guard state.totals.count + state.exponential.count < maxSeries else {
                    return .refused("series \(labels): more than \(maxSeries) delta series are tracked")
                }
                let first = Self.bounded(delta.downscaled(to: min(delta.scale, OTLPExponentialHistogramPoint.maxScale)))
                state.exponential[key] = ExponentialTotal(point: first, lastDelta: delta, touchedMs: now)
                return .total(first)
            }
            if delta.timeUnixNano > total.point.timeUnixNano {
                total.point = Self.bounded(total.point.adding(delta))
                total.lastDelta = delta
                total.touchedMs = now
                state.exponential[key] = total
                return .total(total.point)
            }
            if delta.timeUnixNano == total.point.timeUnixNano && delta.hasSameObservations(as: total.lastDelta) {
                return .total(total.point)
            }
            let what = delta.timeUnixNano == total.point.timeUnixNano ? "a second delta point at" : "a delta point older than"
            return .refused(
                "series \(labels): \(what) the series' last one (\(total.point.timeUnixNano / 1_000_000) ms); delta points must come in time order")
        }
    }

    /// `point` merged to coarser scales while a side spans more than four times the buckets a point may
    /// (``OTLPExponentialHistogramPoint/maxBuckets``), so a total over a growing range keeps bounded memory.
    private static func bounded(_ point: OTLPExponentialHistogramPoint) -> OTLPExponentialHistogramPoint {
        var point = point
        while point.scale > OTLPExponentialHistogramPoint.validScales.lowerBound,
            point.widestSide > 4 * OTLPExponentialHistogramPoint.maxBuckets
        {
            point = point.downscaled(to: point.scale - 1)
        }
        return point
    }

    /// The stored totals of the delta series that have none here, read outside the lock (a read may be slow).
    private func seeds(tenant: String, samples: [MetricSample], deltas: [Int]) -> [Key: Total] {
        guard let seed, clock() - startedMs < maxIdleMs else { return [:] }
        var missing: [Key: Int64] = [:]
        state.withLock { state in
            for index in deltas {
                let key = Key(tenant: tenant, labels: samples[index].labels)
                guard state.totals[key] == nil else { continue }
                missing[key] = min(missing[key] ?? .max, samples[index].timestampMs)
            }
        }
        var seeds: [Key: Total] = [:]
        for (key, firstMs) in missing {
            // Within the idle time around the first point: an older sample is forgotten anyway.
            guard let stored = seed(tenant, key.labels, firstMs - maxIdleMs, firstMs + maxIdleMs), !stored.value.isNaN else { continue }
            seeds[key] = Total(timestampMs: stored.timestampMs, value: stored.value, lastDelta: nil, touchedMs: 0)
        }
        return seeds
    }
}
