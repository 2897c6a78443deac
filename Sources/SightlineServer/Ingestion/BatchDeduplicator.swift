import Glibc
package import SightlineCore
import SightlineStorageCore
import Synchronization

/// Remembers the ids of recently accepted batches so that a sender's retry of a batch the server already stored is
/// acknowledged without being stored twice (`X-Sightline-Batch-ID`, sent by `sightline agent`).
///
/// ## Why nothing is lost and nothing is stored twice
/// - An id is *reserved* before its batch is appended to the WAL. A second request with a reserved id (a retry racing
///   the first attempt) is refused with `unavailable`, so the sender retries later and then finds it accepted.
/// - An id becomes *accepted* in the WAL writer's `onDurable` callback, i.e. exactly when its data is durable. A
///   failed append releases the reservation: the retry is stored normally.
/// - The id travels inside the WAL record (see ``walPayload(id:batch:)``), so WAL replay after a crash re-learns every
///   id whose data it replays.
/// - Before the pipeline's checkpoint lets the stores persist and the WAL drop segments, the window of accepted ids
///   is written atomically to ``path``. Ids in removed segments are therefore always in that file.
///
/// The window holds the newest ``capacity`` ids (oldest forgotten first). A sender retries within minutes, far less
/// than the window covers at any realistic batch rate.
package final class BatchDeduplicator: Sendable {
    /// The file holding the persisted window.
    package let path: String
    /// How many accepted ids are remembered.
    package let capacity: Int

    private struct State {
        /// Accepted ids, and their insertion order for eviction.
        var accepted: Set<String> = []
        var order: [String] = []
        var orderStart = 0
        /// Ids whose batch is being appended.
        var reserved: Set<String> = []
    }

    private let state = Mutex(State())

    /// What ``reserve(_:)`` found.
    package enum Reservation: Sendable, Equatable {
        /// The id is new and now reserved: ingest the batch, then ``accept(_:)`` or ``release(_:)``.
        case reserved
        /// A batch with this id was already accepted: acknowledge without storing.
        case duplicate
        /// A batch with this id is being stored right now.
        case inFlight
    }

    /// The first byte of a WAL payload that carries a batch id (batch format versions are small numbers).
    static let idMarker: UInt8 = 0xB1

    /// Opens the window persisted at `path` (none yet is an empty window).
    /// - Throws: `dataCorrupted` naming the file when it exists but fails its checksum; `io` when it cannot be read.
    package init(path: String, capacity: Int = 100_000) throws {
        self.path = path
        self.capacity = max(1, capacity)
        guard access(path, F_OK) == 0 else { return }
        let bytes = try POSIXFile.readAll(path)
        let ids = try Self.decodeWindow(bytes, path: path)
        state.withLock { state in
            for id in ids { Self.insert(id, into: &state, capacity: self.capacity) }
        }
    }

    /// Checks that `id` is a usable batch id: 1–128 printable ASCII characters.
    /// - Throws: `invalidArgument` naming the header otherwise.
    package static func validate(_ id: String) throws {
        let utf8 = id.utf8
        guard !utf8.isEmpty, utf8.count <= 128, utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw SightlineError(.invalidArgument, "invalid X-Sightline-Batch-ID \"\(id.prefix(140))\": use 1-128 printable ASCII characters")
        }
    }

    /// Reserves `id` unless it is accepted or reserved already.
    package func reserve(_ id: String) -> Reservation {
        state.withLock { state in
            if state.accepted.contains(id) { return .duplicate }
            if state.reserved.contains(id) { return .inFlight }
            state.reserved.insert(id)
            return .reserved
        }
    }

    /// Marks `id` accepted (its batch is durable).
    package func accept(_ id: String) {
        state.withLock { state in
            state.reserved.remove(id)
            Self.insert(id, into: &state, capacity: capacity)
        }
    }

    /// Drops the reservation of `id` (its batch was not stored).
    package func release(_ id: String) {
        _ = state.withLock { $0.reserved.remove(id) }
    }

    /// Whether `id` is accepted.
    package func contains(_ id: String) -> Bool { state.withLock { $0.accepted.contains(id) } }

    /// The number of accepted ids remembered.
    package var count: Int { state.withLock { $0.accepted.count } }

    /// Writes the window atomically to ``path``.
    package func persist() throws {
        let ids = state.withLock { Array($0.order[$0.orderStart...]) }
        var writer = ByteWriter(capacity: 16 + ids.count * 40)
        writer.writeRaw(Array("SBID".utf8))
        writer.writeByte(1)
        writer.writeVarint(UInt64(ids.count))
        for id in ids { writer.writeString(id) }
        let crc = CRC32C.checksum(writer.bytes)
        writer.writeUInt32LE(crc)
        try POSIXFile.writeAtomically(writer.bytes, to: path)
    }

    private static func insert(_ id: String, into state: inout State, capacity: Int) {
        guard state.accepted.insert(id).inserted else { return }
        state.order.append(id)
        while state.accepted.count > capacity {
            state.accepted.remove(state.order[state.orderStart])
            state.orderStart += 1
        }
        // Compact the eviction queue once half of it is dead.
        if state.orderStart > 1024 && state.orderStart * 2 > state.order.count {
            state.order.removeFirst(state.orderStart)
            state.orderStart = 0
        }
    }

    private static func decodeWindow(_ bytes: [UInt8], path: String) throws -> [String] {
        guard bytes.count >= 9, Array(bytes[0..<4]) == Array("SBID".utf8) else {
            throw SightlineError(.dataCorrupted, "batch id window \(path) does not start with the SBID header")
        }
        let body = Array(bytes[0..<(bytes.count - 4)])
        let stored = bytes[(bytes.count - 4)...].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        guard CRC32C.checksum(body) == stored else {
            throw SightlineError(.dataCorrupted, "batch id window \(path) fails its checksum")
        }
        return try body.withUnsafeBytes { buffer in
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: buffer[4...]))
            let version = try reader.readByte()
            guard version == 1 else { throw SightlineError(.dataCorrupted, "batch id window \(path) has unknown version \(version)") }
            let count = try reader.readCount()
            var ids: [String] = []
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try reader.readString()) }
            return ids
        }
    }

    /// The first byte of a WAL payload that holds a ``ReceivedRequest`` instead of an encoded batch.
    static let requestMarker: UInt8 = 0xB2

    /// The WAL payload for `batch`: the batch's own encoding, prefixed with the id when there is one
    /// (`0xB1 | id length varint | id | batch`). With `request` (what `batch` was decoded from, unchanged), the
    /// request takes the batch's place: `0xB2 | format | tenant | observed time | record count | context | body`.
    package static func walPayload(id: String?, batch: TenantBatch, request: ReceivedRequest? = nil) -> [UInt8] {
        if id == nil, request == nil { return batch.encoded() }
        let capacity = (id?.utf8.count ?? 0) + 8
            + (request.map { $0.body.count + $0.context.utf8.count + batch.tenant.id.utf8.count + 32 } ?? batch.encodedCapacity)
        var writer = ByteWriter(capacity: capacity)
        if let request {
            writeRequestPayload(id: id, tenant: batch.tenant, request: request, into: &writer)
        } else {
            if let id { writeIDPrefix(id, into: &writer) }
            batch.encode(into: &writer)
        }
        return writer.bytes
    }

    /// Appends ``walPayload(id:batch:request:)`` of a request to `writer`: for the WAL writer, which copies the body
    /// into its buffer once this way (rather than into a payload first).
    package static func writeRequestPayload(id: String?, tenant: Tenant, request: ReceivedRequest, into writer: inout ByteWriter) {
        if let id { writeIDPrefix(id, into: &writer) }
        writer.writeByte(requestMarker)
        writer.writeByte(request.format.rawValue)
        writer.writeString(tenant.id)
        writer.writeVarint(request.observedTimeUnixNano)
        writer.writeVarint(UInt64(request.recordCount))
        writer.writeString(request.context)
        writer.writeBytes(request.body)
    }

    /// Appends the WAL writer's own payload for `batch` (``TenantBatch/encode(into:scope:)``), with the id prefix of
    /// ``walPayload(id:batch:)``. For ``WriteAheadLog/append(encodedBy:onDurable:)`` only: such a payload is read back
    /// only by WAL replay, in order with its segment.
    package static func writeSegmentScopedPayload(id: String?, batch: TenantBatch, into writer: inout ByteWriter, scope: WALSeriesScope) {
        if let id { writeIDPrefix(id, into: &writer) }
        batch.encode(into: &writer, scope: scope)
    }

    private static func writeIDPrefix(_ id: String, into writer: inout ByteWriter) {
        writer.writeByte(idMarker)
        writer.writeString(id)
    }

    /// Splits a WAL payload written by ``walPayload(id:batch:)`` or ``writeSegmentScopedPayload(id:batch:into:scope:)``
    /// into its id (if any) and batch; `seriesTable` is the WAL segment's while replaying it (see
    /// ``TenantBatch/init(decoding:seriesTable:)``), nil for payloads from elsewhere.
    /// - Throws: `dataCorrupted` when the payload is not a complete batch.
    package static func decodeWALPayload(
        _ payload: UnsafeRawBufferPointer, seriesTable: inout WALSeriesTable?
    ) throws -> (id: String?, batch: TenantBatch, request: ReceivedRequest?) {
        let (id, rest) = try splitID(payload)
        guard rest.first == requestMarker else { return (id, try TenantBatch(decoding: rest, seriesTable: &seriesTable), nil) }
        let (batch, request) = try decodeRequest(rest)
        return (id, batch, request)
    }

    /// The batch a request payload (``walPayload(id:batch:request:)``) decodes to, and the request.
    /// - Throws: `dataCorrupted` when the payload is incomplete, names an unknown format, or its body no longer
    ///   decodes to exactly the records it held when it was logged.
    private static func decodeRequest(_ payload: UnsafeRawBufferPointer) throws -> (TenantBatch, ReceivedRequest) {
        var reader = ByteReader(payload)
        _ = try reader.readByte()
        let formatByte = try reader.readByte()
        guard let format = ReceivedRequest.Format(rawValue: formatByte) else {
            throw SightlineError(.dataCorrupted, "a WAL request record has unknown format \(formatByte)")
        }
        let tenant = Tenant(uncheckedID: try reader.readString())
        let observed = try reader.readVarint()
        let count = try reader.readCount()
        let context = try reader.readString()
        let body = try reader.readBytes()
        let request = ReceivedRequest(format: format, body: body, observedTimeUnixNano: observed, recordCount: count, context: context)
        let decoded: DecodedBatch
        do {
            decoded = try request.decoded()
        } catch {
            throw SightlineError(.dataCorrupted, "a logged \(format) request no longer decodes: \(error)")
        }
        guard decoded.rejected == 0, decoded.batch.recordCount == count else {
            throw SightlineError(
                .dataCorrupted,
                "a logged \(format) request decodes to \(decoded.batch.recordCount) records (\(decoded.rejected) refused), not the \(count) it held")
        }
        return (TenantBatch(tenant: tenant, batch: decoded.batch), request)
    }

    /// Whether this server knows the layout `payload` is in: the batch format version or request format after the
    /// optional id. A queue message a newer server wrote is left for a server that knows it, not dropped as damaged
    /// (servers of two versions share a queue during a rolling upgrade). A payload too short to say is known, and damaged.
    package static func knowsLayout(of payload: UnsafeRawBufferPointer) -> Bool {
        guard let (_, rest) = try? splitID(payload), let first = rest.first else { return true }
        guard first == requestMarker else { return TenantBatch.readableVersions.contains(first) }
        guard rest.count > 1 else { return true }
        return ReceivedRequest.Format(rawValue: rest[1]) != nil
    }

    /// A WAL payload's batch id (nil without the `0xB1` prefix) and the bytes after it: the batch or the request.
    /// - Throws: `dataCorrupted` when the prefix is cut short.
    package static func splitID(_ payload: UnsafeRawBufferPointer) throws -> (id: String?, rest: UnsafeRawBufferPointer) {
        guard payload.first == idMarker else { return (nil, payload) }
        var reader = ByteReader(payload)
        _ = try reader.readByte()
        let id = try reader.readString()
        return (id, UnsafeRawBufferPointer(rebasing: payload[reader.offset...]))
    }

    /// ``decodeWALPayload(_:seriesTable:)`` for a payload that stands alone (a queue message).
    package static func decodeWALPayload(_ payload: UnsafeRawBufferPointer) throws -> (id: String?, batch: TenantBatch, request: ReceivedRequest?) {
        var none: WALSeriesTable?
        return try decodeWALPayload(payload, seriesTable: &none)
    }
}
