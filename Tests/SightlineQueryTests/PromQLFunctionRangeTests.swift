import SightlineCore
import Testing

@testable import SightlineQuery

/// Helpers shared by the PromQL kernel tests: Prometheus' `load` series notation and its test tolerance.
enum PromQLFunctionFixtures {
    /// Expands promqltest's series notation (`0+10x10`, `1 NaN _ 5`, `8000-10x1000`) into points `step` ms apart
    /// starting at `start`. `_` skips a step; `aNbxN` accumulates like promqltest (repeated addition).
    static func points(_ notation: String, step: Int64, start: Int64 = 0) -> [FloatPoint] {
        var result: [FloatPoint] = []
        var t = start
        for token in notation.split(separator: " ", omittingEmptySubsequences: true) {
            if token == "_" {
                t += step
                continue
            }
            if let x = token.lastIndex(of: "x"), let times = Int(token[token.index(after: x)...]) {
                let head = token[..<x]
                var value: Double
                var delta = 0.0
                if let opIndex = head.dropFirst().lastIndex(where: { $0 == "+" || $0 == "-" }),
                    head[head.index(before: opIndex)] != "e"
                {
                    value = number(head[..<opIndex])
                    delta = number(head[head.index(after: opIndex)...])
                    if head[opIndex] == "-" { delta = -delta }
                } else {
                    value = number(head)
                }
                for _ in 0...times {
                    result.append(FloatPoint(t: t, v: value))
                    value += delta
                    t += step
                }
                continue
            }
            result.append(FloatPoint(t: t, v: number(token)))
            t += step
        }
        return result
    }

    static func number(_ text: Substring) -> Double {
        switch text.lowercased() {
        case "nan": return .nan
        case "inf", "+inf": return .infinity
        case "-inf": return -.infinity
        default: return Double(text) ?? .nan
        }
    }

    /// The points in Prometheus 3's window `(at - range, at]`.
    static func window(_ points: [FloatPoint], at: Int64, range: Int64) -> ArraySlice<FloatPoint> {
        let lower = points.firstIndex { $0.t > at - range } ?? points.endIndex
        let upper = points.firstIndex { $0.t > at } ?? points.endIndex
        return points[lower..<max(lower, upper)]
    }

    /// promqltest's comparison: equal within a relative 1e-6, NaN equals NaN.
    static func close(_ actual: Double?, _ expected: Double?, tolerance: Double = 1e-6) -> Bool {
        switch (actual, expected) {
        case (nil, nil): return true
        case let (a?, e?): return ClassicHistogram.almostEqual(e, a, tolerance: tolerance)
        default: return false
        }
    }

    static let second: Int64 = 1000
    static let minute: Int64 = 60_000
}

private typealias F = PromQLFunctionFixtures

/// One ported `eval instant at <at> fn(series[range])` case.
struct PromQLRangeFunctionCase: CustomTestStringConvertible, Sendable {
    let name: String
    let series: String
    let step: Int64
    let at: Int64
    let range: Int64
    let expected: Double?
    var testDescription: String { name }
}

@Suite("PromQL range-vector functions")
struct PromQLFunctionRangeTests {
    // MARK: rate / increase / delta

    static let rateCases: [PromQLRangeFunctionCase] = [
        .init(name: "rate reset in middle", series: "0+27x4 0+27x5", step: 5 * F.minute, at: 50 * F.minute, range: 50 * F.minute, expected: 0.08),
        .init(name: "rate reset at end, 5m: one point", series: "0+10x9 0 10", step: 5 * F.minute, at: 50 * F.minute, range: 5 * F.minute, expected: nil),
        .init(name: "rate reset at end, 6m", series: "0+10x9 0 10", step: 5 * F.minute, at: 50 * F.minute, range: 6 * F.minute, expected: 0),
        .init(name: "rate window", series: "0+80x10", step: 5 * F.minute, at: 50 * F.minute, range: 50 * F.minute, expected: 0.26666666666666666),
        .init(name: "zero cutoff 0m", series: "0+240x10", step: 4 * F.minute, at: 10 * F.minute, range: 20 * F.minute, expected: 0.5),
        .init(name: "zero cutoff 1m", series: "60+240x10", step: 4 * F.minute, at: 10 * F.minute, range: 20 * F.minute, expected: 0.55),
        .init(name: "zero cutoff 2m", series: "120+240x10", step: 4 * F.minute, at: 10 * F.minute, range: 20 * F.minute, expected: 0.6),
        .init(name: "zero cutoff 3m", series: "180+240x10", step: 4 * F.minute, at: 10 * F.minute, range: 20 * F.minute, expected: 0.6),
        .init(name: "zero cutoff 5m", series: "300+240x10", step: 4 * F.minute, at: 10 * F.minute, range: 20 * F.minute, expected: 0.6),
        .init(name: "half interval cutoff 0m", series: "0+240x10", step: 4 * F.minute, at: 50 * F.minute, range: 20 * F.minute, expected: 0.6),
        .init(name: "half interval cutoff 5m", series: "300+240x10", step: 4 * F.minute, at: 50 * F.minute, range: 20 * F.minute, expected: 0.6),
    ]

