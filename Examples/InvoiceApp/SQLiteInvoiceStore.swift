import AuditKit
import AuditKitGRDB
import Foundation
import GRDB

/// The app's data in SQLite (GRDB), with the audit outbox in the same file.
struct SQLiteInvoiceStore: InvoiceStore {
    let pool: DatabasePool
    let outbox: GRDBAuditOutbox

    /// Opens (and migrates) `path`.
    init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        pool = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        GRDBAuditOutbox.registerMigration(in: &migrator)
        migrator.registerMigration("invoices_v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE invoice (tenant TEXT NOT NULL, id TEXT NOT NULL, customer TEXT NOT NULL, amount_cents INTEGER NOT NULL,
                                          currency TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (tenant, id));
                    CREATE TABLE account (tenant TEXT NOT NULL, id TEXT NOT NULL, balance_cents INTEGER NOT NULL, PRIMARY KEY (tenant, id));
                    CREATE TABLE transfer (tenant TEXT NOT NULL, id TEXT NOT NULL, from_account TEXT NOT NULL, to_account TEXT NOT NULL,
                                           amount_cents INTEGER NOT NULL, PRIMARY KEY (tenant, id));
                    """
            )
        }
        try migrator.migrate(pool)
        outbox = GRDBAuditOutbox(database: pool)
    }

    func createInvoice(tenant: String, customer: String, amountCents: Int64, currency: String, origin: RequestOrigin) async throws -> Invoice {
        let invoice = Invoice(id: newID("inv"), customer: customer, amountCents: amountCents, currency: currency, status: "open")
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO invoice (tenant, id, customer, amount_cents, currency, status) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [tenant, invoice.id, invoice.customer, invoice.amountCents, invoice.currency, invoice.status]
            )
            try GRDBAuditOutbox.record(
                origin.event(tenant: tenant, action: "invoice.create", resource: .init(type: "invoice", id: invoice.id), after: invoice.auditJSON),
                in: db
            )
        }
        return invoice
    }

    func updateInvoice(tenant: String, id: String, change: InvoiceChange, origin: RequestOrigin) async throws -> Invoice {
        try await pool.write { db in
            guard let before = try Self.invoice(db, tenant: tenant, id: id) else { throw InvoiceAppError.notFound("invoice \(id)") }
            let after = before.applying(change)
            try db.execute(
                sql: "UPDATE invoice SET customer = ?, amount_cents = ?, currency = ?, status = ? WHERE tenant = ? AND id = ?",
                arguments: [after.customer, after.amountCents, after.currency, after.status, tenant, id]
            )
            try GRDBAuditOutbox.record(
                origin.event(
                    tenant: tenant, action: "invoice.update", resource: .init(type: "invoice", id: id), before: before.auditJSON,
                    after: after.auditJSON
                ),
                in: db
            )
            return after
        }
    }

    func invoice(tenant: String, id: String) async throws -> Invoice? {
        try await pool.read { db in try Self.invoice(db, tenant: tenant, id: id) }
    }

    func createAccount(tenant: String, id: String, balanceCents: Int64, origin: RequestOrigin) async throws -> Account {
        let account = Account(id: id, balanceCents: balanceCents)
        try await pool.write { db in
            if try Self.account(db, tenant: tenant, id: id) != nil { throw InvoiceAppError.conflict("account \(id) exists") }
            try db.execute(sql: "INSERT INTO account (tenant, id, balance_cents) VALUES (?, ?, ?)", arguments: [tenant, id, balanceCents])
            try GRDBAuditOutbox.record(
                origin.event(tenant: tenant, action: "account.create", resource: .init(type: "account", id: id), after: account.auditJSON),
                in: db
            )
        }
        return account
    }

    func account(tenant: String, id: String) async throws -> Account? {
        try await pool.read { db in try Self.account(db, tenant: tenant, id: id) }
    }

    func transfer(tenant: String, from: String, to: String, amountCents: Int64, origin: RequestOrigin) async throws -> Transfer {
        let id = newID("tr")
        let attributes = ["from": from, "to": to, "amount_cents": String(amountCents)]
        let success = origin.event(tenant: tenant, action: "transfer.create", resource: .init(type: "transfer", id: id), attributes: attributes)
        do {
            return try await pool.write { db in
                guard var source = try Self.account(db, tenant: tenant, id: from) else { throw InvoiceAppError.notFound("account \(from)") }
                guard var target = try Self.account(db, tenant: tenant, id: to) else { throw InvoiceAppError.notFound("account \(to)") }
                source.balanceCents -= amountCents
                target.balanceCents += amountCents
                try db.execute(sql: "UPDATE account SET balance_cents = ? WHERE tenant = ? AND id = ?", arguments: [source.balanceCents, tenant, from])
                try db.execute(sql: "UPDATE account SET balance_cents = ? WHERE tenant = ? AND id = ?", arguments: [target.balanceCents, tenant, to])
                try db.execute(
                    sql: "INSERT INTO transfer (tenant, id, from_account, to_account, amount_cents) VALUES (?, ?, ?, ?, ?)",
                    arguments: [tenant, id, from, to, amountCents]
                )
                try GRDBAuditOutbox.record(success, in: db)
                // Checked last on purpose: the success event above is already in the outbox and must vanish with the rollback.
                if source.balanceCents < 0 {
                    throw InvoiceAppError.insufficientFunds(account: from, transferID: id, rolledBackEventID: success.id, auditEventID: "")
                }
                return Transfer(id: id, from: from, to: to, amountCents: amountCents, fromBalanceCents: source.balanceCents, toBalanceCents: target.balanceCents)
            }
        } catch InvoiceAppError.insufficientFunds(let account, _, _, _) {
            let denied = origin.event(
                tenant: tenant, action: "transfer.create", resource: .init(type: "transfer", id: id), outcome: .denied,
                reason: "insufficient funds in account \(account)", attributes: attributes
            )
            try await pool.write { db in try GRDBAuditOutbox.record(denied, in: db) }
            throw InvoiceAppError.insufficientFunds(account: account, transferID: id, rolledBackEventID: success.id, auditEventID: denied.id)
        }
    }

    func outboxCounts() async throws -> (unsent: Int, total: Int) {
        try await outbox.counts()
    }

    private static func invoice(_ db: Database, tenant: String, id: String) throws -> Invoice? {
        guard let row = try Row.fetchOne(
            db, sql: "SELECT id, customer, amount_cents, currency, status FROM invoice WHERE tenant = ? AND id = ?", arguments: [tenant, id]
        ) else { return nil }
        return Invoice(id: row[0], customer: row[1], amountCents: row[2], currency: row[3], status: row[4])
    }

    private static func account(_ db: Database, tenant: String, id: String) throws -> Account? {
        guard let row = try Row.fetchOne(db, sql: "SELECT id, balance_cents FROM account WHERE tenant = ? AND id = ?", arguments: [tenant, id])
        else { return nil }
        return Account(id: row[0], balanceCents: row[1])
    }
}
