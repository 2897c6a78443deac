import AuditKit
import AuditKitGRDB
import Foundation
import GRDB
import SightlineTestSupport
import Testing

/// An event for tests: tenant and a number that ends up in the action's resource id.
func testEvent(tenant: String, _ number: Int, outcome: AuditEvent.Outcome = .success) -> AuditEvent {
    AuditEvent(
        tenant: tenant,
        actor: .init(id: "u-\(number % 7)", type: "user"),
        action: "invoice.update",
        resource: .init(type: "invoice", id: "inv-\(number)"),
        outcome: outcome,
        after: ["n": .int(Int64(number))]
    )
}

/// A fresh SQLite database with the outbox table, in a temporary directory.
func makeSQLiteOutbox() throws -> (TemporaryDirectory, DatabasePool, GRDBAuditOutbox) {
    let directory = try TemporaryDirectory(prefix: "auditkit")
    let pool = try DatabasePool(path: directory.file("app.sqlite"))
    var migrator = DatabaseMigrator()
    GRDBAuditOutbox.registerMigration(in: &migrator)
    migrator.registerMigration("invoices") { db in
        try db.execute(sql: "CREATE TABLE invoice (id TEXT PRIMARY KEY, amount INTEGER NOT NULL)")
    }
    try migrator.migrate(pool)
    return (directory, pool, GRDBAuditOutbox(database: pool))
}

/// A business failure that makes a transaction roll back.
struct BusinessRuleBroken: Error {}

@Suite struct GRDBOutboxTests {
    @Test func rolledBackTransactionLeavesNoRowCommittedOneLeavesExactlyOne() async throws {
        let (directory, pool, outbox) = try makeSQLiteOutbox()
        defer { directory.remove() }
        await #expect(throws: BusinessRuleBroken.self) {
            try await pool.write { db in
                try db.execute(sql: "INSERT INTO invoice (id, amount) VALUES ('a', 1)")
                try GRDBAuditOutbox.record(testEvent(tenant: "acme", 1), in: db)
                throw BusinessRuleBroken()
            }
        }
        #expect(try await outbox.testCounts().total == 0)
        #expect(try await pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM invoice") } == 0)

        let event = testEvent(tenant: "acme", 2)
        try await pool.write { db in
            try db.execute(sql: "INSERT INTO invoice (id, amount) VALUES ('b', 2)")
            try GRDBAuditOutbox.record(event, in: db)
        }
        let rows = try await outbox.fetchUnsent(limit: 10, excludingTenants: [])
        #expect(rows.count == 1)
        #expect(rows.first?.eventID == event.id)
        #expect(rows.first?.tenant == "acme")
        #expect(rows.first?.payload == event.jsonText())
    }

    @Test func recordOutsideATransactionIsRefused() async throws {
        let (directory, pool, _) = try makeSQLiteOutbox()
        defer { directory.remove() }
        _ = try await pool.writeWithoutTransaction { db in
            #expect(throws: AuditKitError.self) { try GRDBAuditOutbox.record(testEvent(tenant: "acme", 1), in: db) }
        }
        var invalid = testEvent(tenant: "acme", 2)
        invalid.action = ""
        let bad = invalid
        await #expect(throws: AuditKitError.self) {
            try await pool.write { db in try GRDBAuditOutbox.record(bad, in: db) }
        }
    }

    @Test func fetchKeepsCommitOrderSkipsExcludedTenantsAndMarksSent() async throws {
        let (directory, pool, outbox) = try makeSQLiteOutbox()
        defer { directory.remove() }
        var ids: [String: [String]] = [:]
        for number in 0..<30 {
            let tenant = ["a", "b", "c"][number % 3]
            let event = testEvent(tenant: tenant, number)
            ids[tenant, default: []].append(event.id)
            try await pool.write { db in try GRDBAuditOutbox.record(event, in: db) }
        }
        let firstTen = try await outbox.fetchUnsent(limit: 10, excludingTenants: [])
        #expect(firstTen.map(\.position) == firstTen.map(\.position).sorted())
        #expect(firstTen.count == 10)
        let withoutB = try await outbox.fetchUnsent(limit: 100, excludingTenants: ["b"])
        #expect(withoutB.count == 20)
        #expect(withoutB.filter { $0.tenant == "a" }.map(\.eventID) == ids["a"])
        #expect(!withoutB.contains { $0.tenant == "b" })

        try await outbox.markSent(withoutB, at: Date())
        let rest = try await outbox.fetchUnsent(limit: 100, excludingTenants: [])
        #expect(rest.map(\.eventID) == ids["b"])
        #expect(try await outbox.testCounts() == Counts(unsent: 10, total: 30))
        #expect(try await outbox.oldestUnsentRecordedAt() != nil)

        // Pruning deletes only rows sent before the cutoff, never unsent ones.
        #expect(try await outbox.pruneSent(before: Date().addingTimeInterval(-3600)) == 0)
        #expect(try await outbox.pruneSent(before: Date().addingTimeInterval(1)) == 20)
        #expect(try await outbox.testCounts() == Counts(unsent: 10, total: 10))
        try await outbox.markSent(rest, at: Date())
        #expect(try await outbox.oldestUnsentRecordedAt() == nil)
    }

    @Test func migrationRunsTwice() async throws {
        let (directory, pool, _) = try makeSQLiteOutbox()
        defer { directory.remove() }
        try await pool.write { db in try GRDBAuditOutbox.migrate(db) }
        try await pool.write { db in try GRDBAuditOutbox.migrate(db) }
    }
}

/// Outbox counts in a form `#expect` can compare.
struct Counts: Equatable {
    var unsent: Int
    var total: Int
}

extension GRDBAuditOutbox {
    func testCounts() async throws -> Counts {
        let (unsent, total): (Int, Int) = try await self.counts()
        return Counts(unsent: unsent, total: total)
    }
}
