public import Foundation

/// One row of an outbox table: an event the app committed, waiting to be (or already) sent to Sightline.
public struct AuditOutboxRow: Sendable, Hashable {
    /// The row's position in the whole outbox (its primary key); the relay fetches in this order.
    public var position: Int64
    /// The tenant the event belongs to.
    public var tenant: String
    /// The row's place in its tenant's commit order. Within one tenant, a larger sequence committed later.
    public var sequence: Int64
    /// The event's id (what the server de-duplicates by).
    public var eventID: String
    /// The event's JSON object as the contract spells it (`AuditEvent.jsonText()`), sent as it is.
    public var payload: String
    /// When `record` wrote the row; the relay's lag is the age of the oldest unsent row.
    public var recordedAt: Date

    /// Makes a row (stores build these from their tables).
    public init(position: Int64, tenant: String, sequence: Int64, eventID: String, payload: String, recordedAt: Date) {
        self.position = position
        self.tenant = tenant
        self.sequence = sequence
        self.eventID = eventID
        self.payload = payload
        self.recordedAt = recordedAt
    }
}

/// What the relay needs from an outbox table. `AuditKitGRDB` and `AuditKitPostgres` implement it; an app with
/// another database can implement it too, as long as rows become visible only when their transaction commits and
/// `fetchUnsent` returns each tenant's rows in commit order.
public protocol AuditOutboxStore: Sendable {
    /// The oldest unsent rows, at most `limit`, ordered by `position`, leaving out rows of the given tenants
    /// (the relay skips tenants it is backing off from, so one refused tenant does not hold up the others).
    func fetchUnsent(limit: Int, excludingTenants: Set<String>) async throws -> [AuditOutboxRow]
    /// Marks rows as delivered, after the server answered 200 for them. Marking a row twice is harmless.
    func markSent(_ rows: [AuditOutboxRow], at time: Date) async throws
    /// When the oldest unsent row was recorded, or nil when every row was sent.
    func oldestUnsentRecordedAt() async throws -> Date?
    /// Deletes rows that were marked sent before `time`; returns how many. Unsent rows are never deleted.
    @discardableResult
    func pruneSent(before time: Date) async throws -> Int
}
