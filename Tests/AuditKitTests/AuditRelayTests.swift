import AuditKit
import AuditKitGRDB
import Foundation
import GRDB
import Logging
import MetricsTestKit
import ServiceLifecycle
import SightlineTestSupport
import Testing

/// Records `count` committed events spread over `tenants`, one transaction each; returns the ids per tenant in order.
func recordEvents(_ count: Int, tenants: [String], into pool: DatabasePool, seed: UInt64 = 7) async throws -> [String: [String]] {
    var random = SplitMix64(seed: seed)
    var ids: [String: [String]] = [:]
    for number in 0..<count {
        let tenant = tenants[Int(random.next() % UInt64(tenants.count))]
        let event = testEvent(tenant: tenant, number)
        ids[tenant, default: []].append(event.id)
        try await pool.write { db in try GRDBAuditOutbox.record(event, in: db) }
    }
    return ids
}

/// A relay configuration for tests: short waits so backoffs do not slow the suite.
func testRelayConfiguration(_ url: String, tokens: [String: String] = [:], batchSize: Int = 500) -> AuditRelayConfiguration {
    AuditRelayConfiguration(
        serverURL: url,
        tokens: tokens,
        pollInterval: .milliseconds(10),
        batchSize: batchSize,
        initialBackoff: .milliseconds(5),
        maxBackoff: .milliseconds(20),
        requestTimeout: .seconds(10)
    )
}

/// A relay that logs only critical messages (the tests provoke failures on purpose).
func testRelay(outbox: any AuditOutboxStore, configuration: AuditRelayConfiguration) throws -> AuditRelay {
    try AuditRelay(outbox: outbox, configuration: configuration, logger: quietLogger("relay"))
}

/// What an afterSend hook throws to simulate a crash.
struct SimulatedCrash: Error {}

@Suite struct AuditRelayTests {
    @Test func deliversInOrderPerTenantWithEachTenantsTokenAndMarksSent() async throws {
        let (directory, pool, outbox) = try makeSQLiteOutbox()
        defer { directory.remove() }
        let server = try await AuditTestServer(tokens: ["tok-a": "acme", "tok-b": "globex", "tok-c": "initech"])
        let ids = try await recordEvents(250, tenants: ["acme", "globex", "initech"], into: pool)

        let relay = try testRelay(
            outbox: outbox,
            configuration: testRelayConfiguration(server.url, tokens: ["acme": "tok-a", "globex": "tok-b", "initech": "tok-c"], batchSize: 40)
        )
        var rounds = 0
        while try await relay.deliverPending().fetched > 0 { rounds += 1 }
        #expect(rounds == 7)
        for (tenant, expected) in ids {
            #expect(await server.state.ids(tenant: tenant) == expected)
        }
        #expect(await server.state.duplicatedIDs().isEmpty)
        #expect(try await outbox.testCounts().unsent == 0)

        // The server got the event exactly as encoded.
        let first = try #require(ids["acme"]?.first)
        let stored = try #require(await server.state.event(id: first))
        let json = try #require(try JSONSerialization.jsonObject(with: stored) as? [String: Any])
        #expect(json["tenant"] as? String == "acme")
        #expect(json["action"] as? String == "invoice.update")
        await server.stop()
    }

    @Test func unavailableServerThenSuccessLosesNothing() async throws {
        let (directory, pool, outbox) = try makeSQLiteOutbox()
        defer { directory.remove() }
        let server = try await AuditTestServer()
        let ids = try await recordEvents(60, tenants: ["default"], into: pool)
        await server.state.failNextRequests(3)

        let relay = try testRelay(outbox: outbox, configuration: testRelayConfiguration(server.url, batchSize: 25))
        var failedRounds = 0
        var guardRounds = 0
        while guardRounds < 100 {
            guardRounds += 1
            let round = try await relay.deliverPending()
            if !round.failedTenants.isEmpty { failedRounds += 1 }
            if round.fetched == 0 { break }
        }
        #expect(failedRounds == 3)
        #expect(await server.state.ids(tenant: "default") == ids["default"])
        #expect(await server.state.duplicatedIDs().isEmpty)
        #expect(try await outbox.testCounts().unsent == 0)
        await server.stop()
    }

