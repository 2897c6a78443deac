import SightlineCore
import Testing

@testable import SightlineIngest

/// Whole pages as real exporters write them: node_exporter's text format and the Python client's text and
/// OpenMetrics output (generated with prometheus-client 0.26.0 and embedded verbatim).
struct PrometheusTextRealWorldTests {
    static let now: Int64 = 1_700_000_000_000

    static let pythonText = #"""
        # HELP http_requests_total Total HTTP requests.\nSecond "line" \\ backslash
        # TYPE http_requests_total counter
        http_requests_total{method="GET",path="/a\"b\\c\nd"} 3.0
        http_requests_total{method="POST",path="/"} 1.5
        # HELP http_requests_created Total HTTP requests.\nSecond "line" \\ backslash
        # TYPE http_requests_created gauge
        http_requests_created{method="GET",path="/a\"b\\c\nd"} 1.7956802195480509e+09
        http_requests_created{method="POST",path="/"} 1.7956802195480666e+09
        # HELP queue_depth Depth of the queue.
        # TYPE queue_depth gauge
        queue_depth -12.25
        # HELP request_latency_seconds Latency.
        # TYPE request_latency_seconds histogram
        request_latency_seconds_bucket{le="0.005"} 1.0
        request_latency_seconds_bucket{le="0.1"} 2.0
        request_latency_seconds_bucket{le="1.0"} 3.0
        request_latency_seconds_bucket{le="+Inf"} 4.0
        request_latency_seconds_count 4.0
        request_latency_seconds_sum 2.551
        # HELP request_latency_seconds_created Latency.
        # TYPE request_latency_seconds_created gauge
        request_latency_seconds_created 1.7956802195481029e+09
        # HELP job_duration_seconds Jobs.
        # TYPE job_duration_seconds summary
        job_duration_seconds_count 1.0
        job_duration_seconds_sum 1.25
        # HELP job_duration_seconds_created Jobs.
        # TYPE job_duration_seconds_created gauge
        job_duration_seconds_created 1.7956802195481503e+09
        # HELP build_info Build info.
        # TYPE build_info gauge
        build_info{revision="abc",version="1.2.3"} 1.0
        # HELP task_state State.
        # TYPE task_state gauge
        task_state{task_state="starting"} 0.0
        task_state{task_state="running"} 1.0
        task_state{task_state="stopped"} 0.0
        """#

    static let pythonOpenMetrics = #"""
        # HELP http_requests Total HTTP requests.\nSecond \"line\" \\ backslash
        # TYPE http_requests counter
        http_requests_total{method="GET",path="/a\"b\\c\nd"} 3.0
        http_requests_created{method="GET",path="/a\"b\\c\nd"} 1.7956802195480509e+09
        http_requests_total{method="POST",path="/"} 1.5
        http_requests_created{method="POST",path="/"} 1.7956802195480666e+09
        # HELP queue_depth Depth of the queue.
        # TYPE queue_depth gauge
        queue_depth -12.25
        # HELP request_latency_seconds Latency.
        # TYPE request_latency_seconds histogram
        request_latency_seconds_bucket{le="0.005"} 1.0
        request_latency_seconds_bucket{le="0.1"} 2.0
        request_latency_seconds_bucket{le="1.0"} 3.0
        request_latency_seconds_bucket{le="+Inf"} 4.0
        request_latency_seconds_count 4.0
        request_latency_seconds_sum 2.551
        request_latency_seconds_created 1.7956802195481029e+09
        # HELP job_duration_seconds Jobs.
        # TYPE job_duration_seconds summary
        job_duration_seconds_count 1.0
        job_duration_seconds_sum 1.25
        job_duration_seconds_created 1.7956802195481503e+09
        # HELP build Build info.
        # TYPE build info
        build_info{revision="abc",version="1.2.3"} 1.0
        # HELP task_state State.
        # TYPE task_state stateset
        task_state{task_state="starting"} 0.0
        task_state{task_state="running"} 1.0
        task_state{task_state="stopped"} 0.0
        # EOF
        """#

    /// An excerpt of node_exporter 1.8 output on Linux (values from a real host, fewer CPUs and devices).
    static let nodeExporter = #"""
        # HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
        # TYPE go_gc_duration_seconds summary
        go_gc_duration_seconds{quantile="0"} 2.4785e-05
        go_gc_duration_seconds{quantile="0.25"} 3.5916e-05
        go_gc_duration_seconds{quantile="0.5"} 4.4181e-05
        go_gc_duration_seconds{quantile="0.75"} 6.0334e-05
        go_gc_duration_seconds{quantile="1"} 0.000349718
        go_gc_duration_seconds_sum 0.155239812
        go_gc_duration_seconds_count 2794
        # HELP go_goroutines Number of goroutines that currently exist.
        # TYPE go_goroutines gauge
        go_goroutines 8
        # HELP go_info Information about the Go environment.
        # TYPE go_info gauge
        go_info{version="go1.22.5"} 1
        # HELP node_boot_time_seconds Node boot time, in unixtime.
        # TYPE node_boot_time_seconds gauge
        node_boot_time_seconds 1.716286546e+09
        # HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
        # TYPE node_cpu_seconds_total counter
        node_cpu_seconds_total{cpu="0",mode="idle"} 1.07468318e+06
        node_cpu_seconds_total{cpu="0",mode="iowait"} 512.37
        node_cpu_seconds_total{cpu="0",mode="irq"} 0
        node_cpu_seconds_total{cpu="0",mode="nice"} 11.84
        node_cpu_seconds_total{cpu="0",mode="softirq"} 278.91
        node_cpu_seconds_total{cpu="0",mode="steal"} 0
        node_cpu_seconds_total{cpu="0",mode="system"} 3651.97
        node_cpu_seconds_total{cpu="0",mode="user"} 9312.5
        node_cpu_seconds_total{cpu="1",mode="idle"} 1.07534562e+06
        node_cpu_seconds_total{cpu="1",mode="iowait"} 498.02
        node_cpu_seconds_total{cpu="1",mode="irq"} 0
        node_cpu_seconds_total{cpu="1",mode="nice"} 12.13
        node_cpu_seconds_total{cpu="1",mode="softirq"} 193.47
        node_cpu_seconds_total{cpu="1",mode="steal"} 0
        node_cpu_seconds_total{cpu="1",mode="system"} 3598.42
        node_cpu_seconds_total{cpu="1",mode="user"} 9275.81
        # HELP node_disk_io_time_seconds_total Total seconds spent doing I/Os.
        # TYPE node_disk_io_time_seconds_total counter
        node_disk_io_time_seconds_total{device="nvme0n1"} 2139.876
        node_disk_io_time_seconds_total{device="sda"} 17.204
        # HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
        # TYPE node_filesystem_avail_bytes gauge
        node_filesystem_avail_bytes{device="/dev/nvme0n1p2",fstype="ext4",mountpoint="/"} 3.4254217216e+11
        node_filesystem_avail_bytes{device="/dev/nvme0n1p1",fstype="vfat",mountpoint="/boot/efi"} 5.30026496e+08
        node_filesystem_avail_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 3.325546496e+09
        # HELP node_load1 1m load average.
        # TYPE node_load1 gauge
        node_load1 0.52
        # HELP node_memory_MemAvailable_bytes Memory information field MemAvailable_bytes.
        # TYPE node_memory_MemAvailable_bytes gauge
        node_memory_MemAvailable_bytes 2.4681832448e+10
        # HELP node_network_receive_bytes_total Network device statistic receive_bytes.
        # TYPE node_network_receive_bytes_total counter
        node_network_receive_bytes_total{device="eth0"} 8.4213755849e+10
        node_network_receive_bytes_total{device="lo"} 1.0348213e+07
        # HELP node_scrape_collector_duration_seconds node_exporter: Duration of a collector scrape.
        # TYPE node_scrape_collector_duration_seconds gauge
        node_scrape_collector_duration_seconds{collector="cpu"} 0.000627935
        node_scrape_collector_duration_seconds{collector="diskstats"} 0.000356248
        # HELP node_scrape_collector_success node_exporter: Whether a collector succeeded.
        # TYPE node_scrape_collector_success gauge
        node_scrape_collector_success{collector="cpu"} 1
        node_scrape_collector_success{collector="diskstats"} 1
        # HELP node_uname_info Labeled system information as provided by the uname system call.
        # TYPE node_uname_info gauge
        node_uname_info{domainname="(none)",machine="x86_64",nodename="host-01",release="6.8.0-35-generic",sysname="Linux",version="#35-Ubuntu SMP PREEMPT_DYNAMIC Mon May 20 15:51:52 UTC 2024"} 1
        # HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
        # TYPE process_cpu_seconds_total counter
        process_cpu_seconds_total 1234.56
        # HELP promhttp_metric_handler_requests_total Total number of scrapes by HTTP status code.
        # TYPE promhttp_metric_handler_requests_total counter
        promhttp_metric_handler_requests_total{code="200"} 41234
        promhttp_metric_handler_requests_total{code="500"} 0
        promhttp_metric_handler_requests_total{code="503"} 0
        """#

    private func parse(_ text: String, openMetrics: Bool? = nil) throws -> ParsedExposition {
        try PrometheusTextParser.parse(text, defaultTimestampMs: Self.now, openMetrics: openMetrics)
    }

    private func value(_ parsed: ParsedExposition, _ series: String) -> Double? {
        parsed.samples.first { $0.labels.description == series }?.value
    }

    @Test func nodeExporterPage() throws {
        let parsed = try parse(Self.nodeExporter)
        #expect(parsed.samples.count == 44)
        #expect(parsed.metadata.count == 15)
        #expect(parsed.samples.allSatisfy { $0.timestampMs == Self.now })
        #expect(value(parsed, #"go_gc_duration_seconds{quantile="0"}"#) == 2.4785e-05)
        #expect(value(parsed, #"node_cpu_seconds_total{cpu="1", mode="user"}"#) == 9275.81)
        #expect(value(parsed, #"node_filesystem_avail_bytes{device="/dev/nvme0n1p2", fstype="ext4", mountpoint="/"}"#) == 3.4254217216e+11)
        let uname = try #require(parsed.samples.first { $0.labels.metricName == "node_uname_info" })
        #expect(uname.labels["version"] == "#35-Ubuntu SMP PREEMPT_DYNAMIC Mon May 20 15:51:52 UTC 2024")
        #expect(uname.labels["domainname"] == "(none)")
        #expect(
            parsed.metadata.first { $0.metricFamily == "node_cpu_seconds_total" }
                == MetricMetadata(metricFamily: "node_cpu_seconds_total", kind: .counter, help: "Seconds the CPUs spent in each mode."))
        #expect(parsed.metadata.first { $0.metricFamily == "go_gc_duration_seconds" }?.kind == .summary)
    }

    @Test func pythonClientTextFormat() throws {
        let parsed = try parse(Self.pythonText)
        #expect(!parsed.isOpenMetrics)
        #expect(parsed.samples.count == 19)
        #expect(value(parsed, #"http_requests_total{method="GET", path="/a\"b\\c\nd"}"#) == 3)
        let escaped = try #require(parsed.samples.first { $0.labels["method"] == "GET" })
        #expect(escaped.labels["path"] == "/a\"b\\c\nd")
        #expect(value(parsed, "http_requests_created{method=\"POST\", path=\"/\"}") == 1.7956802195480666e+09)
        #expect(value(parsed, #"request_latency_seconds_bucket{le="+Inf"}"#) == 4)
        #expect(value(parsed, "request_latency_seconds_sum") == 2.551)
        #expect(value(parsed, #"task_state{task_state="running"}"#) == 1)
        #expect(
            parsed.metadata.first
                == MetricMetadata(
                    metricFamily: "http_requests_total", kind: .counter, help: "Total HTTP requests.\nSecond \"line\" \\ backslash"))
        #expect(parsed.metadata.first { $0.metricFamily == "http_requests_created" }?.kind == .gauge)
    }

    @Test func pythonClientOpenMetrics() throws {
        let parsed = try parse(Self.pythonOpenMetrics)
        #expect(parsed.isOpenMetrics)
        // Same samples as the text format: _created series included, in a different order.
        let text = try parse(Self.pythonText)
        #expect(Set(parsed.samples) == Set(text.samples))
        #expect(parsed.metadata.first { $0.metricFamily == "build" }?.kind == .info)
        #expect(parsed.metadata.first { $0.metricFamily == "task_state" }?.kind == .stateSet)
        #expect(parsed.metadata.first { $0.metricFamily == "http_requests" }?.help == "Total HTTP requests.\nSecond \"line\" \\ backslash")
        // Told it is OpenMetrics by the content type, it parses the same.
        #expect(try parse(Self.pythonOpenMetrics, openMetrics: true).samples == parsed.samples)
    }
}
