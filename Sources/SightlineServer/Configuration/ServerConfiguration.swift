package import SightlineCore
package import SightlineIngest
package import SightlineQuery
package import SightlineScrape
package import SightlineStorageCore

/// Everything `sightline server` can be told, with a default for every field.
///
/// Built from the YAML config file, then overridden by command-line flags (flags win).
package struct ServerConfiguration: Sendable {
    /// Where the WAL and the stores keep their files.
    package var dataDirectory: String = "./sightline-data"
    /// `host:port` of the HTTP API (UI, query APIs, OTLP/HTTP).
    package var httpAddress: HostAndPort = HostAndPort(host: "127.0.0.1", port: 7600)
    /// `host:port` of OTLP/gRPC.
    package var otlpGRPCAddress: HostAndPort = HostAndPort(host: "127.0.0.1", port: 4317)
    /// trace, debug, info, notice, warning, error or critical.
    package var logLevel: String = "info"
    package var wal: WAL = WAL()
    package var limits: IngestLimits = IngestLimits()
    package var metrics: Metrics = Metrics()
    /// The PromQL features queries and rules may use (`query.enable_features`, `--enable-feature`): Prometheus'
    /// feature flags, all off by default as in Prometheus.
    package var promQLFeatures: PromQLParser.Options = .default
    /// How OTLP resources reach the series of their metrics, as Prometheus' `otlp` configuration section says.
    package var otlpTranslation = OTLPDecoder.OTLPTranslation()
    /// Targets the server scrapes, as in Prometheus' `scrape_configs`.
    package var scrapeConfigs: [ScrapeConfig] = []
    /// Bearer tokens; empty means no authentication and the single tenant `default`.
    package var tokens: [TokenGrant] = []
    /// The syslog listeners (RFC 5424 and RFC 3164; TCP with newline or octet-counting framing); off unless an
    /// address is set.
    package var syslog = Listener()
    /// The Graphite plaintext listeners; off unless an address is set.
    package var graphite = Listener()
    /// The OpenTSDB telnet `put` listeners; off unless an address is set.
    package var openTSDB = Listener()
    package var traces: Traces = Traces()
    package var logs: Logs = Logs()
    /// Rule files per tenant.
    package var rules: Rules = Rules()
    /// Rule evaluation and notification settings.
    package var alerting: Alerting = Alerting()
    package var audit: Audit = Audit()
    package var ui: UI = UI()
    package var storage: Storage = Storage()
    /// The NATS JetStream queue between agents and servers; off unless ``Queue/natsURL`` is set.
    package var queue: Queue = Queue()

    /// Consuming ingest batches from a NATS JetStream work queue (see ``QueueConsumer``): agents publish each batch
    /// as the HTTP request they would have sent, every server takes from one shared durable consumer, and a message
    /// is acknowledged only once the pipeline has the batch in its WAL.
    package struct Queue: Sendable {
        /// `nats://[user:password@|token@]host[:port]`; nil leaves the queue off.
        package var natsURL: String?
        /// The stream the batches are in; created (or updated) when missing, as agents do too.
        package var stream: String = "SIGHTLINE_INGEST"
        /// The subjects the stream stores. Not in the config file: agents publish to `sightline.ingest.<kind>` and
        /// the two must agree; tests set their own to keep streams apart.
        package var subjects: [String] = ["sightline.ingest.>"]
        /// The durable pull consumer every server shares, so each batch goes to one of them.
        package var consumer: String = "sightline-servers"
        /// At most this many messages per fetch.
        package var fetchBatch: Int = 32
        /// How long NATS waits for a server's acknowledgement before delivering a message again.
        package var ackWait: Duration = .seconds(30)
        /// Whether batches pushed to this server directly (HTTP, gRPC, syslog, scrapes) are published to the queue
        /// instead of written to its WAL, so that any server stores them (``QueuePublisher``).
        package var publish = false
        /// Whether this server takes batches from the queue and stores them; false makes a server that only
        /// publishes (an ingest tier in front of the storing servers).
        package var consume = true

        package init() {}
    }

    /// Where the signals are stored: the embedded engines under ``dataDirectory`` (the default), or ClickHouse, with
    /// the server keeping only its write-ahead log (servers scale out over one ClickHouse).
    package struct Storage: Sendable {
        package enum Backend: String, Sendable, CaseIterable {
            case embedded, clickhouse
        }
        package var backend: Backend = .embedded
        package var clickhouse: ClickHouse = ClickHouse()

        /// How to reach ClickHouse (its HTTP interface).
        package struct ClickHouse: Sendable {
            /// e.g. `http://127.0.0.1:8123`; required with the clickhouse backend.
            package var url: String?
            package var database: String = "sightline"
            package var user: String?
            package var password: String?
            /// How often buffered rows are inserted (also when a buffer fills, and at every WAL checkpoint).
            package var flushInterval: Duration = .seconds(1)

            package init() {}
        }

        package init() {}
    }

    /// Settings of the web UI.
    package struct UI: Sendable {
        /// Serve the UI's files from this folder instead of the ones built into the server (to change the UI without
        /// a rebuild); nil serves the built-in files.
        package var assetsDirectory: String?

        package init() {}
    }

    /// Settings of the audit store.
    package struct Audit: Sendable {
        /// Events stored longer ago than this are dropped (whole segments, never under a legal hold); nil keeps them.
        package var retention: Duration?
        /// Retention per tenant, overriding ``retention``.
        package var tenantRetention: [Tenant: Duration] = [:]
        /// How often each tenant's chain gets a signed digest (when it moved) and retention runs.
        package var digestInterval: Duration = .seconds(60)
        /// A segment is closed past this size.
        package var segmentMaxBytes: Int = 64 << 20

        package init() {}
    }

    /// Prometheus rule files, per tenant. Patterns are globs, resolved against the config file's directory when
    /// relative, and expanded again at every reload (SIGHUP, `POST /-/reload`), so new files are picked up.
    package struct Rules: Sendable {
        /// Glob patterns per tenant; `rules.files` belongs to the tenant `default`.
        package var files: [Tenant: [String]] = [:]

        package init() {}
    }

    /// Rule evaluation and the built-in Alertmanager-compatible notifier.
    package struct Alerting: Sendable {
        /// The Alertmanager configuration file of the built-in notifier; nil runs it with one receiver that sends
        /// nothing (its v2 API still takes alerts and silences).
        package var alertmanagerConfig: String?
        /// The server's URL as users reach it: `$externalURL` in templates, alerts' generator URLs and notifications.
        package var externalURL: String = ""
        /// The interval of groups that set none (Prometheus' `evaluation_interval`).
        package var evaluationInterval: Duration = .seconds(60)
        /// The least time between two sends of an unchanged firing alert (Prometheus' `--rules.alert.resend-delay`).
        package var resendDelay: Duration = .seconds(60)
        /// Labels added to every alert and given to templates as `$externalLabels`.
        package var externalLabels: [String: String] = [:]
        /// External Alertmanagers (base URLs) that get every alert too, as Prometheus' `alerting.alertmanagers`.
        package var forwardTo: [String] = []
        /// With several servers, the rules are evaluated by one at a time: the holder of a lease in NATS JetStream.
        /// Nil evaluates in this server always (one server).
        package var leaderElection: LeaderElection?

        /// The lease that elects the one evaluating server (see `JetStreamLease`).
        package struct LeaderElection: Sendable {
            package var natsURL: String
            /// The lease's name: servers sharing rules share it.
            package var name: String = "alerting"
            /// A holder that stops renewing loses the lease after this long; another server takes over then.
            package var ttl: Duration = .seconds(15)
            /// The JetStream stream the alerting state is shared in (rule alerts, notifier alerts, silences,
            /// notification log); `SIGHTLINE_ALERTING_<name>` when nil.
            package var stateStream: String?

            package init(natsURL: String) { self.natsURL = natsURL }
        }

        package init() {}
    }

    /// Settings of the log store.
    package struct Logs: Sendable {
        /// Records older than this are deleted, unless a rule says otherwise; nil keeps them regardless of age.
        package var retention: Duration? = .seconds(15 * 86_400)
        /// Retention per tenant and stream selector; the first rule that matches a stream decides.
        package var retentionRules: [RetentionRule] = []
        /// A stream's current generation rolls over to a new one past this many bytes…
        package var rolloverMaxBytes: Int = 1 << 30
        /// …or this age.
        package var rolloverMaxAge: Duration = .seconds(86_400)
        /// How often parts are merged, generations rolled over and retention applied.
        package var maintenanceInterval: Duration = .seconds(60)

        /// Keep the streams matching `matchers` (of `tenant`, or of every tenant) for `maxAge`.
        package struct RetentionRule: Sendable {
            package var tenant: Tenant?
            package var matchers: [LabelMatcher]
            package var maxAge: Duration
            package init(tenant: Tenant?, matchers: [LabelMatcher], maxAge: Duration) {
                self.tenant = tenant
                self.matchers = matchers
                self.maxAge = maxAge
            }
        }

        package init() {}
    }

    /// Settings of tracing.
    package struct Traces: Sendable {
        /// Parts whose spans all started longer ago than this are deleted; nil keeps spans regardless of age.
        package var retention: Duration? = .seconds(15 * 86_400)
        /// How often trace parts are merged and retention applied.
        package var maintenanceInterval: Duration = .seconds(60)
        /// Whether RED metrics and the service graph are derived from spans (see ``SpanMetrics``).
        package var spanMetrics: Bool = true
        /// How often the derived series get a new sample.
        package var spanMetricsInterval: Duration = .seconds(15)
        /// Whether Sightline traces the requests it serves into its own trace store.
        package var selfTracing: Bool = true
        /// Whether the ingestion routes (the hot path) are traced too.
        package var selfTracingIngest: Bool = false
        /// The tenant Sightline's own spans belong to.
        package var selfTracingTenant: Tenant = .default

        package init() {}
    }

    /// A listener of a protocol sent over UDP and TCP (syslog, Graphite, OpenTSDB telnet).
    package struct Listener: Sendable {
        /// Where to receive datagrams; nil for none.
        package var udpAddress: HostAndPort?
        /// Where to receive TCP streams; nil for none.
        package var tcpAddress: HostAndPort?
        /// The tenant the records belong to.
        package var tenant: Tenant = .default
        /// The longest message (line); a longer TCP frame closes its connection, a longer datagram is cut by the socket.
        package var maxMessageBytes: Int = 1 << 20

        package init() {}
    }

    /// Write-ahead log settings.
    package struct WAL: Sendable {
        package var segmentSize: Int = 64 << 20
        package var fsync: FsyncPolicy = .always
        /// How often the stores persist what they hold, so WAL segments can be removed.
        package var checkpointInterval: Duration = .seconds(30)
        /// A checkpoint also starts, before the interval is up, once the WAL holds this many bytes (0: only by
        /// interval): it bounds what the stores hold in memory during a burst, and memory the stores free at a
        /// checkpoint is reused instead of fresh pages faulted in.
        package var checkpointBytes: Int64 = 256 << 20

        package init() {}
    }

    package init() {}

    /// Settings of the metrics engine.
    package struct Metrics: Sendable {
        /// Blocks older than this are deleted; nil keeps data regardless of age.
        package var retention: Duration? = .seconds(15 * 86_400)
        /// Per tenant, the oldest blocks are deleted while the blocks take more bytes than this; nil means no bound.
        package var retentionBytes: Int64?
        /// Samples up to this much older than their series' newest sample are accepted.
        package var outOfOrderWindow: Duration = .seconds(3600)
        /// Most active series per tenant; 0 means no limit.
        package var maxSeriesPerTenant: Int = 0
        /// Most samples per request; 0 means no limit.
        package var maxSamplesPerRequest: Int = 0
        /// Most exemplars kept per tenant, the newest; 0 keeps none.
        package var maxExemplarsPerTenant: Int = 100_000
        /// How often blocks are compacted and retention applied.
        package var maintenanceInterval: Duration = .seconds(60)

        package init() {}
    }
}

