import Glibc
import Crypto
import Logging
import SightlineCore
import SightlineStorageCore
import SightlineTestSupport
import Testing
@testable import SightlineAuditStore

/// The audit store end to end on real files: appends, de-duplication, search, reopen, retention with holds.
struct AuditStoreTests {
    static let acme = Tenant(uncheckedID: "acme")
    static let globex = Tenant(uncheckedID: "globex")
    static let day: Int64 = 86_400_000_000_000
    static let start: Int64 = 1_780_000_000_000_000_000

    static func event(_ n: Int, action: String = "invoice.update", outcome: AuditEvent.Outcome = .success, time: Int64? = nil) -> AuditEvent {
        AuditEvent(
            id: "evt-\(n)", timeNano: time ?? start + Int64(n) * 1_000_000, actor: .init(id: "user-\(n % 3)", type: "user", display: "User \(n % 3)"),
            action: action, resource: .init(type: "invoice", id: "inv-\(n % 5)"), outcome: outcome, requestID: "req-\(n)",
            clientAddress: "10.0.0.\(n % 250)", userAgent: "test/1.0", reason: n % 7 == 0 ? "monthly correction" : nil,
            before: #"{"amount":\#(n)}"#, after: #"{"amount":\#(n + 1)}"#, attributes: [("zone", "eu"), ("app", "billing")])
    }

    static func open(_ directory: TemporaryDirectory, _ configure: (inout AuditStoreOptions) -> Void = { _ in }) throws -> AuditStore {
        var options = AuditStoreOptions()
        configure(&options)
        return try AuditStore(directory: directory.path, options: options, logger: Logger(label: "test"))
    }

    @Test func appendsSearchesNewestFirstAndPages() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try Self.open(directory)
        let result = try store.append((1...25).map { Self.event($0) }, tenant: Self.acme, now: Self.start)
        #expect(result == AuditAppendResult(accepted: 25, duplicates: 0))

        let first = try store.search(tenant: Self.acme, filter: AuditFilter(), limit: 10)
        #expect(first.events.map(\.seq) == Array((16...25).reversed()))
        #expect(first.events.first?.event == Self.event(25))
        let second = try store.search(tenant: Self.acme, filter: AuditFilter(), limit: 10, before: first.next)
        #expect(second.events.map(\.seq) == Array((6...15).reversed()))
        let third = try store.search(tenant: Self.acme, filter: AuditFilter(), limit: 10, before: second.next)
        #expect(third.events.map(\.seq) == Array((1...5).reversed()))
        #expect(third.next == nil)

        var filter = AuditFilter()
        filter.actorID = "user-1"
        filter.resourceID = "inv-2"
        let matched = try store.search(tenant: Self.acme, filter: filter, limit: 100).events.map(\.event.id)
        #expect(matched == (1...25).reversed().filter { $0 % 3 == 1 && $0 % 5 == 2 }.map { "evt-\($0)" })
        filter = AuditFilter()
        filter.text = "MONTHLY"
        #expect(try store.search(tenant: Self.acme, filter: filter, limit: 100).events.map(\.seq) == [21, 14, 7])
        filter = AuditFilter()
        filter.action = "invoice.*"
        filter.fromNano = Self.start + 20 * 1_000_000
        #expect(try store.search(tenant: Self.acme, filter: filter, limit: 100).events.count == 6)
        #expect(try store.search(tenant: Self.globex, filter: AuditFilter(), limit: 100).events.isEmpty)
    }

