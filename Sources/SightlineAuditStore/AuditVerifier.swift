import SightlineCore
import SightlineStorageCore

/// The result of checking a tenant's trail.
package struct AuditVerification: Sendable, Equatable {
    /// Where the trail first stops being what was written.
    package struct Break: Sendable, Equatable {
        /// The seq of the first event that is wrong or missing.
        package var seq: UInt64
        /// Its id, when the bytes there still decode.
        package var id: String?
        package var reason: String
        /// The chain the break is in, when a tenant has several (the ClickHouse store: one per writing server).
        package var chain: String? = nil

        package init(seq: UInt64, id: String?, reason: String, chain: String? = nil) {
            self.seq = seq
            self.id = id
            self.reason = reason
            self.chain = chain
        }
    }

    package var eventsChecked: Int
    package var digestsChecked: Int
    /// The last seq checked.
    package var lastSeq: UInt64
    package var firstBroken: Break?

    package var isIntact: Bool { firstBroken == nil }

    package init(eventsChecked: Int, digestsChecked: Int, lastSeq: UInt64, firstBroken: Break?) {
        self.eventsChecked = eventsChecked
        self.digestsChecked = digestsChecked
        self.lastSeq = lastSeq
        self.firstBroken = firstBroken
    }
}

/// Checks a tenant's trail from its files: every record's hash against its content and its predecessor, seqs without
/// gaps or reorderings (gaps only where a signed retention record accounts for them), every digest's signature and
/// digest chain, and every digest's hash against the recomputed chain. A change, deletion, reordering or insertion
/// of events is caught by the first check that fails, and the result names the first seq where the chain breaks.
struct AuditVerifier {
    let tenant: Tenant
    let signer: AuditSigner

    private struct Failure: Error {
        var brk: AuditVerification.Break
    }

