import SightlineCore
import Testing

@testable import SightlineIngest

struct PrometheusTextEncoderTests {
    private func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: Double, _ t: Int64 = 1000) -> MetricSample {
        MetricSample(labels: Labels([Label("__name__", name)] + labels.map { Label($0.key, $0.value) }), timestampMs: t, value: value)
    }

    private func sample(_ name: String, _ value: Double, _ t: Int64 = 1000) -> MetricSample {
        sample(name, [:], value, t)
    }

    @Test func writesFamiliesWithMetadata() {
        let samples = [
            sample("req_total", ["code": "200"], 5),
            sample("lat_bucket", ["le": "0.1"], 1),
            sample("req_total", ["code": "500"], 1),
            sample("lat_bucket", ["le": "+Inf"], 2),
            sample("lat_sum", 0.25),
            sample("lat_count", 2),
            sample("free", 1.5, 7),
        ]
        let metadata = [
            MetricMetadata(metricFamily: "req_total", kind: .counter, help: "Requests.\nAll of them \\ really."),
            MetricMetadata(metricFamily: "lat", kind: .histogram, help: "Latency."),
            MetricMetadata(metricFamily: "unused", kind: .gauge),
        ]
        let text = PrometheusTextEncoder.encode(samples, metadata: metadata)
        #expect(
            text == """
                # HELP req_total Requests.\\nAll of them \\\\ really.
                # TYPE req_total counter
                req_total{code="200"} 5 1000
                req_total{code="500"} 1 1000
                # HELP lat Latency.
                # TYPE lat histogram
                lat_bucket{le="0.1"} 1 1000
                lat_bucket{le="+Inf"} 2 1000
                lat_sum 0.25 1000
                lat_count 2 1000
                free 1.5 7
                # TYPE unused gauge

                """)
        #expect(PrometheusTextEncoder.encode([sample("a", 1)], metadata: [], includeTimestamps: false) == "a 1\n")
    }

    @Test func roundTripsThroughTheParser() throws {
        let samples = [
            sample("a", 0),
            sample("b", ["x": "quote \" backslash \\ newline \n tab \t"], -1.5e-300),
            sample("c", ["zone": "Zürich"], .infinity),
            sample("d", -.infinity),
            sample("e", 0.1),
            sample("f", 1e300),
            sample("g", 123_456_789_012_345_680),
            sample("h", -0.0),
            sample("i", .greatestFiniteMagnitude),
            sample("j", .leastNonzeroMagnitude),
            sample("my.dotted.name", ["my.label": "v", "job": "j"], 3),
            sample("k", 42, -12345),
            sample("l:colon", 2, Int64.max),
        ]
        let metadata = [
            MetricMetadata(metricFamily: "a", kind: .counter, help: "A.\nB \\ C"),
            MetricMetadata(metricFamily: "my.dotted.name", kind: .gauge, help: "dotted"),
        ]
        let text = PrometheusTextEncoder.encode(samples, metadata: metadata)
        let parsed = try PrometheusTextParser.parse(text, defaultTimestampMs: 0)
        #expect(parsed.samples == samples)
        #expect(parsed.metadata == metadata)
        #expect(parsed.samples[7].value.sign == .minus)
    }

    @Test func nanAndStaleMarkersBecomeNaN() throws {
        let text = PrometheusTextEncoder.encode([sample("a", .nan), sample("b", StaleNaN.value)], metadata: [])
        #expect(text == "a NaN 1000\nb NaN 1000\n")
        let parsed = try PrometheusTextParser.parse(text, defaultTimestampMs: 0)
        #expect(parsed.samples.allSatisfy { $0.value.isNaN })
    }

    @Test func roundTripsTheRealWorldPages() throws {
        for page in [PrometheusTextRealWorldTests.nodeExporter, PrometheusTextRealWorldTests.pythonText] {
            let first = try PrometheusTextParser.parse(page, defaultTimestampMs: 5)
            let text = PrometheusTextEncoder.encode(first.samples, metadata: first.metadata)
            let second = try PrometheusTextParser.parse(text, defaultTimestampMs: 9)
            #expect(Set(second.samples) == Set(first.samples))
            #expect(Set(second.metadata.map(\.metricFamily)) == Set(first.metadata.map(\.metricFamily)))
        }
    }
}