    @Test func duplicateIDsAreStoredOnceAcrossBatchesAndRestarts() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let store = try Self.open(directory)
            #expect(try store.append([Self.event(1), Self.event(2), Self.event(1)], tenant: Self.acme, now: Self.start)
                == AuditAppendResult(accepted: 2, duplicates: 1))
            #expect(try store.append([Self.event(2), Self.event(3)], tenant: Self.acme, now: Self.start)
                == AuditAppendResult(accepted: 1, duplicates: 1))
            // The same id in another tenant is another event.
            #expect(try store.append([Self.event(1)], tenant: Self.globex, now: Self.start) == AuditAppendResult(accepted: 1, duplicates: 0))
            store.close()
        }
        let reopened = try Self.open(directory)
        #expect(try reopened.append([Self.event(3), Self.event(4)], tenant: Self.acme, now: Self.start)
            == AuditAppendResult(accepted: 1, duplicates: 1))
        #expect(reopened.lastSeq(tenant: Self.acme) == 4)
        #expect(try reopened.verify(tenant: Self.acme).isIntact)
        #expect(try reopened.verify(tenant: Self.acme).eventsChecked == 4)
    }

    @Test func segmentsRollOverBySizeAndByDayAndTheChainContinues() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try Self.open(directory) { $0.segmentMaxBytes = 2000 }
        for batch in 0..<10 {
            _ = try store.append((1...5).map { Self.event(batch * 5 + $0) }, tenant: Self.acme, now: Self.start)
        }
        _ = try store.append([Self.event(100)], tenant: Self.acme, now: Self.start + Self.day)
        let segments = try AuditFormat.segmentPaths(in: directory.file("acme"))
        #expect(segments.count > 3)
        try store.writeDigests(now: Self.start)
        let verification = try store.verify(tenant: Self.acme)
        #expect(verification.isIntact, "\(String(describing: verification.firstBroken))")
        #expect(verification.eventsChecked == 51)
        #expect(try store.search(tenant: Self.acme, filter: AuditFilter(), limit: 100).events.map(\.seq) == Array((1...51).reversed()))
        store.close()
        let reopened = try Self.open(directory) { $0.segmentMaxBytes = 2000 }
        _ = try reopened.append([Self.event(101)], tenant: Self.acme, now: Self.start + Self.day)
        #expect(try reopened.verify(tenant: Self.acme).isIntact)
        #expect(try reopened.verify(tenant: Self.acme, fromSeq: 52).eventsChecked == 1)
        #expect(try reopened.verify(tenant: Self.acme, fromSeq: 40).eventsChecked == 52)
        // From a time: the last digest made by then (seq 51, written at start) anchors the check.
        #expect(try reopened.verify(tenant: Self.acme, fromTimeNano: Self.start + 1).eventsChecked == 1)
        #expect(try reopened.verify(tenant: Self.acme, fromTimeNano: Self.start - 1).eventsChecked == 52)
    }

    @Test func aTornLastRecordIsCutOffOnOpen() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try Self.open(directory)
        _ = try store.append((1...3).map { Self.event($0) }, tenant: Self.acme, now: Self.start)
        store.close()
        let path = directory.file("acme/" + AuditFormat.segmentName(firstSeq: 1))
        let fd = try POSIXFile.open(path, O_WRONLY | O_APPEND)
        try [UInt8]([200, 0, 0, 0, 1, 2, 3]).withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: path) }
        POSIXFile.close(fd)
        let reopened = try Self.open(directory)
        #expect(reopened.lastSeq(tenant: Self.acme) == 3)
        _ = try reopened.append([Self.event(4)], tenant: Self.acme, now: Self.start)
        #expect(try reopened.verify(tenant: Self.acme).isIntact)
    }

    @Test func retentionDropsOldSegmentsButKeepsHeldOnesAndVerifyBridgesTheGap() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try Self.open(directory) { $0.retention = .seconds(86_400 * 30) }
        // Three days of events, one segment each; the middle day is under a legal hold.
        for day in 0..<3 {
            let now = Self.start + Int64(day) * Self.day
            _ = try store.append((1...4).map { Self.event(day * 10 + $0, time: now + Int64($0)) }, tenant: Self.acme, now: now)
        }
        _ = try store.append([Self.event(99, time: Self.start + 40 * Self.day)], tenant: Self.acme, now: Self.start + 40 * Self.day)
        try store.addHold(AuditHold(id: "case-17", fromNano: Self.start + Self.day, toNano: Self.start + Self.day + 100, reason: "litigation", createdNano: Self.start),
            tenant: Self.acme)
        try store.writeDigests(now: Self.start + 40 * Self.day)

        let dropped = try store.applyRetention(now: Self.start + 40 * Self.day)
        #expect(dropped == 8)
        let ids = try store.search(tenant: Self.acme, filter: AuditFilter(), limit: 100).events.map(\.event.id)
        #expect(ids == ["evt-99", "evt-14", "evt-13", "evt-12", "evt-11"])
        let verification = try store.verify(tenant: Self.acme)
        #expect(verification.isIntact, "\(String(describing: verification.firstBroken))")
        #expect(verification.eventsChecked == 5)

        // Releasing the hold lets the next run drop the held day too.
        #expect(try store.releaseHold(id: "case-17", tenant: Self.acme))
        #expect(try store.applyRetention(now: Self.start + 40 * Self.day) == 4)
        #expect(try store.verify(tenant: Self.acme).isIntact)
        store.close()
        let reopened = try Self.open(directory) { $0.retention = .seconds(86_400 * 30) }
        #expect(try reopened.holds(tenant: Self.acme).isEmpty)
        #expect(try reopened.verify(tenant: Self.acme).isIntact)
    }

    @Test func digestsAreSignedWithTheExportedKey() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try Self.open(directory)
        _ = try store.append((1...3).map { Self.event($0) }, tenant: Self.acme, now: Self.start)
        #expect(try store.writeDigests(now: Self.start) == 1)
        #expect(try store.writeDigests(now: Self.start) == 0)
        _ = try store.append([Self.event(4)], tenant: Self.acme, now: Self.start)
        #expect(try store.writeDigests(now: Self.start) == 1)
        let digests = try store.digests(tenant: Self.acme)
        #expect(digests.map(\.seq) == [3, 4])
        let key = try Curve25519.Signing.PublicKey(rawRepresentation: store.publicKey)
        for digest in digests { #expect(key.isValidSignature(digest.signature, for: digest.payload)) }
        #expect(store.publicKeyPEM.hasPrefix("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"))
        // The same key after a restart.
        store.close()
        #expect(try Self.open(directory).publicKey == store.publicKey)
    }
}
