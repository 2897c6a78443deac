import Foundation
package import Logging
package import SightlineCore
import SightlineStorageCore
import Synchronization

/// The embedded trace engine: spans in time-partitioned, immutable, columnar parts with a trace-id index, and a head
/// of spans applied but not yet persisted.
///
/// Write side (``SignalStore``): ``apply(_:at:)`` appends a batch to the head (and its trace-id index). ``persist(throughSegment:)``
/// writes the head's batches of those segments as one part per tenant and partition of start time
/// (``TraceStoreOptions/partitionDuration``), then names them in the manifest together with the persisted segment,
/// replaced atomically. Parts the manifest does not name (a crash between the two) are deleted on open and their
/// spans come back from the WAL, so nothing is both in a part and replayed, and nothing acknowledged is lost.
///
/// Read side (``SpanQuerier``, ``TraceSource``): a trace is found without scanning: the head by a dictionary, each part
/// by its trace-id Bloom filter and its blocks' trace-id ranges. Searches skip parts and blocks by time, duration,
/// status, the operation dictionary and a per-block tag filter before decoding columns.
///
/// Maintenance (``maintain(nowNano:)``, called periodically by the server): drops parts past retention and merges the
/// parts of one tenant and partition, so late or slowly trickling spans of a trace end up together.
///
/// On disk, in its directory: `manifest` and `parts/<id>.part` (``PartFormat``).
package final class TraceStore: SignalStore, TraceSource {
    package var signal: Signal { .traces }
    private let directory: String
    private let options: TraceStoreOptions
    private let logger: Logger
    private let state: Mutex<State>
    /// Serializes the calls that write files and the manifest (persist, maintain); queries never take it.
    private let fileLock = Mutex(())

    private struct State {
        var head = TraceHead()
        var parts: [Tenant: [Part]] = [:]
        var persistedSegment = -1
        var nextPartID: UInt64 = 1
    }

    /// Opens the store in `directory`, creating it, loads the parts its manifest names and deletes any others.
    /// - Throws: `dataCorrupted` when the manifest or a part is damaged, `io` when files cannot be read.
    package init(directory: String, options: TraceStoreOptions = TraceStoreOptions(), logger: Logger) throws {
        self.directory = directory
        self.options = options
        self.logger = logger
        try POSIXFile.createDirectory(directory + "/" + TraceFileNames.partsDirectory)
        var state = State()
        let manifest = try Manifest.read(path: directory + "/" + TraceFileNames.manifest) ?? Manifest()
        state.persistedSegment = manifest.persistedSegment
        state.nextPartID = manifest.nextPartID
        let named = Set(manifest.parts)
        for id in manifest.parts {
            let part = try Part(id: id, path: Self.partPath(directory, id))
            state.parts[part.index.tenant, default: []].append(part)
        }
        for name in try POSIXFile.listDirectory(directory + "/" + TraceFileNames.partsDirectory) {
            if let id = TraceFileNames.partID(name), named.contains(id) { continue }
            logger.warning("deleting a trace part the manifest does not name", metadata: ["file": "\(name)"])
            try POSIXFile.remove(directory + "/" + TraceFileNames.partsDirectory + "/" + name)
        }
        self.state = Mutex(state)
    }

    static func partPath(_ directory: String, _ id: UInt64) -> String {
        directory + "/" + TraceFileNames.partsDirectory + "/" + TraceFileNames.partFile(id)
    }

    // MARK: SignalStore

    package func apply(_ batch: TenantBatch, at position: WALPosition) throws {
        guard case .traces(let spans) = batch.batch else {
            throw SightlineError(.internal, "\(batch.batch.signal) batch sent to the traces store")
        }
        guard !spans.isEmpty else { return }
        state.withLock { $0.head.append(tenant: batch.tenant, segment: position.segment, spans: spans) }
    }

    package func persist(throughSegment segment: Int) throws {
        try fileLock.withLock { _ in
            let snapshot = state.withLock { state -> (batches: Slice<TraceHead.BatchList>, nextID: UInt64, persisted: Int) in
                let count = state.head.prefixCount(throughSegment: segment)
                return (state.head.batches.prefix(count), state.nextPartID, state.persistedSegment)
            }
            guard segment > snapshot.persisted || !snapshot.batches.isEmpty else { return }
            var groups: [PartitionKey: [Span]] = [:]
            let width = options.partitionNano
            for batch in snapshot.batches {
                for span in batch.spans {
                    groups[PartitionKey(tenant: batch.tenant, partition: span.startTimeUnixNano / width * width), default: []].append(span)
                }
            }
            var nextID = snapshot.nextID
            var created: [Part] = []
            do {
                for key in groups.keys.sorted(by: { ($0.tenant, $0.partition) < ($1.tenant, $1.partition) }) {
                    created.append(try writePart(id: nextID, tenant: key.tenant, partition: key.partition, spans: groups[key] ?? []))
                    nextID += 1
                }
                let existing = state.withLock { $0.parts.values.flatMap { $0.map(\.id) } }
                let newSegment = max(segment, snapshot.persisted)
                try Manifest(persistedSegment: newSegment, nextPartID: nextID, parts: existing + created.map(\.id))
                    .write(path: directory + "/" + TraceFileNames.manifest)
            } catch {
                for part in created { try? POSIXFile.remove(part.path) }
                throw error
            }
            state.withLock { state in
                for part in created { state.parts[part.index.tenant, default: []].append(part) }
                state.head.removeFirst(snapshot.batches.count)
                state.persistedSegment = max(state.persistedSegment, segment)
                state.nextPartID = nextID
            }
        }
    }

    package var persistedSegment: Int { state.withLock { $0.persistedSegment } }

    /// A tenant and a partition start: the unit a part covers.
    private struct PartitionKey: Hashable {
        var tenant: Tenant
        var partition: UInt64
    }

    /// Builds, writes (atomically, fsynced) and opens one part.
    private func writePart(id: UInt64, tenant: Tenant, partition: UInt64, spans: [Span]) throws -> Part {
        let (bytes, _) = PartWriter.build(tenant: tenant, partition: partition, spans: spans, blockSpans: options.blockSpans)
        let path = Self.partPath(directory, id)
        try POSIXFile.writeAtomically(bytes, to: path)
        return try Part(id: id, path: path)
    }

    // MARK: Maintenance

    /// Deletes parts whose spans are all past their tenant's retention at `nowNano`, and merges the parts of one
    /// tenant and partition (up to ``TraceStoreOptions/maxMergedSpans`` spans) into one.
    /// - Throws: `io` or `dataCorrupted` from reading or writing parts; the store stays as it was for what failed.
    @discardableResult
    package func maintain(nowNano: UInt64) throws -> TraceMaintenanceReport {
        try fileLock.withLock { _ in
            var report = TraceMaintenanceReport()
            let (parts, firstID) = state.withLock { state in (state.parts, state.nextPartID) }
            var removed: [Part] = []
            var created: [Part] = []
            var nextID = firstID
            do {
                for (tenant, tenantParts) in parts {
                    var live: [Part] = []
                    let cutoff = options.retentionNano(for: tenant).map { nowNano > $0 ? nowNano - $0 : 0 }
                    for part in tenantParts {
                        if let cutoff, part.index.maxStart < cutoff {
                            removed.append(part)
                            report.partsExpired += 1
                            report.spansExpired += part.index.spanCount
                        } else {
                            live.append(part)
                        }
                    }
                    let byPartition = Dictionary(grouping: live, by: \.index.partition)
                    for partition in byPartition.keys.sorted() {
                        var candidates = (byPartition[partition] ?? []).sorted { $0.index.spanCount < $1.index.spanCount }
                        var total = 0
                        candidates = Array(candidates.prefix { part in
                            total += part.index.spanCount
                            return total <= options.maxMergedSpans
                        })
                        guard candidates.count >= 2 else { continue }
                        var spans: [Span] = []
                        for part in candidates { spans.append(contentsOf: try part.allSpans()) }
                        let merged = try writePart(id: nextID, tenant: tenant, partition: partition, spans: spans)
                        nextID += 1
                        created.append(merged)
                        removed.append(contentsOf: candidates)
                        report.partsMerged += candidates.count
                        report.partsCreated += 1
                    }
                }
                guard !removed.isEmpty || !created.isEmpty else { return report }
                let removedIDs = Set(removed.map(\.id))
                let persisted = state.withLock { $0.persistedSegment }
                let kept = state.withLock { $0.parts.values.flatMap { $0.map(\.id) } }.filter { !removedIDs.contains($0) }
                try Manifest(persistedSegment: persisted, nextPartID: nextID, parts: kept + created.map(\.id))
                    .write(path: directory + "/" + TraceFileNames.manifest)
            } catch {
                for part in created { try? POSIXFile.remove(part.path) }
                throw error
            }
            let removedIDs = Set(removed.map(\.id))
            state.withLock { state in
                for tenant in Array(state.parts.keys) {
                    let kept = (state.parts[tenant] ?? []).filter { !removedIDs.contains($0.id) }
                    state.parts[tenant] = kept.isEmpty ? nil : kept
                }
                for part in created { state.parts[part.index.tenant, default: []].append(part) }
                state.nextPartID = nextID
            }
            // The manifest no longer names them; a crash before this line leaves orphans that the next open deletes.
            for part in removed {
                do { try POSIXFile.remove(part.path) } catch { logger.warning("could not delete a trace part", metadata: ["file": "\(part.path)", "error": "\(error)"]) }
            }
            if report.partsExpired > 0 || report.partsMerged > 0 {
                logger.info(
                    "trace store maintenance",
                    metadata: [
                        "parts_expired": "\(report.partsExpired)", "spans_expired": "\(report.spansExpired)",
                        "parts_merged": "\(report.partsMerged)", "parts_created": "\(report.partsCreated)",
                    ])
            }
            return report
        }
    }

    // MARK: Snapshots for queries

    /// The parts of `tenant` and the head's batches, as of now. Queries read them without holding the lock.
    func snapshot(tenant: Tenant) -> (parts: [Part], head: TraceHead.BatchList) {
        state.withLock { state in (state.parts[tenant] ?? [], state.head.batches) }
    }

    /// The head spans of trace `id`, and the parts of `tenant`, taken together so that nothing moves between them.
    func traceSnapshot(tenant: Tenant, id: TraceID) -> (parts: [Part], head: [Span]) {
        state.withLock { state in (state.parts[tenant] ?? [], state.head.spans(tenant: tenant, id: id)) }
    }

    /// How many parts and head spans the store holds (for tests and status pages).
    package var stats: (parts: Int, headSpans: Int) {
        state.withLock { state in (state.parts.values.reduce(0) { $0 + $1.count }, state.head.spanCount) }
    }
}

