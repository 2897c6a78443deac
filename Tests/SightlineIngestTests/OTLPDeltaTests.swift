import Synchronization
import SightlineCore
import Testing

@testable import SightlineIngest

/// Delta temporality turned into running totals (``OTLPDeltaAccumulator``).
struct OTLPDeltaTests {
    /// An OTLP/JSON export with one delta sum `requests` (monotonic unless told) of points `(ms, value[, flags])`.
    private func deltaSum(_ points: [(Int64, Double)], monotonic: Bool = true, flags: UInt32 = 0, service: String = "api") -> [UInt8] {
        let dataPoints = points.map { time, value in
            let valueText = value.isNaN ? "\"NaN\"" : "\(value)"
            return #"{"timeUnixNano":"\#(time * 1_000_000)","asDouble":\#(valueText),"flags":\#(flags),"attributes":[{"key":"route","value":{"stringValue":"/a"}}]}"#
        }
        return Array(
            """
            {"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"\(service)"}}]},
            "scopeMetrics":[{"metrics":[{"name":"requests","sum":{"aggregationTemporality":1,"isMonotonic":\(monotonic),
            "dataPoints":[\(dataPoints.joined(separator: ","))]}}]}]}]}
            """.utf8)
    }

    /// An export with one delta histogram `latency` (bounds 0.1 and 1) of points `(ms, bucket counts, sum)`.
    private func deltaHistogram(_ points: [(Int64, [UInt64], Double)]) -> [UInt8] {
        let dataPoints = points.map { time, counts, sum in
            let countText = counts.map { "\"\($0)\"" }.joined(separator: ",")
            return #"{"timeUnixNano":"\#(time * 1_000_000)","count":"\#(counts.reduce(0, +))","sum":\#(sum),"bucketCounts":[\#(countText)],"explicitBounds":[0.1,1]}"#
        }
        return Array(
            """
            {"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
            "scopeMetrics":[{"metrics":[{"name":"latency","unit":"s","histogram":{"aggregationTemporality":1,
            "dataPoints":[\(dataPoints.joined(separator: ","))]}}]}]}]}
            """.utf8)
    }

    private func decode(_ body: [UInt8], _ accumulator: OTLPDeltaAccumulator, tenant: String = "t") throws -> DecodedBatch {
        try OTLPDecoder.decode(.metrics, body: body, format: .json, deltas: .init(accumulator, tenant: tenant))
    }

    private func samples(_ decoded: DecodedBatch) -> [MetricSample] {
        guard case .metrics(let metrics) = decoded.batch else { return [] }
        return metrics.samples
    }

    /// The (time, value) pairs of the samples of `series`.
    private func points(_ decoded: DecodedBatch, _ series: String) -> [Pair] {
        samples(decoded).filter { $0.labels.description == series }.map { Pair($0.timestampMs, $0.value) }
    }

    private struct Pair: Equatable, CustomStringConvertible {
        var time: Int64
        var value: Double
        init(_ time: Int64, _ value: Double) {
            self.time = time
            self.value = value
        }
        var description: String { "(\(time), \(value))" }
    }

    private let counter = #"requests_total{job="api", route="/a"}"#

    @Test func deltaSumsBecomeRunningTotalsAcrossRequests() throws {
        let accumulator = OTLPDeltaAccumulator()
        let first = try decode(deltaSum([(1_000, 5), (2_000, 3)]), accumulator)
        #expect(first.rejected == 0)
        #expect(points(first, counter) == [Pair(1_000, 5), Pair(2_000, 8)])
        guard case .metrics(let metrics) = first.batch else { return }
        #expect(metrics.metadata.first { $0.metricFamily == "requests_total" }?.kind == .counter)

        let second = try decode(deltaSum([(3_000, 2)]), accumulator)
        #expect(points(second, counter) == [Pair(3_000, 10)])
        #expect(accumulator.count == 1)

        // A non-monotonic delta sum is a gauge, summed the same way, and may go down.
        let gauge = try decode(deltaSum([(1_000, 4), (2_000, -6)], monotonic: false), accumulator)
        #expect(points(gauge, #"requests{job="api", route="/a"}"#) == [Pair(1_000, 4), Pair(2_000, -2)])
    }

