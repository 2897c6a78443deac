import Foundation
import Logging
import SightlineCore
import SightlineQuery
import SightlineTestSupport
import Testing

@testable import SightlineAlerting

/// The alerting state machine, recording rules and rule health, driven with explicit evaluation times.
struct RulesEvaluationTests {
    private static let instanceA = Labels(["__name__": "temperature", "instance": "a"])

    private static let alertRules = """
        groups:
          - name: heat
            interval: 1m
            rules:
              - alert: TooHot
                expr: temperature > 10
                for: 2m
                labels:
                  severity: page
                  room: "{{ $labels.instance }}-room"
                annotations:
                  summary: "{{ $labels.instance }} is at {{ $value }} degrees"
        """

    @Test func pendingThenFiringThenResolved() async throws {
        let h = try RulesHarness(Self.alertRules)
        defer { h.directory.remove() }
        try await h.load()
        h.store.add(Self.instanceA, [(0, 20), (60_000, 21), (120_000, 22), (180_000, 5)])

        await h.evaluate(atSeconds: 0)
        var alerts = await h.alerts(of: "TooHot")
        #expect(alerts.count == 1)
        #expect(alerts.first?.state == .pending)
        #expect(alerts.first?.labels == Labels(["alertname": "TooHot", "instance": "a", "room": "a-room", "severity": "page"]))
        #expect(alerts.first?.annotations == Labels(["summary": "a is at 20 degrees"]))
        let pendingSeries = Labels([
            "__name__": "ALERTS", "alertname": "TooHot", "alertstate": "pending", "instance": "a", "room": "a-room", "severity": "page",
        ])
        #expect(h.store.written("ALERTS", atMs: 0).map(\.labels) == [pendingSeries])
        #expect(h.store.written("ALERTS_FOR_STATE", atMs: 0).map(\.value) == [0])
        #expect(h.alerts.take().isEmpty)  // pending alerts are not sent

        await h.evaluate(atSeconds: 60)
        #expect(await h.alerts(of: "TooHot").first?.state == .pending)
        #expect(await h.alerts(of: "TooHot").first?.annotations == Labels(["summary": "a is at 21 degrees"]))

        await h.evaluate(atSeconds: 120)
        alerts = await h.alerts(of: "TooHot")
        #expect(alerts.first?.state == .firing)
        #expect(alerts.first?.activeAtMs == 0)
        let atTwoMinutes = h.store.written("ALERTS", atMs: 120_000)
        #expect(atTwoMinutes.contains { $0.labels["alertstate"] == "firing" && $0.value == 1 })
        #expect(atTwoMinutes.contains { $0.labels == pendingSeries && StaleNaN.isStale($0.value) })
        var sent = h.alerts.take()
        #expect(sent.count == 1)
        #expect(sent.first?.first?.startsAtMs == 120_000)
        let validUntil: Int64? = 120_000 + 4 * 60_000
        #expect(sent.first?.first?.endsAtMs == validUntil)
        #expect(sent.first?.first?.generatorURL == "/graph?g0.expr=temperature+%3E+10&g0.tab=1")

        await h.evaluate(atSeconds: 180)
        alerts = await h.alerts(of: "TooHot")
        #expect(alerts.first?.state == .inactive)
        #expect(alerts.first?.resolvedAtMs == 180_000)
        sent = h.alerts.take()
        #expect(sent.first?.first?.endsAtMs == 180_000)
        #expect(sent.first?.first?.startsAtMs == 120_000)
        #expect(h.store.written("ALERTS", atMs: 180_000).allSatisfy { StaleNaN.isStale($0.value) })
        #expect(await h.rule("TooHot")?.health == .ok)

        // Resolved alerts are re-sent as resolved for 15 minutes, then dropped.
        await h.evaluate(atSeconds: 180 + 15 * 60)
        #expect(await h.alerts(of: "TooHot").count == 1)
        await h.evaluate(atSeconds: 180 + 15 * 60 + 60)
        #expect(await h.alerts(of: "TooHot").isEmpty)
    }

