import SightlineCore
import Testing
@testable import SightlineQuery

/// Grammar, precedence, literals, modifiers and the smaller entry points of ``PromQLParser``.
@Suite struct PromQLParserTests {
    func parse(_ input: String, options: PromQLParser.Options = .default) throws -> Expr {
        try PromQLParser.parse(input, options: options)
    }

    /// Parses and prints with explicit parentheses around every binary and unary operation.
    func shape(_ input: String, options: PromQLParser.Options = .default) throws -> String {
        func render(_ expr: Expr) -> String {
            switch expr {
            case .binary(let binary): "(\(render(binary.lhs)) \(binary.op.rawValue) \(render(binary.rhs)))"
            case .unary(let op, let inner): "(\(op.rawValue)\(render(inner)))"
            case .paren(let inner): render(inner)
            default: expr.description
            }
        }
        return render(try parse(input, options: options))
    }

    @Test(arguments: [
        ("1 + 2 * 3", "(1 + (2 * 3))"),
        ("1 * 2 + 3", "((1 * 2) + 3)"),
        ("2 ^ 3 ^ 2", "(2 ^ (3 ^ 2))"),
        ("-2 ^ 2", "(-(2 ^ 2))"),
        ("-foo ^ 2", "(-(foo ^ 2))"),
        ("-foo * 2", "((-foo) * 2)"),
        ("2 ^ -1 * 3", "((2 ^ -1) * 3)"),
        ("1 - 2 - 3", "((1 - 2) - 3)"),
        ("a or b and c", "(a or (b and c))"),
        ("a and b or c unless d", "((a and b) or (c unless d))"),
        ("a unless b and c", "((a unless b) and c)"),
        ("a > b + 1", "(a > (b + 1))"),
        ("a == bool b or c", "((a == b) or c)"),
        ("a + b % c atan2 d", "(a + ((b % c) atan2 d))"),
        ("a </ b + 1", "(a </ (b + 1))"),
        ("-foo offset 5m", "(-foo offset 5m)"),
        ("a + b offset 1m", "(a + b offset 1m)"),
        ("foo offset 100 + 2", "(foo offset 1m40s + 2)"),
        ("--1", "1"),
        ("-(1)", "(-1)"),
    ])
    func precedence(input: String, expected: String) throws {
        #expect(try shape(input) == expected)
    }

    @Test func unaryMinusFoldsIntoLiterals() throws {
        #expect(try parse("-1") == .number(-1))
        #expect(try parse("+Inf") == .number(.infinity))
        #expect(try parse("-5m") == .number(-300, isDuration: true))
        #expect(try parse("-(1)") == .unary(.minus, .paren(.number(1))))
        #expect(try parse("-2^2").description == "-2 ^ 2")
    }

    @Test func keywordsAreCaseInsensitive() throws {
        let expr = try parse("SUM BY (job) (foo) AND ON(a) bar OFFSET 5m")
        guard case .binary(let binary) = expr, case .aggregate(let aggregate) = binary.lhs else {
            Issue.record("unexpected tree \(expr)")
            return
        }
        #expect(binary.op == .and)
        #expect(aggregate.op == .sum && aggregate.grouping == ["job"])
        #expect(try parse("foo == BOOL 1").description == "foo == bool 1")
        #expect(try parse("foo * IGNORING(a) GROUP_LEFT(b) bar").description == "foo * ignoring (a) group_left (b) bar")
        #expect(try parse("x @ START()").description == "x @ start()")
        #expect(try parse("Inf").description == "+Inf")
        #expect(try parse("nan").description == "NaN")
        #expect(try parse("sum(foo) without (instance)").description == "sum without (instance) (foo)")
    }

    @Test func keywordsAreMetricNamesWhereAnExpressionStarts() throws {
        #expect(try parse("sum") == .vectorSelector(VectorSelector(name: "sum", matchers: [try LabelMatcher("__name__", .equal, "sum")])))
        #expect(try parse("by + offset").description == "by + offset")
        #expect(try parse("avg{a=\"b\"}").description == "avg{a=\"b\"}")
        #expect(try parse("fill + fill", options: .allFeatures).description == "fill + fill")
        #expect(try parse("sum by (offset, bool, sum) (foo)").description == "sum by (offset, bool, sum) (foo)")
    }

