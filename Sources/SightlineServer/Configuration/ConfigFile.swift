import Foundation
import SightlineQuery
import SightlineScrape
package import SightlineCore
package import SightlineStorageCore
import SightlineIngest
import Yams

/// Reads the YAML config file of `sightline server`.
///
/// Keys (all optional):
/// ```yaml
/// data_dir: ./sightline-data
/// http_address: 127.0.0.1:7600
/// otlp_grpc_address: 127.0.0.1:4317
/// log_level: info
/// wal:
///   segment_size_bytes: 67108864
///   fsync: always            # always | interval | never
///   fsync_interval: 1s       # with fsync: interval
///   checkpoint_interval: 30s
///   checkpoint_bytes: 268435456   # also checkpoint once the WAL holds this much; 0: by interval only
/// limits:
///   max_body_bytes: 16777216
///   max_labels_per_series: 64
///   max_label_value_bytes: 4096
///   max_log_body_bytes: 262144
///   long_log_bodies: reject     # reject | truncate (keeps the first max_log_body_bytes, flags the record)
///   max_attributes: 256
/// metrics:
///   retention: 15d              # 0 keeps data regardless of age
///   retention_size_bytes: 0     # per tenant; 0 means no bound
///   out_of_order_window: 1h
///   max_series_per_tenant: 0    # 0 means no limit
///   max_samples_per_request: 0
///   maintenance_interval: 1m    # compaction and retention
/// syslog:                       # off unless an address is given
///   udp_address: 127.0.0.1:5514
///   tcp_address: 127.0.0.1:5514 # newline or octet-counting framing (RFC 6587)
///   tenant: default
///   max_message_bytes: 1048576
/// graphite:                     # Graphite plaintext (`path;tag=v value [timestamp]`); off unless an address is given
///   tcp_address: 127.0.0.1:2003
///   udp_address: 127.0.0.1:2003
///   tenant: default
///   max_message_bytes: 1048576  # the longest line
/// opentsdb:                     # OpenTSDB telnet `put` lines; off unless an address is given
///   tcp_address: 127.0.0.1:4242
///   tenant: default
/// logs:
///   retention: 15d              # 0 keeps records regardless of age
///   retention_rules:            # per stream selector (and tenant); the first match wins
///     - selector: '{level="debug"}'
///       max_age: 1d
///   rollover_max_bytes: 1073741824   # a stream's generation rolls over past this size…
///   rollover_max_age: 24h            # …or age
///   maintenance_interval: 1m    # merges, rollover, retention
/// traces:
///   retention: 15d              # 0 keeps spans regardless of age
///   maintenance_interval: 1m    # merges and retention
///   span_metrics: true          # RED metrics and the service graph as metric series
///   span_metrics_interval: 15s
///   self_tracing: true          # a span per HTTP/gRPC request Sightline serves, in its own trace store
///   self_tracing_ingest: false  # also for the ingestion routes (the hot path)
///   self_tracing_tenant: default
/// rules:                       # Prometheus rule files (globs; relative to this file's directory)
///   files: [rules/*.yml]        # of the tenant `default`
///   tenants:                    # of other tenants
///     acme: [rules/acme/*.yml]
/// alerting:
///   alertmanager_config: alertmanager.yml   # the built-in notifier's Alertmanager config (relative to this file)
///   external_url: http://sightline.example:7600
///   evaluation_interval: 1m     # of rule groups that set no interval
///   resend_delay: 1m            # least time between two sends of an unchanged firing alert
///   external_labels: {cluster: eu1}
///   forward_to: [http://alertmanager:9093]  # also send every alert to these Alertmanagers' /api/v2/alerts
///   leader_election: {nats_url: "nats://127.0.0.1:4222", name: alerting, ttl: 15s}  # several servers: one evaluates
///                                 # and notifies; state shared in stream state_stream (default SIGHTLINE_ALERTING_<name>)
/// audit:
///   retention: 0                # 0 keeps events regardless of age; held events are always kept
///   tenant_retention: {acme: 2555d}
///   digest_interval: 1m         # a signed digest per tenant whose chain moved; retention runs as often
///   segment_max_bytes: 67108864
/// storage:
///   backend: embedded           # or clickhouse: the server keeps only its WAL, the data lives in ClickHouse
///   clickhouse: {url: "http://127.0.0.1:8123", database: sightline, user: default, password: "", flush_interval: 1s}
/// queue:                       # ingest batches from NATS JetStream (agents publish them); off unless nats_url is set
///   nats_url: nats://127.0.0.1:4222
///   stream: SIGHTLINE_INGEST    # created when missing: subjects sightline.ingest.>, work queue, file storage
///   consumer: sightline-servers # the durable pull consumer all servers share
///   fetch_batch: 32             # messages per fetch
///   ack_wait: 30s               # unacknowledged messages are delivered again after this
///   publish: false              # true: batches pushed to this server go to the queue too (acked once JetStream has
///                               # them), so any server stores them and this one keeps no data of its own
///   consume: true               # false: only publish, leave storing to the other servers
/// ui:
///   assets_dir: ./ui            # serve the web UI from this folder instead of the built-in files
/// auth:
///   tokens:
///     - token: "…"
///       tenant: acme
///       roles: [ingest, query]
/// ```
/// Unknown keys and bad values stop the start with a message that names the file, the key and its line.
package enum ConfigFile {
    /// Loads `path` over the defaults.
    /// - Throws: `configuration` naming the file, key and line.
    package static func load(path: String) throws -> ServerConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SightlineError(.configuration, "config file \(path): cannot be read")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    /// Parses YAML text; `path` only names the source in messages.
    package static func parse(_ text: String, path: String) throws -> ServerConfiguration {
        var config = ServerConfiguration()
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw SightlineError(.configuration, "config file \(path): not valid YAML: \(error)")
        }
        guard let root else { return config }
        let reader = Reader(path: path)
        let directory = (path as NSString).deletingLastPathComponent
        /// Relative paths in the file are relative to its directory, as in Prometheus.
        func resolve(_ file: String) -> String {
            file.hasPrefix("/") || directory.isEmpty ? file : directory + "/" + file
        }
        try reader.mapping(root, at: "") { key, node in
            switch key {
            case "data_dir": config.dataDirectory = try reader.string(node, at: key)
            case "http_address": config.httpAddress = try reader.address(node, at: key)
            case "otlp_grpc_address": config.otlpGRPCAddress = try reader.address(node, at: key)
            case "log_level": config.logLevel = try reader.logLevel(node, at: key)
            case "wal": try reader.wal(node, into: &config.wal)
            case "limits": try reader.limits(node, into: &config.limits)
            case "metrics": try reader.metrics(node, into: &config.metrics)
            case "query":
                try reader.mapping(node, at: key) { key, value in
                    switch key {
                    case "query.enable_features":
                        for name in try reader.stringList(value, at: key) where !config.promQLFeatures.enable(feature: name) {
                            throw reader.error(
                                key, value, "unknown feature \"\(name)\"; expected one of \(PromQLParser.Options.featureNames.joined(separator: ", "))")
                        }
                    default: throw reader.unknown(key, value)
                    }
                }
            case "otlp":
                try reader.mapping(node, at: key) { key, value in
                    switch key {
                    case "otlp.promote_resource_attributes":
                        var seen = Set<String>()
                        for name in try reader.stringList(value, at: key) {
                            let trimmed = name.trimmingCharacters(in: .whitespaces)
                            guard !trimmed.isEmpty else { throw reader.error(key, value, "empty promoted OTel resource attribute") }
                            guard seen.insert(trimmed).inserted else {
                                throw reader.error(key, value, "duplicated promoted OTel resource attribute \"\(trimmed)\"")
                            }
                            config.otlpTranslation.promoteResourceAttributes.append(trimmed)
                        }
                    case "otlp.keep_identifying_resource_attributes":
                        config.otlpTranslation.keepIdentifyingResourceAttributes = try reader.bool(value, at: key)
                    case "otlp.translation_strategy":
                        let name = try reader.string(value, at: key)
                        guard let strategy = OTLPDecoder.OTLPTranslation.Strategy(rawValue: name) else {
                            let known = OTLPDecoder.OTLPTranslation.Strategy.allCases.map(\.rawValue).joined(separator: ", ")
                            throw reader.error(key, value, "unsupported OTLP translation strategy \"\(name)\" (use \(known))")
                        }
                        config.otlpTranslation.strategy = strategy
                    default: throw reader.unknown(key, value)
                    }
                }
            case "auth": config.tokens = try reader.auth(node)
            case "scrape_configs": config.scrapeConfigs = try reader.scrapeConfigs(node)
            case "syslog": try reader.listener(node, at: "syslog", into: &config.syslog)
            case "graphite": try reader.listener(node, at: "graphite", into: &config.graphite)
            case "opentsdb": try reader.listener(node, at: "opentsdb", into: &config.openTSDB)
            case "traces": try reader.traces(node, into: &config.traces)
            case "audit": try reader.audit(node, into: &config.audit)
            case "storage": try reader.storage(node, into: &config.storage)
            case "queue": try reader.queue(node, into: &config.queue)
            case "ui":
                try reader.mapping(node, at: key) { key, value in
                    switch key {
                    case "ui.assets_dir": config.ui.assetsDirectory = resolve(try reader.string(value, at: key))
                    default: throw reader.unknown(key, value)
                    }
                }
            case "logs": try reader.logs(node, into: &config.logs)
            case "rules":
                try reader.rules(node, into: &config.rules)
                config.rules.files = config.rules.files.mapValues { $0.map(resolve) }
            case "alerting":
                try reader.alerting(node, into: &config.alerting)
                config.alerting.alertmanagerConfig = config.alerting.alertmanagerConfig.map(resolve)
            default: throw reader.unknown(key, node)
            }
        }
        return config
    }

    private struct Reader {
        let path: String

        func error(_ key: String, _ node: Node, _ message: String) -> SightlineError {
            let line = node.mark.map { " (line \($0.line))" } ?? ""
            return SightlineError(.configuration, "config file \(path): key '\(key)'\(line): \(message)")
        }

        func unknown(_ key: String, _ node: Node) -> SightlineError {
            error(key, node, "unknown key")
        }

        func mapping(_ node: Node, at prefix: String, _ body: (String, Node) throws -> Void) throws {
            guard let mapping = node.mapping else {
                throw error(prefix.isEmpty ? "(top level)" : prefix, node, "expected a mapping of keys to values")
            }
            for (keyNode, value) in mapping {
                guard let key = keyNode.string else { throw error(prefix, keyNode, "keys must be strings") }
                try body(prefix.isEmpty ? key : "\(prefix).\(key)", value)
            }
        }

        func string(_ node: Node, at key: String) throws -> String {
            guard let scalar = node.scalar else { throw error(key, node, "expected a string") }
            return scalar.string
        }

        func integer(_ node: Node, at key: String, minimum: Int = 1) throws -> Int {
            guard let scalar = node.scalar, let value = Int(scalar.string), value >= minimum else {
                throw error(key, node, "expected an integer ≥ \(minimum), got \(node.scalar?.string ?? "a non-scalar")")
            }
            return value
        }

        func choice<Choice: RawRepresentable & CaseIterable>(_ node: Node, at key: String) throws -> Choice where Choice.RawValue == String {
            let text = try string(node, at: key)
            guard let value = Choice(rawValue: text) else {
                throw error(key, node, "expected one of \(Choice.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            }
            return value
        }

        func address(_ node: Node, at key: String) throws -> HostAndPort {
            let text = try string(node, at: key)
            guard let address = HostAndPort(parsing: text) else { throw error(key, node, "expected host:port, got \"\(text)\"") }
            return address
        }

        func logLevel(_ node: Node, at key: String) throws -> String {
            let text = try string(node, at: key)
            guard ServerConfiguration.logLevels.contains(text) else {
                throw error(key, node, "expected one of \(ServerConfiguration.logLevels.joined(separator: ", ")), got \"\(text)\"")
            }
            return text
        }

        func duration(_ node: Node, at key: String) throws -> Duration {
            let text = try string(node, at: key)
            guard let duration = DurationText.parse(text), duration > .zero else {
                throw error(key, node, "expected a positive duration like 500ms, 30s, 5m or 1h, got \"\(text)\"")
            }
            return duration
        }

        func wal(_ node: Node, into wal: inout ServerConfiguration.WAL) throws {
            var fsyncMode: (String, Node)?
            var fsyncInterval: Duration?
            try mapping(node, at: "wal") { key, value in
                switch key {
                case "wal.segment_size_bytes": wal.segmentSize = try integer(value, at: key, minimum: 4096)
                case "wal.fsync": fsyncMode = (try string(value, at: key), value)
                case "wal.fsync_interval": fsyncInterval = try duration(value, at: key)
                case "wal.checkpoint_interval": wal.checkpointInterval = try duration(value, at: key)
                case "wal.checkpoint_bytes": wal.checkpointBytes = Int64(try integer(value, at: key, minimum: 0))
                default: throw unknown(key, value)
                }
            }
            if let (mode, modeNode) = fsyncMode {
                wal.fsync = try ServerConfiguration.fsyncPolicy(mode, interval: fsyncInterval) { message in
                    error("wal.fsync", modeNode, message)
                }
            }
        }

        func limits(_ node: Node, into limits: inout IngestLimits) throws {
            try mapping(node, at: "limits") { key, value in
                switch key {
                case "limits.max_body_bytes": limits.maxBodyBytes = try integer(value, at: key)
                case "limits.max_labels_per_series": limits.maxLabelsPerSeries = try integer(value, at: key)
                case "limits.max_label_value_bytes": limits.maxLabelValueBytes = try integer(value, at: key)
                case "limits.max_log_body_bytes": limits.maxLogBodyBytes = try integer(value, at: key)
                case "limits.long_log_bodies": limits.longLogBodies = try choice(value, at: key)
                case "limits.max_attributes": limits.maxAttributes = try integer(value, at: key)
                default: throw unknown(key, value)
                }
            }
        }

        func metrics(_ node: Node, into metrics: inout ServerConfiguration.Metrics) throws {
            try mapping(node, at: "metrics") { key, value in
                switch key {
                case "metrics.retention":
                    metrics.retention = try string(value, at: key) == "0" ? nil : try duration(value, at: key)
                case "metrics.retention_size_bytes":
                    let bytes = try integer(value, at: key, minimum: 0)
                    metrics.retentionBytes = bytes == 0 ? nil : Int64(bytes)
                case "metrics.out_of_order_window": metrics.outOfOrderWindow = try duration(value, at: key)
                case "metrics.max_series_per_tenant": metrics.maxSeriesPerTenant = try integer(value, at: key, minimum: 0)
                case "metrics.max_samples_per_request": metrics.maxSamplesPerRequest = try integer(value, at: key, minimum: 0)
                case "metrics.maintenance_interval": metrics.maintenanceInterval = try duration(value, at: key)
                case "metrics.max_exemplars_per_tenant": metrics.maxExemplarsPerTenant = try integer(value, at: key, minimum: 0)
                default: throw unknown(key, value)
                }
            }
        }

        func listener(_ node: Node, at section: String, into listener: inout ServerConfiguration.Listener) throws {
            try mapping(node, at: section) { key, value in
                switch key.dropFirst(section.count + 1) {
                case "udp_address": listener.udpAddress = try address(value, at: key)
                case "tcp_address": listener.tcpAddress = try address(value, at: key)
                case "tenant":
                    let id = try string(value, at: key)
                    guard Tenant.isValid(id) else { throw error(key, value, "\"\(id)\" is not a valid tenant id") }
                    listener.tenant = Tenant(uncheckedID: id)
                case "max_message_bytes": listener.maxMessageBytes = try integer(value, at: key, minimum: 480)
                default: throw unknown(key, value)
                }
            }
        }

        func logs(_ node: Node, into logs: inout ServerConfiguration.Logs) throws {
            try mapping(node, at: "logs") { key, value in
                switch key {
                case "logs.retention": logs.retention = try string(value, at: key) == "0" ? nil : try duration(value, at: key)
                case "logs.rollover_max_bytes": logs.rolloverMaxBytes = try integer(value, at: key, minimum: 1 << 20)
                case "logs.rollover_max_age": logs.rolloverMaxAge = try duration(value, at: key)
                case "logs.maintenance_interval": logs.maintenanceInterval = try duration(value, at: key)
                case "logs.retention_rules":
                    guard case .sequence(let items) = value else { throw error(key, value, "expected a list of rules") }
                    for (index, item) in items.enumerated() {
                        logs.retentionRules.append(try retentionRule(item, at: "\(key)[\(index)]"))
                    }
                default: throw unknown(key, value)
                }
            }
        }

        /// `{selector: '{app="x"}', tenant: acme, max_age: 3d}`; `tenant` is optional.
        func retentionRule(_ node: Node, at prefix: String) throws -> ServerConfiguration.Logs.RetentionRule {
            var tenant: Tenant?
            var matchers: [LabelMatcher]?
            var maxAge: Duration?
            try mapping(node, at: prefix) { key, value in
                switch key {
                case "\(prefix).selector":
                    let text = try string(value, at: key)
                    do {
                        let selectors = try LogQLEngine.info(text).streamMatchers
                        guard selectors.count == 1 else { throw error(key, value, "expected one stream selector, got \"\(text)\"") }
                        matchers = selectors[0]
                    } catch let parse as LogQLParseError {
                        throw error(key, value, "\(parse.description) in \"\(text)\"")
                    }
                case "\(prefix).tenant":
                    let id = try string(value, at: key)
                    guard Tenant.isValid(id) else { throw error(key, value, "\"\(id)\" is not a valid tenant id") }
                    tenant = Tenant(uncheckedID: id)
                case "\(prefix).max_age": maxAge = try duration(value, at: key)
                default: throw unknown(key, value)
                }
            }
            guard let maxAge else { throw error(prefix, node, "a retention rule needs max_age") }
            return ServerConfiguration.Logs.RetentionRule(tenant: tenant, matchers: matchers ?? [], maxAge: maxAge)
        }

        func traces(_ node: Node, into traces: inout ServerConfiguration.Traces) throws {
            try mapping(node, at: "traces") { key, value in
                switch key {
                case "traces.retention": traces.retention = try string(value, at: key) == "0" ? nil : try duration(value, at: key)
                case "traces.maintenance_interval": traces.maintenanceInterval = try duration(value, at: key)
                case "traces.span_metrics": traces.spanMetrics = try bool(value, at: key)
                case "traces.span_metrics_interval": traces.spanMetricsInterval = try duration(value, at: key)
                case "traces.self_tracing": traces.selfTracing = try bool(value, at: key)
                case "traces.self_tracing_ingest": traces.selfTracingIngest = try bool(value, at: key)
                case "traces.self_tracing_tenant":
                    let id = try string(value, at: key)
                    guard Tenant.isValid(id) else { throw error(key, value, "\"\(id)\" is not a valid tenant id") }
                    traces.selfTracingTenant = Tenant(uncheckedID: id)
                default: throw unknown(key, value)
                }
            }
        }

        func storage(_ node: Node, into storage: inout ServerConfiguration.Storage) throws {
            try mapping(node, at: "storage") { key, value in
                switch key {
                case "storage.backend":
                    let name = try string(value, at: key)
                    guard let backend = ServerConfiguration.Storage.Backend(rawValue: name) else {
                        throw error(key, value, "expected embedded or clickhouse, got \"\(name)\"")
                    }
                    storage.backend = backend
                case "storage.clickhouse":
                    try mapping(value, at: key) { key, value in
                        switch key {
                        case "storage.clickhouse.url": storage.clickhouse.url = try string(value, at: key)
                        case "storage.clickhouse.database": storage.clickhouse.database = try string(value, at: key)
                        case "storage.clickhouse.user": storage.clickhouse.user = try string(value, at: key)
                        case "storage.clickhouse.password": storage.clickhouse.password = try string(value, at: key)
                        case "storage.clickhouse.flush_interval": storage.clickhouse.flushInterval = try duration(value, at: key)
                        default: throw unknown(key, value)
                        }
                    }
                default: throw unknown(key, value)
                }
            }
        }

        /// `queue: {nats_url, stream, consumer, fetch_batch, ack_wait, publish, consume}`.
        func queue(_ node: Node, into queue: inout ServerConfiguration.Queue) throws {
            /// Stream and consumer names are one NATS subject token each.
            func name(_ value: Node, at key: String) throws -> String {
                let text = try string(value, at: key)
                guard !text.isEmpty, !text.unicodeScalars.contains(where: { ".*>".unicodeScalars.contains($0) || $0.value <= 0x20 || $0.value == 0x7F })
                else { throw error(key, value, "expected a name without '.', '*', '>' or spaces, got \"\(text)\"") }
                return text
            }
            try mapping(node, at: "queue") { key, value in
                switch key {
                case "queue.nats_url":
                    let url = try string(value, at: key)
                    guard url.hasPrefix("nats://"), url.count > "nats://".count else {
                        throw error(key, value, "expected a nats://host:port URL, got \"\(url)\"")
                    }
                    queue.natsURL = url
                case "queue.stream": queue.stream = try name(value, at: key)
                case "queue.consumer": queue.consumer = try name(value, at: key)
                case "queue.fetch_batch": queue.fetchBatch = try integer(value, at: key)
                case "queue.ack_wait": queue.ackWait = try duration(value, at: key)
                case "queue.publish": queue.publish = try bool(value, at: key)
                case "queue.consume": queue.consume = try bool(value, at: key)
                default: throw unknown(key, value)
                }
            }
            if queue.publish && queue.natsURL == nil {
                throw error("queue.publish", node, "publishing direct pushes needs queue.nats_url")
            }
        }

        func audit(_ node: Node, into audit: inout ServerConfiguration.Audit) throws {
            try mapping(node, at: "audit") { key, value in
                switch key {
                case "audit.retention": audit.retention = try string(value, at: key) == "0" ? nil : try duration(value, at: key)
                case "audit.tenant_retention":
                    try mapping(value, at: key) { name, item in
                        let id = String(name.dropFirst(key.count + 1))
                        guard Tenant.isValid(id) else { throw error(name, item, "\"\(id)\" is not a valid tenant id") }
                        audit.tenantRetention[Tenant(uncheckedID: id)] = try duration(item, at: name)
                    }
                case "audit.digest_interval": audit.digestInterval = try duration(value, at: key)
                case "audit.segment_max_bytes": audit.segmentMaxBytes = try integer(value, at: key, minimum: 1024)
                default: throw unknown(key, value)
                }
            }
        }

        /// `rules: {files: [...], tenants: {acme: [...]}}`.
        func rules(_ node: Node, into rules: inout ServerConfiguration.Rules) throws {
            try mapping(node, at: "rules") { key, value in
                switch key {
                case "rules.files": rules.files[.default, default: []] += try stringList(value, at: key)
                case "rules.tenants":
                    try mapping(value, at: key) { name, list in
                        let id = String(name.dropFirst(key.count + 1))
                        guard Tenant.isValid(id) else { throw error(name, list, "\"\(id)\" is not a valid tenant id") }
                        rules.files[Tenant(uncheckedID: id), default: []] += try stringList(list, at: name)
                    }
                default: throw unknown(key, value)
                }
            }
        }

        /// `alerting: {alertmanager_config, external_url, evaluation_interval, resend_delay, external_labels, forward_to}`.
        func alerting(_ node: Node, into alerting: inout ServerConfiguration.Alerting) throws {
            try mapping(node, at: "alerting") { key, value in
                switch key {
                case "alerting.alertmanager_config": alerting.alertmanagerConfig = try string(value, at: key)
                case "alerting.external_url": alerting.externalURL = try string(value, at: key)
                case "alerting.evaluation_interval": alerting.evaluationInterval = try duration(value, at: key)
                case "alerting.resend_delay": alerting.resendDelay = try duration(value, at: key)
                case "alerting.external_labels":
                    let labels = try stringMap(value, at: key)
                    for name in labels.keys where !Self.isLabelName(name) {
                        throw error(key, value, "\"\(name)\" is not a valid label name")
                    }
                    alerting.externalLabels = labels
                case "alerting.forward_to":
                    let urls = try stringList(value, at: key)
                    for url in urls where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                        throw error(key, value, "expected http:// or https:// URLs, got \"\(url)\"")
                    }
                    alerting.forwardTo = urls
                case "alerting.leader_election":
                    var election = ServerConfiguration.Alerting.LeaderElection(natsURL: "")
                    try mapping(value, at: key) { key, value in
                        switch key {
                        case "alerting.leader_election.nats_url":
                            election.natsURL = try string(value, at: key)
                            guard election.natsURL.hasPrefix("nats://") else {
                                throw error(key, value, "expected a nats:// URL, got \"\(election.natsURL)\"")
                            }
                        case "alerting.leader_election.name": election.name = try string(value, at: key)
                        case "alerting.leader_election.ttl": election.ttl = try duration(value, at: key)
                        case "alerting.leader_election.state_stream":
                            let name = try string(value, at: key)
                            guard !name.isEmpty, !name.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: ">") })
                            else { throw error(key, value, "a stream name without '.', '*', '>', spaces or control characters, got \"\(name)\"") }
                            election.stateStream = name
                        default: throw unknown(key, value)
                        }
                    }
                    guard !election.natsURL.isEmpty else { throw error(key, value, "nats_url is required") }
                    alerting.leaderElection = election
                default: throw unknown(key, value)
                }
            }
        }

        /// `[a-zA-Z_][a-zA-Z0-9_]*`.
        static func isLabelName(_ name: String) -> Bool {
            guard let first = name.utf8.first, first == UInt8(ascii: "_") || (first | 0x20) >= UInt8(ascii: "a") && (first | 0x20) <= UInt8(ascii: "z")
            else { return false }
            return name.utf8.allSatisfy { byte in
                byte == UInt8(ascii: "_") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || ((byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z"))
            }
        }

        func bool(_ node: Node, at key: String) throws -> Bool {
            switch try string(node, at: key).lowercased() {
            case "true": return true
            case "false": return false
            default: throw error(key, node, "expected true or false")
            }
        }

        func stringList(_ node: Node, at key: String) throws -> [String] {
            guard let sequence = node.sequence else { throw error(key, node, "expected a list") }
            return try sequence.map { try string($0, at: key) }
        }

        func stringMap(_ node: Node, at key: String) throws -> [String: String] {
            var result: [String: String] = [:]
            try mapping(node, at: key) { name, value in
                result[String(name.dropFirst(key.count + 1))] = try string(value, at: name)
            }
            return result
        }

        /// `scrape_configs`, in Prometheus' format (plus `tenant`, Sightline's own key).
        func scrapeConfigs(_ node: Node) throws -> [ScrapeConfig] {
            guard let sequence = node.sequence else { throw error("scrape_configs", node, "expected a list of scrape configs") }
            var configs: [ScrapeConfig] = []
            for (index, entry) in sequence.enumerated() {
                let prefix = "scrape_configs[\(index)]"
                var config = ScrapeConfig(jobName: "")
                try mapping(entry, at: prefix) { key, value in
                    switch String(key.dropFirst(prefix.count + 1)) {
                    case "job_name": config.jobName = try string(value, at: key)
                    case "tenant":
                        let id = try string(value, at: key)
                        guard Tenant.isValid(id) else { throw error(key, value, "\"\(id)\" is not a valid tenant id") }
                        config.tenant = Tenant(uncheckedID: id)
                    case "scrape_interval": config.scrapeInterval = try duration(value, at: key)
                    case "scrape_timeout": config.scrapeTimeout = try duration(value, at: key)
                    case "metrics_path": config.metricsPath = try string(value, at: key)
                    case "scheme": config.scheme = try string(value, at: key)
                    case "honor_labels": config.honorLabels = try bool(value, at: key)
                    case "honor_timestamps": config.honorTimestamps = try bool(value, at: key)
                    case "body_size_limit": config.bodySizeLimit = try integer(value, at: key)
                    case "sample_limit": config.sampleLimit = try integer(value, at: key, minimum: 0)
                    case "params":
                        var params: [String: [String]] = [:]
                        try mapping(value, at: key) { name, list in
                            params[String(name.dropFirst(key.count + 1))] = try stringList(list, at: name)
                        }
                        config.params = params
                    case "static_configs":
                        guard let groups = value.sequence else { throw error(key, value, "expected a list") }
                        config.staticConfigs = try groups.enumerated().map { groupIndex, group in
                            let groupKey = "\(key)[\(groupIndex)]"
                            var targets: [String] = []
                            var labels: [String: String] = [:]
                            try mapping(group, at: groupKey) { field, fieldValue in
                                switch String(field.dropFirst(groupKey.count + 1)) {
                                case "targets": targets = try stringList(fieldValue, at: field)
                                case "labels": labels = try stringMap(fieldValue, at: field)
                                default: throw unknown(field, fieldValue)
                                }
                            }
                            return StaticConfig(targets: targets, labels: labels)
                        }
                    case "relabel_configs": config.relabelConfigs = try relabelConfigs(value, at: key)
                    case "metric_relabel_configs": config.metricRelabelConfigs = try relabelConfigs(value, at: key)
                    default: throw unknown(key, value)
                    }
                }
                do {
                    try config.validate()
                } catch let failure as SightlineError {
                    throw error(prefix, entry, failure.message)
                }
                guard !configs.contains(where: { $0.jobName == config.jobName && $0.tenant == config.tenant }) else {
                    throw error("\(prefix).job_name", entry, "job \"\(config.jobName)\" is configured twice")
                }
                configs.append(config)
            }
            return configs
        }

        func relabelConfigs(_ node: Node, at key: String) throws -> [RelabelConfig] {
            guard let steps = node.sequence else { throw error(key, node, "expected a list of relabel steps") }
            return try steps.enumerated().map { index, step in
                let stepKey = "\(key)[\(index)]"
                var action = RelabelConfig.Action.replace
                var sourceLabels: [String] = []
                var separator = RelabelConfig.defaultSeparator
                var regex = RelabelConfig.defaultRegex
                var targetLabel = ""
                var replacement = RelabelConfig.defaultReplacement
                var modulus: UInt64 = 0
                try mapping(step, at: stepKey) { field, value in
                    switch String(field.dropFirst(stepKey.count + 1)) {
                    case "action":
                        let name = try string(value, at: field)
                        guard let parsed = RelabelConfig.Action(name: name) else { throw error(field, value, "unknown relabel action \"\(name)\"") }
                        action = parsed
                    case "source_labels": sourceLabels = try stringList(value, at: field)
                    case "separator": separator = try string(value, at: field)
                    case "regex": regex = try string(value, at: field)
                    case "target_label": targetLabel = try string(value, at: field)
                    case "replacement": replacement = try string(value, at: field)
                    case "modulus": modulus = UInt64(try integer(value, at: field))
                    default: throw unknown(field, value)
                    }
                }
                return RelabelConfig(
                    action: action, sourceLabels: sourceLabels, separator: separator, regex: regex, targetLabel: targetLabel,
                    replacement: replacement, modulus: modulus
                )
            }
        }

        func auth(_ node: Node) throws -> [TokenGrant] {
            var grants: [TokenGrant] = []
            try mapping(node, at: "auth") { key, value in
                guard key == "auth.tokens" else { throw unknown(key, value) }
                guard let sequence = value.sequence else { throw error(key, value, "expected a list of tokens") }
                for (index, entry) in sequence.enumerated() {
                    let prefix = "auth.tokens[\(index)]"
                    var token: String?
                    var tenant: Tenant?
                    var roles: Set<Role>?
                    try mapping(entry, at: prefix) { key, value in
                        switch key {
                        case "\(prefix).token": token = try string(value, at: key)
                        case "\(prefix).tenant":
                            let id = try string(value, at: key)
                            do { tenant = try Tenant(id) } catch let failure as SightlineError { throw error(key, value, failure.message) }
                        case "\(prefix).roles":
                            guard let list = value.sequence else { throw error(key, value, "expected a list of roles") }
                            roles = try Set(list.map { item in
                                let name = try string(item, at: key)
                                guard let role = Role(rawValue: name) else {
                                    throw error(key, item, "unknown role \"\(name)\"; roles are ingest, query and admin")
                                }
                                return role
                            })
                        default: throw unknown(key, value)
                        }
                    }
                    guard let token, !token.isEmpty else { throw error("\(prefix).token", entry, "every token entry needs a non-empty token") }
                    guard let tenant else { throw error("\(prefix).tenant", entry, "every token entry needs a tenant") }
                    guard let roles, !roles.isEmpty else { throw error("\(prefix).roles", entry, "every token entry needs at least one role") }
                    guard !grants.contains(where: { $0.token == token }) else { throw error("\(prefix).token", entry, "the same token is listed twice") }
                    grants.append(TokenGrant(token: token, tenant: tenant, roles: roles))
                }
            }
            return grants
        }
    }
}

