import SightlineCore
import Testing

@testable import SightlineQuery

/// Graphite targets: parsing, globs, times, and functions against values worked out by hand from graphite-web's
/// definitions, with graphite-web's series names.
struct GraphiteRenderTests {
    /// Points every 10 s from t = 1010 s (the grid of from = 1000, until = 1060, step 10: 1010 … 1060).
    private static func storage() -> PromQLTestStorage {
        let storage = PromQLTestStorage()
        func add(_ name: String, _ values: [Double?], tags: [(String, String)] = []) {
            let labels = Labels([Label("__name__", name)] + tags.map { Label($0.0, $0.1) })
            storage.add(labels, values.enumerated().compactMap { index, value in value.map { (Int64(1010 + index * 10) * 1000 + 3, $0) } })
        }
        add("servers.web1.cpu", [1, 2, 3, 4, 5, 6])
        add("servers.web2.cpu", [10, nil, 30, 40, 50, 60])
        add("servers.db1.cpu", [100, 100, 100, 100, 100, 100])
        add("servers.web1.requests", [0, 10, 20, 5, 15, 25])
        add("disk", [1, 2, 3, 4, 5, 6], tags: [("host", "a"), ("dc", "x")])
        add("disk", [7, 8, 9, 10, 11, 12], tags: [("host", "b"), ("dc", "x")])
        return storage
    }

    private static func render(_ target: String, from: Int64 = 1000, until: Int64 = 1060) throws -> [GraphiteSeries] {
        let renderer = GraphiteRender(querier: storage(), tenant: .default, from: from, until: until, storageStep: 10)
        return try renderer.evaluate(try GraphiteTarget.parse(target))
    }

    private static func summary(_ series: [GraphiteSeries]) -> [String] {
        series.map { "\($0.name): " + $0.values.map { $0.map { GraphiteTarget.format($0) } ?? "_" }.joined(separator: " ") }
    }