    @Test func selectors() throws {
        guard case .vectorSelector(let selector) = try parse(#"foo:bar{a="b", c!="d", e=~"f.*", g!~"h",}"#) else {
            Issue.record("not a selector")
            return
        }
        #expect(selector.name == "foo:bar")
        #expect(selector.matchers.map(\.description) == [#"a="b""#, #"c!="d""#, #"e=~"f.*""#, #"g!~"h""#, #"__name__="foo:bar""#])
        guard case .vectorSelector(let quoted) = try parse(#"{"my.metric", "label.name"="v"}"#) else {
            Issue.record("not a selector")
            return
        }
        #expect(quoted.name == nil)
        #expect(quoted.matchers.map { "\($0.name)\($0.kind.rawValue)\($0.value)" } == ["__name__=my.metric", "label.name=v"])
        #expect(try parse(#"{"my.metric", "label.name"="v"}"#).description == #"{"label.name"="v",__name__="my.metric"}"#)
        #expect(try parse("foo # a comment\n + bar").description == "foo + bar")
    }

    @Test func offsetsAndAtInAnyOrder() throws {
        let a = try parse("foo offset 5m @ 100")
        let b = try parse("foo @ 100 offset 5m")
        #expect(a == b)
        guard case .vectorSelector(let selector) = a else {
            Issue.record("not a selector")
            return
        }
        #expect(selector.offset == 300_000)
        #expect(selector.at == .timestamp(100_000))
        #expect(a.description == "foo @ 100.000 offset 5m")
        #expect(try parse("foo offset -1h30m").description == "foo offset -1h30m")
        #expect(try parse("foo[5m] @ end() offset 1m") == parse("foo[5m] offset 1m @ end()"))
        #expect(try parse("foo @ 1.5").description == "foo @ 1.500")
        #expect(try parse("foo @ -2").description == "foo @ -2.000")
        #expect(try parse("rate(foo[1m] @ start())").description == "rate(foo[1m] @ start())")
        guard case .matrixSelector(let matrix) = try parse("foo[5m] offset 10s") else {
            Issue.record("not a matrix")
            return
        }
        #expect(matrix.range == 300_000 && matrix.selector.offset == 10_000)
    }

    @Test func subqueries() throws {
        guard case .subquery(let subquery) = try parse("rate(foo[1m])[1h:5m] offset 2m @ 100") else {
            Issue.record("not a subquery")
            return
        }
        #expect(subquery.range == 3_600_000 && subquery.step == 300_000 && subquery.offset == 120_000 && subquery.at == .timestamp(100_000))
        guard case .subquery(let noStep) = try parse("foo[30m:]") else {
            Issue.record("not a subquery")
            return
        }
        #expect(noStep.step == 0 && noStep.stepExpr == nil)
        #expect(try parse("(foo + bar)[5m:1m]").description == "(foo + bar)[5m:1m]")
        #expect(throws: SightlineError.self) { try PromQLParser.parse("foo[5m:][10m:]") }
        #expect(try parse("max_over_time(rate(foo[5m])[30m:1m])").type == .vector)
    }

    @Test func numbers() throws {
        let cases: [(String, Double)] = [
            ("1", 1), ("0.5", 0.5), (".5", 0.5), ("5.", 5), ("1e3", 1000), ("1E-3", 0.001), ("1.e2", 100), ("0x1F", 31),
            ("0X_ff", 255), ("010", 8), ("09", 9), ("1_000", 1000), ("1_000.5_5", 1000.55), ("Inf", .infinity),
        ]
        for (text, value) in cases {
            #expect(try parse(text) == .number(value), "\(text)")
        }
        guard case .number(let nan, _) = try parse("NaN") else {
            Issue.record("not a number")
            return
        }
        #expect(nan.isNaN)
    }

    @Test func durations() throws {
        #expect(try PromQLParser.parseDuration("1h30m") == 5_400_000)
        #expect(try PromQLParser.parseDuration("500ms") == 500)
        #expect(try PromQLParser.parseDuration("1y") == 31_536_000_000)
        #expect(try PromQLParser.parseDuration("1w2d") == 777_600_000)
        #expect(try PromQLParser.parseDuration("30") == 30_000)
        #expect(try PromQLParser.parseDuration("1.5") == 1500)
        #expect(try PromQLParser.parseDuration("0") == 0)
        #expect(throws: SightlineError.self) { try PromQLParser.parseDuration("1m1h") }
        #expect(throws: SightlineError.self) { try PromQLParser.parseDuration("5x") }
        #expect(throws: SightlineError.self) { try PromQLParser.parseDuration("") }
        // Prometheus 3 accepts plain seconds where a duration goes, and durations where a number goes.
        #expect(try parse("rate(x[300])").description == "rate(x[5m])")
        #expect(try parse("foo offset 90").description == "foo offset 1m30s")
        #expect(try parse("time() - 5m").description == "time() - 5m")
        #expect(try parse("5m") == .number(300, isDuration: true))
        #expect(try parse("foo[1h30m]").description == "foo[1h30m]")
        #expect(try parse("foo[90d]").description == "foo[90d]")
        #expect(try parse("foo[14d]").description == "foo[2w]")
        #expect(try parse("foo[1500ms]").description == "foo[1s500ms]")
    }