    @Test func deltaHistogramsSumEveryBucketCountAndSum() throws {
        let accumulator = OTLPDeltaAccumulator()
        _ = try decode(deltaHistogram([(1_000, [1, 2, 0], 1.5)]), accumulator)
        let second = try decode(deltaHistogram([(2_000, [0, 1, 4], 9.25)]), accumulator)
        #expect(second.rejected == 0)
        #expect(points(second, #"latency_seconds_bucket{job="api", le="0.1"}"#) == [Pair(2_000, 1)])
        #expect(points(second, #"latency_seconds_bucket{job="api", le="1"}"#) == [Pair(2_000, 4)])
        #expect(points(second, #"latency_seconds_bucket{job="api", le="+Inf"}"#) == [Pair(2_000, 8)])
        #expect(points(second, #"latency_seconds_count{job="api"}"#) == [Pair(2_000, 8)])
        #expect(points(second, #"latency_seconds_sum{job="api"}"#) == [Pair(2_000, 10.75)])
    }

    @Test func aRetriedRequestGetsTheSameTotalsAndOutOfOrderPointsAreRefused() throws {
        let accumulator = OTLPDeltaAccumulator()
        _ = try decode(deltaSum([(1_000, 5)]), accumulator)
        let body = deltaSum([(2_000, 3)])
        #expect(points(try decode(body, accumulator), counter) == [Pair(2_000, 8)])
        // The same request again (its answer was lost): the same total, nothing refused, nothing added.
        let retry = try decode(body, accumulator)
        #expect(retry.rejected == 0)
        #expect(points(retry, counter) == [Pair(2_000, 8)])

        let conflicting = try decode(deltaSum([(2_000, 4)]), accumulator)
        #expect(conflicting.rejected == 1)
        #expect(samples(conflicting).filter { $0.labels.description == counter }.isEmpty)
        #expect(conflicting.rejectionMessage.contains("series \(counter): a second delta point at the series' last one (2000 ms)"))

        let older = try decode(deltaSum([(1_500, 1)]), accumulator)
        #expect(older.rejected == 1)
        #expect(older.rejectionMessage.contains("a delta point older than the series' last one (2000 ms); delta points must come in time order"))

        // Refusals did not change the total.
        #expect(points(try decode(deltaSum([(3_000, 1)]), accumulator), counter) == [Pair(3_000, 9)])
    }

    @Test func tenantsHaveTheirOwnTotals() throws {
        let accumulator = OTLPDeltaAccumulator()
        _ = try decode(deltaSum([(1_000, 5)]), accumulator, tenant: "a")
        #expect(points(try decode(deltaSum([(2_000, 1)]), accumulator, tenant: "b"), counter) == [Pair(2_000, 1)])
        #expect(points(try decode(deltaSum([(2_000, 1)]), accumulator, tenant: "a"), counter) == [Pair(2_000, 6)])
    }

    @Test func aPointWithoutValueEndsTheTotalAndNaNIsNotAdded() throws {
        let accumulator = OTLPDeltaAccumulator()
        _ = try decode(deltaSum([(1_000, 5)]), accumulator)
        let nan = try decode(deltaSum([(2_000, .nan)]), accumulator)
        #expect(points(nan, counter).map(\.value.isNaN) == [true])
        #expect(points(try decode(deltaSum([(3_000, 1)]), accumulator), counter) == [Pair(3_000, 6)])

        let ended = try decode(deltaSum([(4_000, 0)], flags: 1), accumulator)
        #expect(points(ended, counter).map { StaleNaN.isStale($0.value) } == [true])
        #expect(accumulator.count == 0)
        #expect(points(try decode(deltaSum([(5_000, 2)]), accumulator), counter) == [Pair(5_000, 2)])
    }

    @Test func idleTotalsAreForgotten() throws {
        let now = Mutex<Int64>(0)
        let accumulator = OTLPDeltaAccumulator(maxIdleMs: 10_000, clock: { now.withLock { $0 } })
        _ = try decode(deltaSum([(1_000, 5)]), accumulator)
        now.withLock { $0 = 9_000 }
        #expect(points(try decode(deltaSum([(2_000, 1)]), accumulator), counter) == [Pair(2_000, 6)])
        now.withLock { $0 = 19_500 }
        // Idle 10.5 s: the total starts over from the delta (a counter reset to PromQL).
        #expect(points(try decode(deltaSum([(3_000, 1)]), accumulator), counter) == [Pair(3_000, 1)])
    }

