import Logging
import SightlineCore
import SightlineStorageCore
import SightlineTestSupport
import Testing
@testable import SightlineAuditStore

/// Tampering with the files of a trail — a changed byte, a deleted, swapped or inserted event, a rewrite that
/// recomputes every hash, a removed tail or digest — is detected and the first broken seq is named.
struct AuditVerifierTests {
    typealias T = AuditStoreTests

    /// A store with events 1…10 of `acme` in one segment and a digest at seq 10; returns it and the segment's path.
    static func trail(_ directory: TemporaryDirectory) throws -> (AuditStore, String) {
        let store = try T.open(directory)
        _ = try store.append((1...10).map { T.event($0) }, tenant: T.acme, now: T.start)
        try store.writeDigests(now: T.start)
        #expect(try store.verify(tenant: T.acme).isIntact)
        return (store, directory.file("acme/" + AuditFormat.segmentName(firstSeq: 1)))
    }

    /// The segment's bytes split into header and records.
    static func split(_ path: String) throws -> (bytes: [UInt8], headerEnd: Int, records: [AuditFormat.RawRecord]) {
        let bytes = try POSIXFile.readAll(path)
        let (_, end) = try AuditFormat.SegmentHeader.parse(bytes)
        return (bytes, end, AuditFormat.records(in: bytes, from: end).records)
    }

    static func recordBytes(_ bytes: [UInt8], _ record: AuditFormat.RawRecord) -> [UInt8] {
        Array(bytes[record.offset..<record.offset + record.size])
    }

    static func overwrite(_ path: String, _ bytes: [UInt8]) throws {
        try POSIXFile.writeAtomically(bytes, to: path)
    }

    @Test func aChangedByteIsFoundAtItsEvent() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (store, path) = try Self.trail(directory)
        var (bytes, _, records) = try Self.split(path)
        // Flip one byte inside event 5's action text ("invoice.update" → "invoice.updatf").
        let action = Array("invoice.update".utf8)
        let range = records[4].payload
        let at = try #require((range.lowerBound..<range.upperBound - action.count).first { Array(bytes[$0..<$0 + action.count]) == action })
        bytes[at + action.count - 1] ^= 0x03
        try Self.overwrite(path, bytes)
        let broken = try #require(try store.verify(tenant: T.acme).firstBroken)
        #expect(broken.seq == 5)
        #expect(broken.id == "evt-5")
        #expect(broken.reason.contains("changed"))
    }

    @Test func aChangedStoredHashIsFound() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (store, path) = try Self.trail(directory)
        var (bytes, _, records) = try Self.split(path)
        bytes[records[7].payload.upperBound + 3] ^= 0xFF
        try Self.overwrite(path, bytes)
        #expect(try store.verify(tenant: T.acme).firstBroken?.seq == 8)
    }

    @Test func aDeletedEventIsFound() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (store, path) = try Self.trail(directory)
        let (bytes, headerEnd, records) = try Self.split(path)
        var edited = Array(bytes[..<headerEnd])
        for (index, record) in records.enumerated() where index != 3 { edited += Self.recordBytes(bytes, record) }
        try Self.overwrite(path, edited)
        let broken = try #require(try store.verify(tenant: T.acme).firstBroken)
        #expect(broken.seq == 4)
        #expect(broken.reason.contains("missing"))
    }

    @Test func aSwappedPairIsFound() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (store, path) = try Self.trail(directory)
        let (bytes, headerEnd, records) = try Self.split(path)
        var order = Array(records.indices)
        order.swapAt(5, 6)
        let edited = Array(bytes[..<headerEnd]) + order.flatMap { Self.recordBytes(bytes, records[$0]) }
        try Self.overwrite(path, edited)
        #expect(try store.verify(tenant: T.acme).firstBroken?.seq == 6)
    }

    @Test func anInsertedEventIsFound() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (store, path) = try Self.trail(directory)
        let (bytes, headerEnd, records) = try Self.split(path)
        // A forged event, framed and hashed exactly as the store would after event 6.
        var writer = ByteWriter()
        writer.writeAuditEvent(StoredAuditEvent(seq: 7, tenant: T.acme, receivedNano: T.start, event: T.event(77), hash: []))
        let forgedHash = writer.bytes.withUnsafeBytes { AuditFormat.chainHash(previous: records[5].storedHash, payload: $0) }
        var forged: [UInt8] = []
        AuditFormat.appendRecord(payload: writer.bytes, hash: forgedHash, to: &forged)
        let edited = Array(bytes[..<headerEnd]) + records[..<6].flatMap { Self.recordBytes(bytes, $0) } + forged
            + records[6...].flatMap { Self.recordBytes(bytes, $0) }
        try Self.overwrite(path, edited)
        let broken = try #require(try store.verify(tenant: T.acme).firstBroken)
        #expect(broken.seq == 8)
    }

    @Test func aRewriteThatRecomputesEveryHashIsCaughtByTheSignedDigest() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (store, path) = try Self.trail(directory)
        let (bytes, headerEnd, records) = try Self.split(path)
        var edited = Array(bytes[..<headerEnd])
        var previous = AuditFormat.genesisHash
        for (index, record) in records.enumerated() {
            var event = try record.decode(in: bytes)
            if index == 4 { event.event.after = #"{"amount":1000000}"# }
            var writer = ByteWriter()
            writer.writeAuditEvent(event)
            let hash = writer.bytes.withUnsafeBytes { AuditFormat.chainHash(previous: previous, payload: $0) }
            AuditFormat.appendRecord(payload: writer.bytes, hash: hash, to: &edited)
            previous = hash
        }
        try Self.overwrite(path, edited)
        let broken = try #require(try store.verify(tenant: T.acme).firstBroken)
        #expect(broken.reason.contains("signed digest"))
        #expect(broken.seq == 1)
    }

    @Test func removedLastEventsAndRemovedDigestsAreFound() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (store, path) = try Self.trail(directory)
        _ = try store.append([T.event(11)], tenant: T.acme, now: T.start)
        try store.writeDigests(now: T.start)
        let digestsPath = directory.file("acme/digests.log")
        let digests = try POSIXFile.readAll(digestsPath)
        let (bytes, _, records) = try Self.split(path)
        // Cut the last two events off the file.
        try Self.overwrite(path, Array(bytes[..<records[9].offset]))
        let broken = try #require(try store.verify(tenant: T.acme).firstBroken)
        #expect(broken.seq == 10)
        #expect(broken.reason.contains("missing"))
        // Restore the events, drop the first digest: the digest chain no longer holds.
        try Self.overwrite(path, bytes)
        #expect(try store.verify(tenant: T.acme).isIntact)
        let entries = SignedLog.entries(digests)
        try Self.overwrite(digestsPath, SignedLog.frame(payload: entries[1].payload, signature: entries[1].signature))
        #expect(try store.verify(tenant: T.acme).firstBroken?.reason.contains("digest") == true)
    }

    @Test func aDeletedSegmentIsFound() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try T.open(directory) { $0.segmentMaxBytes = 1500 }
        for batch in 0..<6 { _ = try store.append((1...3).map { T.event(batch * 3 + $0) }, tenant: T.acme, now: T.start) }
        let segments = try POSIXFile.listDirectory(directory.file("acme")).filter { $0.hasPrefix("seg-") }.sorted()
        #expect(segments.count >= 3)
        try POSIXFile.remove(directory.file("acme/" + segments[1]))
        let broken = try #require(try store.verify(tenant: T.acme).firstBroken)
        #expect(broken.seq == AuditFormat.firstSeq(ofSegmentNamed: segments[1]))
    }
}
