import SightlineCore
import Testing

@testable import SightlineTSDB

private typealias F = HeadFixtures

struct HeadLifecycleTests {
    private let a = F.labels("a_total", ["job": "x"])
    private let b = F.labels("b_total", ["job": "x"])

    @Test func segmentCutDrainsOnlyOlderSegments() throws {
        let head = Head()
        head.apply(F.batch(a, [(1000, 1), (2000, 2)]), segment: 1)
        head.apply(MetricBatch(samples: [
            MetricSample(labels: a, timestampMs: 3000, value: 3),
            MetricSample(labels: b, timestampMs: 3000, value: 30),
        ]), segment: 1)
        head.apply(F.batch(a, [(4000, 4), (5000, 5), (3500, 3.5)]), segment: 2)

        let drained = head.drain(throughSegment: 1)
        #expect(drained.map(\.labels) == [a, b])
        let aSamples = try drained[0].chunks.flatMap { try ChunkCodec.decodeAll($0).timestamps }
        #expect(aSamples == [1000, 2000, 3000])
        let bSamples = try drained[1].chunks.flatMap { try ChunkCodec.decodeAll($0).timestamps }
        #expect(bSamples == [3000])

        // The segment-2 samples (in order and out of order) stay queryable.
        let rest = try head.select(matchers: [try F.matcher("job", .equal, "x")], minTime: .min, maxTime: .max)
        #expect(rest.map(\.labels) == [a])
        #expect(rest.first?.timestampsMs == [3500, 4000, 5000])
        // Series stay indexed and remember their newest time.
        #expect(head.seriesCount == 2)
        head.apply(F.batch(a, [(5000, 6)]), segment: 3)
        #expect(head.discarded == ["duplicate_sample": 1])

        #expect(head.drain(throughSegment: 1).isEmpty)
        let second = head.drain(throughSegment: 2)
        #expect(second.count == 1)
        #expect(second.first?.chunks.map(\.sampleCount) == [1, 2])  // OOO chunk (3500) sorts first
        #expect(try head.select(matchers: [], minTime: .min, maxTime: .max).isEmpty)
    }

    @Test func chunksAreCutAt120SamplesAndEveryChunkHasOneSegment() throws {
        let head = Head()
        head.apply(F.batch(a, (0..<250).map { (Int64($0) * 15_000, Double($0)) }), segment: 5)
        head.apply(F.batch(a, [(250 * 15_000, 250)]), segment: 6)
        #expect(head.headStats().chunkCount == 4)
        let drained = head.drain(throughSegment: 5)
        #expect(drained.first?.chunks.map(\.sampleCount) == [120, 120, 10])
        #expect(head.drain(throughSegment: 6).first?.chunks.map(\.sampleCount) == [1])
    }

    @Test func outOfOrderSamplesDrainWithTheirSegment() throws {
        let head = Head()
        head.apply(F.batch(a, [(10_000, 1)]), segment: 1)
        head.apply(F.batch(a, [(9000, 0.9)]), segment: 1)
        head.apply(F.batch(a, [(8000, 0.8), (11_000, 1.1)]), segment: 2)
        let drained = head.drain(throughSegment: 1)
        let decoded = try drained.flatMap(\.chunks).map { try ChunkCodec.decodeAll($0) }
        #expect(decoded.flatMap(\.timestamps).sorted() == [9000, 10_000])
        #expect(try head.select(matchers: [], minTime: .min, maxTime: .max).first?.timestampsMs == [8000, 11_000])
    }

    @Test func removeInactiveSeriesDropsOnlyEmptyOldSeries() throws {
        let head = Head()
        head.apply(F.batch(a, [(1000, 1)]), segment: 1)
        head.apply(F.batch(b, [(9000, 1)]), segment: 2)
        _ = head.drain(throughSegment: 1)
        #expect(head.removeInactiveSeries(olderThanMs: 500) == 0)  // a is newer than the bound
        #expect(head.removeInactiveSeries(olderThanMs: 100_000) == 1)  // b still has data in the head
        #expect(head.seriesCount == 1)
        #expect(head.labelValues(name: "__name__", matchers: [], minTime: .min, maxTime: .max) == ["b_total"])
        #expect(head.headStats().numLabelPairs == 2)
        // A removed series comes back as new.
        head.apply(F.batch(a, [(10, 1)]), segment: 3)
        #expect(head.discarded.isEmpty)
        #expect(head.seriesCount == 2)
    }

