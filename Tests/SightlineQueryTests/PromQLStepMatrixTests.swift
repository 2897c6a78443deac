import SightlineCore
import SightlineTestSupport
import Testing
@testable import SightlineQuery

/// The series-major evaluation of range queries (``StepMatrix``) must give what evaluating the expression step by
/// step gives: every range query here is compared, bit for bit, with instant queries at each of its steps.
@Suite struct PromQLStepMatrixTests {
    /// Counters with resets, gauges, gaps, jittered timestamps and staleness markers over 20 minutes.
    static func storage(seed: UInt64) -> PromQLTestStorage {
        var random = SplitMix64(seed: seed)
        let storage = PromQLTestStorage()
        for instance in 0..<6 {
            let region = ["eu", "us", "ap"][instance % 3]
            var counter = 0.0
            var counterSamples: [(t: Int64, v: Double)] = []
            var a: [(t: Int64, v: Double)] = []
            var b: [(t: Int64, v: Double)] = []
            var buckets: [[(t: Int64, v: Double)]] = [[], [], []]
            var bucketCounts = [0.0, 0.0, 0.0]
            // Instances start and stop at different times, so that groups appear in different orders per step.
            let first = Int64(random.next() % 20) * 15_000
            let last = 1_200_000 - Int64(random.next() % 20) * 15_000
            var t = first
            while t <= last {
                let jittered = t + Int64(random.next() % 5) - 2
                if random.next() % 10 != 0 {  // a gap now and then
                    counter += Double(random.next() % 1000) / 10
                    if random.next() % 40 == 0 { counter = 0 }  // a reset
                    counterSamples.append((jittered, counter))
                    if random.next() % 30 == 0 { counterSamples.append((jittered + 1, StaleNaN.value)) }  // a marker inside
                    a.append((jittered, Double(random.next() % 1000)))
                    b.append((jittered, Double(random.next() % 1000 + 1000)))
                    var added = 0.0
                    for index in 0..<3 {
                        added += Double(random.next() % 5)
                        bucketCounts[index] += added
                        buckets[index].append((jittered, bucketCounts[index]))
                    }
                }
                t += 15_000
            }
            if instance % 2 == 0 { a.append((last + 10_000, StaleNaN.value)) }
            storage.add(Labels(["__name__": "req_total", "instance": "i\(instance)", "region": region]), counterSamples)
            for (index, le) in ["0.5", "2", "+Inf"].enumerated() {
                storage.add(Labels(["__name__": "req_bucket", "instance": "i\(instance)", "region": region, "le": le]), buckets[index])
            }
            storage.add(Labels(["__name__": "mem_a", "instance": "i\(instance)", "region": region]), a)
            storage.add(Labels(["__name__": "mem_b", "instance": "i\(instance)", "region": region]), b)
        }
        return storage
    }

    static let queries = [
        "sum by (instance) (rate(req_total[1m]))",
        "histogram_quantile(0.9, sum by (le) (rate(req_bucket[1m])))",
        "topk(2, sum by (region) (rate(req_total[1m])))",
        "bottomk(3, mem_a)",
        "topk by (region) (1.5, mem_b)",
        "topk(2, mem_a * 0)",
        "topk(2, mem_a) * 2",
        "sum(bottomk(2, mem_b))",
        "avg by (region) (1 - mem_a / mem_b)",
        #"count by (region) ({__name__=~"mem_.*"})"#,
        "max_over_time(mem_a[2m] offset 30s)",
        "last_over_time(mem_a[1m])",
        "quantile_over_time(0.5, mem_a[1m])",
        "predict_linear(mem_a[2m], 60)",
        "increase(req_total[1m] @ 600)",
        "rate(req_total[2m] offset -1m)",
        "delta(mem_a[1m])",
        "increase(req_total[45s])",
        "sum(mem_a) / 2",
        "mem_a - mem_b",
        "mem_a * on (instance) mem_b",
        "mem_a",
        "stddev by (region) (mem_a)",
        "stdvar without (instance) (mem_b)",
        "min by (region) (mem_a) + max by (region) (mem_b)",
        "group by (region) (mem_a)",
        "-sum by (region) (rate(req_total[1m]))",
        "sum(rate(req_total[1m])) + on () max_over_time(sum(rate(req_total[1m]))[2m:30s])",
    ]