    func verify(_ files: TenantTrail.FileSnapshot, fromSeq: UInt64?, fromTimeNano: Int64? = nil) throws -> AuditVerification {
        var checkedEvents = 0
        var lastChecked: UInt64 = 0
        // Digests: signatures and their own chain first; they are the trust anchors for everything else.
        var digestHashes: [UInt64: [UInt8]] = [:]
        var digests: [AuditDigest] = []
        var previousDigest = AuditFormat.genesisHash
        for (index, entry) in SignedLog.entries(files.digests).enumerated() {
            guard signer.isValid(signature: entry.signature, for: entry.payload),
                let digest = try? AuditDigest.decode(payload: entry.payload, signature: entry.signature), digest.tenant == tenant
            else {
                return broken(0, nil, "digest #\(index + 1) is not signed by this server's audit key", events: 0, digests: index, last: 0)
            }
            guard digest.previousDigestHash == previousDigest else {
                return broken(digest.seq, nil, "digest #\(index + 1) does not follow the digest before it: a digest was removed or reordered",
                    events: 0, digests: index, last: 0)
            }
            previousDigest = digest.chainHash
            digestHashes[digest.seq] = digest.hash
            digests.append(digest)
        }
        var bridges: [UInt64: AuditRetentionRecord] = [:]
        for entry in SignedLog.entries(files.retention) {
            guard signer.isValid(signature: entry.signature, for: entry.payload),
                let record = try? AuditRetentionRecord.decode(payload: entry.payload, signature: entry.signature), record.tenant == tenant
            else {
                return broken(0, nil, "a retention record is not signed by this server's audit key", events: 0, digests: digests.count, last: 0)
            }
            bridges[record.firstSeq] = record
        }

        var expected: UInt64 = 1
        var previous = AuditFormat.genesisHash
        let anchor =
            if let fromSeq { digests.last(where: { $0.seq < fromSeq }) } else if let fromTimeNano { digests.last(where: { $0.createdNano <= fromTimeNano }) } else {
                AuditDigest?.none
            }
        if let anchor {
            expected = anchor.seq + 1
            previous = anchor.hash
        }
        let startSeq = expected
        do {
            for path in files.segmentPaths {
                let bytes = path == files.activePath ? files.activeBytes : try POSIXFile.readAll(path)
                let header: AuditFormat.SegmentHeader
                let headerEnd: Int
                do {
                    (header, headerEnd) = try AuditFormat.SegmentHeader.parse(bytes)
                } catch {
                    throw Failure(brk: .init(seq: expected, id: nil, reason: "segment \(fileName(path)) has a damaged header"))
                }
                let (records, end) = AuditFormat.records(in: bytes, from: headerEnd)
                if header.firstSeq < startSeq && header.firstSeq + UInt64(records.count) <= startSeq { continue }  // before the start
                if header.firstSeq >= startSeq {
                    // Bridge retention gaps, then the header must continue the chain exactly.
                    while header.firstSeq > expected, let bridge = bridges[expected], bridge.previousHash == previous {
                        expected = bridge.lastSeq + 1
                        previous = bridge.lastHash
                    }
                    guard header.firstSeq == expected else {
                        throw Failure(brk: .init(seq: min(expected, header.firstSeq), id: nil,
                            reason: header.firstSeq > expected
                                ? "events \(expected)…\(header.firstSeq - 1) are missing (segment \(fileName(path)) starts at \(header.firstSeq))"
                                : "segment \(fileName(path)) starts at seq \(header.firstSeq), which an earlier segment already has"))
                    }
                    guard header.previousHash == previous else {
                        throw Failure(brk: .init(seq: expected, id: nil, reason: "segment \(fileName(path)) does not continue the chain of the segment before it"))
                    }
                }
                for (index, record) in records.enumerated() {
                    let positionSeq = header.firstSeq + UInt64(index)
                    if positionSeq < startSeq { continue }
                    let decoded = try? record.decode(in: bytes)
                    if let decoded, decoded.seq != expected {
                        throw Failure(brk: .init(seq: expected, id: decoded.event.id,
                            reason: decoded.seq > expected
                                ? "event \(expected) is missing: seq \(decoded.seq) follows seq \(expected - 1)"
                                : "events are out of order: seq \(decoded.seq) found where seq \(expected) belongs"))
                    }
                    let hash = record.chainHash(after: previous, in: bytes)
                    guard hash == record.storedHash else {
                        throw Failure(brk: .init(seq: expected, id: decoded?.event.id,
                            reason: decoded == nil
                                ? "event \(expected) does not decode: its bytes were changed"
                                : "event \(expected) was changed or inserted: its hash does not match its content and the event before it"))
                    }
                    guard let decoded else {
                        throw Failure(brk: .init(seq: expected, id: nil, reason: "event \(expected) does not decode"))
                    }
                    guard decoded.tenant == tenant else {
                        throw Failure(brk: .init(seq: expected, id: decoded.event.id, reason: "event \(expected) belongs to tenant \(decoded.tenant)"))
                    }
                    if let signed = digestHashes[expected], signed != hash {
                        let earlier = digests.last(where: { $0.seq < expected }).map { $0.seq + 1 } ?? 1
                        throw Failure(brk: .init(seq: max(earlier, startSeq), id: nil,
                            reason: "the events \(max(earlier, startSeq))…\(expected) do not match the signed digest of seq \(expected): the files were rewritten"))
                    }
                    previous = hash
                    lastChecked = expected
                    expected += 1
                    checkedEvents += 1
                }
                if end < bytes.count {
                    throw Failure(brk: .init(seq: expected, id: nil, reason: "segment \(fileName(path)) ends in the middle of event \(expected)"))
                }
            }
            // A digest beyond the last event proves that events at the end were removed.
            if let last = digests.last, last.seq >= expected {
                var covered = expected
                while let bridge = bridges[covered], bridge.previousHash == previous {
                    covered = bridge.lastSeq + 1
                    previous = bridge.lastHash
                }
                if last.seq >= covered {
                    throw Failure(brk: .init(seq: covered, id: nil, reason: "events \(covered)…\(last.seq) are missing: a signed digest covers them"))
                }
            }
            if files.lastSeq >= expected, files.lastSeq > 0 {
                throw Failure(brk: .init(seq: expected, id: nil, reason: "events \(expected)…\(files.lastSeq) are missing from the files"))
            }
        } catch let failure as Failure {
            return AuditVerification(eventsChecked: checkedEvents, digestsChecked: digests.count, lastSeq: lastChecked, firstBroken: failure.brk)
        }
        return AuditVerification(eventsChecked: checkedEvents, digestsChecked: digests.count, lastSeq: lastChecked, firstBroken: nil)
    }

    private func broken(_ seq: UInt64, _ id: String?, _ reason: String, events: Int, digests: Int, last: UInt64) -> AuditVerification {
        AuditVerification(eventsChecked: events, digestsChecked: digests, lastSeq: last, firstBroken: .init(seq: seq, id: id, reason: reason))
    }

    private func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