    @Test func durationExpressions() throws {
        let options = PromQLParser.Options.allFeatures
        guard case .matrixSelector(let matrix) = try parse("foo[5m+1m]", options: options), let rangeExpr = matrix.rangeExpr else {
            Issue.record("no range expression")
            return
        }
        #expect(try rangeExpr.milliseconds(stepMilliseconds: 0, rangeMilliseconds: 0, allowNegative: false) == 360_000)
        guard case .vectorSelector(let selector) = try parse("foo offset -(step()*2)", options: options), let offset = selector.offsetExpr else {
            Issue.record("no offset expression")
            return
        }
        #expect(try offset.milliseconds(stepMilliseconds: 15_000, rangeMilliseconds: 0, allowNegative: true) == -30_000)
        #expect(try parse("foo[1h/2]", options: options).description == "foo[1h / 2]")
        #expect(try parse("foo[-5m+35m]", options: options).description == "foo[-5m + 35m]")
        #expect(try parse("foo[2m*(10+5)]", options: options).description == "foo[2m * (10 + 5)]")
        #expect(try parse("foo[5m:step()]", options: options).description == "foo[5m:step()]")
        #expect(try shape("foo offset 2 ^ 2", options: options) == "(foo offset 2s ^ 2)")
        #expect(try shape("foo offset -step()*2", options: options) == "(foo offset -step() * 2)")
        #expect(try parse("foo offset (2 ^ 2)", options: options).description == "foo offset (2 ^ 2)")
        #expect(try parse("foo offset min_of(step(), 1s)", options: options).description == "foo offset min_of(step(), 1s)")
    }

    @Test func strings() throws {
        #expect(try parse(#""a\nb\t\"c\"""#) == .string("a\nb\t\"c\""))
        #expect(try parse(#"'it\'s'"#) == .string("it's"))
        #expect(try parse("`raw\\n`") == .string("raw\\n"))
        #expect(try parse(#""\u00e9\x41\101\U0001F600""#) == .string("éAA😀"))
        #expect(try parse(#""é""#).description == #""é""#)
        #expect(try parse("'single'").description == #""single""#)
        #expect(try parse(#""\x07\x00""#).description == #""\a\x00""#)
    }

    @Test func binaryMatching() throws {
        guard case .binary(let binary) = try parse("a * on(b, c) group_left(d) e") else {
            Issue.record("not binary")
            return
        }
        #expect(binary.matching == VectorMatching(cardinality: .manyToOne, matchingLabels: ["b", "c"], on: true, include: ["d"]))
        guard case .binary(let set) = try parse("a and ignoring(x) b") else {
            Issue.record("not binary")
            return
        }
        #expect(set.matching?.cardinality == .manyToMany && set.matching?.on == false)
        guard case .binary(let scalarSide) = try parse("a > bool 1") else {
            Issue.record("not binary")
            return
        }
        #expect(scalarSide.matching == nil && scalarSide.returnBool)
        #expect(try parse("a / on() group_right b").description == "a / on () group_right () b")
        #expect(try parse("a - ignoring() c").description == "a - c")
        guard case .binary(let filled) = try parse("a + fill_left(-1) fill_right(2) b", options: .allFeatures) else {
            Issue.record("not binary")
            return
        }
        #expect(filled.matching?.fillLeft == -1 && filled.matching?.fillRight == 2)
    }

    @Test func aggregations() throws {
        let forms = ["sum by (a) (x)", "sum(x) by (a)", "SUM BY(a)(x)"]
        let trees = try forms.map { try parse($0) }
        #expect(trees.allSatisfy { $0 == trees[0] })
        guard case .aggregate(let topk) = try parse("topk(3, x) without (b)") else {
            Issue.record("not an aggregation")
            return
        }
        #expect(topk.op == .topk && topk.param == .number(3) && topk.without && topk.grouping == ["b"])
        #expect(try parse(#"count_values("v", x)"#).description == #"count_values("v", x)"#)
        #expect(try parse(#"sum by ("foo.bar", job) (x)"#).description == #"sum by ("foo.bar", job) (x)"#)
        #expect(try parse("sum by () (x)").description == "sum(x)")
        #expect(try parse("limitk(1, x)", options: .allFeatures).description == "limitk(1, x)")
    }

