import SightlineCore
import Synchronization

/// Maps the raw label bytes of a remote-write `TimeSeries` to the ``Labels`` decoded from them before, across
/// requests (VictoriaMetrics keeps such a raw-name cache too).
///
/// Every scrape of a target sends the same series with the same label bytes. On a hit the decoder skips parsing,
/// validating, interning and hashing the labels, and hands out the very `Labels` value it made the first time. The
/// metrics head keeps that value as its series' key, so finding the series again is a cached-hash lookup plus an
/// identity check instead of comparing every name and value.
///
/// Only label sets that decoded as valid are stored, so a hit needs no validation: the bytes are the same. Keys are
/// compared byte for byte; the seeded hash only picks the slot. When the stored bytes pass ``maxBytes`` the cache is
/// emptied and starts over, as VictoriaMetrics resets its caches, which bounds memory under series churn.
///
/// Two levels, so the lookups of a request take no lock: a frozen table (flat arrays, open addressing, never
/// changed once built) that a request takes once (``reader()``), and the series added since, under a lock. The
/// recent series are folded into a new frozen table when they are a good share of it, when none came for 10 ms (the
/// set of series is steady again: one copy, then every lookup is lock-free) or a second after the last fold, so a
/// steady set of series ends up all frozen and copying stays linear in what was added.
package final class RemoteWriteSeriesCache: Sendable {
    /// One series learnt since the last freeze: its hash, label bytes and labels.
    fileprivate struct Entry {
        var hash: UInt64
        var bytes: [UInt8]
        var labels: Labels
    }

    /// The frozen table and the series added since, in the order they came (requests repeat that order, so the
    /// frozen keys are read front to back).
    private struct State {
        var frozen = Frozen(adding: [], to: nil)
        var added: [Entry] = []
        /// Places in `added` by hash.
        var addedByHash: [UInt64: [Int]] = [:]
        /// Key bytes plus bookkeeping of both levels, counted against ``maxBytes``.
        var bytes = 0
        var frozenAt = ContinuousClock.now
        var lastAddedAt = ContinuousClock.now

        func findAdded(_ bytes: UnsafeRawBufferPointer, hash: UInt64) -> Labels? {
            guard let places = addedByHash[hash], let start = bytes.baseAddress else { return nil }
            for place in places where added[place].bytes.count == bytes.count {
                let equal = added[place].bytes.withUnsafeBytes { stored in
                    stored.baseAddress.map { memcmp($0, start, bytes.count) == 0 } ?? false
                }
                if equal { return added[place].labels }
            }
            return nil
        }
    }

    /// Entries per hash at most among the added ones; more are not stored.
    private static let maxEntriesPerHash = 4
    /// Per-entry bookkeeping counted against ``maxBytes`` besides the key bytes.
    private static let entryOverhead = 96

    /// The most key bytes (plus bookkeeping) kept before the cache is emptied.
    package let maxBytes: Int
    private let state = Mutex(State())
    private let seed = RemoteWriteInternTable<Int>.hashSeed

    /// The cache the remote-write endpoint shares between its requests.
    package static let shared = RemoteWriteSeriesCache()

    /// An empty cache that keeps up to `maxBytes` (default 64 MiB: ~200,000 series of 300 label bytes).
    package init(maxBytes: Int = 64 << 20) {
        self.maxBytes = maxBytes
    }

    /// The number of cached series.
    package var count: Int { state.withLock { $0.frozen.count + $0.added.count } }

    /// The number of cached series in the frozen table, which requests read without a lock.
    package var frozenCount: Int { state.withLock { $0.frozen.count } }

    /// What one request looks series up in: the frozen table as it is now, then the series added since.
    struct Reader {
        fileprivate let cache: RemoteWriteSeriesCache
        fileprivate let frozen: Frozen

        /// The labels stored for exactly these bytes, or nil.
        func labels(for bytes: UnsafeRawBufferPointer) -> Labels? {
            guard let start = bytes.baseAddress, bytes.count > 0 else { return nil }
            let hash = RemoteWriteInternTable<Int>.hash(start, bytes.count, seed: cache.seed)
            if let labels = frozen.find(bytes, hash: hash) { return labels }
            return cache.state.withLock { $0.findAdded(bytes, hash: hash) }
        }
    }

    /// A reader for one request; freezes the added series first when they are a quarter of the frozen ones, none
    /// was added for 10 ms, or the last freeze is over a second ago. (Without the quiet rule, a scrape's last quarter
    /// of new series could wait out the second in the locked level: a fifth of a 10,000-series benchmark's lookups.)
    func reader() -> Reader {
        let frozen = state.withLock { state in
            let now = ContinuousClock.now
            let due = !state.added.isEmpty
                && (state.added.count >= max(64, state.frozen.count / 4) || state.lastAddedAt.duration(to: now) > .milliseconds(10)
                    || state.frozenAt.duration(to: now) > .seconds(1))
            if due {
                state.frozen = Frozen(adding: state.added, to: state.frozen)
                state.added = []
                state.addedByHash = [:]
                state.frozenAt = .now
            }
            return state.frozen
        }
        return Reader(cache: self, frozen: frozen)
    }

    /// Remembers `labels` as what `bytes` decode to, unless the bytes are there already.
    func insert(_ labels: Labels, for bytes: UnsafeRawBufferPointer) {
        guard let start = bytes.baseAddress, bytes.count > 0 else { return }
        let hash = RemoteWriteInternTable<Int>.hash(start, bytes.count, seed: seed)
        let entry = Entry(hash: hash, bytes: Array(bytes), labels: labels)
        let cost = bytes.count + Self.entryOverhead
        state.withLock { state in
            if state.bytes + cost > maxBytes { state = State() }
            // Series the cached path does not take (exemplars) come back here on every request: keep one entry.
            guard state.frozen.find(bytes, hash: hash) == nil, state.addedByHash[hash, default: []].count < Self.maxEntriesPerHash,
                state.findAdded(bytes, hash: hash) == nil
            else { return }
            state.addedByHash[hash, default: []].append(state.added.count)
            state.added.append(entry)
            state.bytes += cost
            state.lastAddedAt = .now
        }
    }

    /// Forgets every series.
    package func removeAll() {
        state.withLock { $0 = State() }
    }

    /// An immutable open-addressing table. The keys lie end to end in one buffer in the order they were added;
    /// each slot holds the hash's upper half and the key's index + 1 (0: empty), probed linearly from the hash, so
    /// a lookup touches a key only when its hash matches. At most half full, so probes are short and always end.
    fileprivate final class Frozen: Sendable {
        private let slots: [UInt64]
        private let keys: [UInt8]
        /// Where key i starts in `keys`; one more element than there are keys.
        private let starts: [Int]
        private let labels: [Labels]
        /// The keys' hashes, for building the next table.
        private let hashes: [UInt64]

        var count: Int { labels.count }

        /// The keys of `previous` followed by `entries`.
        init(adding entries: [Entry], to previous: Frozen?) {
            var keys = previous?.keys ?? []
            var starts = previous?.starts ?? [0]
            var labels = previous?.labels ?? []
            var hashes = previous?.hashes ?? []
            keys.reserveCapacity(keys.count + entries.reduce(0) { $0 + $1.bytes.count })
            for entry in entries {
                keys.append(contentsOf: entry.bytes)
                starts.append(keys.count)
                labels.append(entry.labels)
                hashes.append(entry.hash)
            }
            var capacity = 16
            while capacity < 2 * labels.count { capacity *= 2 }
            var slots = [UInt64](repeating: 0, count: capacity)
            let mask = capacity - 1
            for (index, hash) in hashes.enumerated() {
                var slot = Int(truncatingIfNeeded: hash) & mask
                while slots[slot] != 0 { slot = (slot + 1) & mask }
                slots[slot] = (hash & 0xFFFF_FFFF_0000_0000) | UInt64(index + 1)
            }
            self.slots = slots
            self.keys = keys
            self.starts = starts
            self.labels = labels
            self.hashes = hashes
        }

        func find(_ bytes: UnsafeRawBufferPointer, hash: UInt64) -> Labels? {
            guard !labels.isEmpty, let start = bytes.baseAddress else { return nil }
            let tag = hash & 0xFFFF_FFFF_0000_0000
            let index: Int? = slots.withUnsafeBufferPointer { slots in
                keys.withUnsafeBytes { keys in
                    starts.withUnsafeBufferPointer { starts in
                        let mask = slots.count - 1
                        var slot = Int(truncatingIfNeeded: hash) & mask
                        while true {
                            let stored = slots[slot]
                            if stored == 0 { return nil }
                            if stored & 0xFFFF_FFFF_0000_0000 == tag {
                                let index = Int(stored & 0xFFFF_FFFF) - 1
                                let keyStart = starts[index]
                                if starts[index + 1] - keyStart == bytes.count,
                                    let base = keys.baseAddress, memcmp(base + keyStart, start, bytes.count) == 0
                                {
                                    return index
                                }
                            }
                            slot = (slot + 1) & mask
                        }
                    }
                }
            }
            return index.map { labels[$0] }
        }
    }
}

/// `memcmp` without importing the C library: 8 bytes at a time, then the tail.
@inline(__always)
private func memcmp(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Int {
    var i = 0
    while i + 8 <= count {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return 1 }
        i += 8
    }
    while i < count {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return 1 }
        i += 1
    }
    return 0
}