extension ServerConfiguration {
    /// The accepted `--log-level` values.
    package static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Turns `always`, `interval` or `never` into a policy; `interval` defaults to 1 s.
    package static func fsyncPolicy(
        _ mode: String, interval: Duration?, error: (String) -> SightlineError
    ) throws -> FsyncPolicy {
        switch mode {
        case "always": return .always
        case "interval": return .interval(interval ?? .seconds(1))
        case "never": return .never
        default: throw error("expected always, interval or never, got \"\(mode)\"")
        }
    }
}

/// Durations written as Prometheus writes them: `1h30m`, `500ms`, `10s`.
package enum DurationText {
    /// Parses one or more `<integer><unit>` terms with units ms, s, m, h, d, w, y; `nil` if anything else is present.
    package static func parse(_ text: String) -> Duration? {
        var total = Duration.zero
        var digits = ""
        var index = text.startIndex
        guard !text.isEmpty else { return nil }
        while index < text.endIndex {
            let c = text[index]
            if c.isASCII, c.isNumber {
                digits.append(c)
                index = text.index(after: index)
                continue
            }
            guard let value = Int64(digits) else { return nil }
            digits = ""
            var unit = String(c)
            index = text.index(after: index)
            if unit == "m", index < text.endIndex, text[index] == "s" {
                unit = "ms"
                index = text.index(after: index)
            }
            let milliseconds: Int64
            switch unit {
            case "ms": milliseconds = 1
            case "s": milliseconds = 1000
            case "m": milliseconds = 60_000
            case "h": milliseconds = 3_600_000
            case "d": milliseconds = 86_400_000
            case "w": milliseconds = 604_800_000
            case "y": milliseconds = 31_536_000_000
            default: return nil
            }
            total += .milliseconds(value * milliseconds)
        }
        return digits.isEmpty ? total : nil
    }
}
