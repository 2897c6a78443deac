import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineAlerting

@Suite struct NotifyResilienceTests {
    @Test func receiverDownThenUpGetsEveryNotificationOnce() async throws {
        let h = try NotifyHarness(webhookOnly)
        defer { h.directory.remove() }
        await h.transport.setDown(true)
        await h.notifier.send([firing(["alertname": "A", "instance": "1"]), firing(["alertname": "B", "instance": "2"])], tenant: h.tenant)
        // Down for longer than group_interval: retries with backoff, given up at the deadline, made anew at each flush.
        for second in stride(from: Int64(0), through: 900, by: 5) { await h.at(second) }
        #expect(await h.transport.posts.isEmpty)
        let attempts = await h.transport.attempts
        #expect(attempts > 10)
        await h.transport.setDown(false)
        for second in stride(from: Int64(905), through: 2400, by: 5) { await h.at(second) }
        let names = await h.transport.bodies.compactMap { (jsonObject($0)["commonLabels"] as? [String: String])?["alertname"] }
        #expect(names.sorted() == ["A", "B"])
    }

    @Test func serverErrorsAreRetriedClientErrorsAreNot() async throws {
        let h = try NotifyHarness(webhookOnly)
        defer { h.directory.remove() }
        await h.transport.setStatus(503)
        await h.notifier.send([firing(["alertname": "A", "instance": "1"])], tenant: h.tenant)
        await h.at(30)
        await h.at(32)
        #expect(await h.transport.attempts == 2)
        await h.transport.setStatus(400)
        await h.at(40)
        let afterClientError = await h.transport.attempts
        await h.at(50)
        await h.at(100)
        #expect(await h.transport.attempts == afterClientError)
        // The next flush tries again.
        await h.transport.setStatus(200)
        await h.at(330)
        #expect(await h.transport.posts.count == 1)
    }

    @Test func restartSendsWhatWasPendingAndNothingTwice() async throws {
        let h = try NotifyHarness(webhookOnly)
        defer { h.directory.remove() }
        await h.notifier.send([firing(["alertname": "Delivered", "instance": "1"])], tenant: h.tenant)
        await h.at(30)
        #expect(await h.transport.posts.count == 1)
        // The receiver goes down; a new group's notification fails, then the process stops.
        await h.transport.setDown(true)
        await h.send([firing(["alertname": "Pending", "instance": "2"], at: notifyT0 + 40_000)], at: 40)
        await h.at(70)
        await h.at(72)
        #expect(await h.transport.posts.count == 1)
        await h.transport.setDown(false)
        let restarted = try h.restarted()
        #expect(await restarted.dispatcher(h.tenant).alerts.count == 2)
        for second in stride(from: Int64(80), through: 1200, by: 10) { await h.at(second, restarted) }
        let names = await h.transport.bodies.compactMap { (jsonObject($0)["commonLabels"] as? [String: String])?["alertname"] }
        #expect(names == ["Delivered", "Pending"])
        // And a second restart sends nothing either.
        let again = try h.restarted()
        for second in stride(from: Int64(1210), through: 1900, by: 10) { await h.at(second, again) }
        #expect(await h.transport.posts.count == 2)
    }

    @Test func resolvedNotificationSurvivesRestart() async throws {
        let h = try NotifyHarness(webhookOnly)
        defer { h.directory.remove() }
        await h.notifier.send([firing(["alertname": "A", "instance": "1"])], tenant: h.tenant)
        await h.at(30)
        await h.send([firing(["alertname": "A", "instance": "1"], endsAt: notifyT0 + 100_000)], at: 100)
        // Stop before the resolved notification went out.
        let restarted = try h.restarted()
        for second in stride(from: Int64(110), through: 900, by: 10) { await h.at(second, restarted) }
        let statuses = await h.transport.bodies.compactMap { jsonObject($0)["status"] as? String }
        #expect(statuses == ["firing", "resolved"])
    }

    @Test func corruptStateFailsClearly() throws {
        let directory = try TemporaryDirectory(prefix: "notify")
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.file("default"), withIntermediateDirectories: true)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: directory.file("default/nflog.json")))
        let config = try NotifyConfigFile.parse(webhookOnly, path: "am.yml")
        let error = sightlineError { _ = try Notifier(config: config, dataDirectory: directory.path, transport: FakeTransport()) }
        #expect(error?.code == .dataCorrupted && error?.message.contains("nflog.json") == true)
    }
}

@Suite struct NotifyRunLoopTests {
    /// The service loop picks up alerts and stops when cancelled (the clock stands still: group_wait is 0s).
    @Test func runLoopDeliversAndStops() async throws {
        let h = try NotifyHarness(webhookOnly.replacingOccurrences(of: "group_by: [alertname]", with: "group_by: [alertname]\n  group_wait: 0s"))
        defer { h.directory.remove() }
        let loop = Task { await h.notifier.run() }
        await h.notifier.send([firing(["alertname": "A", "instance": "1"])], tenant: h.tenant)
        // Bounded wait for the loop's next pass (it wakes at least every 250 ms); no timing is asserted.
        for _ in 0..<500 where await h.transport.posts.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        loop.cancel()
        await loop.value
        #expect(await h.transport.posts.count == 1)
    }
}
