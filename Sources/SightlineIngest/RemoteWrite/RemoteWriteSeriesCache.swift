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
/// recent series are folded into a new frozen table when they are a good share of it or a second old, so a steady
/// set of series ends up all frozen and copying stays linear in what was added.
package final class RemoteWriteSeriesCache: Sendable {
    /// One cached series: its label bytes and labels.
    fileprivate struct Entry {
        var bytes: [UInt8]
        var labels: Labels
    }

    /// Series added since the frozen table was built, by hash.
    private struct Recent {
        var frozen = Frozen(entries: [], hashes: [])
        var buckets: [UInt64: [Entry]] = [:]
        var count = 0
        /// Key bytes plus bookkeeping of both levels, counted against ``maxBytes``.
        var bytes = 0
        var frozenAt = ContinuousClock.now
    }

    /// Entries per recent bucket at most; more are not stored.
    private static let maxBucketEntries = 4
    /// Per-entry bookkeeping counted against ``maxBytes`` besides the key bytes.
    private static let entryOverhead = 96

    /// The most key bytes (plus bookkeeping) kept before the cache is emptied.
    package let maxBytes: Int
    private let state = Mutex(Recent())
    private let seed = RemoteWriteInternTable<Int>.hashSeed

    /// The cache the remote-write endpoint shares between its requests.
    package static let shared = RemoteWriteSeriesCache()

    /// An empty cache that keeps up to `maxBytes` (default 64 MiB: ~200,000 series of 300 label bytes).
    package init(maxBytes: Int = 64 << 20) {
        self.maxBytes = maxBytes
    }

    /// The number of cached series.
    package var count: Int { state.withLock { $0.frozen.count + $0.count } }

    /// What one request looks series up in: the frozen table as it is now, then the recent series.
    struct Reader {
        fileprivate let cache: RemoteWriteSeriesCache
        fileprivate let frozen: Frozen

        /// The labels stored for exactly these bytes, or nil.
        func labels(for bytes: UnsafeRawBufferPointer) -> Labels? {
            guard let start = bytes.baseAddress, bytes.count > 0 else { return nil }
            let hash = RemoteWriteInternTable<Int>.hash(start, bytes.count, seed: cache.seed)
            if let labels = frozen.find(bytes, hash: hash) { return labels }
            return cache.state.withLock { RemoteWriteSeriesCache.find(bytes, in: $0.buckets[hash]) }
        }
    }

    /// A reader for one request; folds the recent series into a new frozen table first when that is due.
    func reader() -> Reader {
        let frozen = state.withLock { state in
            let due = state.count > max(64, state.frozen.count / 4)
                || (state.count > 0 && state.frozenAt.duration(to: .now) > .seconds(1))
            if due { Self.refreeze(&state) }
            return state.frozen
        }
        return Reader(cache: self, frozen: frozen)
    }

    /// A frozen table of the frozen and the recent entries; the recent ones are emptied.
    private static func refreeze(_ state: inout Recent) {
        var entries = state.frozen.entries
        var hashes = state.frozen.hashes
        entries.reserveCapacity(entries.count + state.count)
        hashes.reserveCapacity(entries.count + state.count)
        for (hash, bucket) in state.buckets {
            for entry in bucket {
                entries.append(entry)
                hashes.append(hash)
            }
        }
        state.frozen = Frozen(entries: entries, hashes: hashes)
        state.buckets = [:]
        state.count = 0
        state.frozenAt = .now
    }

    /// The labels of the entry of `bucket` whose key is `bytes`.
    private static func find(_ bytes: UnsafeRawBufferPointer, in bucket: [Entry]?) -> Labels? {
        guard let bucket, let start = bytes.baseAddress else { return nil }
        for entry in bucket where entry.bytes.count == bytes.count {
            let equal = entry.bytes.withUnsafeBytes { stored in
                guard let other = stored.baseAddress else { return false }
                return memcmp(other, start, bytes.count) == 0
            }
            if equal { return entry.labels }
        }
        return nil
    }

    /// Remembers `labels` as what `bytes` decode to, unless the bytes are there already.
    func insert(_ labels: Labels, for bytes: UnsafeRawBufferPointer) {
        guard let start = bytes.baseAddress, bytes.count > 0 else { return }
        let hash = RemoteWriteInternTable<Int>.hash(start, bytes.count, seed: seed)
        let entry = Entry(bytes: Array(bytes), labels: labels)
        let cost = bytes.count + Self.entryOverhead
        state.withLock { state in
            if state.bytes + cost > maxBytes { state = Recent() }
            // Series the cached path does not take (exemplars) come back here on every request: keep one entry.
            guard state.frozen.find(bytes, hash: hash) == nil, state.buckets[hash, default: []].count < Self.maxBucketEntries,
                Self.find(bytes, in: state.buckets[hash]) == nil
            else { return }
            state.buckets[hash, default: []].append(entry)
            state.count += 1
            state.bytes += cost
        }
    }

    /// Forgets every series.
    package func removeAll() {
        state.withLock { $0 = Recent() }
    }

    /// An immutable open-addressing table: each slot holds an entry index + 1 (0: empty), probed linearly from the
    /// hash; the table is at most half full, so probes are short and always end.
    fileprivate final class Frozen: Sendable {
        let entries: [Entry]
        let hashes: [UInt64]
        let slots: [Int32]

        var count: Int { entries.count }

        init(entries: [Entry], hashes: [UInt64]) {
            self.entries = entries
            self.hashes = hashes
            var capacity = 16
            while capacity < 2 * entries.count { capacity *= 2 }
            var slots = [Int32](repeating: 0, count: capacity)
            let mask = capacity - 1
            for (index, hash) in hashes.enumerated() {
                var slot = Int(truncatingIfNeeded: hash) & mask
                while slots[slot] != 0 { slot = (slot + 1) & mask }
                slots[slot] = Int32(index + 1)
            }
            self.slots = slots
        }

        func find(_ bytes: UnsafeRawBufferPointer, hash: UInt64) -> Labels? {
            guard !entries.isEmpty, let start = bytes.baseAddress else { return nil }
            let mask = slots.count - 1
            var slot = Int(truncatingIfNeeded: hash) & mask
            while true {
                let stored = Int(slots[slot])
                if stored == 0 { return nil }
                let index = stored - 1
                if hashes[index] == hash {
                    let equal = entries[index].bytes.withUnsafeBytes { key in
                        key.count == bytes.count && key.baseAddress.map { memcmp($0, start, bytes.count) == 0 } ?? false
                    }
                    if equal { return entries[index].labels }
                }
                slot = (slot + 1) & mask
            }
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
