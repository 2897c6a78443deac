import Glibc
import Logging
import SightlineCore
import SightlineStorageCore
import Synchronization

/// One tenant's audit trail: its segments, chain position, ids, digests and holds. All mutation happens under one lock.
final class TenantTrail: Sendable {
    /// What the store knows of one segment file without reading it.
    struct Segment: Sendable {
        var path: String
        var firstSeq: UInt64
        /// The chain's hash before the segment's first event.
        var previousHash: [UInt8]
        /// The hash of its last event (``previousHash`` while empty).
        var lastHash: [UInt8]
        /// Byte offset of each record; record `i` has seq `firstSeq + i` (so an empty segment's ``lastSeq`` is the seq
        /// before it).
        var offsets: [Int] = []
        /// Acknowledged bytes, header included.
        var size: Int
        var minEventNano = Int64.max
        var maxEventNano = Int64.min
        var firstReceivedNano: Int64?
        var maxReceivedNano = Int64.min

        var lastSeq: UInt64 { firstSeq + UInt64(offsets.count) - 1 }
        var isEmpty: Bool { offsets.isEmpty }

        mutating func note(_ event: AuditEvent, receivedNano: Int64) {
            minEventNano = min(minEventNano, event.timeNano)
            maxEventNano = max(maxEventNano, event.timeNano)
            maxReceivedNano = max(maxReceivedNano, receivedNano)
            if firstReceivedNano == nil { firstReceivedNano = receivedNano }
        }
    }

    struct State {
        var segments: [Segment] = []
        var ids: Set<String> = []
        /// The open active (last) segment, or -1.
        var fd: Int32 = -1
        var lastDigestSeq: UInt64 = 0
        var lastDigestChainHash = AuditFormat.genesisHash
        var holds: [AuditHold] = []

        /// Where the chain stands: the active (last) segment's end, which retention never drops.
        var lastSeq: UInt64 { segments.last?.lastSeq ?? 0 }
        var lastHash: [UInt8] { segments.last?.lastHash ?? AuditFormat.genesisHash }
    }

    /// What the verifier reads: the segment files found in the directory (not the ones the store remembers, so a
    /// deleted file shows as a gap), the active segment's bytes read under the lock so no append is half-visible,
    /// and the signed-statement files.
    struct FileSnapshot {
        var segmentPaths: [String]
        var activePath: String?
        var activeBytes: [UInt8]
        var digests: [UInt8]
        var retention: [UInt8]
        var lastSeq: UInt64
    }

    let tenant: Tenant
    let directory: String
    private let options: AuditStoreOptions
    private let logger: Logger
    private let state: Mutex<State>

    private var digestsPath: String { directory + "/digests.log" }
    private var retentionPath: String { directory + "/retention.log" }
    private var holdsPath: String { directory + "/holds.bin" }

    init(tenant: Tenant, directory: String, options: AuditStoreOptions, logger: Logger) throws {
        self.tenant = tenant
        self.directory = directory
        self.options = options
        self.logger = logger
        try POSIXFile.createDirectory(directory)
        var loaded = State()
        let paths = try AuditFormat.segmentPaths(in: directory)
        for (index, path) in paths.enumerated() {
            loaded.segments.append(try Self.load(path: path, isLast: index == paths.count - 1, ids: &loaded.ids, logger: logger))
        }
        if let last = loaded.segments.last { loaded.fd = try POSIXFile.open(last.path, O_WRONLY | O_APPEND) }
        if let digest = try Self.readDigests(path: directory + "/digests.log").last {
            loaded.lastDigestSeq = digest.seq
            loaded.lastDigestChainHash = digest.chainHash
        }
        loaded.holds = try Self.readHolds(path: directory + "/holds.bin")
        state = Mutex(loaded)
    }

