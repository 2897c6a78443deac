import SightlineCore
import SightlineQuery
import Testing

/// The LogQL parser: every construct of Loki's grammar, and errors with Loki's positions and words.
struct LogQLParserTests {
    private func selector(_ query: String) throws -> LogSelectorExpr {
        guard case .log(let selector) = try LogQLParser.parse(query) else {
            Issue.record("not a log query: \(query)")
            return LogSelectorExpr(matchers: [])
        }
        return selector
    }

    private func parseError(_ query: String) -> LogQLParseError? {
        do {
            _ = try LogQLParser.parse(query)
            return nil
        } catch {
            return error
        }
    }

    @Test func streamSelectorMatchers() throws {
        let parsed = try selector(#"{a="b", c=~"d.*", e!="f", g!~"h"}"#)
        #expect(parsed.matchers.map(\.description) == [#"a="b""#, #"c=~"d.*""#, #"e!="f""#, #"g!~"h""#])
        #expect(parsed.stages.isEmpty)
        // Raw strings and escapes.
        let raw = try selector(#"{path=~`\d+\.log`, msg="a\"b"}"#)
        #expect(raw.matchers[0].value == #"\d+\.log"#)
        #expect(raw.matchers[1].value == #"a"b"#)
    }

    @Test func selectorNeedsANonEmptyMatcher() {
        for query in [#"{a=~".*"}"#, #"{a!="x"}"#, "{}", #"{a=""}"#] {
            let error = parseError(query)
            #expect(error?.description.hasPrefix("parse error : queries require at least one regexp or equality matcher") == true, "\(query)")
        }
        #expect(parseError(#"{a=~".+"}"#) == nil)
    }

    @Test func lineFilters() throws {
        let parsed = try selector(#"{app="x"} |= "a" != "b" |~ "c.*" !~ "d" |= "e" or "f" |> "<_> g" !> "h <_>""#)
        let filters: [(LineFilterExpr.Kind, Int)] = parsed.stages.compactMap {
            if case .lineFilter(let filter) = $0 { return (filter.kind, filter.alternatives.count) }
            return nil
        }
        #expect(filters.map(\.0) == [.contains, .notContains, .regex, .notRegex, .contains, .pattern, .notPattern])
        #expect(filters.map(\.1) == [1, 1, 1, 1, 2, 1, 1])
        let ip = try selector(#"{app="x"} |= ip("10.0.0.0/8") or "y""#)
        guard case .lineFilter(let filter) = ip.stages[0], case .ip(let pattern) = filter.alternatives[0] else {
            Issue.record("no ip filter")
            return
        }
        #expect(pattern == "10.0.0.0/8")
    }

    @Test func parsersAndFormatters() throws {
        let parsed = try selector(
            #"{app="x"} | json | json a="x.y", b="z[0]", c | logfmt --strict --keep-empty | logfmt a, b="c" | regexp `(?P<ip>\S+) (?P<status>\d+)` | pattern "<ip> - <_>" | unpack | line_format "{{.a}}" | label_format x=y, z="{{.a}}" | drop a, b="v" | keep c, d=~"e.*" | decolorize"#
        )
        #expect(parsed.stages.count == 12)
        guard case .parser(.json(let all)) = parsed.stages[0], case .parser(.json(let some)) = parsed.stages[1] else {
            Issue.record("json stages")
            return
        }
        #expect(all.isEmpty)
        #expect(some == [LabelExtraction(name: "a", path: "x.y"), LabelExtraction(name: "b", path: "z[0]"), LabelExtraction(name: "c", path: "c")])
        guard case .parser(.logfmt(let strict, let keepEmpty, let none)) = parsed.stages[2],
            case .parser(.logfmt(false, false, let extractions)) = parsed.stages[3]
        else {
            Issue.record("logfmt stages")
            return
        }
        #expect(strict && keepEmpty && none.isEmpty)
        #expect(extractions == [LabelExtraction(name: "a", path: "a"), LabelExtraction(name: "b", path: "c")])
        guard case .labelFormat(let items) = parsed.stages[8], case .drop(let drop) = parsed.stages[9], case .keep(let keep) = parsed.stages[10] else {
            Issue.record("label stages")
            return
        }
        #expect(items.map(\.destination) == ["x", "z"])
        #expect(drop.map(\.name) == ["a", "b"])
        #expect(drop[0].matcher == nil && drop[1].matcher?.value == "v")
        #expect(keep.map(\.name) == ["c", "d"])
    }

    @Test func labelFilters() throws {
        let parsed = try selector(
            #"{app="x"} | logfmt | status >= 500 and latency > 250ms or size <= 1KB, level="error" | (a = 1 or b != 2) c == 3 | d=~"x.*" | addr = ip("10.0.0.1") | e > -1.5"#
        )
        let filters: [LabelFilterExpr] = parsed.stages.compactMap {
            if case .labelFilter(let filter) = $0 { return filter }
            return nil
        }
        #expect(filters.count == 5)
        // `or` binds loosest: (status >= 500 and latency > 250ms) or (size <= 1KB and level = "error").
        guard case .or(.and(.numeric("status", .greaterOrEqual, 500), .duration("latency", .greater, let seconds)), .and(.bytes("size", .lessOrEqual, let bytes), .matcher(let level))) = filters[0]
        else {
            Issue.record("precedence: \(filters[0])")
            return
        }
        #expect(seconds == 0.25)
        #expect(bytes == 1000)
        #expect(level.description == #"level="error""#)
        guard case .and(.or(.numeric("a", .equal, 1), .numeric("b", .notEqual, 2)), .numeric("c", .equal, 3)) = filters[1] else {
            Issue.record("parentheses and juxtaposition: \(filters[1])")
            return
        }
        guard case .ip("addr", true, "10.0.0.1") = filters[3], case .numeric("e", .greater, -1.5) = filters[4] else {
            Issue.record("ip and negative numbers")
            return
        }
    }

    @Test func rangeAggregations() throws {
        let expr = try LogQLParser.parse(#"sum by (level) (count_over_time({app="x"} |= "err" | json [5m] offset 1h))"#)
        guard case .vectorAggregation(let sum) = expr, case .rangeAggregation(let count) = sum.expr else {
            Issue.record("shape")
            return
        }
        #expect(sum.op == .sum && sum.grouping == LogQLGrouping(labels: ["level"], without: false))
        #expect(count.op == .countOverTime)
        #expect(count.range.rangeNs == 300_000_000_000)
        #expect(count.range.offsetNs == 3_600_000_000_000)
        #expect(count.range.selector.stages.count == 2)

        let unwrap = try LogQLParser.parse(#"quantile_over_time(0.99, {app="x"} | logfmt | unwrap duration(latency) | __error__="" [1m]) by (path)"#)
        guard case .rangeAggregation(let quantile) = unwrap, let unwrapExpr = quantile.range.unwrap else {
            Issue.record("unwrap shape")
            return
        }
        #expect(quantile.parameter == 0.99)
        #expect(unwrapExpr.label == "latency" && unwrapExpr.conversion == .duration && unwrapExpr.postFilters.count == 1)
        #expect(quantile.grouping == LogQLGrouping(labels: ["path"], without: false))

        // The pipeline may follow the range, and the selector may be parenthesised.
        for query in [
            #"rate({app="x"}[1m] |= "a")"#, #"rate(({app="x"} |= "a")[1m])"#, #"bytes_over_time({app="x"}[1m] offset 5m | json)"#,
            #"sum_over_time({app="x"} | unwrap bytes(size) [1m])"#, #"rate_counter({app="x"} | logfmt | unwrap n [1m])"#,
            #"absent_over_time({app="x"}[1m])"#, #"first_over_time({app="x"} | unwrap n [1m]) without (a)"#,
        ] {
            #expect(parseError(query) == nil, "\(query)")
        }
    }

    @Test func metricExpressions() throws {
        let expr = try LogQLParser.parse(
            #"sum(rate({a="b"}[1m])) by (x) / on (x) group_left (y) sum(rate({a="c"}[1m])) by (x, y) > bool 0.5 or vector(0)"#)
        guard case .binary(let or) = expr, or.op == .or, case .binary(let compare) = or.lhs, compare.returnBool,
            case .binary(let divide) = compare.lhs, divide.op == .div
        else {
            Issue.record("precedence: \(expr)")
            return
        }
        #expect(divide.matching?.on == true)
        #expect(divide.matching?.matchingLabels == ["x"])
        #expect(divide.matching?.cardinality == .manyToOne)
        #expect(divide.matching?.include == ["y"])
        guard case .vector(0) = or.rhs else {
            Issue.record("vector(0)")
            return
        }
        for query in [
            "1 + 2 * 3", "-1", #"topk(3, count_over_time({a="b"}[1m]))"#, #"bottomk by (x) (2, count_over_time({a="b"}[1m]))"#,
            #"sort_desc(count_over_time({a="b"}[1m]))"#, #"label_replace(rate({a="b"}[1m]), "dst", "$1", "src", "(.*)")"#,
            #"count_over_time({a="b"}[1m]) unless ignoring (x) count_over_time({a="c"}[1m])"#, #"avg without (a) (rate({a="b"}[1m]))"#,
            #"stddev(rate({a="b"}[1m])) + stdvar(rate({a="b"}[1m]))"#, "2 ^ 3 ^ 2",
        ] {
            #expect(parseError(query) == nil, "\(query)")
        }
        // `^` is right-associative.
        guard case .binary(let power) = try LogQLParser.parse("2 ^ 3 ^ 2"), case .literal(2) = power.lhs, case .binary = power.rhs else {
            Issue.record("right associativity")
            return
        }
    }

    @Test func printingRoundTrips() throws {
        let queries = [
            #"{a="b", c=~"d.*", e!="f", g!~"h"} |= "x" != "y" |~ "z.*" |= "o" or ip("10.0.0.0/8") |> "<_> q""#,
            #"{a="b"} | json | json m="req.method", n | logfmt --strict x | regexp `(?P<ip>\S+)` | pattern "<ip> <_>" | unpack"#,
            #"{a="b"} | logfmt | status >= 500 and latency > 1.5s or size <= 1KB, level="error" | addr != ip("1.2.3.4")"#,
            #"{a="b"} | line_format "{{.a}}" | label_format x=y, z="{{.a}}" | drop a, b="v" | keep c | decolorize"#,
            #"quantile_over_time(0.99, {a="b"} | logfmt | unwrap duration(latency) | __error__="" [1m30s] offset -5m) by (path)"#,
            #"sum by (x) (rate({a="b"}[5m])) / on (x) group_left (y) sum(rate({a="c"}[5m])) > bool 0.5 or vector(0)"#,
            #"topk(3, count_over_time({a="b"}[250ms])) unless ignoring (q) label_replace(bytes_rate({a="c"}[1h]), "d", "$1", "s", "(.*)")"#,
            "1 + -2 * 3 ^ 2",
        ]
        for query in queries {
            let printed = try LogQLParser.parse(query).description
            #expect(try LogQLParser.parse(printed).description == printed, "\(query) → \(printed)")
        }
        #expect(try LogQLParser.parse(#"sum by(a)(count_over_time({app="x"}|="y"[5m]))"#).description == #"sum by (a)(count_over_time({app="x"} |= "y" [5m]))"#)
    }

    @Test func everyPrefixOfValidQueriesParsesOrFailsCleanly() {
        let queries = [
            #"sum by (level) (rate({app="api", env=~"prod|dev"} |= "err" or "warn" | json | logfmt --strict | status >= 500 and latency > 250ms | line_format "{{.a | ToUpper}}" | label_format x=y [5m] offset 1m))"#,
            #"quantile_over_time(0.9, {a="b"} | pattern `<ip> <_> "<m> <p>"` | unwrap bytes(size) | __error__="" [1h]) by (p) / on (p) group_left () vector(1)"#,
            #"topk(3, label_replace(count_over_time({a="b"} | regexp `(?P<x>\d+)` | drop y, z="1" | keep x [1m]), "d", "$1", "x", "(.*)")) > bool -1.5e3"#,
        ]
        for query in queries {
            var scalars = String.UnicodeScalarView()
            for scalar in query.unicodeScalars {
                scalars.append(scalar)
                let prefix = String(scalars)
                do {
                    _ = try LogQLParser.parse(prefix)
                } catch {
                    #expect(error.description.hasPrefix("parse error"), "\(prefix)")
                }
            }
        }
    }

    @Test func queriesGrafanaSends() {
        for query in [
            #"sum by (level, detected_level) (count_over_time({job="varlogs"} | drop __error__[1m]))"#,
            #"{job="varlogs"} |= `` | json | __error__=`` | line_format `{{ .msg }}`"#,
            #"sum(count_over_time({job="varlogs"} |~ `(?i)error` [5m])) by (job)"#,
            #"topk(10, sum by (path) (rate({job="nginx"} | pattern `<_> "<method> <path> <_>" <status> <_>` | status >= 400 [30s]))) "#,
            #"avg_over_time({job="api"} | logfmt | unwrap duration_seconds(latency) | __error__="" [5m]) by (route)"#,
            #"{service_name="checkout"} | severity_text="ERROR" or trace_id!="" | keep service_name, trace_id"#,
        ] {
            #expect(parseError(query) == nil, "\(query)")
        }
    }

    @Test func keywordsAndFunctionsAreCaseInsensitiveLabelNamesAreNot() throws {
        let expr = try LogQLParser.parse(#"SUM BY (Level) (Count_Over_Time({App="x"} | JSON | Level="e" [1m])) OR Vector(0)"#)
        #expect(expr.description == #"(sum by (Level)(count_over_time({App="x"} | json | Level="e" [1m])) or vector(0))"#)
    }

    @Test func queryInfo() throws {
        let info = try LogQLEngine.info(#"sum(rate({a="b"}[1m])) / sum(rate({c=~"d.+"} |= "x" [1m]))"#)
        #expect(info.isMetric)
        #expect(info.streamMatchers.map { $0.map(\.description) } == [[#"a="b""#], [#"c=~"d.+""#]])
        #expect(try LogQLEngine.info(#"{a="b"} | json"#).isMetric == false)
    }

    @Test func lineContainsPushdownOnlyWhenSound() throws {
        #expect(try selector(#"{a="b"} |= "x" |= "y""#).requiredSubstrings == ["x", "y"])
        #expect(try selector(#"{a="b"} != "x" |= "y""#).requiredSubstrings == ["y"])
        #expect(try selector(#"{a="b"} |= "x" or "z" |= "y""#).requiredSubstrings == ["y"])
        #expect(try selector(#"{a="b"} |~ "x" |= """#).requiredSubstrings == [])
        #expect(try selector(#"{a="b"} |= "x" | json |= "y""#).requiredSubstrings == ["x"])
        #expect(try selector(#"{a="b"} | line_format "{{.a}}" |= "y""#).requiredSubstrings == [])
        #expect(try selector(#"{a="b"} |= ip("10.0.0.1")"#).requiredSubstrings == [])
        #expect(try selector(#"{a="b"} | a="x" | drop c |= "y" | decolorize |= "z""#).requiredSubstrings == ["y"])
        #expect(try selector(#"{a="b"} | unpack |= "y""#).requiredSubstrings == [])
    }

    @Test func syntaxErrorsCarryPositions() {
        let cases: [(String, String)] = [
            // Cases from Loki's parser tests, with Loki's messages and columns.
            (#"{foo="bar"} "foo""#, "parse error at line 1, col 13: syntax error: unexpected STRING"),
            (#"{foo="bar"} foo"#, "parse error at line 1, col 13: syntax error: unexpected IDENTIFIER"),
            (#"{foo="bar""#, "parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,"),
            (#"{foo="bar"} |~"#, "parse error at line 1, col 15: syntax error: unexpected $end, expecting STRING or ip"),
            (#"stddev({ foo = "bar" })"#, "parse error at line 1, col 23: syntax error: unexpected )"),
            (#"unk({ foo = "bar" }[5m])"#, "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER"),
            (#"label_replace(rate({ foo = "bar" }[5m]),"")"#, "parse error at line 1, col 43: syntax error: unexpected ), expecting ,"),
            (#"{ foo = "bar" }|logfmt|addr>=ip("1.2.3.4")"#, "parse error at line 1, col 30: syntax error: unexpected ip"),
            (#"bottomk(he,count_over_time({ foo = "bar" }[5h]))"#, "parse error at line 1, col 9: syntax error: unexpected IDENTIFIER"),
            ("bool 1 > 1 > bool 1", "parse error at line 1, col 1: syntax error: unexpected bool"),
            ("vector(abc)", "parse error at line 1, col 8: syntax error: unexpected IDENTIFIER, expecting NUMBER"),
            (#"#{app="foo"} | json"#, "parse error at line 1, col 20: syntax error: unexpected $end"),
            (#"count without (rate({namespace="apps"}[15s]))"#, "parse error at line 1, col 16: syntax error: unexpected RATE, expecting IDENTIFIER or )"),
            (
                #"quantile_over_time(foo,{namespace="tns"} |= "level=error" | json |foo>=5,bar<25ms| unwrap latency [5m])"#,
                "parse error at line 1, col 20: syntax error: unexpected IDENTIFIER, expecting NUMBER or { or ("
            ),
            // Sightline's own.
            (#"{app="foo"} |= bar"#, "parse error at line 1, col 16: syntax error: unexpected IDENTIFIER, expecting STRING or ip"),
            (#"{app=foo}"#, "parse error at line 1, col 6: syntax error: unexpected IDENTIFIER, expecting STRING"),
            ("{app=\"foo\"}\n| json |", "parse error at line 2, col 9: syntax error: unexpected $end"),
            (#"count_over_time({app="foo"})"#, "parse error at line 1, col 28: syntax error: unexpected ), expecting RANGE"),
            (#"{app="foo"} + 1"#, "parse error at line 1, col 13: syntax error: unexpected +"),
            (#"{app="foo"} | status > "x""#, "parse error at line 1, col 24: syntax error: unexpected STRING"),
            (#"{app="foo"} |= "a" "b""#, "parse error at line 1, col 20: syntax error: unexpected STRING"),
            (#"{app="foo} "#, "parse error at line 1, col 6: literal not terminated"),
            (#"{app="fo\o"}"#, "parse error at line 1, col 6: invalid char escape"),
        ]
        for (query, message) in cases {
            #expect(parseError(query)?.description == message, "\(query)")
        }
    }

    @Test func validationErrors() {
        let cases: [(String, String)] = [
            (#"sum_over_time({a="b"}[1m])"#, "parse error : invalid aggregation sum_over_time without unwrap"),
            (#"count_over_time({a="b"} | unwrap x [1m])"#, "parse error : invalid aggregation count_over_time with unwrap"),
            (#"count_over_time({a="b"}[1m]) by (x)"#, "parse error : grouping not allowed for count_over_time aggregation"),
            (#"quantile_over_time({a="b"} | unwrap x [1m])"#, "parse error : parameter required for operation quantile_over_time"),
            (#"topk(count_over_time({a="b"}[1m]))"#, "parse error : parameter required for operation topk"),
            (#"sort by (a) (count_over_time({a="b"}[1m]))"#, "parse error : sort and sort_desc doesn't allow grouping by "),
            (#"{a="b"} | regexp `(\d+)`"#, "parse error : at least one named capture must be supplied"),
            (#"{a="b"} | pattern "foo""#, "parse error : at least one capture is required"),
            (#"{a="b"} | pattern "<a><b>""#, "parse error : found consecutive capture '<a><b>'"),
            (#"{a="b"} | label_format x=y, x="z""#, "parse error : multiple label name 'x' in the same format expression"),
            (#"{a="b"} | line_format "{{ nope .a }}""#, "parse error : template: line:1: function \"nope\" not defined"),
        ]
        for (query, message) in cases {
            #expect(parseError(query)?.description == message, "\(query)")
        }
    }
}
