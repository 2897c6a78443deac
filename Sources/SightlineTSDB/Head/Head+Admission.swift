package import SightlineCore
import Synchronization

extension Head {
    /// Decides which samples of `batch` the head will take, with the limits the head was configured with.
    package func admit(_ batch: MetricBatch) -> Admission {
        admit(batch, limits: limits)
    }

    /// Decides which samples of `batch` the head will take. Stores nothing; it only moves admission's own view of
    /// each stored series (``AdmissionView``) up to the newest sample it passed.
    ///
    /// Refuses, in this order: samples past `maxSamplesPerRequest` (the tail of the batch, `too_many_samples`);
    /// samples of new series past `maxSeries` (`too_many_series`); samples older than the out-of-order window
    /// (`out_of_order`); samples at the time of a stored or earlier admitted sample with other value bits
    /// (`duplicate_sample`). Identical duplicates are admitted: ``apply(_:segment:)`` skips them. Metadata is always
    /// admitted. The message explains the first refusal. The admitted batch carries the series' ids
    /// (``SeriesRefs``), 0 for series it creates.
    ///
    /// Admissions of stored series see the newest sample of earlier admissions, applied or not. Series that are new
    /// are created by apply, so racing requests do not see each other's new series and may together pass
    /// `maxSeries` by a little; ``apply(_:segment:)`` does not enforce it, and counts (in ``discarded``) what it
    /// cannot take of samples admitted against a view that had not seen them.
    package func admit(_ batch: MetricBatch, limits: HeadLimits) -> Admission {
        var rejections: [String: Int] = [:]
        var message = ""
        var samples = batch.samples[...]
        if limits.maxSamplesPerRequest > 0 && samples.count > limits.maxSamplesPerRequest {
            rejections[Reason.tooManySamples] = samples.count - limits.maxSamplesPerRequest
            message = "request has \(samples.count) samples, more than the limit of \(limits.maxSamplesPerRequest) per request"
            samples = samples.prefix(limits.maxSamplesPerRequest)
        }
        // Decide under the lock; build the answer after releasing it.
        let (verdicts, ids, owner, refusals) = state.withLock { state in
            var verdicts: [Verdict] = []
            var ids: [UInt32] = []
            verdicts.reserveCapacity(samples.count)
            ids.reserveCapacity(samples.count)
            // Each series seen gets a place in `pending`: a stored series keeps its place in its admission view (the
            // epoch tells this admission's from an earlier one's), so it costs the one lookup in the head's table;
            // a new series is found again through `newSlots` (-1: refused over the series limit).
            state.admissionEpoch &+= 1
            let epoch = state.admissionEpoch
            var pending: [PendingSeries] = []
            var newSlots: [Labels: Int] = [:]
            var newSeries = 0
            var refusals = 0
            let newSeriesAllowed = limits.maxSeries > 0 ? max(0, limits.maxSeries - state.seriesCount) : Int.max
            for index in samples.indices {
                let slot: Int
                if let id = state.seriesByLabels[samples[index].labels] {
                    let view = state.admissionByID[Int(id)]
                    if view.epoch == epoch {
                        slot = Int(view.slot)
                    } else {
                        slot = pending.count
                        state.admissionByID[Int(id)].epoch = epoch
                        state.admissionByID[Int(id)].slot = Int32(truncatingIfNeeded: slot)
                        pending.append(PendingSeries(id: id, view: view))
                    }
                } else if let known = newSlots[samples[index].labels] {
                    slot = known
                } else if newSeries < newSeriesAllowed {
                    newSeries += 1
                    slot = pending.count
                    newSlots[samples[index].labels] = slot
                    pending.append(PendingSeries())
                } else {
                    slot = -1
                    newSlots[samples[index].labels] = slot
                }
                guard slot >= 0 else {
                    verdicts.append(Verdict(decision: nil, newest: 0))
                    ids.append(0)
                    refusals += 1
                    continue
                }
                let t = samples[index].timestampMs
                let bits = samples[index].value.bitPattern
                let decision = pending[slot].classify(t, bits, oooWindowMs: limits.oooWindowMs) { t in
                    state.seriesByID[Int(pending[slot].id)]?.storedValueBits(at: t)
                }
                verdicts.append(Verdict(decision: decision, newest: pending[slot].maxTime))
                ids.append(pending[slot].id)
                switch decision {
                case .inOrder, .outOfOrder: pending[slot].accept(t, bits)
                case .identicalDuplicate: break
                case .conflictingDuplicate, .tooOld: refusals += 1
                }
            }
            // Admission's view of each stored series moves up to what this batch passed.
            for series in pending where series.id != 0 && series.firstAdmitted != nil {
                state.admissionByID[Int(series.id)].note(series.maxTime, series.maxTimeValueBits)
            }
            return (verdicts, ids, state.owner, refusals)
        }
        if refusals == 0 {
            // Everything admitted (the common case): the request's samples go on as they are, with their ids.
            let admitted = samples.count == batch.samples.count ? batch.samples : Array(samples)
            return Admission(
                batch: .metrics(
                    MetricBatch(
                        samples: admitted, metadata: batch.metadata, exemplars: batch.exemplars, seriesRefs: SeriesRefs(owner: owner, ids: ids))),
                rejections: rejections, message: message)
        }
        var kept: [MetricSample] = []
        var keptIDs: [UInt32] = []
        kept.reserveCapacity(samples.count)
        keptIDs.reserveCapacity(samples.count)
        func refuse(_ reason: String, _ explain: @autoclosure () -> String) {
            rejections[reason, default: 0] += 1
            if message.isEmpty { message = explain() }
        }
        for ((sample, verdict), id) in zip(zip(samples, verdicts), ids) {
            switch verdict.decision {
            case .inOrder, .outOfOrder, .identicalDuplicate:
                kept.append(sample)
                keptIDs.append(id)
            case nil:
                refuse(Reason.tooManySeries, "series limit of \(limits.maxSeries) reached: refusing new series \(sample.labels)")
            case .conflictingDuplicate:
                refuse(
                    Reason.duplicateSample,
                    "sample for series \(sample.labels) at \(sample.timestampMs) has value \(sample.value), but a sample at "
                        + "that time with a different value was already accepted")
            case .tooOld:
                refuse(
                    Reason.outOfOrder,
                    "sample for series \(sample.labels) at \(sample.timestampMs) is older than the out-of-order window of "
                        + "\(PrometheusDuration.format(milliseconds: limits.oooWindowMs)) (newest \(verdict.newest))")
            }
        }
        return Admission(
            batch: .metrics(
                MetricBatch(
                    samples: kept, metadata: batch.metadata, exemplars: batch.exemplars, seriesRefs: SeriesRefs(owner: owner, ids: keptIDs))),
            rejections: rejections, message: message)
    }
}

