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

    /// Promoted resource attributes become labels of every series of their resource; a data point attribute of the
    /// same label wins, and `job`/`instance` stay the service's.
    @Test func promotedResourceAttributesBecomeLabels() throws {
        let json = #"""
            {"resourceMetrics":[{"resource":{"attributes":[
               {"key":"service.name","value":{"stringValue":"api"}},{"key":"k8s.namespace.name","value":{"stringValue":"prod"}},
               {"key":"deployment.environment","value":{"stringValue":"eu"}},{"key":"job","value":{"stringValue":"ignored"}}]},
             "scopeMetrics":[{"metrics":[{"name":"up","gauge":{"dataPoints":[
               {"timeUnixNano":"1000000000","asInt":"1"},
               {"timeUnixNano":"1000000000","asInt":"1","attributes":[{"key":"deployment.environment","value":{"stringValue":"us"}}]}]}}]}]}]}
            """#
        let translation = OTLPDecoder.OTLPTranslation(
            promoteResourceAttributes: ["k8s.namespace.name", "deployment.environment", "job", "missing.attribute"])
        let decoded = try Array(json.utf8).withUnsafeBytes { try OTLPDecoder.decodeMetrics(json: $0, translation: translation) }
        let series = metrics(decoded).samples.filter { $0.labels.metricName == "up" }.map(\.labels.description)
        #expect(series == [
            #"up{deployment_environment="eu", job="api", k8s_namespace_name="prod"}"#,
            #"up{deployment_environment="us", job="api", k8s_namespace_name="prod"}"#,
        ])
        let plain = try Array(json.utf8).withUnsafeBytes { try OTLPDecoder.decodeMetrics(json: $0) }
        #expect(metrics(plain).samples.filter { $0.labels.metricName == "up" }.first?.labels.description == #"up{job="api"}"#)
        // target_info keeps service.name as well with keep_identifying_resource_attributes.
        func targetInfo(_ translation: OTLPDecoder.OTLPTranslation) throws -> String? {
            let batch = try Array(json.utf8).withUnsafeBytes { try OTLPDecoder.decodeMetrics(json: $0, translation: translation) }
            return metrics(batch).samples.first { $0.labels.metricName == "target_info" }?.labels.description
        }
        #expect(try targetInfo(OTLPDecoder.OTLPTranslation())
            == #"target_info{deployment_environment="eu", job="api", k8s_namespace_name="prod"}"#)
        #expect(try targetInfo(OTLPDecoder.OTLPTranslation(keepIdentifyingResourceAttributes: true))
            == #"target_info{deployment_environment="eu", job="api", k8s_namespace_name="prod", service_name="api"}"#)
    }

    /// `NoUTF8EscapingWithSuffixes` keeps metric and label names in UTF-8 with their suffixes; `NoTranslation` keeps
    /// them as they are; `UnderscoreEscapingWithoutSuffixes` escapes without suffixes.
    @Test func translationStrategiesNameSeriesAsPrometheus3() throws {
        let json = #"""
            {"resourceMetrics":[{"resource":{"attributes":[
               {"key":"service.name","value":{"stringValue":"api"}},{"key":"k8s.pod.name","value":{"stringValue":"p1"}}]},
             "scopeMetrics":[{"metrics":[{"name":"http.server.requests","unit":"{request}","sum":{"isMonotonic":true,
               "aggregationTemporality":2,"dataPoints":[{"timeUnixNano":"1000000000","asInt":"3",
               "attributes":[{"key":"http.request.method","value":{"stringValue":"GET"}}]}]}}]}]}]}
            """#
        func series(_ strategy: OTLPDecoder.OTLPTranslation.Strategy) throws -> [String] {
            let translation = OTLPDecoder.OTLPTranslation(promoteResourceAttributes: ["k8s.pod.name"], strategy: strategy)
            let batch = try Array(json.utf8).withUnsafeBytes { try OTLPDecoder.decodeMetrics(json: $0, translation: translation) }
            return metrics(batch).samples.map(\.labels.description).sorted()
        }
        #expect(try series(.noUTF8EscapingWithSuffixes) == [
            #"http.server.requests_total{http.request.method="GET", job="api", k8s.pod.name="p1"}"#,
            #"target_info{job="api", k8s.pod.name="p1"}"#,
        ])
        #expect(try series(.noTranslation).first == #"http.server.requests{http.request.method="GET", job="api", k8s.pod.name="p1"}"#)
        #expect(try series(.underscoreEscapingWithoutSuffixes).first == #"http_server_requests{http_request_method="GET", job="api", k8s_pod_name="p1"}"#)
        #expect(try series(.underscoreEscapingWithSuffixes).first == #"http_server_requests_total{http_request_method="GET", job="api", k8s_pod_name="p1"}"#)
    }

    /// Exemplars go with the series of their point, a histogram's with the first bucket holding the value, labelled with
    /// the trace and span in hex; JSON and protobuf decode to the same.
    @Test func exemplarsGoWithTheirSeries() throws {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        let span = "00f067aa0ba902b7"
        let json = #"""
            {"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
             "scopeMetrics":[{"metrics":[
              {"name":"requests","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
                {"timeUnixNano":"2000000000","asInt":"7","exemplars":[
                  {"timeUnixNano":"1500000000","asInt":"1","traceId":"\#(trace)","spanId":"\#(span)",
                   "filteredAttributes":[{"key":"user.id","value":{"stringValue":"u-1"}}]}]}]}},
              {"name":"latency","unit":"s","histogram":{"aggregationTemporality":2,"dataPoints":[
                {"timeUnixNano":"2000000000","count":"4","sum":9.5,"bucketCounts":["1","2","1"],"explicitBounds":[0.5,1],"exemplars":[
                  {"timeUnixNano":"1100000000","asDouble":0.5,"traceId":"\#(trace)"},
                  {"timeUnixNano":"1200000000","asDouble":0.75,"spanId":"\#(span)"},
                  {"timeUnixNano":"1300000000","asDouble":8,"traceId":"00000000000000000000000000000000",
                   "filteredAttributes":[{"key":"note","value":{"stringValue":"\#(String(repeating: "x", count: 130))"}}]}]}]}}
             ]}]}]}
            """#
        let fromJSON = metrics(try OTLPDecoder.decode(.metrics, body: Array(json.utf8), format: .json))
        func bucket(_ le: String) -> Labels { Labels(["__name__": "latency_seconds_bucket", "job": "api", "le": le]) }
        #expect(fromJSON.exemplars == [
            MetricExemplar(
                series: Labels(["__name__": "requests_total", "job": "api"]),
                labels: Labels(["span_id": span, "trace_id": trace, "user.id": "u-1"]), timestampMs: 1_500, value: 1),
            MetricExemplar(series: bucket("0.5"), labels: Labels(["trace_id": trace]), timestampMs: 1_100, value: 0.5),
            MetricExemplar(series: bucket("1"), labels: Labels(["span_id": span]), timestampMs: 1_200, value: 0.75),
            // Past the last bound: +Inf; an all-zero trace id is no trace; attributes that make the labels too long stay out.
            MetricExemplar(series: bucket("+Inf"), labels: Labels([]), timestampMs: 1_300, value: 8),
        ])

        func exemplar(_ w: inout ProtobufWriter, time: UInt64, double: Double? = nil, int: Int64? = nil, trace: String?, span: String?,
                      attributes: [(String, String)] = []) {
            w.writeFixed64(2, time)
            if let double { w.writeDouble(3, double) }
            if let int { w.writeFixed64(6, UInt64(bitPattern: int)) }
            if let span { w.writeBytes(4, Hex.decode(span)!) }
            if let trace { w.writeBytes(5, Hex.decode(trace)!) }
            for (key, value) in attributes {
                w.writeMessage(7) { kv in
                    kv.writeString(1, key)
                    kv.writeMessage(2) { $0.writeString(1, value) }
                }
            }
        }
        let message = OTLPRequestFixtures.metrics(service: "api") { scopeMetrics in
            scopeMetrics.writeMessage(2) { metric in
                metric.writeString(1, "requests")
                metric.writeMessage(7) { sum in
                    sum.writeVarint(2, 2)
                    sum.writeVarint(3, 1)
                    sum.writeMessage(1) { point in
                        point.writeFixed64(3, 2_000_000_000)
                        point.writeFixed64(6, 7)
                        point.writeMessage(5) { exemplar(&$0, time: 1_500_000_000, int: 1, trace: trace, span: span, attributes: [("user.id", "u-1")]) }
                    }
                }
            }
            scopeMetrics.writeMessage(2) { metric in
                metric.writeString(1, "latency")
                metric.writeString(3, "s")
                metric.writeMessage(9) { histogram in
                    histogram.writeVarint(2, 2)
                    histogram.writeMessage(1) { point in
                        point.writeFixed64(3, 2_000_000_000)
                        point.writeFixed64(4, 4)
                        point.writeDouble(5, 9.5)
                        point.writePackedFixed64(6, [1, 2, 1])
                        point.writePackedDouble(7, [0.5, 1])
                        point.writeMessage(8) { exemplar(&$0, time: 1_100_000_000, double: 0.5, trace: trace, span: nil) }
                        point.writeMessage(8) { exemplar(&$0, time: 1_200_000_000, double: 0.75, trace: nil, span: span) }
                        point.writeMessage(8) {
                            exemplar(&$0, time: 1_300_000_000, double: 8, trace: "00000000000000000000000000000000", span: nil,
                                     attributes: [("note", String(repeating: "x", count: 130))])
                        }
                    }
                }
            }
        }
        let fromProtobuf = metrics(try OTLPDecoder.decode(.metrics, body: message, format: .protobuf))
        #expect(fromProtobuf == fromJSON)
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
