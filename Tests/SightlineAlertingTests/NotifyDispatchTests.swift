import Foundation
import Logging
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineAlerting

/// Builds a notifier over a fresh directory with a manual clock and a fake transport.
struct NotifyHarness {
    let clock = ManualNotifyClock(notifyT0)
    let transport = FakeTransport()
    let directory: TemporaryDirectory
    let config: NotifyConfig
    let notifier: Notifier
    let tenant = Tenant.default

    init(_ yaml: String) throws {
        directory = try TemporaryDirectory(prefix: "notify")
        // Alerts resolve an hour after their last update unless the test sends an end.
        config = try NotifyConfigFile.parse(yaml.hasPrefix("global:") ? yaml : "global:\n  resolve_timeout: 1h\n" + yaml, path: "am.yml")
        notifier = try Notifier(config: config, dataDirectory: directory.path, externalURL: "http://sightline", clock: clock, transport: transport, logger: Self.quiet)
    }

    /// A logger that keeps expected delivery failures out of the test output.
    static let quiet: Logger = {
        var logger = Logger(label: "notify-test")
        logger.logLevel = .critical
        return logger
    }()

    /// A second notifier over the same directory, as after a restart.
    func restarted() throws -> Notifier {
        try Notifier(config: config, dataDirectory: directory.path, externalURL: "http://sightline", clock: clock, transport: transport, logger: Self.quiet)
    }

    /// Moves the clock to `t0 + seconds` and runs one step.
    func at(_ seconds: Int64, _ notifier: Notifier? = nil) async {
        clock.set(notifyT0 + seconds * 1000)
        await (notifier ?? self.notifier).tick()
    }

    /// Moves the clock to `t0 + seconds` and sends alerts.
    func send(_ alerts: [Alert], at seconds: Int64) async {
        clock.set(notifyT0 + seconds * 1000)
        await notifier.send(alerts, tenant: tenant)
    }

    /// The webhook bodies sent so far, as (status, alert names with their statuses).
    func sent() async -> [(String, [String])] {
        await transport.bodies.map { body in
            let object = jsonObject(body)
            let alerts = (object["alerts"] as? [[String: Any]] ?? []).map { alert in
                let labels = alert["labels"] as? [String: String] ?? [:]
                return "\(labels["instance"] ?? "?"):\(alert["status"] as? String ?? "?")"
            }
            return (object["status"] as? String ?? "?", alerts)
        }
    }
}

let webhookOnly = """
    route:
      receiver: hook
      group_by: [alertname]
    receivers:
      - name: hook
        webhook_configs:
          - url: http://127.0.0.1:9/hook
    """

@Suite struct NotifyDispatchTests {
    @Test func groupWaitIntervalRepeatAndResolved() async throws {
        let h = try NotifyHarness(webhookOnly)
        defer { h.directory.remove() }
        await h.notifier.send([firing(["alertname": "Disk", "instance": "a"])], tenant: h.tenant)
        await h.at(0)
        await h.at(29)
        #expect(await h.sent().isEmpty)
        await h.at(30)  // group_wait
        #expect(await h.sent().map(\.1) == [["a:firing"]])
        // A second alert joins; it waits for group_interval, not group_wait.
        await h.notifier.send([firing(["alertname": "Disk", "instance": "b"], at: notifyT0 + 60_000)], tenant: h.tenant)
        await h.notifier.send([firing(["alertname": "Disk", "instance": "a"])], tenant: h.tenant)
        await h.at(60)
        #expect(await h.sent().count == 1)
        await h.at(330)
        #expect(await h.sent().map(\.1).last == ["a:firing", "b:firing"])
        // Nothing changed: no notification until repeat_interval (4h) has passed.
        for minutes in stride(from: 10, through: 245, by: 5) {
            await h.send([firing(["alertname": "Disk", "instance": "a"]), firing(["alertname": "Disk", "instance": "b"], at: notifyT0 + 60_000)], at: 30 + Int64(minutes) * 60)
            await h.at(30 + Int64(minutes) * 60)
        }
        #expect(await h.sent().count == 2)
        // The last notification was at 5m30s; the first flush more than 4h later is at 4h10m30s.
        await h.send([firing(["alertname": "Disk", "instance": "a"]), firing(["alertname": "Disk", "instance": "b"], at: notifyT0 + 60_000)], at: 30 + 250 * 60)
        await h.at(30 + 250 * 60)
        #expect(await h.sent().count == 3)
        // a resolves: the next flush says so (send_resolved is the webhook default).
        let resolveAt = notifyT0 + (30 + 251 * 60) * 1000
        h.clock.set(resolveAt)
        await h.notifier.send([firing(["alertname": "Disk", "instance": "a"], endsAt: resolveAt)], tenant: h.tenant)
        await h.notifier.send([firing(["alertname": "Disk", "instance": "b"], at: notifyT0 + 60_000)], tenant: h.tenant)
        await h.at(30 + 255 * 60)
        let last = try #require(await h.sent().last)
        #expect(last.0 == "firing" && last.1 == ["a:resolved", "b:firing"])
        // b times out (resolve_timeout, 1h after its last update): an all-resolved notification, then the group is gone.
        await h.at(30 + 310 * 60)
        #expect(await h.sent().count == 4)
        await h.at(30 + 315 * 60)
        let final = try #require(await h.sent().last)
        #expect(final.0 == "resolved" && final.1 == ["b:resolved"])
        #expect(await h.notifier.dispatcher(h.tenant).groups.isEmpty)
        await h.at(30 + 400 * 60)
        #expect(await h.sent().count == 5)
    }

