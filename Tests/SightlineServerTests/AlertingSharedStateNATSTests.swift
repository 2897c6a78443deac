import Foundation
import Logging
import SightlineAlerting
import SightlineNATS
import SightlineTestSupport
import Testing

@testable import SightlineCore
@testable import SightlineQuery
@testable import SightlineServer

/// The NATS server the shared-state tests run against, from `SIGHTLINE_TEST_NATS_URL` (see scripts/nats-for-tests.sh).
private let sharedStateNATSURL = ProcessInfo.processInfo.environment["SIGHTLINE_TEST_NATS_URL"]

/// Rule output goes nowhere: these tests look at alerts only.
private struct DiscardingSampleSink: RuleSampleSink {
    func write(_ samples: [MetricSample], tenant: Tenant) async throws {}
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
private func holdsSoon(within timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// One server of the election in a test: its shared state on its own connection, notifier and rule evaluator.
private struct TestServer {
    let shared: SharedAlertingState
    let connection: NATSConnection
    let bucket: JetStreamKeyValue
    let notifier: Notifier
    let rules: RuleManager
    let directory: TemporaryDirectory

    static func start(_ election: ServerConfiguration.Alerting.LeaderElection, sending: Bool) async throws -> TestServer {
        var logger = Logger(label: "shared-state-test")
        logger.logLevel = .critical
        let shared = SharedAlertingState(election, logger: logger)
        let connection = try await NATSConnection.connect(to: election.natsURL, options: NATSConnectionOptions(name: "sightline-shared-state-tests", connectTimeout: .seconds(30)))
        let bucket = try JetStreamKeyValue(jetStream: JetStream(connection: connection), stream: shared.stream, subjectPrefix: shared.subjectPrefix)
        try await bucket.create()
        shared.attach(bucket)
        let directory = try TemporaryDirectory(prefix: "sightline-shared-state")
        let notifier = try Notifier(
            config: NotifyConfigFile.parse(AlertingRuntime.defaultNotifierConfig, path: "(test)"), dataDirectory: directory.file("alertmanager"),
            logger: logger, mirror: shared, sending: sending)
        let rules = RuleManager(
            engines: RuleQueryEngines(promql: PromQLRuleQueryEngine(engine: PromQLEngine(querier: InMemoryMetricQuerier()))),
            sampleSink: DiscardingSampleSink(), alertSink: notifier, options: RuleManager.Options(stateDirectory: directory.file("rules")),
            logger: logger, mirror: shared)
        return TestServer(shared: shared, connection: connection, bucket: bucket, notifier: notifier, rules: rules, directory: directory)
    }

    func stop() async {
        shared.detach()
        await connection.close()
        directory.remove()
    }
}

@Suite(.enabled(if: sharedStateNATSURL != nil, "SIGHTLINE_TEST_NATS_URL is not set; start a server with scripts/nats-for-tests.sh start"))
struct AlertingSharedStateNATSTests {
    @Test func aNewLeaderTakesOverTheNotifierStateAndSilencesReachEveryServer() async throws {
        var election = ServerConfiguration.Alerting.LeaderElection(natsURL: try #require(sharedStateNATSURL))
        election.name = "sharedtest\(UInt32.random(in: 0..<UInt32.max))"
        let a = try await TestServer.start(election, sending: true)
        let b = try await TestServer.start(election, sending: false)
        let follows = [a, b].map { server in
            Task { await server.shared.followSilences(connection: server.connection, bucket: server.bucket, notifier: server.notifier) }
        }

        // A leads (nothing shared yet) and holds an alert; B follows and mirrors only silences.
        await a.shared.takeOver(rules: a.rules, notifier: a.notifier)
        let now = await a.notifier.now()
        await a.notifier.receive(
            [Alert(labels: Labels(["alertname": "Disk"]), annotations: Labels([]), startsAtMs: now, endsAtMs: nil, generatorURL: "")], tenant: .default)
        await b.notifier.receive(
            [Alert(labels: Labels(["alertname": "FollowerOnly"]), annotations: Labels([]), startsAtMs: now, endsAtMs: nil, generatorURL: "")],
            tenant: .default)
        await a.shared.flush(timeout: .seconds(5))
        await b.shared.flush(timeout: .seconds(5))
        #expect(try await a.bucket.get("alerts.default") != nil)

        // A silence made through the follower reaches the leader, and one made through the leader the follower.
        let silence = Silence(
            matchers: [Silence.Matcher(name: "alertname", value: "Disk", isRegex: false)], startsAtMs: now, endsAtMs: now + 3_600_000,
            createdBy: "test", comment: "through b")
        let throughB = try await b.notifier.setSilence(silence, tenant: .default)
        let throughA = try await a.notifier.setSilence(silence, tenant: .default)
        #expect(await holdsSoon { await a.notifier.dispatcher(.default).silences.silences[throughB] != nil })
        #expect(await holdsSoon { await b.notifier.dispatcher(.default).silences.silences[throughA] != nil })

        // A hands over; its later alerts stay local. B takes the shared state over: A's alert, not its own.
        await a.shared.handOver(timeout: .seconds(5))
        let stored = try #require(try await a.bucket.get("alerts.default"))
        await a.notifier.receive(
            [Alert(labels: Labels(["alertname": "AfterHandOver"]), annotations: Labels([]), startsAtMs: now, endsAtMs: nil, generatorURL: "")],
            tenant: .default)
        await a.shared.flush(timeout: .seconds(5))
        #expect(try await a.bucket.get("alerts.default")?.sequence == stored.sequence)
        await b.shared.takeOver(rules: b.rules, notifier: b.notifier)
        let taken = await b.notifier.dispatcher(.default)
        #expect(taken.alerts.values.map { $0.labels["alertname"] } == ["Disk"])
        #expect(Set(taken.silences.silences.keys) == [throughA, throughB])

        for task in follows { task.cancel() }
        try await a.bucket.jetStream.deleteStream(a.shared.stream)
        await a.stop()
        await b.stop()
    }

    @Test func streamNamesComeFromTheElection() {
        var election = ServerConfiguration.Alerting.LeaderElection(natsURL: "nats://n:4222")
        election.name = "eu"
        let derived = SharedAlertingState(election, logger: Logger(label: "test"))
        #expect(derived.stream == "SIGHTLINE_ALERTING_eu" && derived.subjectPrefix == "sightline.alerting.eu")
        election.stateStream = "EU_ALERTS"
        #expect(SharedAlertingState(election, logger: Logger(label: "test")).stream == "EU_ALERTS")
    }
}
