package import SightlineCore

/// The chain rules of the audit trail, for stores that keep events as rows rather than segment files (ClickHouse):
/// the canonical payload of an event (``SightlineCore/ByteWriter/writeAuditEvent(_:)``), the hash that links it to the
/// event before (`SHA-256(previous hash ‖ payload)`, from 32 zero bytes), and a checker that verifies one chain fed row
/// by row with the same rules and break reasons as the embedded ``AuditVerifier``.
package enum AuditChain {
    /// The hash before the first event of every chain.
    package static var genesisHash: [UInt8] { AuditFormat.genesisHash }

    /// The bytes that are hashed and stored for `stored` (its hash is not part of them).
    package static func payload(_ stored: StoredAuditEvent) -> [UInt8] {
        var writer = ByteWriter(capacity: 256)
        writer.writeAuditEvent(stored)
        return writer.bytes
    }

    /// The hash `payload` chains to after `previous`.
    package static func hash(previous: [UInt8], payload: [UInt8]) -> [UInt8] {
        payload.withUnsafeBytes { AuditFormat.chainHash(previous: previous, payload: $0) }
    }

    /// The stored event a payload encodes, with `hash` attached.
    /// - Throws: `dataCorrupted` naming what does not decode.
    package static func decode(payload: [UInt8], hash: [UInt8]) throws -> StoredAuditEvent {
        try payload.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            let stored = try reader.readAuditEvent(hash: hash)
            guard reader.isAtEnd else { throw SightlineError(.dataCorrupted, "an audit event payload has bytes after its last field") }
            return stored
        }
    }

    /// A signed statement that retention dropped seqs ``firstSeq``…``lastSeq`` of a chain, with the chain's hash before
    /// and after them, so verification can bridge the gap. Same signed bytes as the embedded store's retention records.
    package struct Bridge: Sendable, Equatable {
        package var firstSeq: UInt64
        package var lastSeq: UInt64
        package var previousHash: [UInt8]
        package var lastHash: [UInt8]
        package var droppedNano: Int64
        package var payload: [UInt8]
        package var signature: [UInt8]
        /// The raw Ed25519 key that checks ``signature``.
        package var publicKey: [UInt8]

        /// Signs the statement that `tenant`'s chain lost seqs `firstSeq…lastSeq` to retention.
        package static func sign(
            tenant: Tenant, firstSeq: UInt64, lastSeq: UInt64, previousHash: [UInt8], lastHash: [UInt8], droppedNano: Int64, signer: AuditSigner
        ) throws -> Bridge {
            let payload = AuditRetentionRecord.payload(
                tenant: tenant, firstSeq: firstSeq, lastSeq: lastSeq, previousHash: previousHash, lastHash: lastHash, droppedNano: droppedNano)
            return Bridge(
                firstSeq: firstSeq, lastSeq: lastSeq, previousHash: previousHash, lastHash: lastHash, droppedNano: droppedNano, payload: payload,
                signature: try signer.sign(payload), publicKey: signer.publicKey)
        }

        /// Reads a bridge back from its signed bytes and key.
        /// - Throws: `dataCorrupted` when the payload is not a retention record.
        package static func decode(payload: [UInt8], signature: [UInt8], publicKey: [UInt8]) throws -> (tenant: Tenant, bridge: Bridge) {
            let record = try AuditRetentionRecord.decode(payload: payload, signature: signature)
            return (
                record.tenant,
                Bridge(
                    firstSeq: record.firstSeq, lastSeq: record.lastSeq, previousHash: record.previousHash, lastHash: record.lastHash,
                    droppedNano: record.droppedNano, payload: payload, signature: signature, publicKey: publicKey)
            )
        }
    }

    /// One stored row of a chain as the checker sees it: the columns the store keeps beside the payload (seq and id,
    /// which it reads and filters by) and the payload and hash.
    package struct Row: Sendable {
        package var seq: UInt64
        package var id: String
        package var payload: [UInt8]
        package var hash: [UInt8]

        package init(seq: UInt64, id: String, payload: [UInt8], hash: [UInt8]) {
            self.seq = seq
            self.id = id
            self.payload = payload
            self.hash = hash
        }
    }

    /// Verifies one chain of a tenant fed row by row in seq order: digests first (signature by the key stored with
    /// each, the digest chain, the tenant), then every row's seq, hash link, decoding, tenant and its seq and id
    /// columns against its payload, and every digest's hash against the recomputed chain; at the end, digests beyond
    /// the last row and a known head beyond it prove a removed tail.
    package struct Checker {
        package let tenant: Tenant
        package let chain: String
        /// The seq the next row must have; rows before it (before the anchor) are not fed.
        package private(set) var expected: UInt64 = 1
        private var previous = AuditFormat.genesisHash
        private var digestHashes: [UInt64: [UInt8]] = [:]
        private var digests: [AuditDigest] = []
        private var bridges: [UInt64: Bridge] = [:]
        private var startSeq: UInt64 = 1
        private var checked = 0
        private var lastChecked: UInt64 = 0
        private var broken: AuditVerification.Break?

        /// - Parameters:
        ///   - digests: the chain's digests, oldest first, each with the ``AuditDigest/publicKey`` that signed it;
        ///   - bridges: the chain's retention records;
        ///   - fromSeq, fromTimeNano: start at the signed digest before this seq, or made at or before this time.
        package init(tenant: Tenant, chain: String, digests: [AuditDigest], bridges: [Bridge], fromSeq: UInt64?, fromTimeNano: Int64?) {
            self.tenant = tenant
            self.chain = chain
            var previousDigest = AuditFormat.genesisHash
            for (index, digest) in digests.enumerated() {
                guard let key = digest.publicKey, AuditSigner.isValid(signature: digest.signature, for: digest.payload, publicKey: key),
                    let decoded = try? AuditDigest.decode(payload: digest.payload, signature: digest.signature), decoded.tenant == tenant,
                    decoded.seq == digest.seq, decoded.hash == digest.hash
                else {
                    broken = .init(seq: 0, id: nil, reason: "digest #\(index + 1) of chain \(chain) is not signed by the key stored with it", chain: chain)
                    return
                }
                guard decoded.previousDigestHash == previousDigest else {
                    broken = .init(
                        seq: decoded.seq, id: nil,
                        reason: "digest #\(index + 1) of chain \(chain) does not follow the digest before it: a digest was removed or reordered",
                        chain: chain)
                    return
                }
                previousDigest = decoded.chainHash
                digestHashes[decoded.seq] = decoded.hash
                self.digests.append(decoded)
            }
            for bridge in bridges {
                guard AuditSigner.isValid(signature: bridge.signature, for: bridge.payload, publicKey: bridge.publicKey),
                    let decoded = try? Bridge.decode(payload: bridge.payload, signature: bridge.signature, publicKey: bridge.publicKey),
                    decoded.tenant == tenant, decoded.bridge == bridge
                else {
                    broken = .init(seq: 0, id: nil, reason: "a retention record of chain \(chain) is not signed by the key stored with it", chain: chain)
                    return
                }
                self.bridges[bridge.firstSeq] = bridge
            }
            let anchor =
                if let fromSeq { self.digests.last(where: { $0.seq < fromSeq }) } else if let fromTimeNano {
                    self.digests.last(where: { $0.createdNano <= fromTimeNano })
                } else { AuditDigest?.none }
            if let anchor {
                expected = anchor.seq + 1
                previous = anchor.hash
            }
            startSeq = expected
        }

        /// Whether a break was found; feeding more rows after one changes nothing.
        package var isBroken: Bool { broken != nil }

        /// The seq from which rows are needed: the anchor digest's successor.
        package var firstNeededSeq: UInt64 { startSeq }

        /// Checks the next row of the chain (rows must come in seq order).
        package mutating func feed(_ row: Row) {
            guard broken == nil, row.seq >= startSeq else { return }
            // Bridge retention gaps before the row.
            while row.seq > expected, let bridge = bridges[expected], bridge.previousHash == previous {
                expected = bridge.lastSeq + 1
                previous = bridge.lastHash
            }
            let decoded = try? AuditChain.decode(payload: row.payload, hash: row.hash)
            let seq = decoded?.seq ?? row.seq
            if seq != expected {
                fail(
                    expected, decoded?.event.id ?? row.id,
                    seq > expected
                        ? "event \(expected) is missing: seq \(seq) follows seq \(expected - 1)"
                        : "events are out of order: seq \(seq) found where seq \(expected) belongs")
                return
            }
            let hash = AuditChain.hash(previous: previous, payload: row.payload)
            guard hash == row.hash else {
                fail(
                    expected, decoded?.event.id,
                    decoded == nil
                        ? "event \(expected) does not decode: its bytes were changed"
                        : "event \(expected) was changed or inserted: its hash does not match its content and the event before it")
                return
            }
            guard let decoded else { return fail(expected, nil, "event \(expected) does not decode") }
            guard decoded.tenant == tenant else {
                return fail(expected, decoded.event.id, "event \(expected) belongs to tenant \(decoded.tenant)")
            }
            guard decoded.seq == row.seq, decoded.event.id == row.id else {
                return fail(expected, decoded.event.id, "event \(expected) was changed: its seq or id column does not match its sealed content")
            }
            if let signed = digestHashes[expected], signed != hash {
                let earlier = digests.last(where: { $0.seq < expected }).map { $0.seq + 1 } ?? 1
                let from = max(earlier, startSeq)
                return fail(from, nil, "the events \(from)…\(expected) do not match the signed digest of seq \(expected): the rows were rewritten")
            }
            previous = hash
            lastChecked = expected
            expected += 1
            checked += 1
        }

        /// The result once every row was fed. `knownHeadSeq` is where the writer itself knows the chain stands (its own
        /// chain since it last read or appended), so a removed tail shows even without a digest over it.
        package mutating func finish(knownHeadSeq: UInt64? = nil) -> AuditVerification {
            if broken == nil, let last = digests.last, last.seq >= expected {
                var covered = expected
                while let bridge = bridges[covered], bridge.previousHash == previous {
                    covered = bridge.lastSeq + 1
                    previous = bridge.lastHash
                }
                if last.seq >= covered {
                    fail(covered, nil, "events \(covered)…\(last.seq) are missing: a signed digest covers them")
                }
            }
            if broken == nil, let knownHeadSeq, knownHeadSeq >= expected {
                var covered = expected
                while let bridge = bridges[covered], bridge.previousHash == previous {
                    covered = bridge.lastSeq + 1
                    previous = bridge.lastHash
                }
                if knownHeadSeq >= covered {
                    fail(covered, nil, "events \(covered)…\(knownHeadSeq) are missing from the rows")
                }
            }
            return AuditVerification(eventsChecked: checked, digestsChecked: digests.count, lastSeq: lastChecked, firstBroken: broken)
        }

        private mutating func fail(_ seq: UInt64, _ id: String?, _ reason: String) {
            broken = .init(seq: seq, id: id, reason: "chain \(chain): " + reason, chain: chain)
        }
    }
}
