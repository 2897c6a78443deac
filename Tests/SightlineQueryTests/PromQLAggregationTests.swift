import SightlineCore
import Testing

@testable import SightlineQuery

private typealias F = PromQLFunctionFixtures

@Suite("PromQL aggregation kernels")
struct PromQLAggregationTests {
    static func sum(_ values: [Double]) -> Double? {
        var sum = Aggregation.Sum()
        for v in values { sum.add(v) }
        return sum.result
    }

    static func avg(_ values: [Double]) -> Double? {
        var avg = Aggregation.Average()
        for v in values { avg.add(v) }
        return avg.result
    }

    static let big = 9.988465674311579e+307

    static let sumAvgCases: [(String, [Double], Double?, Double?)] = [
        ("ten", [2, 8, 1e100, -1e100], 10, 2.5),
        ("pos_inf 1", [.infinity, 2], .infinity, .infinity),
        ("pos_inf 2", [2, .infinity], .infinity, .infinity),
        ("neg_inf 1", [-.infinity, 2], -.infinity, -.infinity),
        ("neg_inf 2", [2, -.infinity], -.infinity, -.infinity),
        ("inf_inf", [.infinity, -.infinity], .nan, .nan),
        ("nan 1", [.nan, 2], .nan, .nan),
        ("nan 2", [2, .nan], .nan, .nan),
        ("inf", [.infinity, .infinity, 0], .infinity, .infinity),
        ("inf2", [.infinity, 0, .infinity], .infinity, .infinity),
        ("inf3", [.infinity, .infinity, -.infinity], .nan, .nan),
        ("-inf2", [-.infinity, 0, -.infinity], -.infinity, -.infinity),
        ("nan mix", [-.infinity, 0, .infinity], .nan, .nan),
        ("big", [big, big, big, big], .infinity, big),
        ("-big", [-big, -big, -big, -big], -.infinity, -big),
        ("bigzero: the sum overflows, the mean does not", [-big, -big, big, big], -.infinity, 0),
        ("empty", [], nil, nil),
        ("single", [7], 7, 7),
    ]

    @Test(arguments: sumAvgCases)
    func sumAndAverage(_ name: String, _ values: [Double], _ sum: Double?, _ avg: Double?) {
        #expect(F.close(Self.sum(values), sum), "sum \(name)")
        #expect(F.close(Self.avg(values), avg), "avg \(name)")
    }

    @Test func averageOfConstantsIsExact() {
        for count in 8...12 {
            #expect(Self.avg(Array(repeating: 52, count: count)) == 52)
        }
        // sum by (job) + min + max + avg of the api-server series at 50m (values 100…400).
        let values: [Double] = [100, 200, 300, 400]
        #expect(Self.sum(values) == 1000)
        #expect(Self.avg(values) == 250)
    }

    @Test func minMax() {
        func extreme(_ values: [Double], max: Bool) -> Double? {
            var e = Aggregation.Extreme(isMax: max)
            for v in values { e.add(v) }
            return e.result
        }
        #expect(extreme([3, 1, 2], max: false) == 1)
        #expect(extreme([3, 1, 2], max: true) == 3)
        #expect(extreme([.nan, 1, 2], max: false) == 1)
        #expect(extreme([1, .nan, 2], max: true) == 2)
        #expect(extreme([1, .nan], max: true) == 1)
        #expect(extreme([.nan, .nan], max: true)?.isNaN == true)
        #expect(extreme([-.infinity, .nan], max: false) == -.infinity)
        #expect(extreme([], max: true) == nil)
        #expect(Aggregation.count(0) == nil && Aggregation.count(3) == 3)
        #expect(Aggregation.group(0) == nil && Aggregation.group(5) == 1)
    }

    static let varianceCases: [(String, [Double], Double?)] = [
        ("http_requests", [100, 200, 300, 400, 500, 600, 700, 800], 52500),
        ("instance 0", [100, 300, 500, 700], 50000),
        ("precision", [13.3, 13.3, 13.3], 0),
        ("1 2 (histogram ignored)", [1, 2], 0.25),
        ("NaN last", [1, 2, .nan], .nan),
        ("NaN first", [.nan, 1, 2], .nan),
        ("single NaN", [.nan], .nan),
        ("Inf last", [1, 2, .infinity], .nan),
        ("Inf first", [.infinity, 1, 2], .nan),
        ("single Inf", [.infinity], .nan),
        ("single", [1], 0),
        ("empty", [], nil),
    ]

    @Test(arguments: varianceCases)
    func variance(_ name: String, _ values: [Double], _ expected: Double?) {
        var variance = Aggregation.Variance()
        var sum = 0.0
        for v in values {
            variance.add(v)
            sum += v
        }
        #expect(F.close(variance.variance, expected, tolerance: 1e-9), "\(name)")
        #expect(F.close(variance.standardDeviation, expected.map { $0.squareRoot() }, tolerance: 1e-9), "\(name)")
    }

    @Test func standardDeviationOfHttpRequests() {
        var variance = Aggregation.Variance()
        for v in [100.0, 200, 300, 400, 500, 600, 700, 800] { variance.add(v) }
        #expect(F.close(variance.standardDeviation, 229.12878474779))
    }

