import Logging
import SightlineTestSupport
import Testing

@testable import SightlineCore
@testable import SightlineTSDB

/// The exemplar ring alone and inside the engine: what it keeps, what it refuses, and that a checkpoint with WAL
/// replay gives the same exemplars back.
struct ExemplarRingTests {
    private static let tenant = Tenant(uncheckedID: "acme")

    private static func series(_ instance: Int) -> Labels {
        Labels(["__name__": "rpc_seconds_bucket", "instance": "host-\(instance)", "le": "0.5"])
    }

    private static func exemplar(_ instance: Int, at t: Int64, trace: String = "abc", value: Double = 0.25) -> MetricExemplar {
        MetricExemplar(series: series(instance), labels: Labels(["trace_id": trace]), timestampMs: t, value: value)
    }

    private static let everything: [[LabelMatcher]] = [[try! LabelMatcher("__name__", .regexMatch, ".+")]]

    @Test func keepsEachSeriesInOrderAndCountsWhatItRefuses() throws {
        let ring = ExemplarRing(capacity: 10)
        ring.add([Self.exemplar(1, at: 100), Self.exemplar(2, at: 50), Self.exemplar(1, at: 200, trace: "def")], segment: 0)
        // A repeat of a series' newest is skipped silently; older or same-time others are out of order.
        ring.add([Self.exemplar(1, at: 200, trace: "def"), Self.exemplar(1, at: 150), Self.exemplar(1, at: 200, trace: "xyz")], segment: 0)
        let long = MetricExemplar(
            series: Self.series(3), labels: Labels(["trace_id": String(repeating: "a", count: 121)]), timestampMs: 1, value: 1)
        let fits = MetricExemplar(
            series: Self.series(3), labels: Labels(["trace_id": String(repeating: "é", count: 120)]), timestampMs: 2, value: 1)
        ring.add([long, fits], segment: 0)
        #expect(ring.dropped == [ExemplarRing.Reason.outOfOrder: 2, ExemplarRing.Reason.labelSetTooLong: 1])
        #expect(ring.count == 4)
        let all = ring.select(Self.everything, startMs: .min, endMs: .max)
        #expect(all.map(\.series) == [Self.series(1), Self.series(2), Self.series(3)])
        #expect(all[0].exemplars == [Self.exemplar(1, at: 100), Self.exemplar(1, at: 200, trace: "def")])
        #expect(all[2].exemplars == [fits])
        // Time bounds are inclusive; a series matched by two selectors comes once.
        let two: [[LabelMatcher]] = [[try LabelMatcher("instance", .equal, "host-1")], [try LabelMatcher("le", .equal, "0.5")]]
        let bounded = ring.select(two, startMs: 50, endMs: 100)
        #expect(bounded.map(\.series) == [Self.series(1), Self.series(2)])
        #expect(bounded.map(\.exemplars.count) == [1, 1])
        #expect(ring.select([], startMs: .min, endMs: .max).isEmpty)
        #expect(ring.select(Self.everything, startMs: 10, endMs: 5).isEmpty)
    }

    @Test func aFullRingOverwritesTheOldest() {
        let ring = ExemplarRing(capacity: 3)
        ring.add([Self.exemplar(1, at: 1), Self.exemplar(2, at: 2), Self.exemplar(1, at: 3), Self.exemplar(2, at: 4)], segment: 0)
        var all = ring.select(Self.everything, startMs: .min, endMs: .max)
        #expect(all.map(\.exemplars).map { $0.map(\.timestampMs) } == [[3], [2, 4]])
        ring.add([Self.exemplar(3, at: 5), Self.exemplar(3, at: 6)], segment: 1)
        all = ring.select(Self.everything, startMs: .min, endMs: .max)
        #expect(all.map(\.exemplars).map { $0.map(\.timestampMs) } == [[4], [5, 6]])
        #expect(ring.exemplars(throughSegment: 0).map(\.timestampMs) == [4])
        #expect(ring.exemplars(throughSegment: 1).map(\.timestampMs) == [4, 5, 6])
        #expect(ExemplarRing(capacity: 0).select(Self.everything, startMs: .min, endMs: .max).isEmpty)
    }

