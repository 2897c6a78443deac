import Testing
import SightlineQuery
import SightlineTestSupport

@testable import SightlineCore
import SightlineIngest
@testable import SightlineServer
@testable import SightlineStorageCore

struct ConfigFileTests {
    @Test func readsTheAuditSection() throws {
        let config = try ConfigFile.parse(
            """
            audit:
              retention: 2555d
              tenant_retention: {acme: 30d}
              digest_interval: 5s
              segment_max_bytes: 1048576
            """, path: "sightline.yaml")
        #expect(config.audit.retention == .seconds(2555 * 86_400))
        #expect(config.audit.tenantRetention == [Tenant(uncheckedID: "acme"): .seconds(30 * 86_400)])
        #expect(config.audit.digestInterval == .seconds(5))
        #expect(config.audit.segmentMaxBytes == 1_048_576)
        #expect(try ConfigFile.parse("", path: "empty.yaml").audit.retention == nil)
    }

    @Test func readsTheUISectionRelativeToTheFile() throws {
        #expect(try ConfigFile.parse("ui:\n  assets_dir: ui\n", path: "/etc/sightline/sightline.yaml").ui.assetsDirectory == "/etc/sightline/ui")
        #expect(try ConfigFile.parse("ui:\n  assets_dir: /srv/ui\n", path: "sightline.yaml").ui.assetsDirectory == "/srv/ui")
        #expect(try ConfigFile.parse("", path: "empty.yaml").ui.assetsDirectory == nil)
    }

    @Test func readsTheLeaderElection() throws {
        let config = try ConfigFile.parse(
            "alerting:\n  leader_election: {nats_url: \"nats://n:4222\", name: eu, ttl: 9s}\n", path: "sightline.yaml")
        #expect(config.alerting.leaderElection?.natsURL == "nats://n:4222")
        #expect(config.alerting.leaderElection?.name == "eu" && config.alerting.leaderElection?.ttl == .seconds(9))
        #expect(try ConfigFile.parse("", path: "empty.yaml").alerting.leaderElection == nil)
        #expect(config.alerting.leaderElection?.stateStream == nil)
        let named = try ConfigFile.parse(
            "alerting:\n  leader_election: {nats_url: \"nats://n:4222\", state_stream: EU_ALERTS}\n", path: "sightline.yaml")
        #expect(named.alerting.leaderElection?.stateStream == "EU_ALERTS")
    }

    @Test func readsThePromQLFeatures() throws {
        let config = try ConfigFile.parse(
            "query:\n  enable_features: [promql-experimental-functions, promql-binop-fill-modifiers]\n", path: "sightline.yaml")
        #expect(config.promQLFeatures.enableExperimentalFunctions && config.promQLFeatures.enableBinopFillModifiers)
        #expect(!config.promQLFeatures.enableDurationExpressions && !config.promQLFeatures.enableExtendedRangeSelectors)
        #expect(try ConfigFile.parse("", path: "empty.yaml").promQLFeatures == .default)
        let otlp = try ConfigFile.parse(
            "otlp:\n  promote_resource_attributes: [k8s.namespace.name, service.version]\n  keep_identifying_resource_attributes: true\n"
                + "  translation_strategy: NoUTF8EscapingWithSuffixes\n",
            path: "s.yaml")
        #expect(otlp.otlpTranslation.promoteResourceAttributes == ["k8s.namespace.name", "service.version"])
        #expect(otlp.otlpTranslation.keepIdentifyingResourceAttributes)
        #expect(otlp.otlpTranslation.strategy == .noUTF8EscapingWithSuffixes)
        #expect(try ConfigFile.parse("", path: "empty.yaml").otlpTranslation.strategy == .underscoreEscapingWithSuffixes)
    }

    @Test func readsTheStorageSection() throws {
        let config = try ConfigFile.parse(
            """
            storage:
              backend: clickhouse
              clickhouse: {url: "http://ch:8123", database: obs, user: u, password: p, flush_interval: 250ms}
            """, path: "sightline.yaml")
        #expect(config.storage.backend == .clickhouse)
        #expect(config.storage.clickhouse.url == "http://ch:8123" && config.storage.clickhouse.database == "obs")
        #expect(config.storage.clickhouse.user == "u" && config.storage.clickhouse.password == "p")
        #expect(config.storage.clickhouse.flushInterval == .milliseconds(250))
        #expect(try ConfigFile.parse("", path: "empty.yaml").storage.backend == .embedded)
    }