    /// Reads one segment's metadata and ids. A torn tail of the last segment (a crash mid-append, never
    /// acknowledged) is cut off; anything else that does not decode is left for ``AuditVerifier`` to report.
    private static func load(path: String, isLast: Bool, ids: inout Set<String>, logger: Logger) throws -> Segment {
        let bytes = try POSIXFile.readAll(path)
        let header: AuditFormat.SegmentHeader
        let headerEnd: Int
        do {
            (header, headerEnd) = try AuditFormat.SegmentHeader.parse(bytes)
        } catch {
            throw SightlineError(.dataCorrupted, "audit segment \(path) has a damaged header", cause: error)
        }
        var segment = Segment(path: path, firstSeq: header.firstSeq, previousHash: header.previousHash, lastHash: header.previousHash, size: headerEnd)
        let (records, end) = AuditFormat.records(in: bytes, from: headerEnd)
        for record in records {
            segment.offsets.append(record.offset)
            segment.lastHash = record.storedHash
            segment.size = record.offset + record.size
            if let decoded = try? record.decode(in: bytes) {
                ids.insert(decoded.event.id)
                segment.note(decoded.event, receivedNano: decoded.receivedNano)
            }
        }
        if end < bytes.count {
            if isLast {
                logger.warning("audit: cutting a torn last record off \(path) (\(bytes.count - end) bytes, never acknowledged)")
                let fd = try POSIXFile.open(path, O_WRONLY)
                defer { POSIXFile.close(fd) }
                try POSIXFile.truncate(fd, to: Int64(end), path: path)
                try POSIXFile.fsync(fd, path: path)
            } else {
                segment.size = bytes.count  // leave the damage in place for verify to name
            }
        }
        return segment
    }

    var lastSeq: UInt64 { state.withLock { $0.lastSeq } }

    func append(_ events: [AuditEvent], now: Int64) throws -> AuditAppendResult {
        try state.withLock { state in
            var batchIDs: Set<String> = []
            var fresh: [AuditEvent] = []
            for event in events where !state.ids.contains(event.id) && batchIDs.insert(event.id).inserted {
                fresh.append(event)
            }
            let duplicates = events.count - fresh.count
            guard !fresh.isEmpty else { return AuditAppendResult(accepted: 0, duplicates: duplicates) }

            var buffer: [UInt8] = []
            var relativeOffsets: [Int] = []
            relativeOffsets.reserveCapacity(fresh.count)
            var seq = state.lastSeq
            var previous = state.lastHash
            for event in fresh {
                seq += 1
                var writer = ByteWriter(capacity: 256)
                writer.writeAuditEvent(StoredAuditEvent(seq: seq, tenant: tenant, receivedNano: now, event: event, hash: []))
                let hash = writer.bytes.withUnsafeBytes { AuditFormat.chainHash(previous: previous, payload: $0) }
                relativeOffsets.append(buffer.count)
                AuditFormat.appendRecord(payload: writer.bytes, hash: hash, to: &buffer)
                previous = hash
            }

            if needsNewSegment(state, adding: buffer.count, now: now) { try startSegment(&state) }
            guard var active = state.segments.last, state.fd >= 0 else {
                throw SightlineError(.internal, "audit trail of \(tenant) has no open segment")
            }
            let start = active.size
            do {
                try buffer.withUnsafeBytes { try POSIXFile.writeAll(state.fd, $0, path: active.path) }
                try POSIXFile.fsync(state.fd, path: active.path)
            } catch {
                // Leave the file as it was acknowledged; the batch is refused as a whole.
                try? POSIXFile.truncate(state.fd, to: Int64(start), path: active.path)
                throw error
            }
            for (event, offset) in zip(fresh, relativeOffsets) {
                active.offsets.append(start + offset)
                active.note(event, receivedNano: now)
                state.ids.insert(event.id)
            }
            active.size = start + buffer.count
            active.lastHash = previous
            state.segments[state.segments.count - 1] = active
            return AuditAppendResult(accepted: fresh.count, duplicates: duplicates)
        }
    }

    private func needsNewSegment(_ state: State, adding bytes: Int, now: Int64) -> Bool {
        guard let active = state.segments.last, state.fd >= 0 else { return true }
        if active.isEmpty { return false }
        if active.size + bytes > options.segmentMaxBytes { return true }
        if options.segmentPerDay, let first = active.firstReceivedNano,
            CivilTime.floorDivide(first, 86_400_000_000_000) != CivilTime.floorDivide(now, 86_400_000_000_000)
        {
            return true
        }
        return false
    }

