import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineIngest

struct OTLPExponentialHistogramTests {
    /// An OTLP/JSON request with one exponential histogram `latency` (unit `s`) of one point.
    private func request(
        scale: Int, positive: (offset: Int, counts: [Int])? = nil, negative: (offset: Int, counts: [Int])? = nil,
        zeroCount: Int = 0, zeroThreshold: Double = 0, count: Int? = nil, temporality: Int = 2, timeUnixNano: Int = 5_000_000
    ) -> [UInt8] {
        func buckets(_ name: String, _ buckets: (offset: Int, counts: [Int])?) -> String {
            guard let buckets else { return "" }
            return #""\#(name)": {"offset": \#(buckets.offset), "bucketCounts": [\#(buckets.counts.map { "\"\($0)\"" }.joined(separator: ","))]},"#
        }
        let total = count ?? zeroCount + (positive?.counts.reduce(0, +) ?? 0) + (negative?.counts.reduce(0, +) ?? 0)
        return Array(
            #"""
            {"resourceMetrics": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
              "scopeMetrics": [{"metrics": [{"name": "latency", "unit": "s", "exponentialHistogram": {
                "aggregationTemporality": \#(temporality),
                "dataPoints": [{"timeUnixNano": "\#(timeUnixNano)", "count": "\#(total)", "sum": 1.5, "scale": \#(scale),
                  \#(buckets("positive", positive)) \#(buckets("negative", negative))
                  "zeroCount": "\#(zeroCount)", "zeroThreshold": \#(zeroThreshold)}]}}]}]}]}
            """#.utf8)
    }

    /// The `_bucket` series of a decoded request as `le` → cumulative count, in the order written.
    private func buckets(_ body: [UInt8], format: OTLPFormat = .json) throws -> [(le: String, count: Double)] {
        let decoded = try OTLPDecoder.decode(.metrics, body: body, format: format)
        #expect(decoded.rejected == 0, "\(decoded.rejectionMessage)")
        guard case .metrics(let batch) = decoded.batch else { return [] }
        return batch.samples.filter { $0.labels["__name__"] == "latency_seconds_bucket" }.map { ($0.labels["le"] ?? "?", $0.value) }
    }

    private func les(_ buckets: [(le: String, count: Double)]) -> [String] { buckets.map(\.le) }
    private func counts(_ buckets: [(le: String, count: Double)]) -> [Double] { buckets.map(\.count) }

    @Test func theConformancePointWithCumulativeTemporalityBecomesClassicBuckets() throws {
        // metrics.json's exponential histogram is delta; sent cumulative, its scale-0 buckets 1 (2, 4] and 2 (4, 8]
        // follow the zero bucket.
        var text = String(decoding: try Fixtures.conformance("metrics.json"), as: UTF8.self)
        text = text.replacingOccurrences(of: #""aggregationTemporality": 1"#, with: #""aggregationTemporality": 2"#)
        let decoded = try OTLPDecoder.decode(.metrics, body: Array(text.utf8), format: .json)
        guard case .metrics(let batch) = decoded.batch else {
            Issue.record("expected metrics, got \(decoded.batch.signal)")
            return
        }
        let family = batch.samples.filter { $0.labels["__name__"]?.hasPrefix("my_exponential_histogram") == true }
        let series = family.map { "\($0.labels) \(PrometheusNaming.formatFloat($0.value))" }
        let attribute = #"my_exponential_histogram_attr="some value""#
        #expect(
            series == [
                #"my_exponential_histogram_sum{job="my.service", \#(attribute)} 10"#,
                #"my_exponential_histogram_count{job="my.service", \#(attribute)} 3"#,
                #"my_exponential_histogram_bucket{job="my.service", le="0", \#(attribute)} 1"#,
                #"my_exponential_histogram_bucket{job="my.service", le="4", \#(attribute)} 1"#,
                #"my_exponential_histogram_bucket{job="my.service", le="8", \#(attribute)} 3"#,
                #"my_exponential_histogram_bucket{job="my.service", le="+Inf", \#(attribute)} 3"#,
            ])
        #expect(batch.metadata.contains(MetricMetadata(metricFamily: "my_exponential_histogram", kind: .histogram, help: "I am an Exponential Histogram", unit: "1")))
    }

    @Test func finerScalesAreMergedToTheMaximumScale() throws {
        // Scale 5 buckets 32..<40 are scale-3 buckets 8 and 9: (2, 2^(9/8)] and (2^(9/8), 2^(10/8)].
        let fine = try buckets(request(scale: 5, positive: (32, [1, 2, 3, 4, 5, 6, 7, 8])))
        #expect(les(fine) == ["2.1810154653305154", "2.378414230005442", "+Inf"])
        #expect(counts(fine) == [10, 36, 36])
        // The same bounds at scale 3 have the same text; scale 1's are every fourth of them.
        let same = try buckets(request(scale: 3, positive: (8, [10, 26])))
        #expect(les(same) == les(fine))
        let coarse = try buckets(request(scale: 1, positive: (2, [5, 5])))
        #expect(les(coarse) == [PrometheusNaming.formatFloat(exp2(6.0 / 4)), "4", "+Inf"])
        #expect(les(try buckets(request(scale: 3, positive: (11, [1])))) == [les(coarse)[0], "+Inf"])
    }

    @Test func negativeBucketsComeFirstAndTheZeroBucketBetween() throws {
        // Scale 0: negative buckets 0 [-2, -1) and 1 [-4, -2), zero bucket [-0.5, 0.5], positive bucket -1 (0.5, 1].
        let result = try buckets(request(scale: 0, positive: (-1, [4]), negative: (0, [2, 1]), zeroCount: 3, zeroThreshold: 0.5))
        #expect(les(result) == ["-2", "-1", "0.5", "1", "+Inf"])
        #expect(counts(result) == [1, 3, 6, 10, 10])
    }

    @Test func negativeScalesAndOffsetsAndOverflowingBounds() throws {
        // Scale -2: base 16, bucket -1 is (1/16, 1]. At scale -10 the base is 2^1024: bounds overflow, counts go to +Inf.
        let result = try buckets(request(scale: -2, positive: (-1, [2]), count: 9))
        #expect(les(result) == ["1", "+Inf"])
        let overflow = try buckets(request(scale: -10, positive: (2, [1, 5])))
        #expect(les(overflow) == ["+Inf"])
        #expect(counts(overflow) == [6])
    }

    @Test func emptyBucketsAreLeftOutOnlyFarFromZero() throws {
        // Trailing empty buckets bound nothing; the empty bucket below the first observation still bounds it.
        let result = try buckets(request(scale: 0, positive: (0, [0, 3, 0, 0]), negative: (0, [0, 0])))
        #expect(les(result) == ["2", "4", "+Inf"])
        #expect(counts(result) == [0, 3, 3])
        // Scale-4 buckets 2...5 fall in scale-3 buckets 1...2; the empty bucket 5 is left out.
        let merged = try buckets(request(scale: 4, positive: (2, [0, 0, 1, 0])))
        #expect(les(merged) == ["1.189207115002721", "1.2968395546510096", "+Inf"])
        #expect(counts(merged) == [0, 1, 1])
    }

    @Test func aPointSpanningMoreThanTheBucketLimitIsMergedFurther() throws {
        // 1,000 scale-3 buckets (2^0 to 2^125) are 160 or fewer from scale 0 on: 125 buckets of a power of two.
        var observed = [Int](repeating: 0, count: 1_000)
        observed[0] = 1
        observed[999] = 2
        let result = try buckets(request(scale: 3, positive: (0, observed)))
        #expect(result.count == 125 + 1)
        #expect(les(result).first == "2" && counts(result).first == 1)
        #expect(counts(result).last == 3)
        #expect(les(result).dropLast().last == PrometheusNaming.formatFloat(exp2(125)))
    }

    @Test func aZeroThresholdWiderThanTheFirstBucketsTakesTheirCounts() throws {
        let result = try buckets(request(scale: 0, positive: (0, [1, 2, 4]), zeroCount: 1, zeroThreshold: 3))
        // (1, 2] lies below the threshold 3: added to the zero bucket; (2, 4] and (4, 8] stay.
        #expect(les(result) == ["3", "4", "8", "+Inf"])
        #expect(counts(result) == [2, 4, 8, 8])
    }

    @Test func deltaPointsWithoutAnAccumulatorAndScalesOutsideTheRangeAreRefused() throws {
        let delta = try OTLPDecoder.decode(.metrics, body: request(scale: 0, positive: (0, [1]), temporality: 1), format: .json)
        #expect(delta.rejected == 1)
        #expect(delta.rejectionMessage == "metric \"latency\": delta temporality is not supported; use cumulative")
        let scale = try OTLPDecoder.decode(.metrics, body: request(scale: 21, positive: (0, [1])), format: .json)
        #expect(scale.rejected == 1)
        #expect(scale.rejectionMessage == "metric \"latency\": scale 21 is outside -10...20")
    }

    /// A delta point of `request` decoded into `accumulator`'s totals.
    private func delta(_ accumulator: OTLPDeltaAccumulator, _ body: [UInt8]) throws -> DecodedBatch {
        try OTLPDecoder.decode(.metrics, body: body, format: .json, deltas: .init(accumulator, tenant: "t"))
    }

    /// The `_bucket` series of a decoded batch as in ``buckets(_:format:)``.
    private func buckets(of decoded: DecodedBatch) -> [(le: String, count: Double)] {
        guard case .metrics(let batch) = decoded.batch else { return [] }
        return batch.samples.filter { $0.labels["__name__"] == "latency_seconds_bucket" }.map { ($0.labels["le"] ?? "?", $0.value) }
    }

    @Test func deltaPointsAddUpInTheirBucketsWhicheverTheyFill() throws {
        let accumulator = OTLPDeltaAccumulator()
        // Scale-3 buckets 8 and 9, then scale-1 bucket 3 (scale-3 buckets 12 to 15): the total is at scale 1, where
        // the first point's buckets are bucket 2.
        let first = try delta(accumulator, request(scale: 3, positive: (8, [1, 2]), temporality: 1, timeUnixNano: 1_000_000))
        #expect(first.rejected == 0)
        let second = buckets(of: try delta(accumulator, request(scale: 1, positive: (3, [4]), temporality: 1, timeUnixNano: 2_000_000)))
        let expectedSecond = try buckets(request(scale: 1, positive: (2, [3, 4])))
        #expect(les(second) == les(expectedSecond) && counts(second) == counts(expectedSecond))
        // A point filling lower buckets and the zero bucket only: the higher `le` series go on with their totals.
        let thirdBody = request(scale: 3, positive: (0, [5]), zeroCount: 2, temporality: 1, timeUnixNano: 3_000_000)
        let third = buckets(of: try delta(accumulator, thirdBody))
        let expectedThird = try buckets(request(scale: 1, positive: (0, [5, 0, 3, 4]), zeroCount: 2))
        #expect(les(third) == les(expectedThird) && counts(third) == counts(expectedThird))
        // Sent again (a lost answer), the point gives the same total; an older point, or another one at the same
        // time, is refused.
        let retry = try delta(accumulator, thirdBody)
        #expect(retry.rejected == 0 && counts(buckets(of: retry)) == counts(third))
        let older = try delta(accumulator, request(scale: 3, positive: (0, [1]), temporality: 1, timeUnixNano: 2_500_000))
        #expect(older.rejected == 1)
        #expect(older.rejectionMessage.contains("a delta point older than the series' last one (3 ms)"))
        let other = try delta(accumulator, request(scale: 3, positive: (0, [1]), temporality: 1, timeUnixNano: 3_000_000))
        #expect(other.rejected == 1 && other.rejectionMessage.contains("a second delta point at"))
        // Another tenant's histogram of the same name has its own total.
        let elsewhere = try OTLPDecoder.decode(
            .metrics, body: request(scale: 3, positive: (0, [1]), temporality: 1, timeUnixNano: 1_000_000), format: .json,
            deltas: .init(accumulator, tenant: "u"))
        #expect(counts(buckets(of: elsewhere)) == [1, 1])
    }

    /// The buckets of one side at `scale` of observations whose indices are at scale 6: offset and counts, nil when
    /// the side has none.
    private static func side(_ observations: [(index: Int, negative: Bool)], negative: Bool, scale: Int) -> (offset: Int, counts: [Int])? {
        let indices = observations.filter { $0.negative == negative }.map { $0.index >> (6 - scale) }
        guard let low = indices.min(), let high = indices.max() else { return nil }
        var counts = [Int](repeating: 0, count: high - low + 1)
        for index in indices { counts[index - low] += 1 }
        return (low, counts)
    }

    /// Observations in random delta points at random scales add up to the cumulative histogram of all of them at
    /// the coarsest scale (indices drawn at scale 6 and shifted, so no rounding decides a bucket).
    @Test func randomDeltaPointsAddUpToTheCumulativeOne() throws {
        var generator = SplitMix64(seed: 7)
        for round in 0..<20 {
            let accumulator = OTLPDeltaAccumulator()
            var all: [(index: Int, negative: Bool)] = []
            var zero = 0
            var scales: [Int] = []
            var last: DecodedBatch?
            for point in 0..<5 {
                let scale = Int.random(in: 0...6, using: &generator)
                scales.append(scale)
                let observations = (0..<Int.random(in: 1...40, using: &generator)).map { _ in
                    (index: Int.random(in: -80...80, using: &generator), negative: Int.random(in: 0..<4, using: &generator) == 0)
                }
                all += observations
                let zeros = Int.random(in: 0...2, using: &generator)
                zero += zeros
                last = try delta(
                    accumulator,
                    request(
                        scale: scale, positive: Self.side(observations, negative: false, scale: scale),
                        negative: Self.side(observations, negative: true, scale: scale), zeroCount: zeros, temporality: 1,
                        timeUnixNano: (point + 1) * 1_000_000))
                #expect(last?.rejected == 0, "\(last?.rejectionMessage ?? "")")
            }
            let coarsest = min(scales.min()!, 3)
            let expected = try buckets(
                request(
                    scale: coarsest, positive: Self.side(all, negative: false, scale: coarsest),
                    negative: Self.side(all, negative: true, scale: coarsest), zeroCount: zero))
            let got = buckets(of: try #require(last))
            #expect(les(got) == les(expected) && counts(got) == counts(expected), "round \(round)")
        }
    }

    @Test func protobufDecodesLikeJSON() throws {
        let message = OTLPRequestFixtures.metrics(service: "api") { scopeMetrics in
            scopeMetrics.writeMessage(2) { metric in
                metric.writeString(1, "latency")
                metric.writeString(3, "s")
                metric.writeMessage(10) { histogram in
                    histogram.writeVarint(2, 2)
                    histogram.writeMessage(1) { point in
                        point.writeFixed64(3, 5_000_000)
                        point.writeFixed64(4, 10)
                        point.writeDouble(5, 1.5)
                        point.writeVarint(6, 1)  // scale -1, zigzag
                        point.writeFixed64(7, 3)
                        point.writeMessage(8) { buckets in
                            buckets.writeVarint(1, 1)  // offset -1, zigzag
                            buckets.writeBytes(2, [4])  // packed
                        }
                        point.writeMessage(9) { buckets in
                            buckets.writeVarint(1, 0)
                            buckets.writeVarint(2, 2)  // unpacked
                            buckets.writeVarint(2, 1)
                        }
                        point.writeDouble(14, 0.5)
                    }
                }
            }
        }
        let fromProtobuf = try buckets(message, format: .protobuf)
        let fromJSON = try buckets(request(scale: -1, positive: (-1, [4]), negative: (0, [2, 1]), zeroCount: 3, zeroThreshold: 0.5))
        #expect(les(fromProtobuf) == les(fromJSON))
        #expect(counts(fromProtobuf) == counts(fromJSON))
        #expect(les(fromJSON) == ["-4", "-1", "0.5", "1", "+Inf"])
    }

    @Test func randomObservationsGiveBucketsThatHoldThem() throws {
        // Observations put in scale-6 buckets (as an SDK would), then read back from the classic buckets: the count at
        // each bound is the number of observations at most the bound, up to the bound's own bucket.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let values = (0..<200).map { _ in exp2(Double.random(in: -8...8, using: &generator)) }
            let scale = 6
            let indices = values.map { Int((log2($0) * Double(1 << scale)).rounded(.up)) - 1 }
            let offset = indices.min()!
            var counts = [Int](repeating: 0, count: indices.max()! - offset + 1)
            for index in indices { counts[index - offset] += 1 }
            let result = try buckets(request(scale: scale, positive: (offset, counts)))
            #expect(result.last?.count == 200)
            var previous = 0.0
            for (le, count) in result.dropLast() {
                let bound = try #require(Double(le))
                #expect(count >= previous)
                previous = count
                let atMost = values.filter { $0 <= bound }.count
                // Values within 1e-9 of a bound may fall either side of it through rounding of the logarithm.
                let nearBound = values.filter { abs($0 - bound) <= bound * 1e-9 }.count
                #expect(abs(Int(count) - atMost) <= nearBound, "le \(le)")
            }
        }
    }
}
