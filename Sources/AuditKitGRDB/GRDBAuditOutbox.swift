public import AuditKit
public import Foundation
public import GRDB

/// The audit outbox in an app's SQLite database, through GRDB.
///
/// - `GRDBAuditOutbox.migrate(db)` (or `registerMigration(in:)`) creates the table `auditkit_outbox`.
/// - `GRDBAuditOutbox.record(event, in: db)` inserts the event inside the app's write transaction, so it commits or
///   rolls back with the business change. SQLite has one writer at a time, so row ids follow commit order;
///   AUTOINCREMENT keeps the ids of pruned rows from being handed out again.
/// - An instance is the `AuditOutboxStore` an `AuditRelay` reads: it marks delivered rows by setting `sent_us`
///   (rows are kept, not deleted, until `pruneSent` removes them after the relay's `sentRetention`).
///
/// Table (times are microseconds since 1970):
/// ```
/// auditkit_outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT, event_id TEXT, payload TEXT, recorded_us INTEGER, sent_us INTEGER NULL)
/// ```
public struct GRDBAuditOutbox: AuditOutboxStore {
    /// The table's name.
    public static let tableName = "auditkit_outbox"

    /// The statements that create the table and its indexes; all `IF NOT EXISTS`, so running them again is harmless.
    public static let schemaSQL = """
        CREATE TABLE IF NOT EXISTS auditkit_outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL,
            event_id TEXT NOT NULL,
            payload TEXT NOT NULL,
            recorded_us INTEGER NOT NULL,
            sent_us INTEGER
        );
        CREATE INDEX IF NOT EXISTS auditkit_outbox_unsent ON auditkit_outbox (id) WHERE sent_us IS NULL;
        CREATE INDEX IF NOT EXISTS auditkit_outbox_sent ON auditkit_outbox (sent_us) WHERE sent_us IS NOT NULL;
        """

    private let database: any DatabaseWriter

    /// An outbox store over the app's database (a `DatabasePool` lets the relay read while the app writes).
    public init(database: any DatabaseWriter) {
        self.database = database
    }

    /// Creates the outbox table and indexes if missing. Call it in the app's own migration or at start-up.
    public static func migrate(_ db: Database) throws {
        try db.execute(sql: schemaSQL)
    }

    /// Registers the outbox table as a migration named `identifier` in the app's `DatabaseMigrator`.
    public static func registerMigration(in migrator: inout DatabaseMigrator, identifier: String = "auditkit_outbox_v1") {
        migrator.registerMigration(identifier) { db in
            try migrate(db)
        }
    }

    /// Writes `event` into the outbox inside the transaction `db` is in. Throws `notInTransaction` outside one
    /// (use `writer.write { db in … }`, which opens a transaction), and `invalidEvent` for an event the server
    /// would refuse, so that the business change fails with it rather than the relay later.
    public static func record(_ event: AuditEvent, in db: Database) throws {
        guard db.isInsideTransaction else {
            throw AuditKitError(.notInTransaction, "audit event \(event.id) must be recorded inside the business change's transaction")
        }
        try event.validate()
        let statement = try db.cachedStatement(
            sql: "INSERT INTO auditkit_outbox (tenant, event_id, payload, recorded_us) VALUES (?, ?, ?, ?)"
        )
        try statement.execute(arguments: [event.tenant, event.id, event.jsonText(), microseconds(Date())])
    }

    /// The oldest unsent rows in id (= commit) order.
    public func fetchUnsent(limit: Int, excludingTenants: Set<String>) async throws -> [AuditOutboxRow] {
        try await database.read { db in
            var sql = "SELECT id, tenant, event_id, payload, recorded_us FROM auditkit_outbox WHERE sent_us IS NULL"
            var arguments = StatementArguments()
            if !excludingTenants.isEmpty {
                sql += " AND tenant NOT IN (" + Array(repeating: "?", count: excludingTenants.count).joined(separator: ",") + ")"
                for tenant in excludingTenants.sorted() { arguments += [tenant] }
            }
            sql += " ORDER BY id LIMIT ?"
            arguments += [limit]
            let statement = try db.cachedStatement(sql: sql)
            let cursor = try Row.fetchCursor(statement, arguments: arguments)
            var rows: [AuditOutboxRow] = []
            rows.reserveCapacity(limit)
            while let row = try cursor.next() {
                let position: Int64 = row[0]
                rows.append(
                    AuditOutboxRow(
                        position: position,
                        tenant: row[1],
                        sequence: position,
                        eventID: row[2],
                        payload: row[3],
                        recordedAt: Date(timeIntervalSince1970: Double(row[4] as Int64) / 1e6)
                    )
                )
            }
            return rows
        }
    }

    /// Sets `sent_us` on the rows.
    public func markSent(_ rows: [AuditOutboxRow], at time: Date) async throws {
        if rows.isEmpty { return }
        let sent = Self.microseconds(time)
        let positions = rows.map(\.position)
        try await database.write { db in
            var start = 0
            while start < positions.count {
                let chunk = positions[start..<min(start + 5000, positions.count)]
                let list = chunk.map(String.init).joined(separator: ",")
                try db.execute(sql: "UPDATE auditkit_outbox SET sent_us = ? WHERE id IN (\(list))", arguments: [sent])
                start += chunk.count
            }
        }
    }

    /// When the oldest unsent row was recorded.
    public func oldestUnsentRecordedAt() async throws -> Date? {
        try await database.read { db in
            try Int64.fetchOne(db, sql: "SELECT recorded_us FROM auditkit_outbox WHERE sent_us IS NULL ORDER BY id LIMIT 1")
                .map { Date(timeIntervalSince1970: Double($0) / 1e6) }
        }
    }

    /// Deletes rows sent before `time`.
    @discardableResult
    public func pruneSent(before time: Date) async throws -> Int {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM auditkit_outbox WHERE sent_us IS NOT NULL AND sent_us < ?", arguments: [Self.microseconds(time)])
            return db.changesCount
        }
    }

    /// How many rows are unsent and how many are kept in all (for status pages and tests).
    public func counts() async throws -> (unsent: Int, total: Int) {
        try await database.read { db in
            let unsent = try Int.fetchOne(db, sql: "SELECT count(*) FROM auditkit_outbox WHERE sent_us IS NULL") ?? 0
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM auditkit_outbox") ?? 0
            return (unsent, total)
        }
    }

    /// Microseconds since 1970.
    static func microseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1e6).rounded(.down))
    }
}