    /// Closes the active segment and begins a new one that continues the chain.
    private func startSegment(_ state: inout State) throws {
        let header = AuditFormat.SegmentHeader(tenant: tenant, firstSeq: state.lastSeq + 1, previousHash: state.lastHash)
        let path = directory + "/" + AuditFormat.segmentName(firstSeq: header.firstSeq)
        let bytes = header.encoded()
        let fd = try POSIXFile.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND)
        do {
            try bytes.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: path) }
            try POSIXFile.fsync(fd, path: path)
            try POSIXFile.fsyncDirectory(directory)
        } catch {
            POSIXFile.close(fd)
            throw error
        }
        if state.fd >= 0 { POSIXFile.close(state.fd) }
        state.fd = fd
        if let last = state.segments.last, last.isEmpty, last.firstSeq == header.firstSeq { state.segments.removeLast() }
        state.segments.append(Segment(path: path, firstSeq: header.firstSeq, previousHash: header.previousHash, lastHash: header.previousHash, size: bytes.count))
    }

    /// Calls `visit` with the events of seq below `cursor`, newest first, until it returns false. Reads outside the
    /// lock: acknowledged bytes never change.
    func scanNewestFirst(before cursor: UInt64?, _ visit: (StoredAuditEvent) throws -> Bool) throws {
        let segments = state.withLock { $0.segments }
        let window = 512
        for segment in segments.reversed() where !segment.isEmpty {
            var upper = segment.offsets.count  // exclusive record index
            if let cursor {
                guard cursor > segment.firstSeq else { continue }
                upper = min(upper, Int(cursor - segment.firstSeq))
            }
            while upper > 0 {
                let lower = max(0, upper - window)
                let start = segment.offsets[lower]
                let end = upper < segment.offsets.count ? segment.offsets[upper] : segment.size
                let bytes: [UInt8]
                do {
                    bytes = try POSIXFile.read(segment.path, offset: Int64(start), count: end - start)
                } catch let error as SightlineError where error.code == .io {
                    // Retention dropped the segment while we read: its events are gone by design.
                    if access(segment.path, F_OK) != 0 { break }
                    throw error
                }
                let (records, _) = AuditFormat.records(in: bytes, from: 0)
                for record in records.reversed() {
                    guard try visit(try record.decode(in: bytes)) else { return }
                }
                upper = lower
            }
        }
    }

    /// What ``AuditVerifier`` reads, taken under the lock.
    func snapshot() throws -> FileSnapshot {
        try state.withLock { state in
            let paths = try AuditFormat.segmentPaths(in: directory)
            let active = state.segments.last?.path
            return FileSnapshot(
                segmentPaths: paths, activePath: active, activeBytes: try active.map { try Self.readIfPresent($0) } ?? [],
                digests: try Self.readIfPresent(digestsPath), retention: try Self.readIfPresent(retentionPath), lastSeq: state.lastSeq)
        }
    }

    /// Signs and appends a digest when the chain moved since the last one.
    func writeDigest(now: Int64, signer: AuditSigner) throws -> Bool {
        try state.withLock { state in
            guard state.lastSeq > state.lastDigestSeq else { return false }
            let payload = AuditDigest.payload(
                tenant: tenant, seq: state.lastSeq, hash: state.lastHash, createdNano: now, previousDigestHash: state.lastDigestChainHash)
            let signature = try signer.sign(payload)
            try Self.appendDurably(SignedLog.frame(payload: payload, signature: signature), to: digestsPath)
            state.lastDigestSeq = state.lastSeq
            state.lastDigestChainHash = AuditFormat.sha256(payload + signature)
            return true
        }
    }

    func readDigests() throws -> [AuditDigest] {
        try Self.readDigests(path: digestsPath)
    }

    private static func readDigests(path: String) throws -> [AuditDigest] {
        try SignedLog.entries(readIfPresent(path)).compactMap { try? AuditDigest.decode(payload: $0.payload, signature: $0.signature) }
    }

    var currentHolds: [AuditHold] { state.withLock { $0.holds } }

    func updateHolds(_ change: (inout [AuditHold]) -> Void) throws {
        try state.withLock { state in
            var holds = state.holds
            change(&holds)
            var writer = ByteWriter()
            writer.writeVarint(UInt64(holds.count))
            for hold in holds {
                writer.writeString(hold.id)
                writer.writeSignedVarint(hold.fromNano)
                writer.writeSignedVarint(hold.toNano)
                writer.writeString(hold.reason)
                writer.writeSignedVarint(hold.createdNano)
            }
            try POSIXFile.writeAtomically(writer.bytes, to: holdsPath)
            state.holds = holds
        }
    }

    private static func readHolds(path: String) throws -> [AuditHold] {
        let bytes = try readIfPresent(path)
        guard !bytes.isEmpty else { return [] }
        return try bytes.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            let count = try reader.readCount()
            return try (0..<count).map { _ in
                AuditHold(
                    id: try reader.readString(), fromNano: try reader.readSignedVarint(), toNano: try reader.readSignedVarint(),
                    reason: try reader.readString(), createdNano: try reader.readSignedVarint())
            }
        }
    }

    /// Drops closed segments stored entirely before `cutoff` that no hold covers. Each drop is first recorded as a
    /// signed retention record, so verification can bridge the gap it leaves.
    func dropSegments(storedBefore cutoff: Int64, now: Int64, signer: AuditSigner) throws -> Int {
        try state.withLock { state in
            var dropped = 0
            var kept: [Segment] = []
            for (index, segment) in state.segments.enumerated() {
                let isActive = index == state.segments.count - 1
                let expired = !segment.isEmpty && segment.maxReceivedNano < cutoff
                let held = state.holds.contains { $0.covers(from: segment.minEventNano, to: segment.maxEventNano) }
                guard !isActive, expired, !held else {
                    kept.append(segment)
                    continue
                }
                let payload = AuditRetentionRecord.payload(
                    tenant: tenant, firstSeq: segment.firstSeq, lastSeq: segment.lastSeq, previousHash: segment.previousHash,
                    lastHash: segment.lastHash, droppedNano: now)
                try Self.appendDurably(SignedLog.frame(payload: payload, signature: try signer.sign(payload)), to: retentionPath)
                var forgotten: Set<String> = []
                try? scanIDs(of: segment) { forgotten.insert($0) }
                try POSIXFile.remove(segment.path)
                state.ids.subtract(forgotten)
                dropped += segment.offsets.count
                logger.info("audit: retention dropped seqs \(segment.firstSeq)…\(segment.lastSeq) of tenant \(tenant)")
            }
            if dropped > 0 { try POSIXFile.fsyncDirectory(directory) }
            state.segments = kept
            return dropped
        }
    }

    private func scanIDs(of segment: Segment, _ body: (String) -> Void) throws {
        let bytes = try POSIXFile.read(segment.path, offset: 0, count: segment.size)
        for record in AuditFormat.records(in: bytes, from: segment.offsets.first ?? bytes.count).records {
            if let event = try? record.decode(in: bytes) { body(event.event.id) }
        }
    }

    func close() {
        state.withLock { state in
            if state.fd >= 0 { POSIXFile.close(state.fd) }
            state.fd = -1
        }
    }

    private static func readIfPresent(_ path: String) throws -> [UInt8] {
        guard access(path, F_OK) == 0 else { return [] }
        return try POSIXFile.readAll(path)
    }

    /// Appends `bytes` to `path` (created when missing) and fsyncs it.
    private static func appendDurably(_ bytes: [UInt8], to path: String) throws {
        let existed = access(path, F_OK) == 0
        let fd = try POSIXFile.open(path, O_WRONLY | O_CREAT | O_APPEND)
        defer { POSIXFile.close(fd) }
        try bytes.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: path) }
        try POSIXFile.fsync(fd, path: path)
        if !existed, let slash = path.lastIndex(of: "/") { try POSIXFile.fsyncDirectory(String(path[..<slash])) }
    }
}
