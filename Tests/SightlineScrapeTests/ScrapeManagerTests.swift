import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import SightlineCore
import Testing

@testable import SightlineScrape

struct ScrapeManagerTests {
    private static let logger = Logger(label: "scrape-manager-test")

    private func config(_ servers: [TestHTTPServer], job: String = "app") -> ScrapeConfig {
        ScrapeConfig(
            jobName: job, scrapeInterval: .milliseconds(100), scrapeTimeout: .milliseconds(90),
            staticConfigs: [StaticConfig(targets: servers.map(\.address))])
    }

    private func upCount(_ recorder: BatchRecorder, _ server: TestHTTPServer) -> Int {
        recorder.all.filter { $0.1.value(#"up{instance="\#(server.address)", job="app"}"#) == 1 }.count
    }

    /// Waits (at most 30 s) until `server` was scraped successfully `count` times: on a loaded machine some scrapes
    /// of the short test interval time out, every one of them while other suites' synchronous work holds all the
    /// cooperative threads (seen for over 10 s in a full run on 2 cores).
    private func waitForSuccessfulScrapes(_ recorder: BatchRecorder, _ server: TestHTTPServer, _ count: Int) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while upCount(recorder, server) < count {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Whether some scrape of `server` failed (`up` 0): then its series are legitimately marked stale.
    private func anyScrapeFailed(_ recorder: BatchRecorder, _ server: TestHTTPServer) -> Bool {
        recorder.all.contains { $0.1.value(#"up{instance="\#(server.address)", job="app"}"#) == 0 }
    }

    @Test func scrapesOnTheIntervalAndStopsOnGracefulShutdown() async throws {
        let server = try await TestHTTPServer.start()
        defer { Task { try? await server.stop() } }
        server.serve("a 1\n")
        let recorder = BatchRecorder()
        let manager = ScrapeManager(configs: [config([server])], logger: Self.logger, sink: recorder.sink)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await manager.run() }
                #expect(try await waitForSuccessfulScrapes(recorder, server, 3))
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(upCount(recorder, server) >= 3)
        // Default: no stale markers on shutdown (a scrape that timed out on a busy machine marks its series stale).
        if !anyScrapeFailed(recorder, server) {
            #expect(!(recorder.all.flatMap(\.1.samples).contains { StaleNaN.isStale($0.value) }))
        }
        // Scrapes are an interval apart: fewer batches than elapsed intervals would allow for a busy loop.
        let count = recorder.count
        try await Task.sleep(for: .milliseconds(250))
        #expect(recorder.count == count)
    }

    @Test func staleMarkersOnShutdownWhenAsked() async throws {
        let server = try await TestHTTPServer.start()
        defer { Task { try? await server.stop() } }
        server.serve("a 1\n")
        let recorder = BatchRecorder()
        let manager = ScrapeManager(
            configs: [config([server])], options: .init(staleMarkersOnShutdown: true), logger: Self.logger, sink: recorder.sink)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await manager.run() }
                #expect(try await waitForSuccessfulScrapes(recorder, server, 1))
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        // The last batch is the end of the run: every series of the last scrape marked stale, `up` included. On a
        // loaded machine that last scrape may have timed out (the test interval is short); its batch then marked `a`
        // stale already, as Prometheus does, and the end of the run marks the report series.
        let last = try #require(recorder.last)
        #expect(last.value(#"up{instance="\#(server.address)", job="app"}"#).map(StaleNaN.isStale) == true)
        let series = #"a{instance="\#(server.address)", job="app"}"#
        if last.value(series) == nil {
            #expect(anyScrapeFailed(recorder, server))
            #expect(recorder.all.contains { $0.1.value(series).map(StaleNaN.isStale) == true })
        } else {
            #expect(last.value(series).map(StaleNaN.isStale) == true)
        }
    }

    @Test func removedTargetsWriteStaleMarkers() async throws {
        let kept = try await TestHTTPServer.start()
        let removed = try await TestHTTPServer.start()
        defer {
            Task {
                try? await kept.stop()
                try? await removed.stop()
            }
        }
        kept.serve("k 1\n")
        removed.serve("r 1\n")
        let recorder = BatchRecorder()
        let manager = ScrapeManager(configs: [config([kept, removed])], logger: Self.logger, sink: recorder.sink)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await manager.run() }
                #expect(await recorder.wait(for: 4))
                #expect(try await waitForSuccessfulScrapes(recorder, kept, 3))
                manager.update([config([kept])])
                let removedSeries = #"r{instance="\#(removed.address)", job="app"}"#
                let removedUp = #"up{instance="\#(removed.address)", job="app"}"#
                // The removed loop's end: its `up` marked stale (a timed-out scrape marks `r` stale too, but not `up`).
                let deadline = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < deadline,
                    !recorder.all.contains(where: { $0.1.value(removedUp).map(StaleNaN.isStale) == true })
                {
                    try await Task.sleep(for: .milliseconds(10))
                }
                let before = removed.requests.count
                try await Task.sleep(for: .milliseconds(300))
                #expect(removed.requests.count == before)
                #expect(recorder.all.contains { $0.1.value(removedSeries).map(StaleNaN.isStale) == true })
                #expect(recorder.all.contains { $0.1.value(removedUp).map(StaleNaN.isStale) == true })
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(upCount(recorder, kept) >= 3)
        if !anyScrapeFailed(recorder, kept) {
            #expect(!(recorder.all.contains { $0.1.value(#"k{instance="\#(kept.address)", job="app"}"#).map(StaleNaN.isStale) == true }))
        }
    }

    @Test func cancellationEndsRun() async throws {
        let server = try await TestHTTPServer.start()
        defer { Task { try? await server.stop() } }
        server.serve("a 1\n")
        let recorder = BatchRecorder()
        let manager = ScrapeManager(configs: [config([server])], logger: Self.logger, sink: recorder.sink)
        let task = Task { try await manager.run() }
        #expect(await recorder.wait(for: 1))
        task.cancel()
        try await task.value
    }
}
