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

    /// The applied batches in WAL order, in chunks so that a query's snapshot never makes the next apply copy them all.
    struct BatchList: RandomAccessCollection {
        static let chunkSize = 256
        /// Full chunks of ``chunkSize`` batches; never changed once sealed.
        private var sealed: [[Batch]] = []
        /// The chunk being filled.
        private var open: [Batch] = []

        var startIndex: Int { 0 }
        var endIndex: Int { sealed.count * Self.chunkSize + open.count }

        subscript(position: Int) -> Batch {
            let chunk = position / Self.chunkSize
            return chunk < sealed.count ? sealed[chunk][position % Self.chunkSize] : open[position - sealed.count * Self.chunkSize]
        }

        mutating func append(_ batch: Batch) {
            if open.isEmpty { open.reserveCapacity(Self.chunkSize) }
            open.append(batch)
            if open.count == Self.chunkSize {
                sealed.append(open)
                open = []
            }
        }

        /// Drops the first `count` batches (re-chunking the rest: persist calls it, not apply).
        mutating func removeFirst(_ count: Int) {
            let rest = Array(self.dropFirst(count))
            self = BatchList()
            for batch in rest { append(batch) }
        }
    }

    private(set) var batches = BatchList()
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
        var touched: [Tenant: Set<TraceID>] = [:]
        for batch in batches.prefix(count) {
            spanCount -= batch.spans.count
            touched[batch.tenant, default: []].formUnion(batch.spans.lazy.map(\.traceID))
        }
        for (tenant, ids) in touched {
            guard var index = traces.removeValue(forKey: tenant) else { continue }
            for id in ids {
                guard let refs = index[id] else { continue }
                // Refs are appended in sequence order, so the removed ones are a prefix.
                let keep = refs.firstIndex { $0.sequence >= cut } ?? refs.count
                index[id] = keep == refs.count ? nil : Array(refs[keep...])
            }
            if !index.isEmpty { traces[tenant] = index }
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
