import Foundation
import SightlineCore
import Testing

@testable import SightlineIngest

/// Datadog distributions: the Agent's sketches and the client libraries' raw values, as summary series.
struct DatadogDistributionTests {
    /// A value's key as the Agent bins it: the nearest power of γ, plus the bias; 0 near zero; negative for negatives.
    private func key(_ value: Double) -> Int64 {
        if value < 0 { return -key(-value) }
        if value < 1e-9 { return 0 }
        return Int64((log(value) / log1p(2.0 / 128)).rounded(.toNearestOrEven)) + Int64(DatadogSketch.bias)
    }

    /// The sketch the Agent would send for `values`: bins sorted by key.
    private func sketch(of values: [Double]) -> DatadogSketch {
        var bins: [Int64: UInt64] = [:]
        for value in values { bins[key(value), default: 0] += 1 }
        let keys = bins.keys.sorted()
        return DatadogSketch(
            count: Int64(values.count), min: values.min() ?? 0, max: values.max() ?? 0, sum: values.reduce(0, +), keys: keys,
            counts: keys.map { bins[$0]! })
    }

    private func lines(_ samples: [MetricSample]) -> [String] {
        samples.map { "\($0.labels) \(String(format: "%.10g", $0.value)) \($0.timestampMs)" }
    }

    @Test func keyOneIsTheSmallestMagnitudeToldFromZero() {
        let low = DatadogSketch.lowerBound(ofKey: 1)
        #expect(low <= 1e-9 && low * DatadogSketch.gamma > 1e-9)
        #expect(DatadogSketch.lowerBound(ofKey: -7) == -DatadogSketch.lowerBound(ofKey: 7))
        #expect(DatadogSketch.lowerBound(ofKey: 0) == 0)
        #expect(DatadogSketch.lowerBound(ofKey: 32767) == .infinity)
        // A value lies in its key's bin.
        for value in [1e-6, 0.5, 1, 3.7, 1234.5, 9e12] {
            let bound = DatadogSketch.lowerBound(ofKey: key(value))
            #expect(bound / DatadogSketch.gamma.squareRoot() <= value * (1 + 1e-12) && value <= bound * DatadogSketch.gamma * (1 + 1e-12))
        }
    }

    @Test func sketchQuantilesStayWithinTheBinsRelativeError() {
        // Magnitudes far from zero compared with their spacing, so the Agent's rounding of the rank moves little.
        let values = (1...1000).map { 100 + Double($0) * 0.37 }
        let distribution = DatadogDistribution(sketch: sketch(of: values))
        let exact = DatadogDistribution(values: values)
        #expect(distribution.count == 1000 && abs(distribution.sum - exact.sum) < 1e-9)
        for (approximate, truth) in zip(distribution.quantileValues, exact.quantileValues) {
            #expect(abs(approximate - truth) / truth < 0.02, "\(approximate) against \(truth)")
        }
        // Negative values: the same magnitudes, mirrored.
        let negative = DatadogDistribution(sketch: sketch(of: values.map { -$0 }))
        let exactNegative = DatadogDistribution(values: values.map { -$0 })
        for (approximate, truth) in zip(negative.quantileValues, exactNegative.quantileValues) {
            #expect(abs(approximate - truth) / abs(truth) < 0.02, "\(approximate) against \(truth)")
        }
    }

    @Test func edgesOfASketch() {
        // One value: every quantile is it (min = max bound the bin).
        #expect(DatadogDistribution(sketch: sketch(of: [4.2])).quantileValues == [4.2, 4.2, 4.2, 4.2, 4.2])
        // An empty sketch, and q at or beyond the ends.
        #expect(DatadogDistribution(sketch: DatadogSketch()).quantileValues == [0, 0, 0, 0, 0])
        let spread = sketch(of: [-3, 0, 0, 10])
        #expect(spread.quantile(0) == -3 && spread.quantile(1) == 10)
        #expect(spread.quantile(0.5) == 0)
        // Mismatched bins read as empty rather than trap.
        #expect(DatadogSketch(count: 2, min: 1, max: 2, sum: 3, keys: [5], counts: []).quantile(0.5) == 0)
    }

