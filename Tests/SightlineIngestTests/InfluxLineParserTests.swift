import SightlineCore
import Testing

@testable import SightlineIngest

struct InfluxLineParserTests {
    private func parse(_ text: String, precision: InfluxLineParser.Precision = .nanoseconds, extra: [Label] = []) -> InfluxLineParser.Parsed {
        Array(text.utf8).withUnsafeBytes { InfluxLineParser.parse($0, precision: precision, defaultTimestampMs: 42_000, extraLabels: extra) }
    }

    private func lines(_ parsed: InfluxLineParser.Parsed) -> [String] {
        parsed.samples.map { "\($0.labels) \($0.value) \($0.timestampMs)" }
    }

    @Test func fieldsBecomeSeriesNamedAfterTheMeasurement() {
        let parsed = parse(
            """
            # a comment
            cpu,host=h1,cpu=cpu0 usage_idle=97.5,usage_user=1.25 1700000000123456789
            mem,host=h1 used=123i,free=18446744073709551615u,swap_on=true,name="big box",ok=F

            disk used_percent=-3e2
            """)
        #expect(parsed.errors.isEmpty)
        #expect(lines(parsed) == [
            #"cpu_usage_idle{cpu="cpu0", host="h1"} 97.5 1700000000123"#,
            #"cpu_usage_user{cpu="cpu0", host="h1"} 1.25 1700000000123"#,
            #"mem_used{host="h1"} 123.0 42000"#,
            #"mem_free{host="h1"} 1.8446744073709552e+19 42000"#,
            #"mem_swap_on{host="h1"} 1.0 42000"#,
            #"mem_ok{host="h1"} 0.0 42000"#,
            #"disk_used_percent -300.0 42000"#,
        ])
    }

    @Test func escapesQuotedStringsAndPrecisions() {
        let parsed = parse(#"my\ measurement,tag\,key=a\ b\=c field\=x=1,s="quoted \"text\", with , and =" 1700000000"#, precision: .seconds)
        #expect(parsed.errors.isEmpty)
        #expect(lines(parsed) == [#"my measurement_field=x{tag,key="a b=c"} 1.0 1700000000000"#])
        #expect(lines(parse("m v=1 -1500", precision: .microseconds)) == ["m_v 1.0 -2"])
        #expect(lines(parse("m v=1 3", precision: .hours)) == ["m_v 1.0 10800000"])
        #expect(InfluxLineParser.Precision(name: "ms") == .milliseconds && InfluxLineParser.Precision(name: "x") == nil)
    }

    @Test func extraLabelsGiveWayToTags() {
        let parsed = parse("m,db=own v=1\nm v=2", extra: [Label("db", "telegraf")])
        #expect(lines(parsed) == [#"m_v{db="own"} 1.0 42000"#, #"m_v{db="telegraf"} 2.0 42000"#])
    }

    @Test func badLinesAreLeftOutAndNamed() {
        let parsed = parse(
            """
            ok v=1
            nofields
            m,tag v=1
            m v=abc
            m v=1 12x
            m s="open
            m v=1 99999999999999999 extra
            m,t=1 v=+Inf
            ok v=2
            """, precision: .hours)
        #expect(lines(parsed) == ["ok_v 1.0 42000", "ok_v 2.0 42000"])
        #expect(parsed.errors == [
            "line 2: missing fields: 'nofields'",
            "line 3: missing tag value of \"tag\": 'm,tag v=1'",
            "line 4: invalid value \"abc\" of field \"v\": 'm v=abc'",
            "line 5: invalid timestamp \"12x\": 'm v=1 12x'",
            "line 6: unterminated string field: 'm s=\"open'",
            "line 7: timestamp 99999999999999999 is out of range: 'm v=1 99999999999999999 extra'",
            "line 8: invalid value \"+Inf\" of field \"v\": 'm,t=1 v=+Inf'",
        ])
    }
}
