import SightlineCore

/// One series in the head: its labels, an open chunk, sealed chunks and out-of-order samples.
///
/// Lives only inside the head's lock, so it is a class (found once per sample and mutated in place); queries copy
/// values out of it. Admission hands out its ``id`` with the batch (``SeriesRefs``), so apply finds it without a
/// lookup by labels; admission's own view of the series lives apart, in the head's dense table by id.
///
/// Memory per series: the labels (shared with the head's lookup table, not copied), an open encoder (~60 bytes
/// plus its buffer), 48 bytes per sealed chunk plus its bytes (~1–2 bytes per sample), 24 bytes per out-of-order
/// sample.
final class MemSeries {
    /// A chunk that takes no more samples, tagged with the WAL segment all of its samples came from.
    struct SealedChunk {
        var chunk: ChunkData
        var segment: Int
    }

    /// A sample that arrived out of order, tagged with its WAL segment.
    struct OutOfOrderSample {
        var t: Int64
        var bits: UInt64
        var segment: Int
    }

    /// What to do with one incoming sample; both apply and admit decide through ``classify(_:_:oooWindowMs:)``.
    enum Decision: Equatable, Sendable {
        /// After every sample: append to the open chunk.
        case inOrder
        /// Before the newest sample but inside the window, at a new time: insert into the out-of-order buffer.
        case outOfOrder
        /// The same time and value bits as a stored sample: skip silently.
        case identicalDuplicate
        /// The same time as a stored sample with other value bits: refuse (`duplicate_sample`).
        case conflictingDuplicate
        /// Older than the out-of-order window allows: refuse (`out_of_order`).
        case tooOld
    }

    /// The series' number in the head; changes only when the head renumbers its series.
    var id: UInt32
    let labels: Labels
    var open = XORChunkEncoder()
    /// The WAL segment of the open chunk's samples; meaningless while it is empty.
    var openSegment = 0
    /// Sealed chunks, ascending and not overlapping; all before the open chunk.
    var sealed: [SealedChunk] = []
    /// Out-of-order samples, ascending by time, one per time.
    var outOfOrder: [OutOfOrderSample] = []
    /// The newest sample time ever appended in order, kept after its chunks are drained; `Int64.min` for none.
    var maxTime: Int64 = .min
    /// The value bits of the sample at ``maxTime``.
    var maxTimeValueBits: UInt64 = 0
    /// Whether a sample was ever appended in order, so ``maxTime`` is real (`Int64.min` is a valid time).
    var hasAppended = false

    init(id: UInt32, labels: Labels) {
        self.id = id
        self.labels = labels
    }

    /// Whether the head holds any sample of this series.
    var hasData: Bool { open.count > 0 || !sealed.isEmpty || !outOfOrder.isEmpty }

    /// The time span of the samples in the head, or nil when none are.
    var dataRange: (min: Int64, max: Int64)? {
        var low = Int64.max
        var high = Int64.min
        if let first = sealed.first { low = first.chunk.minTime }
        if let last = sealed.last { high = last.chunk.maxTime }
        if open.count > 0 {
            low = min(low, open.minTime)
            high = max(high, open.maxTime)
        }
        if let first = outOfOrder.first, let last = outOfOrder.last {
            low = min(low, first.t)
            high = max(high, last.t)
        }
        return low <= high ? (low, high) : nil
    }

    /// Whether any chunk or out-of-order sample of the head overlaps `[minTime, maxTime]` (chunk granularity).
    func overlaps(minTime: Int64, maxTime: Int64) -> Bool {
        if open.count > 0 && open.minTime <= maxTime && open.maxTime >= minTime { return true }
        if sealed.contains(where: { $0.chunk.minTime <= maxTime && $0.chunk.maxTime >= minTime }) { return true }
        let start = outOfOrderIndex(of: minTime)
        return start < outOfOrder.count && outOfOrder[start].t <= maxTime
    }

