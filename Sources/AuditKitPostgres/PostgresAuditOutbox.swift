public import AuditKit
public import Foundation
public import Logging
public import PostgresNIO

/// The audit outbox in an app's PostgreSQL database, through postgres-nio.
///
/// - `PostgresAuditOutbox.migrate(client:logger:)` creates the tables (`CREATE TABLE IF NOT EXISTS`).
/// - `PostgresAuditOutbox.record(event, in: connection, logger:)` inserts the event on a connection that is inside
///   the app's transaction (e.g. the one `PostgresClient.withTransaction` hands out), so it commits or rolls back
///   with the business change.
/// - An instance is the `AuditOutboxStore` an `AuditRelay` reads. Delivered rows get `sent_us` set; they are kept
///   until `pruneSent` deletes them after the relay's `sentRetention`.
///
/// Commit order per tenant: `record` first bumps the tenant's row in `auditkit_outbox_sequence`
/// (`INSERT … ON CONFLICT DO UPDATE SET seq = seq + 1 RETURNING seq`) and only then inserts the outbox row.
/// The bumped row stays locked until the transaction ends, so two transactions recording for the same tenant
/// are serialised from the first `record` to commit: the later one gets the larger `seq` and the larger `id`,
/// and can only become visible after the earlier one committed. The relay sends in that order. The cost: same-tenant
/// transactions wait for each other from `record` to commit — record late in the transaction. A rolled-back
/// transaction also rolls back its `seq`, so each tenant's `seq` has no gaps.
///
/// Tables (times are microseconds since 1970):
/// ```
/// auditkit_outbox_sequence(tenant text PRIMARY KEY, seq bigint NOT NULL)
/// auditkit_outbox(id bigserial PRIMARY KEY, tenant text, seq bigint, event_id text, payload text,
///                 recorded_us bigint, sent_us bigint NULL, UNIQUE (tenant, seq))
/// ```
public struct PostgresAuditOutbox: AuditOutboxStore {
    /// The statements that create the tables and indexes, in order; all `IF NOT EXISTS`.
    public static let schemaStatements: [String] = [
        "CREATE TABLE IF NOT EXISTS auditkit_outbox_sequence (tenant text PRIMARY KEY, seq bigint NOT NULL)",
        """
        CREATE TABLE IF NOT EXISTS auditkit_outbox (
            id bigserial PRIMARY KEY,
            tenant text NOT NULL,
            seq bigint NOT NULL,
            event_id text NOT NULL,
            payload text NOT NULL,
            recorded_us bigint NOT NULL,
            sent_us bigint,
            UNIQUE (tenant, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS auditkit_outbox_unsent ON auditkit_outbox (id) WHERE sent_us IS NULL",
        "CREATE INDEX IF NOT EXISTS auditkit_outbox_sent ON auditkit_outbox (sent_us) WHERE sent_us IS NOT NULL",
    ]

    private let client: PostgresClient
    private let logger: Logger

    /// An outbox store over the app's client (which the app runs in its `ServiceGroup`).
    public init(client: PostgresClient, logger: Logger = Logger(label: "auditkit.postgres")) {
        self.client = client
        self.logger = logger
    }

    /// Creates the tables and indexes if missing, in one transaction under an advisory lock so that several
    /// app instances starting together do not race.
    public static func migrate(client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(4202611)", logger: logger)
            for statement in schemaStatements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
    }

    /// Writes `event` into the outbox on `connection`, which must be inside the app's transaction (postgres-nio
    /// cannot tell; outside one the row commits at once, on its own). Throws `invalidEvent` for an event the
    /// server would refuse. One round trip: the sequence bump and the insert are one prepared statement.
    public static func record(_ event: AuditEvent, in connection: PostgresConnection, logger: Logger) async throws {
        try event.validate()
        let statement = RecordStatement(tenant: event.tenant, eventID: event.id, payload: event.jsonText(), recordedUS: microseconds(Date()))
        _ = try await connection.execute(statement, logger: logger)
    }

    /// The statement behind `record`, prepared once per connection (postgres-nio caches it), so each call is one
    /// round trip without parsing or planning.
    struct RecordStatement: PostgresPreparedStatement {
        typealias Row = ()
        static let name = "auditkit_outbox_record_v1"
        static let sql = """
            WITH next AS (
                INSERT INTO auditkit_outbox_sequence AS s (tenant, seq) VALUES ($1, 1)
                ON CONFLICT (tenant) DO UPDATE SET seq = s.seq + 1
                RETURNING seq
            )
            INSERT INTO auditkit_outbox (tenant, seq, event_id, payload, recorded_us)
            SELECT $1, next.seq, $2, $3, $4 FROM next
            """
        static let bindingDataTypes: [PostgresDataType] = [.text, .text, .text, .int8]

        var tenant: String
        var eventID: String
        var payload: String
        var recordedUS: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(tenant)
            bindings.append(eventID)
            bindings.append(payload)
            bindings.append(recordedUS)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws {}
    }

    /// The oldest unsent rows in id order (per tenant the same as commit order, see the type's notes).
    public func fetchUnsent(limit: Int, excludingTenants: Set<String>) async throws -> [AuditOutboxRow] {
        let excluded = excludingTenants.sorted()
        let rows = try await client.query(
            """
            SELECT id, tenant, seq, event_id, payload, recorded_us FROM auditkit_outbox
            WHERE sent_us IS NULL AND NOT (tenant = ANY(\(excluded)))
            ORDER BY id LIMIT \(limit)
            """,
            logger: logger
        )
        var result: [AuditOutboxRow] = []
        result.reserveCapacity(limit)
        for try await (id, tenant, seq, eventID, payload, recorded) in rows.decode((Int64, String, Int64, String, String, Int64).self) {
            result.append(
                AuditOutboxRow(
                    position: id,
                    tenant: tenant,
                    sequence: seq,
                    eventID: eventID,
                    payload: payload,
                    recordedAt: Date(timeIntervalSince1970: Double(recorded) / 1e6)
                )
            )
        }
        return result
    }

    /// Sets `sent_us` on the rows, in one statement, in a transaction with `synchronous_commit` off: a mark lost in
    /// a crash only means the rows are sent again and dropped by the server as duplicates, the same as a crash
    /// before marking, so waiting for the WAL flush buys nothing (and costs the relay an fsync per round).
    public func markSent(_ rows: [AuditOutboxRow], at time: Date) async throws {
        if rows.isEmpty { return }
        let positions = rows.map(\.position)
        let sent = Self.microseconds(time)
        let logger = self.logger
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SET LOCAL synchronous_commit = off", logger: logger)
            try await connection.query("UPDATE auditkit_outbox SET sent_us = \(sent) WHERE id = ANY(\(positions))", logger: logger)
        }
    }

    /// When the oldest unsent row was recorded.
    public func oldestUnsentRecordedAt() async throws -> Date? {
        let rows = try await client.query(
            "SELECT recorded_us FROM auditkit_outbox WHERE sent_us IS NULL ORDER BY id LIMIT 1",
            logger: logger
        )
        for try await recorded in rows.decode(Int64.self) {
            return Date(timeIntervalSince1970: Double(recorded) / 1e6)
        }
        return nil
    }

    /// Deletes rows sent before `time`.
    @discardableResult
    public func pruneSent(before time: Date) async throws -> Int {
        let cutoff = Self.microseconds(time)
        let rows = try await client.query(
            "WITH gone AS (DELETE FROM auditkit_outbox WHERE sent_us IS NOT NULL AND sent_us < \(cutoff) RETURNING 1) SELECT count(*) FROM gone",
            logger: logger
        )
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// How many rows are unsent and how many are kept in all (for status pages and tests).
    public func counts() async throws -> (unsent: Int, total: Int) {
        let rows = try await client.query(
            "SELECT count(*) FILTER (WHERE sent_us IS NULL), count(*) FROM auditkit_outbox",
            logger: logger
        )
        for try await (unsent, total) in rows.decode((Int64, Int64).self) { return (Int(unsent), Int(total)) }
        return (0, 0)
    }

    /// A client configuration from a URL `postgres://user[:password]@host[:port]/database` (TLS off: loopback and
    /// private networks; build the configuration yourself for TLS).
    public static func clientConfiguration(url text: String) throws -> PostgresClient.Configuration {
        guard let url = URLComponents(string: text), let scheme = url.scheme, scheme == "postgres" || scheme == "postgresql",
            let host = url.host, !host.isEmpty
        else {
            throw AuditKitError(.invalidConfiguration, "PostgreSQL URL '\(text)' is not of the form postgres://user@host:port/database")
        }
        let user = url.user.flatMap { $0.isEmpty ? nil : $0 } ?? "postgres"
        var database = url.path
        while database.hasPrefix("/") { database.removeFirst() }
        return PostgresClient.Configuration(
            host: host,
            port: url.port ?? 5432,
            username: user,
            password: url.password,
            database: database.isEmpty ? nil : database,
            tls: .disable
        )
    }

    /// Microseconds since 1970.
    static func microseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1e6).rounded(.down))
    }
}