    @Test func resolvedAlertsWithoutSendResolvedAreLoggedNotSent() async throws {
        let h = try NotifyHarness(webhookOnly.replacingOccurrences(of: "/hook\n", with: "/hook\n        send_resolved: false\n") + "\n        send_resolved: false")
        defer { h.directory.remove() }
        await h.notifier.send([firing(["alertname": "X", "instance": "a"]), firing(["alertname": "X", "instance": "b"])], tenant: h.tenant)
        await h.at(30)
        #expect(await h.sent().map(\.1) == [["a:firing", "b:firing"]])
        h.clock.set(notifyT0 + 100_000)
        await h.notifier.send([firing(["alertname": "X", "instance": "a"], endsAt: notifyT0 + 100_000)], tenant: h.tenant)
        await h.at(330)
        // Only b fires and it was already notified: nothing to send, nothing new (a's resolution is not sent).
        #expect(await h.sent().count == 1)
        await h.notifier.send([firing(["alertname": "X", "instance": "b"], endsAt: notifyT0 + 400_000)], tenant: h.tenant)
        await h.at(630)
        #expect(await h.sent().count == 1)
        let log = await h.notifier.dispatcher(h.tenant).log
        #expect(log.entries.values.first?.firing.isEmpty == true)
    }

    @Test func oldAlertsFlushAtOnceAndGroupByAllSplitsGroups() async throws {
        let h = try NotifyHarness(webhookOnly.replacingOccurrences(of: "[alertname]", with: "['...']"))
        defer { h.directory.remove() }
        await h.notifier.send([firing(["alertname": "X", "instance": "a"], at: notifyT0 - 3_600_000), firing(["alertname": "X", "instance": "b"], at: notifyT0 - 3_600_000)], tenant: h.tenant)
        await h.at(0)
        #expect(await h.sent().map(\.1).sorted { $0[0] < $1[0] } == [["a:firing"], ["b:firing"]])
        let keys = await h.transport.bodies.compactMap { jsonObject($0)["groupKey"] as? String }.sorted()
        #expect(keys == [#"{}:{alertname="X", instance="a"}"#, #"{}:{alertname="X", instance="b"}"#])
    }

    @Test func continueSendsToEveryMatchingRoute() async throws {
        let h = try NotifyHarness("""
            route:
              receiver: a
              routes:
                - matchers: [team=db]
                  receiver: b
                  continue: true
                - matchers: [team=~"d.*"]
                  receiver: c
            receivers:
              - name: a
                webhook_configs: [{url: "http://h/a"}]
              - name: b
                webhook_configs: [{url: "http://h/b"}]
              - name: c
                webhook_configs: [{url: "http://h/c"}]
            """)
        defer { h.directory.remove() }
        await h.notifier.send([firing(["alertname": "X", "team": "db"]), firing(["alertname": "Y", "team": "web"])], tenant: h.tenant)
        await h.at(30)
        #expect(await h.transport.posts.map(\.url).sorted() == ["http://h/a", "http://h/b", "http://h/c"])
    }