    @Test func resendOnlyAfterTheResendDelay() async throws {
        let h = try RulesHarness(Self.alertRules.replacingOccurrences(of: "for: 2m", with: "for: 0s"))
        defer { h.directory.remove() }
        try await h.load()
        h.store.add(Self.instanceA, (0...5).map { (Int64($0) * 60_000, 20) })
        await h.evaluate(atSeconds: 0)
        #expect(h.alerts.take().count == 1)  // fires at once with for: 0s
        await h.evaluate(atSeconds: 60)
        #expect(h.alerts.take().isEmpty)  // last sent + 1m is not before now
        await h.evaluate(atSeconds: 61)
        let resent = h.alerts.take().first?.first
        #expect(resent?.endsAtMs == 301_000)
    }

    @Test func keepFiringFor() async throws {
        let rules = """
            groups:
              - name: heat
                rules:
                  - alert: TooHot
                    expr: temperature > 10
                    keep_firing_for: 2m
            """
        let h = try RulesHarness(rules)
        defer { h.directory.remove() }
        try await h.load()
        h.store.add(Self.instanceA, [(0, 20), (60_000, 5), (120_000, 5), (180_000, 5)])
        await h.evaluate(atSeconds: 0)
        #expect(await h.alerts(of: "TooHot").first?.state == .firing)
        await h.evaluate(atSeconds: 60)
        var alert = await h.alerts(of: "TooHot").first
        #expect(alert?.state == .firing)
        #expect(alert?.keepFiringSinceMs == 60_000)
        #expect(h.store.written("ALERTS", atMs: 60_000).first?.value == 1)
        await h.evaluate(atSeconds: 120)
        #expect(await h.alerts(of: "TooHot").first?.state == .firing)
        await h.evaluate(atSeconds: 180)
        alert = await h.alerts(of: "TooHot").first
        #expect(alert?.state == .inactive)
        #expect(alert?.resolvedAtMs == 180_000)
    }

    @Test func flappingPendingAlertStartsOver() async throws {
        let h = try RulesHarness(Self.alertRules)
        defer { h.directory.remove() }
        try await h.load()
        h.store.add(Self.instanceA, [(0, 20), (60_000, 5), (120_000, 20), (180_000, 20), (240_000, 20)])
        await h.evaluate(atSeconds: 0)
        #expect(await h.alerts(of: "TooHot").first?.state == .pending)
        await h.evaluate(atSeconds: 60)
        #expect(await h.alerts(of: "TooHot").isEmpty)  // pending alerts vanish without a resolve
        await h.evaluate(atSeconds: 120)
        #expect(await h.alerts(of: "TooHot").first?.activeAtMs == 120_000)
        await h.evaluate(atSeconds: 180)
        #expect(await h.alerts(of: "TooHot").first?.state == .pending)
        await h.evaluate(atSeconds: 240)
        #expect(await h.alerts(of: "TooHot").first?.state == .firing)
        #expect(h.alerts.take().count == 1)
    }

    @Test func recordingRuleOutputFeedsLaterRules() async throws {
        let rules = """
            groups:
              - name: jobs
                labels: {team: infra}
                rules:
                  - record: job:up:sum
                    expr: sum by (job) (up)
                  - alert: TooFewUp
                    expr: job:up:sum < 2
            """
        let h = try RulesHarness(rules)
        defer { h.directory.remove() }
        try await h.load()
        h.store.add(Labels(["__name__": "up", "job": "api", "instance": "a"]), [(0, 1), (60_000, 1)])
        h.store.add(Labels(["__name__": "up", "job": "api", "instance": "b"]), [(0, 0)])
        await h.evaluate(atSeconds: 0)
        let recorded = h.store.written("job:up:sum", atMs: 0)
        #expect(recorded.map(\.labels) == [Labels(["__name__": "job:up:sum", "job": "api", "team": "infra"])])
        #expect(recorded.first?.value == 1)
        #expect(await h.alerts(of: "TooFewUp").first?.labels == Labels(["alertname": "TooFewUp", "job": "api", "team": "infra"]))

        // The series goes away: the recording rule writes a staleness marker for it.
        h.store.add(Labels(["__name__": "up", "job": "api", "instance": "a"]), [(60_000, StaleNaN.value)])
        h.store.add(Labels(["__name__": "up", "job": "api", "instance": "b"]), [(60_000, StaleNaN.value)])
        await h.evaluate(atSeconds: 60)
        let marker = h.store.written("job:up:sum", atMs: 60_000)
        #expect(marker.count == 1 && marker.allSatisfy { StaleNaN.isStale($0.value) })
    }