    @Test func admissionHandsOutSeriesIDsThatEncodeAndApplyLikeLabels() throws {
        let head = Head()
        head.apply(F.batch(a, [(1000, 1)]), segment: 1)
        let batch = MetricBatch(samples: [
            MetricSample(labels: a, timestampMs: 2000, value: 2), MetricSample(labels: b, timestampMs: 2000, value: 5),
            MetricSample(labels: a, timestampMs: 3000, value: 3),
        ])
        guard case .metrics(let admitted) = head.admit(batch).batch else {
            Issue.record("not metrics")
            return
        }
        // The stored series has an id (twice, the same one), the new one none.
        let refs = try #require(admitted.resolvedRefs)
        #expect(refs.ids[0] != 0 && refs.ids[0] == refs.ids[2] && refs.ids[1] == 0)
        // The WAL writer's record names the series and reads back as the same samples.
        let tenant = Tenant(uncheckedID: "t")
        var writer = ByteWriter()
        TenantBatch(tenant: tenant, batch: .metrics(admitted)).encode(into: &writer, scope: WALSeriesScope())
        var table: WALSeriesTable? = WALSeriesTable()
        #expect(try writer.bytes.withUnsafeBytes { try TenantBatch(decoding: $0, seriesTable: &table) }.batch == .metrics(admitted))
        head.apply(admitted, segment: 2)
        let got = try head.select(matchers: [try F.matcher("job", .equal, "x")], minTime: .min, maxTime: .max)
        #expect(got.map(\.labels) == [a, b])
        #expect(got.map(\.timestampsMs) == [[1000, 2000, 3000], [2000]])
        // A batch whose samples changed after admission no longer uses its ids.
        var changed = admitted
        changed.samples.removeLast()
        #expect(changed.resolvedRefs == nil)
        var filtered = admitted
        filtered.removeSamples { $0.labels == b }
        #expect(filtered.samples.map(\.timestampMs) == [2000, 3000] && filtered.resolvedRefs?.ids == [refs.ids[0], refs.ids[2]])
    }

    @Test func anIDOfASeriesDroppedBeforeApplyFindsTheSeriesAgain() throws {
        let head = Head()
        head.apply(F.batch(a, [(1000, 1)]), segment: 1)
        _ = head.drain(throughSegment: 1)
        guard case .metrics(let admitted) = head.admit(F.batch(a, [(2000, 2)])).batch else {
            Issue.record("not metrics")
            return
        }
        #expect(admitted.resolvedRefs?.ids.first != 0)
        // Retention drops the empty series between admission and apply: the sample lands in a new series.
        #expect(head.removeInactiveSeries(olderThanMs: 100_000) == 1)
        head.apply(admitted, segment: 2)
        #expect(head.seriesCount == 1)
        let got = try head.select(matchers: [try F.matcher("job", .equal, "x")], minTime: .min, maxTime: .max)
        #expect(got.map(\.timestampsMs) == [[2000]])
        // Another head's ids are not taken for its own series.
        let other = Head()
        other.apply(admitted, segment: 1)
        #expect(other.seriesCount == 1)
        #expect(try other.select(matchers: [try F.matcher("job", .equal, "x")], minTime: .min, maxTime: .max).map(\.timestampsMs) == [[2000]])
        #expect(try head.select(matchers: [try F.matcher("job", .equal, "x")], minTime: .min, maxTime: .max).map(\.timestampsMs) == [[2000]])
    }