    @Test func aSeriesWithoutTotalStartsFromItsNewestStoredSample() throws {
        let asked = Mutex<[String]>([])
        let accumulator = OTLPDeltaAccumulator(seed: { tenant, labels, startMs, endMs in
            asked.withLock { $0.append("\(tenant) \(labels) \(startMs) \(endMs)") }
            return labels.description.hasPrefix("requests_total") ? (10_000, 100) : nil
        })
        // The point of the stored sample's time is a retry from before the restart: the stored total again.
        #expect(points(try decode(deltaSum([(10_000, 7)]), accumulator), counter) == [Pair(10_000, 100)])
        #expect(points(try decode(deltaSum([(11_000, 7)]), accumulator), counter) == [Pair(11_000, 107)])
        #expect(points(try decode(deltaSum([(12_000, 1)]), accumulator), counter) == [Pair(12_000, 108)])
        // Asked twice (the retry left no total), each time for the hour around the point; not once the total was kept.
        #expect(asked.withLock { $0 } == ["t \(counter) -3590000 3610000", "t \(counter) -3589000 3611000"])

        let older = try decode(deltaSum([(5_000, 1)], service: "api"), OTLPDeltaAccumulator(seed: { _, _, _, _ in (10_000, 100) }))
        #expect(older.rejected == 1)
    }

    @Test func theStoreIsAskedOnlyInTheIdleTimeAfterAStart() throws {
        let now = Mutex<Int64>(0)
        let asked = Mutex(0)
        let accumulator = OTLPDeltaAccumulator(maxIdleMs: 10_000, seed: { _, _, _, _ in
            asked.withLock { $0 += 1 }
            return nil
        }, clock: { now.withLock { $0 } })
        _ = try decode(deltaSum([(1_000, 5)]), accumulator)
        #expect(asked.withLock { $0 } == 1)
        now.withLock { $0 = 10_000 }
        // A series first seen once the idle time has passed since the start cannot have a stored total to go on from.
        #expect(points(try decode(deltaSum([(2_000, 1)], service: "web"), accumulator), #"requests_total{job="web", route="/a"}"#) == [Pair(2_000, 1)])
        #expect(asked.withLock { $0 } == 1)
    }

    @Test func theNumberOfSeriesIsBounded() throws {
        let accumulator = OTLPDeltaAccumulator(maxSeries: 1)
        _ = try decode(deltaSum([(1_000, 5)]), accumulator)
        let other = try decode(deltaSum([(1_000, 5)], service: "web"), accumulator)
        #expect(other.rejected == 1)
        #expect(other.rejectionMessage.contains(#"series requests_total{job="web", route="/a"}: more than 1 delta series are tracked"#))
        #expect(points(try decode(deltaSum([(2_000, 1)]), accumulator), counter) == [Pair(2_000, 6)])
    }

    @Test func withoutAnAccumulatorDeltasAreRejected() throws {
        let decoded = try OTLPDecoder.decode(.metrics, body: deltaSum([(1_000, 5)]), format: .json)
        #expect(decoded.rejected == 1)
        #expect(decoded.rejectionMessage == "metric \"requests\": delta temporality is not supported; use cumulative")
    }

    @Test func theConformanceDeltasAreStoredWithAnAccumulator() throws {
        let decoded = try decode(try Fixtures.conformance("metrics.json"), OTLPDeltaAccumulator())
        #expect(decoded.rejected == 0, "\(decoded.rejectionMessage)")
        let names = Set(samples(decoded).compactMap { $0.labels["__name__"] })
        #expect(
            names == [
                "my_counter_total", "my_gauge_ratio", "my_histogram_bucket", "my_histogram_sum", "my_histogram_count",
                "my_exponential_histogram_bucket", "my_exponential_histogram_sum", "my_exponential_histogram_count",
            ])
    }
}