    @Test func readsTheQueueSection() throws {
        let config = try ConfigFile.parse(
            """
            queue:
              nats_url: nats://nats.internal:4222
              stream: INGEST_EU
              consumer: eu-servers
              fetch_batch: 8
              ack_wait: 45s
              publish: true
              consume: false
            """, path: "sightline.yaml")
        #expect(config.queue.publish && !config.queue.consume)
        #expect(QueuePublisher.subject(for: config.queue) == "sightline.ingest.batch")
        #expect(config.queue.natsURL == "nats://nats.internal:4222")
        #expect(config.queue.stream == "INGEST_EU" && config.queue.consumer == "eu-servers")
        #expect(config.queue.fetchBatch == 8 && config.queue.ackWait == .seconds(45))
        #expect(config.queue.subjects == ["sightline.ingest.>"])
        let defaults = try ConfigFile.parse("", path: "empty.yaml").queue
        #expect(defaults.natsURL == nil && defaults.stream == "SIGHTLINE_INGEST" && defaults.consumer == "sightline-servers")
        #expect(defaults.fetchBatch == 32 && defaults.ackWait == .seconds(30))
        #expect(!defaults.publish && defaults.consume)
        let orphan = sightlineError { _ = try ConfigFile.parse("queue:\n  publish: true\n", path: "sightline.yaml") }
        #expect(orphan?.message.contains("queue.publish") == true && orphan?.message.contains("nats_url") == true, "\(String(describing: orphan))")
    }

    @Test func readsEveryKey() throws {
        let config = try ConfigFile.parse(
            """
            data_dir: /tmp/x
            http_address: 0.0.0.0:9000
            otlp_grpc_address: "[::1]:4318"
            log_level: debug
            wal:
              segment_size_bytes: 1048576
              fsync: interval
              fsync_interval: 200ms
              checkpoint_interval: 1m
              checkpoint_bytes: 0
            limits:
              max_body_bytes: 1024
              max_labels_per_series: 10
              long_log_bodies: truncate
            syslog:
              udp_address: 127.0.0.1:5514
              tcp_address: 127.0.0.1:6514
              tenant: ops
            graphite:
              tcp_address: 127.0.0.1:2003
              max_message_bytes: 4096
            opentsdb:
              udp_address: 127.0.0.1:4242
              tenant: tsdb
            auth:
              tokens:
                - token: t1
                  tenant: acme
                  roles: [ingest, query]
            """, path: "sightline.yaml")
        #expect(config.dataDirectory == "/tmp/x")
        #expect(config.httpAddress == HostAndPort(host: "0.0.0.0", port: 9000))
        #expect(config.otlpGRPCAddress == HostAndPort(host: "::1", port: 4318))
        #expect(config.logLevel == "debug")
        #expect(config.wal.segmentSize == 1_048_576)
        #expect(config.wal.fsync == .interval(.milliseconds(200)))
        #expect(config.wal.checkpointInterval == .seconds(60))
        #expect(config.wal.checkpointBytes == 0)
        #expect(ServerConfiguration().wal.checkpointBytes == 256 << 20)
        #expect(config.limits.maxBodyBytes == 1024)
        #expect(config.limits.maxLabelsPerSeries == 10)
        #expect(config.limits.longLogBodies == .truncate)
        #expect(config.syslog.udpAddress == HostAndPort(host: "127.0.0.1", port: 5514))
        #expect(config.syslog.tcpAddress == HostAndPort(host: "127.0.0.1", port: 6514))
        #expect(config.syslog.tenant == Tenant(uncheckedID: "ops"))
        #expect(config.graphite.tcpAddress == HostAndPort(host: "127.0.0.1", port: 2003) && config.graphite.udpAddress == nil)
        #expect(config.graphite.maxMessageBytes == 4096 && config.graphite.tenant == .default)
        #expect(config.openTSDB.udpAddress == HostAndPort(host: "127.0.0.1", port: 4242))
        #expect(config.openTSDB.tenant == Tenant(uncheckedID: "tsdb"))
        #expect(config.tokens == [TokenGrant(token: "t1", tenant: Tenant(uncheckedID: "acme"), roles: [.ingest, .query])])
    }

    @Test func emptyFileGivesDefaults() throws {
        let config = try ConfigFile.parse("", path: "empty.yaml")
        #expect(config.httpAddress == HostAndPort(host: "127.0.0.1", port: 7600))
        #expect(config.wal.fsync == .always)
    }

