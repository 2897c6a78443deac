import Testing
@testable import SightlineQuery

/// `Expr.description` prints canonical PromQL as Prometheus' `String()` does, and what it prints parses back to the
/// same tree. (Expected texts follow Prometheus' `promql/parser/printer_test.go`.)
@Suite struct PromQLParserPrinterTests {
    static let cases: [(input: String, output: String)] = [
        (#"sum by() (task:errors:rate10s{job="s"})"#, #"sum(task:errors:rate10s{job="s"})"#),
        (#"sum by(code) (task:errors:rate10s{job="s"})"#, #"sum by (code) (task:errors:rate10s{job="s"})"#),
        (#"sum without() (task:errors:rate10s{job="s"})"#, #"sum without () (task:errors:rate10s{job="s"})"#),
        (#"sum by("foo.bar") (x)"#, #"sum by ("foo.bar") (x)"#),
        (#"topk(5, task:errors:rate10s{job="s"})"#, #"topk(5, task:errors:rate10s{job="s"})"#),
        ("a - on() c", "a - on () c"),
        ("a - on(b) group_left(x, y) c", "a - on (b) group_left (x, y) c"),
        ("a - on(b) group_left c", "a - on (b) group_left () c"),
        ("a - on(b) group_left() (c)", "a - on (b) group_left () (c)"),
        ("a - ignoring() c", "a - c"),
        ("a - ignoring() group_left c", "a - ignoring () group_left () c"),
        ("a + fill_left(5) fill_right(5) b", "a + fill (5) b"),
        ("a + on(b) group_left fill(-23) c", "a + on (b) group_left () fill (-23) c"),
        ("up > bool 0", "up > bool 0"),
        ("a offset -7m", "a offset -7m"),
        (#"a{c="d"}[5m] offset 1m"#, #"a{c="d"}[5m] offset 1m"#),
        ("a[1h:5m] offset 1m", "a[1h:5m] offset 1m"),
        (#"a{b="c"}[5m] anchored @ start() offset 1m"#, #"a{b="c"}[5m] anchored @ start() offset 1m"#),
        (#"{__name__="a"}"#, #"{__name__="a"}"#),
        ("a @ 10", "a @ 10.000"),
        ("a[1m] @ 10", "a[1m] @ 10.000"),
        (#"{__name__="",a="x"}"#, #"{__name__="",a="x"}"#),
        (#"{"a.b"="c"}"#, #"{"a.b"="c"}"#),
        (#"{"_0"="1"}"#, #"{_0="1"}"#),
        ("{``=\"0\"}", #"{""="0"}"#),
        ("1048576", "1048576"),
        ("foo offset +(5)", "foo offset (5)"),
        ("foo offset -min_of(10s, +max_of(step() ^ 2, 2))", "foo offset -min_of(10s, max_of(step() ^ 2, 2))"),
        ("foo[200-min_of(-step()^+step(),1)]", "foo[200 - min_of(-step() ^ step(), 1)]"),
        (#"sum by("üüü") (foo)"#, #"sum by ("üüü") (foo)"#),
        ("1e-7 + 1e21", "0.0000001 + 1000000000000000000000"),
        ("0.1 + 123456.789", "0.1 + 123456.789"),
        ("-Inf", "-Inf"),
        (#"foo{b="2", a="1", c!~"x"}"#, #"foo{a="1",b="2",c!~"x"}"#),
        (#"label_replace(up, "a", "$1", "b", "(.*)")"#, #"label_replace(up, "a", "$1", "b", "(.*)")"#),
        ("rate(x[5m])[30m:1m]", "rate(x[5m])[30m:1m]"),
        ("-(a + b)", "-(a + b)"),
        ("a atan2 b", "a atan2 b"),
    ]

    @Test(arguments: cases.indices)
    func printsCanonically(index: Int) throws {
        let (input, output) = Self.cases[index]
        let expr = try PromQLParser.parse(input, options: .allFeatures)
        #expect(expr.description == output)
        let reparsed = try PromQLParser.parse(output, options: .allFeatures)
        #expect(reparsed == expr)
        #expect(reparsed.description == output)
    }

    @Test func floatFormatting() {
        #expect(GoText.formatFloat(1) == "1")
        #expect(GoText.formatFloat(-0.25) == "-0.25")
        #expect(GoText.formatFloat(1e21) == "1000000000000000000000")
        #expect(GoText.formatFloat(1.5e-5) == "0.000015")
        #expect(GoText.formatFloat(123.456) == "123.456")
        #expect(GoText.formatFloat(.nan) == "NaN")
        #expect(GoText.formatFloat(.infinity) == "+Inf")
        #expect(GoText.formatFixed(1.0005, decimals: 3) == "1.000" || GoText.formatFixed(1.0005, decimals: 3) == "1.001")
        #expect(GoText.formatFixed(-2, decimals: 3) == "-2.000")
    }
}
