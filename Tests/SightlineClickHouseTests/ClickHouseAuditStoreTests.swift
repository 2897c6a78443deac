import Foundation
import Logging
import SightlineAuditStore
import SightlineCore
import SightlineStorageCore
import SightlineTestSupport
import Testing

@testable import SightlineClickHouse

/// The audit trail on ClickHouse: the same answers as the embedded store for appends, searches and verification;
/// chains per writer when two servers share the tables; tampering through SQL found by verify; holds and retention.
@Suite(needsClickHouse) struct ClickHouseAuditStoreTests {
    static let acme = Tenant(uncheckedID: "acme")
    static let globex = Tenant(uncheckedID: "globex")
    static let day: Int64 = 86_400_000_000_000
    static let start: Int64 = 1_780_000_000_000_000_000

    /// A deterministic event: fields vary with `n` and with the seeded generator's draws.
    static func event(_ n: Int, action: String = "invoice.update", outcome: AuditEvent.Outcome = .success) -> AuditEvent {
        AuditEvent(
            id: "evt-\(n)", timeNano: start + Int64(n) * 1_000_000, actor: .init(id: "user-\(n % 3)", type: "user", display: "User \(n % 3)"),
            action: action, resource: .init(type: "invoice", id: "inv-\(n % 5)"), outcome: outcome, requestID: "req-\(n)",
            clientAddress: "10.0.0.\(n % 250)", userAgent: "test/1.0", reason: n % 7 == 0 ? "Monthly Correction" : nil,
            before: #"{"amount":\#(n)}"#, after: #"{"amount":\#(n + 1)}"#, attributes: [("zone", n % 2 == 0 ? "eu" : "us"), ("app", "billing")])
    }

    static func open(_ client: ClickHouseClient, _ directory: TemporaryDirectory, _ configure: (inout AuditStoreOptions) -> Void = { _ in })
        async throws -> ClickHouseAuditStore
    {
        var options = AuditStoreOptions()
        configure(&options)
        return try await ClickHouseAuditStore(client: client, directory: directory.path, options: options, logger: Logger(label: "test"))
    }

    /// Every page of a search, following the cursors.
    static func all(_ store: some AuditBackend, _ tenant: Tenant = acme, filter: AuditFilter = AuditFilter(), limit: Int) async throws -> [StoredAuditEvent] {
        var events: [StoredAuditEvent] = []
        var cursor: String?
        repeat {
            let page = try await store.search(tenant: tenant, filter: filter, limit: limit, cursor: cursor)
            #expect(page.events.count <= limit)
            events += page.events
            cursor = page.next
        } while cursor != nil
        return events
    }

    /// Waits until ClickHouse finished the mutations (ALTER … UPDATE/DELETE) of the client's database.
    static func waitForMutations(_ client: ClickHouseClient) async throws {
        for _ in 0..<600 {
            let pending = try await client.query(
                "SELECT count() FROM system.mutations WHERE database = \(ClickHouseSQL.quote(client.database)) AND is_done = 0 FORMAT TabSeparated")
            if String(decoding: pending, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "0" { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("ClickHouse did not finish its mutations")
    }

    @Test func answersAsTheEmbeddedStoreForAppendSearchAndVerify() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory()
        let embeddedDirectory = try TemporaryDirectory()
        defer {
            directory.remove()
            embeddedDirectory.remove()
        }
        let store = try await Self.open(client, directory)
        let embedded = try AuditStore(directory: embeddedDirectory.path, logger: Logger(label: "test"))
        var random = SplitMix64(seed: 11)
        var n = 0
        for batch in 0..<6 {
            let size = Int(random.next() % 9) + 1
            var events: [AuditEvent] = []
            for _ in 0..<size {
                n += 1
                let outcome = AuditEvent.Outcome.allCases[Int(random.next() % 3)]
                events.append(Self.event(n, action: random.next() % 2 == 0 ? "invoice.update" : "transfer.create", outcome: outcome))
            }
            if batch == 3 { events.append(events[0]) }  // a duplicate inside the batch
            let now = Self.start + Int64(batch) * 1_000_000_000
            let a = try await store.append(events, tenant: Self.acme, now: now)
            let b = try embedded.append(events, tenant: Self.acme, now: now)
            #expect(a == b)
        }
        // Re-sent events are duplicates, not stored again.
        #expect(try await store.append([Self.event(1), Self.event(2)], tenant: Self.acme, now: Self.start) == AuditAppendResult(accepted: 0, duplicates: 2))
        _ = try await store.append([Self.event(900)], tenant: Self.globex, now: Self.start)

        var filters: [AuditFilter] = [AuditFilter()]
        var byActor = AuditFilter()
        byActor.actorID = "user-1"
        byActor.action = "invoice.*"
        filters.append(byActor)
        var denied = AuditFilter()
        denied.outcome = .denied
        denied.resourceID = "inv-2"
        filters.append(denied)
        var text = AuditFilter()
        text.text = "monthly correction"
        filters.append(text)
        var attribute = AuditFilter()
        attribute.text = "EU"
        attribute.fromNano = Self.start + 5_000_000
        attribute.toNano = Self.start + 20_000_000
        filters.append(attribute)
        for filter in filters {
            for limit in [1, 4, 100] {
                let fromClickHouse = try await Self.all(store, filter: filter, limit: limit)
                let fromFiles = try await Self.all(embedded, filter: filter, limit: limit)
                #expect(fromClickHouse.map(\.event) == fromFiles.map(\.event), "\(filter) limit \(limit)")
                #expect(fromClickHouse.map(\.seq) == fromFiles.map(\.seq))
                #expect(fromClickHouse.map(\.hash) == fromFiles.map(\.hash), "the same chain rules give the same hashes")
                #expect(fromClickHouse.allSatisfy { $0.chain == store.writer && $0.tenant == Self.acme })
            }
        }
        #expect(try await Self.all(store, Self.globex, limit: 10).map(\.event.id) == ["evt-900"])

        #expect(try await store.writeDigests(now: Self.start + 10) == 2)
        #expect(try await store.writeDigests(now: Self.start + 11) == 0, "no chain moved")
        let verified = try await store.verify(tenant: Self.acme, fromSeq: nil, fromTimeNano: nil)
        #expect(verified.isIntact)
        #expect(verified.eventsChecked == n && verified.lastSeq == UInt64(n) && verified.digestsChecked == 1)
        let digest = try #require(try await store.digests(tenant: Self.acme).first)
        #expect(digest.chain == store.writer && digest.seq == UInt64(n))
        #expect(digest.publicKey.map { AuditSigner.isValid(signature: digest.signature, for: digest.payload, publicKey: $0) } == true)
        #expect(try await store.verify(tenant: Self.acme, fromSeq: UInt64(n), fromTimeNano: nil).isIntact)
        try await cleanUp(client)
    }

    @Test func twoServersWriteTheirOwnChainsAndEitherReadsAndVerifiesAll() async throws {
        let client = try await testClient()
        let one = try TemporaryDirectory()
        let two = try TemporaryDirectory()
        defer {
            one.remove()
            two.remove()
        }
        let first = try await Self.open(client, one)
        let second = try await Self.open(client, two)
        #expect(first.writer != second.writer)
        for n in 1...20 {
            let store = n % 3 == 0 ? second : first
            _ = try await store.append([Self.event(n)], tenant: Self.acme, now: Self.start + Int64(n))
        }
        // Both servers race on the same id: both store it, reads keep the copy stored first.
        _ = try await first.append([Self.event(21)], tenant: Self.acme, now: Self.start + 21)
        let raced = try await second.append([Self.event(21)], tenant: Self.acme, now: Self.start + 22)
        #expect(raced.duplicates == 1, "an id already stored is seen by the other server too")
        // A real race cannot be staged here without timing, so store a second copy the way a race would.
        try await client.execute(
            """
            INSERT INTO audit_events SELECT tenant, day, received_nano + 1, writer, seq + 1000, id, time_nano, actor_id, actor_type, actor_display,
              action, resource_type, resource_id, outcome, request_id, client_address, user_agent, reason, before, after, attribute_keys,
              attribute_values, payload, hash FROM audit_events WHERE id = 'evt-21'
            """)
        try await first.writeDigests(now: Self.start + 30)
        try await second.writeDigests(now: Self.start + 30)

        for store in [first, second] {
            let events = try await Self.all(store, limit: 7)
            #expect(events.map(\.event.id) == (1...21).reversed().map { "evt-\($0)" })
            #expect(events.filter { $0.chain == second.writer }.map(\.seq) == Array((1...6).reversed()))
            #expect(events.filter { $0.chain == first.writer }.map(\.seq) == Array((1...15).reversed()))
        }
        // The copied row is not part of any chain: verify names it.
        let broken = try #require(try await second.verify(tenant: Self.acme, fromSeq: nil, fromTimeNano: nil).firstBroken)
        #expect(broken.chain == first.writer && broken.seq == 16)
        try await client.execute("ALTER TABLE audit_events DELETE WHERE seq > 1000")
        try await Self.waitForMutations(client)
        for store in [first, second] {
            let verified = try await store.verify(tenant: Self.acme, fromSeq: nil, fromTimeNano: nil)
            #expect(verified.isIntact, "\(String(describing: verified.firstBroken))")
            #expect(verified.eventsChecked == 21 && verified.digestsChecked == 2)
        }

        // A restarted server continues its chain from ClickHouse.
        let restarted = try await Self.open(client, one)
        #expect(restarted.writer == first.writer)
        _ = try await restarted.append([Self.event(22)], tenant: Self.acme, now: Self.start + 40)
        let newest = try #require(try await restarted.search(tenant: Self.acme, filter: AuditFilter(), limit: 1, cursor: nil).events.first)
        #expect(newest.event.id == "evt-22" && newest.seq == 16 && newest.chain == first.writer)
        try await restarted.writeDigests(now: Self.start + 41)
        #expect(try await second.verify(tenant: Self.acme, fromSeq: nil, fromTimeNano: nil).isIntact)
        try await cleanUp(client)
    }

    @Test func aPayloadChangedThroughSQLIsFoundAtItsEvent() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try await Self.open(client, directory)
        _ = try await store.append((1...10).map { Self.event($0) }, tenant: Self.acme, now: Self.start)
        try await store.writeDigests(now: Self.start)
        #expect(try await store.verify(tenant: Self.acme, fromSeq: nil, fromTimeNano: nil).isIntact)

        try await client.execute("ALTER TABLE audit_events UPDATE payload = replaceOne(payload, 'invoice.update', 'invoice.delete') WHERE id = 'evt-5'")
        try await Self.waitForMutations(client)
        let broken = try #require(try await store.verify(tenant: Self.acme, fromSeq: nil, fromTimeNano: nil).firstBroken)
        #expect(broken.seq == 5 && broken.id == "evt-5" && broken.chain == store.writer)
        #expect(broken.reason.contains("changed"))

        // Rewriting the whole chain with recomputed hashes still contradicts the signed digest.
        var previous = AuditChain.genesisHash
        for event in try await Self.all(store, limit: 100).reversed() {
            var changed = event.event
            if event.seq == 5 { changed.action = "invoice.delete" }
            var copy = event
            copy.event = changed
            copy.chain = nil
            let payload = AuditChain.payload(copy)
            let hash = AuditChain.hash(previous: previous, payload: payload)
            previous = hash
            try await client.execute(
                "ALTER TABLE audit_events UPDATE payload = unhex('\(Hex.encode(payload))'), hash = unhex('\(Hex.encode(hash))') WHERE seq = \(event.seq)")
        }
        try await Self.waitForMutations(client)
        let rewritten = try #require(try await store.verify(tenant: Self.acme, fromSeq: nil, fromTimeNano: nil).firstBroken)
        #expect(rewritten.reason.contains("signed digest"), "\(rewritten.reason)")

        // A removed tail is found from the digest, and from the writer's own head.
        try await client.execute("ALTER TABLE audit_events DELETE WHERE seq >= 9")
        try await Self.waitForMutations(client)
        let tail = try #require(try await store.verify(tenant: Self.acme, fromSeq: 6, fromTimeNano: nil).firstBroken)
        #expect(tail.reason.contains("missing"), "\(tail.reason)")
        try await cleanUp(client)
    }

    @Test func badCursorsAndDamagedWriterFilesAreRefusedByName() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try await Self.open(client, directory)
        for cursor in ["12", "x-y-z", "1-NOTHEX0000000000-3", "1-\(store.writer)-"] {
            do {
                _ = try await store.search(tenant: Self.acme, filter: AuditFilter(), limit: 5, cursor: cursor)
                Issue.record("cursor \(cursor) was taken")
            } catch let error as SightlineError {
                #expect(error.code == .invalidArgument && error.message.contains(cursor))
            }
        }
        do {
            _ = try await store.search(tenant: Self.acme, filter: AuditFilter(), limit: 0, cursor: nil)
            Issue.record("limit 0 was taken")
        } catch let error as SightlineError {
            #expect(error.code == .invalidArgument && error.message.contains("limit"))
        }
        let other = try TemporaryDirectory()
        defer { other.remove() }
        try POSIXFile.writeAtomically(Array("not a writer".utf8), to: other.file(ClickHouseAuditStore.writerFileName))
        let error = sightlineError { _ = try ClickHouseAuditStore.writerID(in: other.path) }
        #expect(error?.code == .dataCorrupted && error?.message.contains(ClickHouseAuditStore.writerFileName) == true)
        #expect(try ClickHouseAuditStore.writerID(in: directory.path) == store.writer, "the id is kept")
        try await cleanUp(client)
    }

    @Test func retentionDropsUnheldDaysAndVerifyBridgesTheGap() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try await Self.open(client, directory) { $0.retention = .seconds(86_400 * 2) }
        // Day 0: evt-1…3, day 1: evt-4…6, day 2: evt-7…9 (stored time), day 5: evt-10.
        for (index, day) in [0, 0, 0, 1, 1, 1, 2, 2, 2, 5].enumerated() {
            _ = try await store.append([Self.event(index + 1)], tenant: Self.acme, now: Self.start + Int64(day) * Self.day + Int64(index))
        }
        try await store.writeDigests(now: Self.start + 5 * Self.day)
        // A hold on the event times of day 1's events keeps that day.
        let hold = AuditHold(id: "h1", fromNano: Self.event(4).timeNano, toNano: Self.event(4).timeNano, reason: "litigation", createdNano: Self.start)
        try await store.addHold(hold, tenant: Self.acme)
        try await store.addHold(AuditHold(id: "h2", fromNano: 0, toNano: 1, reason: "old", createdNano: Self.start), tenant: Self.acme)
        #expect(try await store.releaseHold(id: "h2", tenant: Self.acme))
        #expect(try await store.releaseHold(id: "nope", tenant: Self.acme) == false)
        #expect(try await store.holds(tenant: Self.acme) == [hold])

        let dropped = try await store.applyRetention(now: Self.start + 5 * Self.day)
        try await Self.waitForMutations(client)
        #expect(dropped == 6, "days 0 and 2; day 1 is held, day 5 is young")
        #expect(try await Self.all(store, limit: 100).map(\.event.id) == ["evt-10", "evt-6", "evt-5", "evt-4"])
        let verified = try await store.verify(tenant: Self.acme, fromSeq: nil, fromTimeNano: nil)
        #expect(verified.isIntact, "\(String(describing: verified.firstBroken))")
        #expect(verified.eventsChecked == 4)
        #expect(try await store.applyRetention(now: Self.start + 5 * Self.day) == 0, "nothing left to drop")

        // Appends after retention continue the chain, also after a restart.
        let restarted = try await Self.open(client, directory) { $0.retention = .seconds(86_400 * 2) }
        _ = try await restarted.append([Self.event(11)], tenant: Self.acme, now: Self.start + 5 * Self.day + 100)
        #expect(try await restarted.search(tenant: Self.acme, filter: AuditFilter(), limit: 1, cursor: nil).events.first?.seq == 11)
        #expect(try await restarted.verify(tenant: Self.acme, fromSeq: nil, fromTimeNano: nil).isIntact)
        try await cleanUp(client)
    }
}

/// What needs no ClickHouse: a server that cannot reach it fails at start, naming the address.
struct ClickHouseAuditStoreOfflineTests {
    @Test func anUnreachableClickHouseIsNamedAtStart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let client = try ClickHouseClient(url: "http://127.0.0.1:1", database: "audit_offline")
        do {
            _ = try await ClickHouseAuditStore(client: client, directory: directory.path, logger: Logger(label: "test"))
            Issue.record("the store opened without ClickHouse")
        } catch let error as SightlineError {
            #expect(error.code == .unavailable && error.message.contains("127.0.0.1:1"), "\(error)")
        }
    }
}