    @Test func limitExceededFailsTheRule() async throws {
        let rules = """
            groups:
              - name: heat
                limit: 1
                rules:
                  - alert: TooHot
                    expr: temperature > 10
                  - record: hot:count
                    expr: temperature
            """
        let h = try RulesHarness(rules)
        defer { h.directory.remove() }
        try await h.load()
        h.store.add(Self.instanceA, [(0, 20)])
        h.store.add(Labels(["__name__": "temperature", "instance": "b"]), [(0, 30)])
        await h.evaluate(atSeconds: 0)
        let alerting = await h.rule("TooHot")
        #expect(alerting?.health == .err)
        #expect(alerting?.lastError == "exceeded limit of 1 with 2 alerts")
        #expect(alerting?.alerts.isEmpty == true)
        let recording = await h.rule("hot:count")
        #expect(recording?.lastError == "exceeded limit of 1 with 2 series")
        #expect(h.store.writtenSamples.isEmpty)
        #expect(h.alerts.take().isEmpty)
    }

    @Test func evaluationErrorsSetHealth() async throws {
        let rules = """
            groups:
              - name: bad
                rules:
                  - record: same
                    expr: temperature
                    labels: {instance: fixed}
              - name: logs
                query_language: logql
                rules:
                  - alert: Errors
                    expr: 'sum(rate({app="api"} |= "error" [5m])) > 0'
            """
        let h = try RulesHarness(rules)
        defer { h.directory.remove() }
        try await h.load()
        #expect(await h.rule("same")?.health == .unknown)
        h.store.add(Self.instanceA, [(0, 20)])
        h.store.add(Labels(["__name__": "temperature", "instance": "b"]), [(0, 30)])
        await h.evaluate(atSeconds: 0)
        let same = await h.rule("same")
        #expect(same?.health == .err)
        #expect(same?.lastError == "vector contains metrics with the same labelset after applying rule labels")
        #expect(same?.lastEvaluationMs == 0)
        #expect(await h.rule("Errors")?.lastError == "no LogQL engine is available for rule evaluation")
    }

    @Test func logQLGroupsUseThePluggedEngine() async throws {
        struct FakeLogQL: RuleQueryEngine {
            func instant(_ expr: String, tenant: Tenant, timeMs: Int64) throws -> [(Labels, Double)] {
                [(Labels(["app": "api"]), 3)]
            }
            func check(_ expr: String) throws {
                if !expr.contains("{") { throw SightlineError(.invalidArgument, "parse error: syntax error: unexpected IDENTIFIER") }
            }
        }
        let store = RulesTestStore()
        let sink = RulesTestAlertSink()
        let directory = try TemporaryDirectoryForRules()
        defer { directory.remove() }
        let manager = RuleManager(
            engines: RuleQueryEngines(promql: PromQLRuleQueryEngine(engine: PromQLEngine(querier: store)), logql: FakeLogQL()),
            sampleSink: store, alertSink: sink, logger: .init(label: "test"))
        await manager.reload(groups: [
            .default: [
                RuleGroupDefinition(
                    name: "logs", file: "logs.yml", language: .logql,
                    rules: [RuleDefinition(kind: .alerting, name: "Errors", expr: "sum(rate({app=\"api\"}[1m])) > 0")])
            ]
        ])
        await manager.evaluate(tenant: .default, atMs: 0)
        let rule = await manager.status(tenant: .default).first?.rules.first
        #expect(rule?.health == .ok)
        #expect(rule?.alerts.first?.labels == Labels(["alertname": "Errors", "app": "api"]))
        #expect(sink.take().count == 1)
    }

