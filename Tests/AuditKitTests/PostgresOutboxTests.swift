import AuditKit
import AuditKitPostgres
import Foundation
import Logging
import PostgresNIO
import Testing

/// The PostgreSQL server to test against, from `SIGHTLINE_TEST_POSTGRES_URL` (see scripts/postgres-for-tests.sh).
let postgresURL = ProcessInfo.processInfo.environment["SIGHTLINE_TEST_POSTGRES_URL"]

/// Runs `body` with a client connected to a new, empty database (so tests do not share outbox tables).
func withFreshPostgres(_ body: (PostgresClient) async throws -> Void) async throws {
    let url = try #require(postgresURL)
    let logger = quietLogger("auditkit.test.postgres")
    let admin = PostgresClient(configuration: try PostgresAuditOutbox.clientConfiguration(url: url), backgroundLogger: logger)
    let name = "auditkit_test_\(UInt32.random(in: 0..<UInt32.max))"
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { await admin.run() }
        try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        var configuration = try PostgresAuditOutbox.clientConfiguration(url: url)
        configuration.database = name
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        tasks.addTask { await client.run() }
        try await PostgresAuditOutbox.migrate(client: client, logger: logger)
        try await PostgresAuditOutbox.migrate(client: client, logger: logger)
        try await client.query("CREATE TABLE account (id text PRIMARY KEY, balance bigint NOT NULL)", logger: logger)
        do {
            try await body(client)
        } catch {
            tasks.cancelAll()
            throw error
        }
        tasks.cancelAll()
    }
    // The data base is left behind on purpose: the server is a throw-away one.
}

@Suite(
    .enabled(if: postgresURL != nil, "SIGHTLINE_TEST_POSTGRES_URL is not set; start a server with scripts/postgres-for-tests.sh start"),
    .serialized
)
struct PostgresOutboxTests {
    let logger = Logger(label: "auditkit.test")

    @Test func rolledBackTransactionLeavesNoRowCommittedOneLeavesExactlyOne() async throws {
        try await withFreshPostgres { client in
            let outbox = PostgresAuditOutbox(client: client, logger: logger)
            await #expect(throws: PostgresTransactionError.self) {
                try await client.withTransaction(logger: logger) { connection in
                    try await connection.query("INSERT INTO account VALUES ('a', 1)", logger: logger)
                    try await PostgresAuditOutbox.record(testEvent(tenant: "acme", 1), in: connection, logger: logger)
                    throw BusinessRuleBroken()
                }
            }
            #expect(try await outbox.counts().total == 0)
            let event = testEvent(tenant: "acme", 2)
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("INSERT INTO account VALUES ('b', 2)", logger: logger)
                try await PostgresAuditOutbox.record(event, in: connection, logger: logger)
            }
            let rows = try await outbox.fetchUnsent(limit: 10, excludingTenants: [])
            #expect(rows.map(\.eventID) == [event.id])
            // The rolled-back transaction's sequence number was rolled back too: no gap.
            #expect(rows.first?.sequence == 1)
            #expect(rows.first?.payload == event.jsonText())
        }
    }

    @Test func concurrentTransactionsGetGaplessSequencesInIdOrder() async throws {
        try await withFreshPostgres { client in
            let logger = self.logger
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for worker in 0..<4 {
                    tasks.addTask {
                        for number in 0..<20 {
                            let rollBack = number % 5 == 4
                            do {
                                try await client.withTransaction(logger: logger) { connection in
                                    try await PostgresAuditOutbox.record(testEvent(tenant: "acme", worker * 100 + number), in: connection, logger: logger)
                                    try await PostgresAuditOutbox.record(testEvent(tenant: "t\(worker)", number), in: connection, logger: logger)
                                    if rollBack { throw BusinessRuleBroken() }
                                }
                            } catch let error as PostgresTransactionError where error.closureError is BusinessRuleBroken {}
                        }
                    }
                }
                try await tasks.waitForAll()
            }
            let outbox = PostgresAuditOutbox(client: client, logger: logger)
            let rows = try await outbox.fetchUnsent(limit: 1000, excludingTenants: [])
            let acme = rows.filter { $0.tenant == "acme" }
            #expect(acme.count == 64)
            #expect(acme.map(\.sequence) == Array(1...64))
            #expect(acme.map(\.position) == acme.map(\.position).sorted())
            for worker in 0..<4 {
                #expect(rows.filter { $0.tenant == "t\(worker)" }.map(\.sequence) == Array(1...16))
            }
        }
    }

    @Test func relayDeliversFromPostgresAndResendsAfterACrash() async throws {
        try await withFreshPostgres { client in
            let server = try await AuditTestServer(tokens: ["tok-a": "acme", "tok-b": "globex"])
            var ids: [String: [String]] = [:]
            for number in 0..<45 {
                let tenant = number % 3 == 0 ? "globex" : "acme"
                let event = testEvent(tenant: tenant, number)
                ids[tenant, default: []].append(event.id)
                try await client.withTransaction(logger: logger) { connection in
                    try await PostgresAuditOutbox.record(event, in: connection, logger: logger)
                }
            }
            let outbox = PostgresAuditOutbox(client: client, logger: logger)
            let tokens = ["acme": "tok-a", "globex": "tok-b"]
            var crashing = testRelayConfiguration(server.url, tokens: tokens, batchSize: 20)
            crashing.afterSend = { _ in throw SimulatedCrash() }
            await #expect(throws: SimulatedCrash.self) {
                try await testRelay(outbox: outbox, configuration: crashing).deliverPending()
            }
            #expect(try await outbox.counts().unsent == 45)

            let relay = try testRelay(outbox: outbox, configuration: testRelayConfiguration(server.url, tokens: tokens, batchSize: 20))
            while try await relay.deliverPending().fetched > 0 {}
            #expect(await server.state.ids(tenant: "acme") == ids["acme"])
            #expect(await server.state.ids(tenant: "globex") == ids["globex"])
            #expect(try await outbox.counts().unsent == 0)
            #expect(try await outbox.oldestUnsentRecordedAt() == nil)
            #expect(try await outbox.pruneSent(before: Date().addingTimeInterval(1)) == 45)
            await server.stop()
        }
    }
}

/// Parsing the server URL needs no server.
@Test func postgresURLsAreParsedOrRefused() throws {
    let configuration = try PostgresAuditOutbox.clientConfiguration(url: "postgres://app:secret@127.0.0.1:5433/billing")
    #expect(configuration.host == "127.0.0.1")
    #expect(configuration.port == 5433)
    #expect(configuration.username == "app")
    #expect(configuration.password == "secret")
    #expect(configuration.database == "billing")
    #expect(throws: AuditKitError.self) { try PostgresAuditOutbox.clientConfiguration(url: "mysql://x@h/db") }
    #expect(throws: AuditKitError.self) { try PostgresAuditOutbox.clientConfiguration(url: "postgres:///db") }
}
