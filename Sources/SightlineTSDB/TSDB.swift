import Foundation
package import Logging
package import SightlineCore
import SightlineStorageCore
import Synchronization

/// The metrics engine: per tenant, an in-memory ``Head`` of compressed chunks fed from the WAL and a ``BlockStore`` of
/// immutable blocks on disk.
///
/// - Writes: the pipeline calls ``admit(_:)`` (limits, out-of-order window, conflicting duplicates) before the WAL,
///   then ``apply(_:at:)`` in WAL order.
/// - Checkpoints: ``persist(throughSegment:)`` drains every chunk whose samples came from WAL segments up to the given
///   one into a new block per tenant, then records the segment. A crash between the two replays those segments into
///   the head again; queries and compaction merge chunks and drop samples with equal timestamps, so the copy is
///   never seen twice.
/// - Reads: ``select(tenant:matchers:startMs:endMs:)`` merges blocks and head per series.
/// - Deletes: a batch's ``SeriesDeletion``s, applied in WAL order like its samples, remove samples from the head and
///   write the blocks holding any again without them (there are no tombstones: what a query reads after the batch
///   applied is all there is on disk).
/// - Exemplars: per tenant, an ``ExemplarRing`` of the newest ``Options/maxExemplarsPerTenant``, fed in WAL order;
///   a checkpoint keeps those of the segments it persists, and the later ones come back by WAL replay.
/// - Maintenance: ``compact()`` and ``applyRetention(nowMs:)`` are single operations; the server runs them on a timer.
///
/// On disk, under its directory: `checkpoint` (the highest persisted WAL segment) and one directory per tenant with
/// `blocks/` and `metadata` (the tenant's metric metadata and exemplars, rewritten at each checkpoint).
package final class TSDB: DeletingStore, MetricQuerier, ExemplarQuerier {
    /// Settings of the engine, with defaults.
    package struct Options: Sendable {
        /// Samples up to this much older than a series' newest sample are still accepted.
        package var outOfOrderWindowMs: Int64 = 3_600_000
        /// Most active series per tenant; 0 means no limit.
        package var maxSeriesPerTenant: Int = 0
        /// Most samples in one request; 0 means no limit.
        package var maxSamplesPerRequest: Int = 0
        /// Blocks whose newest sample is older than this are deleted; nil keeps them by age.
        package var retentionMs: Int64? = 15 * 86_400_000
        /// Per tenant, the oldest blocks are deleted while the blocks take more than this; nil means no size bound.
        package var retentionBytes: Int64?
        /// Samples a query selects from which their series are decoded on every core; below it one thread decodes
        /// all, as handing work to another costs more than it saves on small selections.
        package var parallelDecodeSamples: Int = 200_000
        /// Most exemplars kept per tenant (Prometheus' `max_exemplars`); 0 keeps none.
        package var maxExemplarsPerTenant: Int = 100_000

        package init() {}
    }

    package let signal = Signal.metrics
    private let directory: String
    private let options: Options
    private let logger: Logger
    private let tenants = Mutex<[Tenant: TenantData]>([:])
    private let persisted: Atomic<Int>
    /// Serializes checkpoints and maintenance with each other.
    private let fileLock = Mutex(())

    private final class TenantData: Sendable {
        let head: Head
        let exemplars: ExemplarRing
        let blocks: BlockStore
        let directory: String
        /// The newest sample time in the blocks; samples older than it minus the window are refused, because the head
        /// no longer knows those series' newest samples after a restart.
        let blocksMaxTime: Atomic<Int64>

        init(head: Head, exemplars: ExemplarRing, blocks: BlockStore, directory: String) {
            self.head = head
            self.exemplars = exemplars
            self.blocks = blocks
            self.directory = directory
            self.blocksMaxTime = Atomic(blocks.metas.map(\.maxTime).max() ?? .min)
        }
    }

    /// Opens the engine in `directory`, with the blocks and metadata of every tenant found there.
    /// - Throws: `dataCorrupted` when a block or the checkpoint is damaged, `io` on file system errors.
    package init(directory: String, options: Options = Options(), logger: Logger) throws {
        self.directory = directory
        self.options = options
        self.logger = logger
        try POSIXFile.createDirectory(directory)
        let checkpointPath = directory + "/" + Self.checkpointFile
        var persistedSegment = -1
        if FileManager.default.fileExists(atPath: checkpointPath) {
            let text = String(decoding: try POSIXFile.readAll(checkpointPath), as: UTF8.self)
            guard let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw SightlineError(.dataCorrupted, "\(checkpointPath) does not hold a WAL segment number")
            }
            persistedSegment = value
        }
        persisted = Atomic(persistedSegment)
        var opened: [Tenant: TenantData] = [:]
        for name in try POSIXFile.listDirectory(directory).sorted() where Tenant.isValid(name) {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory), isDirectory.boolValue else {
                continue
            }
            let tenant = Tenant(uncheckedID: name)
            opened[tenant] = try openTenant(tenant)
        }
        tenants.withLock { $0 = opened }
    }

    private static let checkpointFile = "checkpoint"
    private static let metadataFile = "metadata"

    private var headLimits: HeadLimits {
        HeadLimits(
            oooWindowMs: options.outOfOrderWindowMs, maxSeries: options.maxSeriesPerTenant,
            maxSamplesPerRequest: options.maxSamplesPerRequest
        )
    }

    private func openTenant(_ tenant: Tenant) throws -> TenantData {
        let tenantDirectory = directory + "/" + tenant.id
        let data = TenantData(
            head: Head(limits: headLimits),
            exemplars: ExemplarRing(capacity: options.maxExemplarsPerTenant),
            blocks: try BlockStore(directory: tenantDirectory + "/blocks", logger: logger),
            directory: tenantDirectory
        )
        let metadataPath = tenantDirectory + "/" + Self.metadataFile
        if FileManager.default.fileExists(atPath: metadataPath) {
            let stored = try TenantBatch(decoding: try POSIXFile.readAll(metadataPath))
            if case .metrics(let batch) = stored.batch {
                data.head.apply(MetricBatch(metadata: batch.metadata), segment: -1)
                data.exemplars.add(batch.exemplars, segment: -1)
            }
        }
        return data
    }

    private func tenantData(_ tenant: Tenant, create: Bool) throws -> TenantData? {
        if let existing = tenants.withLock({ $0[tenant] }) { return existing }
        guard create else { return nil }
        let data = try openTenant(tenant)
        return tenants.withLock { tenants in
            if let raced = tenants[tenant] { return raced }
            tenants[tenant] = data
            return data
        }
    }

    // MARK: SignalStore

    package func admit(_ batch: TenantBatch) -> Admission {
        guard case .metrics(let metrics) = batch.batch else { return Admission(batch: batch.batch) }
        guard let data = try? tenantData(batch.tenant, create: false) else {
            return Head(limits: headLimits).admit(metrics)
        }
        var admission = data.head.admit(metrics)
        let floor = data.blocksMaxTime.load(ordering: .relaxed)
        guard floor != .min, case .metrics(var admitted) = admission.batch else { return admission }
        let bound = floor - options.outOfOrderWindowMs
        let before = admitted.samples.count
        if let old = admitted.samples.first(where: { $0.timestampMs < bound }) {
            admitted.removeSamples { $0.timestampMs < bound }
            admission.rejections["out_of_order", default: 0] += before - admitted.samples.count
            if admission.message.isEmpty {
                admission.message = "sample for series \(old.labels) at \(old.timestampMs) is older than the out-of-order window of \(options.outOfOrderWindowMs / 1000)s before the newest persisted sample (\(floor))"
            }
            admission.batch = .metrics(admitted)
        }
        return admission
    }

    package func apply(_ batch: TenantBatch, at position: WALPosition) throws {
        guard case .metrics(let metrics) = batch.batch else {
            throw SightlineError(.internal, "\(batch.batch.signal) batch sent to the metrics engine")
        }
        guard let data = try tenantData(batch.tenant, create: true) else { return }
        data.head.apply(metrics, segment: position.segment)
        data.exemplars.add(metrics.exemplars, segment: position.segment)
        for deletion in metrics.deletions {
            try delete(deletion, from: data, tenant: batch.tenant)
            data.exemplars.delete(deletion)
        }
    }

    /// Removes what `deletion` covers from the head and the blocks, under the file lock: a checkpoint draining the
    /// head into a block cannot run in between and carry deleted samples past it.
    private func delete(_ deletion: SeriesDeletion, from data: TenantData, tenant: Tenant) throws {
        try fileLock.withLock { _ in
            let fromHead = try data.head.delete(deletion)
            var fromBlocks = 0
            let blocks = try data.blocks.delete(deletion.matchers, minTime: deletion.startMs, maxTime: deletion.endMs) { chunks in
                let (kept, removed) = try ChunkCodec.removing(
                    from: deletion.startMs, through: deletion.endMs, in: chunks, encode: ChunkCodec.encodeForBlock)
                fromBlocks += removed
                return kept
            }
            logger.info(
                "deleted samples",
                metadata: ["tenant": "\(tenant)", "series": "\(deletion)", "head_samples": "\(fromHead)",
                           "block_samples": "\(fromBlocks)", "blocks_rewritten": "\(blocks.count)"])
        }
    }

    package func persist(throughSegment segment: Int) throws {
        try fileLock.withLock { _ in
            for (tenant, data) in tenants.withLock({ $0 }) {
                // Head chunks are XOR; blocks store decimal chunks where the values allow (several times smaller).
                let drained = try data.head.drain(throughSegment: segment).map { series in
                    SeriesChunks(labels: series.labels, chunks: try ChunkCodec.compact(series.chunks))
                }
                if let meta = try data.blocks.add(drained) {
                    data.blocksMaxTime.store(max(data.blocksMaxTime.load(ordering: .relaxed), meta.maxTime), ordering: .relaxed)
                    logger.debug("head flushed to a block", metadata: ["tenant": "\(tenant)", "block": "\(meta.id)", "series": "\(drained.count)"])
                }
                try Self.writeMetadata(of: data, tenant: tenant, exemplarsThrough: segment, into: data.directory)
            }
            try POSIXFile.writeAtomically(Array("\(segment)\n".utf8), to: directory + "/" + Self.checkpointFile)
            persisted.store(max(persisted.load(ordering: .relaxed), segment), ordering: .relaxed)
        }
    }

    package var persistedSegment: Int { persisted.load(ordering: .relaxed) }

    // MARK: Maintenance

    /// Runs one compaction plan per tenant; returns how many blocks were merged away.
    @discardableResult
    package func compact() throws -> Int {
        try fileLock.withLock { _ in
            try tenants.withLock { $0 }.values.reduce(0) { total, data in
                total + (try data.blocks.compact(merge: ChunkCodec.compact))
            }
        }
    }

    /// Deletes blocks past the retention bounds and forgets head series that have had no sample for longer than the
    /// out-of-order window; returns the ids of the deleted blocks.
    @discardableResult
    package func applyRetention(nowMs: Int64) throws -> [String] {
        try fileLock.withLock { _ in
            var removed: [String] = []
            for data in tenants.withLock({ $0 }).values {
                removed += try data.blocks.applyRetention(maxAgeMs: options.retentionMs, maxBytes: options.retentionBytes, nowMs: nowMs)
                _ = data.head.removeInactiveSeries(olderThanMs: nowMs - max(options.outOfOrderWindowMs, 3_600_000))
            }
            return removed
        }
    }

    /// Writes a snapshot of `tenant`'s metrics into `directory` (Prometheus' `/api/v1/admin/tsdb/snapshot`): the
    /// tenant's blocks as hard links (no copy), the head's samples as one more block unless `skipHead`, and its
    /// metric metadata — a directory this engine opens as it is (`TSDB(directory:)`), to back up or restore.
    /// - Returns: how many blocks the snapshot holds.
    /// - Throws: `io` when files cannot be written or linked (`directory` must be on the data's file system).
    @discardableResult
    package func snapshot(tenant: Tenant, into directory: String, skipHead: Bool) throws -> Int {
        try fileLock.withLock { _ in
            let target = directory + "/" + tenant.id
            let blocksTarget = target + "/blocks"
            try POSIXFile.createDirectory(blocksTarget)
            guard let data = try tenantData(tenant, create: false) else { return 0 }
            var count = try data.blocks.link(into: blocksTarget)
            if !skipHead {
                let head = try data.head.selectChunks(matchers: [], minTime: .min, maxTime: .max).map { series in
                    SeriesChunks(labels: series.labels, chunks: try ChunkCodec.compact(series.chunks))
                }
                if try BlockWriter.write(head, level: 0, sources: [], into: blocksTarget) != nil { count += 1 }
            }
            try Self.writeMetadata(of: data, tenant: tenant, exemplarsThrough: skipHead ? .min : .max, into: target)
            try POSIXFile.fsyncDirectory(blocksTarget)
            try POSIXFile.fsyncDirectory(target)
            return count
        }
    }

    /// Writes the tenant's metric metadata and its exemplars from WAL segments up to `segment` (the file
    /// ``openTenant(_:)`` reads) into `directory`; removes the file when there is neither.
    private static func writeMetadata(of data: TenantData, tenant: Tenant, exemplarsThrough segment: Int, into directory: String) throws {
        let metadata = data.head.metadata(metric: nil)
        let exemplars = data.exemplars.exemplars(throughSegment: segment)
        let path = directory + "/" + metadataFile
        guard !metadata.isEmpty || !exemplars.isEmpty else { return try POSIXFile.remove(path) }
        let bytes = TenantBatch(tenant: tenant, batch: .metrics(MetricBatch(metadata: metadata, exemplars: exemplars))).encoded()
        try POSIXFile.writeAtomically(bytes, to: path)
    }

    /// Bytes the blocks take on disk, over all tenants.
    package var blockBytes: Int64 { tenants.withLock { $0 }.values.reduce(0) { $0 + $1.blocks.totalBytes } }

    /// Samples the head dropped while applying (conflicting duplicates and too-old samples that raced admission).
    package var discarded: [String: Int] {
        tenants.withLock { $0 }.values.reduce(into: [:]) { total, data in total.merge(data.head.discarded, uniquingKeysWith: +) }
    }

    /// Exemplars held and exemplars refused by reason (``ExemplarRing/Reason``), over all tenants.
    package var exemplarState: (stored: Int, dropped: [String: Int]) {
        tenants.withLock { $0 }.values.reduce(into: (0, [:])) { total, data in
            total.stored += data.exemplars.count
            total.dropped.merge(data.exemplars.dropped, uniquingKeysWith: +)
        }
    }

    /// The head statistics of one tenant, for `/api/v1/status/tsdb`.
    package func headStats(tenant: Tenant, limit: Int) -> HeadStats? {
        (try? tenantData(tenant, create: false))?.map { $0.head.headStats(limit: limit) }
    }

    // MARK: MetricQuerier

    package func exemplars(tenant: Tenant, selectors: [[LabelMatcher]], startMs: Int64, endMs: Int64) throws -> [SeriesExemplars] {
        guard let data = try tenantData(tenant, create: false) else { return [] }
        return data.exemplars.select(selectors, startMs: startMs, endMs: endMs)
    }

    package func select(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [SeriesSamples] {
        guard let data = try tenantData(tenant, create: false) else { return [] }
        let fromBlocks = try data.blocks.select(matchers, minTime: startMs, maxTime: endMs)
        let fromHead = data.head.selectChunks(matchers: matchers, minTime: startMs, maxTime: endMs)
        if fromHead.isEmpty || fromBlocks.isEmpty {
            // One source: its series are distinct already, and the blocks' come in label order.
            let only = fromHead.isEmpty ? fromBlocks : fromHead
            let result = try decode(only.map { ($0.labels, $0.chunks) }, startMs: startMs, endMs: endMs)
            return fromHead.isEmpty ? result : result.sorted { $0.labels < $1.labels }
        }
        var bySeries: [Labels: [ChunkData]] = [:]
        for series in fromBlocks {
            bySeries[series.labels, default: []].append(contentsOf: series.chunks)
        }
        for series in fromHead {
            bySeries[series.labels, default: []].append(contentsOf: series.chunks)
        }
        return try decode(bySeries.map { ($0.key, $0.value) }, startMs: startMs, endMs: endMs).sorted { $0.labels < $1.labels }
    }

    /// The samples of every series in `startMs...endMs`, in the order given, without series that have none there.
    /// Large selections are decoded on every core (in batches of series, so each thread takes work rarely).
    private func decode(_ series: [(labels: Labels, chunks: [ChunkData])], startMs: Int64, endMs: Int64) throws -> [SeriesSamples] {
        var samples = 0
        for one in series { for chunk in one.chunks { samples += chunk.sampleCount } }
        let width = samples < options.parallelDecodeSamples ? 1 : processorCount
        var result: [SeriesSamples] = []
        result.reserveCapacity(series.count)
        for decoded in parallelMap(parallelRuns(series.count, width: width), width: width, { range in
            try range.map { index in try Self.decode(series[index].chunks, labels: series[index].labels, startMs: startMs, endMs: endMs) }
        }) {
            for one in try decoded.get() where !one.timestampsMs.isEmpty { result.append(one) }
        }
        return result
    }

    /// The samples of one series' chunks in `startMs...endMs`, decoded straight into arrays sized once (chunks that
    /// overlap are merged first, later ones winning).
    private static func decode(_ chunks: [ChunkData], labels: Labels, startMs: Int64, endMs: Int64) throws -> SeriesSamples {
        let merged = chunks.count == 1 ? chunks : try ChunkCodec.merge(chunks)
        var capacity = 0
        for chunk in merged {
            // Every sample costs at least a few bits, so a count past this is damage, not a reason to allocate.
            guard chunk.sampleCount >= 0, chunk.sampleCount <= chunk.bytes.count * 64 + 2 else {
                throw SightlineError(.dataCorrupted, "chunk of \(chunk.bytes.count) bytes claims \(chunk.sampleCount) samples")
            }
            capacity += chunk.sampleCount
        }
        var values: [Double] = []
        let timestamps = try [Int64](unsafeUninitializedCapacity: capacity) { times, timesCount in
            values = try [Double](unsafeUninitializedCapacity: capacity) { values, valuesCount in
                var count = 0
                for chunk in merged {
                    let times = UnsafeMutableBufferPointer(rebasing: times[count...])
                    let values = UnsafeMutableBufferPointer(rebasing: values[count...])
                    if chunk.encoding == .decimal {
                        // Blocks keep decimal chunks.
                        count += try DecimalChunk.decode(chunk, from: startMs, through: endMs, into: times, values)
                        continue
                    }
                    var decoder = try XORChunkDecoder(chunk)
                    var written = 0
                    while let sample = decoder.next() {
                        if sample.t > endMs { break }
                        guard sample.t >= startMs else { continue }
                        guard written < times.count else {
                            throw SightlineError(.dataCorrupted, "chunk holds more samples than its count \(chunk.sampleCount)")
                        }
                        (times[written], values[written]) = (sample.t, sample.v)
                        written += 1
                    }
                    if let error = decoder.error { throw error }
                    count += written
                }
                valuesCount = count
            }
            timesCount = values.count
        }
        return SeriesSamples(labels: labels, timestampsMs: timestamps, values: values)
    }

    package func labelNames(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] {
        guard let data = try tenantData(tenant, create: false) else { return [] }
        var names = Set(data.head.labelNames(matchers: matchers, minTime: startMs, maxTime: endMs))
        for meta in data.blocks.metas where meta.maxTime >= startMs && meta.minTime <= endMs {
            names.formUnion(try data.blocks.labelNames(matchers))
            break
        }
        return names.sorted()
    }

    package func labelValues(tenant: Tenant, name: String, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] {
        guard let data = try tenantData(tenant, create: false) else { return [] }
        var values = Set(data.head.labelValues(name: name, matchers: matchers, minTime: startMs, maxTime: endMs))
        if data.blocks.metas.contains(where: { $0.maxTime >= startMs && $0.minTime <= endMs }) {
            values.formUnion(try data.blocks.labelValues(name, matchers))
        }
        return values.sorted()
    }

    package func metadata(tenant: Tenant, metric: String?) throws -> [MetricMetadata] {
        guard let data = try tenantData(tenant, create: false) else { return [] }
        return data.head.metadata(metric: metric)
    }
}