    @Test(arguments: rateCases)
    func rate(_ c: PromQLRangeFunctionCase) {
        let window = F.window(F.points(c.series, step: c.step), at: c.at, range: c.range)
        let result = RangeFunctions.rate(window, rangeStart: c.at - c.range, rangeEnd: c.at)
        #expect(F.close(result, c.expected), "\(String(describing: result))")
    }

    @Test func rateWithOffset() {
        // rate(calculate_rate_offset_total[10m] offset 5m) at 50m: the window is (35m, 45m].
        let a = F.points("0+10x10", step: 5 * F.minute)
        let b = F.points("0+20x10", step: 5 * F.minute)
        let start = 35 * F.minute, end = 45 * F.minute
        #expect(F.close(RangeFunctions.rate(F.window(a, at: end, range: 10 * F.minute), rangeStart: start, rangeEnd: end), 0.03333333333333333))
        #expect(F.close(RangeFunctions.rate(F.window(b, at: end, range: 10 * F.minute), rangeStart: start, rangeEnd: end), 0.06666666666666667))
    }

    static let increaseCases: [PromQLRangeFunctionCase] = [
        .init(name: "foo 50m", series: "0+10x10", step: 5 * F.minute, at: 50 * F.minute, range: 50 * F.minute, expected: 100),
        .init(name: "bar 50m (reset)", series: "0+18x5 0+18x5", step: 5 * F.minute, at: 50 * F.minute, range: 50 * F.minute, expected: 160),
        .init(name: "dings 50m", series: "10+10x10", step: 5 * F.minute, at: 50 * F.minute, range: 50 * F.minute, expected: 100),
        .init(name: "bumms 50m", series: "1+10x10", step: 5 * F.minute, at: 50 * F.minute, range: 50 * F.minute, expected: 100),
        .init(name: "foo 100m", series: "0+10x10", step: 5 * F.minute, at: 50 * F.minute, range: 100 * F.minute, expected: 100),
        .init(name: "bar 100m", series: "0+18x5 0+18x5", step: 5 * F.minute, at: 50 * F.minute, range: 100 * F.minute, expected: 162),
        .init(name: "dings 100m: half-interval extrapolation", series: "10+10x10", step: 5 * F.minute, at: 50 * F.minute, range: 100 * F.minute, expected: 105),
        .init(name: "bumms 100m: zero-point cutoff", series: "1+10x10", step: 5 * F.minute, at: 50 * F.minute, range: 100 * F.minute, expected: 101),
        .init(name: "reset 3 2 is 3 0 1 2", series: "0 1 2 3 2 3 4", step: 5 * F.minute, at: 30 * F.minute, range: 30 * F.minute, expected: 7),
        .init(name: "single point", series: "5", step: 5 * F.minute, at: 0, range: 5 * F.minute, expected: nil),
        .init(name: "empty window", series: "1 2", step: 5 * F.minute, at: 30 * F.minute, range: 5 * F.minute, expected: nil),
    ]

    @Test(arguments: increaseCases)
    func increase(_ c: PromQLRangeFunctionCase) {
        let window = F.window(F.points(c.series, step: c.step), at: c.at, range: c.range)
        let result = RangeFunctions.increase(window, rangeStart: c.at - c.range, rangeEnd: c.at)
        #expect(F.close(result, c.expected), "\(String(describing: result))")
    }

