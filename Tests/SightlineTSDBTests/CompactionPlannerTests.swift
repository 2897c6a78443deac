import Testing

@testable import SightlineTSDB

@Suite struct CompactionPlannerTests {
    static let h = CompactionPlanner.hourMs
    static let m: Int64 = 60_000

    /// A block meta for planning: only id, times and level matter.
    static func meta(_ id: String, _ minTime: Int64, _ maxTime: Int64, level: Int = 0) -> BlockMeta {
        BlockMeta(id: id, minTime: minTime, maxTime: maxTime, level: level, sources: [], stats: .init(series: 1, samples: 1, chunks: 1, bytes: 1))
    }

    /// One row of the planning table.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var ranges: [Int64]
        var metas: [BlockMeta]
        var now: Int64
        var expected: [[String]]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "no blocks", ranges: [2 * h], metas: [], now: 100 * h, expected: []),
        Case(name: "one block", ranges: [2 * h], metas: [meta("a", 0, 10)], now: 100 * h, expected: []),
        Case(
            name: "two tiny blocks in one complete 2h bucket", ranges: [2 * h],
            metas: [meta("b", 5 * m, 6 * m), meta("a", 0, 10_000)], now: 2 * h, expected: [["a", "b"]]),
        Case(
            name: "tiny blocks in different complete 2h buckets stay apart", ranges: [2 * h],
            metas: [meta("a", 0, 10_000), meta("b", 2 * h, 2 * h + 10_000)], now: 10 * h, expected: []),
        Case(
            name: "two complete 2h buckets, two groups", ranges: [2 * h],
            metas: [meta("a", 0, 1), meta("b", 5, 6), meta("c", 2 * h, 2 * h + 1), meta("d", 2 * h + 5, 2 * h + 6)],
            now: 10 * h, expected: [["a", "b"], ["c", "d"]]),
        Case(
            name: "largest complete bucket wins: straight into 6h", ranges: [2 * h, 6 * h],
            metas: [meta("a", 0, 1), meta("b", 5, 6), meta("c", 2 * h, 2 * h + 1), meta("d", 4 * h, 4 * h + 1)],
            now: 6 * h, expected: [["a", "b", "c", "d"]]),
        Case(
            name: "6h bucket still open: only the complete 2h buckets merge", ranges: [2 * h, 6 * h],
            metas: [meta("a", 0, 1), meta("b", 5, 6), meta("c", 2 * h, 2 * h + 1), meta("d", 4 * h, 4 * h + 1)],
            now: 5 * h, expected: [["a", "b"]]),
        Case(
            name: "open bucket waits for the fanout", ranges: [2 * h],
            metas: [meta("a", 0, 1), meta("b", 5, 6), meta("c", 10, 11)], now: 1 * h, expected: []),
        Case(
            name: "open bucket merges four blocks of one level", ranges: [2 * h],
            metas: [meta("a", 0, 1), meta("b", 5, 6), meta("c", 10, 11), meta("d", 20, 21), meta("x", 30, 31, level: 1)],
            now: 1 * h, expected: [["a", "b", "c", "d"]]),
        Case(
            name: "open bucket does not mix levels", ranges: [2 * h],
            metas: [meta("a", 0, 1), meta("b", 5, 6), meta("c", 10, 11, level: 1), meta("d", 20, 21, level: 2)],
            now: 1 * h, expected: []),
        Case(
            name: "overlapping blocks always merge", ranges: [2 * h],
            metas: [meta("a", 0, 10 * h), meta("b", 5 * h, 6 * h), meta("c", 20 * h, 21 * h)], now: 1 * h, expected: [["a", "b"]]),
        Case(
            name: "overlap is transitive", ranges: [2 * h],
            metas: [meta("a", 0, 100), meta("b", 50, 200), meta("c", 150, 300), meta("d", 301, 400)], now: 0,
            expected: [["a", "b", "c"]]),
        Case(
            name: "touching bounds overlap (inclusive times)", ranges: [2 * h],
            metas: [meta("a", 0, 100), meta("b", 100, 200)], now: 0, expected: [["a", "b"]]),
        Case(
            name: "a block straddling a 2h boundary merges in its 6h bucket", ranges: [2 * h, 6 * h],
            metas: [meta("a", 2 * h - m, 2 * h + m), meta("b", 3 * h, 3 * h + 10 * m)], now: 6 * h, expected: [["a", "b"]]),
        Case(
            name: "a block straddling every range is left alone", ranges: [2 * h],
            metas: [meta("a", 2 * h - m, 2 * h + m), meta("b", 3 * h, 3 * h + 10 * m)], now: 100 * h, expected: []),
        Case(
            name: "a compacted block alone in its bucket is left alone", ranges: [2 * h, 6 * h],
            metas: [meta("a", 0, 6 * h - 1, level: 2), meta("b", 6 * h, 12 * h - 1, level: 2)], now: 100 * h, expected: []),
        Case(
            name: "a late tiny block joins the compacted block of its bucket", ranges: [2 * h, 6 * h],
            metas: [meta("a", 0, 5 * h, level: 2), meta("late", 5 * h + m, 5 * h + 2 * m)], now: 100 * h, expected: [["a", "late"]]),
        Case(
            name: "negative times bucket by floor", ranges: [2 * h],
            metas: [meta("a", -10, -5), meta("b", -3, -1), meta("c", 0, 1)], now: 10 * h, expected: [["a", "b"]]),
    ]

    @Test(arguments: cases)
    func plan(_ row: Case) {
        let planner = CompactionPlanner(ranges: row.ranges)
        #expect(planner.plan(row.metas, now: row.now) == row.expected)
    }

    @Test func manyTinyFlushesOfOneCompleteBucketBecomeOneGroup() {
        let metas = (0..<100).map { i in Self.meta("b" + String(1000 + i), Int64(i) * 10_000, Int64(i) * 10_000 + 9_000) }
        let groups = CompactionPlanner().plan(metas.shuffled(), now: 1_000 * Self.h)
        #expect(groups == [metas.map(\.id)])
    }

    @Test func groupsAreDisjoint() {
        let metas = (0..<40).map { i in Self.meta("b\(i)", Int64(i) * 20 * Self.m, Int64(i) * 20 * Self.m + Int64(i % 3) * 30 * Self.m) }
        let groups = CompactionPlanner(ranges: [2 * Self.h, 6 * Self.h]).plan(metas, now: 10 * Self.h)
        let ids = groups.flatMap { $0 }
        #expect(Set(ids).count == ids.count)
        #expect(groups.allSatisfy { $0.count >= 2 })
    }

    @Test func defaultRanges() {
        let h = Self.h
        #expect(CompactionPlanner.defaultRanges(retentionMs: nil) == [2 * h, 6 * h, 24 * h, 72 * h, 216 * h, 648 * h])
        #expect(CompactionPlanner.defaultRanges(retentionMs: 15 * 24 * h) == [2 * h, 6 * h, 24 * h])
        #expect(CompactionPlanner.defaultRanges(retentionMs: 30 * 24 * h) == [2 * h, 6 * h, 24 * h, 72 * h])
        #expect(CompactionPlanner.defaultRanges(retentionMs: h) == [2 * h])
        #expect(CompactionPlanner().ranges == CompactionPlanner.defaultRanges(retentionMs: nil))
        #expect(CompactionPlanner(ranges: [6 * h, -1, 2 * h, 2 * h]).ranges == [2 * h, 6 * h])
    }

    @Test func bucketStart() {
        #expect(CompactionPlanner.bucketStart(0, 10) == 0)
        #expect(CompactionPlanner.bucketStart(9, 10) == 0)
        #expect(CompactionPlanner.bucketStart(10, 10) == 10)
        #expect(CompactionPlanner.bucketStart(-1, 10) == -10)
        #expect(CompactionPlanner.bucketStart(-10, 10) == -10)
        #expect(CompactionPlanner.bucketStart(-11, 10) == -20)
    }
}
