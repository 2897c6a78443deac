import SightlineCore
import Testing

@testable import SightlineQuery

private typealias F = PromQLFunctionFixtures

@Suite("PromQL instant-vector functions")
struct PromQLFunctionInstantTests {
    // MARK: Math

    static let roundingInputs: [Double] = [2.5, 2, -2.5, -2, 0, -0.0, .infinity, -.infinity, .nan]

    @Test func absCeilFloorRound() {
        let abs: [Double] = [2.5, 2, 2.5, 2, 0, 0, .infinity, .infinity, .nan]
        let ceil: [Double] = [3, 2, -2, -2, 0, 0, .infinity, -.infinity, .nan]
        let floor: [Double] = [2, 2, -3, -2, 0, 0, .infinity, -.infinity, .nan]
        let round: [Double] = [3, 2, -2, -2, 0, 0, .infinity, -.infinity, .nan]
        for (index, v) in Self.roundingInputs.enumerated() {
            #expect(F.close(MathFunctions.abs(v), abs[index]))
            #expect(F.close(MathFunctions.ceil(v), ceil[index]))
            #expect(F.close(MathFunctions.floor(v), floor[index]))
            #expect(F.close(MathFunctions.round(v), round[index]))
        }
        // round(-1 * (5.2 + 0.0005 * x), 0.1) for x = 100, 200 (aggregators.test).
        #expect(F.close(MathFunctions.round(-1 * (5.2 + 0.0005 * 100), toNearest: 0.1), -5.2))
        #expect(F.close(MathFunctions.round(-1 * (5.2 + 0.0005 * 200), toNearest: 0.1), -5.3))
        // Big toNearest values.
        #expect(MathFunctions.round(0.025 * 100, toNearest: 5) == 5)
        #expect(MathFunctions.round(0.025 * 200, toNearest: 5) == 5)
        #expect(MathFunctions.round(0.045 * 100, toNearest: 5) == 5)
        #expect(MathFunctions.round(0.045 * 200, toNearest: 5) == 10)
    }

    @Test(arguments: [
        (10.0, 22026.465794806718, 2.302585092994046, 3.1622776601683795, 3.3219280948873626, 1.0),
        (20.0, 485165195.4097903, 2.995732273553991, 4.47213595499958, 4.321928094887363, 1.301029995663981),
        (0.0, 1, -.infinity, 0, -.infinity, -.infinity),
        (-10.0, 4.5399929762484854e-05, .nan, .nan, .nan, .nan),
    ] as [(Double, Double, Double, Double, Double, Double)])
    func expLnSqrtLog(_ v: Double, _ exp: Double, _ ln: Double, _ sqrt: Double, _ log2: Double, _ log10: Double) {
        #expect(F.close(MathFunctions.exp(v), exp))
        #expect(F.close(MathFunctions.ln(v), ln))
        #expect(F.close(MathFunctions.sqrt(v), sqrt))
        #expect(F.close(MathFunctions.log2(v), log2))
        #expect(F.close(MathFunctions.log10(v), log10))
    }

    @Test func logsFollowGo() {
        // Go's Log2 is exact for powers of two.
        #expect(MathFunctions.log2(1024) == 10)
        #expect(MathFunctions.log2(0.125) == -3)
        #expect(MathFunctions.log2(-1).isNaN)
        #expect(MathFunctions.log2(0) == -.infinity)
        #expect(MathFunctions.log10(100) == 2)
        #expect(MathFunctions.log10(-1).isNaN)
        #expect(MathFunctions.log2(.infinity) == .infinity)
        #expect(MathFunctions.exp(MathFunctions.ln(10)) == 10.000000000000002 || MathFunctions.exp(MathFunctions.ln(10)) == 10)
    }

