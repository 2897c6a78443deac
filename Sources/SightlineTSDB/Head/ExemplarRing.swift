package import SightlineCore
import Synchronization

/// A tenant's exemplars: the newest ``capacity`` of them in one ring, each series' exemplars chained oldest to newest
/// through it, as Prometheus' circular exemplar storage keeps them.
///
/// ``add(_:segment:)`` runs in WAL order (``TSDB/apply(_:at:)``), so what the ring takes is decided by that order
/// alone and a replay decides the same. It refuses, counting the reason in ``dropped``: an exemplar whose labels
/// are longer than ``MetricExemplar/maxLabelSetLength`` (`label_set_too_long`) and one not newer than its series'
/// newest (`out_of_order`); an exemplar equal to its series' newest is skipped without counting (a client's retry).
/// Once full, each exemplar added overwrites the oldest.
package final class ExemplarRing: Sendable {
    /// Reasons counted in ``dropped``.
    package enum Reason {
        package static let outOfOrder = "out_of_order"
        package static let labelSetTooLong = "label_set_too_long"
    }

    private struct Entry {
        var exemplar: MetricExemplar
        /// The WAL segment the exemplar came from (-1: from the checkpoint file).
        var segment: Int
        /// The next exemplar of the same series in the ring, -1 for none.
        var next: Int
    }

    /// Where a series' exemplars start and end in the ring.
    private struct Chain {
        var oldest: Int
        var newest: Int
    }

    private struct State {
        var entries: [Entry] = []
        /// The slot the next exemplar goes to.
        var nextSlot = 0
        var chains: [Labels: Chain] = [:]
        /// The series with exemplars by metric name, so a selector naming its metric looks at those alone.
        var byName: [String: Set<Labels>] = [:]
        var dropped: [String: Int] = [:]
    }

    /// The most exemplars kept; 0 keeps none.
    package let capacity: Int
    private let state = Mutex(State())

    package init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// Exemplars refused since start, by reason.
    package var dropped: [String: Int] { state.withLock { $0.dropped } }

    /// How many exemplars the ring holds.
    package var count: Int { state.withLock { $0.entries.count } }

    /// Adds exemplars in order; `segment` is the WAL segment they came from.
    package func add(_ exemplars: [MetricExemplar], segment: Int) {
        guard capacity > 0, !exemplars.isEmpty else { return }
        state.withLock { state in
            for exemplar in exemplars { Self.add(exemplar, segment: segment, capacity: capacity, to: &state) }
        }
    }

    private static func add(_ exemplar: MetricExemplar, segment: Int, capacity: Int, to state: inout State) {
        if exemplar.labelSetLength > MetricExemplar.maxLabelSetLength {
            state.dropped[Reason.labelSetTooLong, default: 0] += 1
            return
        }
        if let chain = state.chains[exemplar.series] {
            let newest = state.entries[chain.newest].exemplar
            if newest == exemplar { return }
            if exemplar.timestampMs <= newest.timestampMs {
                state.dropped[Reason.outOfOrder, default: 0] += 1
                return
            }
        }
        let slot = state.nextSlot
        state.nextSlot = (slot + 1) % capacity
        let entry = Entry(exemplar: exemplar, segment: segment, next: -1)
        if slot == state.entries.count {
            state.entries.append(entry)
        } else {
            // The oldest exemplar of the ring is the oldest of its series: its chain starts after it.
            let evicted = state.entries[slot]
            if evicted.next < 0 {
                let series = evicted.exemplar.series
                state.chains[series] = nil
                state.byName[series.metricName]?.remove(series)
                if state.byName[series.metricName]?.isEmpty == true { state.byName[series.metricName] = nil }
            } else {
                state.chains[evicted.exemplar.series]?.oldest = evicted.next
            }
            state.entries[slot] = entry
        }
        if let chain = state.chains[exemplar.series] {
            state.entries[chain.newest].next = slot
            state.chains[exemplar.series]?.newest = slot
        } else {
            state.chains[exemplar.series] = Chain(oldest: slot, newest: slot)
            state.byName[exemplar.series.metricName, default: []].insert(exemplar.series)
        }
    }

    /// The exemplars in `[startMs, endMs]` of the series matching every matcher of at least one selector, sorted by
    /// series labels, each series' oldest first.
    package func select(_ selectors: [[LabelMatcher]], startMs: Int64, endMs: Int64) -> [SeriesExemplars] {
        guard !selectors.isEmpty, startMs <= endMs else { return [] }
        var result: [SeriesExemplars] = state.withLock { state in
            // The series a selector can match: those of its metric name when it names one, else all.
            var candidates = Set<Labels>()
            for selector in selectors {
                if let name = selector.first(where: { $0.name == Labels.metricName && $0.kind == .equal })?.value {
                    candidates.formUnion(state.byName[name] ?? [])
                } else {
                    candidates = Set(state.chains.keys)
                    break
                }
            }
            var result: [SeriesExemplars] = []
            for series in candidates where selectors.contains(where: { $0.allSatisfy { $0.matches(series) } }) {
                guard let chain = state.chains[series] else { continue }
                var found: [MetricExemplar] = []
                var slot = chain.oldest
                while slot >= 0 {
                    let entry = state.entries[slot]
                    if entry.exemplar.timestampMs > endMs { break }
                    if entry.exemplar.timestampMs >= startMs { found.append(entry.exemplar) }
                    slot = entry.next
                }
                if !found.isEmpty { result.append(SeriesExemplars(series: series, exemplars: found)) }
            }
            return result
        }
        result.sort { $0.series < $1.series }
        return result
    }

    /// The exemplars from WAL segments up to `segment` (and from the checkpoint file), oldest first: what a checkpoint
    /// keeps, since the segments after it are replayed on start.
    package func exemplars(throughSegment segment: Int) -> [MetricExemplar] {
        state.withLock { state in Self.oldestFirst(state).filter { $0.segment <= segment }.map(\.exemplar) }
    }

    /// The ring's entries from the oldest to the newest.
    private static func oldestFirst(_ state: State) -> [Entry] {
        let count = state.entries.count
        // Until the ring is full, slot 0 is the oldest; after, the slot the next exemplar overwrites.
        let start = state.nextSlot < count ? state.nextSlot : 0
        return (0..<count).map { state.entries[(start + $0) % count] }
    }

    /// Removes the exemplars `deletion` covers.
    ///
    /// Rebuilds the ring from the exemplars that stay, so their order and chains are as if the deleted ones had never
    /// been added.
    package func delete(_ deletion: SeriesDeletion) {
        state.withLock { state in
            guard state.chains.keys.contains(where: deletion.covers) else { return }
            let kept = Self.oldestFirst(state).filter { entry in
                let exemplar = entry.exemplar
                return !(deletion.covers(exemplar.series) && exemplar.timestampMs >= deletion.startMs && exemplar.timestampMs <= deletion.endMs)
            }
            let dropped = state.dropped
            state = State()
            state.dropped = dropped
            for entry in kept { Self.add(entry.exemplar, segment: entry.segment, capacity: capacity, to: &state) }
        }
    }
}
