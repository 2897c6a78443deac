import Foundation
import Glibc
package import SightlineCore

/// Reads host metrics from /proc (and statvfs) under node-exporter's names, so its dashboards and rules work:
///
/// - `node_cpu_seconds_total{cpu,mode}` from `/proc/stat` (user, nice, system, idle, iowait, irq, softirq, steal);
/// - `node_memory_<Field>_bytes` for every `/proc/meminfo` field in kB (`MemTotal`, `MemAvailable`, …; `(anon)` → `_anon`);
/// - `node_load1`, `node_load5`, `node_load15` from `/proc/loadavg`;
/// - `node_disk_reads_completed_total`, `…_writes_completed_total`, `…_read_bytes_total`, `…_written_bytes_total`,
///   `…_io_time_seconds_total`, `…_read_time_seconds_total`, `…_write_time_seconds_total` `{device}` from `/proc/diskstats`;
/// - `node_network_receive_bytes_total`, `…_packets_total`, `…_errs_total`, `…_drop_total` and the `transmit_` ones
///   `{device}` from `/proc/net/dev`;
/// - `node_filesystem_size_bytes`, `…_free_bytes`, `…_avail_bytes`, `…_files`, `…_files_free` `{device,fstype,mountpoint}`
///   for the real file systems of `/proc/mounts`;
/// - from `/sys`: `node_network_up`, `node_network_mtu_bytes`, `node_network_speed_bytes` `{device}` of each network
///   device (`/sys/class/net/<device>/operstate`, `mtu`, `speed`; no speed for devices without one), and
///   `node_cpu_scaling_frequency_hertz{cpu}` where the kernel has cpufreq (`…/cpu<N>/cpufreq/scaling_cur_freq`).
///
/// Every series also gets `instance` = the host name (node-exporter's scrape target label).
package struct HostMetrics: Sendable {
    /// Where `/proc` is (tests point it at fixtures).
    package var procRoot: String
    /// Where `/sys` is.
    package var sysRoot: String
    package var hostName: String

    package init(procRoot: String = "/proc", sysRoot: String = "/sys", hostName: String) {
        self.procRoot = procRoot
        self.sysRoot = sysRoot
        self.hostName = hostName
    }

    /// Kernel clock ticks per second, the unit of /proc/stat.
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)) > 0 ? sysconf(Int32(_SC_CLK_TCK)) : 100)

    /// File systems that are not storage.
    private static let virtualFileSystems: Set<String> = [
        "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "pstore", "debugfs", "tracefs", "mqueue",
        "hugetlbfs", "configfs", "fusectl", "bpf", "autofs", "binfmt_misc", "nsfs", "rpc_pipefs", "selinuxfs", "ramfs",
    ]

    /// Collects every metric once, stamped `timestampMs`.
    package func collect(timestampMs: Int64) -> [MetricSample] {
        var samples: [MetricSample] = []
        func add(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
            var all = [Label("__name__", name), Label("instance", hostName)]
            for (key, value) in labels { all.append(Label(key, value)) }
            samples.append(MetricSample(labels: Labels(all), timestampMs: timestampMs, value: value))
        }
        let modes = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
        for line in lines("stat") where line.hasPrefix("cpu") && !line.hasPrefix("cpu ") {
            let fields = line.split(separator: " ")
            let cpu = String(fields[0].dropFirst(3))
            for (index, mode) in modes.enumerated() where index + 1 < fields.count {
                if let ticks = Double(fields[index + 1]) { add("node_cpu_seconds_total", [("cpu", cpu), ("mode", mode)], ticks / Self.ticksPerSecond) }
            }
        }
        for line in lines("meminfo") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let value = Double(fields[1]) else { continue }
            var name = String(fields[0].dropLast())
            name = name.replacingOccurrences(of: "(", with: "_").replacingOccurrences(of: ")", with: "")
            // Fields in kB become bytes; counts (HugePages_Total) keep their name, as node-exporter does.
            if fields.count >= 3 {
                add("node_memory_\(name)_bytes", [], value * 1024)
            } else {
                add("node_memory_\(name)", [], value)
            }
        }
        if let load = lines("loadavg").first?.split(separator: " "), load.count >= 3 {
            for (index, name) in ["node_load1", "node_load5", "node_load15"].enumerated() {
                if let value = Double(load[index]) { add(name, [], value) }
            }
        }
        for line in lines("diskstats") {
            let fields = line.split(separator: " ")
            guard fields.count >= 14 else { continue }
            let device = String(fields[2])
            if device.hasPrefix("loop") || device.hasPrefix("ram") { continue }
            let number = { (index: Int) -> Double in Double(fields[index]) ?? 0 }
            let labels = [("device", device)]
            add("node_disk_reads_completed_total", labels, number(3))
            add("node_disk_read_bytes_total", labels, number(5) * 512)
            add("node_disk_read_time_seconds_total", labels, number(6) / 1000)
            add("node_disk_writes_completed_total", labels, number(7))
            add("node_disk_written_bytes_total", labels, number(9) * 512)
            add("node_disk_write_time_seconds_total", labels, number(10) / 1000)
            add("node_disk_io_time_seconds_total", labels, number(12) / 1000)
        }
        let receive = ["bytes", "packets", "errs", "drop"]
        for line in lines("net/dev") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let device = line[..<colon].trimmingCharacters(in: .whitespaces)
            let fields = line[line.index(after: colon)...].split(separator: " ").compactMap { Double($0) }
            guard fields.count >= 16 else { continue }
            for (index, name) in receive.enumerated() {
                add("node_network_receive_\(name)_total", [("device", device)], fields[index])
                add("node_network_transmit_\(name)_total", [("device", device)], fields[8 + index])
            }
            let netclass = sysRoot + "/class/net/" + device + "/"
            if let state = Self.firstLine(netclass + "operstate") { add("node_network_up", [("device", device)], state == "up" ? 1 : 0) }
            if let mtu = Self.firstLine(netclass + "mtu").flatMap(Double.init) { add("node_network_mtu_bytes", [("device", device)], mtu) }
            // Virtual devices answer -1 or fail to read; node-exporter leaves them out too.
            if let mbps = Self.firstLine(netclass + "speed").flatMap(Double.init), mbps >= 0 {
                add("node_network_speed_bytes", [("device", device)], mbps * 125_000)
            }
        }
        let cpus = sysRoot + "/devices/system/cpu"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: cpus)) ?? [] where name.hasPrefix("cpu") {
            let index = name.dropFirst(3)
            guard !index.isEmpty, index.allSatisfy(\.isNumber),
                let khz = Self.firstLine(cpus + "/" + name + "/cpufreq/scaling_cur_freq").flatMap(Double.init)
            else { continue }
            add("node_cpu_scaling_frequency_hertz", [("cpu", String(index))], khz * 1000)
        }
        var seen = Set<String>()
        for line in lines("mounts") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3 else { continue }
            let device = String(fields[0])
            let mountpoint = String(fields[1]).replacingOccurrences(of: "\\040", with: " ")
            let fstype = String(fields[2])
            guard !Self.virtualFileSystems.contains(fstype), seen.insert(mountpoint).inserted else { continue }
            var info = statvfs()
            guard statvfs(mountpoint, &info) == 0, info.f_blocks > 0 else { continue }
            let block = Double(info.f_frsize)
            let labels = [("device", device), ("fstype", fstype), ("mountpoint", mountpoint)]
            add("node_filesystem_size_bytes", labels, Double(info.f_blocks) * block)
            add("node_filesystem_free_bytes", labels, Double(info.f_bfree) * block)
            add("node_filesystem_avail_bytes", labels, Double(info.f_bavail) * block)
            add("node_filesystem_files", labels, Double(info.f_files))
            add("node_filesystem_files_free", labels, Double(info.f_ffree))
        }
        return samples
    }

    /// The first line of a small /sys file, trimmed; nil when it cannot be read.
    private static func firstLine(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The lines of a /proc file (empty when it cannot be read), runs of spaces collapsed.
    private func lines(_ name: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: procRoot + "/" + name) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map {
            $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        }
    }
}
