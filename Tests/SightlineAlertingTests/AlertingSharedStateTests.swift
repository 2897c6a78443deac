import Foundation
import Logging
import SightlineCore
import SightlineQuery
import SightlineTestSupport
import Synchronization
import Testing

@testable import SightlineAlerting

/// A mirror that keeps the last bytes of each document, as the shared stream would.
final class RecordingStateMirror: AlertingStateMirror {
    private let documents = Mutex<[AlertingStateDocument: [UInt8]]>([:])
    private let count = Mutex(0)

    func saved(_ document: AlertingStateDocument, bytes: [UInt8]) {
        documents.withLock { $0[document] = bytes }
        count.withLock { $0 += 1 }
    }

    /// The last bytes of a document.
    subscript(_ kind: AlertingStateDocument.Kind, tenant: Tenant = .default) -> [UInt8]? {
        documents.withLock { $0[AlertingStateDocument(kind, tenant: tenant)] }
    }

    /// How many saves were mirrored.
    var saves: Int { count.withLock { $0 } }
}

/// A notifier that shares its state through `mirror`, on the harness's clock and transport but its own directory.
private func sharingNotifier(_ h: NotifyHarness, mirror: RecordingStateMirror, sending: Bool) throws -> (Notifier, TemporaryDirectory) {
    let directory = try TemporaryDirectory(prefix: "notify-shared")
    let notifier = try Notifier(
        config: h.config, dataDirectory: directory.path, externalURL: "http://sightline", clock: h.clock, transport: h.transport,
        logger: NotifyHarness.quiet, mirror: mirror, sending: sending)
    return (notifier, directory)
}

/// The state a new leader takes over: document names, rule alerts, notifier alerts and log, silences.
@Suite struct AlertingSharedStateTests {
    @Test func documentNamesRoundTripAndRejectOthers() throws {
        let dotted = try Tenant("team.eu-1")
        let document = AlertingStateDocument(.notificationLog, tenant: dotted)
        #expect(document.name == "nflog.team%2Eeu-1")
        #expect(AlertingStateDocument(name: document.name) == document)
        for kind in AlertingStateDocument.Kind.allCases {
            let each = AlertingStateDocument(kind, tenant: .default)
            #expect(AlertingStateDocument(name: each.name) == each)
        }
        #expect(AlertingStateDocument(name: "other.acme") == nil)
        #expect(AlertingStateDocument(name: "rules") == nil)
        #expect(AlertingStateDocument(name: "rules.a b") == nil)
    }

    // MARK: Rules

    private static let rules = """
        groups:
          - name: heat
            rules:
              - alert: TooHot
                expr: temperature > 10
                for: 2m
        """

    @Test func aNewLeaderContinuesTheForTimerOfTheSharedState() async throws {
        let mirror = RecordingStateMirror()
        let leader = try RulesHarness(Self.rules)
        defer { leader.directory.remove() }
        let leaderManager = RuleManager(
            engines: RuleQueryEngines(promql: PromQLRuleQueryEngine(engine: PromQLEngine(querier: leader.store))), sampleSink: leader.store,
            alertSink: leader.alerts, options: RuleManager.Options(stateDirectory: leader.directory.file("state")), logger: Logger(label: "rules-test"),
            mirror: mirror)
        try await leaderManager.reload(files: [.default: [leader.directory.file("rules.yml")]])
        leader.store.add(Labels(["__name__": "temperature", "instance": "a"]), (0...6).map { (Int64($0) * 60_000, 20) })
        await leaderManager.evaluate(tenant: .default, atMs: 60_000)
        let document = try #require(mirror[.ruleAlerts])

        // The follower has the same rule file and data but never evaluated; it takes the shared state over.
        let otherState = try TemporaryDirectory(prefix: "rules-follower")
        defer { otherState.remove() }
        let follower = try RulesHarness(Self.rules, options: RuleManager.Options(stateDirectory: otherState.file("state")), directory: leader.directory)
        try await follower.load()
        try await follower.manager.replaceState(tenant: .default, document: document)
        #expect(await follower.alerts(of: "TooHot").first?.activeAtMs == 60_000)
        // Its store is the harness's own: give it the same samples.
        follower.store.add(Labels(["__name__": "temperature", "instance": "a"]), (0...6).map { (Int64($0) * 60_000, 20) })
        await follower.evaluate(atSeconds: 180)
        let alert = try #require(await follower.alerts(of: "TooHot").first)
        #expect(alert.state == .firing, "fires at activeAt + for, not 2m after the takeover")
        #expect(alert.activeAtMs == 60_000)
        // The taken-over state is in the follower's own state file too.
        #expect(FileManager.default.fileExists(atPath: otherState.file("state/default.alerts.json")))
    }

