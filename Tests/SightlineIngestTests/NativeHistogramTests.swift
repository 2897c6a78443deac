import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineIngest

/// Native histograms in remote write become the classic series of their metric, with the bounds OTLP exponential
/// histograms get.
struct NativeHistogramTests {
    private static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }

    /// A `Histogram` message: integer counts as deltas unless `floatCounts` is given.
    private static func histogram(
        count: Double, sum: Double, schema: Int64, zeroThreshold: Double = 0.001, zeroCount: Double = 0,
        positiveSpans: [(Int64, UInt64)] = [], positiveDeltas: [Int64] = [], floatCounts: [Double]? = nil,
        negativeSpans: [(Int64, UInt64)] = [], negativeDeltas: [Int64] = [], customValues: [Double] = [], timestamp: Int64 = 1000
    ) -> ProtobufWriter {
        var h = ProtobufWriter()
        if floatCounts == nil { h.writeVarint(1, UInt64(count)) } else { h.writeDouble(2, count) }
        h.writeDouble(3, sum)
        h.writeVarint(4, zigzag(schema))
        h.writeDouble(5, zeroThreshold)
        if floatCounts == nil { h.writeVarint(6, UInt64(zeroCount)) } else { h.writeDouble(7, zeroCount) }
        func spans(_ field: Int, _ spans: [(Int64, UInt64)]) {
            for (offset, length) in spans {
                h.writeMessage(field) { span in
                    span.writeVarint(1, zigzag(offset))
                    span.writeVarint(2, length)
                }
            }
        }
        func deltas(_ field: Int, _ values: [Int64]) {
            guard !values.isEmpty else { return }
            var packed = ProtobufWriter()
            for value in values { packed.writeRawVarint(zigzag(value)) }
            h.writeBytes(field, packed.bytes)
        }
        spans(8, negativeSpans)
        deltas(9, negativeDeltas)
        spans(11, positiveSpans)
        if let floatCounts { h.writePackedDouble(13, floatCounts) } else { deltas(12, positiveDeltas) }
        h.writeInt64(15, timestamp)
        if !customValues.isEmpty { h.writePackedDouble(16, customValues) }
        return h
    }

    private static func classic(_ writer: ProtobufWriter, series: Labels = Labels(["__name__": "rpc_seconds", "job": "api"])) throws -> [String] {
        let sample = try writer.bytes.withUnsafeBytes { try NativeHistogramSample.decode($0) }
        switch sample.classicSamples(of: series) {
        case .success(let samples): return samples.map { "\($0.labels) \(GraphiteLike.format($0.value))@\($0.timestampMs)" }
        case .failure(let error): return ["error: \(error.reason)"]
        }
    }

    @Test func integerHistogramsBecomeCumulativeBuckets() throws {
        // Schema 0: bucket i holds (2^(i-1), 2^i]. Buckets 0, 1 and 3 (a gap of one) with counts 2, 1, 4.
        let lines = try Self.classic(Self.histogram(
            count: 8, sum: 20, schema: 0, zeroCount: 1, positiveSpans: [(0, 2), (1, 1)], positiveDeltas: [2, -1, 3]))
        #expect(lines == [
            #"rpc_seconds_sum{job="api"} 20@1000"#, #"rpc_seconds_count{job="api"} 8@1000"#,
            #"rpc_seconds_bucket{job="api", le="0.001"} 1@1000"#, #"rpc_seconds_bucket{job="api", le="1"} 3@1000"#,
            #"rpc_seconds_bucket{job="api", le="2"} 4@1000"#, #"rpc_seconds_bucket{job="api", le="4"} 4@1000"#,
            #"rpc_seconds_bucket{job="api", le="8"} 8@1000"#, #"rpc_seconds_bucket{job="api", le="+Inf"} 8@1000"#,
        ])
        // The same observations as an OpenTelemetry exponential point give the same bounds.
        let otlp = OTLPExponentialHistogramPoint(
            count: 8, sum: 20, scale: 0, zeroCount: 1, zeroThreshold: 0.001, positive: .init(offset: -1, counts: [2, 1, 0, 4]))
        #expect(otlp.explicit.explicitBounds == [0.001, 1, 2, 4, 8])
        // Negative buckets come first, most negative first: bucket 1 of the negative side holds [-2, -1).
        let negative = try Self.classic(Self.histogram(count: 3, sum: -4, schema: 0, negativeSpans: [(1, 1)], negativeDeltas: [3]))
        #expect(negative.filter { $0.contains("_bucket") } == [
            #"rpc_seconds_bucket{job="api", le="-1"} 3@1000"#, #"rpc_seconds_bucket{job="api", le="0.001"} 3@1000"#,
            #"rpc_seconds_bucket{job="api", le="+Inf"} 3@1000"#,
        ])
    }

    @Test func floatCustomAndStaleHistograms() throws {
        let floats = try Self.classic(Self.histogram(count: 3, sum: 2.5, schema: 1, positiveSpans: [(2, 2)], floatCounts: [1, 2]))
        #expect(floats.contains(#"rpc_seconds_bucket{job="api", le="2"} 1@1000"#) && floats.contains(#"rpc_seconds_bucket{job="api", le="+Inf"} 3@1000"#))
        // Schema -53: custom bounds; the bucket past the last bound is +Inf's own.
        let custom = try Self.classic(Self.histogram(
            count: 6, sum: 3, schema: -53, positiveSpans: [(0, 3)], positiveDeltas: [1, 1, 1], customValues: [0.1, 1]))
        #expect(custom.filter { $0.contains("_bucket") } == [
            #"rpc_seconds_bucket{job="api", le="0.1"} 1@1000"#, #"rpc_seconds_bucket{job="api", le="1"} 3@1000"#,
            #"rpc_seconds_bucket{job="api", le="+Inf"} 6@1000"#,
        ])
        let stale = try Self.histogram(count: 0, sum: StaleNaN.value, schema: 0).bytes.withUnsafeBytes { try NativeHistogramSample.decode($0) }
        guard case .success(let markers) = stale.classicSamples(of: Labels(["__name__": "rpc_seconds"])) else {
            Issue.record("not converted")
            return
        }
        #expect(markers.map(\.labels.description) == ["rpc_seconds_sum", "rpc_seconds_count", #"rpc_seconds_bucket{le="+Inf"}"#])
        #expect(markers.allSatisfy { StaleNaN.isStale($0.value) })
        // What cannot be converted says why.
        #expect(try Self.classic(Self.histogram(count: 1, sum: 1, schema: 9)) == ["error: schema 9 is outside -4...8 (and -53)"])
        #expect(try Self.classic(Self.histogram(count: 1, sum: 1, schema: 0, positiveSpans: [(0, 3)], positiveDeltas: [1, 1]))
            == ["error: the spans hold more buckets than the 2 counts"])
    }

    @Test func remoteWriteTakesThemInBothVersions() throws {
        var v1 = ProtobufWriter()
        v1.writeMessage(1) { series in
            series.writeMessage(1) { label in
                label.writeString(1, "__name__")
                label.writeString(2, "rpc_seconds")
            }
            series.writeBytes(4, Self.histogram(count: 2, sum: 1, schema: 0, positiveSpans: [(0, 1)], positiveDeltas: [2]).bytes)
            series.writeBytes(4, Self.histogram(count: 1, sum: 1, schema: 12).bytes)
        }
        let decoded = try RemoteWriteDecoder.decode(protobuf: v1.bytes)
        guard case .metrics(let batch) = decoded.batch else { return }
        #expect(batch.samples.map(\.labels.metricName) == ["rpc_seconds_sum", "rpc_seconds_count", "rpc_seconds_bucket", "rpc_seconds_bucket"])
        #expect(decoded.rejected == 1 && decoded.rejectionMessage.contains("schema 12 is outside"))

        var v2 = ProtobufWriter()
        v2.writeMessage(5) { series in
            var refs = ProtobufWriter()
            for ref: UInt64 in [1, 2] { refs.writeRawVarint(ref) }
            series.writeBytes(1, refs.bytes)
            series.writeBytes(3, Self.histogram(count: 2, sum: 1, schema: 0, positiveSpans: [(0, 1)], positiveDeltas: [2]).bytes)
        }
        for symbol in ["", "__name__", "rpc_seconds"] { v2.writeString(4, symbol) }
        let (second, histograms, histogramSamples) = try v2.bytes.withUnsafeBytes { try RemoteWrite2Decoder.decodeCounting(protobuf: $0) }
        #expect(histograms == 1 && histogramSamples == 4 && second.rejected == 0)
        guard case .metrics(let classic) = second.batch else { return }
        #expect(classic.samples.count == 4)
        // A malformed histogram fails the request, naming where.
        var broken = ProtobufWriter()
        broken.writeMessage(1) { series in
            series.writeMessage(1) { label in
                label.writeString(1, "__name__")
                label.writeString(2, "m")
            }
            series.writeBytes(4, [0x19, 0x01])  // sum: a fixed64 cut short
        }
        let error = sightlineError { _ = try RemoteWriteDecoder.decode(protobuf: broken.bytes) }
        #expect(error?.message.contains("timeseries[0].histograms[0]") == true, "\(String(describing: error))")
    }
}

/// Numbers as the expectations write them: whole ones without a fraction.
private enum GraphiteLike {
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}
