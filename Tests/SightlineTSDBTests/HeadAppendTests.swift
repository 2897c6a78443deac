import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineTSDB

private typealias F = HeadFixtures

struct HeadAppendTests {
    private let api = F.labels("http_requests_total", ["job": "api"])
    private let all = Int64.min
    private let end = Int64.max

    private func samples(_ head: Head, _ labels: Labels) throws -> (times: [Int64], values: [Double]) {
        let result = try head.select(matchers: [try F.matcher("__name__", .equal, labels.metricName)], minTime: all, maxTime: end)
            .first { $0.labels == labels }
        return (result?.timestampsMs ?? [], result?.values ?? [])
    }

    @Test func inOrderSamplesAreReturned() throws {
        let head = Head()
        head.apply(F.batch(api, [(1000, 1), (2000, 2), (3000, 3)]), segment: 0)
        let got = try samples(head, api)
        #expect(got.times == [1000, 2000, 3000])
        #expect(got.values == [1, 2, 3])
        #expect(try head.select(matchers: [try F.matcher("job", .equal, "api")], minTime: 1500, maxTime: 2000)
            .first?.timestampsMs == [2000])
        #expect(head.discarded.isEmpty)
    }

    @Test func outOfOrderWithinWindowIsAcceptedAndSorted() throws {
        let head = Head(limits: HeadLimits(oooWindowMs: 10_000))
        head.apply(F.batch(api, [(100_000, 1), (110_000, 2)]), segment: 0)
        head.apply(F.batch(api, [(105_000, 1.5), (101_000, 1.1), (100_500, 1.05)]), segment: 1)
        #expect(F.samples(of: head.admit(F.batch(api, [(102_000, 1.2)]))).count == 1)
        let got = try samples(head, api)
        #expect(got.times == [100_000, 100_500, 101_000, 105_000, 110_000])
        #expect(got.values == [1, 1.05, 1.1, 1.5, 2])
        #expect(head.discarded.isEmpty)
    }

    @Test func tooOldIsRejectedByAdmitAndDroppedByApply() throws {
        let head = Head()
        head.apply(F.batch(api, [(1_700_003_600_000, 5)]), segment: 0)
        // The window is inclusive: newest − 1h is still accepted, one ms before is not.
        let batch = F.batch(api, [(1_699_999_999_999, 1), (1_700_000_000_000, 2), (1_700_003_600_001, 6)])
        let admission = head.admit(batch)
        #expect(admission.rejections == ["out_of_order": 1])
        #expect(
            admission.message
                == "sample for series http_requests_total{job=\"api\"} at 1699999999999 is older than the out-of-order "
                + "window of 1h (newest 1700003600000)")
        #expect(F.samples(of: admission).map(\.timestampMs) == [1_700_000_000_000, 1_700_003_600_001])
        head.apply(batch, segment: 1)
        #expect(head.discarded == ["out_of_order": 1])
        #expect(try samples(head, api).times == [1_700_000_000_000, 1_700_003_600_000, 1_700_003_600_001])
    }

    @Test func zeroWindowRefusesEveryOutOfOrderSample() {
        let head = Head(limits: HeadLimits(oooWindowMs: 0))
        head.apply(F.batch(api, [(10, 1)]), segment: 0)
        head.apply(F.batch(api, [(9, 1)]), segment: 0)
        #expect(head.discarded == ["out_of_order": 1])
    }

    @Test func conflictingDuplicateIsRejectedAndFirstWriteWins() throws {
        let head = Head()
        head.apply(F.batch(api, [(1000, 1), (2000, 2)]), segment: 0)
        let admission = head.admit(F.batch(api, [(2000, 3), (1000, 9)]))
        #expect(admission.rejections == ["duplicate_sample": 2])
        #expect(admission.message.contains("http_requests_total{job=\"api\"} at 2000"))
        #expect(F.samples(of: admission).isEmpty)
        head.apply(F.batch(api, [(2000, 3), (1000, 9)]), segment: 0)
        #expect(head.discarded == ["duplicate_sample": 2])
        #expect(try samples(head, api).values == [1, 2])
    }

    @Test func identicalDuplicateIsIdempotent() throws {
        let head = Head()
        let batch = F.batch(api, [(1000, 1), (2000, .nan), (3000, StaleNaN.value)])
        head.apply(batch, segment: 0)
        let admission = head.admit(batch)
        #expect(admission.rejected == 0)
        head.apply(batch, segment: 0)
        head.apply(F.batch(api, [(2000, .nan)]), segment: 1)
        #expect(head.discarded.isEmpty)
        let got = try samples(head, api)
        #expect(got.times == [1000, 2000, 3000])
    }

    @Test func sameBatchDuplicatesCount() {
        let head = Head()
        let admission = head.admit(F.batch(api, [(1000, 1), (2000, 2), (1000, 5), (2000, 2), (1500, 1), (1500, 7)]))
        #expect(admission.rejections == ["duplicate_sample": 2])
        #expect(F.samples(of: admission).map(\.timestampMs) == [1000, 2000, 2000, 1500])
        // Applying what admit kept drops nothing.
        head.apply(MetricBatch(samples: F.samples(of: admission)), segment: 0)
        #expect(head.discarded.isEmpty)
    }

    @Test func stalenessMarkerIsStoredBitExact() throws {
        let head = Head()
        let negativeZero = -0.0
        head.apply(F.batch(api, [(1000, 1), (2000, StaleNaN.value), (3000, negativeZero)]), segment: 0)
        head.apply(F.batch(api, [(1500, StaleNaN.value)]), segment: 0)
        let got = try samples(head, api)
        #expect(bits(got.values) == bits([1, StaleNaN.value, StaleNaN.value, negativeZero]))
        #expect(StaleNaN.isStale(got.values[1]))
    }

    @Test func maxSeriesLimitRefusesNewSeries() {
        let head = Head()
        head.apply(F.batch(api, [(1000, 1)]), segment: 0)
        let limits = HeadLimits(maxSeries: 2)
        let other = F.labels("up", ["job": "a"])
        let third = F.labels("up", ["job": "b"])
        let batch = MetricBatch(samples: [
            MetricSample(labels: api, timestampMs: 2000, value: 1),
            MetricSample(labels: other, timestampMs: 2000, value: 1),
            MetricSample(labels: third, timestampMs: 2000, value: 1),
            MetricSample(labels: other, timestampMs: 3000, value: 1),
            MetricSample(labels: third, timestampMs: 3000, value: 1),
        ])
        let admission = head.admit(batch, limits: limits)
        #expect(admission.rejections == ["too_many_series": 2])
        #expect(admission.message == "series limit of 2 reached: refusing new series up{job=\"b\"}")
        #expect(F.samples(of: admission).map(\.labels) == [api, other, other])
    }

    @Test func maxSamplesPerRequestRefusesTheExcess() {
        let head = Head()
        let batch = F.batch(api, (1...10).map { (Int64($0) * 1000, Double($0)) })
        let admission = head.admit(batch, limits: HeadLimits(maxSamplesPerRequest: 4))
        #expect(admission.rejections == ["too_many_samples": 6])
        #expect(admission.message == "request has 10 samples, more than the limit of 4 per request")
        #expect(F.samples(of: admission).count == 4)
    }

    /// Admission decides on its own view of each series: it sees what earlier admissions passed before it is
    /// applied, and apply brings it up to samples that came without a handle (new series, WAL replay).
    @Test func admissionSeesEarlierAdmissionsAndSamplesAppliedWithoutHandles() throws {
        let head = Head(limits: HeadLimits(oooWindowMs: 500))
        head.apply(F.batch(api, [(1000, 1)]), segment: 0)
        let first = head.admit(F.batch(api, [(2000, 2)]))
        #expect(first.rejected == 0)
        // Not applied yet: another value at 2000 is refused, the same value passes as an identical duplicate.
        #expect(head.admit(F.batch(api, [(2000, 5)])).rejections == ["duplicate_sample": 1])
        #expect(head.admit(F.batch(api, [(2000, 2)])).rejected == 0)
        #expect(head.admit(F.batch(api, [(1400, 2)])).rejections == ["out_of_order": 1])
        head.apply(F.batch(of: first), segment: 0)
        // Replayed (no handles): the view moves to 3000.
        head.apply(F.batch(api, [(3000, 3)]), segment: 0)
        #expect(head.admit(F.batch(api, [(3000, 4)])).rejections == ["duplicate_sample": 1])
        #expect(head.admit(F.batch(api, [(2400, 4)])).rejections == ["out_of_order": 1])
        #expect(head.discarded.isEmpty)
        #expect(try samples(head, api).times == [1000, 2000, 3000])
    }

    /// A batch admitted and never applied (its WAL write failed) leaves the view ahead; the sender's retry of the same
    /// samples passes and is stored.
    @Test func aRetryOfAnAdmittedButLostBatchIsStored() throws {
        let head = Head()
        head.apply(F.batch(api, [(1000, 1)]), segment: 0)
        _ = head.admit(F.batch(api, [(2000, 2)]))
        let retry = head.admit(F.batch(api, [(2000, 2)]))
        #expect(retry.rejected == 0)
        head.apply(F.batch(of: retry), segment: 0)
        #expect(head.discarded.isEmpty)
        #expect(try samples(head, api).values == [1, 2])
    }

    /// Two requests admitted while their series is new: apply creates it from the first and takes the second
    /// without handles, so the view covers both.
    @Test func racingNewSeriesBatchesBothReachAdmissionsView() throws {
        let head = Head()
        let first = head.admit(F.batch(api, [(1000, 1)]))
        let second = head.admit(F.batch(api, [(2000, 2)]))
        head.apply(F.batch(of: first), segment: 0)
        head.apply(F.batch(of: second), segment: 0)
        #expect(head.admit(F.batch(api, [(2000, 7)])).rejections == ["duplicate_sample": 1])
        #expect(try samples(head, api).values == [1, 2])
    }

    @Test func admitStoresNothing() {
        let head = Head()
        _ = head.admit(F.batch(api, [(1000, 1)]))
        #expect(head.seriesCount == 0)
        #expect(head.headStats().numSeries == 0)
    }

    @Test func metadataLatestWins() {
        let head = Head()
        head.apply(MetricBatch(metadata: [MetricMetadata(metricFamily: "up", kind: .gauge, help: "old")]), segment: 0)
        head.apply(
            MetricBatch(metadata: [
                MetricMetadata(metricFamily: "up", kind: .gauge, help: "new"),
                MetricMetadata(metricFamily: "a_total", kind: .counter),
            ]), segment: 1)
        #expect(head.metadata(metric: "up").map(\.help) == ["new"])
        #expect(head.metadata(metric: nil).map(\.metricFamily) == ["a_total", "up"])
        #expect(head.metadata(metric: "missing").isEmpty)
    }

    /// Random batches, admitted then applied: nothing admitted is dropped, and the head agrees with a model where
    /// the first write of a time wins and samples beyond the window are refused.
    @Test func admitThenApplyMatchesModel() throws {
        var rng = SplitMix64(seed: 2024)
        let window: Int64 = 50
        let head = Head(limits: HeadLimits(oooWindowMs: window))
        let series = (0..<4).map { F.labels("m", ["i": "\($0)"]) }
        var model: [Labels: [Int64: UInt64]] = [:]
        var newest: [Labels: Int64] = [:]
        var segment = 0
        for _ in 0..<300 {
            var samples: [MetricSample] = []
            for _ in 0..<Int.random(in: 1...20, using: &rng) {
                let labels = series[Int.random(in: 0..<series.count, using: &rng)]
                let base = newest[labels] ?? 0
                let t = base + Int64.random(in: -80...10, using: &rng)
                let value = Int.random(in: 0...3, using: &rng) == 0 ? StaleNaN.value : Double(Int.random(in: 0...2, using: &rng))
                samples.append(MetricSample(labels: labels, timestampMs: t, value: value))
            }
            let admission = head.admit(MetricBatch(samples: samples))
            let admitted = F.samples(of: admission)
            head.apply(MetricBatch(samples: admitted), segment: segment)
            #expect(head.discarded.isEmpty)
            for sample in admitted {
                if model[sample.labels]?[sample.timestampMs] == nil {
                    model[sample.labels, default: [:]][sample.timestampMs] = sample.value.bitPattern
                }
                newest[sample.labels] = max(newest[sample.labels] ?? .min, sample.timestampMs)
            }
            // Every refusal is justified by the model.
            #expect(admitted.count + admission.rejected == samples.count)
            if Int.random(in: 0...9, using: &rng) == 0 { segment += 1 }
        }
        for labels in series {
            let got = try samples(head, labels)
            let expected = (model[labels] ?? [:]).sorted { $0.key < $1.key }
            #expect(got.times == expected.map(\.key))
            #expect(bits(got.values) == expected.map(\.value))
        }
    }
}