    @Test func refusedTenantKeepsItsRowsAndDoesNotHoldUpOthers() async throws {
        let (directory, pool, outbox) = try makeSQLiteOutbox()
        defer { directory.remove() }
        let server = try await AuditTestServer(tokens: ["tok-a": "acme"])
        let ids = try await recordEvents(40, tenants: ["acme", "umbrella"], into: pool)

        // umbrella has a wrong token: 401 every time. run() backs it off and keeps delivering acme.
        let relay = try testRelay(
            outbox: outbox,
            configuration: testRelayConfiguration(server.url, tokens: ["acme": "tok-a", "umbrella": "wrong"], batchSize: 5)
        )
        let group = ServiceGroup(services: [relay], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var polls = 0
            while await server.state.ids(tenant: "acme").count < (ids["acme"]?.count ?? 0), polls < 2000 {
                polls += 1
                try await Task.sleep(for: .milliseconds(5))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(await server.state.ids(tenant: "acme") == ids["acme"])
        #expect(await server.state.ids(tenant: "umbrella").isEmpty)
        let unsent = try await outbox.fetchUnsent(limit: 1000, excludingTenants: [])
        #expect(unsent.map(\.eventID) == ids["umbrella"])
        await server.stop()
    }

    @Test func tooLargeBatchesAreHalvedUntilTheyFit() async throws {
        let (directory, pool, outbox) = try makeSQLiteOutbox()
        defer { directory.remove() }
        let server = try await AuditTestServer()
        await server.state.limitEventsPerRequest(6)
        let ids = try await recordEvents(40, tenants: ["default"], into: pool)
        let relay = try testRelay(outbox: outbox, configuration: testRelayConfiguration(server.url, batchSize: 20))
        let group = ServiceGroup(services: [relay], logger: quietLogger("test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var polls = 0
            while await server.state.storedCount() < 40, polls < 2000 {
                polls += 1
                try await Task.sleep(for: .milliseconds(5))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(await server.state.ids(tenant: "default") == ids["default"])
        #expect(await server.state.duplicatedIDs().isEmpty)
        #expect(try await outbox.testCounts().unsent == 0)
        await server.stop()
    }

    @Test func crashBetweenSendingAndMarkingIsResentAndDeduplicated() async throws {
        let (directory, pool, outbox) = try makeSQLiteOutbox()
        defer { directory.remove() }
        let server = try await AuditTestServer()
        let ids = try await recordEvents(30, tenants: ["default"], into: pool)

        var configuration = testRelayConfiguration(server.url, batchSize: 10)
        configuration.afterSend = { _ in throw SimulatedCrash() }
        let crashing = try testRelay(outbox: outbox, configuration: configuration)
        // As a service, the hook's error ends run() …
        await #expect(throws: SimulatedCrash.self) { try await crashing.run() }
        // … after the server stored the first batch, which is still unsent locally.
        #expect(await server.state.storedCount() == 10)
        #expect(try await outbox.testCounts().unsent == 30)

        let restarted = try testRelay(outbox: outbox, configuration: testRelayConfiguration(server.url, batchSize: 10))
        var duplicates = 0
        while true {
            let round = try await restarted.deliverPending()
            duplicates += round.duplicates
            if round.fetched == 0 { break }
        }
        #expect(duplicates == 10)
        #expect(await server.state.duplicatedIDs().count == 10)
        #expect(await server.state.ids(tenant: "default") == ids["default"])
        #expect(try await outbox.testCounts().unsent == 0)
        await server.stop()
    }

    @Test func metricsCountSentEventsFailedAttemptsAndLag() async throws {
        let (directory, pool, outbox) = try makeSQLiteOutbox()
        defer { directory.remove() }
        let server = try await AuditTestServer()
        _ = try await recordEvents(30, tenants: ["default"], into: pool)
        await server.state.failNextRequests(1)
        let metrics = TestMetrics()
        var configuration = testRelayConfiguration(server.url, batchSize: 100)
        configuration.metricDimensions = [("app", "test")]
        let relay = try AuditRelay(outbox: outbox, configuration: configuration, logger: quietLogger("relay"), metricsFactory: metrics)

        _ = try await relay.deliverPending()
        let failed = try metrics.expectCounter("auditkit_relay_failed_attempts_total", [("app", "test")])
        let lag = try metrics.expectGauge("auditkit_relay_lag_seconds", [("app", "test")])
        #expect(failed.totalValue == 1)
        #expect((lag.lastValue ?? 0) > 0)

        _ = try await relay.deliverPending()
        let sent = try metrics.expectCounter("auditkit_relay_sent_events_total", [("app", "test")])
        #expect(sent.totalValue == 30)
        #expect(lag.lastValue == 0)
        await server.stop()
    }

    @Test func badConfigurationIsRefused() throws {
        let (directory, _, outbox) = try makeSQLiteOutbox()
        defer { directory.remove() }
        #expect(throws: AuditKitError.self) { try AuditRelay(outbox: outbox, configuration: .init(serverURL: "not a url")) }
        #expect(throws: AuditKitError.self) { try AuditRelay(outbox: outbox, configuration: .init(serverURL: "ftp://host")) }
        #expect(throws: AuditKitError.self) { try AuditRelay(outbox: outbox, configuration: .init(serverURL: "http://host", batchSize: 0)) }
        #expect(throws: AuditKitError.self) { try AuditRelay(outbox: outbox, configuration: .init(serverURL: "http://host", pollInterval: .zero)) }
        let relay = try AuditRelay(outbox: outbox, configuration: .init(serverURL: "http://127.0.0.1:1/", tokens: ["a": "x"], defaultToken: "d"))
        #expect(relay.configuration.token(forTenant: "a") == "x")
        #expect(relay.configuration.token(forTenant: "b") == "d")
    }
}