    @Test func delta() {
        let foo = F.points("0 50 100 150 200", step: 5 * F.minute)
        let bar = F.points("200 150 100 50 0", step: 5 * F.minute)
        let at = 20 * F.minute, range = 20 * F.minute
        #expect(RangeFunctions.delta(F.window(foo, at: at, range: range), rangeStart: at - range, rangeEnd: at) == 200)
        #expect(RangeFunctions.delta(F.window(bar, at: at, range: range), rangeStart: at - range, rangeEnd: at) == -200)
        // A gauge going negative is not floored at zero.
        let falling = F.points("1 -9 -19", step: 10 * F.second)
        let result = RangeFunctions.delta(falling[...], rangeStart: -10 * F.second, rangeEnd: 20 * F.second)
        #expect(result == -30)
    }

    @Test func extrapolationBoundaries() {
        // Points exactly one interval apart and touching both edges: no extrapolation at all.
        let exact = [FloatPoint(t: 10_000, v: 1), FloatPoint(t: 20_000, v: 2), FloatPoint(t: 30_000, v: 3)]
        #expect(RangeFunctions.increase(exact[...], rangeStart: 10_000, rangeEnd: 30_000) == 2)
        // Gap to the start of exactly 1.1 average intervals: treated as "series starts inside", half an interval.
        let gap = [FloatPoint(t: 11_000, v: 10), FloatPoint(t: 21_000, v: 20)]
        let delta = RangeFunctions.delta(gap[...], rangeStart: 0, rangeEnd: 21_000)
        #expect(F.close(delta, 10 * (10 + 5) / 10.0))
        // Just below 1.1 intervals: extrapolated all the way.
        let near = RangeFunctions.delta(gap[...], rangeStart: 1_001, rangeEnd: 21_000)
        #expect(F.close(near, 10 * (10 + 9.999) / 10.0))
        // A counter starting at a large value is not extrapolated below zero.
        let counter = [FloatPoint(t: 60_000, v: 1), FloatPoint(t: 120_000, v: 61)]
        let increase = RangeFunctions.increase(counter[...], rangeStart: 0, rangeEnd: 120_000)
        // Zero point is 1s before the first sample: 60 + 1 = 61 over 60s of samples.
        #expect(F.close(increase, 61))
        // Two points at the same timestamp: sampled interval 0, factor 1.
        let same = [FloatPoint(t: 5_000, v: 1), FloatPoint(t: 5_000, v: 4)]
        #expect(RangeFunctions.delta(same[...], rangeStart: 0, rangeEnd: 10_000) == 3)
    }

    @Test func rateNaNAndInf() {
        let withNaN = [FloatPoint(t: 10_000, v: 1), FloatPoint(t: 20_000, v: .nan), FloatPoint(t: 30_000, v: 3)]
        // A NaN in the middle compares false both ways, so it is no reset and does not reach the result:
        // (3 - 1) extrapolated by 10s to the start, over 30s.
        #expect(F.close(RangeFunctions.rate(withNaN[...], rangeStart: 0, rangeEnd: 30_000), 0.1))
        let nanLast = [FloatPoint(t: 10_000, v: 1), FloatPoint(t: 20_000, v: .nan)]
        #expect(RangeFunctions.rate(nanLast[...], rangeStart: 0, rangeEnd: 20_000)?.isNaN == true)
        let withInf = [FloatPoint(t: 10_000, v: 1), FloatPoint(t: 20_000, v: .infinity)]
        #expect(RangeFunctions.increase(withInf[...], rangeStart: 0, rangeEnd: 20_000) == .infinity)
    }

    @Test func durationSecondsMatchesGo() {
        #expect(RangeFunctions.durationSeconds(milliseconds: 300_000) == 300)
        #expect(RangeFunctions.durationSeconds(milliseconds: 1_001) == 1 + 1_000_000 / 1e9)
        #expect(RangeFunctions.durationSeconds(milliseconds: 1_500) == 1.5)
    }

    // MARK: irate / idelta

