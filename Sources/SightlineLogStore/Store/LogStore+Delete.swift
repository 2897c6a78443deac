import Foundation
import Logging
package import SightlineCore
import SightlineStorageCore
import Synchronization

/// Delete requests (Loki's `/loki/api/v1/delete`), applied at once rather than after a cancellation period: the
/// covered records leave the heads, every part holding any is written again without them, and the request joins the
/// tenant's list in `delete_requests`.
extension LogStore: DeletingStore, LogDeletionRequests {
    /// Applies `deletion` for `tenant`, serialized with persists and maintenance (so no part being written carries
    /// covered records past it).
    /// - Throws: `io` when a part or the request list cannot be written (the parts already replaced stay replaced; a
    ///   replay of the WAL applies the request again), `dataCorrupted` naming a damaged part.
    func delete(_ deletion: LogDeletion, tenant: Tenant) throws {
        try persistLock.withLock { _ in
            try maintainLock.withLock { _ in
                var fromHead = 0
                var candidates: [LogPart] = []
                state.withLock { state in
                    guard let labels = state.streams[tenant]?.keys.filter({ deletion.covers(stream: $0) }) else { return }
                    for labels in labels {
                        fromHead += state.streams[tenant]?[labels]?.delete(deletion) ?? 0
                        candidates += state.streams[tenant]?[labels]?.parts.filter {
                            $0.maxTime >= deletion.startNano && $0.minTime <= deletion.endNano
                        } ?? []
                    }
                }
                var adding: [LogPart] = []
                var removing = Set<UInt64>()
                var fromParts = 0
                for part in candidates {
                    let id = state.withLock { state in
                        defer { state.nextPartID += 1 }
                        return state.nextPartID
                    }
                    guard let (rewritten, removed) = try Self.rewrite(part, without: deletion, id: id, directory: partsDirectory, options: options)
                    else { continue }
                    removing.insert(part.meta.id)
                    if let rewritten { adding.append(rewritten) }
                    fromParts += removed
                }
                if !removing.isEmpty { try commit(adding: adding, removing: removing, persistedSegment: nil) }
                try recordRequest(deletion, tenant: tenant)
                logger.info(
                    "log records deleted",
                    metadata: [
                        "tenant": "\(tenant)", "request_id": "\(deletion.requestID)", "query": "\(deletion.query)",
                        "head_records": "\(fromHead)", "part_records": "\(fromParts)", "parts_rewritten": "\(removing.count)",
                    ])
            }
        }
    }

    /// `part` without the records `deletion` covers, as a new part `id` of the same stream and generation.
    /// - Returns: nil when the part holds no covered record (it stays as it is); else the new part (nil when nothing
    ///   is left) and how many records went.
    static func rewrite(
        _ part: LogPart, without deletion: LogDeletion, id: UInt64, directory: String, options: LogStoreOptions
    ) throws -> (part: LogPart?, removed: Int)? {
        let range = TimeRange(startNano: deletion.startNano, endNano: deletion.endNano == .max ? .max : deletion.endNano + 1)
        func covered(_ record: LogRecord) -> Bool { deletion.covers(timeNano: record.effectiveTimeUnixNano) { record.line } }
        let touched = part.blocks.indices.filter { part.blocks[$0].overlaps(range) }
        var removed = 0
        for number in touched { removed += try part.records(number, filter: .all).count(where: covered) }
        guard removed > 0 else { return nil }
        guard removed < part.recordCount else { return (nil, removed) }
        let meta = PartMeta(id: id, tenant: part.meta.tenant, labels: part.meta.labels, generation: part.meta.generation, createdNano: part.meta.createdNano)
        let writer = try LogPartWriter(meta: meta, directory: directory, options: options)
        for number in part.blocks.indices {
            var records = try part.records(number, filter: .all)
            if part.blocks[number].overlaps(range) { records.removeAll(where: covered) }
            let batch = LogBatch(records)
            try writer.append(batch, rows: 0..<batch.count)
        }
        return (try writer.finish(), removed)
    }

    // MARK: The request list

    package func deletionRequests(tenant: Tenant) -> [LogDeletion] {
        requests.withLock { $0[tenant] ?? [] }.sorted { $0.createdAtMs < $1.createdAtMs }
    }

    /// Adds `deletion` to the tenant's list (replacing one with its id, as when the WAL applies it again) and writes
    /// the list file.
    private func recordRequest(_ deletion: LogDeletion, tenant: Tenant) throws {
        let bytes = requests.withLock { requests -> [UInt8] in
            requests[tenant, default: []].removeAll { $0.requestID == deletion.requestID }
            requests[tenant, default: []].append(deletion)
            return Self.encode(requests)
        }
        try POSIXFile.writeAtomically(bytes, to: directory + "/" + LogStoreFileNames.deleteRequests)
    }

    /// The list file: per tenant, a length-prefixed batch holding no record and the tenant's requests.
    static func encode(_ requests: [Tenant: [LogDeletion]]) -> [UInt8] {
        var writer = ByteWriter(capacity: 256)
        for (tenant, deletions) in requests.sorted(by: { $0.key.id < $1.key.id }) {
            var batch = LogBatch()
            batch.deletions = deletions
            writer.writeBytes(TenantBatch(tenant: tenant, batch: .logs(batch)).encoded())
        }
        return writer.bytes
    }

    /// Reads the list file of `directory`, empty when there is none.
    /// - Throws: `dataCorrupted` naming the file when it does not decode.
    static func readRequests(directory: String) throws -> [Tenant: [LogDeletion]] {
        let path = directory + "/" + LogStoreFileNames.deleteRequests
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        let bytes = try POSIXFile.readAll(path)
        var requests: [Tenant: [LogDeletion]] = [:]
        do {
            try bytes.withUnsafeBytes { raw in
                var reader = ByteReader(raw)
                while !reader.isAtEnd {
                    let batch = try TenantBatch(decoding: try reader.readBytes())
                    guard case .logs(let records) = batch.batch else { throw SightlineError(.dataCorrupted, "not a log batch") }
                    requests[batch.tenant, default: []] += records.deletions
                }
            }
        } catch {
            throw SightlineError(.dataCorrupted, "log delete request list \(path) does not decode", cause: error)
        }
        return requests
    }
}

extension LogStore.Stream {
    /// Removes the head records `deletion` covers (the stream is one it covers); returns how many went.
    mutating func delete(_ deletion: LogDeletion) -> Int {
        var removed = 0
        var kept: [LogStore.HeadChunk] = []
        for chunk in head {
            var own = LogBatch()
            var runStart: Int?
            var dropped = 0
            for row in chunk.rows {
                let covered = deletion.covers(timeNano: chunk.batch.rows[row].effectiveTimeUnixNano) { chunk.batch[row].line }
                if covered {
                    dropped += 1
                    if let start = runStart { own.append(contentsOf: chunk.batch, rows: start..<row) }
                    runStart = nil
                } else if runStart == nil {
                    runStart = row
                }
            }
            guard dropped > 0 else {
                kept.append(chunk)
                continue
            }
            if let start = runStart { own.append(contentsOf: chunk.batch, rows: start..<chunk.rows.upperBound) }
            removed += dropped
            if own.count > 0 { kept.append(LogStore.HeadChunk(segment: chunk.segment, batch: own, rows: 0..<own.count)) }
        }
        head = kept
        headCount -= removed
        return removed
    }
}
