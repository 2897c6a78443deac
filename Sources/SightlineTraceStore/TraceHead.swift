import SightlineCore

/// Spans applied but not yet persisted, in WAL order, with a per-tenant index from trace id to spans.
///
/// Applying a batch appends it and adds one index entry per span, nothing more, so apply stays cheap. Persisting takes
/// a prefix of the batches (those of the persisted segments) away, and the index entries that pointed into it.
struct TraceHead {
    /// One applied batch.
    struct Batch {
        var segment: Int
        var tenant: Tenant
        var spans: [Span]
    }

    /// Where a span sits: the batch's sequence number and the span's row in it.
    struct Ref {
        var sequence: Int
        var row: Int
    }

    private(set) var batches: [Batch] = []
    /// The sequence number of `batches[0]`; sequence numbers never repeat.
    private(set) var firstSequence = 0
    private var traces: [Tenant: [TraceID: [Ref]]] = [:]
    private(set) var spanCount = 0

    mutating func append(tenant: Tenant, segment: Int, spans: [Span]) {
        let sequence = firstSequence + batches.count
        batches.append(Batch(segment: segment, tenant: tenant, spans: spans))
        spanCount += spans.count
        var index = traces.removeValue(forKey: tenant) ?? [:]
        for (row, span) in spans.enumerated() {
            index[span.traceID, default: []].append(Ref(sequence: sequence, row: row))
        }
        traces[tenant] = index
    }

    /// The number of leading batches whose segment is at most `segment`.
    func prefixCount(throughSegment segment: Int) -> Int {
        batches.prefix { $0.segment <= segment }.count
    }

    /// Drops the first `count` batches and their index entries.
    mutating func removeFirst(_ count: Int) {
        guard count > 0 else { return }
        let cut = firstSequence + count
        for batch in batches.prefix(count) {
            guard var index = traces.removeValue(forKey: batch.tenant) else { continue }
            for span in batch.spans {
                guard let refs = index[span.traceID] else { continue }
                let kept = refs.filter { $0.sequence >= cut }
                index[span.traceID] = kept.isEmpty ? nil : kept
            }
            if !index.isEmpty { traces[batch.tenant] = index }
            spanCount -= batch.spans.count
        }
        batches.removeFirst(count)
        firstSequence = cut
    }

    /// The head's spans of trace `id` of `tenant`.
    func spans(tenant: Tenant, id: TraceID) -> [Span] {
        guard let refs = traces[tenant]?[id] else { return [] }
        return refs.map { batches[$0.sequence - firstSequence].spans[$0.row] }
    }
}
