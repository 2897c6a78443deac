import AuditKit
import Foundation

/// An invoice of one tenant.
struct Invoice: Codable, Sendable, Equatable {
    var id: String
    var customer: String
    var amountCents: Int64
    var currency: String
    var status: String

    /// The invoice as the JSON an audit event keeps in `before`/`after`.
    var auditJSON: AuditJSON {
        ["id": .string(id), "customer": .string(customer), "amount_cents": .int(amountCents), "currency": .string(currency), "status": .string(status)]
    }
}

/// An account that money moves between.
struct Account: Codable, Sendable, Equatable {
    var id: String
    var balanceCents: Int64

    var auditJSON: AuditJSON { ["id": .string(id), "balance_cents": .int(balanceCents)] }
}

/// A completed transfer.
struct Transfer: Codable, Sendable {
    var id: String
    var from: String
    var to: String
    var amountCents: Int64
    var fromBalanceCents: Int64
    var toBalanceCents: Int64
}

/// Fields a PUT may change; nil keeps the current value.
struct InvoiceChange: Codable, Sendable {
    var customer: String?
    var amountCents: Int64?
    var currency: String?
    var status: String?
}

/// Who asked, from the request: goes into every audit event of that request.
struct RequestOrigin: Sendable {
    var actor: AuditEvent.Actor
    var requestID: String
    var clientAddress: String?
    var userAgent: String?

    /// An audit event of this request.
    func event(
        tenant: String, action: String, resource: AuditEvent.Resource, outcome: AuditEvent.Outcome = .success,
        reason: String? = nil, before: AuditJSON? = nil, after: AuditJSON? = nil, attributes: [String: String] = [:]
    ) -> AuditEvent {
        AuditEvent(
            tenant: tenant, actor: actor, action: action, resource: resource, outcome: outcome, requestID: requestID,
            clientAddress: clientAddress, userAgent: userAgent, reason: reason, before: before, after: after, attributes: attributes
        )
    }
}

/// Business errors the routes turn into HTTP statuses.
enum InvoiceAppError: Error, Equatable {
    /// 404: the named thing does not exist for the tenant.
    case notFound(String)
    /// 409: the account would go below zero. Returned: the refused transfer's id (the resource id of both events),
    /// the id of the success event that was recorded and rolled back (it must never reach Sightline), and the id of
    /// the committed denied event.
    case insufficientFunds(account: String, transferID: String, rolledBackEventID: String, auditEventID: String)
    /// 409: an id that already exists.
    case conflict(String)
    /// 400: input that makes no sense.
    case badRequest(String)
}

/// What both databases offer the routes. Every method that changes business data records its audit event
/// through AuditKit inside the same transaction.
protocol InvoiceStore: Sendable {
    func createInvoice(tenant: String, customer: String, amountCents: Int64, currency: String, origin: RequestOrigin) async throws -> Invoice
    func updateInvoice(tenant: String, id: String, change: InvoiceChange, origin: RequestOrigin) async throws -> Invoice
    func invoice(tenant: String, id: String) async throws -> Invoice?
    func createAccount(tenant: String, id: String, balanceCents: Int64, origin: RequestOrigin) async throws -> Account
    func account(tenant: String, id: String) async throws -> Account?
    /// Moves money; throws `insufficientFunds` after rolling the transfer (and its success event) back and
    /// committing a separate `transfer.create` event with outcome `denied`.
    func transfer(tenant: String, from: String, to: String, amountCents: Int64, origin: RequestOrigin) async throws -> Transfer
    /// Outbox rows not yet delivered, and all kept.
    func outboxCounts() async throws -> (unsent: Int, total: Int)
}

extension Invoice {
    /// Applies a change.
    func applying(_ change: InvoiceChange) -> Invoice {
        var copy = self
        if let customer = change.customer { copy.customer = customer }
        if let amount = change.amountCents { copy.amountCents = amount }
        if let currency = change.currency { copy.currency = currency }
        if let status = change.status { copy.status = status }
        return copy
    }
}

/// A new id with a prefix, e.g. `inv-0192f3c4…`.
func newID(_ prefix: String) -> String {
    prefix + "-" + AuditEvent.makeID()
}