    /// Each bad file, and what the message must name.
    @Test(arguments: [
        ("limits:\n  max_bodyy_bytes: 3\n", ["limits.max_bodyy_bytes", "unknown key", "bad.yaml", "line 2"]),
        ("colour: blue\n", ["colour", "unknown key"]),
        ("http_address: localhost\n", ["http_address", "host:port"]),
        ("wal:\n  fsync: sometimes\n", ["wal.fsync", "sometimes"]),
        ("log_level: loud\n", ["log_level", "loud"]),
        ("syslog:\n  tenant: \"a b\"\n", ["syslog.tenant", "a b"]),
        ("syslog:\n  udp_address: 5514\n", ["syslog.udp_address", "host:port"]),
        ("graphite:\n  tcp_adress: 127.0.0.1:2003\n", ["graphite.tcp_adress", "unknown key"]),
        ("opentsdb:\n  max_message_bytes: 10\n", ["opentsdb.max_message_bytes", "480"]),
        ("limits:\n  long_log_bodies: cut\n", ["limits.long_log_bodies", "reject, truncate", "cut"]),
        ("limits:\n  max_body_bytes: -5\n", ["limits.max_body_bytes", "integer"]),
        ("auth:\n  tokens:\n    - token: x\n      tenant: \"bad tenant\"\n      roles: [ingest]\n", ["auth.tokens[0].tenant", "bad tenant"]),
        ("auth:\n  tokens:\n    - token: x\n      tenant: a\n      roles: [root]\n", ["auth.tokens[0].roles", "root"]),
        ("wal:\n  checkpoint_interval: soon\n", ["wal.checkpoint_interval", "duration"]),
        ("wal:\n  checkpoint_bytes: -1\n", ["wal.checkpoint_bytes", "integer"]),
        ("- a\n- b\n", ["top level", "mapping"]),
        ("audit:\n  tenant_retention: {\"a b\": 1d}\n", ["audit.tenant_retention", "a b"]),
        ("audit:\n  digest_interval: often\n", ["audit.digest_interval", "duration"]),
        ("ui:\n  folder: x\n", ["ui.folder", "unknown key"]),
        ("storage:\n  backend: cassandra\n", ["storage.backend", "embedded or clickhouse", "cassandra"]),
        ("alerting:\n  leader_election: {nats_url: \"http://n\"}\n", ["alerting.leader_election.nats_url", "nats://"]),
        ("alerting:\n  leader_election: {name: x}\n", ["alerting.leader_election", "nats_url is required"]),
        ("alerting:\n  leader_election: {nats_url: \"nats://n\", state_stream: a.b}\n", ["alerting.leader_election.state_stream", "a.b"]),
        ("storage:\n  clickhouse: {uri: x}\n", ["storage.clickhouse.uri", "unknown key"]),
        ("queue:\n  nats_url: http://nats:4222\n", ["queue.nats_url", "nats://", "http://nats:4222"]),
        ("queue:\n  stream: sightline.ingest\n", ["queue.stream", "sightline.ingest"]),
        ("queue:\n  fetch_batch: 0\n", ["queue.fetch_batch", "integer"]),
        ("queue:\n  ack_wait: forever\n", ["queue.ack_wait", "duration"]),
        ("queue:\n  subject: x\n", ["queue.subject", "unknown key"]),
        ("query:\n  enable_features: [native-histograms]\n", ["query.enable_features", "unknown feature \"native-histograms\"", "promql-experimental-functions"]),
        ("otlp:\n  promote_resource_attributes: [a, \"\"]\n", ["otlp.promote_resource_attributes", "empty promoted OTel resource attribute"]),
        ("otlp:\n  promote_resource_attributes: [a, a]\n", ["duplicated promoted OTel resource attribute \"a\""]),
        ("otlp:\n  translation_strategy: Escaped\n", ["otlp.translation_strategy", "unsupported OTLP translation strategy \"Escaped\" (use UnderscoreEscapingWithSuffixes,"]),
        ("query:\n  enable_features: promql-duration-expr\n", ["query.enable_features", "expected a list"]),
    ])
    func badFilesNameTheKeyAndFile(text: String, expected: [String]) {
        do {
            _ = try ConfigFile.parse(text, path: "bad.yaml")
            Issue.record("accepted: \(text)")
        } catch let error as SightlineError {
            #expect(error.code == .configuration)
            #expect(error.message.contains("bad.yaml"))
            for fragment in expected { #expect(error.message.contains(fragment), "\(error.message) lacks \(fragment)") }
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func durations() {
        #expect(DurationText.parse("1h30m") == .seconds(5400))
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        #expect(DurationText.parse("10") == nil)
        #expect(DurationText.parse("5x") == nil)
        #expect(DurationText.parse("") == nil)
    }
}