    static let quantileCases: [(Double, [Double], Double)] = [
        (0.8, [0, 1], 0.8), (0.8, [0, 1, 2], 1.6), (0.8, [0, 1, 4], 2.8), (0.8, [0, 1, .nan], 0.6),
        (0.2, [0, 1], 0.2), (0.2, [0, 1, 2], 0.4), (0.2, [0, 1, 4], 0.4), (0.2, [0, 1, .nan], .nan),
        (.nan, [0, 1], .nan), (-0.5, [0, 1], -.infinity), (1.5, [0, 1], .infinity), (0.5, [], .nan),
        (0, [3, 1, 2], 1), (1, [3, 1, 2], 3), (0.5, [5], 5),
    ]

    @Test(arguments: quantileCases)
    func quantile(_ phi: Double, _ values: [Double], _ expected: Double) {
        #expect(F.close(Aggregation.quantile(phi, of: values), expected))
    }

    // MARK: topk / bottomk / limitk / limit_ratio

    static func requests() -> [Sample] {
        let rows: [(String, String, String, Double)] = [
            ("api-server", "0", "production", 100), ("api-server", "1", "production", 200),
            ("api-server", "2", "production", .nan), ("api-server", "0", "canary", 300),
            ("api-server", "1", "canary", 400), ("app-server", "0", "production", 500),
            ("app-server", "1", "production", 600), ("app-server", "0", "canary", 700),
            ("app-server", "1", "canary", 800),
        ]
        return rows.map { job, instance, group, value in
            Sample(metric: Labels(["__name__": "http_requests", "job": job, "instance": instance, "group": group]), t: 0, v: value)
        }
    }

    static func key(_ s: Sample) -> String { "\(s.metric["job"] ?? "")/\(s.metric["instance"] ?? "")/\(s.metric["group"] ?? "")" }

    @Test func topK() {
        let all = Self.requests()
        #expect(Aggregation.topK(3, all).map(Self.key) == ["app-server/1/canary", "app-server/0/canary", "app-server/1/production"])
        #expect(Aggregation.bottomK(3, all).map(Self.key) == ["api-server/0/production", "api-server/1/production", "api-server/0/canary"])
        let appCanary = all.filter { $0.metric["job"] == "app-server" && $0.metric["group"] == "canary" }
        #expect(Aggregation.topK(5, appCanary).map(\.v) == [800, 700])
        #expect(Aggregation.bottomK(5, appCanary).map(\.v) == [700, 800])
        #expect(Aggregation.bottomK(9_999_999_999, appCanary).map(\.v) == [700, 800])
        // NaN is sorted away from the top and the bottom, but still fills up k.
        let apiProduction = all.filter { $0.metric["job"] == "api-server" && $0.metric["group"] == "production" }
        #expect(Aggregation.topK(3, apiProduction).map(Self.key) == ["api-server/1/production", "api-server/0/production", "api-server/2/production"])
        #expect(Aggregation.bottomK(3, apiProduction).map(Self.key) == ["api-server/0/production", "api-server/1/production", "api-server/2/production"])
        #expect(Aggregation.topK(9_999_999_999, apiProduction).count == 3)
        #expect(Aggregation.topK(2, apiProduction).map(\.v) == [200, 100])
        // k is truncated toward zero; k < 1 selects nothing.
        #expect(Aggregation.topK(2.9, all).count == 2)
        #expect(Aggregation.topK(0, all).isEmpty)
        #expect(Aggregation.topK(0.5, all).isEmpty)
        #expect(Aggregation.bottomK(-1, all).isEmpty)
        #expect(Aggregation.topK(1, [Sample]()).isEmpty)
    }

    @Test func topKTiesKeepTheFirstSeen() {
        let samples = (0..<5).map { Sample(metric: Labels(["i": String($0)]), t: 0, v: 1) }
        #expect(Aggregation.topK(1, samples).map { $0.metric["i"] } == ["0"])
        #expect(Aggregation.bottomK(1, samples).map { $0.metric["i"] } == ["0"])
        // More than 12 results use a plain sort; the values still come out in order.
        let many = (0..<20).map { Sample(metric: Labels(["i": String($0)]), t: 0, v: Double($0 % 7)) }
        let top = Aggregation.topK(15, many).map(\.v)
        #expect(top == top.sorted(by: >))
        #expect(top.count == 15)
    }