    @Test func sharedStateReplacesStaleLocalAlertsAndBadDocumentsChangeNothing() async throws {
        let h = try RulesHarness(Self.rules)
        defer { h.directory.remove() }
        try await h.load()
        h.store.add(Labels(["__name__": "temperature", "instance": "a"]), (0...6).map { (Int64($0) * 60_000, 20) })
        await h.evaluate(atSeconds: 0)
        #expect(await h.alerts(of: "TooHot").count == 1)

        let error = await #expect(throws: SightlineError.self) { try await h.manager.replaceState(tenant: .default, document: Array("{".utf8)) }
        #expect(error?.code == .dataCorrupted)
        #expect(await h.alerts(of: "TooHot").count == 1)

        // A document without alerts for the rule (they resolved under the last leader) empties it.
        try await h.manager.replaceState(tenant: .default, document: Array(#"{"version":1,"rules":[]}"#.utf8))
        #expect(await h.alerts(of: "TooHot").isEmpty)
    }

    // MARK: Notifier

    @Test func aNewLeaderDoesNotPageAgainButSendsTheResolve() async throws {
        let h = try NotifyHarness(webhookOnly)
        defer { h.directory.remove() }
        let mirror = RecordingStateMirror()
        let (leader, leaderDirectory) = try sharingNotifier(h, mirror: mirror, sending: true)
        defer { leaderDirectory.remove() }
        await leader.send([firing(["alertname": "Disk", "instance": "a"])], tenant: h.tenant)
        await h.at(30, leader)
        #expect(await h.transport.posts.count == 1)
        let alerts = try #require(mirror[.notifierAlerts])
        let log = try #require(mirror[.notificationLog])

        // The follower neither flushes nor sends while it does not lead, whatever it holds.
        let (follower, followerDirectory) = try sharingNotifier(h, mirror: mirror, sending: false)
        defer { followerDirectory.remove() }
        await follower.send([firing(["alertname": "Other", "instance": "b"])], tenant: h.tenant)
        await h.at(100, follower)
        #expect(await h.transport.posts.count == 1)

        // It takes the lead: the shared alerts and log replace its own; nothing is sent again.
        try await follower.replaceState(tenant: h.tenant, alerts: alerts, silences: mirror[.silences], log: log)
        await follower.setSending(true)
        #expect(await follower.dispatcher(h.tenant).alerts.count == 1)
        for second in stride(from: Int64(110), through: 1000, by: 10) { await h.at(second, follower) }
        #expect(await h.transport.posts.count == 1, "the log says the receiver knows")

        // A later resolve is sent once.
        h.clock.set(notifyT0 + 1010 * 1000)
        await follower.send([firing(["alertname": "Disk", "instance": "a"], endsAt: notifyT0 + 1010 * 1000)], tenant: h.tenant)
        for second in stride(from: Int64(1010), through: 2000, by: 10) { await h.at(second, follower) }
        #expect(await h.sent().map(\.0) == ["firing", "resolved"])
    }

    @Test func aLeaderBackFromAConnectionLossKeepsWhatItSentThatNeverReachedTheStream() async throws {
        let h = try NotifyHarness(webhookOnly)
        defer { h.directory.remove() }
        let mirror = RecordingStateMirror()
        let (notifier, directory) = try sharingNotifier(h, mirror: mirror, sending: true)
        defer { directory.remove() }
        await notifier.send([firing(["alertname": "Disk", "instance": "a"])], tenant: h.tenant)
        await h.at(30, notifier)
        // What the stream holds when the connection fails; the next page is logged locally only.
        let storedAlerts = try #require(mirror[.notifierAlerts])
        let storedLog = try #require(mirror[.notificationLog])
        let net = firing(["alertname": "Net", "instance": "b"], at: notifyT0 + 40_000)
        h.clock.set(notifyT0 + 40_000)
        await notifier.send([net], tenant: h.tenant)
        await h.at(80, notifier)
        #expect(await h.transport.posts.count == 2)

        // It wins the lease again and takes the (older) shared state over; the rules send Net again.
        await notifier.stopSending()
        try await notifier.replaceState(tenant: h.tenant, alerts: storedAlerts, silences: nil, log: storedLog)
        await notifier.send([net], tenant: h.tenant)
        await notifier.setSending(true)
        for second in stride(from: Int64(90), through: 1000, by: 10) { await h.at(second, notifier) }
        #expect(await h.transport.posts.count == 2, "its own log entry for Net was kept")
        // And the merged log went back to the stream.
        let merged = try JSONDecoder().decode([String: NotificationLog.Entry].self, from: Data(try #require(mirror[.notificationLog])))
        #expect(merged.count == 2)
    }

    @Test func notificationLogsMergeByTheLaterEntry() {
        var log = NotificationLog(entries: [
            "a": .init(firing: [1], resolved: [], timestampMs: 10, expiresAtMs: 100),
            "b": .init(firing: [2], resolved: [], timestampMs: 10, expiresAtMs: 100),
        ])
        let changed = log.merge([
            "a": .init(firing: [9], resolved: [], timestampMs: 5, expiresAtMs: 100),
            "b": .init(firing: [], resolved: [2], timestampMs: 20, expiresAtMs: 200),
            "c": .init(firing: [3], resolved: [], timestampMs: 1, expiresAtMs: 100),
        ])
        #expect(changed)
        #expect(log.entries["a"]?.firing == [1])
        #expect(log.entries["b"]?.resolved == [2])
        #expect(log.entries["c"] != nil)
        let again = log.merge(log.entries)
        #expect(again == false)
    }

    @Test func aNotifierThatStopsSendingKeepsItsGroupsForTheNextStart() async throws {
        let h = try NotifyHarness(webhookOnly)
        defer { h.directory.remove() }
        await h.notifier.send([firing(["alertname": "Disk", "instance": "a"])], tenant: h.tenant)
        await h.notifier.stopSending()
        #expect(await h.notifier.isSending == false)
        await h.at(60)
        #expect(await h.transport.posts.isEmpty)
        await h.notifier.setSending(true)
        await h.at(61)
        #expect(await h.transport.posts.count == 1)
    }

    @Test func badSharedDocumentsAreClearErrorsAndChangeNothing() async throws {
        let h = try NotifyHarness(webhookOnly)
        defer { h.directory.remove() }
        await h.notifier.send([firing(["alertname": "Disk", "instance": "a"])], tenant: h.tenant)
        let error = await #expect(throws: SightlineError.self) {
            try await h.notifier.replaceState(tenant: h.tenant, alerts: Array("[]".utf8), silences: nil, log: Array("[1]".utf8))
        }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains("nflog") == true)
        #expect(await h.notifier.dispatcher(h.tenant).alerts.count == 1)
        await #expect(throws: SightlineError.self) { try await h.notifier.mergeSilences(Array("{}".utf8), tenant: h.tenant) }
    }

    // MARK: Silences

    private static func silence(_ id: String = "", endsAt: Int64, updatedAt: Int64 = 0, comment: String = "maintenance") -> Silence {
        Silence(
            id: id, matchers: [Silence.Matcher(name: "alertname", value: "Disk", isRegex: false)], startsAtMs: notifyT0,
            endsAtMs: endsAt, updatedAtMs: updatedAt, createdBy: "test", comment: comment)
    }

    @Test func aSilenceMadeThroughAFollowerMutesTheLeadersNotification() async throws {
        let h = try NotifyHarness(webhookOnly)
        defer { h.directory.remove() }
        let followerMirror = RecordingStateMirror()
        let (follower, followerDirectory) = try sharingNotifier(h, mirror: followerMirror, sending: false)
        defer { followerDirectory.remove() }
        let id = try await follower.setSilence(Self.silence(endsAt: notifyT0 + 3_600_000), tenant: h.tenant)
        let document = try #require(followerMirror[.silences])

        let leaderMirror = RecordingStateMirror()
        let (leader, leaderDirectory) = try sharingNotifier(h, mirror: leaderMirror, sending: true)
        defer { leaderDirectory.remove() }
        #expect(try await leader.mergeSilences(document, tenant: h.tenant))
        #expect(await leader.dispatcher(h.tenant).silences.silences[id] != nil)
        // The same document again changes nothing and is not mirrored back.
        #expect(try await leader.mergeSilences(document, tenant: h.tenant) == false)
        #expect(leaderMirror.saves == 0)
        await leader.send([firing(["alertname": "Disk", "instance": "a"])], tenant: h.tenant)
        for second in stride(from: Int64(0), through: 600, by: 10) { await h.at(second, leader) }
        #expect(await h.transport.posts.isEmpty)
    }

    @Test func mergingKeepsTheNewerUpdateAndPublishesWhatTheOtherSideLacks() async throws {
        var store = SilenceStore(restoring: [
            Self.silence("a", endsAt: notifyT0 + 100_000, updatedAt: notifyT0 + 5, comment: "newer here"),
            Self.silence("b", endsAt: notifyT0 + 100_000, updatedAt: notifyT0 + 5),
        ])
        let incoming = [
            Self.silence("a", endsAt: notifyT0 + 200_000, updatedAt: notifyT0 + 1, comment: "older there"),
            Self.silence("b", endsAt: notifyT0 + 50_000, updatedAt: notifyT0 + 5),  // same update time: the expiry wins
            Self.silence("c", endsAt: notifyT0 + 100_000, updatedAt: notifyT0 + 2),
            Self.silence("old", endsAt: notifyT0 - store.retentionMs - 1, updatedAt: notifyT0 - store.retentionMs - 1),
        ]
        let changed = store.merge(incoming, nowMs: notifyT0 + 10)
        #expect(changed)
        #expect(store.silences["a"]?.comment == "newer here")
        #expect(store.silences["b"]?.endsAtMs == notifyT0 + 50_000)
        #expect(store.silences["c"] != nil)
        #expect(store.silences["old"] == nil)
        let again = store.merge(incoming, nowMs: notifyT0 + 10)
        #expect(again == false)

        // A notifier whose silences differ from the incoming document mirrors the merged set, so the other side learns.
        let h = try NotifyHarness(webhookOnly)
        defer { h.directory.remove() }
        let mirror = RecordingStateMirror()
        let (notifier, directory) = try sharingNotifier(h, mirror: mirror, sending: true)
        defer { directory.remove() }
        let own = try await notifier.setSilence(Self.silence(endsAt: notifyT0 + 3_600_000), tenant: h.tenant)
        let encoded = try JSONEncoder().encode([Self.silence("theirs", endsAt: notifyT0 + 3_600_000, updatedAt: notifyT0)])
        #expect(try await notifier.mergeSilences(Array(encoded), tenant: h.tenant))
        let published = try JSONDecoder().decode([Silence].self, from: Data(try #require(mirror[.silences])))
        #expect(Set(published.map(\.id)) == [own, "theirs"])
    }
}