    @Test func inhibitionMutesTargetsWithEqualLabels() async throws {
        let h = try NotifyHarness("""
            route:
              receiver: hook
              group_by: ['...']
            inhibit_rules:
              - source_matchers: [severity="critical"]
                target_matchers: [severity="warning"]
                equal: [cluster]
            receivers:
              - name: hook
                webhook_configs: [{url: "http://h/hook"}]
            """)
        defer { h.directory.remove() }
        await h.notifier.send([
            firing(["alertname": "Down", "severity": "critical", "cluster": "c1", "instance": "src"]),
            firing(["alertname": "Slow", "severity": "warning", "cluster": "c1", "instance": "muted"]),
            firing(["alertname": "Slow", "severity": "warning", "cluster": "c2", "instance": "other"]),
        ], tenant: h.tenant)
        await h.at(30)
        #expect(await h.sent().flatMap(\.1).sorted() == ["other:firing", "src:firing"])
        let dispatcher = await h.notifier.dispatcher(h.tenant)
        #expect(dispatcher.inhibitors(of: Labels(["severity": "warning", "cluster": "c1"]), config: h.config, nowMs: notifyT0 + 30_000).count == 1)
        // The source resolves: the target is notified at its group's next flush.
        h.clock.set(notifyT0 + 40_000)
        await h.notifier.send([firing(["alertname": "Down", "severity": "critical", "cluster": "c1", "instance": "src"], endsAt: notifyT0 + 40_000)], tenant: h.tenant)
        await h.at(330)
        #expect(await h.sent().flatMap(\.1).contains("muted:firing"))
    }

    @Test func inhibitionIndexFollowsAlertmanagerRules() throws {
        let rule = InhibitRule(
            sourceMatchers: [try MatcherText.parse("severity=~\"critical|warning\"")],
            targetMatchers: [try MatcherText.parse("severity=~\"warning|info\"")], equal: ["cluster"])
        func alert(_ severity: String, _ cluster: String?) -> StoredAlert {
            var pairs = [Label("alertname", "X"), Label("severity", severity)]
            if let cluster { pairs.append(Label("cluster", cluster)) }
            return StoredAlert(labels: Labels(pairs), annotations: Labels([]), startsAtMs: 0, endsAtMs: 10, generatorURL: "", updatedAtMs: 0, timeout: false)
        }
        let critical = alert("critical", "c1")
        let warning = alert("warning", "c1")
        let info = alert("info", "c1")
        let index = InhibitionIndex(rules: [rule], alerts: [critical, warning, info])
        // info is inhibited by critical and warning; warning (source and target) only by critical, never by itself.
        #expect(index.inhibitors(of: info.labels) == [critical.fingerprint, warning.fingerprint].sorted())
        #expect(index.inhibitors(of: warning.labels) == [critical.fingerprint])
        #expect(index.inhibitors(of: critical.labels).isEmpty)
        // A missing equal label counts as empty on both sides.
        let bare = InhibitionIndex(rules: [rule], alerts: [alert("critical", nil)])
        #expect(bare.inhibitors(of: alert("info", nil).labels).count == 1)
        #expect(bare.inhibitors(of: info.labels).isEmpty)
    }

    @Test func silencesMuteUntilExpiredAndPersist() async throws {
        let h = try NotifyHarness(webhookOnly)
        defer { h.directory.remove() }
        let silence = Silence(
            matchers: [.init(name: "instance", value: "a|b", isRegex: true)], startsAtMs: notifyT0, endsAtMs: notifyT0 + 3_600_000,
            createdBy: "me", comment: "maintenance")
        let id = try await h.notifier.setSilence(silence, tenant: h.tenant)
        await h.notifier.send([firing(["alertname": "X", "instance": "a"]), firing(["alertname": "X", "instance": "c"])], tenant: h.tenant)
        await h.at(30)
        #expect(await h.sent().map(\.1) == [["c:firing"]])
        // The silence survives a restart.
        let restarted = try h.restarted()
        let restored = await restarted.dispatcher(h.tenant).silences.silences[id]
        #expect(restored?.comment == "maintenance" && restored?.state(atMs: notifyT0 + 60_000) == .active)
        #expect(await restarted.dispatcher(h.tenant).silences.silencing(Labels(["instance": "b"]), nowMs: notifyT0 + 60_000) == [id])
        try await h.notifier.expireSilence(id: id, tenant: h.tenant)
        await h.at(330)
        #expect(await h.sent().last?.1 == ["a:firing", "c:firing"])
        #expect(await h.notifier.dispatcher(h.tenant).silences.silences[id]?.state(atMs: notifyT0 + 400_000) == .expired)
        // Expiring twice is an error; so is an unknown id.
        await #expect(throws: SightlineError.self) { try await h.notifier.expireSilence(id: id, tenant: h.tenant) }
        await #expect(throws: SightlineError.self) { try await h.notifier.expireSilence(id: "nope", tenant: h.tenant) }
    }