    @Test func kValidation() {
        #expect(throws: SightlineError.self) { try Aggregation.validateK(.nan) }
        do {
            try Aggregation.validateK(1e19)
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "Scalar value 1e+19 overflows int64")
        }
        do {
            try Aggregation.validateK(-1e19)
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "Scalar value -1e+19 underflows int64")
        }
        do {
            try Aggregation.validateK(.nan)
        } catch {
            #expect(error.message == "Parameter value is NaN")
        }
        #expect(throws: Never.self) { try Aggregation.validateK(5) }
        #expect(Aggregation.effectiveK(9_999_999_999, available: 3) == 3)
        #expect(Aggregation.effectiveK(-3.5, available: 3) == 0)
    }

    @Test func limitK() {
        let all = Self.requests()
        #expect(Aggregation.limitK(2, all).map(Self.key) == all.prefix(2).map(Self.key))
        #expect(Aggregation.limitK(100, all).count == all.count)
        #expect(Aggregation.limitK(0, all).isEmpty)
        #expect(Aggregation.limitK(-1, all).isEmpty)
    }

    @Test func limitRatio() throws {
        let all = Self.requests()
        #expect(Aggregation.limitRatio(0, all).isEmpty)
        #expect(Aggregation.limitRatio(1, all).count == all.count)
        #expect(Aggregation.limitRatio(-1, all).count == all.count)
        #expect(Aggregation.limitRatio(1.1, all).count == all.count)
        #expect(try Aggregation.clampRatio(-1.1) == -1)
        #expect(throws: SightlineError.self) { try Aggregation.clampRatio(.nan) }
        // limit_ratio(r) and limit_ratio(-(1 - r)) are complements.
        for r in [0.2, 0.5, 0.8, 3.0 / 17, 11.0 / 17] {
            let positive = Set(Aggregation.limitRatio(r, all).map(Self.key))
            let negative = Set(Aggregation.limitRatio(-(1 - r), all).map(Self.key))
            #expect(positive.isDisjoint(with: negative))
            #expect(positive.union(negative).count == all.count)
        }
        // The offset is deterministic and in [0, 1].
        let offset = LabelsHash.sampleOffset(all[0].metric)
        #expect(offset >= 0 && offset <= 1)
        #expect(offset == LabelsHash.sampleOffset(all[0].metric))
    }

    @Test func xxHash64Vectors() {
        #expect(XXHash64.hash(Array("".utf8)) == 0xEF46_DB37_51D8_E999)
        #expect(XXHash64.hash(Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(XXHash64.hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        #expect(XXHash64.hash(Array("Nobody inspects the spammish repetition".utf8)) == 0xFBCE_A83C_8A37_8BF1)
    }

    @Test func labelsHashEncoding() {
        // The stringlabels encoding: length-prefixed names and values, in name order.
        let labels = Labels(["b": "2", "a": "xy"])
        let expected: [UInt8] = [1, UInt8(ascii: "a"), 2, UInt8(ascii: "x"), UInt8(ascii: "y"), 1, UInt8(ascii: "b"), 1, UInt8(ascii: "2")]
        #expect(LabelsHash.hash(labels) == XXHash64.hash(expected))
        let long = String(repeating: "v", count: 300)
        let longExpected: [UInt8] = [1, UInt8(ascii: "k"), 255, 44, 1, 0] + Array(long.utf8)
        #expect(LabelsHash.hash(Labels(["k": long])) == XXHash64.hash(longExpected))
    }

    // MARK: count_values

    @Test func countValues() throws {
        let versions: [(String, String, String, Double)] = [
            ("api-server", "0", "production", 6), ("api-server", "1", "production", 6), ("api-server", "2", "production", 6),
            ("api-server", "0", "canary", 8), ("api-server", "1", "canary", 8), ("app-server", "0", "production", 6),
            ("app-server", "1", "production", 6), ("app-server", "0", "canary", 7), ("app-server", "1", "canary", 7),
        ]
        let vector = versions.map { job, instance, group, v in
            Sample(metric: Labels(["__name__": "version", "job": job, "instance": instance, "group": group]), t: 60_000, v: v)
        }
        func project(_ keep: [String]) -> (Labels) -> Labels {
            { labels in Labels(labels.labels.filter { keep.contains($0.name) }) }
        }
        let all = try Aggregation.countValues(vector, label: "version", t: 60_000, grouping: project(["version"]))
        #expect(all.map { "\($0.metric)=\($0.v)" } == ["{version=\"6\"}=5.0", "{version=\"8\"}=2.0", "{version=\"7\"}=2.0"])
        // Overwriting a grouping label: count_values without (instance) ("job", version).
        let overwrite = try Aggregation.countValues(vector, label: "job", t: 60_000, grouping: project(["job", "group"]))
        #expect(Set(overwrite.map { "\($0.metric)=\($0.v)" })
            == ["{group=\"production\", job=\"6\"}=5.0", "{group=\"canary\", job=\"8\"}=2.0", "{group=\"canary\", job=\"7\"}=2.0"])
        // Float formatting of the label value.
        let odd = [1e6, 1e-7, -0.0, .nan, .infinity, 0.1].map { Sample(metric: Labels(["a": "b"]), t: 0, v: $0) }
        let labels = try Aggregation.countValues(odd, label: "v", t: 0, grouping: project(["v"])).compactMap { $0.metric["v"] }
        #expect(labels == ["1000000", "0.0000001", "-0", "NaN", "+Inf", "0.1"])
        do {
            _ = try Aggregation.countValues(vector, label: "a\u{FFFD}z", t: 0, grouping: project([]))
            Issue.record("expected an error")
        } catch {
            #expect(error.message.hasPrefix("invalid label name \"a"))
        }
    }
}
