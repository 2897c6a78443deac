import Glibc
package import Logging
package import SightlineCore
import SightlineStorageCore
import Synchronization

/// How the audit store cuts segments and how long it keeps them.
package struct AuditStoreOptions: Sendable {
    /// A segment is closed and a new one begun when it would grow past this many bytes.
    package var segmentMaxBytes: Int = 64 << 20
    /// A segment is also closed when the UTC day changes, so retention can drop whole days.
    package var segmentPerDay: Bool = true
    /// How long events are kept, by the time the server stored them; nil keeps them forever.
    package var retention: Duration?
    /// Retention per tenant, overriding ``retention``.
    package var tenantRetention: [Tenant: Duration] = [:]

    package init() {}

    func retention(of tenant: Tenant) -> Duration? { tenantRetention[tenant] ?? retention }
}

/// What ``AuditStore/append(_:tenant:now:)`` did with a batch.
package struct AuditAppendResult: Sendable, Equatable {
    /// Events stored now.
    package var accepted: Int
    /// Events whose id the tenant already had; not stored again.
    package var duplicates: Int

    package init(accepted: Int, duplicates: Int) {
        self.accepted = accepted
        self.duplicates = duplicates
    }
}

/// A legal hold: events whose time falls in the range are kept past retention until the hold is released.
package struct AuditHold: Sendable, Equatable {
    package var id: String
    package var fromNano: Int64
    package var toNano: Int64
    package var reason: String
    package var createdNano: Int64

    package init(id: String, fromNano: Int64, toNano: Int64, reason: String, createdNano: Int64) {
        self.id = id
        self.fromNano = fromNano
        self.toNano = toNano
        self.reason = reason
        self.createdNano = createdNano
    }

    func covers(from: Int64, to: Int64) -> Bool { from <= toNano && fromNano <= to }
}