    @Test func parsesTargetsAsGraphiteWebDoes() throws {
        let target = try GraphiteTarget.parse(#"aliasByNode(sumSeries(servers.{web1,web2}.cpu, servers.db[0-9].cpu), 1, -1)"#)
        #expect(target.description == "aliasByNode(sumSeries(servers.{web1,web2}.cpu,servers.db[0-9].cpu),1,-1)")
        #expect(try GraphiteTarget.parse(#"summarize(a.b, "1h", func='max', alignToFrom=true)"#).description
            == "summarize(a.b,'1h',func='max',alignToFrom=True)")
        for (bad, message) in [
            ("sumSeries(a.b", "expected ',' or ')' to close sumSeries("), ("a.{b,c", "unclosed '{' or '['"), ("f(x=1, y)", "positional argument after keyword"),
            ("'open", "unterminated string"), ("a.b c", "unexpected \"c\" after the target"),
        ] {
            #expect(throws: SightlineError.self) { _ = try GraphiteTarget.parse(bad) }
            do { _ = try GraphiteTarget.parse(bad) } catch let error as SightlineError { #expect(error.message.contains(message), "\(error.message)") }
        }
    }

    @Test func globsBecomeAnchoredRegexes() throws {
        #expect(GraphiteGlob.regex("servers.web*.cpu") == #"servers\.web[^.]*\.cpu"#)
        #expect(GraphiteGlob.regex("a.{b,c}.d?[0-9]") == #"a\.(?:b|c)\.d[^.][0-9]"#)
        let matcher = try LabelMatcher("__name__", .regexMatch, GraphiteGlob.regex("servers.*.cpu"))
        #expect(matcher.matches("servers.web1.cpu") && !matcher.matches("servers.web1.cpu.user") && !matcher.matches("servers.a.b.cpu"))
        #expect(GraphiteGlob.isLiteral("a.b-c.d") && !GraphiteGlob.isLiteral("a.*"))
    }

    @Test func timesAndIntervals() throws {
        let now: Int64 = 1_700_000_000
        #expect(try GraphiteTime.parse("now", parameter: "from", now: now) == now)
        #expect(try GraphiteTime.parse("-1h", parameter: "from", now: now) == now - 3600)
        #expect(try GraphiteTime.parse("-10min", parameter: "from", now: now) == now - 600)
        #expect(try GraphiteTime.parse("now-2d", parameter: "from", now: now) == now - 172_800)
        #expect(try GraphiteTime.parse("1699990000", parameter: "from", now: now) == 1_699_990_000)
        #expect(try GraphiteTime.parse("20231114", parameter: "from", now: now) == 1_699_920_000)
        #expect(try GraphiteTime.parse("22:13_20231114", parameter: "from", now: now) == 1_699_999_980)
        #expect(try GraphiteTime.interval("1mon") == 2_592_000 && GraphiteTime.interval("+1w") == 604_800)
        #expect(throws: SightlineError.self) { _ = try GraphiteTime.parse("yesterday", parameter: "from", now: now) }
        #expect(throws: SightlineError.self) { _ = try GraphiteTime.interval("5 parsecs") }
    }

    @Test func pathsSelectSeriesOnTheGrid() throws {
        #expect(Self.summary(try Self.render("servers.web*.cpu")) == ["servers.web1.cpu: 1 2 3 4 5 6", "servers.web2.cpu: 10 _ 30 40 50 60"])
        let tagged = try Self.render("disk")
        #expect(tagged.map(\.name) == ["disk;dc=x;host=a", "disk;dc=x;host=b"])
        #expect(tagged[0].tags == ["name": "disk", "dc": "x", "host": "a"])
        #expect(tagged[0].start == 1010 && tagged[0].step == 10)
        #expect(try Self.render("servers.nothing.*").isEmpty)
    }

    @Test func combiningFunctionsNameTheirInputs() throws {
        #expect(Self.summary(try Self.render("sumSeries(servers.web*.cpu)")) == ["sumSeries(servers.web*.cpu): 11 2 33 44 55 66"])
        #expect(try Self.render("sum(servers.web*.cpu)").map(\.name) == ["sumSeries(servers.web*.cpu)"])
        #expect(try Self.render("avg(servers.web*.cpu)").map(\.name) == ["averageSeries(servers.web*.cpu)"])
        #expect(Self.summary(try Self.render("averageSeries(servers.web*.cpu)")) == ["averageSeries(servers.web*.cpu): 5.5 2 16.5 22 27.5 33"])
        #expect(Self.summary(try Self.render("maxSeries(servers.*.cpu)")).first?.hasSuffix(": 100 100 100 100 100 100") == true)
        #expect(Self.summary(try Self.render("diffSeries(servers.db1.cpu,servers.web1.cpu)"))
            == ["diffSeries(servers.db1.cpu,servers.web1.cpu): 99 98 97 96 95 94"])
        #expect(Self.summary(try Self.render("multiplySeries(servers.web*.cpu)")) == ["multiplySeries(servers.web*.cpu): 10 _ 90 160 250 360"])
        #expect(Self.summary(try Self.render("divideSeries(servers.web*.cpu,servers.db1.cpu)")) == [
            "divideSeries(servers.web1.cpu,servers.db1.cpu): 0.01 0.02 0.03 0.04 0.05 0.06",
            "divideSeries(servers.web2.cpu,servers.db1.cpu): 0.1 _ 0.3 0.4 0.5 0.6",
        ])
        #expect(throws: SightlineError.self) { _ = try Self.render("divideSeries(servers.db1.cpu,servers.web*.cpu)") }
        #expect(Self.summary(try Self.render("sumSeries(scale(servers.web*.cpu,2))"))
            == ["sumSeries(scale(servers.web1.cpu,2),scale(servers.web2.cpu,2)): 22 4 66 88 110 132"])
        #expect(Self.summary(try Self.render("countSeries(servers.*.cpu)")) == ["countSeries(servers.*.cpu): 3 3 3 3 3 3"])
        let grouped = try Self.render("groupByNode(servers.*.cpu,1,'sum')")
        #expect(Self.summary(grouped) == ["db1: 100 100 100 100 100 100", "web1: 1 2 3 4 5 6", "web2: 10 _ 30 40 50 60"])
    }

    @Test func transformingFunctions() throws {
        #expect(Self.summary(try Self.render("scale(servers.web1.cpu,0.5)")) == ["scale(servers.web1.cpu,0.5): 0.5 1 1.5 2 2.5 3"])
        #expect(Self.summary(try Self.render("offset(servers.web1.cpu,-1)")) == ["offset(servers.web1.cpu,-1): 0 1 2 3 4 5"])
        #expect(Self.summary(try Self.render("transformNull(servers.web2.cpu)")) == ["transformNull(servers.web2.cpu,0): 10 0 30 40 50 60"])
        #expect(Self.summary(try Self.render("keepLastValue(servers.web2.cpu)")) == ["keepLastValue(servers.web2.cpu): 10 10 30 40 50 60"])
        #expect(Self.summary(try Self.render("derivative(servers.web1.requests)")) == ["derivative(servers.web1.requests): _ 10 10 -15 10 10"])
        #expect(Self.summary(try Self.render("nonNegativeDerivative(servers.web1.requests)"))
            == ["nonNegativeDerivative(servers.web1.requests): _ 10 10 _ 10 10"])
        #expect(Self.summary(try Self.render("perSecond(servers.web1.requests)")) == ["perSecond(servers.web1.requests): _ 1 1 _ 1 1"])
        #expect(Self.summary(try Self.render("integral(servers.web2.cpu)")) == ["integral(servers.web2.cpu): 10 _ 40 80 130 190"])
        #expect(Self.summary(try Self.render("removeAboveValue(servers.web1.cpu,3)")) == ["removeAboveValue(servers.web1.cpu, 3): 1 2 3 _ _ _"])
        #expect(Self.summary(try Self.render("absolute(offset(servers.web1.cpu,-3))"))
            == ["absolute(offset(servers.web1.cpu,-3)): 2 1 0 1 2 3"])
        // Windows reach back before `from`: the first points have their full window.
        // Windows end at the point itself (graphite-web 1.1.10).
        #expect(Self.summary(try Self.render("movingAverage(servers.web1.cpu,2)", from: 1020)) == ["movingAverage(servers.web1.cpu,2): 2.5 3.5 4.5 5.5"])
        #expect(Self.summary(try Self.render("movingSum(servers.web1.cpu,'20s')", from: 1020)) == [#"movingSum(servers.web1.cpu,"20s"): 5 7 9 11"#])
        // summarize: a bucket for the interval the series' end opens, as graphite-web has (the end, 1050, is on 30 s).
        #expect(Self.summary(try Self.render(#"summarize(servers.web1.cpu,"30s","sum")"#, until: 1040)).first?.hasSuffix(": 1 9 _") == true)
        let shifted = try Self.render("timeShift(servers.web1.cpu,'20s')", from: 1020)
        // Each point takes the value 20 s before it.
        #expect(Self.summary(shifted) == [#"timeShift(servers.web1.cpu, "20s"): 1 2 3 4"#] && shifted[0].start == 1030)
        let summarized = try Self.render(#"summarize(servers.web1.cpu,"30s","max")"#)
        // Buckets aligned to multiples of 30 s: [990, 1020), [1020, 1050), [1050, 1080).
        #expect(Self.summary(summarized) == [#"summarize(servers.web1.cpu, "30s", "max"): 1 4 6"#] && summarized[0].start == 990)
        let shares: [Double] = [1.0 / 11, 1, 3.0 / 33, 4.0 / 44, 5.0 / 55, 6.0 / 66]
        let percent: String = shares.map { GraphiteTarget.format($0 * 100) }.joined(separator: " ")
        let asPercent = Self.summary(try Self.render("asPercent(servers.web*.cpu)"))
        #expect(asPercent.first == "asPercent(servers.web1.cpu,sumSeries(servers.web*.cpu)): " + percent)
    }

    @Test func namingFilteringAndSorting() throws {
        #expect(try Self.render("alias(servers.web1.cpu,'web')").map(\.name) == ["web"])
        #expect(try Self.render("aliasByNode(scale(servers.*.cpu,2),1)").map(\.name) == ["db1", "web1", "web2"])
        #expect(try Self.render("aliasByNode(servers.web1.cpu,1,-1)").map(\.name) == ["web1.cpu"])
        #expect(try Self.render("aliasByMetric(servers.web1.cpu)").map(\.name) == ["cpu"])
        #expect(try Self.render(#"aliasSub(servers.web1.cpu,'servers\.(\w+)\.cpu','\1 load')"#).map(\.name) == ["web1 load"])
        #expect(try Self.render("highestMax(servers.*.cpu,2)").map(\.name) == ["servers.db1.cpu", "servers.web2.cpu"])
        #expect(try Self.render("lowestCurrent(servers.*.cpu)").map(\.name) == ["servers.web1.cpu"])
        #expect(try Self.render("averageAbove(servers.*.cpu,20)").map(\.name) == ["servers.db1.cpu", "servers.web2.cpu"])
        #expect(try Self.render("exclude(servers.*.cpu,'web')").map(\.name) == ["servers.db1.cpu"])
        #expect(try Self.render("grep(servers.*.cpu,'web2')").map(\.name) == ["servers.web2.cpu"])
        #expect(try Self.render("limit(sortByTotal(servers.*.cpu),2)").map(\.name) == ["servers.db1.cpu", "servers.web2.cpu"])
        #expect(try Self.render("sortByName(servers.*.cpu,reverse=true)").map(\.name) == ["servers.web2.cpu", "servers.web1.cpu", "servers.db1.cpu"])
        #expect(try Self.render("color(servers.web1.cpu,'red')").map(\.name) == ["servers.web1.cpu"])
        #expect(try Self.render("seriesByTag('name=disk','host=~b')").map(\.name) == ["disk;dc=x;host=b"])
        #expect(try Self.render("sumSeries(seriesByTag('name=disk'))").first?.tags == ["name": "disk", "dc": "x"])
        #expect(Self.summary(try Self.render("constantLine(42)")) == ["42: 42 42 42"])
        for bad in ["nosuch(a.b)", "scale(servers.web1.cpu)", "summarize(servers.web1.cpu,'soon')", "seriesByTag('nothing')", "'text'"] {
            #expect(throws: SightlineError.self, "\(bad)") { _ = try Self.render(bad) }
        }
    }

    @Test func consolidationMergesPoints() throws {
        let series = try Self.render("servers.web2.cpu")[0]
        let averaged = series.consolidated(by: 4)
        #expect(averaged.step == 40 && averaged.values == [80.0 / 3, 55])
        var summed = series
        summed.consolidation = .sum
        #expect(summed.consolidated(by: 3).values == [40, 150])
        let byFunction = try Self.render("consolidateBy(servers.web2.cpu,'max')")[0]
        #expect(byFunction.name == #"consolidateBy(servers.web2.cpu,"max")"# && byFunction.consolidated(by: 3).values == [30, 60])
    }
}