    @Test func droppingMostSeriesRenumbersTheRestAndOldIDsFallBackToLabels() throws {
        let head = Head()
        let many = (0..<3000).map { F.labels("m", ["i": "\($0)"]) }
        head.apply(MetricBatch(samples: many.map { MetricSample(labels: $0, timestampMs: 1000, value: 1) }), segment: 1)
        _ = head.drain(throughSegment: 1)
        // A kept series gets a newer sample, and a batch for it is admitted under the old numbering.
        let kept = many[2999]
        head.apply(F.batch(kept, [(200_000, 7)]), segment: 2)
        guard case .metrics(let admitted) = head.admit(F.batch(kept, [(215_000, 8)])).batch else {
            Issue.record("not metrics")
            return
        }
        let oldID = try #require(admitted.resolvedRefs?.ids.first)
        #expect(oldID == 3000)
        // Retention drops the other 2,999: the tables are sparse and the head renumbers (the kept series is 1 now).
        #expect(head.removeInactiveSeries(olderThanMs: 100_000) == 2999)
        #expect(head.seriesCount == 1)
        // The batch admitted before still lands in its series, found by its labels, and nothing is lost.
        head.apply(admitted, segment: 2)
        #expect(head.seriesCount == 1)
        let got = try head.select(matchers: [try F.matcher("i", .equal, "2999")], minTime: .min, maxTime: .max)
        #expect(got.map(\.timestampsMs) == [[200_000, 215_000]])
        // Admission's view of the series survived renumbering: another value at the admitted time is refused.
        let conflicting = head.admit(F.batch(kept, [(215_000, 9)]))
        #expect(conflicting.rejections[Head.Reason.duplicateSample] == 1)
        guard case .metrics(let next) = head.admit(F.batch(kept, [(230_000, 10)])).batch else {
            Issue.record("not metrics")
            return
        }
        #expect(next.resolvedRefs?.ids == [1])
    }

    @Test func statsCountCardinality() {
        let head = Head()
        var samples: [MetricSample] = []
        for i in 0..<5 { samples.append(MetricSample(labels: F.labels("req", ["pod": "p\(i)", "job": "api"]), timestampMs: 1000 + Int64(i), value: 1)) }
        for i in 0..<2 { samples.append(MetricSample(labels: F.labels("up", ["pod": "p\(i)"]), timestampMs: 5000, value: 1)) }
        head.apply(MetricBatch(samples: samples), segment: 0)
        let stats = head.headStats(limit: 2)
        #expect(stats.numSeries == 7)
        #expect(stats.numLabelPairs == 2 + 1 + 5)  // __name__ ×2, job ×1, pod ×5
        #expect(stats.chunkCount == 7)
        #expect(stats.minTime == 1000)
        #expect(stats.maxTime == 5000)
        #expect(stats.seriesCountByMetricName == [.init(name: "req", value: 5), .init(name: "up", value: 2)])
        #expect(stats.labelValueCountByLabelName == [.init(name: "pod", value: 5), .init(name: "__name__", value: 2)])
        #expect(stats.seriesCountByLabelValuePair == [.init(name: "__name__=req", value: 5), .init(name: "job=api", value: 5)])
        #expect(stats.memoryInBytesByLabelName.first == .init(name: "pod", value: 10))
        let empty = Head().headStats()
        #expect(empty.minTime == nil)
        #expect(empty.numSeries == 0)
    }

    @Test func concurrentAdmitAndQueriesDuringApply() async throws {
        let head = Head()
        let labels = (0..<50).map { F.labels("m", ["i": "\($0)"]) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for step in 0..<200 {
                    let batch = MetricBatch(samples: labels.map { MetricSample(labels: $0, timestampMs: Int64(step) * 1000, value: Double(step)) })
                    head.apply(batch, segment: step / 50)
                }
            }
            group.addTask {
                for step in 0..<200 {
                    _ = head.admit(F.batch(labels[step % 50], [(Int64(step), 1)]))
                    _ = try? head.select(matchers: [try F.matcher("i", .regexMatch, "1.*")], minTime: .min, maxTime: .max)
                }
            }
        }
        let result = try head.select(matchers: [try F.matcher("i", .regexMatch, "1.*")], minTime: .min, maxTime: .max)
        #expect(result.count == 11)
        #expect(result.allSatisfy { $0.timestampsMs.count == 200 })
    }
}