/// The names of the trace store's files.
enum TraceFileNames {
    static let manifest = "manifest"
    static let partsDirectory = "parts"
    static let partSuffix = ".part"

    /// `<id as 16 hex digits>.part`.
    static func partFile(_ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex + partSuffix
    }

    /// The id in a part file name; nil for other names (temporary files).
    static func partID(_ name: String) -> UInt64? {
        guard name.hasSuffix(partSuffix), name.utf8.count == 16 + partSuffix.utf8.count else { return nil }
        return UInt64(name.dropLast(partSuffix.count), radix: 16)
    }
}

/// The manifest: the persisted WAL segment, the next part id and the parts that make up the store.
///
/// Text, replaced atomically:
/// ```
/// sightline-traces 1
/// persisted 12
/// next 40
/// part 0000000000000027
/// ```
struct Manifest {
    var persistedSegment = -1
    var nextPartID: UInt64 = 1
    var parts: [UInt64] = []

    static let header = "sightline-traces 1"

    func write(path: String) throws {
        var text = Self.header + "\npersisted \(persistedSegment)\nnext \(nextPartID)\n"
        for id in parts { text += "part " + TraceFileNames.partFile(id).dropLast(TraceFileNames.partSuffix.count) + "\n" }
        try POSIXFile.writeAtomically(Array(text.utf8), to: path)
    }

    /// The manifest at `path`; nil when there is none (a new store).
    /// - Throws: `dataCorrupted` naming the line that is wrong.
    static func read(path: String) throws -> Manifest? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let lines = String(decoding: try POSIXFile.readAll(path), as: UTF8.self).split(separator: "\n")
        guard lines.first == Substring(header) else { throw SightlineError(.dataCorrupted, "\(path) does not start with \"\(header)\"") }
        var manifest = Manifest()
        for (number, line) in lines.enumerated().dropFirst() {
            let fields = line.split(separator: " ")
            switch (fields.first, fields.count) {
            case ("persisted", 2):
                guard let value = Int(fields[1]) else { fallthrough }
                manifest.persistedSegment = value
            case ("next", 2):
                guard let value = UInt64(fields[1]) else { fallthrough }
                manifest.nextPartID = value
            case ("part", 2):
                guard let value = UInt64(fields[1], radix: 16) else { fallthrough }
                manifest.parts.append(value)
            default:
                throw SightlineError(.dataCorrupted, "\(path) line \(number + 1) is not understood: \"\(line)\"")
            }
        }
        return manifest
    }
}
