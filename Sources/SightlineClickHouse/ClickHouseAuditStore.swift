import Foundation
package import Logging
package import SightlineAuditStore
package import SightlineCore
import SightlineStorageCore
import Synchronization

/// The audit trail on ClickHouse, for servers that share one ClickHouse (`storage.backend: clickhouse`).
///
/// Several servers append at once and ClickHouse has no transactions, so one chain per tenant could not be kept
/// without a lock between servers. Instead each tenant has **one hash chain per writer**: a writer is a server, named
/// by a stable id created once in its data directory (``writerID(in:)``). A server continues its own chains from the
/// head it reads from ClickHouse on its first append of a tenant after start, and serialises its appends of a tenant;
/// nothing else writes that chain. The chain rules (payload, hash, digests, retention records, verification) are the
/// embedded store's (``AuditChain``), so a chain here verifies exactly as a tenant's files do.
///
/// - Appends insert synchronously: the acknowledgement means ClickHouse holds the rows. Ids already stored for the
///   tenant are skipped (looked up in `audit_ids`, which a materialized view fills, before the insert). Two servers
///   racing on the same id may both store it, each in its chain; reads keep the copy stored first (smallest received
///   time, writer, seq) and drop the others.
/// - Search reads newest first (received time, writer, seq, descending) with filters in SQL and an opaque cursor
///   `<received ns>-<writer>-<seq>`; every row is re-checked by ``AuditFilter/matches(_:)`` after decoding.
/// - Digests are per chain, signed by the writer's key (the same `signing-key.ed25519` as the embedded store) and
///   stored with that public key, so ``verify(tenant:fromSeq:fromTimeNano:)`` on any server checks every chain.
/// - Retention deletes whole days of a tenant (`ALTER TABLE … DELETE`, partitions are shared by tenants) that no hold
///   covers, after recording a signed retention record per chain that bridges the gap.
package final class ClickHouseAuditStore: AuditBackend {
    /// The tables (see docs/clickhouse.md). `day` is the UTC day the server stored the event (retention is by stored
    /// time); the order key serves per-tenant newest-first reads and cursor ranges.
    package static let schema = ClickHouseSchema(
        component: "audit",
        steps: [
            """
            CREATE TABLE IF NOT EXISTS audit_events (
                tenant String, day Date, received_nano Int64, writer String, seq UInt64, id String, time_nano Int64,
                actor_id String, actor_type String, actor_display String, action String, resource_type String, resource_id String,
                outcome String, request_id String, client_address String, user_agent String, reason String,
                before String, after String, attribute_keys Array(String), attribute_values Array(String),
                payload String, hash String
            ) ENGINE = MergeTree PARTITION BY day ORDER BY (tenant, received_nano, writer, seq)
            """,
            """
            CREATE TABLE IF NOT EXISTS audit_digests (
                tenant String, writer String, seq UInt64, created_nano Int64, payload String, signature String, public_key String
            ) ENGINE = MergeTree ORDER BY (tenant, writer, seq)
            """,
            """
            CREATE TABLE IF NOT EXISTS audit_retention (
                tenant String, writer String, first_seq UInt64, last_seq UInt64, payload String, signature String, public_key String
            ) ENGINE = MergeTree ORDER BY (tenant, writer, first_seq)
            """,
            """
            CREATE TABLE IF NOT EXISTS audit_holds (
                tenant String, id String, from_nano Int64, to_nano Int64, reason String, created_nano Int64, released UInt8, version UInt64
            ) ENGINE = ReplacingMergeTree(version) ORDER BY (tenant, id)
            """,
            // Ids by (tenant, id), filled by a materialized view with every insert into audit_events: the duplicate check
            // of an append and the read-time choice among racing copies look ids up by key instead of scanning the trail.
            """
            CREATE TABLE IF NOT EXISTS audit_ids (tenant String, id String, day Date, received_nano Int64, writer String, seq UInt64)
            ENGINE = MergeTree PARTITION BY day ORDER BY (tenant, id)
            """,
            """
            CREATE MATERIALIZED VIEW IF NOT EXISTS audit_ids_view TO audit_ids
            AS SELECT tenant, id, day, received_nano, writer, seq FROM audit_events
            """,
        ])

    /// The file in the server's audit directory that holds its writer id.
    package static let writerFileName = "clickhouse-writer-id"
    private static let dayNano: Int64 = 86_400_000_000_000
    /// Ids per `IN (…)` list, to stay far below ClickHouse's 256 KiB query size.
    private static let idsPerQuery = 500
    private static let eventColumns = [
        "tenant", "day", "received_nano", "writer", "seq", "id", "time_nano", "actor_id", "actor_type", "actor_display", "action",
        "resource_type", "resource_id", "outcome", "request_id", "client_address", "user_agent", "reason", "before", "after",
        "attribute_keys", "attribute_values", "payload", "hash",
    ]

    private let client: ClickHouseClient
    /// This server's chain name in every tenant.
    package let writer: String
    private let signer: AuditSigner
    private let options: AuditStoreOptions
    private let logger: Logger
    private let chains = Mutex<[Tenant: OwnChain]>([:])

    /// Migrates the tables and loads (or creates) the signing key and writer id in `directory` (the server's
    /// `<data_dir>/audit`, where the embedded store keeps its key too).
    /// - Throws: `unavailable` when ClickHouse cannot be reached; `dataCorrupted` for a damaged key or writer file.
    package init(client: ClickHouseClient, directory: String, options: AuditStoreOptions = AuditStoreOptions(), logger: Logger) async throws {
        try POSIXFile.createDirectory(directory)
        self.client = client
        self.options = options
        self.logger = logger
        signer = try AuditSigner(directory: directory)
        writer = try Self.writerID(in: directory)
        try await Self.schema.migrate(client)
    }

    /// The writer id kept in `directory`, created on first use: 16 random hex digits, never changed afterwards, so the
    /// server continues its own chains after a restart.
    /// - Throws: `dataCorrupted` when the file holds something else.
    package static func writerID(in directory: String) throws -> String {
        let path = directory + "/" + writerFileName
        if FileManager.default.fileExists(atPath: path) {
            let text = String(decoding: try POSIXFile.readAll(path), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard isWriterID(text) else {
                throw SightlineError(.dataCorrupted, "\(path) does not hold a writer id (16 hex digits): \(text.prefix(40))")
            }
            return text
        }
        var generator = SystemRandomNumberGenerator()
        let id = Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try POSIXFile.writeAtomically(Array((id + "\n").utf8), to: path)
        return id
    }

    private static func isWriterID(_ text: String) -> Bool {
        text.utf8.count == 16 && text.utf8.allSatisfy { ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f")) }
    }

    package var publicKeyPEM: String { signer.publicKeyPEM }

    // MARK: - Append

    /// Where this server's chain of one tenant stands. Only appends and digests of that tenant touch it, one at a
    /// time (``OwnChain/serial``).
    struct Head: Sendable {
        var seq: UInt64
        var hash: [UInt8]
        var digestSeq: UInt64
        var digestChainHash: [UInt8]
    }

    /// This server's chain of one tenant: its head (nil until read from ClickHouse, or after a failed insert whose
    /// outcome is unknown) and the lock that serialises its appends.
    final class OwnChain: Sendable {
        let serial = AsyncSerialLock()
        let head = Mutex<Head?>(nil)
    }

    private func ownChain(_ tenant: Tenant) -> OwnChain {
        chains.withLock { map in
            if let existing = map[tenant] { return existing }
            let created = OwnChain()
            map[tenant] = created
            return created
        }
    }

    /// The head of this server's chain of `tenant`, read from ClickHouse when not known: the last stored event, or
    /// the end of the last retention record when retention dropped them all; and the last digest.
    private func head(_ tenant: Tenant, _ chain: OwnChain) async throws -> Head {
        if let known = chain.head.withLock({ $0 }) { return known }
        let chainSQL = "tenant = \(ClickHouseSQL.quote(tenant.id)) AND writer = \(ClickHouseSQL.quote(writer))"
        var head = Head(seq: 0, hash: AuditChain.genesisHash, digestSeq: 0, digestChainHash: AuditChain.genesisHash)
        let last = try decodeRowBinary(
            try await client.query("SELECT seq, hash FROM audit_events WHERE \(chainSQL) ORDER BY seq DESC LIMIT 1 FORMAT RowBinary")
        ) { reader in (try reader.readUInt64LE(), try reader.readBytes()) }
        if let last = last.first { (head.seq, head.hash) = last }
        let bridges = try await bridges(tenant: tenant, writer: writer)
        if let bridge = bridges.max(by: { $0.lastSeq < $1.lastSeq }), bridge.lastSeq > head.seq {
            head.seq = bridge.lastSeq
            head.hash = bridge.lastHash
        }
        if let digest = try await digests(tenant: tenant, writer: writer).last {
            head.digestSeq = digest.seq
            head.digestChainHash = digest.chainHash
        }
        let loaded = head
        chain.head.withLock { $0 = loaded }
        return head
    }

    package func append(_ events: [AuditEvent], tenant: Tenant, now: Int64) async throws -> AuditAppendResult {
        guard !events.isEmpty else { return AuditAppendResult(accepted: 0, duplicates: 0) }
        let chain = ownChain(tenant)
        return try await chain.serial.run {
            var batchIDs: Set<String> = []
            var fresh = events.filter { batchIDs.insert($0.id).inserted }
            let stored = try await self.storedIDs(tenant: tenant, among: Array(batchIDs))
            fresh.removeAll { stored.contains($0.id) }
            let duplicates = events.count - fresh.count
            guard !fresh.isEmpty else { return AuditAppendResult(accepted: 0, duplicates: duplicates) }

            var head = try await self.head(tenant, chain)
            let day = CivilTime.floorDivide(now, Self.dayNano)
            var rows = ByteWriter(capacity: fresh.count * 768)
            var seq = head.seq
            var previous = head.hash
            for event in fresh {
                seq += 1
                let payload = AuditChain.payload(StoredAuditEvent(seq: seq, tenant: tenant, receivedNano: now, event: event, hash: []))
                let hash = AuditChain.hash(previous: previous, payload: payload)
                Self.writeRow(event, tenant: tenant, day: day, received: now, writer: self.writer, seq: seq, payload: payload, hash: hash, to: &rows)
                previous = hash
            }
            do {
                try await self.client.insert(into: "audit_events", columns: Self.eventColumns, rowBinary: rows.bytes)
            } catch {
                // The rows may or may not be in ClickHouse (a lost answer): read the head again before the next append.
                chain.head.withLock { $0 = nil }
                throw error
            }
            head.seq = seq
            head.hash = previous
            let moved = head
            chain.head.withLock { $0 = moved }
            return AuditAppendResult(accepted: fresh.count, duplicates: duplicates)
        }
    }

    /// One `audit_events` row in RowBinary, in ``eventColumns`` order; absent optional fields are empty strings (the
    /// payload is what counts; the columns are for filtering).
    private static func writeRow(
        _ event: AuditEvent, tenant: Tenant, day: Int64, received: Int64, writer: String, seq: UInt64, payload: [UInt8], hash: [UInt8],
        to out: inout ByteWriter
    ) {
        out.writeString(tenant.id)
        out.writeDate(days: day)
        out.writeInt64LE(received)
        out.writeString(writer)
        out.writeUInt64LE(seq)
        out.writeString(event.id)
        out.writeInt64LE(event.timeNano)
        for text in [
            event.actor.id, event.actor.type ?? "", event.actor.display ?? "", event.action, event.resource.type, event.resource.id ?? "",
            event.outcome.rawValue, event.requestID ?? "", event.clientAddress ?? "", event.userAgent ?? "", event.reason ?? "",
            event.before ?? "", event.after ?? "",
        ] {
            out.writeString(text)
        }
        out.writeStringArray(event.attributes.map(\.key))
        out.writeStringArray(event.attributes.map(\.value))
        out.writeBytes(payload)
        out.writeBytes(hash)
    }

    /// Which of `ids` `tenant` already has.
    private func storedIDs(tenant: Tenant, among ids: [String]) async throws -> Set<String> {
        var found: Set<String> = []
        var start = 0
        while start < ids.count {
            let chunk = ids[start..<min(ids.count, start + Self.idsPerQuery)]
            start += Self.idsPerQuery
            let answer = try await client.query(
                "SELECT DISTINCT id FROM audit_ids WHERE tenant = \(ClickHouseSQL.quote(tenant.id)) AND id IN (\(chunk.map(ClickHouseSQL.quote).joined(separator: ", "))) FORMAT RowBinary"
            )
            for id in try decodeRowBinary(answer, { try $0.readString() }) { found.insert(id) }
        }
        return found
    }

    // MARK: - Search

    /// Where a row stands in newest-first order; also the cursor.
    struct Position: Comparable {
        var received: Int64
        var writer: String
        var seq: UInt64

        static func < (lhs: Position, rhs: Position) -> Bool {
            if lhs.received != rhs.received { return lhs.received < rhs.received }
            if lhs.writer != rhs.writer { return Array(lhs.writer.utf8).lexicographicallyPrecedes(Array(rhs.writer.utf8)) }
            return lhs.seq < rhs.seq
        }

        var cursor: String { "\(received)-\(writer)-\(seq)" }

        init(received: Int64, writer: String, seq: UInt64) {
            self.received = received
            self.writer = writer
            self.seq = seq
        }

        /// Parses a cursor this store handed out.
        /// - Throws: `invalidArgument` for anything else.
        init(cursor: String) throws {
            let parts = cursor.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 3, let received = Int64(parts[0]), ClickHouseAuditStore.isWriterID(String(parts[1])), let seq = UInt64(parts[2])
            else {
                throw SightlineError(.invalidArgument, "cursor \"\(cursor)\" is not one this API returned")
            }
            self.init(received: received, writer: String(parts[1]), seq: seq)
        }

        /// Rows strictly older than this position.
        var olderSQL: String {
            let w = ClickHouseSQL.quote(writer)
            return "(received_nano < \(received) OR (received_nano = \(received) AND (writer < \(w) OR (writer = \(w) AND seq < \(seq)))))"
        }
    }

    package func search(tenant: Tenant, filter: AuditFilter, limit: Int, cursor: String?) async throws -> AuditPage {
        guard limit > 0 else { throw SightlineError(.invalidArgument, "limit \(limit) is not a positive integer") }
        var position = try cursor.flatMap { $0.isEmpty ? nil : try Position(cursor: $0) }
        let conditions = Self.conditions(tenant: tenant, filter: filter)
        var found: [(Position, StoredAuditEvent)] = []
        let batch = min(max(limit + 1, 64), 5000)
        while found.count <= limit {
            var whereSQL = conditions
            if let position { whereSQL.append(position.olderSQL) }
            let answer = try await client.query(
                """
                SELECT received_nano, writer, seq, id, payload, hash FROM audit_events WHERE \(whereSQL.joined(separator: " AND "))
                ORDER BY received_nano DESC, writer DESC, seq DESC LIMIT \(batch) FORMAT RowBinary
                """)
            let rows = try decodeRowBinary(answer) { reader in
                (
                    Position(received: try reader.readInt64LE(), writer: try reader.readString(), seq: try reader.readUInt64LE()),
                    try reader.readString(), try reader.readBytes(), try reader.readBytes()
                )
            }
            let firsts = try await firstCopies(tenant: tenant, ids: rows.map(\.1))
            for (at, id, payload, hash) in rows where firsts[id].map({ $0 == at }) ?? true {
                let stored: StoredAuditEvent
                do {
                    stored = try AuditChain.decode(payload: payload, hash: hash)
                } catch {
                    throw SightlineError(
                        .dataCorrupted, "audit event \(id) (chain \(at.writer), seq \(at.seq)) of tenant \(tenant) does not decode; run verify",
                        cause: error)
                }
                var event = stored
                event.chain = at.writer
                if filter.matches(event) { found.append((at, event)) }
            }
            guard rows.count == batch, let last = rows.last else { break }
            position = last.0
        }
        let next = found.count > limit ? found[limit - 1].0.cursor : nil
        return AuditPage(events: found.prefix(limit).map(\.1), next: next)
    }

    /// For each of `ids` stored more than once (servers racing on the id), the position of the copy stored first:
    /// the one reads keep.
    private func firstCopies(tenant: Tenant, ids: [String]) async throws -> [String: Position] {
        guard !ids.isEmpty else { return [:] }
        var first: [String: Position] = [:]
        var counts: [String: Int] = [:]
        let unique = Array(Set(ids))
        var start = 0
        while start < unique.count {
            let chunk = unique[start..<min(unique.count, start + Self.idsPerQuery)]
            start += Self.idsPerQuery
            let answer = try await client.query(
                """
                SELECT id, received_nano, writer, seq FROM audit_ids
                WHERE tenant = \(ClickHouseSQL.quote(tenant.id)) AND id IN (\(chunk.map(ClickHouseSQL.quote).joined(separator: ", ")))
                FORMAT RowBinary
                """)
            for (id, at) in try decodeRowBinary(answer, { reader in
                (try reader.readString(), Position(received: try reader.readInt64LE(), writer: try reader.readString(), seq: try reader.readUInt64LE()))
            }) {
                counts[id, default: 0] += 1
                if let known = first[id], known < at { continue }
                first[id] = at
            }
        }
        return first.filter { (counts[$0.key] ?? 0) > 1 }
    }

    /// The SQL conditions of `filter` for `tenant`'s rows. Text search goes to SQL only for ASCII needles (where
    /// ClickHouse's `lowerUTF8` and Swift's lowercasing agree); every row is re-checked in Swift anyway.
    static func conditions(tenant: Tenant, filter: AuditFilter) -> [String] {
        var sql = ["tenant = " + ClickHouseSQL.quote(tenant.id)]
        func equal(_ column: String, _ value: String?) {
            if let value { sql.append("\(column) = \(ClickHouseSQL.quote(value))") }
        }
        equal("actor_id", filter.actorID)
        equal("actor_type", filter.actorType)
        equal("resource_type", filter.resourceType)
        equal("resource_id", filter.resourceID)
        equal("outcome", filter.outcome?.rawValue)
        if let action = filter.action {
            if action.hasSuffix("*") {
                let prefix = String(action.dropLast())
                if !prefix.isEmpty { sql.append("substring(action, 1, \(prefix.utf8.count)) = \(ClickHouseSQL.quote(prefix))") }
            } else {
                equal("action", action)
            }
        }
        if let from = filter.fromNano { sql.append("time_nano >= \(from)") }
        if let to = filter.toNano { sql.append("time_nano <= \(to)") }
        if let text = filter.text, !text.isEmpty, text.utf8.allSatisfy({ $0 < 0x80 }) {
            let needle = ClickHouseSQL.quote(text.lowercased())
            let columns = [
                "id", "actor_id", "actor_type", "actor_display", "action", "resource_type", "resource_id", "request_id", "client_address",
                "user_agent", "reason", "before", "after",
            ]
            var any = columns.map { "position(lowerUTF8(\($0)), \(needle)) > 0" }
            any.append("arrayExists(x -> position(lowerUTF8(x), \(needle)) > 0, attribute_keys)")
            any.append("arrayExists(x -> position(lowerUTF8(x), \(needle)) > 0, attribute_values)")
            sql.append("(" + any.joined(separator: " OR ") + ")")
        }
        return sql
    }

    // MARK: - Digests

    @discardableResult
    package func writeDigests(now: Int64) async throws -> Int {
        var written = 0
        for (tenant, chain) in chains.withLock({ Array($0) }) {
            let wrote = try await chain.serial.run { () async throws -> Bool in
                guard var head = chain.head.withLock({ $0 }), head.seq > head.digestSeq else { return false }
                let digest = try AuditDigest.sign(
                    tenant: tenant, seq: head.seq, hash: head.hash, createdNano: now, previousDigestHash: head.digestChainHash, signer: self.signer)
                var row = ByteWriter(capacity: 256)
                row.writeString(tenant.id)
                row.writeString(self.writer)
                row.writeUInt64LE(digest.seq)
                row.writeInt64LE(now)
                row.writeBytes(digest.payload)
                row.writeBytes(digest.signature)
                row.writeBytes(self.signer.publicKey)
                try await self.client.insert(
                    into: "audit_digests", columns: ["tenant", "writer", "seq", "created_nano", "payload", "signature", "public_key"],
                    rowBinary: row.bytes)
                head.digestSeq = digest.seq
                head.digestChainHash = digest.chainHash
                let moved = head
                chain.head.withLock { $0 = moved }
                return true
            }
            if wrote { written += 1 }
        }
        return written
    }

    /// A stored digest row that does not decode, named for verify.
    private struct BadDigest: Error {
        var writer: String
        var seq: UInt64
    }

    /// The digests of `tenant` (of one writer's chain when given), oldest first per chain, with chain and key set.
    private func storedDigests(tenant: Tenant, writer: String?) async throws -> Result<[AuditDigest], BadDigest> {
        var condition = "tenant = " + ClickHouseSQL.quote(tenant.id)
        if let writer { condition += " AND writer = " + ClickHouseSQL.quote(writer) }
        let rows = try decodeRowBinary(
            try await client.query(
                "SELECT writer, seq, payload, signature, public_key FROM audit_digests WHERE \(condition) ORDER BY writer, seq, created_nano FORMAT RowBinary")
        ) { reader in (try reader.readString(), try reader.readUInt64LE(), try reader.readBytes(), try reader.readBytes(), try reader.readBytes()) }
        var digests: [AuditDigest] = []
        for (chain, seq, payload, signature, key) in rows {
            guard var digest = try? AuditDigest.decode(payload: payload, signature: signature) else { return .failure(BadDigest(writer: chain, seq: seq)) }
            digest.chain = chain
            digest.publicKey = key
            digests.append(digest)
        }
        return .success(digests)
    }

    private func digests(tenant: Tenant, writer: String) async throws -> [AuditDigest] {
        switch try await storedDigests(tenant: tenant, writer: writer) {
        case .success(let digests): return digests
        case .failure(let bad):
            throw SightlineError(.dataCorrupted, "the audit digest of seq \(bad.seq) of chain \(bad.writer) of tenant \(tenant) does not decode")
        }
    }

    package func digests(tenant: Tenant) async throws -> [AuditDigest] {
        switch try await storedDigests(tenant: tenant, writer: nil) {
        case .success(let digests): return digests
        case .failure(let bad):
            throw SightlineError(.dataCorrupted, "the audit digest of seq \(bad.seq) of chain \(bad.writer) of tenant \(tenant) does not decode")
        }
    }

    /// The retention records of a chain (of every chain of `tenant` when `writer` is nil), keyed by writer.
    private func storedBridges(tenant: Tenant, writer: String?) async throws -> [String: [AuditChain.Bridge]] {
        var condition = "tenant = " + ClickHouseSQL.quote(tenant.id)
        if let writer { condition += " AND writer = " + ClickHouseSQL.quote(writer) }
        let rows = try decodeRowBinary(
            try await client.query(
                "SELECT writer, payload, signature, public_key FROM audit_retention WHERE \(condition) ORDER BY writer, first_seq FORMAT RowBinary")
        ) { reader in (try reader.readString(), try reader.readBytes(), try reader.readBytes(), try reader.readBytes()) }
        var bridges: [String: [AuditChain.Bridge]] = [:]
        for (chain, payload, signature, key) in rows {
            guard let (owner, bridge) = try? AuditChain.Bridge.decode(payload: payload, signature: signature, publicKey: key), owner == tenant else {
                throw SightlineError(.dataCorrupted, "a retention record of chain \(chain) of tenant \(tenant) does not decode")
            }
            bridges[chain, default: []].append(bridge)
        }
        return bridges
    }

    private func bridges(tenant: Tenant, writer: String) async throws -> [AuditChain.Bridge] {
        try await storedBridges(tenant: tenant, writer: writer)[writer] ?? []
    }

    // MARK: - Verify

    package func verify(tenant: Tenant, fromSeq: UInt64?, fromTimeNano: Int64?) async throws -> AuditVerification {
        let tenantSQL = ClickHouseSQL.quote(tenant.id)
        // The own chain's head first: every row up to it is stored before the rows are read.
        let ownHead = chains.withLock { $0[tenant] }?.head.withLock { $0 }?.seq
        var writers = Set(
            try decodeRowBinary(try await client.query("SELECT DISTINCT writer FROM audit_events WHERE tenant = \(tenantSQL) FORMAT RowBinary")) {
                try $0.readString()
            })
        let digestsByWriter: [String: [AuditDigest]]
        switch try await storedDigests(tenant: tenant, writer: nil) {
        case .success(let digests): digestsByWriter = Dictionary(grouping: digests, by: { $0.chain ?? "" })
        case .failure(let bad):
            return AuditVerification(
                eventsChecked: 0, digestsChecked: 0, lastSeq: 0,
                firstBroken: .init(seq: bad.seq, id: nil, reason: "chain \(bad.writer): the digest of seq \(bad.seq) does not decode", chain: bad.writer))
        }
        let bridgesByWriter: [String: [AuditChain.Bridge]]
        do {
            bridgesByWriter = try await storedBridges(tenant: tenant, writer: nil)
        } catch let error as SightlineError where error.code == .dataCorrupted {
            return AuditVerification(eventsChecked: 0, digestsChecked: 0, lastSeq: 0, firstBroken: .init(seq: 0, id: nil, reason: error.message))
        }
        writers.formUnion(digestsByWriter.keys)
        writers.formUnion(bridgesByWriter.keys)
        if ownHead != nil { writers.insert(writer) }

        var total = AuditVerification(eventsChecked: 0, digestsChecked: 0, lastSeq: 0, firstBroken: nil)
        for chain in writers.sorted() {
            var checker = AuditChain.Checker(
                tenant: tenant, chain: chain, digests: digestsByWriter[chain] ?? [], bridges: bridgesByWriter[chain] ?? [], fromSeq: fromSeq,
                fromTimeNano: fromTimeNano)
            var after: (seq: UInt64, hash: [UInt8])?
            let page = 10_000
            while !checker.isBroken {
                var condition = "tenant = \(tenantSQL) AND writer = \(ClickHouseSQL.quote(chain)) AND seq >= \(checker.firstNeededSeq)"
                if let after { condition += " AND (seq > \(after.seq) OR (seq = \(after.seq) AND hash > unhex('\(Hex.encode(after.hash))')))" }
                let rows = try decodeRowBinary(
                    try await client.query("SELECT seq, id, payload, hash FROM audit_events WHERE \(condition) ORDER BY seq, hash LIMIT \(page) FORMAT RowBinary")
                ) { reader in AuditChain.Row(seq: try reader.readUInt64LE(), id: try reader.readString(), payload: try reader.readBytes(), hash: try reader.readBytes()) }
                for row in rows { checker.feed(row) }
                guard rows.count == page, let last = rows.last else { break }
                after = (last.seq, last.hash)
            }
            let result = checker.finish(knownHeadSeq: chain == writer ? ownHead : nil)
            total.eventsChecked += result.eventsChecked
            total.digestsChecked += result.digestsChecked
            total.lastSeq = max(total.lastSeq, result.lastSeq)
            if total.firstBroken == nil, let broken = result.firstBroken { total.firstBroken = broken }
        }
        return total
    }

    // MARK: - Holds

    package func holds(tenant: Tenant) async throws -> [AuditHold] {
        let rows = try decodeRowBinary(
            try await client.query(
                """
                SELECT id, from_nano, to_nano, reason, created_nano, released FROM audit_holds FINAL
                WHERE tenant = \(ClickHouseSQL.quote(tenant.id)) ORDER BY created_nano, id FORMAT RowBinary
                """)
        ) { reader in
            (
                AuditHold(
                    id: try reader.readString(), fromNano: try reader.readInt64LE(), toNano: try reader.readInt64LE(), reason: try reader.readString(),
                    createdNano: try reader.readInt64LE()), try reader.readByte()
            )
        }
        return rows.filter { $0.1 == 0 }.map(\.0)
    }

    package func addHold(_ hold: AuditHold, tenant: Tenant) async throws {
        try await writeHold(hold, tenant: tenant, released: false, version: UInt64(max(0, AuditStore.wallClockNano())))
    }

    package func releaseHold(id: String, tenant: Tenant) async throws -> Bool {
        guard let hold = try await holds(tenant: tenant).first(where: { $0.id == id }) else { return false }
        try await writeHold(hold, tenant: tenant, released: true, version: UInt64(max(0, AuditStore.wallClockNano())) + 1)
        return true
    }

    private func writeHold(_ hold: AuditHold, tenant: Tenant, released: Bool, version: UInt64) async throws {
        var row = ByteWriter(capacity: 128)
        row.writeString(tenant.id)
        row.writeString(hold.id)
        row.writeInt64LE(hold.fromNano)
        row.writeInt64LE(hold.toNano)
        row.writeString(hold.reason)
        row.writeInt64LE(hold.createdNano)
        row.writeByte(released ? 1 : 0)
        row.writeUInt64LE(version)
        try await client.insert(
            into: "audit_holds", columns: ["tenant", "id", "from_nano", "to_nano", "reason", "created_nano", "released", "version"], rowBinary: row.bytes)
    }

    // MARK: - Retention

    @discardableResult
    package func applyRetention(now: Int64) async throws -> Int {
        guard options.retention != nil || !options.tenantRetention.isEmpty else { return 0 }
        let tenants = try decodeRowBinary(try await client.query("SELECT DISTINCT tenant FROM audit_events FORMAT RowBinary")) { try $0.readString() }
        var dropped = 0
        for id in tenants where Tenant.isValid(id) {
            let tenant = Tenant(uncheckedID: id)
            guard let retention = options.tenantRetention[tenant] ?? options.retention else { continue }
            let (seconds, attoseconds) = retention.components
            let cutoff = now - (seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
            dropped += try await dropDays(tenant: tenant, before: CivilTime.floorDivide(cutoff, Self.dayNano), now: now)
        }
        return dropped
    }

    /// Deletes `tenant`'s days before `day` that no hold covers, oldest first, each after a signed retention record
    /// per chain bridges it. A day whose seqs of a chain are not one contiguous range (damaged rows) is left for
    /// verify to report.
    private func dropDays(tenant: Tenant, before day: Int64, now: Int64) async throws -> Int {
        let tenantSQL = ClickHouseSQL.quote(tenant.id)
        let rows = try decodeRowBinary(
            try await client.query(
                """
                SELECT day, writer, min(seq), max(seq), count(), min(time_nano), max(time_nano) FROM audit_events
                WHERE tenant = \(tenantSQL) AND day < \(ClickHouseSQL.date(day: day))
                GROUP BY day, writer ORDER BY day, writer FORMAT RowBinary
                """)
        ) { reader in
            (
                day: Int64(try reader.readUInt16LE()), writer: try reader.readString(), first: try reader.readUInt64LE(), last: try reader.readUInt64LE(),
                count: try reader.readUInt64LE(), minTime: try reader.readInt64LE(), maxTime: try reader.readInt64LE()
            )
        }
        guard !rows.isEmpty else { return 0 }
        let holds = try await holds(tenant: tenant)
        var dropped = 0
        for (expiredDay, chains) in Dictionary(grouping: rows, by: \.day).sorted(by: { $0.key < $1.key }) {
            let minTime = chains.map(\.minTime).min() ?? 0
            let maxTime = chains.map(\.maxTime).max() ?? 0
            if holds.contains(where: { $0.fromNano <= maxTime && minTime <= $0.toNano }) { continue }
            guard chains.allSatisfy({ $0.last >= $0.first && $0.last - $0.first + 1 == $0.count }) else {
                logger.warning("audit: retention keeps day \(expiredDay) of tenant \(tenant): a chain's seqs there are not contiguous (run verify)")
                continue
            }
            for chain in chains {
                let known = try await bridges(tenant: tenant, writer: chain.writer)
                if known.contains(where: { $0.firstSeq == chain.first && $0.lastSeq == chain.last }) { continue }
                let previous: [UInt8]
                if chain.first == 1 {
                    previous = AuditChain.genesisHash
                } else if let bridge = known.first(where: { $0.lastSeq == chain.first - 1 }) {
                    previous = bridge.lastHash
                } else {
                    previous = try await hash(tenant: tenant, writer: chain.writer, seq: chain.first - 1)
                }
                let last = try await hash(tenant: tenant, writer: chain.writer, seq: chain.last)
                let bridge = try AuditChain.Bridge.sign(
                    tenant: tenant, firstSeq: chain.first, lastSeq: chain.last, previousHash: previous, lastHash: last, droppedNano: now, signer: signer)
                var row = ByteWriter(capacity: 256)
                row.writeString(tenant.id)
                row.writeString(chain.writer)
                row.writeUInt64LE(bridge.firstSeq)
                row.writeUInt64LE(bridge.lastSeq)
                row.writeBytes(bridge.payload)
                row.writeBytes(bridge.signature)
                row.writeBytes(bridge.publicKey)
                try await client.insert(
                    into: "audit_retention", columns: ["tenant", "writer", "first_seq", "last_seq", "payload", "signature", "public_key"],
                    rowBinary: row.bytes)
            }
            for table in ["audit_events", "audit_ids"] {
                try await client.execute("ALTER TABLE \(table) DELETE WHERE tenant = \(tenantSQL) AND day = \(ClickHouseSQL.date(day: expiredDay))")
            }
            let count = chains.reduce(0) { $0 + Int($1.count) }
            dropped += count
            logger.info("audit: retention dropped \(count) events of day \(expiredDay) of tenant \(tenant)")
        }
        return dropped
    }

    /// The stored hash of one event of a chain.
    private func hash(tenant: Tenant, writer: String, seq: UInt64) async throws -> [UInt8] {
        let answer = try await client.query(
            """
            SELECT hash FROM audit_events WHERE tenant = \(ClickHouseSQL.quote(tenant.id)) AND writer = \(ClickHouseSQL.quote(writer)) AND seq = \(seq)
            LIMIT 1 FORMAT RowBinary
            """)
        guard let hash = try decodeRowBinary(answer, { try $0.readBytes() }).first else {
            throw SightlineError(.dataCorrupted, "audit event \(seq) of chain \(writer) of tenant \(tenant) is missing; retention needs its hash (run verify)")
        }
        return hash
    }

    package func close() async {}
}

/// Serialises async work: ``run(_:)`` bodies run one at a time, in arrival order, without blocking a thread while
/// they wait (a `Mutex` cannot be held across `await`).
final class AsyncSerialLock: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state in
                if state.busy {
                    state.waiters.append(continuation)
                    return false
                }
                state.busy = true
                return true
            }
            if granted { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.busy = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