    @Test func irate() {
        let foo = F.points("0+10x10", step: 5 * F.minute)
        let bar = F.points("0+10x5 0+10x5", step: 5 * F.minute)
        #expect(F.close(RangeFunctions.irate(F.window(foo, at: 50 * F.minute, range: 50 * F.minute)), 0.03333333333333333333))
        #expect(F.close(RangeFunctions.irate(F.window(bar, at: 50 * F.minute, range: 50 * F.minute)), 0.03333333333333333333))
        // Counter reset between the last two points: the last value over the interval.
        #expect(RangeFunctions.irate(F.window(bar, at: 30 * F.minute, range: 50 * F.minute)) == 0)
        #expect(RangeFunctions.irate([FloatPoint(t: 0, v: 1)][...]) == nil)
        #expect(RangeFunctions.irate([FloatPoint(t: 0, v: 1), FloatPoint(t: 0, v: 2)][...]) == nil)
    }

    @Test(arguments: [(0, nil), (5, Double.nan), (10, .nan), (15, .nan), (20, 0.02)] as [(Int64, Double?)])
    func irateNaNRange(_ minutes: Int64, _ expected: Double?) {
        let nan = F.points("1 NaN NaN 5 11", step: 5 * F.minute)
        let window = F.window(nan, at: minutes * F.minute, range: 15 * F.minute + F.second)
        #expect(F.close(RangeFunctions.irate(window), expected))
    }

    @Test(arguments: [(0, nil), (5, Double.nan), (10, .nan), (15, .nan), (20, 6)] as [(Int64, Double?)])
    func ideltaNaNRange(_ minutes: Int64, _ expected: Double?) {
        let nan = F.points("1 NaN NaN 5 11", step: 5 * F.minute)
        let window = F.window(nan, at: minutes * F.minute, range: 15 * F.minute + F.second)
        #expect(F.close(RangeFunctions.idelta(window), expected))
    }

    @Test func idelta() {
        let at = 20 * F.minute
        #expect(RangeFunctions.idelta(F.window(F.points("0 50 100 150", step: 5 * F.minute), at: at, range: at)) == 50)
        #expect(RangeFunctions.idelta(F.window(F.points("0 50 100 50", step: 5 * F.minute), at: at, range: at)) == -50)
    }

    // MARK: deriv / predict_linear

    @Test func deriv() {
        let total = F.points("0+80x10", step: 5 * F.minute)
        #expect(F.close(RangeFunctions.deriv(F.window(total, at: 50 * F.minute, range: 50 * F.minute)), 0.26666666666666666))
        let reset = F.points("0+10x4 0+10x5", step: 5 * F.minute)
        #expect(F.close(RangeFunctions.deriv(F.window(reset, at: 50 * F.minute, range: 100 * F.minute)), 0.010606060606060607))
        let inf = F.points("-Inf 0+80x10 Inf", step: 5 * F.minute)
        #expect(RangeFunctions.deriv(F.window(inf, at: 100 * F.minute, range: 100 * F.minute))?.isNaN == true)
        #expect(RangeFunctions.deriv([FloatPoint(t: 0, v: 1)][...]) == nil)
        // Constant series: slope 0, but a constant infinity gives NaN.
        #expect(RangeFunctions.deriv([FloatPoint(t: 0, v: 3), FloatPoint(t: 1000, v: 3)][...]) == 0)
        #expect(RangeFunctions.deriv([FloatPoint(t: 0, v: .infinity), FloatPoint(t: 1000, v: .infinity)][...])?.isNaN == true)
    }

    @Test(arguments: [
        (50 * F.minute, 50 * F.minute, 50 * F.minute, 70.0),
        // predict_linear(x[55m] @ 3000, 3600) at 50m, 10m and 70m: the window stays, the intercept moves.
        (3_000 * F.second, 55 * F.minute, 50 * F.minute, 76.81818181818181),
        (3_000 * F.second, 55 * F.minute, 10 * F.minute, 51.36363636363637),
        (3_000 * F.second, 55 * F.minute, 70 * F.minute, 89.54545454545455),
    ] as [(Int64, Int64, Int64, Double)])
    func predictLinear(_ windowEnd: Int64, _ range: Int64, _ evaluationTime: Int64, _ expected: Double) {
        let reset = F.points("0+10x4 0+10x5", step: 5 * F.minute)
        let window = F.window(reset, at: windowEnd, range: range)
        #expect(F.close(RangeFunctions.predictLinear(window, seconds: 3600, evaluationTime: evaluationTime), expected))
    }