/// What admission decided for one sample: nil for a new series over the limit; `newest` is the series' newest time.
private struct Verdict: Sendable {
    var decision: MemSeries.Decision?
    var newest: Int64
}

/// A series as admission sees it: what the head holds plus what the batch has admitted so far.
private struct PendingSeries {
    /// The stored series' id, 0 for one the batch creates.
    let id: UInt32
    var maxTime: Int64
    var maxTimeValueBits: UInt64
    var hasAppended: Bool
    /// The first sample admitted from this batch, kept inline: most batches carry one sample per series.
    var firstAdmitted: (t: Int64, bits: UInt64)?
    /// Further samples admitted from this batch, by time (nil until there is one).
    var moreAdmitted: [Int64: UInt64]?

    /// A series the batch creates.
    init() {
        id = 0
        maxTime = .min
        maxTimeValueBits = 0
        hasAppended = false
    }

    /// A stored series with admission's view of it so far (never behind what apply stored).
    init(id: UInt32, view: Head.AdmissionView) {
        self.id = id
        (maxTime, maxTimeValueBits, hasAppended) = (view.maxTime, view.maxBits, view.any)
    }

    /// The decision ``MemSeries/classify(_:_:oooWindowMs:)`` would make after the admitted samples were applied;
    /// `stored` gives the value bits the head stores at a time, for an out-of-order sample.
    func classify(_ t: Int64, _ bits: UInt64, oooWindowMs: Int64, stored: (Int64) -> UInt64?) -> MemSeries.Decision {
        let newest = hasAppended ? (maxTime, maxTimeValueBits) : nil
        // A time this batch admitted already decides by what it admitted (it is not stored yet).
        if newest != nil && t <= maxTime, let earlier = admittedBits(at: t) {
            return earlier == bits ? .identicalDuplicate : .conflictingDuplicate
        }
        return MemSeries.decide(t, bits, newest: newest, oooWindowMs: oooWindowMs) { id != 0 ? stored($0) : nil }
    }

    /// The value bits of the sample this batch admitted at `t`, if any.
    private func admittedBits(at t: Int64) -> UInt64? {
        if let first = firstAdmitted, first.t == t { return first.bits }
        return moreAdmitted?[t]
    }

    /// Records an admitted sample.
    mutating func accept(_ t: Int64, _ bits: UInt64) {
        if firstAdmitted == nil {
            firstAdmitted = (t, bits)
        } else {
            if moreAdmitted == nil { moreAdmitted = [:] }
            moreAdmitted![t] = bits
        }
        if !hasAppended || t > maxTime {
            maxTime = t
            maxTimeValueBits = bits
            hasAppended = true
        }
    }
}
