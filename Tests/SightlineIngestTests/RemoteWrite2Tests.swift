import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineIngest

/// Builds remote write 2.0 `Request`s by hand, with the field numbers of `io.prometheus.write.v2`.
private struct Request2Builder {
    var symbols: [String] = [""]
    var writer = ProtobufWriter()

    /// The reference of `text`, added to the symbols when new.
    mutating func ref(_ text: String) -> UInt64 {
        if let index = symbols.firstIndex(of: text) { return UInt64(index) }
        symbols.append(text)
        return UInt64(symbols.count - 1)
    }

    mutating func series(
        _ labels: [(String, String)], samples: [(Int64, Double)] = [], histograms: Int = 0, exemplars: Int = 0,
        metadata: (type: UInt64, help: String, unit: String)? = nil, rawRefs: [UInt64]? = nil, rawExemplarRefs: [UInt64]? = nil
    ) {
        let refs = rawRefs ?? labels.flatMap { [ref($0.0), ref($0.1)] }
        let exemplarRefs = exemplars > 0 ? rawExemplarRefs ?? [ref("trace_id"), ref("4bf92f35")] : []
        let meta = metadata.map { ($0.type, ref($0.help), ref($0.unit)) }
        writer.writeMessage(5) { series in
            var packed = ProtobufWriter()
            for ref in refs { packed.writeRawVarint(ref) }
            series.writeBytes(1, packed.bytes)
            for (timestamp, value) in samples {
                series.writeMessage(2) { sample in
                    sample.writeDouble(1, value)
                    sample.writeInt64(2, timestamp)
                }
            }
            for _ in 0..<histograms { series.writeMessage(3) { $0.writeVarint(1, 3) } }
            for index in 0..<exemplars {
                series.writeMessage(4) { exemplar in
                    var packed = ProtobufWriter()
                    for ref in exemplarRefs { packed.writeRawVarint(ref) }
                    exemplar.writeBytes(1, packed.bytes)
                    exemplar.writeDouble(2, 1)
                    exemplar.writeInt64(3, 900 + Int64(index))
                }
            }
            if let (type, help, unit) = meta {
                series.writeMessage(5) { m in
                    m.writeVarint(1, type)
                    m.writeVarint(3, help)
                    m.writeVarint(4, unit)
                }
            }
            series.writeInt64(6, 1_000)  // created_timestamp, not stored
        }
    }

    /// The request: series first, symbols after them (the decoder must not depend on the order).
    var bytes: [UInt8] {
        var request = writer
        for symbol in symbols { request.writeString(4, symbol) }
        return request.bytes
    }
}

struct RemoteWrite2Tests {
    private func decode(_ builder: Request2Builder) throws -> (batch: MetricBatch, decoded: DecodedBatch) {
        let decoded = try RemoteWrite2Decoder.decode(protobuf: builder.bytes)
        guard case .metrics(let batch) = decoded.batch else { return (MetricBatch(), decoded) }
        return (batch, decoded)
    }

    @Test func exemplarsDecodeWithTheirSymbols() throws {
        var request = Request2Builder()
        let labels = [("__name__", "http_requests_total"), ("job", "api")]
        request.series(labels, samples: [(1_000, 1)], exemplars: 2)
        request.series([("job", "no_name")], samples: [(1_000, 1)], exemplars: 1)
        let (batch, decoded) = try decode(request)
        #expect(decoded.rejected == 1)
        let series = Labels(["__name__": "http_requests_total", "job": "api"])
        #expect(batch.exemplars == [900, 901].map { MetricExemplar(series: series, labels: Labels(["trace_id": "4bf92f35"]), timestampMs: $0, value: 1) })
        for refs: [UInt64] in [[1], [1, 99]] {
            var bad = Request2Builder()
            bad.series(labels, samples: [(1_000, 1)], exemplars: 1, rawExemplarRefs: refs)
            let error = sightlineError { _ = try RemoteWrite2Decoder.decode(protobuf: bad.bytes) }
            #expect(error?.message.contains("timeseries[0].exemplars[0]") == true, "\(String(describing: error))")
        }
    }

