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
        /// The ``SeriesHandle/owner`` of this head's series.
        let owner: UInt64
        /// The series by labels, unretained: ``seriesByID`` owns them (a retain per lookup was a contended atomic).
        var seriesByLabels: [Labels: Unmanaged<MemSeries>] = [:]
        var seriesByID: [UInt32: MemSeries] = [:]
        var index = HeadIndex()
        var nextID: UInt32 = 1
        var metadata: [String: MetricMetadata] = [:]
        var discarded: [String: Int] = [:]
        var limits: HeadLimits
        /// Counts admissions, so a series can tell whether the running one has seen it (``MemSeries/admissionEpoch``).
        var admissionEpoch: UInt64 = 0

        /// The series `handle` stands for when it is a live series of this head. Unretained: valid while the lock
        /// is held and `handle` is alive.
        func liveSeries(_ handle: SeriesHandle?) -> Unmanaged<MemSeries>? {
            guard let handle, handle.owner == owner else { return nil }
            let series = Unmanaged.passUnretained(unsafeDowncast(handle, to: MemSeries.self))
            return series._withUnsafeGuaranteedRef { $0.isLive } ? series : nil
        }

        /// The series with `labels`, created and indexed when it is new. Unretained: valid while the lock is held.
        mutating func series(for labels: Labels) -> Unmanaged<MemSeries> {
            if let series = seriesByLabels[labels] { return series }
            if nextID == .max { renumber() }
            let series = MemSeries(id: nextID, labels: labels, owner: owner)
            nextID += 1
            seriesByLabels[labels] = Unmanaged.passUnretained(series)
            seriesByID[series.id] = series
            index.add(series.id, labels)
            return Unmanaged.passUnretained(series)
        }

        /// Removes a series from every table.
        mutating func remove(_ series: MemSeries) {
            series.isLive = false
            seriesByLabels[series.labels] = nil
            seriesByID[series.id] = nil
            index.remove(series.id, series.labels)
        }

        /// Gives the live series the ids 1…n again. Only needed after four billion series were created.
        private mutating func renumber() {
            let live = seriesByID.keys.sorted().compactMap { seriesByID[$0] }
            seriesByID = [:]
            seriesByLabels = [:]
            index = HeadIndex()
            var id: UInt32 = 1
            for old in live {
                old.isLive = false
                let series = MemSeries(id: id, labels: old.labels, owner: owner)
                series.open = old.open
                series.openSegment = old.openSegment
                series.sealed = old.sealed
                series.outOfOrder = old.outOfOrder
                series.maxTime = old.maxTime
                series.maxTimeValueBits = old.maxTimeValueBits
                series.hasAppended = old.hasAppended
                series.admittedMaxTime = old.admittedMaxTime
                series.admittedMaxBits = old.admittedMaxBits
                series.admittedAny = old.admittedAny
                seriesByLabels[series.labels] = Unmanaged.passUnretained(series)
                seriesByID[id] = series
                index.add(id, series.labels)
                id += 1
            }
            nextID = id
        }
    }

    let state: Mutex<State>

    /// Creates an empty head. `limits.oooWindowMs` is the window ``apply(_:segment:)`` enforces.
    package init(limits: HeadLimits = HeadLimits()) {
        state = Mutex(State(owner: Self.nextOwner.add(1, ordering: .relaxed).newValue, limits: limits))
    }

    /// Hands every head its own ``SeriesHandle/owner``.
    private static let nextOwner = Atomic<UInt64>(0)

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
            let handles = batch.resolvedHandles ?? []
            let samples = batch.samples
            for index in samples.indices {
                let t = samples[index].timestampMs
                let v = samples[index].value
                // The labels only when the handle does not lead to the series: touching them costs a retain.
                let found = handles.isEmpty ? nil : handles.withUnsafeBufferPointer { state.liveSeries($0[index]) }
                let decision = (found ?? state.series(for: samples[index].labels))._withUnsafeGuaranteedRef { series in
                    let decision = series.classify(t, v.bitPattern, oooWindowMs: window)
                    switch decision {
                    case .inOrder: series.appendInOrder(t, v, segment: segment)
                    case .outOfOrder: series.insertOutOfOrder(t, v, segment: segment)
                    case .identicalDuplicate, .conflictingDuplicate, .tooOld: break
                    }
                    // Admission did not see this sample on the series (it was new then, or this is WAL replay):
                    // bring admission's view of the series up to what is stored.
                    if found == nil && series.hasAppended { series.noteAdmitted(series.maxTime, series.maxTimeValueBits) }
                    return decision
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
            state.seriesByID.values.compactMap { series -> SeriesChunks? in
                let chunks = series.drain(throughSegment: segment)
                return chunks.isEmpty ? nil : SeriesChunks(labels: series.labels, chunks: chunks)
            }
        }
        result.sort { $0.labels < $1.labels }
        return result
    }

    /// Drops series that hold no sample in the head and whose newest sample is older than `bound` (ms), so the head
    /// does not grow forever. Returns how many were dropped.
    ///
    /// A dropped series that comes back starts afresh: its first sample is in order whatever its time, so pass a
    /// bound at least one out-of-order window behind the newest data.
    @discardableResult
    package func removeInactiveSeries(olderThanMs bound: Int64) -> Int {
        state.withLock { state in
            let stale = state.seriesByID.values.filter { !$0.hasData && $0.maxTime < bound }
            for series in stale { state.remove(series) }
            return stale.count
        }
    }

    /// The number of series in the index.
    package var seriesCount: Int { state.withLock { $0.seriesByID.count } }

    /// Cardinality statistics, with top-`limit` lists.
    package func headStats(limit: Int = 10) -> HeadStats {
        state.withLock { state in
            var chunkCount = 0
            var low = Int64.max
            var high = Int64.min
            for series in state.seriesByID.values {
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
                numSeries: state.seriesByID.count, numLabelPairs: state.index.labelPairCount, chunkCount: chunkCount,
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