    /// Decides what to do with a sample at `t` with value bits `bits`.
    func classify(_ t: Int64, _ bits: UInt64, oooWindowMs: Int64) -> Decision {
        Self.decide(t, bits, newest: hasAppended ? (maxTime, maxTimeValueBits) : nil, oooWindowMs: oooWindowMs) {
            storedValueBits(at: $0)
        }
    }

    /// The rule both apply and admission decide by: a sample at `t` with value bits `bits`, against the newest
    /// sample of a series (nil: none yet) and, for an older time inside the window, the value bits `stored` holds
    /// at that time.
    static func decide(
        _ t: Int64, _ bits: UInt64, newest: (time: Int64, bits: UInt64)?, oooWindowMs: Int64, stored: (Int64) -> UInt64?
    ) -> Decision {
        guard let newest, t <= newest.time else { return .inOrder }
        if t == newest.time { return bits == newest.bits ? .identicalDuplicate : .conflictingDuplicate }
        let (lowest, overflow) = newest.time.subtractingReportingOverflow(max(0, oooWindowMs))
        guard overflow || t >= lowest else { return .tooOld }
        if let stored = stored(t) {
            return stored == bits ? .identicalDuplicate : .conflictingDuplicate
        }
        return .outOfOrder
    }

    /// The value bits of the sample stored in the head at `t`, if there is one. Decodes at most one chunk.
    func storedValueBits(at t: Int64) -> UInt64? {
        let index = outOfOrderIndex(of: t)
        if index < outOfOrder.count && outOfOrder[index].t == t { return outOfOrder[index].bits }
        if open.count > 0 && t >= open.minTime && t <= open.maxTime {
            return Self.valueBits(at: t, in: open.finish())
        }
        // Sealed chunks ascend and do not overlap: binary search the one whose range could hold t.
        var low = 0
        var high = sealed.count
        while low < high {
            let mid = (low + high) / 2
            if sealed[mid].chunk.maxTime < t { low = mid + 1 } else { high = mid }
        }
        if low < sealed.count && sealed[low].chunk.minTime <= t {
            return Self.valueBits(at: t, in: sealed[low].chunk)
        }
        return nil
    }

    private static func valueBits(at t: Int64, in chunk: ChunkData) -> UInt64? {
        guard var decoder = try? XORChunkDecoder(chunk) else { return nil }
        while let sample = decoder.next() {
            if sample.t == t { return sample.v.bitPattern }
            if sample.t > t { return nil }
        }
        return nil
    }

    /// Appends an in-order sample (``Decision/inOrder``), sealing the open chunk first when it holds samples of an
    /// older segment or is full.
    func appendInOrder(_ t: Int64, _ v: Double, segment: Int) {
        if open.count > 0 && (openSegment != segment || open.count >= ChunkCodec.samplesPerChunk) {
            sealOpenChunk()
        }
        if open.count == 0 { openSegment = segment }
        open.append(t, v)
        maxTime = t
        maxTimeValueBits = v.bitPattern
        hasAppended = true
    }

    /// Inserts an out-of-order sample (``Decision/outOfOrder``) at its place.
    func insertOutOfOrder(_ t: Int64, _ v: Double, segment: Int) {
        let index = outOfOrderIndex(of: t)
        let sample = OutOfOrderSample(t: t, bits: v.bitPattern, segment: segment)
        if index < outOfOrder.count && outOfOrder[index].t == t {
            outOfOrder[index] = sample
        } else {
            outOfOrder.insert(sample, at: index)
        }
    }

    /// Seals the open chunk when it holds samples.
    func sealOpenChunk() {
        guard open.count > 0 else { return }
        sealed.append(SealedChunk(chunk: open.finish(), segment: openSegment))
        open = XORChunkEncoder()
    }

