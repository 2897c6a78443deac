import SightlineCore
import Testing

@testable import SightlineIngest

struct OTLPMetricsTests {
    private func metrics(_ batch: DecodedBatch) -> MetricBatch {
        guard case .metrics(let metrics) = batch.batch else {
            Issue.record("expected metrics, got \(batch.batch.signal)")
            return MetricBatch()
        }
        return metrics
    }

    private func sample(_ batch: MetricBatch, _ series: String) -> MetricSample? {
        batch.samples.first { $0.labels.description == series }
    }

    @Test func conformanceMetricsJSONDecodes() throws {
        let decoded = try OTLPDecoder.decode(.metrics, body: try Fixtures.conformance("metrics.json"), format: .json)
        let batch = metrics(decoded)
        // The counter, the histogram and the exponential histogram are delta: all rejected.
        #expect(decoded.rejected == 3)
        #expect(decoded.rejectionMessage.contains("metric \"my.counter\": delta temporality is not supported; use cumulative"))
        #expect(decoded.rejectionMessage.contains("metric \"my.histogram\": delta temporality is not supported; use cumulative"))
        #expect(decoded.rejectionMessage.contains("metric \"my.exponential.histogram\": delta temporality is not supported; use cumulative"))
        // The gauge has unit "1": `_ratio`. The resource has only service.name: no target_info.
        #expect(
            batch.samples == [
                MetricSample(
                    labels: Labels([
                        Label("__name__", "my_gauge_ratio"), Label("my_gauge_attr", "some value"), Label("job", "my.service"),
                    ]), timestampMs: 1_544_712_660_300, value: 10)
            ])
        #expect(batch.metadata == [MetricMetadata(metricFamily: "my_gauge_ratio", kind: .gauge, help: "I am a Gauge", unit: "1")])
    }

    @Test func referenceProtobufDecodesLikeJSON() throws {
        let fromJSON = try OTLPDecoder.decode(.metrics, body: try Fixtures.conformance("metrics.json"), format: .json)
        let fromProtobuf = try OTLPDecoder.decode(.metrics, body: ProtobufFixtures.metrics, format: .protobuf)
        #expect(fromProtobuf.batch == fromJSON.batch)
        #expect(fromProtobuf.rejected == fromJSON.rejected)
        #expect(fromProtobuf.rejectionMessage == fromJSON.rejectionMessage)
    }

    @Test func cumulativeMetricsMapToPrometheus() throws {
        let decoded = try OTLPDecoder.decode(.metrics, body: Array(ProtobufFixtures.extraMetricsJSON.utf8), format: .json)
        let batch = metrics(decoded)
        let t: Int64 = 1_700_000_000_123
        func value(_ series: String) -> Double? { sample(batch, series)?.value }

        #expect(value(#"http_server_requests_total{http_method="GET", http_status_code="200", instance="i-1", job="shop/api"}"#) == 42)
        #expect(value(#"process_memory_usage_bytes{instance="i-1", job="shop/api"}"#) == 1024.5)
        #expect(value(#"http_server_duration_seconds_bucket{instance="i-1", job="shop/api", le="0.005"}"#) == 1)
        #expect(value(#"http_server_duration_seconds_bucket{instance="i-1", job="shop/api", le="0.5"}"#) == 3)
        #expect(value(#"http_server_duration_seconds_bucket{instance="i-1", job="shop/api", le="1"}"#) == 6)
        #expect(value(#"http_server_duration_seconds_bucket{instance="i-1", job="shop/api", le="+Inf"}"#) == 10)
        #expect(value(#"http_server_duration_seconds_sum{instance="i-1", job="shop/api"}"#) == 12.5)
        #expect(value(#"http_server_duration_seconds_count{instance="i-1", job="shop/api"}"#) == 10)
        #expect(value(#"rpc_latency_milliseconds{instance="i-1", job="shop/api", quantile="0.5"}"#) == 3)
        #expect(value(#"rpc_latency_milliseconds{instance="i-1", job="shop/api", quantile="0.99"}"#) == 9)
        #expect(value(#"rpc_latency_milliseconds_sum{instance="i-1", job="shop/api"}"#) == 20)
        #expect(value(#"rpc_latency_milliseconds_count{instance="i-1", job="shop/api"}"#) == 4)
        #expect(value(#"queue_size{instance="i-1", job="shop/api"}"#)?.bitPattern == 0x7ff0_0000_0000_0002)
        #expect(value(#"net_speed_meters_per_second{instance="i-1", job="shop/api"}"#) == 3)
        #expect(value(#"collide{a_b="1;2", instance="i-1", job="shop/api"}"#) == 1)
        #expect(value(#"_1st_metric{instance="i-1", job="shop/api"}"#) == 1)
        #expect(value(#"target_info{deployment_environment="prod", host_name="h1", instance="i-1", job="shop/api"}"#) == 1)
        #expect(batch.samples.allSatisfy { $0.timestampMs == t })
        #expect(batch.samples.count == 17)

        #expect(decoded.rejected == 2)
        #expect(decoded.rejectionMessage == "metric \"deltas\": delta temporality is not supported; use cumulative")

        let kinds = Dictionary(batch.metadata.map { ($0.metricFamily, $0.kind) }, uniquingKeysWith: { a, _ in a })
        #expect(kinds["http_server_requests_total"] == .counter)
        #expect(kinds["process_memory_usage_bytes"] == .gauge)
        #expect(kinds["http_server_duration_seconds"] == .histogram)
        #expect(kinds["rpc_latency_milliseconds"] == .summary)
        #expect(kinds["queue_size"] == .gauge)
        #expect(kinds["target_info"] == .gauge)
        #expect(batch.metadata.first { $0.metricFamily == "http_server_duration_seconds" }?.help == "Request duration")
    }

    @Test func referenceProtobufOfCumulativeMetricsDecodesLikeJSON() throws {
        let fromJSON = try OTLPDecoder.decode(.metrics, body: Array(ProtobufFixtures.extraMetricsJSON.utf8), format: .json)
        let fromProtobuf = try OTLPDecoder.decode(.metrics, body: ProtobufFixtures.extraMetrics, format: .protobuf)
        #expect(fromProtobuf.batch == fromJSON.batch)
        #expect(fromProtobuf.rejected == 2)
    }

    @Test func protobufBuiltFieldByFieldDecodes() throws {
        // metrics.json's gauge, written with ProtobufWriter: packed and unpacked fields, resource after the scope.
        var writer = ProtobufWriter()
        writer.writeMessage(1) { resourceMetrics in
            resourceMetrics.writeMessage(2) { scopeMetrics in
                scopeMetrics.writeMessage(2) { metric in
                    metric.writeString(1, "my.gauge")
                    metric.writeString(2, "I am a Gauge")
                    metric.writeString(3, "1")
                    metric.writeMessage(5) { gauge in
                        gauge.writeMessage(1) { point in
                            point.writeFixed64(3, 1_544_712_660_300_000_000)
                            point.writeFixed64(6, UInt64(bitPattern: 10))  // as_int
                            point.writeMessage(7) { kv in
                                kv.writeString(1, "my.gauge.attr")
                                kv.writeMessage(2) { $0.writeString(1, "some value") }
                            }
                        }
                    }
                }
                scopeMetrics.writeMessage(2) { metric in
                    metric.writeString(1, "h")
                    metric.writeMessage(9) { histogram in
                        histogram.writeVarint(2, 2)
                        histogram.writeMessage(1) { point in
                            point.writeFixed64(3, 2_000_000)
                            point.writeFixed64(4, 3)
                            point.writeFixed64(6, 1)  // bucket_counts, unpacked
                            point.writeFixed64(6, 2)
                            point.writePackedDouble(7, [0.25])
                        }
                    }
                }
            }
            resourceMetrics.writeMessage(1) { resource in
                resource.writeMessage(1) { kv in
                    kv.writeString(1, "service.name")
                    kv.writeMessage(2) { $0.writeString(1, "my.service") }
                }
            }
        }
        let batch = metrics(try OTLPDecoder.decode(.metrics, body: writer.bytes, format: .protobuf))
        #expect(sample(batch, #"my_gauge_ratio{job="my.service", my_gauge_attr="some value"}"#)?.value == 10)
        #expect(sample(batch, #"h_bucket{job="my.service", le="0.25"}"#)?.value == 1)
        #expect(sample(batch, #"h_bucket{job="my.service", le="+Inf"}"#)?.value == 3)
        #expect(sample(batch, #"h_count{job="my.service"}"#)?.timestampMs == 2)
        #expect(sample(batch, #"h_sum{job="my.service"}"#) == nil)  // no sum sent
    }

    @Test func encodedSamplesDecodeBack() throws {
        let samples = [
            MetricSample(labels: Labels(["__name__": "up", "job": "a", "instance": "b"]), timestampMs: 5, value: 1),
            MetricSample(labels: Labels(["__name__": "temp_celsius", "room": "x"]), timestampMs: 6, value: -3.5),
            MetricSample(labels: Labels(["__name__": "up", "job": "c"]), timestampMs: 7, value: 0),
            MetricSample(
                labels: Labels(["__name__": "gone"]), timestampMs: 8, value: OTLPPrometheusTranslator.staleNaN),
        ]
        let batch = metrics(try OTLPDecoder.decode(.metrics, body: OTLPEncoder.encodeMetrics(samples), format: .protobuf))
        #expect(Set(batch.samples) == Set(samples))
    }
}