/// The append-only, hash-chained, per-tenant audit store.
///
/// Each tenant has a directory of segments (see ``AuditFormat``); an append assigns the next seqs, chains the hashes,
/// writes and fsyncs before it returns, so an acknowledged event is durable. Ids are unique per tenant: an event whose
/// id is already stored is counted as a duplicate and skipped, which is what makes an at-least-once relay
/// exactly-once. Nothing updates or deletes an event except retention, and retention never drops a segment that a
/// legal hold covers. Digests (signed with the store's Ed25519 key) pin the chain so that even a rewrite of the files
/// that recomputes every hash is detected by ``verify(tenant:fromSeq:fromTimeNano:)``.
///
/// Appends of one tenant are serialised by that tenant's lock; tenants proceed in parallel.
package final class AuditStore: Sendable {
    package let directory: String
    private let options: AuditStoreOptions
    private let signer: AuditSigner
    private let logger: Logger
    private let tenants = Mutex<[Tenant: TenantTrail]>([:])

    /// Opens (or creates) the store in `directory`, reading every tenant's segments to restore its chain position and
    /// ids; a torn last record (a crash mid-write, never acknowledged) is cut off.
    package init(directory: String, options: AuditStoreOptions = AuditStoreOptions(), logger: Logger) throws {
        self.directory = directory
        self.options = options
        self.logger = logger
        try POSIXFile.createDirectory(directory)
        signer = try AuditSigner(directory: directory)
        var opened: [Tenant: TenantTrail] = [:]
        for name in try POSIXFile.listDirectory(directory).sorted() where Tenant.isValid(name) {
            var isDirectory: stat = stat()
            guard stat(directory + "/" + name, &isDirectory) == 0, (isDirectory.st_mode & S_IFMT) == S_IFDIR else { continue }
            let tenant = Tenant(uncheckedID: name)
            opened[tenant] = try TenantTrail(tenant: tenant, directory: directory + "/" + name, options: options, logger: logger)
        }
        tenants.withLock { $0 = opened }
    }

    /// The wall clock in nanoseconds since the epoch: the received time of events and the time of digests.
    package static func wallClockNano() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// The public key that checks this store's digests, as PEM.
    package var publicKeyPEM: String { signer.publicKeyPEM }

    /// The raw 32-byte Ed25519 public key.
    package var publicKey: [UInt8] { signer.publicKey }

    /// Tenants with an audit trail.
    package var tenantIDs: [Tenant] { tenants.withLock { Array($0.keys).sorted() } }

    private func trail(_ tenant: Tenant, create: Bool) throws -> TenantTrail? {
        if let existing = tenants.withLock({ $0[tenant] }) { return existing }
        guard create else { return nil }
        let created = try TenantTrail(tenant: tenant, directory: directory + "/" + tenant.id, options: options, logger: logger)
        return tenants.withLock { map in
            if let raced = map[tenant] { return raced }
            map[tenant] = created
            return created
        }
    }

    /// Appends `events` to `tenant`'s chain in order, skipping ids already stored (also within the batch), and returns
    /// after the new events are fsynced.
    /// - Parameter now: the server's clock in nanoseconds, stored as each event's received time.
    package func append(_ events: [AuditEvent], tenant: Tenant, now: Int64) throws -> AuditAppendResult {
        guard !events.isEmpty else { return AuditAppendResult(accepted: 0, duplicates: 0) }
        guard let trail = try trail(tenant, create: true) else { return AuditAppendResult(accepted: 0, duplicates: 0) }
        return try trail.append(events, now: now)
    }

    /// The events of `tenant` matching `filter`, newest first, with seq below `cursor` (all when nil), at most `limit`;
    /// and the cursor of the next page when more may follow.
    package func search(tenant: Tenant, filter: AuditFilter, limit: Int, before cursor: UInt64? = nil) throws -> (events: [StoredAuditEvent], next: UInt64?) {
        guard let trail = try trail(tenant, create: false) else { return ([], nil) }
        var found: [StoredAuditEvent] = []
        var next: UInt64?
        try trail.scanNewestFirst(before: cursor) { event in
            guard filter.matches(event) else { return true }
            if found.count == limit {
                next = found.last?.seq
                return false
            }
            found.append(event)
            return true
        }
        return (found, next)
    }

    /// Calls `body` with every event of `tenant` matching `filter`, newest first, until it returns false.
    package func forEach(tenant: Tenant, filter: AuditFilter, _ body: (StoredAuditEvent) throws -> Bool) throws {
        guard let trail = try trail(tenant, create: false) else { return }
        try trail.scanNewestFirst(before: nil) { event in
            guard filter.matches(event) else { return true }
            return try body(event)
        }
    }

    /// Signs a digest for every tenant whose chain moved since its last digest (the server calls this periodically and
    /// at shutdown). Returns how many digests were written.
    @discardableResult
    package func writeDigests(now: Int64) throws -> Int {
        var written = 0
        for trail in tenants.withLock({ Array($0.values) }) where try trail.writeDigest(now: now, signer: signer) {
            written += 1
        }
        return written
    }

    /// The signed digests of `tenant`, oldest first.
    package func digests(tenant: Tenant) throws -> [AuditDigest] {
        guard let trail = try trail(tenant, create: false) else { return [] }
        return try trail.readDigests()
    }

    /// Checks `tenant`'s whole trail from the files on disk (see ``AuditVerifier``).
    /// - Parameters:
    ///   - fromSeq: start at the signed digest just before this seq instead of the beginning;
    ///   - fromTimeNano: or at the last signed digest made at or before this time.
    package func verify(tenant: Tenant, fromSeq: UInt64? = nil, fromTimeNano: Int64? = nil) throws -> AuditVerification {
        guard let trail = try trail(tenant, create: false) else {
            return AuditVerification(eventsChecked: 0, digestsChecked: 0, lastSeq: 0, firstBroken: nil)
        }
        return try AuditVerifier(tenant: tenant, signer: signer).verify(try trail.snapshot(), fromSeq: fromSeq, fromTimeNano: fromTimeNano)
    }

    /// Places a legal hold on `tenant`'s events in a time range.
    package func addHold(_ hold: AuditHold, tenant: Tenant) throws {
        guard let trail = try trail(tenant, create: true) else { return }
        try trail.updateHolds { $0.append(hold) }
    }

    /// Releases a hold; false when `tenant` has no hold with that id.
    package func releaseHold(id: String, tenant: Tenant) throws -> Bool {
        guard let trail = try trail(tenant, create: false) else { return false }
        var found = false
        try trail.updateHolds { holds in
            found = holds.contains { $0.id == id }
            holds.removeAll { $0.id == id }
        }
        return found
    }

    /// The holds of `tenant`.
    package func holds(tenant: Tenant) throws -> [AuditHold] {
        guard let trail = try trail(tenant, create: false) else { return [] }
        return trail.currentHolds
    }

    /// Drops, for every tenant with a retention, the closed segments whose events were all stored before
    /// `now - retention` and that no hold covers, recording each drop as a signed retention record first.
    /// Returns the number of events dropped.
    @discardableResult
    package func applyRetention(now: Int64) throws -> Int {
        var dropped = 0
        for trail in tenants.withLock({ Array($0.values) }) {
            guard let retention = options.retention(of: trail.tenant) else { continue }
            let (seconds, attoseconds) = retention.components
            let cutoff = now - (seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
            dropped += try trail.dropSegments(storedBefore: cutoff, now: now, signer: signer)
        }
        return dropped
    }

    /// The last seq of `tenant`'s chain (0 when it has none).
    package func lastSeq(tenant: Tenant) -> UInt64 {
        tenants.withLock { $0[tenant] }?.lastSeq ?? 0
    }

    /// Closes every open segment file.
    package func close() {
        for trail in tenants.withLock({ Array($0.values) }) { trail.close() }
    }
}
