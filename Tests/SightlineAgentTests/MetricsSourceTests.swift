import Foundation
import SightlineTestSupport
import Testing

@testable import SightlineAgent
@testable import SightlineCore

/// StatsD aggregation and host metrics.
struct MetricsSourceTests {
    private func values(_ samples: [MetricSample]) -> [String: Double] {
        Dictionary(samples.map { ($0.labels.description, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    private func ingest(_ aggregator: StatsDAggregator, _ text: String) {
        Array(text.utf8).withUnsafeBytes { aggregator.ingest($0) }
    }

    @Test func countersGaugesTimersSetsAndTags() {
        let aggregator = StatsDAggregator(percentiles: [50, 90])
        ingest(aggregator, "hits:1|c\nhits:2|c|@0.5\nhits:1|c|#env:prod,canary")
        ingest(aggregator, "temp:20|g\ntemp:+5|g\ntemp:-3|g")
        for value in 1...10 { ingest(aggregator, "lat:\(value)|ms") }
        ingest(aggregator, "users:alice|s\nusers:bob|s\nusers:alice|s")
        ingest(aggregator, "_e{5,4}:title|text\nbroken line\nx:abc|c")
        let first = values(aggregator.flush(timestampMs: 1000))
        #expect(first[#"hits"#] == 5)
        #expect(first[#"hits{canary="true", env="prod"}"#] == 1)
        #expect(first[#"temp"#] == 22)
        #expect(first[#"lat{quantile="0.5"}"#] == 5)
        #expect(first[#"lat{quantile="0.9"}"#] == 9)
        #expect(first[#"lat_count"#] == 10)
        #expect(first[#"lat_sum"#] == 55)
        #expect(first[#"users"#] == 2)
        #expect(aggregator.counts.invalid == 2)
        #expect(aggregator.counts.ignored == 1)
        // Counters and gauges carry over; timers and sets restart each interval.
        ingest(aggregator, "hits:1|c")
        let second = values(aggregator.flush(timestampMs: 2000))
        #expect(second[#"hits"#] == 6)
        #expect(second[#"temp"#] == 22)
        #expect(second[#"lat_count"#] == nil)
    }

    @Test func byteParserAgreesWithTheCharacterParser() {
        var random = SplitMix64(seed: 0x57A7)
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        let names = ["hits", "api.requests", "9lives", "a-b.c_d:e", "x", "", "name with space", "UPPER.case"]
        let values = ["1", "2.5", "-3", "+4", "1:2:3", "1::2", "", "abc", "1e3", "inf", "0x10", "alice"]
        let types = ["c", "g", "ms", "h", "d", "s", "", "cc", "m"]
        let extras = ["", "|@0.5", "|@2", "|@x", "|#env:prod,canary", "|#a:1,,b", "|#k:v:w", "|#1bad-tag:x", "|c:abc", "|", "|T123"]
        for _ in 0..<5_000 {
            var line = pick(names) + ":" + pick(values) + "|" + pick(types)
            for _ in 0..<Int(random.next() % 3) { line += pick(extras) }
            if random.next() % 20 == 0 { line = String(line.prefix(Int(random.next() % UInt64(line.count + 1)))) }
            Array(line.utf8).withUnsafeBytes { bytes in
                let fast = StatsDAggregator.parse(bytes)
                let slow = StatsDAggregator.parseText(bytes)
                #expect((fast == nil) == (slow == nil), "\(line)")
                guard let fast, let slow else { return }
                #expect(fast.0 == slow.0 && fast.1 == slow.1 && fast.3 == slow.3 && fast.4 == slow.4, "\(line)")
                #expect(fast.2.map(\.bitPattern) == slow.2.map(\.bitPattern), "\(line)")
            }
        }
    }

    @Test func hostMetricsFromFixtures() throws {
        let temporary = try TemporaryDirectory(prefix: "agent-proc")
        defer { temporary.remove() }
        try FileManager.default.createDirectory(atPath: temporary.path + "/net", withIntermediateDirectories: true)
        let files = [
            "stat": "cpu  100 0 50 1000 0 0 0 0 0 0\ncpu0 100 0 50 1000 5 0 0 0 0 0\nintr 1\n",
            "meminfo": "MemTotal:       1000 kB\nMemAvailable:    500 kB\nHugePages_Total:       0\n",
            "loadavg": "0.50 0.25 0.10 1/100 42\n",
            "diskstats": "   8       0 sda 10 0 200 30 20 0 400 50 0 60 80 0 0 0 0\n",
            "net/dev": "Inter-|   Receive\n face |bytes\n  eth0: 1000 10 1 2 0 0 0 0 2000 20 3 4 0 0 0 0\n",
            "mounts": "",
        ]
        for (name, text) in files { try text.write(toFile: temporary.path + "/" + name, atomically: true, encoding: .utf8) }
        let sys = temporary.path + "/sys"
        try FileManager.default.createDirectory(atPath: sys + "/class/net/eth0", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: sys + "/devices/system/cpu/cpu0/cpufreq", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: sys + "/devices/system/cpu/cpufreq", withIntermediateDirectories: true)
        let sysFiles = [
            "class/net/eth0/operstate": "up\n", "class/net/eth0/mtu": "1500\n", "class/net/eth0/speed": "1000\n",
            "devices/system/cpu/cpu0/cpufreq/scaling_cur_freq": "2400000\n",
        ]
        for (name, text) in sysFiles { try text.write(toFile: sys + "/" + name, atomically: true, encoding: .utf8) }
        let samples = values(HostMetrics(procRoot: temporary.path, sysRoot: sys, hostName: "h").collect(timestampMs: 0))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        #expect(samples[#"node_cpu_seconds_total{cpu="0", instance="h", mode="user"}"#] == 100 / ticks)
        #expect(samples[#"node_cpu_seconds_total{cpu="0", instance="h", mode="iowait"}"#] == 5 / ticks)
        #expect(samples[#"node_memory_MemTotal_bytes{instance="h"}"#] == 1_024_000)
        #expect(samples[#"node_memory_HugePages_Total{instance="h"}"#] == 0)
        #expect(samples[#"node_load1{instance="h"}"#] == 0.5)
        #expect(samples[#"node_disk_read_bytes_total{device="sda", instance="h"}"#] == 102_400.0)
        #expect(samples[#"node_disk_io_time_seconds_total{device="sda", instance="h"}"#] == 0.06)
        #expect(samples[#"node_network_receive_bytes_total{device="eth0", instance="h"}"#] == 1000)
        #expect(samples[#"node_network_transmit_errs_total{device="eth0", instance="h"}"#] == 3)
        #expect(samples[#"node_network_up{device="eth0", instance="h"}"#] == 1)
        #expect(samples[#"node_network_mtu_bytes{device="eth0", instance="h"}"#] == 1500)
        #expect(samples[#"node_network_speed_bytes{device="eth0", instance="h"}"#] == 125_000_000)
        #expect(samples[#"node_cpu_scaling_frequency_hertz{cpu="0", instance="h"}"#] == 2.4e9)
    }
}