    @Test func functionTable() throws {
        let required = [
            "rate", "irate", "increase", "delta", "idelta", "deriv", "predict_linear", "resets", "changes", "avg_over_time", "min_over_time",
            "max_over_time", "sum_over_time", "count_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time",
            "present_over_time", "mad_over_time", "quantile_over_time", "absent", "absent_over_time", "histogram_quantile",
            "histogram_fraction", "histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev", "histogram_stdvar",
            "label_replace", "label_join", "abs", "ceil", "floor", "round", "exp", "ln", "log2", "log10", "sqrt", "sgn", "clamp",
            "clamp_min", "clamp_max", "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh",
            "deg", "rad", "pi", "time", "timestamp", "minute", "hour", "day_of_week", "day_of_month", "day_of_year", "days_in_month",
            "month", "year", "sort", "sort_desc", "sort_by_label", "sort_by_label_desc", "scalar", "vector",
            "double_exponential_smoothing", "info",
        ]
        for name in required { #expect(PromQLFunction.named(name) != nil, "\(name)") }
        #expect(PromQLFunction.named("holt_winters") == nil)
        #expect(PromQLFunction.named("round")?.maximumArguments == 2)
        #expect(PromQLFunction.named("label_join")?.maximumArguments == nil)
        #expect(PromQLFunction.named("quantile_over_time")?.argumentTypes == [.scalar, .matrix])
        #expect(PromQLFunction.named("info")?.isExperimental == true)
        #expect(PromQLFunction.named("rate")?.isExperimental == false)
        #expect(try parse("round(x)").type == .vector)
        #expect(try parse("round(x, 5)").type == .vector)
        #expect(try parse("scalar(x) + pi()").type == .scalar)
        #expect(try parse(#"label_join(x, "d", ",", "a", "b", "c")"#).type == .vector)
        #expect(try parse("day_of_week()").type == .vector)
        #expect(try parse(#"info(x, {__name__=~".+_info"})"#, options: .allFeatures).type == .vector)
        #expect(try parse("info(x)", options: .allFeatures).type == .vector)
    }

    @Test func metricSelectors() throws {
        let matchers = try PromQLParser.parseMetricSelector(#"up{job="api", "service.name"=~"a.*"}"#)
        #expect(matchers.map(\.name) == ["job", "service.name", "__name__"])
        #expect(try PromQLParser.parseMetricSelector(#"{__name__=~"x.+"}"#).count == 1)
        #expect(try PromQLParser.parseMetricSelector("{}").isEmpty)
        #expect(throws: SightlineError.self) { try PromQLParser.parseMetricSelector("up + 1") }
        #expect(throws: SightlineError.self) { try PromQLParser.parseMetricSelector("rate(up[5m])") }
    }

    @Test func seriesDescriptions() throws {
        let (labels, values) = try PromQLParser.parseSeriesDescription(#"metric{a="b"} 0+10x5 _ stale 1 2"#)
        #expect(labels == Labels(["__name__": "metric", "a": "b"]))
        #expect(values == [.value(0), .value(10), .value(20), .value(30), .value(40), .value(50), .missing, .stale, .value(1), .value(2)])
        #expect(try PromQLParser.parseSeriesDescription("m 1+1x3").values == [.value(1), .value(2), .value(3), .value(4)])
        #expect(try PromQLParser.parseSeriesDescription("m -2+4x3").values == [.value(-2), .value(2), .value(6), .value(10)])
        #expect(try PromQLParser.parseSeriesDescription("m 10-2x2").values == [.value(10), .value(8), .value(6)])
        #expect(try PromQLParser.parseSeriesDescription("m 7x2 _x3").values == [.value(7), .value(7), .value(7), .missing, .missing, .missing])
        #expect(try PromQLParser.parseSeriesDescription("m Inf -Inf").values == [.value(.infinity), .value(-.infinity)])
        #expect(try PromQLParser.parseSeriesDescription(#"{"my.metric", "a.b"="c"} 1"#).labels == Labels(["__name__": "my.metric", "a.b": "c"]))
        #expect(try PromQLParser.parseSeriesDescription("m").values.isEmpty)
        #expect(throws: SightlineError.self) { try PromQLParser.parseSeriesDescription("m 1 foo") }
        do {
            _ = try PromQLParser.parseSeriesDescription("m {{schema:0 sum:1 count:1}}")
            Issue.record("native histograms should be reported")
        } catch let error as SightlineError {
            #expect((error.cause as? PromQLParseError)?.kind == .unsupported)
        }
    }
}
