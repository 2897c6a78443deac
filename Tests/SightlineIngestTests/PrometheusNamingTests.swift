import Testing

@testable import SightlineIngest

struct PrometheusNamingTests {
    @Test(arguments: [
        ("http.server.duration", "s", PrometheusNaming.MetricType.histogram, "http_server_duration_seconds"),
        ("system.memory.usage", "By", .gauge, "system_memory_usage_bytes"),
        ("requests", "1", .monotonicCounter, "requests_total"),
        ("requests_total", "", .monotonicCounter, "requests_total"),
        ("cpu.utilization", "1", .gauge, "cpu_utilization_ratio"),
        ("cpu.ratio.thing", "1", .gauge, "cpu_thing_ratio"),
        ("speed", "m/s", .gauge, "speed_meters_per_second"),
        ("throughput", "By/s", .gauge, "throughput_bytes_per_second"),
        ("ops", "{operation}", .monotonicCounter, "ops_total"),
        ("ops", "{op}/s", .gauge, "ops_per_second"),
        ("cache", "KiBy", .gauge, "cache_kibibytes"),
        ("duration_seconds", "s", .gauge, "duration_seconds"),
        ("a..b__c", "", .gauge, "a_b_c"),
        ("2xx.count", "", .gauge, "_2xx_count"),
        ("with:colon", "", .gauge, "with:colon"),
        ("queue", "1", .nonMonotonicCounter, "queue"),
        ("...", "", .gauge, ""),
    ])
    func metricNames(name: String, unit: String, type: PrometheusNaming.MetricType, expected: String) {
        #expect(PrometheusNaming.metricName(name, unit: unit, type: type) == expected)
    }

    /// Prometheus 3's other translation strategies.
    @Test(arguments: [
        ("http.server.request.duration", "s", PrometheusNaming.MetricType.histogram, OTLPDecoder.OTLPTranslation.Strategy.noUTF8EscapingWithSuffixes,
         "http.server.request.duration_seconds"),
        ("system.network.io", "By", .monotonicCounter, .noUTF8EscapingWithSuffixes, "system.network.io_bytes_total"),
        ("requests_total", "", .monotonicCounter, .noUTF8EscapingWithSuffixes, "requests_total"),
        ("cpu.utilization", "1", .gauge, .noUTF8EscapingWithSuffixes, "cpu.utilization_ratio"),
        ("speed", "m/s", .gauge, .noUTF8EscapingWithSuffixes, "speed_meters_per_second"),
        ("rate_per_second", "By/s", .gauge, .noUTF8EscapingWithSuffixes, "rate_bytes_per_second"),
        ("wait_seconds", "s", .gauge, .noUTF8EscapingWithSuffixes, "wait_seconds"),
        ("ops", "{operation}", .monotonicCounter, .noUTF8EscapingWithSuffixes, "ops_total"),
        ("queue.size", "{item}", .nonMonotonicCounter, .noUTF8EscapingWithSuffixes, "queue.size"),
        ("http.server.request.duration", "s", .histogram, .underscoreEscapingWithoutSuffixes, "http_server_request_duration"),
        ("a__b.c", "", .monotonicCounter, .underscoreEscapingWithoutSuffixes, "a__b_c"),
        ("2xx.count", "", .gauge, .underscoreEscapingWithoutSuffixes, "_2xx_count"),
        ("...", "", .gauge, .underscoreEscapingWithoutSuffixes, ""),
        ("http.server.request.duration", "s", .histogram, .noTranslation, "http.server.request.duration"),
        ("system.network.io", "By", .monotonicCounter, .noTranslation, "system.network.io"),
    ])
    func metricNamesOfOtherStrategies(
        name: String, unit: String, type: PrometheusNaming.MetricType, strategy: OTLPDecoder.OTLPTranslation.Strategy, expected: String
    ) {
        #expect(PrometheusNaming.metricName(name, unit: unit, type: type, strategy: strategy) == expected)
    }

    @Test(arguments: [
        ("http.method", "http_method"), ("a..b", "a_b"), ("1abc", "key_1abc"), ("__name__", "__name__"), ("_x", "_x"),
        ("k8s.pod/name", "k8s_pod_name"), ("", ""), ("...", ""), ("with:colon", "with_colon"),
    ])
    func labelNames(key: String, expected: String) {
        #expect(PrometheusNaming.labelName(key) == expected)
    }

    @Test(arguments: [
        (0.5, "0.5"), (1.0, "1"), (0.005, "0.005"), (1e-05, "0.00001"), (2.5e21, "2500000000000000000000"), (-3.25, "-3.25"),
        (100.0, "100"), (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"), (0.0, "0"), (123456.789, "123456.789"),
    ])
    func floatsFormatLikeGo(value: Double, expected: String) {
        #expect(PrometheusNaming.formatFloat(value) == expected)
    }

    @Test func unitNames() {
        #expect(PrometheusNaming.unitName("s") == "seconds")
        #expect(PrometheusNaming.unitName("By/s") == "bytes_per_second")
        #expect(PrometheusNaming.unitName("1") == "")
        #expect(PrometheusNaming.unitName("{packet}/s") == "per_second")
    }
}