    @Test func predictLinearInfinite() {
        let inf = F.points("-Inf 0+80x10 Inf", step: 5 * F.minute)
        let window = F.window(inf, at: 100 * F.minute, range: 100 * F.minute)
        #expect(RangeFunctions.predictLinear(window, seconds: 6000, evaluationTime: 100 * F.minute)?.isNaN == true)
        // With a sample exactly at the evaluation time on the line, predict_linear equals value + deriv·t.
        let total = F.window(F.points("0+80x10", step: 5 * F.minute), at: 50 * F.minute, range: 50 * F.minute)
        let predicted = RangeFunctions.predictLinear(total, seconds: 3600, evaluationTime: 50 * F.minute)
        #expect(F.close(predicted, 800 + 0.26666666666666666 * 3600))
    }

    // MARK: resets / changes

    static let resetsCases: [(String, Int64, Double?)] = [
        ("1 2 3 0 1 0 0 1 2 0", 5, nil), ("1 2 3 0 1 0 0 1 2 0", 10, 0), ("1 2 3 0 1 0 0 1 2 0", 20, 1),
        ("1 2 3 0 1 0 0 1 2 0", 30, 1), ("1 2 3 0 1 0 0 1 2 0", 32, 2), ("1 2 3 0 1 0 0 1 2 0", 50, 3),
        ("1 2 3 4 5 1 2 3 4 5", 32, 1), ("1 2 3 4 5 1 2 3 4 5", 50, 1), ("0 0 0 0 0 1 1 1 1 1", 50, 0),
    ]

    @Test(arguments: resetsCases)
    func resets(_ series: String, _ rangeMinutes: Int64, _ expected: Double?) {
        let window = F.window(F.points(series, step: 5 * F.minute), at: 50 * F.minute, range: rangeMinutes * F.minute)
        #expect(RangeFunctions.resets(window) == expected)
    }

    static let changesCases: [(String, Int64, Double?)] = [
        ("1 2 3 0 1 0 0 1 2 0", 5, nil), ("1 2 3 0 1 0 0 1 2 0", 6, 0), ("1 2 3 0 1 0 0 1 2 0", 20, 2),
        ("1 2 3 0 1 0 0 1 2 0", 30, 3), ("1 2 3 0 1 0 0 1 2 0", 50, 7), ("1 2 3 4 5 1 2 3 4 5", 30, 4),
        ("1 2 3 4 5 1 2 3 4 5", 50, 8), ("0 0 0 0 0 1 1 1 1 1", 50, 1),
    ]

    @Test(arguments: changesCases)
    func changes(_ series: String, _ rangeMinutes: Int64, _ expected: Double?) {
        let window = F.window(F.points(series, step: 5 * F.minute), at: 50 * F.minute, range: rangeMinutes * F.minute)
        #expect(RangeFunctions.changes(window) == expected)
    }

    @Test func changesWithNaN() {
        #expect(RangeFunctions.changes(F.points("NaN NaN NaN", step: 5 * F.minute)[...]) == 0)
        #expect(RangeFunctions.changes(F.points("0 NaN 0", step: 5 * F.minute)[...]) == 2)
    }

    // MARK: *_over_time