/// A listening address.
package struct HostAndPort: Sendable, Hashable, CustomStringConvertible {
    package var host: String
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (`[v6]:port` for IPv6); port 0 asks the system for a free one.
    package init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Bounds on what one request may carry. Every limit answers with a 4xx that names it and a counted rejection.
package struct IngestLimits: Sendable {
    /// Largest request body, after decompression.
    package var maxBodyBytes: Int = 16 << 20
    /// Most labels one metric series may have (`__name__` included).
    package var maxLabelsPerSeries: Int = 64
    /// Longest label name or value.
    package var maxLabelValueBytes: Int = 4096
    /// Longest log body (its text form).
    package var maxLogBodyBytes: Int = 256 << 10
    /// What happens to a log record whose body is longer than ``maxLogBodyBytes``.
    package var longLogBodies: LongLogBodyPolicy = .reject
    /// Most attributes on one log record or span.
    package var maxAttributes: Int = 256

    package init() {}
}

/// What the server does with a log body over the length limit. Either way it is counted; it is never cut silently.
package enum LongLogBodyPolicy: String, Sendable, CaseIterable {
    /// Refuse the record with a 4xx naming the limit (Loki's default).
    case reject
    /// Keep the first bytes up to the limit (on a UTF-8 character boundary) and flag the record with the attribute
    /// ``LongLogBodyPolicy/truncatedAttribute`` holding the original length in bytes.
    case truncate

    /// The attribute a truncated record carries.
    package static let truncatedAttribute = "sightline.truncated_from_bytes"
}

/// What one bearer token grants.
package struct TokenGrant: Sendable, Hashable {
    package var token: String
    package var tenant: Tenant
    package var roles: Set<Role>

    package init(token: String, tenant: Tenant, roles: Set<Role>) {
        self.token = token
        self.tenant = tenant
        self.roles = roles
    }
}

/// What a caller may do.
package enum Role: String, Sendable, Hashable, CaseIterable {
    /// Send data.
    case ingest
    /// Read data.
    case query
    /// Operate the server: its own metrics, admin APIs.
    case admin
}
