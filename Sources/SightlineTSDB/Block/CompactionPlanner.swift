/// Decides which blocks to merge. Pure: works on ``BlockMeta`` values only, never on disk.
///
/// Time is cut into aligned buckets for each range (`[k·r, (k+1)·r)`); a block *fits* a range when its
/// `minTime` and `maxTime` fall into the same bucket. One plan is a list of disjoint groups, found in this order:
///
/// 1. **Overlapping blocks** (time ranges intersect, transitively) always form a group.
/// 2. **Complete buckets**, largest range first: a bucket that ended at or before `now` holding ≥ 2 blocks that fit it
///    is merged into one block. Old data thus goes straight to the largest bucket it can fill.
/// 3. **The open buckets** of the smallest range (ending after `now`, still receiving head flushes): blocks of the same
///    level are merged once there are ``openBucketFanout`` of them. Merging every time a second tiny flush arrives
///    would rewrite the growing block on each flush (quadratic writes); tiering by level keeps the number of blocks
///    per open bucket logarithmic and rewrites each sample O(log n) times. Once the bucket is complete, step 2 merges
///    whatever is left into one block.
///
/// Blocks that fit no range (they straddle a boundary of the largest range) are only merged when they overlap.
package struct CompactionPlanner: Sendable, Hashable {
    /// One hour in ms.
    package static let hourMs: Int64 = 3_600_000

    /// Bucket sizes in ms, ascending.
    package var ranges: [Int64]
    /// How many blocks of one level an open bucket collects before they are merged (≥ 2).
    package var openBucketFanout: Int

    /// Creates a planner; `ranges` are sorted and non-positive ones dropped.
    package init(ranges: [Int64] = CompactionPlanner.defaultRanges(retentionMs: nil), openBucketFanout: Int = 4) {
        let valid = Array(Set(ranges.filter { $0 > 0 })).sorted()
        self.ranges = valid.isEmpty ? [2 * Self.hourMs] : valid
        self.openBucketFanout = max(2, openBucketFanout)
    }

    /// 2 h, 6 h, 24 h, 72 h, 9 d, 27 d, … (×3 from 24 h on), up to 10 % of the retention (when given) and at most
    /// 31 days; always at least 2 h.
    package static func defaultRanges(retentionMs: Int64?) -> [Int64] {
        var limit = 31 * 24 * hourMs
        if let retentionMs, retentionMs > 0 { limit = min(limit, retentionMs / 10) }
        var ranges: [Int64] = [2 * hourMs]
        var next = 6 * hourMs
        while next <= limit {
            ranges.append(next)
            next = next == 6 * hourMs ? 24 * hourMs : next * 3
        }
        return ranges
    }

    /// The start of the bucket of size `range` holding time `t` (floor division, also for negative times).
    package static func bucketStart(_ t: Int64, _ range: Int64) -> Int64 {
        let q = t / range
        return (t % range != 0 && t < 0 ? q - 1 : q) * range
    }

    /// Groups of block ids to merge, each with ≥ 2 ids, disjoint, ids within a group in minTime order.
    package func plan(_ metas: [BlockMeta], now: Int64) -> [[String]] {
        let sorted = metas.sorted { ($0.minTime, $0.maxTime, $0.id) < ($1.minTime, $1.maxTime, $1.id) }
        var used = Set<String>()
        var groups: [[String]] = []
        func take(_ group: [BlockMeta]) {
            groups.append(group.map(\.id))
            for meta in group { used.insert(meta.id) }
        }

        // 1. Overlaps.
        var cluster: [BlockMeta] = []
        var clusterMax = Int64.min
        for meta in sorted {
            if !cluster.isEmpty, meta.minTime > clusterMax {
                if cluster.count >= 2 { take(cluster) }
                cluster = []
            }
            if cluster.isEmpty { clusterMax = meta.maxTime } else { clusterMax = max(clusterMax, meta.maxTime) }
            cluster.append(meta)
        }
        if cluster.count >= 2 { take(cluster) }

        // 2. Complete buckets, largest range first.
        for range in ranges.reversed() {
            for bucket in buckets(sorted.filter { !used.contains($0.id) }, range) where bucket.start &+ range <= now && bucket.metas.count >= 2 {
                take(bucket.metas)
            }
        }

        // 3. Open buckets of the smallest range: tiered by level.
        if let range = ranges.first {
            for bucket in buckets(sorted.filter { !used.contains($0.id) }, range) where bucket.start &+ range > now {
                let byLevel = Dictionary(grouping: bucket.metas, by: \.level)
                for level in byLevel.keys.sorted() {
                    if let same = byLevel[level], same.count >= openBucketFanout { take(same) }
                }
            }
        }
        return groups
    }

    /// The blocks that fit `range`, grouped by bucket, in bucket order (blocks keep the order of `metas`).
    private func buckets(_ metas: [BlockMeta], _ range: Int64) -> [(start: Int64, metas: [BlockMeta])] {
        var byStart: [Int64: [BlockMeta]] = [:]
        for meta in metas {
            let start = Self.bucketStart(meta.minTime, range)
            if Self.bucketStart(meta.maxTime, range) == start { byStart[start, default: []].append(meta) }
        }
        return byStart.keys.sorted().map { ($0, byStart[$0] ?? []) }
    }
}