    static let avgCases: [PromQLRangeFunctionCase] = [
        .init(name: "no samples", series: "1 2 3 4 5", step: 10 * F.second, at: 55 * F.second, range: 10 * F.second, expected: nil),
        .init(name: "one sample", series: "1 2 3 4 5", step: 10 * F.second, at: 55 * F.second, range: 20 * F.second, expected: 5),
        .init(name: "all", series: "1 2 3 4 5", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: 3),
        .init(name: "+Inf", series: "1 2 3 4 Inf", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: .infinity),
        .init(name: "-Inf", series: "1 2 3 4 -Inf", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: -.infinity),
        .init(name: "Inf -Inf", series: "1 2 3 Inf -Inf", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: .nan),
        .init(name: "Inf 0 Inf", series: "Inf 0 Inf", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: .infinity),
        .init(name: "Inf Inf Inf -Inf", series: "Inf Inf Inf -Inf", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: .nan),
        .init(name: "-Inf -Inf", series: "1 2 3 -Inf -Inf", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: -.infinity),
        .init(name: "-Inf 0 -Inf", series: "-Inf 0 -Inf", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: -.infinity),
        .init(name: "-Inf x3 Inf", series: "-Inf -Inf -Inf Inf", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: .nan),
        .init(name: "mixed infinities", series: "1 2 -Inf -Inf Inf", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: .nan),
        .init(name: "overflowing sum", series: "9.988465674311579e+307 9.988465674311579e+307", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: 9.988465674311579e+307),
        .init(name: "overflowing negative sum", series: "-9.988465674311579e+307 -9.988465674311579e+307 -9.988465674311579e+307", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: -9.988465674311579e+307),
        .init(name: "huge cancelling", series: "-9.988465674311579e+307 9.988465674311579e+307", step: 10 * F.second, at: 55 * F.second, range: F.minute, expected: 0),
        .init(name: "NaN later", series: "1 2 3 NaN NaN", step: 10 * F.second, at: 20 * F.second, range: F.minute, expected: 2),
        .init(name: "NaN included", series: "1 2 3 NaN NaN", step: 10 * F.second, at: 30 * F.second, range: F.minute, expected: .nan),
        .init(name: "Kahan", series: "1 1e100 1 -1e100", step: 10 * F.second, at: F.minute, range: 2 * F.minute, expected: 0.5),
        .init(name: "extreme 1", series: "1e10 1e-6 1e-6 1e-6 1e-6 1e-6", step: 5 * F.second, at: 55 * F.second, range: F.minute, expected: 1.6666666666666675e+09),
        .init(name: "extreme 2", series: "5.30921651659898 0.961118537914768 1.62091361305318 0.865089463758091 0.323055185914577 0.951811357687154", step: 5 * F.second, at: 55 * F.second, range: F.minute, expected: 1.67186744582113),
        .init(name: "extreme 3", series: "1.78264e50 0.76342771 1.9592258 7.69805412 458.90154", step: 5 * F.second, at: 55 * F.second, range: F.minute, expected: 3.56528E+49),
        .init(name: "extreme 5", series: "1.78264E+50 0.76342771 1.9592258 2.258E+220 7.69805412 458.90154", step: 5 * F.second, at: 55 * F.second, range: F.minute, expected: 3.76333333333333E+219),
        .init(name: "extreme 7", series: "-1.78264E+50 0.76342771 1.9592258 -2.258E+220 7.69805412 -458.90154", step: 5 * F.second, at: 55 * F.second, range: F.minute, expected: -3.76333333333333E+219),
        .init(name: "extreme 8", series: "-1.78264E+215 0.76342771 1.9592258 2.258E+220 7.69805412 -458.90154", step: 5 * F.second, at: 55 * F.second, range: F.minute, expected: 3.76330362266667E+219),
        .init(name: "extreme 9", series: "-1.78264E+215 0.76342771 1.9592258 2.258E+220 7.69805412 1.78264E+215 -458.90154", step: 5 * F.second, at: 55 * F.second, range: F.minute, expected: 3.225714285714286e+219),
        .init(name: "extreme 10", series: "-1.78264E+219 0.76342771 1.9592258 2.3757689E+217 -2.3757689E+217 2.258E+220 7.69805412 1.78264E+219 -458.90154", step: 5 * F.second, at: 55 * F.second, range: F.minute, expected: 2.5088888888888888e+219),
        .init(name: "extreme 11 (Kahan gives 0)", series: "-2.258E+220 -1.78264E+219 0.76342771 1.9592258 2.3757689E+217 -2.3757689E+217 2.258E+220 7.69805412 1.78264E+219 -458.90154", step: 5 * F.second, at: 55 * F.second, range: F.minute, expected: 0),
    ]

    @Test(arguments: avgCases)
    func avgOverTime(_ c: PromQLRangeFunctionCase) {
        let window = F.window(F.points(c.series, step: c.step), at: c.at, range: c.range)
        let result = RangeFunctions.avgOverTime(window)
        #expect(F.close(result, c.expected), "\(String(describing: result))")
    }

    @Test(arguments: [100, 110, 120, 130] as [Int64])
    func avgOverTimeIsExactForConstants(_ rangeSeconds: Int64) {
        let foo = F.points("52+0x100", step: 10 * F.second)
        #expect(RangeFunctions.avgOverTime(F.window(foo, at: 10 * F.minute, range: rangeSeconds * F.second)) == 52)
    }