    /// The first out-of-order index whose time is at least `t`.
    func outOfOrderIndex(of t: Int64) -> Int {
        var low = 0
        var high = outOfOrder.count
        while low < high {
            let mid = (low + high) / 2
            if outOfOrder[mid].t < t { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Removes and returns the chunks of segments up to `segment`: sealed chunks, the open chunk when its segment
    /// qualifies (it is sealed first), and the out-of-order samples of those segments encoded as chunks.
    func drain(throughSegment segment: Int) -> [ChunkData] {
        if open.count > 0 && openSegment <= segment { sealOpenChunk() }
        var drained: [ChunkData] = []
        if sealed.contains(where: { $0.segment <= segment }) {
            drained = sealed.filter { $0.segment <= segment }.map(\.chunk)
            sealed.removeAll { $0.segment <= segment }
        }
        if outOfOrder.contains(where: { $0.segment <= segment }) {
            let old = outOfOrder.filter { $0.segment <= segment }
            outOfOrder.removeAll { $0.segment <= segment }
            drained += ChunkCodec.encode(timestamps: old.map(\.t), values: old.map { Double(bitPattern: $0.bits) })
            // SeriesChunks lists chunks in ascending minTime (out-of-order chunks may overlap the others).
            drained.sort { $0.minTime < $1.minTime }
        }
        return drained
    }

    /// Removes the samples from `startMs` through `endMs` (both included), keeping every chunk's WAL segment.
    ///
    /// When the newest sample goes, ``maxTime`` moves back to the newest sample left, so writing the deleted
    /// samples again stores them rather than skipping them as duplicates; the caller drops a series with none left.
    /// - Returns: how many samples were removed.
    func deleteSamples(from startMs: Int64, through endMs: Int64) throws -> Int {
        var removed = 0
        var kept: [SealedChunk] = []
        for old in sealed {
            let (chunks, count) = try ChunkCodec.removing(from: startMs, through: endMs, in: [old.chunk]) {
                ChunkCodec.encode(timestamps: $0, values: $1)
            }
            removed += count
            kept += chunks.map { SealedChunk(chunk: $0, segment: old.segment) }
        }
        sealed = kept
        if open.count > 0 && open.minTime <= endMs && open.maxTime >= startMs {
            let (timestamps, values) = try ChunkCodec.decodeAll(open.finish())
            open = XORChunkEncoder()
            for (t, v) in zip(timestamps, values) where t < startMs || t > endMs { open.append(t, v) }
            removed += timestamps.count - open.count
        }
        let first = outOfOrderIndex(of: startMs)
        var end = first
        while end < outOfOrder.count && outOfOrder[end].t <= endMs { end += 1 }
        outOfOrder.removeSubrange(first..<end)
        removed += end - first
        if hasAppended && maxTime >= startMs && maxTime <= endMs, let newest = dataRange?.max {
            maxTime = newest
            maxTimeValueBits = storedValueBits(at: newest) ?? 0
        }
        return removed
    }

    /// A copy of what a query needs, taken under the head's lock: chunks overlapping the range (the open one
    /// snapshotted) and the out-of-order samples in it.
    func snapshot(minTime: Int64, maxTime: Int64) -> SeriesSnapshot {
        var chunks: [ChunkData] = sealed.compactMap { $0.chunk.minTime <= maxTime && $0.chunk.maxTime >= minTime ? $0.chunk : nil }
        if open.count > 0 && open.minTime <= maxTime && open.maxTime >= minTime { chunks.append(open.finish()) }
        let start = outOfOrderIndex(of: minTime)
        var end = start
        while end < outOfOrder.count && outOfOrder[end].t <= maxTime { end += 1 }
        let ooo = outOfOrder[start..<end]
        return SeriesSnapshot(
            labels: labels, inOrder: chunks, outOfOrderTimes: ooo.map(\.t), outOfOrderValues: ooo.map { Double(bitPattern: $0.bits) })
    }
}

/// The data of one series copied out of the head for a query, decoded after the lock is released.
struct SeriesSnapshot: Sendable {
    var labels: Labels
    /// In-order chunks: ascending, not overlapping.
    var inOrder: [ChunkData]
    var outOfOrderTimes: [Int64]
    var outOfOrderValues: [Double]
}
