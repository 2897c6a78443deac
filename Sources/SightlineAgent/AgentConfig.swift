import Foundation
import Yams
import SightlineCore
import SightlineScrape

/// How the agent compresses log and span batches (`compression:` in its config).
package enum BatchCompression: String, Sendable {
    /// `Content-Encoding: gzip`, what every OTLP/HTTP receiver accepts (for a proxy or receiver that needs it).
    case gzip
    /// `Content-Encoding: snappy` (the raw block format, as remote write and Loki use it), the default: on log lines
    /// about the agent's gzip ratio (0.44 against 0.41 of the bytes read) for two thirds of the CPU on both ends.
    case snappy
    /// Sent as encoded.
    case none
}

/// The settings of `sightline agent`, read from its YAML file (see docs/agent.md for a commented example).
package struct AgentConfig: Sendable {
    /// The server's host and port (from `server: http://host:port`).
    package var serverHost = "127.0.0.1"
    package var serverPort = 7600
    /// A bearer token for the server, if it requires one.
    package var token: String?
    /// Publish batches to this NATS JetStream stream instead of POSTing them to the server (`forward:`; nil: HTTP).
    package var forward: NATSForwardConfig?
    /// Where the buffer and the read positions live.
    package var dataDirectory = "./sightline-agent-data"
    /// host:port of the agent's own `/metrics` (nil: not served).
    package var metricsAddress: (host: String, port: Int)?
    /// Bound of the on-disk buffer.
    package var bufferMaxBytes: Int64 = 256 << 20
    /// What file sources do when the buffer is full (UDP sources always drop the oldest).
    package var whenFull: DiskBuffer.WhenFull = .block
    /// The most bytes of lines read into one batch.
    package var batchMaxBytes = 1 << 20
    /// Batches sent to the server and not yet answered (`max_in_flight`): while the server stores one, the next is
    /// on its way. Acknowledged in buffer order all the same. Publishing to NATS (`forward`) sends one at a time.
    package var maxInFlight = 2
    /// How log and span batches are compressed on their way to the server (`compression:`).
    package var compression: BatchCompression = .snappy
    /// How often files are checked for new data, in seconds.
    package var pollInterval = 0.25
    /// The host name added to every record and series.
    package var hostName = ProcessInfo.processInfo.hostName
    package var files: [FileSourceConfig] = []
    package var statsd: StatsDConfig?
    /// Seconds between host metric collections (nil: off).
    package var hostMetricsInterval: Double?
    /// Prometheus scrape jobs (`sources.scrape`).
    package var scrapeJobs: [AgentScrapeJob] = []
    /// How often target files are checked for changes, in seconds.
    package var scrapeRefreshInterval = 5.0
    /// host:port of the OTLP/HTTP receiver for local applications (nil: off).
    package var otlpHTTPAddress: (host: String, port: Int)?
    /// host:port of the OTLP/gRPC receiver for local applications (nil: off).
    package var otlpGRPCAddress: (host: String, port: Int)?
    /// Where host metrics are read from (tests point this at fixtures).
    package var procRoot = "/proc"
    /// Where `/sys` is read from.
    package var sysRoot = "/sys"

    package init() {}

    /// Reads `path`.
    /// - Throws: `configuration` naming the file, the key and (for YAML errors) the line.
    package static func load(path: String) throws -> AgentConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SightlineError(.configuration, "cannot read agent config file \(path)")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    /// Parses YAML `text` (named `file` in errors).
    package static func parse(_ text: String, file: String) throws -> AgentConfig {
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw SightlineError(.configuration, "\(file): invalid YAML: \(error)")
        }
        var config = AgentConfig()
        guard let root else { return config }
        guard let map = root as? [String: Any] else { throw SightlineError(.configuration, "\(file): the top level must be a mapping") }
        let reader = Reader(file: file)
        try reader.known(map, "", ["server", "token", "data_dir", "metrics_address", "buffer", "batch_max_bytes", "max_in_flight", "poll_interval", "host_name", "sources", "compression", "forward"])
        if let compression = try reader.string(map, "compression") {
            guard let value = BatchCompression(rawValue: compression) else {
                throw SightlineError(.configuration, "\(file): compression: expected gzip, snappy or none, got \"\(compression)\"")
            }
            config.compression = value
        }
        if let server = try reader.string(map, "server") {
            guard let url = URL(string: server), url.scheme == "http", let host = url.host else {
                throw SightlineError(.configuration, "\(file): server: expected http://host:port, got \"\(server)\"")
            }
            config.serverHost = host
            config.serverPort = url.port ?? 80
        }
        config.token = try reader.string(map, "token")
        if let forward = try reader.map(map, "forward") {
            try reader.known(forward, "forward.", ["nats_url", "stream", "subject_prefix", "max_payload"])
            guard let url = try reader.string(forward, "forward.nats_url") else {
                throw SightlineError(.configuration, "\(file): forward.nats_url: required (nats://host:port)")
            }
            var settings = NATSForwardConfig(url: url)
            if let stream = try reader.string(forward, "forward.stream") { settings.stream = stream }
            if let prefix = try reader.string(forward, "forward.subject_prefix") { settings.subjectPrefix = prefix }
            if let maxPayload = try reader.int(forward, "forward.max_payload") { settings.maxPayload = maxPayload }
            try settings.validate(file: file)
            config.forward = settings
        }
        if let dir = try reader.string(map, "data_dir") { config.dataDirectory = dir }
        if let address = try reader.string(map, "metrics_address") { config.metricsAddress = try reader.hostPort(address, "metrics_address") }
        if let buffer = try reader.map(map, "buffer") {
            try reader.known(buffer, "buffer.", ["max_bytes", "when_full"])
            if let max = try reader.int(buffer, "buffer.max_bytes") { config.bufferMaxBytes = Int64(max) }
            if let mode = try reader.string(buffer, "buffer.when_full") {
                guard let policy = DiskBuffer.WhenFull(rawValue: mode) else {
                    throw SightlineError(.configuration, "\(file): buffer.when_full: expected block or drop_oldest, got \"\(mode)\"")
                }
                config.whenFull = policy
            }
        }
        if let inFlight = try reader.int(map, "max_in_flight") {
            guard (1...16).contains(inFlight) else {
                throw SightlineError(.configuration, "\(file): max_in_flight: expected 1 to 16, got \(inFlight)")
            }
            config.maxInFlight = inFlight
        }
        if let max = try reader.int(map, "batch_max_bytes") {
            config.batchMaxBytes = max
        } else if let forward = config.forward {
            // A NATS message holds one batch: by default keep batches well inside the server's max_payload.
            config.batchMaxBytes = min(config.batchMaxBytes, (forward.maxPayload - NATSForwardConfig.headerAllowance) / 2)
        }
        if let forward = config.forward, config.batchMaxBytes > forward.maxPayload - NATSForwardConfig.headerAllowance {
            throw SightlineError(
                .configuration,
                "\(file): batch_max_bytes \(config.batchMaxBytes) does not fit a NATS message: forward.max_payload is \(forward.maxPayload) "
                    + "(the server's max_payload) and \(NATSForwardConfig.headerAllowance) bytes stay for headers; lower batch_max_bytes or "
                    + "raise max_payload on the server and in forward.max_payload")
        }
        if let interval = try reader.duration(map, "poll_interval") { config.pollInterval = interval }
        if let host = try reader.string(map, "host_name") { config.hostName = host }
        if let sources = try reader.map(map, "sources") {
            try reader.known(sources, "sources.", ["files", "statsd", "host_metrics", "otlp", "scrape"])
            if let raw = sources["scrape"] {
                guard let jobs = raw as? [[String: Any]] else { throw SightlineError(.configuration, "\(file): sources.scrape must be a list of jobs") }
                for (index, job) in jobs.enumerated() {
                    let (parsed, refresh) = try reader.scrapeJob(job, "sources.scrape[\(index)].")
                    if let refresh { config.scrapeRefreshInterval = min(config.scrapeRefreshInterval, refresh) }
                    config.scrapeJobs.append(parsed)
                }
            }
            if let otlp = try reader.map(sources, "otlp") {
                try reader.known(otlp, "sources.otlp.", ["http_address", "grpc_address"])
                if let address = try reader.string(otlp, "sources.otlp.http_address") {
                    config.otlpHTTPAddress = try reader.hostPort(address, "sources.otlp.http_address")
                }
                if let address = try reader.string(otlp, "sources.otlp.grpc_address") {
                    config.otlpGRPCAddress = try reader.hostPort(address, "sources.otlp.grpc_address")
                }
            }
            if let files = sources["files"] {
                guard let list = files as? [[String: Any]] else { throw SightlineError(.configuration, "\(file): sources.files must be a list of mappings") }
                config.files = try list.enumerated().map { try reader.fileSource($1, "sources.files[\($0)].") }
            }
            if let statsd = try reader.map(sources, "statsd") {
                let key = "sources.statsd."
                try reader.known(statsd, key, ["udp_address", "unix_path", "flush_interval", "percentiles"])
                var settings = StatsDConfig()
                if let address = try reader.string(statsd, key + "udp_address") { settings.udpAddress = try reader.hostPort(address, key + "udp_address") }
                settings.unixPath = try reader.string(statsd, key + "unix_path")
                if let interval = try reader.duration(statsd, key + "flush_interval") { settings.flushInterval = interval }
                if let raw = statsd["percentiles"] {
                    guard let list = raw as? [Any] else { throw SightlineError(.configuration, "\(file): \(key)percentiles must be a list of numbers") }
                    settings.percentiles = try list.map {
                        guard let value = Double("\($0)"), value > 0, value < 100 else {
                            throw SightlineError(.configuration, "\(file): \(key)percentiles: \"\($0)\" is not a number between 0 and 100")
                        }
                        return value
                    }
                }
                config.statsd = settings
            }
            if let host = try reader.map(sources, "host_metrics") {
                try reader.known(host, "sources.host_metrics.", ["interval", "proc_root", "sys_root"])
                config.hostMetricsInterval = try reader.duration(host, "sources.host_metrics.interval") ?? 15
                if let root = try reader.string(host, "sources.host_metrics.proc_root") { config.procRoot = root }
                if let root = try reader.string(host, "sources.host_metrics.sys_root") { config.sysRoot = root }
            }
        }
        return config
    }

    /// Typed access to YAML values with errors naming file and key.
    private struct Reader {
        let file: String

        func fail(_ key: String, _ message: String) -> SightlineError {
            SightlineError(.configuration, "\(file): \(key): \(message)")
        }

        func known(_ map: [String: Any], _ prefix: String, _ keys: Set<String>) throws {
            for key in map.keys.sorted() where !keys.contains(key) {
                throw fail(prefix + key, "unknown key (expected one of \(keys.sorted().joined(separator: ", ")))")
            }
        }

        private func leaf(_ key: String) -> String { String(key.split(separator: ".").last.map(String.init) ?? key).replacingOccurrences(of: "]", with: "") }

        func value(_ map: [String: Any], _ key: String) -> Any? {
            let name = key.components(separatedBy: ".").last ?? key
            return map[name]
        }

        func string(_ map: [String: Any], _ key: String) throws -> String? {
            guard let raw = value(map, key) else { return nil }
            if raw is [Any] || raw is [String: Any] { throw fail(key, "expected a string") }
            return "\(raw)"
        }

        func int(_ map: [String: Any], _ key: String) throws -> Int? {
            guard let raw = value(map, key) else { return nil }
            guard let number = Int("\(raw)"), number >= 0 else { throw fail(key, "expected a non-negative integer, got \"\(raw)\"") }
            return number
        }

        func map(_ map: [String: Any], _ key: String) throws -> [String: Any]? {
            guard let raw = value(map, key) else { return nil }
            guard let nested = raw as? [String: Any] else { throw fail(key, "expected a mapping") }
            return nested
        }

        func stringMap(_ map: [String: Any], _ key: String) throws -> [String: String] {
            guard let nested = try self.map(map, key) else { return [:] }
            return nested.mapValues { "\($0)" }
        }

        /// Seconds of a duration such as `250ms`, `10s`, `1m`.
        func duration(_ map: [String: Any], _ key: String) throws -> Double? {
            guard let raw = try string(map, key) else { return nil }
            let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
            for (suffix, scale) in units where raw.hasSuffix(suffix) {
                if let number = Double(raw.dropLast(suffix.count)), number > 0 { return number * scale }
            }
            if let number = Double(raw), number > 0 { return number }
            throw fail(key, "expected a duration such as 250ms, 10s or 1m, got \"\(raw)\"")
        }

        func hostPort(_ text: String, _ key: String) throws -> (host: String, port: Int) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
                throw fail(key, "expected host:port, got \"\(text)\"")
            }
            return (String(text[..<colon]), port)
        }

        func fileSource(_ map: [String: Any], _ key: String) throws -> FileSourceConfig {
            try known(map, key, ["paths", "start_at", "multiline_start", "max_record_bytes", "resource", "transforms"])
            guard let paths = map["paths"] as? [Any], !paths.isEmpty else { throw fail(key + "paths", "expected a non-empty list of glob patterns") }
            var source = FileSourceConfig(paths: paths.map { "\($0)" })
            if let start = try string(map, key + "start_at") {
                guard start == "beginning" || start == "end" else { throw fail(key + "start_at", "expected beginning or end, got \"\(start)\"") }
                source.startAtBeginning = start == "beginning"
            }
            source.multilineStart = try string(map, key + "multiline_start")
            if let max = try int(map, key + "max_record_bytes") { source.maxRecordBytes = Swift.max(16, max) }
            source.resource = try stringMap(map, key + "resource")
            if let raw = map["transforms"] {
                guard let steps = raw as? [[String: Any]] else { throw fail(key + "transforms", "expected a list of mappings with a type") }
                source.transforms = try steps.enumerated().map { try transform($1, key + "transforms[\($0)].") }
            }
            return source
        }

        /// One `sources.scrape[]` job: Prometheus' keys `job_name`, `scrape_interval`, `scrape_timeout`,
        /// `metrics_path`, `honor_labels`, `static_configs`, `file_sd_configs` (`files`, `refresh_interval`).
        func scrapeJob(_ map: [String: Any], _ key: String) throws -> (AgentScrapeJob, Double?) {
            try known(map, key, ["job_name", "scrape_interval", "scrape_timeout", "metrics_path", "honor_labels", "static_configs", "file_sd_configs"])
            guard let name = try string(map, key + "job_name"), !name.isEmpty else { throw fail(key + "job_name", "required") }
            var config = ScrapeConfig(jobName: name)
            if let interval = try duration(map, key + "scrape_interval") { config.scrapeInterval = .milliseconds(Int64(interval * 1000)) }
            if let timeout = try duration(map, key + "scrape_timeout") { config.scrapeTimeout = .milliseconds(Int64(timeout * 1000)) }
            if let path = try string(map, key + "metrics_path") { config.metricsPath = path }
            if let honor = try string(map, key + "honor_labels") { config.honorLabels = honor == "true" }
            if let raw = map["static_configs"] {
                guard let groups = raw as? [[String: Any]] else { throw fail(key + "static_configs", "expected a list of {targets, labels}") }
                config.staticConfigs = try groups.enumerated().map { index, group in
                    guard let targets = group["targets"] as? [Any] else { throw fail(key + "static_configs[\(index)].targets", "expected a list of host:port") }
                    return StaticConfig(targets: targets.map { "\($0)" }, labels: try stringMap(group, key + "static_configs[\(index)].labels"))
                }
            }
            var files: [String] = []
            var refresh: Double?
            if let raw = map["file_sd_configs"] {
                guard let groups = raw as? [[String: Any]] else { throw fail(key + "file_sd_configs", "expected a list of {files, refresh_interval}") }
                for (index, group) in groups.enumerated() {
                    let groupKey = key + "file_sd_configs[\(index)]."
                    try known(group, groupKey, ["files", "refresh_interval"])
                    guard let list = group["files"] as? [Any] else { throw fail(groupKey + "files", "expected a list of file patterns") }
                    files += list.map { "\($0)" }
                    if let interval = try duration(group, groupKey + "refresh_interval") { refresh = min(refresh ?? interval, interval) }
                }
            }
            do {
                try config.validate()
            } catch let error as SightlineError {
                throw fail(key.hasSuffix(".") ? String(key.dropLast()) : key, error.message)
            }
            return (AgentScrapeJob(config: config, targetFiles: files), refresh)
        }

        func transform(_ map: [String: Any], _ key: String) throws -> Transform {
            guard let type = try string(map, key + "type") else { throw fail(key + "type", "missing (json, logfmt, regex, timestamp, add_fields, rename_fields, drop_fields, stream_labels, drop, keep, sample)") }
            func required(_ name: String) throws -> String {
                guard let value = try string(map, key + name) else { throw fail(key + name, "required for type \(type)") }
                return value
            }
            switch type {
            case "json": return .json
            case "logfmt": return .logfmt
            case "regex": return .regex(try NSRegularExpressionBox(try required("pattern")))
            case "timestamp":
                let format = try string(map, key + "format") ?? "rfc3339"
                guard ["unix", "unix_ms", "unix_ns", "rfc3339"].contains(format) else {
                    throw fail(key + "format", "expected unix, unix_ms, unix_ns or rfc3339, got \"\(format)\"")
                }
                return .timestamp(field: try required("field"), format: format)
            case "add_fields": return .addFields(try stringMap(map, key + "fields"))
            case "rename_fields": return .renameFields(try stringMap(map, key + "fields"))
            case "drop_fields":
                guard let list = map["fields"] as? [Any] else { throw fail(key + "fields", "expected a list of field names") }
                return .dropFields(list.map { "\($0)" })
            case "stream_labels": return .streamLabels(try stringMap(map, key + "labels"))
            case "drop": return .drop(field: try required("field"), equals: try required("equals"))
            case "keep": return .keep(field: try required("field"), equals: try required("equals"))
            case "sample":
                guard let n = try int(map, key + "one_in"), n > 0 else { throw fail(key + "one_in", "expected a positive integer") }
                return .sample(n)
            default: throw fail(key + "type", "unknown transform \"\(type)\"")
            }
        }
    }
}

/// StatsD/DogStatsD listener settings (`sources.statsd`).
package struct StatsDConfig: Sendable {
    package var udpAddress: (host: String, port: Int)? = ("127.0.0.1", 8125)
    package var unixPath: String?
    /// Seconds between flushes of the aggregates.
    package var flushInterval = 10.0
    /// Percentiles reported for timers, histograms and distributions.
    package var percentiles: [Double] = [50, 90, 99]
    package init() {}
}