    @Test func avgOverTimeSwitchesToIncrementalMean() {
        // Summing overflows at the third value; the incremental mean still gets the right answer.
        let big = Double.greatestFiniteMagnitude / 2
        let points = [FloatPoint(t: 1, v: big), FloatPoint(t: 2, v: big), FloatPoint(t: 3, v: big), FloatPoint(t: 4, v: big)]
        #expect(F.close(RangeFunctions.avgOverTime(points[...]), big))
    }

    @Test func sumOverTime() {
        let kahan = F.points("1 1e100 1 -1e100", step: 10 * F.second)
        #expect(RangeFunctions.sumOverTime(F.window(kahan, at: F.minute, range: 2 * F.minute)) == 2)
        let dense = F.points("1+0x4000", step: 1)
        for range in [1000, 1001, 1002, 1003, 2000, 2001, 2002, 2003, 3000, 3001, 3002, 3003] as [Int64] {
            #expect(RangeFunctions.sumOverTime(F.window(dense, at: 4000, range: range)) == Double(range))
        }
        #expect(RangeFunctions.sumOverTime([FloatPoint(t: 0, v: 1), FloatPoint(t: 1, v: .nan)][...])?.isNaN == true)
        #expect(RangeFunctions.sumOverTime([FloatPoint(t: 0, v: .infinity), FloatPoint(t: 1, v: 1)][...]) == .infinity)
        #expect(RangeFunctions.sumOverTime([][...]) == nil)
    }

    static let extremeCases: [(String, Double?, Double?, Double?, Double?, Double?)] = [
        // series, min, max, last, first, count (window (−60s, 60s] at 1m over `load 10s`)
        ("2 0 3", 0, 3, 3, 2, 3),
        ("2 0 NaN", 0, 2, .nan, 2, 3),
        ("2 NaN 1", 1, 2, 1, 2, 3),
        ("NaN 0 1", 0, 1, 1, .nan, 3),
        ("NaN NaN NaN", .nan, .nan, .nan, .nan, 3),
        ("_ 5 2 _ 4 _", 2, 5, 4, 5, 3),
        ("_ _ _", nil, nil, nil, nil, nil),
    ]

    @Test(arguments: extremeCases)
    func minMaxLastFirstCount(_ series: String, _ min: Double?, _ max: Double?, _ last: Double?, _ first: Double?, _ count: Double?) {
        let window = F.window(F.points(series, step: 10 * F.second), at: F.minute, range: 2 * F.minute)
        #expect(F.close(RangeFunctions.minOverTime(window), min))
        #expect(F.close(RangeFunctions.maxOverTime(window), max))
        #expect(F.close(RangeFunctions.lastOverTime(window), last))
        #expect(F.close(RangeFunctions.firstOverTime(window), first))
        #expect(F.close(RangeFunctions.countOverTime(window), count))
        #expect(RangeFunctions.presentOverTime(window) == (count == nil ? nil : 1))
    }

    @Test func tsOfMinMaxFirstLast() {
        let metric = F.points("1 2 3 0 5 6 2 1 4", step: 10_053)
        let window = F.window(metric, at: 90 * F.second, range: 90 * F.second)
        #expect(RangeFunctions.tsOfMinOverTime(window) == 30.159)
        #expect(RangeFunctions.tsOfMaxOverTime(window) == 50.265)
        let sparse = F.points("1 2 3 _ _", step: 10_053)
        #expect(RangeFunctions.tsOfLastOverTime(F.window(sparse, at: 90 * F.second, range: 90 * F.second)) == 20.106)
        let late = F.points("_ _ 1 2 3 _ _", step: 10_053)
        #expect(RangeFunctions.tsOfFirstOverTime(F.window(late, at: 95 * F.second, range: 90 * F.second)) == 20.106)
        #expect(RangeFunctions.tsOfFirstOverTime(F.window(late, at: 15 * F.second, range: 90 * F.second)) == nil)
    }

    @Test func stddevStdvarOverTime() {
        let metric = F.window(F.points("0 8 8 2 3", step: 10 * F.second), at: F.minute, range: 2 * F.minute)
        #expect(F.close(RangeFunctions.stdvarOverTime(metric), 10.56))
        #expect(F.close(RangeFunctions.stddevOverTime(metric), 3.249615))
        let constant = F.points("1.5990505637277868 1.5990505637277868 1.5990505637277868", step: 10 * F.second)
        #expect(RangeFunctions.stdvarOverTime(constant[...]) == 0)
        #expect(RangeFunctions.stddevOverTime(constant[...]) == 0)
        #expect(RangeFunctions.stdvarOverTime([FloatPoint(t: 0, v: 1)][...]) == 0)
        #expect(RangeFunctions.stdvarOverTime([FloatPoint(t: 0, v: 1), FloatPoint(t: 1, v: .infinity)][...])?.isNaN == true)
    }