    @Test(arguments: queries)
    func rangeQueryEqualsStepByStep(_ query: String) throws {
        let engine = PromQLEngine(querier: Self.storage(seed: 7))
        let start: Int64 = 0
        let end: Int64 = 1_260_000
        let step: Int64 = 30_000
        let range = try engine.rangeQuery(query, tenant: .default, startMs: start, endMs: end, stepMs: step)
        guard case .matrix(let series) = range.value else {
            Issue.record("expected a matrix for \(query)")
            return
        }
        var expected: [Labels: [FloatPoint]] = [:]
        var t = start
        while t <= end {
            let instant = try engine.instantQuery(query, tenant: .default, timeMs: t)
            if case .vector(let samples) = instant.value {
                for sample in samples { expected[sample.metric, default: []].append(FloatPoint(t: t, v: sample.v)) }
            }
            t += step
        }
        #expect(!series.isEmpty, "\(query) returned nothing")
        #expect(series.count == expected.count, "\(query): series")
        for item in series {
            #expect(item.points == expected[item.metric], "\(query): \(item.metric)")
        }
    }

    /// Range functions computed on every core, in runs of series, join into the same matrix as on one thread.
    @Test(arguments: queries)
    func parallelRangeFunctionsEqualOneThread(_ query: String) throws {
        var parallel = PromQLEngine.Options()
        parallel.parallelCells = 0
        var serial = PromQLEngine.Options()
        serial.parallelCells = .max
        let storage = Self.storage(seed: 11)
        let one = try PromQLEngine(querier: storage, options: serial).rangeQuery(query, tenant: .default, startMs: 0, endMs: 1_260_000, stepMs: 15_000)
        let many = try PromQLEngine(querier: storage, options: parallel).rangeQuery(query, tenant: .default, startMs: 0, endMs: 1_260_000, stepMs: 15_000)
        guard case .matrix(let expected) = one.value, case .matrix(let actual) = many.value else {
            Issue.record("expected matrices for \(query)")
            return
        }
        #expect(!expected.isEmpty, "\(query) returned nothing")
        #expect(actual.map(\.metric) == expected.map(\.metric), "\(query)")
        #expect(actual.map { $0.points.map(\.t) } == expected.map { $0.points.map(\.t) }, "\(query)")
        #expect(actual.map { $0.points.map(\.v.bitPattern) } == expected.map { $0.points.map(\.v.bitPattern) }, "\(query)")
        #expect(many.warnings == one.warnings && many.infos == one.infos, "\(query)")
    }

    @Test func duplicateOutputLabelsStillFail() {
        let engine = PromQLEngine(querier: Self.storage(seed: 7))
        let error = #expect(throws: PromQLError.self) {
            _ = try engine.rangeQuery(#"rate({__name__=~"mem_a|mem_b"}[1m])"#, tenant: .default, startMs: 0, endMs: 600_000, stepMs: 60_000)
        }
        #expect(error?.message == PromQLError.duplicateLabelset.message)
    }

    @Test func sampleLimitApplies() {
        var options = PromQLEngine.Options()
        options.maxSamples = 50
        let engine = PromQLEngine(querier: Self.storage(seed: 7), options: options)
        let error = #expect(throws: PromQLError.self) {
            _ = try engine.rangeQuery("sum(rate(req_total[5m]))", tenant: .default, startMs: 0, endMs: 1_200_000, stepMs: 15_000)
        }
        #expect(error?.message == PromQLError.tooManySamples.message)
    }
}