    @Test func silenceUpdatesFollowAlertmanager() throws {
        var store = SilenceStore()
        var counter = 0
        let next = { () -> String in counter += 1; return "s\(counter)" }
        let base = Silence(matchers: [.init(name: "a", value: "b", isRegex: false)], startsAtMs: 1000, endsAtMs: 5000, createdBy: "x", comment: "c")
        let id = try store.set(base, nowMs: 2000, newID: next)
        #expect(store.silences[id]?.state(atMs: 2000) == .active)
        // Same matchers, same start, later end: updated in place.
        var longer = store.silences[id]!
        longer.endsAtMs = 9000
        #expect(try store.set(longer, nowMs: 2500, newID: next) == id)
        // Different matchers: the old one expires, a new one is made.
        var other = longer
        other.matchers = [.init(name: "a", value: "c", isRegex: false)]
        let newID = try store.set(other, nowMs: 3000, newID: next)
        #expect(newID != id && store.silences[id]?.state(atMs: 3000) == .expired)
        // Pending silences.
        let pending = try store.set(Silence(matchers: base.matchers, startsAtMs: 10_000, endsAtMs: 20_000, createdBy: "x", comment: ""), nowMs: 3000, newID: next)
        #expect(store.silences[pending]?.state(atMs: 3000) == .pending)
        try store.expire(id: pending, nowMs: 4000)
        #expect(store.silences[pending]?.state(atMs: 4000) == .expired)
        // Validation messages.
        let bad: [(Silence, String)] = [
            (Silence(matchers: [], startsAtMs: 0, endsAtMs: 10, createdBy: "", comment: ""), "at least one matcher"),
            (Silence(matchers: [.init(name: "a", value: ".*", isRegex: true)], startsAtMs: 0, endsAtMs: 99_999, createdBy: "", comment: ""), "must not match the empty string"),
            (Silence(matchers: base.matchers, startsAtMs: 9000, endsAtMs: 8000, createdBy: "", comment: ""), "start time must be before end time"),
            (Silence(matchers: base.matchers, startsAtMs: 0, endsAtMs: 10, createdBy: "", comment: ""), "end time can't be in the past"),
        ]
        for (silence, message) in bad {
            let error = sightlineError { _ = try store.set(silence, nowMs: 5000, newID: next) }
            #expect(error?.message.contains(message) == true, "\(error?.message ?? "no error")")
        }
    }

    @Test func muteAndActiveTimeIntervals() async throws {
        let h = try NotifyHarness("""
            route:
              receiver: hook
              routes:
                - matchers: [when=weekend]
                  receiver: hook
                  mute_time_intervals: [thursday]
                - matchers: [when=office]
                  receiver: hook
                  active_time_intervals: [thursday]
            receivers:
              - name: hook
                webhook_configs: [{url: "http://h/hook"}]
            time_intervals:
              - name: thursday
                time_intervals: [{weekdays: [thursday]}]
            """)
        defer { h.directory.remove() }
        await h.notifier.send([firing(["alertname": "X", "when": "weekend"]), firing(["alertname": "Y", "when": "office"])], tenant: h.tenant)
        await h.at(30)  // Thursday: weekend is muted, office is active
        #expect(await h.transport.bodies.count == 1)
        #expect(await h.transport.bodies.first?.contains("office") == true)
        // Friday: the muted route speaks up at a flush, the active-only one stays silent.
        await h.send([firing(["alertname": "X", "when": "weekend"]), firing(["alertname": "Y", "when": "office"])], at: 86_400 - 36_000 + 30)
        await h.at(86_400 - 36_000 + 30)
        let bodies = await h.transport.bodies
        #expect(bodies.count == 2 && bodies[1].contains("weekend"))
    }
}