    /// Random exemplars against a model: per series only newer ones are taken, and the newest `capacity` taken stay.
    @Test func matchesAModelOfTheNewestTaken() throws {
        var generator = SystemRandomNumberGenerator()
        for capacity in [1, 7, 64] {
            let ring = ExemplarRing(capacity: capacity)
            var taken: [MetricExemplar] = []
            for _ in 0..<500 {
                let candidate = Self.exemplar(
                    Int.random(in: 0..<5, using: &generator), at: Int64.random(in: 0..<200, using: &generator),
                    trace: ["a", "b"].randomElement(using: &generator)!)
                ring.add([candidate], segment: 0)
                // A series whose exemplars all left the ring starts afresh, as in Prometheus.
                if let last = taken.suffix(capacity).last(where: { $0.series == candidate.series }),
                    last == candidate || candidate.timestampMs <= last.timestampMs
                {
                    continue
                }
                taken.append(candidate)
            }
            let kept = taken.suffix(capacity)
            let expected = Dictionary(grouping: kept, by: \.series).map { SeriesExemplars(series: $0.key, exemplars: $0.value) }
                .sorted { $0.series < $1.series }
            #expect(ring.select(Self.everything, startMs: .min, endMs: .max) == expected)
            // A selector naming its metric looks only at that metric's series: the same answer.
            let named: [[LabelMatcher]] = [[try LabelMatcher("__name__", .equal, "rpc_seconds_bucket")]]
            #expect(ring.select(named, startMs: .min, endMs: .max) == expected)
            #expect(ring.select([[try LabelMatcher("__name__", .equal, "other")]], startMs: .min, endMs: .max).isEmpty)
            #expect(ring.exemplars(throughSegment: 0) == Array(kept))
        }
    }

    @Test func deletionRemovesOnlyWhatItCovers() throws {
        let ring = ExemplarRing(capacity: 4)
        ring.add((0..<6).map { Self.exemplar($0 % 2, at: Int64($0)) }, segment: 0)
        ring.delete(SeriesDeletion(matchers: [try LabelMatcher("instance", .equal, "host-1")], startMs: 0, endMs: 3))
        let all = ring.select(Self.everything, startMs: .min, endMs: .max)
        #expect(all.map(\.exemplars).map { $0.map(\.timestampMs) } == [[2, 4], [5]])
        // The ring goes on filling after the rebuild.
        ring.add([Self.exemplar(2, at: 9), Self.exemplar(2, at: 10)], segment: 1)
        #expect(ring.exemplars(throughSegment: 1).map(\.timestampMs) == [4, 5, 9, 10])
    }

    @Test func aCheckpointAndWALReplayGiveTheSameExemplarsBack() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-exemplars")
        defer { directory.remove() }
        let logger = Logger(label: "test")
        var options = TSDB.Options()
        options.maxExemplarsPerTenant = 100
        func batch(segment: Int) -> TenantBatch {
            let start = Int64(segment) * 1_000
            let samples = (0..<3).map { MetricSample(labels: Self.series($0), timestampMs: start, value: Double(segment)) }
            let exemplars = (0..<3).flatMap { s in (0..<10).map { i in Self.exemplar(s, at: start + Int64(i), trace: "t\(segment)-\(i)") } }
            return TenantBatch(tenant: Self.tenant, batch: .metrics(MetricBatch(samples: samples, exemplars: exemplars)))
        }
        let tsdb = try TSDB(directory: directory.path, options: options, logger: logger)
        for segment in 0..<4 { try tsdb.apply(batch(segment: segment), at: WALPosition(segment: segment, offset: 0)) }
        try tsdb.persist(throughSegment: 1)
        let before = try tsdb.exemplars(tenant: Self.tenant, selectors: Self.everything, startMs: .min, endMs: .max)
        #expect(before.reduce(0) { $0 + $1.exemplars.count } == 100)
        #expect(tsdb.exemplarState.stored == 100)

        // The checkpoint kept the exemplars of segments 0 and 1 still in the ring: seg 0's last ten and seg 1's 30.
        #expect(try TSDB(directory: directory.path, options: options, logger: logger).exemplarState.stored == 40)

        // Reopen and replay the segments after the checkpoint, as the server does.
        let reopened = try TSDB(directory: directory.path, options: options, logger: logger)
        for segment in 2..<4 { try reopened.apply(batch(segment: segment), at: WALPosition(segment: segment, offset: 0)) }
        #expect(try reopened.exemplars(tenant: Self.tenant, selectors: Self.everything, startMs: .min, endMs: .max) == before)
        #expect(reopened.exemplarState.dropped.isEmpty)

        // A deletion applies to exemplars too, and a checkpoint keeps it.
        let deletion = SeriesDeletion(matchers: [try LabelMatcher("instance", .equal, "host-0")])
        try reopened.apply(
            TenantBatch(tenant: Self.tenant, batch: .metrics(MetricBatch(deletions: [deletion]))), at: WALPosition(segment: 4, offset: 0))
        try reopened.persist(throughSegment: 4)
        let third = try TSDB(directory: directory.path, options: options, logger: logger)
        let after = try third.exemplars(tenant: Self.tenant, selectors: Self.everything, startMs: .min, endMs: .max)
        #expect(after == before.filter { $0.series != Self.series(0) })
        #expect(try third.exemplars(tenant: Tenant(uncheckedID: "other"), selectors: Self.everything, startMs: .min, endMs: .max).isEmpty)
    }
}
