package import SightlineCore
import Synchronization

/// The in-memory part of one tenant's time-series store: recent samples in compressed chunks, an inverted index,
/// and the metadata of metric families.
///
/// - ``apply(_:segment:)`` is called serially, in WAL order (the ingestion pipeline guarantees it). It never fails:
///   what it cannot take it drops and counts in ``discarded``.
/// - ``admit(_:limits:)`` runs before the WAL write, concurrently with everything else, and refuses what
///   ``apply(_:segment:)`` would drop, so acknowledged samples are not lost.
/// - Queries (``select(matchers:minTime:maxTime:)`` and friends) copy what they need under the lock and decode
///   after releasing it.
/// - ``drain(throughSegment:)`` hands chunks to the block writer once their WAL segments are to be deleted.
///
/// Every sample time holds one value: the first write wins. A later sample at the same time with the same value
/// bits is skipped silently; with other bits it is refused (`duplicate_sample`). That holds for the newest sample
/// and, by looking the time up, for out-of-order ones, as long as the earlier sample is still in the head.
///
/// All state sits behind one `Mutex`; no lock is held across I/O (the head does none).
package final class Head: Sendable {
    /// Reasons counted in ``discarded`` and ``Admission/rejections``.
    package enum Reason {
        /// Older than the out-of-order window.
        package static let outOfOrder = "out_of_order"
        /// The same time as a stored sample, other value bits.
        package static let duplicateSample = "duplicate_sample"
        /// A new series over ``HeadLimits/maxSeries``.
        package static let tooManySeries = "too_many_series"
        /// Past ``HeadLimits/maxSamplesPerRequest``.
        package static let tooManySamples = "too_many_samples"
    }

    /// Everything the lock guards.
    struct State: ~Copyable {
        /// The ``SeriesRefs/owner`` of this head's series numbers; changes when they are renumbered.
        var owner: UInt64
        /// Series ids by labels.
        var seriesByLabels: [Labels: UInt32] = [:]
        /// The series by id (index 0 unused, nil where a series was dropped): a dense table, so that apply, given a
        /// batch's ids, reaches its series through consecutive slots (requests repeat series in creation order).
        var seriesByID: [MemSeries?] = [nil]
        /// Admission's own view of each series, by id, beside the series (see ``AdmissionView``).
        var admissionByID: [AdmissionView] = [AdmissionView()]
        /// How many entries of ``seriesByID`` hold a series.
        var seriesCount = 0
        var index = HeadIndex()
        var metadata: [String: MetricMetadata] = [:]
        var discarded: [String: Int] = [:]
        var limits: HeadLimits
        /// Counts admissions, so a series can tell whether the running one has seen it (``AdmissionView/epoch``).
        var admissionEpoch: UInt64 = 0

        /// The next series id.
        var nextID: UInt32 { UInt32(seriesByID.count) }

        /// The live series `id` of `refs` stands for, if any. Unretained: valid while the lock is held.
        func liveSeries(_ id: UInt32, owner refsOwner: UInt64) -> Unmanaged<MemSeries>? {
            guard id != 0, refsOwner == owner, Int(id) < seriesByID.count, let series = seriesByID[Int(id)] else { return nil }
            return Unmanaged.passUnretained(series)
        }

        /// The series with `labels`, created and indexed when it is new. Unretained: valid while the lock is held.
        mutating func series(for labels: Labels) -> Unmanaged<MemSeries> {
            if let id = seriesByLabels[labels], let series = seriesByID[Int(id)] { return Unmanaged.passUnretained(series) }
            if nextID == .max { renumber() }
            let series = MemSeries(id: nextID, labels: labels)
            seriesByLabels[labels] = series.id
            seriesByID.append(series)
            admissionByID.append(AdmissionView())
            seriesCount += 1
            index.add(series.id, labels)
            return Unmanaged.passUnretained(series)
        }

        /// The live series, in id order.
        var allSeries: some Sequence<MemSeries> { seriesByID.lazy.compactMap { $0 } }

        /// Removes a series from every table.
        mutating func remove(_ series: MemSeries) {
            seriesByLabels[series.labels] = nil
            seriesByID[Int(series.id)] = nil
            admissionByID[Int(series.id)] = AdmissionView()
            seriesCount -= 1
            index.remove(series.id, series.labels)
        }

        /// Whether dropped series left more empty slots than there are series, so ``renumber()`` is due.
        var isSparse: Bool { seriesByID.count > 1024 && seriesByID.count > 2 * seriesCount }

        /// Gives the live series the ids 1…n again, under a new owner (numbers batches still carry no longer
        /// resolve; apply finds those series by their labels). Needed when dropped series left the tables sparse,
        /// and after four billion series were created.
        mutating func renumber() {
            let live = seriesByID.compactMap { $0 }
            let views = live.map { admissionByID[Int($0.id)] }
            seriesByID = [nil]
            admissionByID = [AdmissionView()]
            seriesByLabels = [:]
            index = HeadIndex()
            owner = Head.nextOwner.add(1, ordering: .relaxed).newValue
            for (series, view) in zip(live, views) {
                series.id = nextID
                seriesByLabels[series.labels] = series.id
                seriesByID.append(series)
                admissionByID.append(view)
                index.add(series.id, series.labels)
            }
        }
    }

    /// Admission's view of one series: the newest time it passed (applied or still on its way to the WAL) and that
    /// sample's value bits (`any` false while there is none), and which admission saw the series last with its
    /// place in that admission's pending list. Admission writes it; apply writes it only for samples that reach it
    /// without the series' id (a new series, WAL replay), so it is never behind what was applied. A batch admitted
    /// and then lost (a failed WAL write) leaves it ahead: a retry of the same samples is admitted as identical
    /// duplicates, and apply, which decides on what it stored, appends them.
    ///
    /// Kept in a dense table by id rather than in the series objects: admission then reads consecutive entries
    /// instead of one scattered object per sample (that first load was nearly half of admission's time).
    struct AdmissionView {
        var epoch: UInt64 = 0
        var slot: Int32 = 0
        var maxTime: Int64 = .min
        var maxBits: UInt64 = 0
        var any = false

        /// Moves the view up to a sample at `t` with value bits `bits`.
        mutating func note(_ t: Int64, _ bits: UInt64) {
            if !any || t > maxTime {
                maxTime = t
                maxBits = bits
                any = true
            }
        }
    }

    let state: Mutex<State>

    /// Creates an empty head. `limits.oooWindowMs` is the window ``apply(_:segment:)`` enforces.
    package init(limits: HeadLimits = HeadLimits()) {
        state = Mutex(State(owner: Self.nextOwner.add(1, ordering: .relaxed).newValue, limits: limits))
    }

    /// Hands every head (and every renumbering) its own ``SeriesRefs/owner``.
    static let nextOwner = Atomic<UInt64>(0)

    /// The limits ``admit(_:)`` checks and whose out-of-order window ``apply(_:segment:)`` enforces.
    package var limits: HeadLimits {
        get { state.withLock { $0.limits } }
        set { state.withLock { $0.limits = newValue } }
    }

    /// Samples ``apply(_:segment:)`` dropped, by reason (`duplicate_sample`, `out_of_order`), since the head was created.
    package var discarded: [String: Int] { state.withLock { $0.discarded } }

    /// Appends a batch made durable in WAL segment `segment`. Never fails: samples it cannot take are dropped and
    /// counted in ``discarded``; identical duplicates are skipped without counting.
    ///
    /// A series' open chunk is sealed before it takes a sample of a newer segment, so every chunk holds the samples
    /// of exactly one segment, and when it reaches ``ChunkCodec/samplesPerChunk`` samples.
    package func apply(_ batch: MetricBatch, segment: Int) {
        state.withLock { state in
            let window = state.limits.oooWindowMs
            let refs = batch.resolvedRefs
            let samples = batch.samples
            for index in samples.indices {
                let t = samples[index].timestampMs
                let v = samples[index].value
                // The labels only when the id does not lead to the series: touching them costs a retain.
                let found = refs.flatMap { refs in refs.ids.withUnsafeBufferPointer { state.liveSeries($0[index], owner: refs.owner) } }
                let series = found ?? state.series(for: samples[index].labels)
                let decision = series._withUnsafeGuaranteedRef { series in
                    let decision = series.classify(t, v.bitPattern, oooWindowMs: window)
                    switch decision {
                    case .inOrder: series.appendInOrder(t, v, segment: segment)
                    case .outOfOrder: series.insertOutOfOrder(t, v, segment: segment)
                    case .identicalDuplicate, .conflictingDuplicate, .tooOld: break
                    }
                    return decision
                }
                // Admission did not see this sample on the series (it was new then, or this is WAL replay): bring
                // admission's view of the series up to what is stored.
                if found == nil {
                    series._withUnsafeGuaranteedRef { series in
                        if series.hasAppended { state.admissionByID[Int(series.id)].note(series.maxTime, series.maxTimeValueBits) }
                    }
                }
                switch decision {
                case .inOrder, .outOfOrder, .identicalDuplicate:
                    break
                case .conflictingDuplicate:
                    state.discarded[Reason.duplicateSample, default: 0] += 1
                case .tooOld:
                    state.discarded[Reason.outOfOrder, default: 0] += 1
                }
            }
            for metadata in batch.metadata {
                state.metadata[metadata.metricFamily] = metadata
            }
        }
    }

    /// Removes and returns every chunk whose samples came from WAL segments up to `segment`, for the block writer.
    ///
    /// Open chunks of those segments are sealed first; out-of-order samples of those segments come as chunks of their
    /// own, which may overlap the in-order ones. Series stay in the index with their newest time, which out-of-order
    /// checks still need. Series with nothing to drain are left out. The result is sorted by labels.
    package func drain(throughSegment segment: Int) -> [SeriesChunks] {
        var result = state.withLock { state in
            state.allSeries.compactMap { series -> SeriesChunks? in
                let chunks = series.drain(throughSegment: segment)
                return chunks.isEmpty ? nil : SeriesChunks(labels: series.labels, chunks: chunks)
            }
        }
        result.sort { $0.labels < $1.labels }
        return result
    }

    /// Removes the samples of the series `deletion` covers in its time range.
    ///
    /// A series whose newest sample went and that has none left in the head is dropped from it (it starts afresh
    /// when written again, as after ``removeInactiveSeries(olderThanMs:)``); one with samples left gets its newest
    /// time moved back for apply and admission alike, so that the deleted samples can be written again.
    /// - Returns: how many samples were removed.
    /// - Throws: `dataCorrupted` when a chunk the range touches does not decode (the head is left as it was for the
    ///   series after it).
    @discardableResult
    package func delete(_ deletion: SeriesDeletion) throws -> Int {
        var removed = 0
        var failure: (any Error)?
        forEachMatchingSeries(deletion.matchers) { state, series in
            guard failure == nil else { return }
            let newest = series.maxTime
            do {
                removed += try series.deleteSamples(from: deletion.startMs, through: deletion.endMs)
            } catch {
                failure = error
                return
            }
            guard series.hasAppended, newest >= deletion.startMs, newest <= deletion.endMs else { return }
            if series.hasData {
                state.admissionByID[Int(series.id)] = AdmissionView()
                state.admissionByID[Int(series.id)].note(series.maxTime, series.maxTimeValueBits)
            } else {
                state.remove(series)
            }
        }
        if let failure { throw failure }
        return removed
    }

    /// Drops series that hold no sample in the head and whose newest sample is older than `bound` (ms), so the head
    /// does not grow forever. Returns how many were dropped.
    ///
    /// A dropped series that comes back starts afresh: its first sample is in order whatever its time, so pass a
    /// bound at least one out-of-order window behind the newest data.
    @discardableResult
    package func removeInactiveSeries(olderThanMs bound: Int64) -> Int {
        state.withLock { state in
            let stale = state.allSeries.filter { !$0.hasData && $0.maxTime < bound }
            for series in stale { state.remove(series) }
            if state.isSparse { state.renumber() }
            return stale.count
        }
    }

    /// The number of series in the index.
    package var seriesCount: Int { state.withLock { $0.seriesCount } }

    /// Cardinality statistics, with top-`limit` lists.
    package func headStats(limit: Int = 10) -> HeadStats {
        state.withLock { state in
            var chunkCount = 0
            var low = Int64.max
            var high = Int64.min
            for series in state.allSeries {
                chunkCount += series.sealed.count + (series.open.count > 0 ? 1 : 0)
                chunkCount += (series.outOfOrder.count + ChunkCodec.samplesPerChunk - 1) / ChunkCodec.samplesPerChunk
                if let range = series.dataRange {
                    low = min(low, range.min)
                    high = max(high, range.max)
                }
            }
            var byMetric: [HeadStats.Entry] = []
            var byName: [HeadStats.Entry] = []
            var byPair: [HeadStats.Entry] = []
            var bytesByName: [HeadStats.Entry] = []
            for (name, values) in state.index.postings {
                byName.append(.init(name: name, value: values.count))
                bytesByName.append(.init(name: name, value: values.keys.reduce(0) { $0 + $1.utf8.count }))
                for (value, list) in values {
                    byPair.append(.init(name: "\(name)=\(value)", value: list.count))
                    if name == Labels.metricName { byMetric.append(.init(name: value, value: list.count)) }
                }
            }
            return HeadStats(
                numSeries: state.seriesCount, numLabelPairs: state.index.labelPairCount, chunkCount: chunkCount,
                minTime: low <= high ? low : nil, maxTime: low <= high ? high : nil,
                seriesCountByMetricName: Self.top(byMetric, limit), labelValueCountByLabelName: Self.top(byName, limit),
                seriesCountByLabelValuePair: Self.top(byPair, limit), memoryInBytesByLabelName: Self.top(bytesByName, limit))
        }
    }

    /// The `limit` largest entries, descending by value, then ascending by name.
    private static func top(_ entries: [HeadStats.Entry], _ limit: Int) -> [HeadStats.Entry] {
        let sorted = entries.sorted { $0.value != $1.value ? $0.value > $1.value : $0.name < $1.name }
        return Array(sorted.prefix(max(0, limit)))
    }
}