    @Test func tenantsAreEvaluatedSeparately() async throws {
        let store = RulesTestStore()
        let sink = RulesTestAlertSink()
        let manager = RuleManager(
            engines: RuleQueryEngines(promql: PromQLRuleQueryEngine(engine: PromQLEngine(querier: store))), sampleSink: store,
            alertSink: sink, options: .init(evaluationIntervalMs: 10_000), logger: .init(label: "test"))
        let acme = try Tenant("acme")
        let rule = RuleDefinition(kind: .recording, name: "answer", expr: "vector(42)")
        await manager.reload(groups: [
            .default: [RuleGroupDefinition(name: "g", file: "a.yml", rules: [rule])],
            acme: [RuleGroupDefinition(name: "g", file: "b.yml", labels: [Label("tenant", "acme")], rules: [rule])],
        ])
        #expect(await manager.tenantsWithRules == [acme, .default])
        await manager.evaluateDue(nowMs: 0)
        await manager.evaluateDue(nowMs: 20_000)
        #expect(await manager.status(tenant: .default).first?.rules.first?.health == .ok)
        #expect(await manager.status(tenant: acme).first?.rules.first?.health == .ok)
        #expect(Set(store.writtenSamples.map(\.labels)) == [Labels(["__name__": "answer"]), Labels(["__name__": "answer", "tenant": "acme"])])
    }

    @Test func scheduledEvaluationUsesAlignedSlots() async throws {
        let h = try RulesHarness(Self.alertRules)
        defer { h.directory.remove() }
        try await h.load()
        h.store.add(Self.instanceA, (0...10).map { (Int64($0) * 60_000, 20) })
        let next = try #require(await h.manager.evaluateDue(nowMs: 1000))
        #expect(next > 1000 && next <= 61_000)
        #expect(h.store.writtenSamples.isEmpty)  // the first slot is in the future
        let after = try #require(await h.manager.evaluateDue(nowMs: next))
        #expect(after == next + 60_000)
        #expect(await h.rule("TooHot")?.lastEvaluationMs == next)
        // Missed slots are skipped to the latest one.
        let skipped = try #require(await h.manager.evaluateDue(nowMs: next + 150_000))
        #expect(skipped == next + 180_000)
        #expect(await h.rule("TooHot")?.lastEvaluationMs == next + 120_000)
    }
}

/// A temporary directory for tests that do not use ``RulesHarness``.
func TemporaryDirectoryForRules() throws -> TemporaryDirectory { try TemporaryDirectory(prefix: "sightline-rules") }

/// Template `query` calls inside alert annotations.
struct RulesTemplateQueryTests {
    @Test func annotationsCanQuery() async throws {
        let rules = """
            groups:
              - name: q
                rules:
                  - alert: Down
                    expr: up == 0
                    annotations:
                      others: '{{ with query "sum(up)" }}{{ . | first | value }} of {{ end }}{{ range query "up" }}{{ .Labels.instance }} {{ end }}'
                      bad: '{{ query "sum(" }}'
            """
        let h = try RulesHarness(rules)
        defer { h.directory.remove() }
        try await h.load()
        h.store.add(Labels(["__name__": "up", "instance": "a"]), [(0, 0)])
        h.store.add(Labels(["__name__": "up", "instance": "b"]), [(0, 1)])
        await h.evaluate(atSeconds: 0)
        let annotations = try #require(await h.alerts(of: "Down").first?.annotations)
        #expect(annotations["others"] == "1 of a b ")
        #expect(annotations["bad"]?.hasPrefix("<error expanding template: error executing template __alert_Down:") == true)
        #expect(annotations["bad"]?.contains("error calling query:") == true)
    }
}
