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
/// compared byte for byte; the seeded hash only picks the bucket, and a bucket holds a few entries at most, so
/// colliding input cannot make lookups slow. When the stored bytes pass ``maxBytes`` the cache is emptied and starts
/// over, as VictoriaMetrics resets its caches, which bounds memory under series churn.
package final class RemoteWriteSeriesCache: Sendable {
    /// One cached series: its label bytes and labels.
    private struct Entry {
        var bytes: [UInt8]
        var labels: Labels
    }

    /// The buckets and their total key bytes.
    private struct Table {
        var buckets: [UInt64: [Entry]] = [:]
        var bytes = 0
    }

    /// Entries per bucket at most; more are not stored.
    private static let maxBucketEntries = 4
    /// Per-entry bookkeeping counted against ``maxBytes`` besides the key bytes.
    private static let entryOverhead = 96

    /// The most key bytes (plus bookkeeping) kept before the cache is emptied.
    package let maxBytes: Int
    private let table = Mutex(Table())
    private let seed = RemoteWriteInternTable<Int>.hashSeed

    /// The cache the remote-write endpoint shares between its requests.
    package static let shared = RemoteWriteSeriesCache()

    /// An empty cache that keeps up to `maxBytes` (default 64 MiB: ~200,000 series of 300 label bytes).
    package init(maxBytes: Int = 64 << 20) {
        self.maxBytes = maxBytes
    }

    /// The number of cached series.
    package var count: Int { table.withLock { $0.buckets.values.reduce(0) { $0 + $1.count } } }

    /// The labels stored for exactly these bytes, or nil.
    func labels(for bytes: UnsafeRawBufferPointer) -> Labels? {
        guard let start = bytes.baseAddress, bytes.count > 0 else { return nil }
        let hash = RemoteWriteInternTable<Int>.hash(start, bytes.count, seed: seed)
        return table.withLock { Self.find(bytes, in: $0.buckets[hash]) }
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
        table.withLock { table in
            if table.bytes + cost > maxBytes { table = Table() }
            // Series the cached path does not take (exemplars) come back here on every request: keep one entry.
            guard table.buckets[hash, default: []].count < Self.maxBucketEntries, Self.find(bytes, in: table.buckets[hash]) == nil else { return }
            table.buckets[hash, default: []].append(entry)
            table.bytes += cost
        }
    }

    /// Forgets every series.
    package func removeAll() {
        table.withLock { $0 = Table() }
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