    @Test func samplesAndMetadataDecode() throws {
        var request = Request2Builder()
        let labels = [("__name__", "http_requests_total"), ("instance", "a:9100"), ("job", "api")]
        request.series(labels, samples: [(1_000, 1), (2_000, 2.5)], exemplars: 1, metadata: (1, "Requests served.", ""))
        request.series([("__name__", "latency_seconds_bucket"), ("job", "api"), ("le", "0.5")], samples: [(1_000, StaleNaN.value)],
                       metadata: (3, "Latency.", "seconds"))
        request.series(labels, samples: [(3_000, 4)])
        let (batch, decoded) = try decode(request)
        #expect(decoded.rejected == 0)
        #expect(batch.samples.map { "\($0.labels) \($0.timestampMs)" } == [
            #"http_requests_total{instance="a:9100", job="api"} 1000"#, #"http_requests_total{instance="a:9100", job="api"} 2000"#,
            #"latency_seconds_bucket{job="api", le="0.5"} 1000"#, #"http_requests_total{instance="a:9100", job="api"} 3000"#,
        ])
        #expect(batch.samples[1].value == 2.5)
        #expect(StaleNaN.isStale(batch.samples[2].value))
        #expect(batch.metadata == [
            MetricMetadata(metricFamily: "http_requests_total", kind: .counter, help: "Requests served."),
            MetricMetadata(metricFamily: "latency_seconds", kind: .histogram, help: "Latency.", unit: "seconds"),
        ])
    }

    @Test func badSeriesAreRejectedAloneWithTheirReason() throws {
        var request = Request2Builder()
        request.series([("__name__", "good")], samples: [(1, 1)])
        request.series([("job", "x")], samples: [(1, 1), (2, 2)])
        request.series([("__name__", "b"), ("z", "1"), ("a", "1")], samples: [(1, 1)])
        request.series([("__name__", "d"), ("__name__", "e")], samples: [(1, 1)])
        request.series([], samples: [(1, 1)], rawRefs: [1, 99])
        request.series([], samples: [(1, 1)], rawRefs: [1])
        request.series([("__name__", "h")], samples: [(1, 1)], histograms: 2)
        let (batch, decoded) = try decode(request)
        // The native histograms (a count, a sum of 0, no buckets) become classic series.
        #expect(batch.samples.map(\.labels.description) == ["good", "h"] + Array(repeating: ["h_sum", "h_count", #"h_bucket{le="+Inf"}"#], count: 2).flatMap { $0 })
        #expect(decoded.rejected == 2 + 1 + 1 + 1 + 1)
        let message = decoded.rejectionMessage
        #expect(message.contains(#"series {job="x"} has no metric name (label __name__)"#))
        #expect(message.contains(#"has out of order labels ("a" after "z")"#))
        #expect(message.contains(#"has duplicate label name "__name__""#))
        #expect(message.contains("refers to symbol 99, beyond the request's"))
        #expect(message.contains("series {} has an odd number of label references (1)"))
        #expect(!message.contains("histogram"))
    }

    @Test func malformedRequestsThrowWithAPath() {
        var first = ProtobufWriter()
        first.writeString(4, "x")
        #expect(sightlineError { _ = try RemoteWrite2Decoder.decode(protobuf: first.bytes) }?.message.contains("symbols[0] must be the empty string") == true)
        var utf8 = ProtobufWriter()
        utf8.writeString(4, "")
        utf8.writeBytes(4, [0xFF, 0xFE])
        #expect(sightlineError { _ = try RemoteWrite2Decoder.decode(protobuf: utf8.bytes) }?.message.contains("symbol 1 is not valid UTF-8") == true)
        var truncated = Request2Builder()
        truncated.series([("__name__", "m")], samples: [(1, 1)])
        let bytes = Array(truncated.writer.bytes.dropLast(3))
        let message = sightlineError { _ = try RemoteWrite2Decoder.decode(protobuf: bytes) }?.message ?? ""
        #expect(message.hasPrefix("malformed protobuf in Request.timeseries[0]"), "\(message)")
    }
}