    @Test func madOverTime() {
        let metric = F.points("4 6 2 1 999 1 2", step: 10 * F.second)
        #expect(RangeFunctions.madOverTime(F.window(metric, at: 70 * F.second, range: 70 * F.second)) == 1)
        #expect(RangeFunctions.madOverTime(F.window(F.points("1 2 3 4 5", step: 10 * F.second), at: 40 * F.second, range: 50 * F.second)) == 1)
        #expect(RangeFunctions.madOverTime(F.points("7 7 7 7 7", step: 10 * F.second)[...]) == 0)
        #expect(RangeFunctions.madOverTime(F.points("5", step: 10 * F.second)[...]) == 0)
        #expect(RangeFunctions.madOverTime(F.points("1 2 NaN 4", step: 10 * F.second)[...])?.isNaN == true)
    }

    static let quantileCases: [(Double, Double, Double, Double)] = [
        // φ, "0 1", "0 1 2", "0 1 4"
        (0, 0, 0, 0), (0.5, 0.5, 1, 1), (0.75, 0.75, 1.5, 2.5), (0.8, 0.8, 1.6, 2.8), (1, 1, 2, 4),
        (-1, -.infinity, -.infinity, -.infinity), (2, .infinity, .infinity, .infinity), (.nan, .nan, .nan, .nan),
    ]

    @Test(arguments: quantileCases)
    func quantileOverTime(_ phi: Double, _ two: Double, _ three: Double, _ uneven: Double) {
        func q(_ series: String) -> Double? {
            RangeFunctions.quantileOverTime(phi, F.window(F.points(series, step: 10 * F.second), at: F.minute, range: 2 * F.minute))
        }
        #expect(F.close(q("0 1"), two))
        #expect(F.close(q("0 1 2"), three))
        #expect(F.close(q("0 1 4"), uneven))
        #expect(RangeFunctions.quantileOverTime(phi, [][...]) == nil)
    }

    // MARK: double_exponential_smoothing

    @Test(arguments: [
        ("0+10x1000 100+30x1000", 8000.0), ("0+20x1000 200+30x1000", 16000), ("0+30x1000 300+80x1000", 24000),
        ("0+40x2000", 32000), ("8000-10x1000", 0), ("0-20x1000", -16000), ("0-40x1000 0+40x1000", -32000),
    ] as [(String, Double)])
    func doubleExponentialSmoothing(_ series: String, _ expected: Double) throws {
        let window = F.window(F.points(series, step: 10 * F.second), at: 8000 * F.second, range: F.minute)
        let result = try RangeFunctions.doubleExponentialSmoothing(window, smoothingFactor: 0.01, trendFactor: 0.1)
        #expect(F.close(result, expected), "\(String(describing: result))")
    }

    @Test func doubleExponentialSmoothingValidation() throws {
        let points = F.points("1 2 3", step: F.second)[...]
        #expect(throws: SightlineError.self) { try RangeFunctions.doubleExponentialSmoothing(points, smoothingFactor: 1, trendFactor: 0.5) }
        do {
            _ = try RangeFunctions.doubleExponentialSmoothing(points, smoothingFactor: 1.5, trendFactor: 0.5)
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.500000")
        }
        do {
            _ = try RangeFunctions.doubleExponentialSmoothing(points, smoothingFactor: 0.5, trendFactor: 0)
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "invalid trend factor. Expected: 0 < tf < 1, got: 0.000000")
        }
        let single = try RangeFunctions.doubleExponentialSmoothing([FloatPoint(t: 0, v: 1)][...], smoothingFactor: 0.5, trendFactor: 0.5)
        #expect(single == nil)
        // Two points: level 1, trend 1; one step: 0.5·2 + 0.5·(1 + 1) = 2.
        let two = try RangeFunctions.doubleExponentialSmoothing(F.points("1 2", step: F.second)[...], smoothingFactor: 0.5, trendFactor: 0.5)
        #expect(two == 2)
    }
}