    @Test func sgn() {
        let inputs: [Double] = [-.infinity, .infinity, .nan, -50, 0, 100]
        let expected: [Double] = [-1, 1, .nan, -1, 0, 1]
        for (v, e) in zip(inputs, expected) { #expect(F.close(MathFunctions.sgn(v), e)) }
        #expect(MathFunctions.sgn(-0.0).sign == .minus)
    }

    @Test func clamp() {
        let inputs: [Double] = [-50, 0, 100]
        #expect(inputs.map { MathFunctions.clampMax($0, max: 75) } == [-50, 0, 75])
        #expect(inputs.map { MathFunctions.clampMin($0, min: -25) } == [-25, 0, 100])
        #expect(inputs.compactMap { MathFunctions.clamp($0, min: -25, max: 75) } == [-25, 0, 75])
        #expect(inputs.compactMap { MathFunctions.clamp(MathFunctions.clampMin($0, min: -20), min: -.infinity, max: 70) } == [-20, 0, 70])
        #expect(inputs.allSatisfy { MathFunctions.clamp($0, min: 0, max: .nan)?.isNaN == true })
        #expect(inputs.allSatisfy { MathFunctions.clamp($0, min: .nan, max: 0)?.isNaN == true })
        #expect(inputs.allSatisfy { MathFunctions.clamp($0, min: 5, max: -5) == nil })
        // Go's Max/Min: an infinity wins over NaN, +0 beats -0 in Max.
        #expect(MathFunctions.goMax(.infinity, .nan) == .infinity)
        #expect(MathFunctions.goMin(-.infinity, .nan) == -.infinity)
        #expect(MathFunctions.goMax(-0.0, 0).sign == .plus)
        #expect(MathFunctions.goMin(0, -0.0).sign == .minus)
        #expect(MathFunctions.clamp(.nan, min: 0, max: 1)?.isNaN == true)
    }

    static let trigCases: [(String, @Sendable (Double) -> Double, Double, [Double])] = [
        // function, kernel, offset applied to [10, 20, NaN], expected
        ("sin", MathFunctions.sin, 0, [-0.5440211108893699, 0.9129452507276277]),
        ("cos", MathFunctions.cos, 0, [-0.8390715290764524, 0.40808206181339196]),
        ("tan", MathFunctions.tan, 0, [0.6483608274590867, 2.2371609442247427]),
        ("asin", MathFunctions.asin, -10.1, [-0.10016742116155944, .nan]),
        ("acos", MathFunctions.acos, -10.1, [1.670963747956456, .nan]),
        ("atan", MathFunctions.atan, 0, [1.4711276743037345, 1.5208379310729538]),
        ("sinh", MathFunctions.sinh, 0, [11013.232920103324, 2.4258259770489514e+08]),
        ("cosh", MathFunctions.cosh, 0, [11013.232920103324, 2.4258259770489514e+08]),
        ("tanh", MathFunctions.tanh, 0, [0.9999999958776927, 1]),
        ("asinh", MathFunctions.asinh, 0, [2.99822295029797, 3.6895038689889055]),
        ("acosh", MathFunctions.acosh, 0, [2.993222846126381, 3.6882538673612966]),
        ("atanh", MathFunctions.atanh, -10.1, [-0.10033534773107522, .nan]),
        ("rad", MathFunctions.rad, 0, [0.17453292519943295, 0.3490658503988659]),
        ("rad - 10", MathFunctions.rad, -10, [0, 0.17453292519943295]),
        ("rad - 20", MathFunctions.rad, -20, [-0.17453292519943295, 0]),
        ("deg", MathFunctions.deg, 0, [572.9577951308232, 1145.9155902616465]),
        ("deg - 10", MathFunctions.deg, -10, [0, 572.9577951308232]),
        ("deg - 20", MathFunctions.deg, -20, [-572.9577951308232, 0]),
    ]

    @Test func trigonometry() {
        for (name, kernel, offset, expected) in Self.trigCases {
            #expect(F.close(kernel(10 + offset), expected[0]), "\(name)(x)")
            #expect(F.close(kernel(20 + offset), expected[1]), "\(name)(y)")
            #expect(kernel(.nan + offset).isNaN, "\(name)(NaN)")
        }
    }

    // MARK: Calendar

    static let calendarCases: [(String, @Sendable (Double) -> Double, Double, Double)] = [
        ("year", CalendarFunctions.year, 0, 1970),
        ("year", CalendarFunctions.year, 1136239445, 2006),
        ("month", CalendarFunctions.month, 0, 1),
        ("month", CalendarFunctions.month, 1136239445, 1),
        ("day_of_month", CalendarFunctions.dayOfMonth, 0, 1),
        ("day_of_month", CalendarFunctions.dayOfMonth, 1136239445, 2),
        ("day_of_year", CalendarFunctions.dayOfYear, 0, 1),
        ("day_of_year", CalendarFunctions.dayOfYear, 1136239445, 2),
        ("day_of_week", CalendarFunctions.dayOfWeek, 0, 4),
        ("day_of_week", CalendarFunctions.dayOfWeek, 1136239445, 1),
        ("hour", CalendarFunctions.hour, 0, 0),
        ("hour", CalendarFunctions.hour, 1136239445, 22),
        ("minute", CalendarFunctions.minute, 0, 0),
        ("minute", CalendarFunctions.minute, 1136239445, 4),
        ("year end 2008", CalendarFunctions.year, 1230767999, 2008),
        ("year start 2009", CalendarFunctions.year, 1230768000, 2009),
        ("month 2016-02-29", CalendarFunctions.month, 1456790399, 2),
        ("day 2016-02-29", CalendarFunctions.dayOfMonth, 1456790399, 29),
        ("month 2016-03-01", CalendarFunctions.month, 1456790400, 3),
        ("day 2016-03-01", CalendarFunctions.dayOfMonth, 1456790400, 1),
        ("day_of_year 2016-12-31 (leap)", CalendarFunctions.dayOfYear, 1483191420, 366),
        ("day_of_year 2022-12-31", CalendarFunctions.dayOfYear, 1672493820, 365),
        ("days_in_month 2016-02", CalendarFunctions.daysInMonth, 1454284800, 29),
        ("days_in_month 2017-02", CalendarFunctions.daysInMonth, 1485907200, 28),
        ("before the epoch: 1969-12-31 23:59:59", CalendarFunctions.year, -1, 1969),
        ("before the epoch: hour", CalendarFunctions.hour, -1, 23),
        ("before the epoch: weekday", CalendarFunctions.dayOfWeek, -1, 3),
        ("truncates toward zero: -59 s is 23:59:01", CalendarFunctions.minute, -59.9, 59),
        ("2000-02-29 (leap century)", CalendarFunctions.daysInMonth, 951782400, 29),
        ("1900-02 (no leap)", CalendarFunctions.daysInMonth, -2206310400, 28),
        ("far future", CalendarFunctions.year, 253402300799, 9999),
    ]

    @Test func calendar() {
        for (name, kernel, seconds, expected) in Self.calendarCases {
            #expect(kernel(seconds) == expected, "\(name)")
        }
        #expect(CalendarFunctions.year(.nan).isNaN)
        #expect(CalendarFunctions.month(.infinity).isNaN)
    }

    // MARK: Classic histograms

    typealias Buckets = [(le: Double, count: Double)]
    static let positive: Buckets = [(0.1, 50), (0.2, 70), (1, 110), (.infinity, 120)]
    static let negative: Buckets = [(-0.2, 10), (-0.1, 20), (0.3, 20), (.infinity, 30)]
    static let positive3: Buckets = [(0, 0), (0.1, 50), (0.2, 70), (1, 110), (.infinity, 110)]
    static let negative3: Buckets = [(-0.25, 0), (-0.2, 10), (-0.1, 20), (0.3, 20), (.infinity, 20)]

    static let quantileCases: [(Double, Buckets, Double)] = [
        (0, positive3, 0), (0, negative3, -0.25), (0.25, positive3, 0.055), (0.25, negative3, -0.225),
        (0.5, positive3, 0.125), (0.5, negative3, -0.2), (0.75, positive3, 0.45), (0.75, negative3, -0.15),
        (1, positive3, 1), (1, negative3, -0.1),
        (0, positive, 0), (0, negative, -0.2), (1, positive, 1), (1, negative, 0.3),
        (0.2, positive, 0.048), (0.2, negative, -0.2), (0.5, positive, 0.15), (0.5, negative, -0.15),
        (0.8, positive, 0.72), (0.8, negative, 0.3),
        (-0.1, positive, -.infinity), (1.01, negative, .infinity), (.nan, positive, .nan),
        (1.0 / 6, [(0, 0), (2, 1), (4, 2), (6, 3), (.infinity, 3)], 1),
        (0.5, [(0, 0), (2, 1), (4, 2), (6, 3), (.infinity, 3)], 3),
        (5.0 / 6, [(0, 0), (2, 1), (4, 2), (6, 3), (.infinity, 3)], 5),
        // Same bound written differently: merged.
        (0.5, [(0.1, 1), (0.2, 1), (0.2, 1), (0.2, 1), (.infinity, 4)], 0.15),
        (1, [(0.1, 1), (0.2, 1), (0.2, 1), (0.2, 1), (.infinity, 4)], 0.2),
        (0.5, [(.infinity, 0), (.infinity, 0)], .nan),
        // Unsorted input, no +Inf bucket, zero observations, single bucket.
        (0.5, [(.infinity, 3), (6, 3), (2, 1), (0, 0), (4, 2)], 3),
        (0.5, [(1, 1), (2, 2)], .nan),
        (0.5, [(1, 0), (.infinity, 0)], .nan),
        (0.5, [(.infinity, 10)], .nan),
        (0.5, [], .nan),
        // All observations in the +Inf bucket: the highest finite bound.
        (0.5, [(1, 0), (2, 0), (.infinity, 10)], 2),
    ]

    @Test(arguments: quantileCases)
    func histogramQuantile(_ q: Double, _ buckets: Buckets, _ expected: Double) {
        let result = ClassicHistogram.quantile(q, buckets: buckets)
        #expect(F.close(result.value, expected), "\(result.value)")
        #expect(!result.forcedMonotonicity)
    }

    @Test(arguments: [(0.01, 0.0045), (0.5, 8.5), (0.99, 979.75)])
    func histogramQuantileNonMonotonic(_ q: Double, _ expected: Double) {
        let buckets: Buckets = [(0.1, 20), (1, 10), (10, 50), (100, 40), (1000, 90), (.infinity, 80)]
        let result = ClassicHistogram.quantile(q, buckets: buckets)
        #expect(F.close(result.value, expected))
        #expect(result.forcedMonotonicity)
        #expect(result.minBucket == 1 && result.maxBucket == .infinity && result.maxDiff == 10)
        #expect(ClassicHistogram.forcedMonotonicityInfo.hasPrefix("input to histogram_quantile needed to be fixed for monotonicity"))
    }

    @Test func histogramQuantileNoiseAndNaN() {
        // A relative difference below 1e-12 is evened out silently.
        let noisy = ClassicHistogram.quantile(0.5, buckets: [(1, 10), (2, 10 - 1e-13), (.infinity, 10)])
        #expect(noisy.fixedPrecision && !noisy.forcedMonotonicity)
        #expect(F.close(noisy.value, 0.5))
        // NaN counts: the +Inf count is NaN, so nothing reaches the rank; the result is the highest finite bound.
        let nan = ClassicHistogram.quantile(0.5, buckets: [(1, 5), (2, .nan), (.infinity, .nan)])
        #expect(nan.value == 2)
        // The lowest bucket with a non-positive bound returns the bound itself.
        #expect(ClassicHistogram.quantile(0.1, buckets: [(-1, 5), (0, 10), (.infinity, 10)]).value == -1)
    }

    static let fractionCases: [(Double, Double, Buckets, Double)] = [
        (0, 4, [(0, 0), (2, 10), (4, 20), (6, 30), (.infinity, 30)], 0.6666666666666666),
        (0, 6, [(0, 0), (2, 10), (4, 20), (6, 30), (.infinity, 30)], 1),
        (0, 3.5, [(0, 0), (2, 10), (4, 20), (6, 30), (.infinity, 30)], 0.5833333333333334),
        (0, 0.2, positive3, 0.6363636363636364),
        (0, 0.2, negative3, 0),
        (0, 1.5, [(1, 1), (2, 3), (3, 6), (.infinity, 100)], 0.02),
        (-4, -2, [(-3, 10), (-2, 12), (-1, 15), (.infinity, 100)], 0.02),
        (-.infinity, -1.5, [(-3, 10), (-2, 12), (-1, 15), (.infinity, 100)], 0.135),
        (-.infinity, .infinity, [(1, 1), (2, 3), (3, 6), (.infinity, 100)], 1),
        (-.infinity, .infinity, [(-3, 10), (-2, 12), (-1, 15), (.infinity, 100)], 1),
        (4, 5, [(1, 1), (2, 3), (3, 6), (.infinity, 100)], 0),
        (0, 1, [(-3, 10), (-2, 12), (-1, 15), (.infinity, 100)], 0),
        (2, 5, [(1, 1), (2, 3), (3, 6), (.infinity, 100)], 0.03),
        (400, .infinity, [(1, 1), (2, 3), (3, 6), (.infinity, 100)], 0.94),
        (2, 2, [(1, 1), (2, 3), (3, 6), (.infinity, 100)], 0),
        (3, 2, [(1, 1), (2, 3), (3, 6), (.infinity, 100)], 0),
        (0, 1, [(.infinity, 100)], 0),
        (0, 5, [(1, 0), (2, 0), (3, 0), (.infinity, 0)], .nan),
        (.nan, 1, [(1, 1), (.infinity, 100)], .nan),
        (0, .nan, [(1, 1), (.infinity, 100)], .nan),
        (0, 1, [(1, 1), (2, 100)], .nan),
    ]

    @Test(arguments: fractionCases)
    func histogramFraction(_ lower: Double, _ upper: Double, _ buckets: Buckets, _ expected: Double) {
        let result = ClassicHistogram.fraction(lower: lower, upper: upper, buckets: buckets)
        #expect(F.close(result, expected), "\(result)")
    }

    // MARK: label_replace / label_join

    static let source10 = Labels(["__name__": "testmetric", "src": "source-value-10", "dst": "original-destination-value"])

    static let replaceCases: [(String, String, String, String, String?)] = [
        // dst, replacement, src, regex, expected dst value (nil: labels unchanged)
        ("dst", "destination-value-$1", "src", "source-value-(.*)", "destination-value-10"),
        ("dst", "destination-value-$1", "src", "value-(.*)", nil),
        ("dst", "$1-value-$2", "src", "(.*)-value-(.*)", "source-value-10"),
        ("dst", "value-$1", "nonexistent-src", "source-value-(.*)", nil),
        ("dst", "value-$1", "nonexistent-src", "(.*)", "value-"),
        ("dst", "value-$1", "src", "non-matching-regex", nil),
        ("dst", "${1}0", "src", "source-value-(.*)", "100"),
        ("dst", "$10", "src", "source-value-(.*)", ""),
        ("dst", "$1x", "src", "source-value-(.*)", ""),
        ("dst", "$name-$$-$", "src", "source-(?P<name>\\w+)-10", "value-$-$"),
        ("dst", "${name}", "src", "source-(?P<name>[a-z]+)-.*", "value"),
        ("dst", "x$01", "src", "(.*)", "x"),
        ("dst", "$}", "src", "(.*)", "$}"),
        ("new", "$1", "src", "source-value-([0-9])0", "1"),
        ("dst", "a\nb", "src", "source.value.10", "a\nb"),
    ]

    @Test(arguments: replaceCases)
    func labelReplace(_ dst: String, _ replacement: String, _ src: String, _ regex: String, _ expected: String?) throws {
        let replace = try LabelReplace(destination: dst, replacement: replacement, source: src, regex: regex)
        let result = replace.apply(to: Self.source10)
        if let expected {
            #expect(result?[dst] == (expected.isEmpty ? nil : expected))
            #expect(result?["src"] == "source-value-10")
        } else {
            #expect(result == nil)
        }
    }

    @Test func labelReplaceSemantics() throws {
        // An empty result removes the label.
        let drop = try LabelReplace(destination: "dst", replacement: "", source: "dst", regex: ".*")
        #expect(drop.apply(to: Self.source10) == Labels(["__name__": "testmetric", "src": "source-value-10"]))
        // `.` matches newlines and the match is anchored.
        let dotAll = try LabelReplace(destination: "d", replacement: "$1", source: "s", regex: "a(.*)")
        #expect(dotAll.apply(to: Labels(["s": "a\nb"]))?["d"] == "\nb")
        #expect(dotAll.apply(to: Labels(["s": "xa"])) == nil)
        // `\d` is ASCII only, as in RE2.
        let digits = try LabelReplace(destination: "d", replacement: "$0", source: "s", regex: "\\d+")
        #expect(digits.apply(to: Labels(["s": "١٢"])) == nil)
        #expect(digits.apply(to: Labels(["s": "12"]))?["d"] == "12")
        // Writing __name__ keeps the name; other destinations keep dropName.
        var sample = Sample(metric: Self.source10, t: 0, v: 1, dropName: true)
        try LabelReplace(destination: "__name__", replacement: "renamed", source: "src", regex: ".*").apply(to: &sample)
        #expect(sample.metric.metricName == "renamed" && !sample.dropName)
        var other = Sample(metric: Self.source10, t: 0, v: 1, dropName: true)
        try LabelReplace(destination: "x", replacement: "y", source: "src", regex: ".*").apply(to: &other)
        #expect(other.metric["x"] == "y" && other.dropName)
    }

    @Test func labelReplaceErrors() {
        do {
            _ = try LabelReplace(destination: "dst", replacement: "value-$1", source: "src", regex: "(.*")
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "invalid regular expression in label_replace(): (.*")
        }
        do {
            _ = try LabelReplace(destination: "\u{FFFD}", replacement: "", source: "src", regex: "(.*)")
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "invalid destination label name in label_replace(): \u{FFFD}")
        }
        #expect(throws: SightlineError.self) { try LabelReplace(destination: "", replacement: "", source: "", regex: "") }
    }

    @Test func labelJoin() throws {
        let metric = Labels(["__name__": "testmetric", "src": "a", "src1": "b", "src2": "c", "dst": "original-destination-value"])
        #expect(try LabelJoin(destination: "dst", separator: "-", sources: ["src", "src1", "src2"]).apply(to: metric)["dst"] == "a-b-c")
        #expect(try LabelJoin(destination: "dst", separator: "-", sources: ["src", "src3", "src1"]).apply(to: metric)["dst"] == "a--b")
        #expect(try LabelJoin(destination: "dst", separator: "", sources: ["emptysrc", "emptysrc1"]).apply(to: metric)["dst"] == nil)
        #expect(try LabelJoin(destination: "dst", separator: ", ", sources: []).apply(to: metric)["dst"] == nil)
        let created = try LabelJoin(destination: "dst", separator: ", ", sources: ["src", "src1", "src2"])
            .apply(to: Labels(["src": "foo", "src1": "bar", "src2": "foobar"]))
        #expect(created == Labels(["src": "foo", "src1": "bar", "src2": "foobar", "dst": "foo, bar, foobar"]))
        do {
            _ = try LabelJoin(destination: "dst", separator: "", sources: ["ok", ""])
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "invalid source label name in label_join(): ")
        }
        do {
            _ = try LabelJoin(destination: "", separator: "", sources: ["ok"])
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "invalid destination label name in label_join(): ")
        }
    }
}
