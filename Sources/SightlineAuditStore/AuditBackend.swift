package import SightlineCore

/// One page of an audit search: events newest first, and the cursor that continues after them.
package struct AuditPage: Sendable {
    package var events: [StoredAuditEvent]
    /// Opaque to callers (the HTTP API hands it out as `next_cursor` and takes it back as `cursor`); nil on the last page.
    package var next: String?

    package init(events: [StoredAuditEvent], next: String?) {
        self.events = events
        self.next = next
    }
}

/// What the server needs of an audit store, whichever keeps the events: the embedded ``AuditStore`` (files under the
/// data directory, one chain per tenant) or ClickHouse (one chain per tenant and writing server). The chain, hash and
/// verification rules are the same for both (``AuditChain``).
///
/// Every method is `async` so a store over the network never blocks a thread of Swift's cooperative pool; the
/// embedded store's synchronous methods satisfy the requirements as they are.
package protocol AuditBackend: Sendable {
    /// The public key that checks the digests this server signs, as PEM.
    var publicKeyPEM: String { get }

    /// Appends `events` to `tenant`'s trail in order, skipping ids the tenant already has (also within the batch);
    /// returns only once the new events are durable in the store.
    /// - Parameter now: the server's clock in nanoseconds, stored as each event's received time.
    func append(_ events: [AuditEvent], tenant: Tenant, now: Int64) async throws -> AuditAppendResult

    /// The events of `tenant` matching `filter`, newest first, after `cursor` (from the start when nil), at most `limit`.
    /// - Throws: `invalidArgument` for a cursor this store did not hand out.
    func search(tenant: Tenant, filter: AuditFilter, limit: Int, cursor: String?) async throws -> AuditPage

    /// The signed digests of `tenant`, oldest first (per chain when there are several).
    func digests(tenant: Tenant) async throws -> [AuditDigest]

    /// Checks `tenant`'s whole trail: seqs without gaps, hash links, digest signatures and digest hashes.
    /// - Parameters:
    ///   - fromSeq: start at the signed digest just before this seq instead of the beginning (per chain);
    ///   - fromTimeNano: or at the last signed digest made at or before this time.
    func verify(tenant: Tenant, fromSeq: UInt64?, fromTimeNano: Int64?) async throws -> AuditVerification

    /// The legal holds of `tenant`.
    func holds(tenant: Tenant) async throws -> [AuditHold]

    /// Places a legal hold on `tenant`'s events in a time range.
    func addHold(_ hold: AuditHold, tenant: Tenant) async throws

    /// Releases a hold; false when `tenant` has no hold with that id.
    func releaseHold(id: String, tenant: Tenant) async throws -> Bool

    /// Signs a digest of every chain this server moved since its last digest; returns how many were written.
    @discardableResult
    func writeDigests(now: Int64) async throws -> Int

    /// Drops events stored before each tenant's retention that no hold covers; returns how many were dropped.
    @discardableResult
    func applyRetention(now: Int64) async throws -> Int

    /// Releases files and connections at shutdown.
    func close() async
}

extension AuditStore: AuditBackend {
    /// ``AuditBackend/search(tenant:filter:limit:cursor:)`` with the cursor as the decimal seq to continue below.
    package func search(tenant: Tenant, filter: AuditFilter, limit: Int, cursor: String?) throws -> AuditPage {
        var before: UInt64?
        if let cursor, !cursor.isEmpty {
            guard let parsed = UInt64(cursor) else {
                throw SightlineError(.invalidArgument, "cursor \"\(cursor)\" is not one this API returned")
            }
            before = parsed
        }
        let page = try search(tenant: tenant, filter: filter, limit: limit, before: before)
        return AuditPage(events: page.events, next: page.next.map { String($0) })
    }
}
