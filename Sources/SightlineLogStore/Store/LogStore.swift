import Foundation
import Glibc
package import Logging
package import SightlineCore
import SightlineStorageCore
import Synchronization

/// The embedded log engine: what the server stores logs in and LogQL reads.
///
/// Records are grouped into streams, one per tenant and stream labels (``LogRecord/streamLabels``). Each stream has:
/// - a **head**: the records applied since the last persist, in memory, visible to queries;
/// - **parts**: immutable files of its records sorted by time in columnar, LZ4-compressed blocks, each block with a
///   trigram filter so a substring search skips the blocks that cannot match (``LogPart``, ``LogBlockCodec``);
/// - **generations**: like an Elasticsearch data stream's backing indices, the stream writes to its current
///   generation and rolls over to a new one when the current one is too large or too old. Merges combine small
///   parts within one generation; retention drops whole generations.
///
/// ``persist(throughSegment:)`` encodes the heads of all streams in parallel into new parts and then replaces the
/// manifest, which names the parts and the persisted WAL segment in one atomic write: a part is in the store exactly
/// when the manifest names it, so after a crash a part file that the manifest does not name is deleted and its
/// records come back from the WAL, and nothing is both persisted and replayed.
///
/// ```swift
/// let store = try LogStore(directory: dataDirectory + "/logs", options: LogStoreOptions(), logger: logger)
/// // periodically, e.g. every minute, from a PeriodicService:
/// let report = try store.maintain(now: LogStore.wallClockNano())
/// ```
package final class LogStore: SignalStore, LogSource, LogBucketCounting, LogQuerier {
    package let signal = Signal.logs
    package let directory: String
    let partsDirectory: String
    let options: LogStoreOptions
    let logger: Logger
    let clock: @Sendable () -> UInt64
    let state: Mutex<State>
    /// Serializes persists: each takes the heads' persisted prefixes, writes parts, and commits.
    let persistLock = Mutex(())
    /// Serializes maintenance runs.
    let maintainLock = Mutex(())
    /// Serializes manifest writes with the state changes they commit.
    let commitLock = Mutex(())
    let blocksRead = Atomic<Int>(0)
    let blocksSkipped = Atomic<Int>(0)
    /// The delete requests applied, per tenant (``LogStoreFileNames/deleteRequests``).
    let requests: Mutex<[Tenant: [LogDeletion]]>

    /// A stream's identity.
    struct StreamKey: Hashable, Sendable {
        var tenant: Tenant
        var labels: Labels
    }

    /// Head records of one WAL segment, in the order applied.
    ///
    /// A run of a stream's records in an applied batch becomes a chunk that is a range of the batch's rows: not
    /// copied, sharing the batch's columns until the streams are persisted. Runs of fewer than
    /// ``HeadChunk/smallRun`` records are copied into a batch of their own that later small runs join (up to 1,024
    /// records), so applies of a line or two at a time do not leave a batch per line. A query's snapshot shares the
    /// chunks; the next apply copies the chunk list once.
    struct HeadChunk {
        static let smallRun = 8
        var segment: Int
        var batch: LogBatch
        var rows: Range<Int>
        /// Whether small runs join this chunk: its batch is its own, not a decoder's.
        var joinable = false

        var count: Int { rows.count }

        /// Whether a record of the chunk lies in `range`.
        func hasRecord(in range: TimeRange) -> Bool {
            batch.rows[rows].contains { range.contains($0.effectiveTimeUnixNano) }
        }

        /// Calls `body` with each record `filter` keeps, made only for those (a query over a large head reads few of
        /// them) and one at a time.
        func forEachRecord(keptBy filter: RecordFilter, _ body: (LogRecord) throws -> Void) rethrows {
            for row in rows where filter.keeps(row: row, of: batch) { try body(batch[row]) }
        }

        /// How many of the chunk's records lie in `range`, and the bytes of their lines.
        func count(in range: TimeRange) -> (records: Int, lineBytes: Int) {
            var count = (records: 0, lineBytes: 0)
            for row in batch.rows[rows] where range.contains(row.effectiveTimeUnixNano) {
                count.records += 1
                if case .string = row.body.kind {
                    count.lineBytes += Int(row.body.length)
                } else {
                    count.lineBytes += batch.attributeValue(row.body).text.utf8.count
                }
            }
            return count
        }
    }

    /// One stream: its head and its parts.
    struct Stream {
        /// Segments are non-decreasing along the chunks, as the pipeline applies in WAL order.
        var head: [HeadChunk] = []
        var headCount = 0
        var parts: [LogPart] = []
        /// The generation new parts go to.
        var generation = 0

        /// Appends the rows of `ranges` of `batch`, in that order, applied from `segment`.
        mutating func appendHead(_ batch: LogBatch, ranges: [Range<Int>], segment: Int) {
            for range in ranges where !range.isEmpty {
                headCount += range.count
                guard range.count < HeadChunk.smallRun else {
                    head.append(HeadChunk(segment: segment, batch: batch, rows: range))
                    continue
                }
                if let last = head.last, last.joinable, last.segment == segment, last.count < 1024 {
                    head[head.count - 1].batch.append(contentsOf: batch, rows: range)
                    head[head.count - 1].rows = last.rows.lowerBound..<head[head.count - 1].batch.count
                } else {
                    var own = LogBatch()
                    own.append(contentsOf: batch, rows: range)
                    head.append(HeadChunk(segment: segment, batch: own, rows: 0..<own.count, joinable: true))
                }
            }
        }

        /// The head chunks of segments ≤ `segment` (a prefix of the head).
        func headChunks(through segment: Int) -> [HeadChunk] {
            Array(head.prefix { $0.segment <= segment })
        }

        /// Removes the first `count` head records.
        mutating func dropHead(_ count: Int) {
            var remaining = count
            var whole = 0
            while whole < head.count && head[whole].count <= remaining {
                remaining -= head[whole].count
                whole += 1
            }
            head.removeFirst(whole)
            if remaining > 0, !head.isEmpty { head[0].rows = (head[0].rows.lowerBound + remaining)..<head[0].rows.upperBound }
            headCount -= count
        }
    }

    struct State {
        var streams: [Tenant: [Labels: Stream]] = [:]
        var persistedSegment = -1
        var nextPartID: UInt64 = 1
    }

    /// The current time in ns since the epoch, from the system's real-time clock.
    package static func wallClockNano() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Opens the store in `directory` (created when missing): reads the manifest, opens the parts it names, and
    /// deletes part files it does not name and temporary files (left by a crash). The server then replays the WAL
    /// segments after ``persistedSegment``.
    /// - Parameters:
    ///   - directory: The store's own directory.
    ///   - options: Block, merge, rollover and retention settings.
    ///   - logger: Where cleanup and maintenance are logged.
    ///   - clock: The time in ns since the epoch that parts record as their creation (rollover by age counts from
    ///     it); tests pass their own.
    /// - Throws: `dataCorrupted` naming the file when the manifest or a part it names is damaged or missing, `io`
    ///   when files cannot be read.
    package init(
        directory: String, options: LogStoreOptions = LogStoreOptions(), logger: Logger,
        clock: @escaping @Sendable () -> UInt64 = LogStore.wallClockNano
    ) throws {
        self.directory = directory
        self.partsDirectory = directory + "/" + LogStoreFileNames.partsDirectory
        self.options = options
        self.logger = logger
        self.clock = clock
        try POSIXFile.createDirectory(partsDirectory)
        let manifestPath = directory + "/" + LogStoreFileNames.manifest
        let manifest = try LogManifest.read(path: manifestPath) ?? LogManifest()
        try? POSIXFile.remove(manifestPath + LogStoreFileNames.temporarySuffix)
        let listed = Set(manifest.partIDs)
        var state = State()
        state.persistedSegment = manifest.persistedSegment
        var highestID: UInt64 = 0
        for name in try POSIXFile.listDirectory(partsDirectory) {
            let path = partsDirectory + "/" + name
            if name.hasSuffix(LogStoreFileNames.temporarySuffix) {
                logger.info("removing a half-written log part", metadata: ["file": "\(path)"])
                try POSIXFile.remove(path)
            } else if let id = LogStoreFileNames.partID(name) {
                highestID = max(highestID, id)
                if !listed.contains(id) {
                    // Written but never committed: its records are still in the WAL after the persisted segment.
                    logger.info("removing a log part the manifest does not name", metadata: ["file": "\(path)"])
                    try POSIXFile.remove(path)
                }
            }
        }
        for id in manifest.partIDs {
            highestID = max(highestID, id)
            let path = partsDirectory + "/" + LogStoreFileNames.part(id)
            guard access(path, F_OK) == 0 else {
                throw SightlineError(.dataCorrupted, "\(manifestPath) names the log part \(path), which is missing")
            }
            let part = try LogPart.open(path: path, id: id)
            var stream = state.streams[part.meta.tenant]?[part.meta.labels] ?? Stream()
            stream.parts.append(part)
            stream.generation = max(stream.generation, part.meta.generation)
            state.streams[part.meta.tenant, default: [:]][part.meta.labels] = stream
        }
        state.nextPartID = highestID + 1
        self.state = Mutex(state)
        requests = Mutex(try Self.readRequests(directory: directory))
    }

    // MARK: SignalStore

    /// Appends the batch's records to their streams' heads: one lock for the whole batch, no I/O. Then applies its
    /// delete requests, if any (see ``delete(_:tenant:)``).
    package func apply(_ batch: TenantBatch, at position: WALPosition) throws {
        guard case .logs(let records) = batch.batch else {
            throw SightlineError(.internal, "\(batch.batch.signal) batch sent to the logs store")
        }
        // Runs of one stream, read from the rows. Records without stream labels take them from their resource;
        // records of one resource share its number, so the labels are derived once per resource, not once per record.
        var runs: [(labels: Labels, range: Range<Int>)] = []
        var derivedFrom: UInt32?
        var derived = Labels([])
        var lastStream: UInt32?
        var labels = Labels([])
        for (index, row) in records.rows.enumerated() {
            if row.stream != 0 {
                if row.stream != lastStream {
                    labels = records.streams[Int(row.stream)]
                    lastStream = row.stream
                }
            } else {
                if row.resource != derivedFrom {
                    derived = LogRecord.streamLabels(resource: records.resources[Int(row.resource)])
                    derivedFrom = row.resource
                }
                labels = derived
                lastStream = nil
            }
            if let last = runs.last, last.labels == labels {
                runs[runs.count - 1].range = last.range.lowerBound..<(index + 1)
            } else {
                runs.append((labels, index..<(index + 1)))
            }
        }
        var rangesByStream: [Labels: [Range<Int>]] = [:]
        for run in runs { rangesByStream[run.labels, default: []].append(run.range) }
        state.withLock { state in
            for (labels, ranges) in rangesByStream {
                state.streams[batch.tenant, default: [:]][labels, default: Stream()]
                    .appendHead(records, ranges: ranges, segment: position.segment)
            }
        }
        for deletion in records.deletions { try delete(deletion, tenant: batch.tenant) }
    }

    /// Writes the head records of WAL segments ≤ `segment` of every stream into new parts, streams encoded in
    /// parallel, then commits them and the segment in one manifest write.
    package func persist(throughSegment segment: Int) throws {
        try persistLock.withLock { _ in
            struct Job {
                /// The head chunks to write, in head order; together `count` records.
                var chunks: [HeadChunk]
                var count: Int
                var meta: PartMeta
            }
            let now = clock()
            let jobs: [Job] = state.withLock { state in
                var jobs: [Job] = []
                for (tenant, streams) in state.streams {
                    for (labels, stream) in streams {
                        let chunks = stream.headChunks(through: segment)
                        let count = chunks.reduce(0) { $0 + $1.count }
                        guard count > 0 else { continue }
                        let created = stream.parts.filter { $0.meta.generation == stream.generation }.map(\.meta.createdNano).min() ?? now
                        let meta = PartMeta(id: state.nextPartID, tenant: tenant, labels: labels, generation: stream.generation, createdNano: created)
                        state.nextPartID += 1
                        jobs.append(Job(chunks: chunks, count: count, meta: meta))
                    }
                }
                return jobs
            }
            if jobs.isEmpty && segment <= persistedSegment { return }
            let partsDirectory = self.partsDirectory
            let options = self.options
            let results = parallelMap(jobs, width: options.parallelism) { job in
                try LogPart.write(job.chunks, order: Self.timeOrder(job.chunks), meta: job.meta, directory: partsDirectory, options: options)
            }
            let parts = try Self.collect(results)
            // On failure the new files stay: the manifest may already name them (a rename that landed before a
            // failed directory fsync). If it does not, the next open deletes them; the head keeps the records.
            try commit(adding: parts, removing: [], persistedSegment: segment) { state in
                for job in jobs {
                    state.streams[job.meta.tenant]?[job.meta.labels]?.dropHead(job.count)
                }
            }
        }
    }

    package var persistedSegment: Int { state.withLock { $0.persistedSegment } }

    /// A record's place among a stream's head chunks: the chunk's number and the record's offset in it.
    struct RecordLocation: Equatable, Sendable {
        var chunk: Int
        var index: Int
    }

    /// The places of the records of `chunks` in time order, equal times in arrival order; nil when the chunks (in
    /// order) already are. A part is written by reading the rows at these places where they lie.
    static func timeOrder(_ chunks: [HeadChunk]) -> [RecordLocation]? {
        // Time and arrival (chunk in the high half, index in the low): sorting by both keeps equal times in order.
        var keys: [(time: UInt64, arrival: UInt64)] = []
        keys.reserveCapacity(chunks.reduce(0) { $0 + $1.count })
        var ordered = true
        var last: UInt64 = 0
        for (chunkNumber, chunk) in chunks.enumerated() {
            for index in chunk.rows {
                let time = chunk.batch.rows[index].effectiveTimeUnixNano
                if time < last { ordered = false }
                last = time
                keys.append((time, UInt64(chunkNumber) << 32 | UInt64(index)))
            }
        }
        if ordered { return nil }
        keys.sort { $0.time != $1.time ? $0.time < $1.time : $0.arrival < $1.arrival }
        return keys.map { RecordLocation(chunk: Int($0.arrival >> 32), index: Int($0.arrival & 0xFFFF_FFFF)) }
    }

    /// The parts of `results`, or the first error after deleting the parts that were written.
    static func collect(_ results: [Result<LogPart, any Error>]) throws -> [LogPart] {
        var parts: [LogPart] = []
        var failure: (any Error)?
        for result in results {
            switch result {
            case .success(let part): parts.append(part)
            case .failure(let error): if failure == nil { failure = error }
            }
        }
        if let failure {
            for part in parts { try? POSIXFile.remove(part.path) }
            throw failure
        }
        return parts
    }

    /// Makes a change to the set of parts durable and visible: writes the manifest naming the current parts minus
    /// `removing` plus `adding` (and `persistedSegment` when higher), then installs the change with `update` under
    /// one lock, so queries see the old set or the new one, and finally deletes the removed parts' files (queries
    /// still holding them read through their open descriptors).
    func commit(adding: [LogPart], removing: Set<UInt64>, persistedSegment: Int?, update: (inout State) -> Void = { _ in }) throws {
        let removed: [LogPart] = try commitLock.withLock { _ in
            let manifest = state.withLock { state in
                var manifest = LogManifest(persistedSegment: max(state.persistedSegment, persistedSegment ?? state.persistedSegment))
                for streams in state.streams.values {
                    for stream in streams.values {
                        for part in stream.parts where !removing.contains(part.meta.id) { manifest.partIDs.append(part.meta.id) }
                    }
                }
                manifest.partIDs.append(contentsOf: adding.map(\.meta.id))
                manifest.partIDs.sort()
                return manifest
            }
            if !adding.isEmpty { try POSIXFile.fsyncDirectory(partsDirectory) }
            try POSIXFile.writeAtomically(manifest.encoded(), to: directory + "/" + LogStoreFileNames.manifest)
            return state.withLock { state in
                var removed: [LogPart] = []
                for part in adding {
                    state.streams[part.meta.tenant, default: [:]][part.meta.labels, default: Stream()].parts.append(part)
                }
                if !removing.isEmpty {
                    for (tenant, streams) in state.streams {
                        for (labels, stream) in streams where stream.parts.contains(where: { removing.contains($0.meta.id) }) {
                            removed.append(contentsOf: stream.parts.filter { removing.contains($0.meta.id) })
                            state.streams[tenant]?[labels]?.parts.removeAll { removing.contains($0.meta.id) }
                        }
                    }
                }
                state.persistedSegment = manifest.persistedSegment
                update(&state)
                return removed
            }
        }
        for part in removed { try? POSIXFile.remove(part.path) }
    }

    // MARK: Counters

    /// How many blocks scans have read (decompressed) and skipped by their trigram filters since the store opened.
    package var blockCounters: (read: Int, skipped: Int) {
        (blocksRead.load(ordering: .relaxed), blocksSkipped.load(ordering: .relaxed))
    }

    /// What the store holds: streams, parts, blocks, records in parts and in heads, and bytes of part files.
    package struct Summary: Hashable, Sendable {
        package var streams = 0
        package var parts = 0
        package var blocks = 0
        package var partRecords = 0
        package var headRecords = 0
        package var partBytes = 0
    }

    /// Counts what the store holds, for metrics and tests.
    package func summary() -> Summary {
        state.withLock { state in
            var summary = Summary()
            for streams in state.streams.values {
                for stream in streams.values {
                    summary.streams += 1
                    summary.parts += stream.parts.count
                    summary.headRecords += stream.headCount
                    for part in stream.parts {
                        summary.blocks += part.blocks.count
                        summary.partRecords += part.recordCount
                        summary.partBytes += part.fileBytes
                    }
                }
            }
            return summary
        }
    }
}
