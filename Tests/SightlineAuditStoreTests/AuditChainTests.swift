import SightlineCore
import SightlineTestSupport
import Testing
@testable import SightlineAuditStore

/// The chain rules for stores that keep events as rows (ClickHouse), without a database: rows sealed with
/// ``AuditChain`` verify, and every kind of change — payload, order, seq or id column, a removed tail, a digest signed
/// by another key or altered — is named at its seq, as the embedded verifier names it.
struct AuditChainTests {
    typealias T = AuditStoreTests

    /// Rows 1…`count` of one chain of `acme`, and a signer.
    static func chain(_ count: Int, _ directory: TemporaryDirectory) throws -> (rows: [AuditChain.Row], signer: AuditSigner) {
        let signer = try AuditSigner(directory: directory.path)
        var previous = AuditChain.genesisHash
        var rows: [AuditChain.Row] = []
        for n in 1...count {
            let payload = AuditChain.payload(StoredAuditEvent(seq: UInt64(n), tenant: T.acme, receivedNano: T.start, event: T.event(n), hash: []))
            let hash = AuditChain.hash(previous: previous, payload: payload)
            rows.append(AuditChain.Row(seq: UInt64(n), id: "evt-\(n)", payload: payload, hash: hash))
            previous = hash
        }
        return (rows, signer)
    }

    static func check(_ rows: [AuditChain.Row], digests: [AuditDigest] = [], bridges: [AuditChain.Bridge] = [], head: UInt64? = nil, fromSeq: UInt64? = nil)
        -> AuditVerification
    {
        var checker = AuditChain.Checker(tenant: T.acme, chain: "w1", digests: digests, bridges: bridges, fromSeq: fromSeq, fromTimeNano: nil)
        for row in rows where row.seq >= checker.firstNeededSeq { checker.feed(row) }
        return checker.finish(knownHeadSeq: head)
    }

    static func digest(_ rows: [AuditChain.Row], at seq: Int, after previous: AuditDigest? = nil, signer: AuditSigner) throws -> AuditDigest {
        try AuditDigest.sign(
            tenant: T.acme, seq: UInt64(seq), hash: rows[seq - 1].hash, createdNano: T.start + Int64(seq),
            previousDigestHash: previous?.chainHash ?? AuditChain.genesisHash, signer: signer)
    }

    @Test func sealedRowsVerifyAndDecodeToTheirEvents() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (rows, signer) = try Self.chain(10, directory)
        let first = try Self.digest(rows, at: 4, signer: signer)
        let second = try Self.digest(rows, at: 10, after: first, signer: signer)
        let result = Self.check(rows, digests: [first, second], head: 10)
        #expect(result == AuditVerification(eventsChecked: 10, digestsChecked: 2, lastSeq: 10, firstBroken: nil))
        #expect(try AuditChain.decode(payload: rows[2].payload, hash: rows[2].hash).event == T.event(3))
        // From a seq: the checker starts at the digest before it.
        #expect(Self.check(rows, digests: [first, second], fromSeq: 6).eventsChecked == 6)
        // Undecodable payloads are refused by name.
        #expect(throws: SightlineError.self) { try AuditChain.decode(payload: [9, 9], hash: []) }
    }

    @Test func everyChangeIsNamedAtItsSeq() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (rows, signer) = try Self.chain(10, directory)
        let digest = try Self.digest(rows, at: 10, signer: signer)

        var changed = rows
        let action = Array("invoice.update".utf8)
        let at = try #require(changed[4].payload.indices.first { Array(changed[4].payload.dropFirst($0).prefix(action.count)) == action })
        changed[4].payload[at + action.count - 1] ^= 0x03
        var broken = try #require(Self.check(changed, digests: [digest]).firstBroken)
        #expect(broken.seq == 5 && broken.chain == "w1" && broken.reason.contains("changed"))

        var swapped = rows
        swapped.swapAt(6, 7)
        broken = try #require(Self.check(swapped).firstBroken)
        #expect(broken.seq == 7 && broken.reason.contains("missing"))

        var relabelled = rows
        relabelled[2].id = "evt-other"
        broken = try #require(Self.check(relabelled).firstBroken)
        #expect(broken.seq == 3 && broken.reason.contains("column"))

        broken = try #require(Self.check(Array(rows.prefix(8)), digests: [digest]).firstBroken)
        #expect(broken.seq == 9 && broken.reason.contains("9…10 are missing"))
        broken = try #require(Self.check(Array(rows.prefix(8)), head: 10).firstBroken)
        #expect(broken.seq == 9)

        var forged = digest
        forged.signature[0] ^= 1
        broken = try #require(Self.check(rows, digests: [forged]).firstBroken)
        #expect(broken.reason.contains("not signed"))
        var keyless = digest
        keyless.publicKey = nil
        #expect(Self.check(rows, digests: [keyless]).firstBroken != nil, "a digest without its key proves nothing")
        // A digest signed by another server's key is valid with that key.
        let other = try TemporaryDirectory()
        defer { other.remove() }
        let foreign = try Self.digest(rows, at: 10, signer: try AuditSigner(directory: other.path))
        #expect(Self.check(rows, digests: [foreign]).isIntact)
    }

    @Test func retentionRecordsBridgeTheGapTheyAccountFor() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (rows, signer) = try Self.chain(10, directory)
        let bridge = try AuditChain.Bridge.sign(
            tenant: T.acme, firstSeq: 1, lastSeq: 4, previousHash: AuditChain.genesisHash, lastHash: rows[3].hash, droppedNano: T.start, signer: signer)
        let kept = Array(rows.dropFirst(4))
        #expect(Self.check(kept, bridges: [bridge], head: 10).isIntact)
        #expect(Self.check(Array(kept.dropFirst()), bridges: [bridge]).firstBroken?.seq == 5, "a gap beyond the record is still a gap")
        var altered = bridge
        altered.lastSeq = 5
        #expect(Self.check(kept, bridges: [altered]).firstBroken?.reason.contains("retention record") == true)
    }

    @Test func theEmbeddedStoreTakesOnlyItsOwnCursors() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try T.open(directory)
        _ = try store.append((1...5).map { T.event($0) }, tenant: T.acme, now: T.start)
        let backend: any AuditBackend = store
        let page = try await backend.search(tenant: T.acme, filter: AuditFilter(), limit: 2, cursor: nil)
        #expect(page.events.map(\.seq) == [5, 4] && page.next == "4")
        #expect(try await backend.search(tenant: T.acme, filter: AuditFilter(), limit: 2, cursor: page.next).events.map(\.seq) == [3, 2])
        do {
            _ = try await backend.search(tenant: T.acme, filter: AuditFilter(), limit: 2, cursor: "1-abc-2")
            Issue.record("a foreign cursor was taken")
        } catch let error as SightlineError {
            #expect(error.code == .invalidArgument && error.message.contains("1-abc-2"))
        }
    }
}
