import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineAlerting

/// Reloads keep the state of unchanged rules; restarts restore alerts from the state directory.
struct RulesStateTests {
    private static let temperature = Labels(["__name__": "temperature", "instance": "a"])

    private static func rules(expr: String = "temperature > 10", summary: String = "hot") -> String {
        """
        groups:
          - name: heat
            rules:
              - alert: TooHot
                expr: \(expr)
                for: 2m
                annotations: {summary: \(summary)}
              - record: temperature:max
                expr: max(temperature)
        """
    }

    @Test func reloadKeepsStateOfUnchangedRules() async throws {
        let h = try RulesHarness(Self.rules())
        defer { h.directory.remove() }
        try await h.load()
        h.store.add(Self.temperature, (0...6).map { (Int64($0) * 60_000, 20) })
        await h.evaluate(atSeconds: 0)
        #expect(await h.alerts(of: "TooHot").first?.state == .pending)

        // Changing an annotation keeps the alert and its timer.
        try await h.load(Self.rules(summary: "very hot"))
        #expect(await h.alerts(of: "TooHot").first?.activeAtMs == 0)
        #expect(await h.rule("TooHot")?.health == .ok)
        await h.evaluate(atSeconds: 120)
        #expect(await h.alerts(of: "TooHot").first?.state == .firing)
        #expect(await h.alerts(of: "TooHot").first?.annotations == Labels(["summary": "very hot"]))

        // Changing the expression starts the rule over; its old series are marked stale at the next evaluation.
        try await h.load(Self.rules(expr: "temperature > 15"))
        #expect(await h.alerts(of: "TooHot").isEmpty)
        #expect(await h.rule("TooHot")?.health == .unknown)
        await h.evaluate(atSeconds: 180)
        let markers = h.store.written("ALERTS", atMs: 180_000).filter { StaleNaN.isStale($0.value) }
        #expect(markers.map { $0.labels["alertstate"] } == ["firing"])
        #expect(await h.alerts(of: "TooHot").first?.state == .pending)
        #expect(await h.alerts(of: "TooHot").first?.activeAtMs == 180_000)
    }

    @Test func reloadWithAnInvalidFileChangesNothing() async throws {
        let h = try RulesHarness(Self.rules())
        defer { h.directory.remove() }
        try await h.load()
        await #expect(throws: RuleFileErrors.self) { try await h.load("groups:\n  - name: x\n    rules:\n      - alert: A\n") }
        #expect(await h.rule("TooHot") != nil)
        #expect(await h.manager.status(tenant: .default).map(\.name) == ["heat"])
    }

    @Test func removedGroupsGetStaleMarkers() async throws {
        let h = try RulesHarness(Self.rules())
        defer { h.directory.remove() }
        try await h.load()
        h.store.add(Self.temperature, [(0, 20), (60_000, 20)])
        await h.evaluate(atSeconds: 0)
        #expect(h.store.written("temperature:max", atMs: 0).count == 1)
        try await h.load(
            "groups:\n  - name: other\n    rules:\n      - record: other\n        expr: vector(1)\n")
        await h.evaluate(atSeconds: 60)
        let stale = h.store.written("temperature:max", atMs: 60_000)
        #expect(stale.count == 1 && stale.allSatisfy { StaleNaN.isStale($0.value) })
    }

    @Test func tenantsWithoutGroupsGetStaleMarkersFromTheScheduler() async throws {
        let h = try RulesHarness(Self.rules())
        defer { h.directory.remove() }
        try await h.load()
        h.store.add(Self.temperature, [(0, 20)])
        await h.evaluate(atSeconds: 0)
        await h.manager.reload(groups: [:])
        #expect(await h.manager.tenantsWithRules.isEmpty)
        #expect(await h.manager.evaluateDue(nowMs: 30_000) == nil)
        let stale = h.store.writtenSamples.filter { $0.timestampMs == 30_000 }
        #expect(Set(stale.map(\.labels.metricName)) == ["ALERTS", "ALERTS_FOR_STATE", "temperature:max"])
        #expect(stale.allSatisfy { StaleNaN.isStale($0.value) })
    }

    @Test func restartRestoresAlerts() async throws {
        let directory = try TemporaryDirectory(prefix: "sightline-rules-restart")
        defer { directory.remove() }
        let first = try RulesHarness(Self.rules(), directory: directory)
        try await first.load()
        first.store.add(Self.temperature, (0...10).map { (Int64($0) * 60_000, 20) })
        await first.evaluate(atSeconds: 0)
        await first.evaluate(atSeconds: 120)
        #expect(await first.alerts(of: "TooHot").first?.state == .firing)
        #expect(first.alerts.take().first?.first?.startsAtMs == 120_000)
        #expect(try directory.entries().contains("state"))

        // A new manager over the same state directory: the alert is still firing since 2m, not pending anew.
        let second = try RulesHarness(Self.rules(), directory: directory)
        second.store.add(Self.temperature, (0...10).map { (Int64($0) * 60_000, 20) })
        try await second.load()
        let restored = try #require(await second.alerts(of: "TooHot").first)
        #expect(restored.state == .firing)
        #expect(restored.activeAtMs == 0)
        #expect(restored.firedAtMs == 120_000)
        await second.evaluate(atSeconds: 240)
        #expect(await second.alerts(of: "TooHot").first?.state == .firing)
        #expect(second.store.written("ALERTS_FOR_STATE", atMs: 240_000).first?.value == 0)
        let resent = second.alerts.take().first?.first
        #expect(resent?.startsAtMs == 120_000)  // the same alert, so the receiver does not page again

        // A pending alert's `for` timer continues across the restart.
        let third = try RulesHarness(Self.rules(expr: "temperature > 19"), directory: directory)
        third.store.add(Self.temperature, (0...10).map { (Int64($0) * 60_000, 20) })
        try await third.load()
        await third.evaluate(atSeconds: 300)
        let fourth = try RulesHarness(Self.rules(expr: "temperature > 19"), directory: directory)
        fourth.store.add(Self.temperature, (0...10).map { (Int64($0) * 60_000, 20) })
        try await fourth.load()
        #expect(await fourth.alerts(of: "TooHot").first?.state == .pending)
        await fourth.evaluate(atSeconds: 420)
        #expect(await fourth.alerts(of: "TooHot").first?.state == .firing)
        #expect(await fourth.alerts(of: "TooHot").first?.activeAtMs == 300_000)
    }

    @Test func corruptStateFileIsIgnored() async throws {
        let directory = try TemporaryDirectory(prefix: "sightline-rules-corrupt")
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.file("state"), withIntermediateDirectories: true)
        try "not json".write(toFile: directory.file("state/default.alerts.json"), atomically: true, encoding: .utf8)
        let h = try RulesHarness(Self.rules(), directory: directory)
        try await h.load()
        #expect(await h.alerts(of: "TooHot").isEmpty)
        #expect(throws: SightlineError.self) { try RuleStateFile.read(path: directory.file("state/default.alerts.json")) }
    }
}