    @Test func rawValuesGiveExactQuantiles() {
        let distribution = DatadogDistribution(values: [4, 1, 3, 2])
        #expect(distribution.count == 4 && distribution.sum == 10)
        let expected = [2.5, 3.25, 3.7, 3.85, 3.97]
        for (value, want) in zip(distribution.quantileValues, expected) { #expect(abs(value - want) < 1e-12) }
        #expect(DatadogDistribution(values: []) == DatadogDistribution(count: 0, sum: 0, quantileValues: [0, 0, 0, 0, 0]))
    }

    @Test func sketchPayloadDecodesToSummarySeries() throws {
        let single = sketch(of: [7.5])
        var writer = ProtobufWriter()
        writer.writeMessage(1) { message in
            message.writeString(1, "request.latency")
            message.writeString(2, "web-1")
            message.writeString(4, "env:prod")
            message.writeString(4, "host:not-the-host")
            for (seconds, one) in [(Int64(1_700_000_000), single), (0, sketch(of: [1, 2]))] {
                message.writeMessage(7) { point in
                    point.writeInt64(1, seconds)
                    point.writeInt64(2, one.count)
                    point.writeDouble(3, one.min)
                    point.writeDouble(4, one.max)
                    point.writeDouble(6, one.sum)
                    var keys = ProtobufWriter()
                    for key in one.keys { keys.writeRawVarint(UInt64(bitPattern: (key << 1) ^ (key >> 63))) }
                    point.writeBytes(7, keys.bytes)
                    var counts = ProtobufWriter()
                    for count in one.counts { counts.writeRawVarint(count) }
                    point.writeBytes(8, counts.bytes)
                }
            }
        }
        writer.writeMessage(2) { _ in }  // metadata, skipped
        let samples = try writer.bytes.withUnsafeBytes { try DatadogSeriesDecoder.decodeSketches(protobuf: $0, nowMs: 42_000) }
        let first = lines(samples).prefix(7)
        #expect(Array(first) == [
            #"request.latency{env="prod", host="web-1", quantile="0.5"} 7.5 1700000000000"#,
            #"request.latency{env="prod", host="web-1", quantile="0.75"} 7.5 1700000000000"#,
            #"request.latency{env="prod", host="web-1", quantile="0.9"} 7.5 1700000000000"#,
            #"request.latency{env="prod", host="web-1", quantile="0.95"} 7.5 1700000000000"#,
            #"request.latency{env="prod", host="web-1", quantile="0.99"} 7.5 1700000000000"#,
            #"request.latency_sum{env="prod", host="web-1"} 7.5 1700000000000"#,
            #"request.latency_count{env="prod", host="web-1"} 1 1700000000000"#,
        ])
        // The second point has no timestamp: it takes the request's time.
        #expect(samples.count == 14 && samples[7...].allSatisfy { $0.timestampMs == 42_000 })
        #expect(samples[12].value == 3 && samples[13].value == 2)
    }

    @Test func distributionPointsDecodeToSummarySeries() throws {
        let body = #"{"series": [{"metric": "job.seconds", "points": [[1700000000, [4, 1, 3, 2]]], "type": "distribution", "host": "h1", "tags": ["team:a"]}]}"#
        let samples = try Array(body.utf8).withUnsafeBytes { try DatadogSeriesDecoder.decodeDistributionPoints(json: $0, nowMs: 42_000) }
        #expect(lines(samples) == [
            #"job.seconds{host="h1", quantile="0.5", team="a"} 2.5 1700000000000"#,
            #"job.seconds{host="h1", quantile="0.75", team="a"} 3.25 1700000000000"#,
            #"job.seconds{host="h1", quantile="0.9", team="a"} 3.7 1700000000000"#,
            #"job.seconds{host="h1", quantile="0.95", team="a"} 3.85 1700000000000"#,
            #"job.seconds{host="h1", quantile="0.99", team="a"} 3.97 1700000000000"#,
            #"job.seconds_sum{host="h1", team="a"} 10 1700000000000"#,
            #"job.seconds_count{host="h1", team="a"} 4 1700000000000"#,
        ])
    }

    @Test func badDistributionsNameTheProblem() {
        func message(_ body: () throws -> [MetricSample]) -> String {
            do {
                _ = try body()
                return "decoded"
            } catch {
                return "\(error)"
            }
        }
        func json(_ text: String) -> String {
            message { try Array(text.utf8).withUnsafeBytes { try DatadogSeriesDecoder.decodeDistributionPoints(json: $0, nowMs: 0) } }
        }
        #expect(json(#"{"series": [{"metric": "m", "points": [[1, 2]]}]}"#).contains("series[0]: points[0] must be [timestamp, [values…]]"))
        #expect(json(#"{"series": [{"metric": "m", "points": [[1, [1, "x"]]]}]}"#).contains("points[0] holds a value that is not a number"))
        var writer = ProtobufWriter()
        writer.writeMessage(1) { message in
            message.writeString(1, "m")
            message.writeMessage(7) { point in
                point.writeInt64(2, 1)
                point.writeBytes(7, [2])
            }
        }
        let mismatch = message { try writer.bytes.withUnsafeBytes { try DatadogSeriesDecoder.decodeSketches(protobuf: $0, nowMs: 0) } }
        #expect(mismatch.contains("SketchPayload.sketches[0].dogsketches[0]") && mismatch.contains("1 keys (k) but 0 bin counts (n)"), "\(mismatch)")
        let truncated = message { try [UInt8]([0x0A, 0x05, 0x0A]).withUnsafeBytes { try DatadogSeriesDecoder.decodeSketches(protobuf: $0, nowMs: 0) } }
        #expect(truncated.contains("malformed protobuf in SketchPayload"), "\(truncated)")
    }
}
