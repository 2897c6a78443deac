import AuditKit
import AuditKitPostgres
import Foundation
import Logging
import PostgresNIO

/// The app's data in PostgreSQL, with the audit outbox in the same database.
struct PostgresInvoiceStore: InvoiceStore {
    let client: PostgresClient
    let outbox: PostgresAuditOutbox
    let logger: Logger

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.outbox = PostgresAuditOutbox(client: client, logger: logger)
        self.logger = logger
    }

    /// Creates the outbox and the app's tables; needs the client running.
    func migrate() async throws {
        try await PostgresAuditOutbox.migrate(client: client, logger: logger)
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(4202612)", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS invoice (tenant text NOT NULL, id text NOT NULL, customer text NOT NULL, amount_cents bigint NOT NULL,
                                                    currency text NOT NULL, status text NOT NULL, PRIMARY KEY (tenant, id))
                """,
                logger: logger
            )
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS account (tenant text NOT NULL, id text NOT NULL, balance_cents bigint NOT NULL, PRIMARY KEY (tenant, id))",
                logger: logger
            )
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS transfer (tenant text NOT NULL, id text NOT NULL, from_account text NOT NULL, to_account text NOT NULL,
                                                     amount_cents bigint NOT NULL, PRIMARY KEY (tenant, id))
                """,
                logger: logger
            )
        }
    }

    func createInvoice(tenant: String, customer: String, amountCents: Int64, currency: String, origin: RequestOrigin) async throws -> Invoice {
        let invoice = Invoice(id: newID("inv"), customer: customer, amountCents: amountCents, currency: currency, status: "open")
        let logger = self.logger
        try await inTransaction { connection in
            try await connection.query(
                """
                INSERT INTO invoice (tenant, id, customer, amount_cents, currency, status)
                VALUES (\(tenant), \(invoice.id), \(invoice.customer), \(invoice.amountCents), \(invoice.currency), \(invoice.status))
                """,
                logger: logger
            )
            try await PostgresAuditOutbox.record(
                origin.event(tenant: tenant, action: "invoice.create", resource: .init(type: "invoice", id: invoice.id), after: invoice.auditJSON),
                in: connection, logger: logger
            )
        }
        return invoice
    }

    func updateInvoice(tenant: String, id: String, change: InvoiceChange, origin: RequestOrigin) async throws -> Invoice {
        let logger = self.logger
        return try await inTransaction { connection in
            guard let before = try await Self.invoice(connection, tenant: tenant, id: id, forUpdate: true, logger: logger) else {
                throw InvoiceAppError.notFound("invoice \(id)")
            }
            let after = before.applying(change)
            try await connection.query(
                """
                UPDATE invoice SET customer = \(after.customer), amount_cents = \(after.amountCents), currency = \(after.currency),
                status = \(after.status) WHERE tenant = \(tenant) AND id = \(id)
                """,
                logger: logger
            )
            try await PostgresAuditOutbox.record(
                origin.event(
                    tenant: tenant, action: "invoice.update", resource: .init(type: "invoice", id: id), before: before.auditJSON,
                    after: after.auditJSON
                ),
                in: connection, logger: logger
            )
            return after
        }
    }

    func invoice(tenant: String, id: String) async throws -> Invoice? {
        let logger = self.logger
        return try await client.withConnection { connection in
            try await Self.invoice(connection, tenant: tenant, id: id, forUpdate: false, logger: logger)
        }
    }

    func createAccount(tenant: String, id: String, balanceCents: Int64, origin: RequestOrigin) async throws -> Account {
        let account = Account(id: id, balanceCents: balanceCents)
        let logger = self.logger
        try await inTransaction { connection in
            let rows = try await connection.query(
                "INSERT INTO account (tenant, id, balance_cents) VALUES (\(tenant), \(id), \(balanceCents)) ON CONFLICT DO NOTHING RETURNING 1",
                logger: logger
            )
            var inserted = false
            for try await _ in rows.decode(Int32.self) { inserted = true }
            if !inserted { throw InvoiceAppError.conflict("account \(id) exists") }
            try await PostgresAuditOutbox.record(
                origin.event(tenant: tenant, action: "account.create", resource: .init(type: "account", id: id), after: account.auditJSON),
                in: connection, logger: logger
            )
        }
        return account
    }

    func account(tenant: String, id: String) async throws -> Account? {
        let rows = try await client.query("SELECT id, balance_cents FROM account WHERE tenant = \(tenant) AND id = \(id)", logger: logger)
        for try await (id, balance) in rows.decode((String, Int64).self) { return Account(id: id, balanceCents: balance) }
        return nil
    }

    func transfer(tenant: String, from: String, to: String, amountCents: Int64, origin: RequestOrigin) async throws -> Transfer {
        let id = newID("tr")
        let attributes = ["from": from, "to": to, "amount_cents": String(amountCents)]
        let success = origin.event(tenant: tenant, action: "transfer.create", resource: .init(type: "transfer", id: id), attributes: attributes)
        let logger = self.logger
        do {
            return try await inTransaction { connection in
                let fromBalance = try await Self.adjust(connection, tenant: tenant, account: from, by: -amountCents, logger: logger)
                let toBalance = try await Self.adjust(connection, tenant: tenant, account: to, by: amountCents, logger: logger)
                try await connection.query(
                    "INSERT INTO transfer (tenant, id, from_account, to_account, amount_cents) VALUES (\(tenant), \(id), \(from), \(to), \(amountCents))",
                    logger: logger
                )
                try await PostgresAuditOutbox.record(success, in: connection, logger: logger)
                // Checked last on purpose: the success event above is already in the outbox and must vanish with the rollback.
                if fromBalance < 0 {
                    throw InvoiceAppError.insufficientFunds(account: from, transferID: id, rolledBackEventID: success.id, auditEventID: "")
                }
                return Transfer(id: id, from: from, to: to, amountCents: amountCents, fromBalanceCents: fromBalance, toBalanceCents: toBalance)
            }
        } catch InvoiceAppError.insufficientFunds(let account, _, _, _) {
            let denied = origin.event(
                tenant: tenant, action: "transfer.create", resource: .init(type: "transfer", id: id), outcome: .denied,
                reason: "insufficient funds in account \(account)", attributes: attributes
            )
            try await inTransaction { connection in
                try await PostgresAuditOutbox.record(denied, in: connection, logger: logger)
            }
            throw InvoiceAppError.insufficientFunds(account: account, transferID: id, rolledBackEventID: success.id, auditEventID: denied.id)
        }
    }

    /// Runs `body` in a transaction; a business error thrown by `body` comes out as itself (after the rollback)
    /// rather than wrapped in postgres-nio's `PostgresTransactionError`.
    private func inTransaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let appError = error.closureError as? InvoiceAppError, error.rollbackError == nil { throw appError }
            throw error
        }
    }

    func outboxCounts() async throws -> (unsent: Int, total: Int) {
        try await outbox.counts()
    }

    /// Adds `delta` to an account's balance; returns the new balance.
    private static func adjust(_ connection: PostgresConnection, tenant: String, account: String, by delta: Int64, logger: Logger) async throws -> Int64 {
        let rows = try await connection.query(
            "UPDATE account SET balance_cents = balance_cents + \(delta) WHERE tenant = \(tenant) AND id = \(account) RETURNING balance_cents",
            logger: logger
        )
        for try await balance in rows.decode(Int64.self) { return balance }
        throw InvoiceAppError.notFound("account \(account)")
    }

    private static func invoice(_ connection: PostgresConnection, tenant: String, id: String, forUpdate: Bool, logger: Logger) async throws -> Invoice? {
        let rows =
            forUpdate
            ? try await connection.query(
                "SELECT id, customer, amount_cents, currency, status FROM invoice WHERE tenant = \(tenant) AND id = \(id) FOR UPDATE", logger: logger)
            : try await connection.query(
                "SELECT id, customer, amount_cents, currency, status FROM invoice WHERE tenant = \(tenant) AND id = \(id)", logger: logger)
        for try await (id, customer, amount, currency, status) in rows.decode((String, String, Int64, String, String).self) {
            return Invoice(id: id, customer: customer, amountCents: amount, currency: currency, status: status)
        }
        return nil
    }
}
