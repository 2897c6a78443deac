import SightlineCore
import Testing

@testable import SightlineIngest

struct PrometheusTextParserTests {
    static let now: Int64 = 1_700_000_000_000

    static func parse(
        _ text: String, extraLabels: [Label] = [], honorTimestamps: Bool = true, openMetrics: Bool? = nil
    ) throws -> ParsedExposition {
        try PrometheusTextParser.parse(
            text, defaultTimestampMs: now, extraLabels: extraLabels, honorTimestamps: honorTimestamps, openMetrics: openMetrics)
    }

    /// Each sample as `series value@timestamp`, NaN and infinities spelled out.
    static func render(_ exposition: ParsedExposition) -> [String] {
        exposition.samples.map { "\($0.labels) \(PrometheusNumber.format($0.value))@\($0.timestampMs)" }
    }

    static func errorMessage(_ text: String, openMetrics: Bool? = nil) -> String? {
        do {
            _ = try parse(text, openMetrics: openMetrics)
            return nil
        } catch let error as SightlineError {
            #expect(error.code == .invalidArgument)
            return error.message
        } catch {
            return "unexpected \(error)"
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var text: String
        var expected: [String]
        var testDescription: String { name }
    }

    static let t = now
    static let cases: [Case] = [
        Case(name: "bare name", text: "up 1\n", expected: ["up 1@\(t)"]),
        Case(name: "no trailing newline", text: "up 1", expected: ["up 1@\(t)"]),
        Case(name: "CRLF line ends", text: "a 1\r\nb 2\r\n", expected: ["a 1@\(t)", "b 2@\(t)"]),
        Case(name: "blank lines and comments", text: "\n# a comment\n  \n#another\na 1\n\n", expected: ["a 1@\(t)"]),
        Case(name: "colons in names", text: "job:http_requests:rate5m 3.5\n", expected: ["job:http_requests:rate5m 3.5@\(t)"]),
        Case(
            name: "labels", text: #"http_requests_total{method="post",code="200"} 1027 1395066363000"#,
            expected: [#"http_requests_total{code="200", method="post"} 1027@1395066363000"#]),
        Case(name: "trailing comma", text: #"a{x="1",} 1"#, expected: [#"a{x="1"} 1@\#(t)"#]),
        Case(name: "empty braces", text: "a{} 1", expected: ["a 1@\(t)"]),
        Case(name: "spaces and tabs everywhere", text: "  a { x = \"1\" ,\ty=\"2\" }\t 5 \t 123 ", expected: [#"a{x="1", y="2"} 5@123"#]),
        Case(name: "no space between } and value", text: #"a{x="1"}5"#, expected: [#"a{x="1"} 5@\#(t)"#]),
        Case(
            name: "escaped label values",
            text: #"msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9"#,
            expected: [
                #"msdos_file_access_time_seconds{error="Cannot find file:\n\"FILE.TXT\"", path="C:\\DIR\\FILE.TXT"} 1458255915@\#(t)"#
            ]),
        Case(name: "unknown escape kept", text: #"a{x="a\tb"} 1"#, expected: [#"a{x="a\\tb"} 1@\#(t)"#]),
        Case(name: "empty label value dropped", text: #"a{x="",y="1"} 1"#, expected: [#"a{y="1"} 1@\#(t)"#]),
        Case(name: "UTF-8 label value", text: #"a{city="Zürich 🇨🇭"} 1"#, expected: [#"a{city="Zürich 🇨🇭"} 1@\#(t)"#]),
        Case(name: "NaN", text: "a NaN", expected: ["a NaN@\(t)"]),
        Case(
            name: "+Inf -Inf Inf", text: "a +Inf\nb -Inf\nc Inf\nd inf\ne -infinity",
            expected: [
                "a +Inf@\(t)", "b -Inf@\(t)", "c +Inf@\(t)", "d +Inf@\(t)", "e -Inf@\(t)",
            ]),
        Case(
            name: "exponent floats", text: "a 1e3\nb -1.5E-3\nc 2.5e+2\nd .5\ne 5.\nf -0\ng 0.000001",
            expected: [
                "a 1000@\(t)", "b -0.0015@\(t)", "c 250@\(t)", "d 0.5@\(t)", "e 5@\(t)", "f -0@\(t)", "g 1e-06@\(t)",
            ]),
        Case(
            name: "many digits", text: "a 12345678901234567890123\nb 0.1234567890123456789012",
            expected: [
                "a 1.2345678901234568e+22@\(t)", "b 0.12345678901234568@\(t)",
            ]),
        Case(name: "negative timestamp", text: "a 1 -5", expected: ["a 1@-5"]),
        Case(name: "HELP and TYPE lines are not samples", text: "# HELP a The a.\n# TYPE a gauge\na 1", expected: ["a 1@\(t)"]),
        Case(
            name: "exemplar skipped", text: #"foo_bucket{le="0.1"} 8 # {trace_id="KOO5S4vxi0o"} 0.067"#,
            expected: [#"foo_bucket{le="0.1"} 8@\#(t)"#]),
        Case(name: "timestamp and exemplar", text: #"foo 8 1000 # {a="b"} 1"#, expected: ["foo 8@1000"]),
        Case(name: "# EOF in text format is a comment", text: "a 1\n# EOF\nb 2\n", expected: ["a 1@\(t)", "b 2@\(t)"]),
        Case(
            name: "quoted metric name (Prometheus 3)", text: #"{"my.metric", "my.label"="v", job="j"} 1"#,
            expected: [#"my.metric{job="j", my.label="v"} 1@\#(t)"#]),
        Case(name: "quoted name alone", text: #"{"my.metric"} 2"#, expected: ["my.metric 2@\(t)"]),
        Case(name: "quoted name after labels", text: #"{a="1", "my.metric"} 2"#, expected: [#"my.metric{a="1"} 2@\#(t)"#]),
        Case(name: "__name__ label", text: #"{__name__="up", job="x"} 1"#, expected: [#"up{job="x"} 1@\#(t)"#]),
        Case(
            name: "_created kept", text: "# TYPE a counter\na_total 3\na_created 1.6e9",
            expected: [
                "a_total 3@\(t)", "a_created 1600000000@\(t)",
            ]),
    ]

    @Test(arguments: cases)
    func parsesSnippet(_ testCase: Case) throws {
        #expect(Self.render(try Self.parse(testCase.text)) == testCase.expected)
    }

    @Test func metadataFromHelpTypeAndUnit() throws {
        let text = """
            # HELP http_requests_total The total number of HTTP requests.
            # TYPE http_requests_total counter
            http_requests_total{method="post",code="200"} 1027
            # HELP escaped Backslash \\\\ and newline \\n here.
            # TYPE escaped gauge
            # TYPE untyped_one untyped
            # HELP help_only Only help.
            # TYPE "my.metric" histogram
            # HELP empty_help
            """
        let parsed = try Self.parse(text)
        #expect(
            parsed.metadata == [
                MetricMetadata(metricFamily: "http_requests_total", kind: .counter, help: "The total number of HTTP requests."),
                MetricMetadata(metricFamily: "escaped", kind: .gauge, help: "Backslash \\ and newline \n here."),
                MetricMetadata(metricFamily: "untyped_one", kind: .unknown),
                MetricMetadata(metricFamily: "help_only", kind: .unknown, help: "Only help."),
                MetricMetadata(metricFamily: "my.metric", kind: .histogram),
                MetricMetadata(metricFamily: "empty_help", kind: .unknown),
            ])
    }

    @Test func allTypesMapToKinds() throws {
        let types: [(String, MetricMetadata.Kind)] = [
            ("counter", .counter), ("gauge", .gauge), ("histogram", .histogram), ("gaugehistogram", .gaugeHistogram),
            ("summary", .summary), ("info", .info), ("stateset", .stateSet), ("unknown", .unknown), ("untyped", .unknown),
        ]
        for (name, kind) in types {
            #expect(try Self.parse("# TYPE m \(name)\n").metadata.first?.kind == kind)
        }
    }

    @Test func timestampsCanBeIgnored() throws {
        let parsed = try Self.parse("a 1 1000\nb 2", honorTimestamps: false)
        #expect(Self.render(parsed) == ["a 1@\(Self.now)", "b 2@\(Self.now)"])
        #expect(parsed.explicitTimestampIndices.isEmpty)
        let honored = try Self.parse("a 1 1000\nb 2\nc 3 7")
        #expect(honored.explicitTimestampIndices == [0, 2])
    }

    @Test func extraLabelsOverrideScrapedOnes() throws {
        let parsed = try Self.parse(
            #"a{job="scraped",x="1"} 1"#, extraLabels: [Label("job", "import"), Label("env", "prod")])
        #expect(Self.render(parsed) == [#"a{env="prod", job="import", x="1"} 1@\#(Self.now)"#])
        let renamed = try Self.parse("a 1", extraLabels: [Label("__name__", "b")])
        #expect(Self.render(renamed) == ["b 1@\(Self.now)"])
    }

    @Test func staleNaNIsAnOrdinaryNaNInText() throws {
        let value = try #require(try Self.parse("a NaN").samples.first?.value)
        #expect(value.isNaN)
        #expect(!StaleNaN.isStale(value))
    }

    @Test func openMetricsWithEOFAndFloatSecondTimestamps() throws {
        let text = """
            # TYPE acme_http_router_request_seconds summary
            # UNIT acme_http_router_request_seconds seconds
            # HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
            acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32 1520879607.789
            acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0 1520879607.789
            acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
            # TYPE foo histogram
            foo_bucket{le="0.01"} 0
            foo_bucket{le="+Inf"} 17 # {trace_id="oHg5SJYRHA0"} 9.8 1520879607.789
            # EOF

            """
        let parsed = try Self.parse(text)
        #expect(parsed.isOpenMetrics)
        #expect(
            Self.render(parsed) == [
                #"acme_http_router_request_seconds_sum{method="GET", path="/api/v1"} 9036.32@1520879607789"#,
                #"acme_http_router_request_seconds_count{method="GET", path="/api/v1"} 807283@1520879607789"#,
                #"acme_http_router_request_seconds_created{method="GET", path="/api/v1"} 1605281325@\#(Self.now)"#,
                #"foo_bucket{le="0.01"} 0@\#(Self.now)"#,
                #"foo_bucket{le="+Inf"} 17@\#(Self.now)"#,
            ])
        #expect(
            parsed.metadata.first
                == MetricMetadata(
                    metricFamily: "acme_http_router_request_seconds", kind: .summary,
                    help: "Latency though all of ACME's HTTP request router.", unit: "seconds"))
        #expect(parsed.exemplars.map(\.sample) == [4])
        #expect(parsed.exemplars.map(\.exemplar) == [
            MetricExemplar(
                series: Labels(["__name__": "foo_bucket", "le": "+Inf"]), labels: Labels(["trace_id": "oHg5SJYRHA0"]),
                timestampMs: 1_520_879_607_789, value: 9.8),
        ])
        // The same text read as the Prometheus text format: float timestamps are an error.
        #expect(Self.errorMessage(text, openMetrics: false)?.hasPrefix("line 4: invalid timestamp \"1520879607.789\"") == true)
    }

    @Test func openMetricsExemplarsTakeTheirSampleTimeWhenTheyHaveNone() throws {
        let text = #"""
            a_total{job="x"} 3 # {trace_id="t1", span_id="s\"1"} 1
            b_total 4 12.5 # {} 2.5e0
            c_bucket{le="1"} 5 #{"quoted.name"="ü"}0.5 7
            d 6
            # EOF

            """#
        let parsed = try Self.parse(text, extraLabels: [Label("instance", "h:1")])
        #expect(parsed.exemplars.map(\.sample) == [0, 1, 2])
        #expect(parsed.exemplars.map(\.exemplar) == [
            MetricExemplar(
                series: Labels(["__name__": "a_total", "instance": "h:1", "job": "x"]), labels: Labels(["span_id": "s\"1", "trace_id": "t1"]),
                timestampMs: Self.now, value: 1),
            MetricExemplar(series: Labels(["__name__": "b_total", "instance": "h:1"]), labels: Labels([]), timestampMs: 12_500, value: 2.5),
            MetricExemplar(
                series: Labels(["__name__": "c_bucket", "instance": "h:1", "le": "1"]), labels: Labels(["quoted.name": "ü"]),
                timestampMs: 7_000, value: 0.5),
        ])
        for (line, message) in [
            ("a 1 # trace_id=1", #"line 1: expected '{' to start the exemplar of metric "a""#),
            (#"a 1 # {x="1"}"#, #"line 1: invalid exemplar value "" for metric "a""#),
            (#"a 1 # {x="1"} one"#, #"line 1: invalid exemplar value "one" for metric "a""#),
            (#"a 1 # {x="1",x="2"} 1"#, #"line 1: duplicate exemplar label name "x""#),
            (#"a 1 # {x=1} 1"#, #"line 1: expected '"' to start the value of exemplar label "x""#),
            (#"a 1 # {x="1"} 1 2 3"#, #"line 1: unexpected text "3" after the exemplar of metric "a""#),
            (#"a 1 # {x="1"} 1 NaN"#, #"line 1: invalid timestamp "NaN" for metric "a""#),
        ] {
            #expect(Self.errorMessage(line + "\n# EOF\n") == message)
        }
    }

    /// Seconds times 1000, truncated toward zero as Prometheus does: 1.001 s is 1000.9999999999999 ms, so 1000.
    @Test func openMetricsTimestampsTruncateAsPrometheusDoes() throws {
        let parsed = try Self.parse("a 1 1.001\nb 1 -0.5\nc 1 2\nd 1 1795880631.5939012\ne 1 -1.0009\n# EOF\n", openMetrics: true)
        #expect(parsed.samples.map(\.timestampMs) == [1000, -500, 2000, 1_795_880_631_593, -1000])
    }

    @Test func openMetricsErrors() {
        #expect(Self.errorMessage("a 1\n", openMetrics: true) == "line 1: OpenMetrics data does not end with # EOF")
        #expect(Self.errorMessage("", openMetrics: true) == "line 1: OpenMetrics data does not end with # EOF")
        #expect(Self.errorMessage("a 1\n# EOF\nb 2\n", openMetrics: true) == "line 3: unexpected content after # EOF")
        #expect(Self.errorMessage("a 1 NaN\n# EOF\n") == "line 1: invalid timestamp \"NaN\" for metric \"a\"")
    }

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var text: String
        var message: String
        var testDescription: String { message }
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(text: "a 1\n\n\n\n\n\n\n\n\n\n\nup{job 1}", message: #"line 12: expected '=' after label name "job""#),
        ErrorCase(text: "a", message: #"line 1: expected value after metric "a""#),
        ErrorCase(text: "a ", message: #"line 1: expected value after metric "a""#),
        ErrorCase(text: "a 1x", message: #"line 1: invalid value "1x" for metric "a""#),
        ErrorCase(text: "a 0x10", message: #"line 1: invalid value "0x10" for metric "a""#),
        ErrorCase(text: "a +NaN", message: #"line 1: invalid value "+NaN" for metric "a""#),
        ErrorCase(text: "a 1 2 3", message: #"line 1: unexpected text "3" after the value of metric "a""#),
        ErrorCase(text: "a 1 1.5", message: #"line 1: invalid timestamp "1.5" for metric "a": expected integer milliseconds"#),
        ErrorCase(
            text: "a 1 99999999999999999999",
            message: #"line 1: invalid timestamp "99999999999999999999" for metric "a": expected integer milliseconds"#),
        ErrorCase(text: "1a 1", message: "line 1: invalid character '1' at start of metric name"),
        ErrorCase(text: "a-b 1", message: #"line 1: invalid character '-' in metric name "a""#),
        ErrorCase(text: "a{x=1} 1", message: #"line 1: expected '"' to start the value of label "x""#),
        ErrorCase(text: #"a{x="1} 1"#, message: #"line 1: unterminated value of label "x""#),
        ErrorCase(text: #"a{x="1" y="2"} 1"#, message: #"line 1: expected ',' or '}' after the value of label "x", found 'y'"#),
        ErrorCase(text: #"a{x="1",x="2"} 1"#, message: #"line 1: duplicate label name "x""#),
        ErrorCase(text: #"a{1x="1"} 1"#, message: "line 1: invalid character '1' where a label name was expected"),
        ErrorCase(text: #"a{x="1""#, message: #"line 1: expected ',' or '}' after the value of label "x""#),
        ErrorCase(text: #"{x="1"} 1"#, message: "line 1: missing metric name"),
        ErrorCase(text: #"a{"b"} 1"#, message: #"line 1: metric name "b" given twice"#),
        ErrorCase(text: #"a{__name__="b"} 1"#, message: #"line 1: metric name given twice: "a" and __name__="b""#),
        ErrorCase(text: "# TYPE a countr", message: #"line 1: unknown metric type "countr" for a"#),
        ErrorCase(text: "# TYPE", message: "line 1: expected metric name after # TYPE"),
        ErrorCase(text: "# HELP 1a x", message: "line 1: expected metric name after # HELP"),
        ErrorCase(text: "# HELP a-b x", message: "line 1: invalid character '-' in metric name after # HELP"),
    ]

    @Test(arguments: errorCases)
    func reportsErrorWithLineNumber(_ testCase: ErrorCase) {
        #expect(Self.errorMessage(testCase.text) == testCase.message)
    }

    @Test func invalidUTF8InLabelValueIsRejected() throws {
        var bytes = Array(#"a{x=""#.utf8)
        bytes += [0xFF, 0xFE]
        bytes += Array(#""} 1"#.utf8)
        #expect(throws: SightlineError.self) {
            try bytes.withUnsafeBytes { try PrometheusTextParser.parse($0, defaultTimestampMs: 0) }
        }
    }

    @Test func emptyInput() throws {
        let parsed = try Self.parse("")
        #expect(parsed.samples.isEmpty && parsed.metadata.isEmpty && !parsed.isOpenMetrics)
    }

    @Test func repeatedNamesAndValuesAreReusedCorrectly() throws {
        // Exercises the previous-line cache: same shapes, values differing in one byte or in length.
        let text = """
            node_cpu_seconds_total{cpu="0",mode="idle"} 1
            node_cpu_seconds_total{cpu="0",mode="iowait"} 2
            node_cpu_seconds_total{cpu="1",mode="iowait"} 3
            node_cpu_seconds_total{cpu="10",mode="iowai"} 4
            node_cpu_seconds_totak{cpu="10",mode="iowai"} 5
            node_cpu_seconds_totak{cpx="10",mode="iowai"} 6
            node_cpu_seconds_totak{mode="10",cpx="iowai"} 7
            """
        #expect(
            Self.render(try Self.parse(text)) == [
                #"node_cpu_seconds_total{cpu="0", mode="idle"} 1@\#(Self.now)"#,
                #"node_cpu_seconds_total{cpu="0", mode="iowait"} 2@\#(Self.now)"#,
                #"node_cpu_seconds_total{cpu="1", mode="iowait"} 3@\#(Self.now)"#,
                #"node_cpu_seconds_total{cpu="10", mode="iowai"} 4@\#(Self.now)"#,
                #"node_cpu_seconds_totak{cpu="10", mode="iowai"} 5@\#(Self.now)"#,
                #"node_cpu_seconds_totak{cpx="10", mode="iowai"} 6@\#(Self.now)"#,
                #"node_cpu_seconds_totak{cpx="iowai", mode="10"} 7@\#(Self.now)"#,
            ])
    }

    @Test func numbersParseLikeGo() {
        func parse(_ text: String) -> Double? {
            var text = text
            return text.withUTF8 { PrometheusNumber.parseDouble($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, count: $0.count) }
        }
        #expect(parse("0.1") == 0.1)
        #expect(parse("1.7956802195480509e+09") == 1.7956802195480509e+09)
        #expect(parse("123456789012345678") == 123_456_789_012_345_680)
        #expect(parse("9007199254740993") == 9_007_199_254_740_992)  // Ties to even.
        #expect(parse("1e-300") == 1e-300)
        #expect(parse("4.9e-324") == .leastNonzeroMagnitude)
        #expect(parse("1.7976931348623157e308") == .greatestFiniteMagnitude)
        #expect(parse("") == nil)
        #expect(parse("+") == nil)
        #expect(parse(".") == nil)
        #expect(parse("1e") == nil)
        #expect(parse("e5") == nil)
        #expect(parse("1_000") == nil)
        #expect(parse("Infinity") == .infinity)
        #expect(parse("infx") == nil)
        #expect(parse("nan")?.isNaN == true)
    }
}
