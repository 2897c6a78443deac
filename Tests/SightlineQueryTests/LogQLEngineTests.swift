import SightlineCore
import SightlineQuery
import Testing

/// The LogQL engine over a small deterministic data set, with expected values worked out by hand.
///
/// Streams (times in seconds):
/// - `{app="api", level="info"}`: at 10, 20, 30, 40, 50, 60, line `status=200 latency=<t> took=<t/10>s`
/// - `{app="api", level="error"}`: at 15, 30, 45, 60, line `status=500 latency=100 took=1m`
/// - `{app="web"}`: at 5 and 35, line `latency=abc`
struct LogQLEngineTests {
    private static let second: Int64 = 1_000_000_000

    private func makeSource() -> MemoryLogSource {
        var records: [LogRecord] = []
        for t in stride(from: Int64(10), through: 60, by: 10) {
            records.append(MemoryLogSource.record(["app": "api", "level": "info"], t, "status=200 latency=\(t) took=\(t / 10)s"))
        }
        for t: Int64 in [15, 30, 45, 60] {
            records.append(MemoryLogSource.record(["app": "api", "level": "error"], t, "status=500 latency=100 took=1m"))
        }
        for t: Int64 in [5, 35] {
            records.append(MemoryLogSource.record(["app": "web"], t, "latency=abc"))
        }
        return MemoryLogSource(records)
    }

    /// `labels → value` of an instant vector result.
    private func vector(_ query: String, at seconds: Int64, source: MemoryLogSource? = nil, limits: LogQLEngine.Limits = .init()) throws -> [String: Double] {
        let engine = LogQLEngine(source: source ?? makeSource(), limits: limits)
        guard case .vector(let samples) = try engine.instant(query: query, tenant: .default, time: seconds * Self.second) else {
            Issue.record("not a vector: \(query)")
            return [:]
        }
        for sample in samples { #expect(sample.t == seconds * 1000) }
        var out: [String: Double] = [:]
        for sample in samples { out[Self.text(sample.metric)] = sample.v }
        return out
    }

    /// `{a="b", c="d"}`, also for no labels.
    private static func text(_ labels: Labels) -> String {
        "{" + labels.labels.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: ", ") + "}"
    }

    // MARK: - Log queries

    @Test func backwardLimitTakesTheNewestEntriesAcrossStreamsAndStopsEarly() throws {
        let source = makeSource()
        let engine = LogQLEngine(source: source)
        let result = try engine.range(query: #"{app="api"}"#, tenant: .default, start: 0, end: 100 * Self.second, step: Self.second, limit: 3, direction: .backward)
        guard case .streams(let streams) = result else {
            Issue.record("not streams")
            return
        }
        #expect(streams.map(\.labels.description) == [#"{app="api", level="error"}"#, #"{app="api", level="info"}"#])
        #expect(streams[0].entries.map(\.timeNs) == [60 * Self.second])
        #expect(streams[1].entries.map(\.timeNs) == [60 * Self.second, 50 * Self.second])
        #expect(source.visited == 3)
        #expect(source.scans.first?.direction == .backward)
    }

    @Test func forwardLimitTakesTheOldestEntries() throws {
        let engine = LogQLEngine(source: makeSource())
        guard case .streams(let streams) = try engine.range(query: #"{app="api"}"#, tenant: .default, start: 0, end: 100 * Self.second, step: Self.second, limit: 3, direction: .forward)
        else {
            Issue.record("not streams")
            return
        }
        #expect(streams[0].entries.map(\.timeNs) == [15 * Self.second])
        #expect(streams[1].entries.map(\.timeNs) == [10 * Self.second, 20 * Self.second])
    }

    @Test func logQueryRangeIsEndExclusiveAndFiltersPushDown() throws {
        let source = makeSource()
        let engine = LogQLEngine(source: source)
        guard case .streams(let streams) = try engine.range(query: #"{app="api"} |= "status=500" != "nope""#, tenant: .default, start: 15 * Self.second, end: 60 * Self.second, step: Self.second, limit: 100)
        else {
            Issue.record("not streams")
            return
        }
        #expect(streams.count == 1)
        #expect(streams[0].entries.map { $0.timeNs / Self.second } == [45, 30, 15])
        #expect(streams[0].entries.allSatisfy { $0.line == "status=500 latency=100 took=1m" })
        #expect(source.scans.first?.lineContains == ["status=500"])
    }

    @Test func parsedLabelsSplitStreams() throws {
        let engine = LogQLEngine(source: makeSource())
        guard case .streams(let streams) = try engine.range(query: #"{app="api"} | logfmt | latency >= 50 | line_format "{{.status}}""#, tenant: .default, start: 0, end: 100 * Self.second, step: Self.second, limit: 100)
        else {
            Issue.record("not streams")
            return
        }
        // The two info lines at 50s and 60s differ in their parsed labels; the four error lines share theirs.
        #expect(streams.count == 3)
        #expect(streams.allSatisfy { $0.entries.count == 1 || $0.entries.allSatisfy { $0.line == "500" } })
        let error = streams.filter { $0.labels["level"] == "error" }
        #expect(error.count == 1 && error[0].entries.count == 4)
    }

    @Test func lineFormatReadsStreamLabelsWithoutAParser() throws {
        let engine = LogQLEngine(source: makeSource())
        guard case .streams(let streams) = try engine.range(query: #"{app="api"} | line_format "{{.level}}:{{.app}}""#, tenant: .default, start: 0, end: 100 * Self.second, step: Self.second, limit: 100)
        else {
            Issue.record("not streams")
            return
        }
        #expect(streams.map { Set($0.entries.map(\.line)) } == [["error:api"], ["info:api"]])
    }

    @Test func openTelemetryRecordsShowResourceLabelsAndStructuredMetadata() throws {
        let record = LogRecord(
            timeUnixNano: UInt64(20 * Self.second), severityText: "WARN", body: .string("disk almost full"),
            attributes: [Attribute("disk.path", .string("/var"))],
            resource: [Attribute("service.name", .string("node")), Attribute("host.name", .string("h1"))])
        let engine = LogQLEngine(source: MemoryLogSource([record]))
        guard case .streams(let streams) = try engine.range(query: #"{service_name="node"} | severity_text="WARN""#, tenant: .default, start: 0, end: 100 * Self.second, step: Self.second, limit: 10)
        else {
            Issue.record("not streams")
            return
        }
        #expect(streams.map { Self.text($0.labels) } == [#"{disk_path="/var", host_name="h1", service_name="node", severity_text="WARN"}"#])
        #expect(streams.map { Self.text($0.streamLabels) } == [#"{host_name="h1", service_name="node"}"#])
        #expect(streams.first?.entries.map { Self.text($0.structuredMetadata) } == [#"{disk_path="/var", severity_text="WARN"}"#])
        guard case .streams(let parsed) = try engine.range(query: #"{service_name="node"} | regexp `(?P<state>\w+) full`"#, tenant: .default, start: 0, end: 100 * Self.second, step: Self.second, limit: 10)
        else {
            Issue.record("not streams")
            return
        }
        #expect(parsed.first?.entries.map { Self.text($0.parsed) } == [#"{state="almost"}"#])
        #expect(parsed.first.map { Self.text($0.streamLabels) } == #"{host_name="h1", service_name="node"}"#)
        let counts = try vector(#"count_over_time({service_name="node"}[1m])"#, at: 60, source: MemoryLogSource([record]))
        #expect(counts == [#"{disk_path="/var", host_name="h1", service_name="node", severity_text="WARN"}"#: 1])
    }

    /// `sum by (…)` over a linear range function groups records directly; the answer is the one the full label
    /// sets give, with structured metadata winning over a stream label of the same name.
    @Test func sumByPushesTheGroupingIntoTheScan() throws {
        var records: [LogRecord] = []
        for index in 0..<40 {
            let level = index % 4 == 0 ? "error" : "info"
            var attributes = [Attribute("request.id", .string("r\(index)"))]
            // Records 0, 10, 20, 30 say otherwise in their metadata: metadata wins.
            if index % 10 == 0 { attributes.append(Attribute("level", .string("fatal"))) }
            records.append(LogRecord(
                timeUnixNano: UInt64((index + 1) * Int(Self.second)), body: .string("line \(index) with \(String(repeating: "x", count: index))"),
                attributes: attributes, traceID: TraceID(high: 7, low: UInt64(index + 1)),
                stream: Labels([Label("app", index % 2 == 0 ? "api" : "web"), Label("level", level)])))
        }
        let source = MemoryLogSource(records)
        for function in ["count_over_time", "bytes_over_time"] {
            let pushed = try vector("sum by (level, app) (\(function)({app=~\".+\"} |= \"line\" [60s]))", at: 60, source: source)
            // The same query, grouped after the range aggregation: `+ 0` keeps the engine from pushing the grouping.
            let full = try vector("sum by (level, app) (\(function)({app=~\".+\"} |= \"line\" [60s]) + 0)", at: 60, source: source)
            #expect(pushed == full, "\(function)")
            #expect(pushed.keys.contains(#"{app="api", level="fatal"}"#), "\(function)")
        }
        // Pipelines that read or set labels are pushed too: the same answers as grouping the full label sets.
        for pipeline in [
            #"| logfmt"#, #"| line_format "{{ .level }} {{ __line__ }}""#, #"| label_format level="{{ .level | upper }}""#,
            #"| regexp "line (?P<n>\\d)" | n != "3""#, #"| json | __error__="""#, #"| drop level"#,
        ] {
            for grouping in ["by (level, app)", "by (n)", ""] {
                let pushed = try vector("sum \(grouping) (count_over_time({app=~\".+\"} \(pipeline) [60s]))", at: 60, source: source)
                let full = try vector("sum \(grouping) (count_over_time({app=~\".+\"} \(pipeline) [60s]) + 0)", at: 60, source: source)
                #expect(pushed == full, "\(pipeline) \(grouping)")
                #expect(!pushed.isEmpty || pipeline.contains("json"), "\(pipeline) \(grouping)")
            }
        }
        // A record the pipeline marks with `__error__` fails the pushed query as it fails the unpushed one, naming the
        // same series.
        func failure(_ query: String) -> String {
            do {
                _ = try vector(query, at: 60, source: source)
                return ""
            } catch {
                return (error as? SightlineError)?.message ?? "\(error)"
            }
        }
        let pushedFailure = failure(#"sum by (app) (count_over_time({app=~".+"} | json [60s]))"#)
        #expect(pushedFailure.hasPrefix("pipeline error: 'JSONParserErr' for series: '{__error__=\"JSONParserErr\""))
        #expect(pushedFailure == failure(#"sum by (app) (count_over_time({app=~".+"} | json [60s]) + 0)"#))
        let counts = try vector(#"sum by (trace_id) (count_over_time({app="api"}[60s]))"#, at: 60, source: source)
        #expect(counts.count == 20)
        #expect(try vector(#"sum(count_over_time({app=~".+"}[60s]))"#, at: 60, source: source) == ["{}": 40])
    }

    /// `detected_level` is derived when a query asks for it (Loki stores it at ingestion): by filters, by `by`
    /// whether the grouping is pushed into the scan or not, and by templates; it is not added to result labels.
    @Test func detectedLevelIsDerivedWhenAskedFor() throws {
        let source = makeSource()
        // api streams have a `level` label; web's lines say nothing.
        let levels = try vector(#"sum by (detected_level) (count_over_time({app=~".+"}[60s]))"#, at: 60, source: source)
        #expect(levels == [#"{detected_level="error"}"#: 4, #"{detected_level="info"}"#: 6, #"{detected_level="unknown"}"#: 2])
        let parsed = try vector(#"sum by (detected_level) (count_over_time({app=~".+"} | logfmt [60s]))"#, at: 60, source: source)
        #expect(parsed == levels)
        let filtered = try vector(#"count_over_time({app=~".+"} | detected_level=~"error|unknown" [60s])"#, at: 60, source: source)
        #expect(filtered == [#"{app="api", level="error"}"#: 4, #"{app="web"}"#: 2])
        let engine = LogQLEngine(source: source)
        guard case .streams(let streams) = try engine.range(
            query: #"{app="api"} | detected_level="error" | line_format "{{ .detected_level }}""#, tenant: .default, start: 0,
            end: 100 * Self.second, step: Self.second, limit: 10)
        else {
            Issue.record("not streams")
            return
        }
        #expect(streams.map { Self.text($0.labels) } == [#"{app="api", level="error"}"#])
        #expect(streams.first?.entries.map(\.line) == ["error", "error", "error", "error"])
        // A stream label comes before structured metadata of the same name, in filters as in grouping.
        let both = MemoryLogSource([MemoryLogSource.record(["app": "x", "level": "info"], 10, "line", metadata: [Attribute("level", .string("debug"))])])
        #expect(try vector(#"sum by (detected_level) (count_over_time({app="x"}[60s]))"#, at: 60, source: both) == [#"{detected_level="info"}"#: 1])
        #expect(try vector(#"sum(count_over_time({app="x"} | detected_level="info" | line_format "x" [60s]))"#, at: 60, source: both) == ["{}": 1])
    }

    @Test func logQueryLimitsAndInstantRejection() throws {
        let engine = LogQLEngine(source: makeSource(), limits: .init(maxEntries: 10))
        #expect(throws: SightlineError.self) {
            try engine.range(query: #"{app="api"}"#, tenant: .default, start: 0, end: Self.second, step: Self.second, limit: 11)
        }
        do {
            _ = try engine.range(query: #"{app="api"}"#, tenant: .default, start: 0, end: Self.second, step: Self.second, limit: 11)
        } catch let error as SightlineError {
            #expect(error.code == .tooLarge)
            #expect(error.message == "max entries limit per query exceeded, limit > max_entries_limit_per_query (11 > 10)")
        }
        do {
            _ = try engine.instant(query: #"{app="api"}"#, tenant: .default, time: Self.second)
            Issue.record("instant log query accepted")
        } catch let error as SightlineError {
            #expect(error.message.hasPrefix("log queries are not supported as an instant query type"))
        }
        do {
            _ = try engine.instant(query: #"{app="api"} |= x"#, tenant: .default, time: Self.second)
            Issue.record("bad query accepted")
        } catch let error as SightlineError {
            #expect(error.code == .invalidArgument)
            #expect(error.message == "parse error at line 1, col 16: syntax error: unexpected IDENTIFIER, expecting STRING or ip")
        }
    }

    // MARK: - Range aggregations

    @Test func countAndRateOverALeftOpenWindow() throws {
        // (30s, 60s]: info at 40, 50, 60; error at 45, 60.
        #expect(try vector(#"count_over_time({app="api"}[30s])"#, at: 60) == [#"{app="api", level="error"}"#: 2, #"{app="api", level="info"}"#: 3])
        #expect(try vector(#"rate({app="api"}[30s])"#, at: 60) == [#"{app="api", level="error"}"#: 2.0 / 30, #"{app="api", level="info"}"#: 0.1])
        // (10s, 30s]: the record at exactly 10s is outside, the one at 30s inside.
        #expect(try vector(#"count_over_time({app="api", level="info"}[20s])"#, at: 30) == [#"{app="api", level="info"}"#: 2])
        // Offset moves the window to (0s, 30s].
        #expect(try vector(#"count_over_time({app="api"}[30s] offset 30s)"#, at: 60) == [#"{app="api", level="error"}"#: 2, #"{app="api", level="info"}"#: 3])
    }

    @Test func bytesOverTimeAndBytesRate() throws {
        // error lines are 30 bytes; (30s, 60s] holds two.
        let line = "status=500 latency=100 took=1m"
        #expect(try vector(#"bytes_over_time({level="error"}[30s])"#, at: 60) == [#"{app="api", level="error"}"#: Double(2 * line.utf8.count)])
        #expect(try vector(#"bytes_rate({level="error"}[30s])"#, at: 60) == [#"{app="api", level="error"}"#: Double(2 * line.utf8.count) / 30])
    }

    @Test func unwrappedAggregations() throws {
        let info = #"{app="api", level="info", status="200"}"#
        let base = #"{level="info"} | logfmt | drop took | unwrap latency"#
        // (0s, 60s] holds latencies 10, 20, 30, 40, 50, 60; `took` is a label too, so drop it to get one series.
        func one(_ function: String, _ extra: String = "") throws -> Double? {
            try vector("\(function)(\(extra)\(base) [60s])", at: 60)[info]
        }
        #expect(try one("sum_over_time") == 210)
        #expect(try one("avg_over_time") == 35)
        #expect(try one("min_over_time") == 10)
        #expect(try one("max_over_time") == 60)
        #expect(try one("first_over_time") == 10)
        #expect(try one("last_over_time") == 60)
        #expect(try one("quantile_over_time", "0.5, ") == 35)
        #expect(try one("rate") == 3.5)
        let squares: Double = 625 + 225 + 25
        let variance = squares * 2 / 6
        #expect(try one("stdvar_over_time") == variance)
        #expect(try one("stddev_over_time") == variance.squareRoot())
    }

    @Test func unwrapConversionsAndGrouping() throws {
        // took=1s…6s for info, 1m for error; avg by level over (0s, 60s].
        let result = try vector(#"avg_over_time({app="api"} | logfmt | unwrap duration(took) [60s]) by (level)"#, at: 60)
        #expect(result == [#"{level="error"}"#: 60, #"{level="info"}"#: 3.5])
        // Without grouping the unwrapped label leaves the series labels.
        let ungrouped = try vector(#"max_over_time({level="error"} | logfmt | unwrap latency [60s])"#, at: 60)
        #expect(ungrouped == [#"{app="api", level="error", status="500", took="1m"}"#: 100])
    }

    @Test func unwrapErrorsFailTheQueryUnlessFiltered() throws {
        do {
            _ = try vector(#"sum_over_time({app="web"} | logfmt | unwrap latency [1m])"#, at: 60)
            Issue.record("pipeline error not raised")
        } catch let error as SightlineError {
            #expect(error.message.hasPrefix(#"pipeline error: 'SampleExtractionErr' for series: '{__error__="SampleExtractionErr""#))
        }
        #expect(try vector(#"sum_over_time({app="web"} | logfmt | unwrap latency | __error__="" [1m])"#, at: 60).isEmpty)
        #expect(try vector(#"count_over_time({app="web"} | json | __error__="" [1m])"#, at: 60).isEmpty)
        #expect(throws: SightlineError.self) { try vector(#"count_over_time({app="web"} | json [1m])"#, at: 60) }
    }

    @Test func rateCounterExtrapolates() throws {
        // Latencies 10…60 every 10s as a counter over (0s, 60s]: an increase of 50 over 50s of samples. The first sample is
        // 10s after the window start, under 1.1 × the 10s spacing, so the rate extrapolates the full 10s (the counter's
        // zero point, 10s before the first sample, is no earlier); the last sample is at the end. 50 × 60/50 / 60s = 1.
        let value = try vector(#"rate_counter({level="info"} | logfmt | drop took | unwrap latency [60s])"#, at: 60)
        #expect(value[#"{app="api", level="info", status="200"}"#] == 1)
    }

    @Test func absentOverTime() throws {
        #expect(try vector(#"absent_over_time({app="nope", env=~"x.+"}[1m])"#, at: 60) == [#"{app="nope"}"#: 1])
        #expect(try vector(#"absent_over_time({app="api"}[1m])"#, at: 60).isEmpty)
    }

    @Test func rangeQueryBucketsOneScanIntoSteps() throws {
        let source = makeSource()
        let engine = LogQLEngine(source: source)
        let result = try engine.range(
            query: #"count_over_time({app="api"}[15s])"#, tenant: .default, start: 30 * Self.second, end: 60 * Self.second, step: 15 * Self.second)
        guard case .matrix(let series) = result else {
            Issue.record("not a matrix")
            return
        }
        // Windows (15,30], (30,45], (45,60].
        #expect(series.map(\.metric.description) == [#"{app="api", level="error"}"#, #"{app="api", level="info"}"#])
        #expect(series[0].points == [FloatPoint(t: 30_000, v: 1), FloatPoint(t: 45_000, v: 1), FloatPoint(t: 60_000, v: 1)])
        #expect(series[1].points == [FloatPoint(t: 30_000, v: 2), FloatPoint(t: 45_000, v: 1), FloatPoint(t: 60_000, v: 2)])
        #expect(source.scans.count == 1)
        #expect(source.scans[0].direction == .forward)
        #expect(source.scans[0].range == TimeRange(startNano: UInt64(15 * Self.second + 1), endNano: UInt64(60 * Self.second + 1)))
    }

    @Test func rangeQueryWithOffsetGroupingAndAbsentSteps() throws {
        let engine = LogQLEngine(source: makeSource())
        // last_over_time by (level) over (t - 30s - 10s, t - 10s] at t = 40s and 70s: windows (0,30] and (30,60].
        guard case .matrix(let last) = try engine.range(
            query: #"last_over_time({app="api"} | logfmt | unwrap latency [30s] offset 10s) by (level)"#, tenant: .default,
            start: 40 * Self.second, end: 70 * Self.second, step: 30 * Self.second)
        else {
            Issue.record("not a matrix")
            return
        }
        #expect(last.map { Self.text($0.metric) } == [#"{level="error"}"#, #"{level="info"}"#])
        #expect(last[0].points == [FloatPoint(t: 40_000, v: 100), FloatPoint(t: 70_000, v: 100)])
        #expect(last[1].points == [FloatPoint(t: 40_000, v: 30), FloatPoint(t: 70_000, v: 60)])
        // absent_over_time yields 1 only at the steps whose window is empty: web logs at 5s and 35s, windows of 10s.
        guard case .matrix(let absent) = try engine.range(
            query: #"absent_over_time({app="web"}[10s])"#, tenant: .default, start: 10 * Self.second, end: 50 * Self.second, step: 10 * Self.second)
        else {
            Issue.record("not a matrix")
            return
        }
        #expect(absent.count == 1)
        #expect(absent.first?.points.map(\.t) == [20_000, 30_000, 50_000])
        // A scalar query over a range is one series without labels.
        guard case .matrix(let scalar) = try engine.range(query: "2 * 3", tenant: .default, start: 0, end: 2 * Self.second, step: Self.second) else {
            Issue.record("not a matrix")
            return
        }
        #expect(scalar.count == 1 && scalar[0].points.map(\.v) == [6, 6, 6])
    }

    @Test func rangeQueriesAgreeWithInstantQueriesAtEveryStep() throws {
        // A 25s range with a 10s step makes 5s buckets; windows start before the first step (negative bucket offsets).
        let engine = LogQLEngine(source: makeSource())
        let functions = [
            "count_over_time({app=~\".+\"}[25s])", "rate({app=~\".+\"}[25s])", "bytes_over_time({app=~\".+\"}[25s] offset 3s)",
            "bytes_rate({app=\"api\"}[25s])", "absent_over_time({app=\"web\"}[25s])",
        ] + ["sum", "avg", "min", "max", "first", "last", "stdvar", "stddev", "quantile"].map { name in
            (name == "quantile" ? "quantile_over_time(0.3, " : "\(name)_over_time(") + "{app=\"api\"} | logfmt | drop took | unwrap latency [25s])"
        } + ["rate_counter({level=\"info\"} | logfmt | drop took | unwrap latency [25s])"]
        for query in functions {
            guard case .matrix(let series) = try engine.range(query: query, tenant: .default, start: 30 * Self.second, end: 90 * Self.second, step: 10 * Self.second)
            else {
                Issue.record("not a matrix: \(query)")
                continue
            }
            var fromRange: [String: Double] = [:]
            for one in series {
                for point in one.points { fromRange["\(point.t) \(Self.text(one.metric))"] = point.v }
            }
            var fromInstant: [String: Double] = [:]
            for t in stride(from: Int64(30), through: 90, by: 10) {
                for (labels, value) in try vector(query, at: t) { fromInstant["\(t * 1000) \(labels)"] = value }
            }
            #expect(fromInstant.count >= 3, "\(query)")
            #expect(fromRange.keys.sorted() == fromInstant.keys.sorted(), "\(query)")
            for (key, value) in fromInstant {
                let other = fromRange[key] ?? .nan
                #expect(abs(other - value) <= 1e-9 * max(1, abs(value)), "\(query) at \(key): \(other) vs \(value)")
            }
        }
    }

    @Test func badRangeParameters() throws {
        let engine = LogQLEngine(source: makeSource())
        #expect(throws: SightlineError.self) {
            try engine.range(query: #"count_over_time({app="api"}[1m])"#, tenant: .default, start: 10, end: 5, step: 1)
        }
        #expect(throws: SightlineError.self) {
            try engine.range(query: #"count_over_time({app="api"}[1m])"#, tenant: .default, start: 0, end: 5, step: 0)
        }
    }

    @Test func templateFailuresSetAnErrorAndKeepTheLine() throws {
        let engine = LogQLEngine(source: makeSource())
        guard case .streams(let streams) = try engine.range(
            query: #"{level="error"} | logfmt | line_format "{{ div .status 0 }}""#, tenant: .default, start: 0, end: 100 * Self.second, step: Self.second,
            limit: 1)
        else {
            Issue.record("not streams")
            return
        }
        #expect(streams.first?.labels["__error__"] == "TemplateFormatErr")
        #expect(streams.first?.entries.first?.line == "status=500 latency=100 took=1m")
    }

    // MARK: - Vector aggregations and operators

    @Test func vectorAggregations() throws {
        let count = #"count_over_time({app=~".+"}[60s])"#
        // (0, 60]: info 6, error 4, web 2.
        #expect(try vector("sum(\(count))", at: 60) == ["{}": 12])
        #expect(try vector("sum by (app) (\(count))", at: 60) == [#"{app="api"}"#: 10, #"{app="web"}"#: 2])
        #expect(try vector("sum without (level) (\(count))", at: 60) == [#"{app="api"}"#: 10, #"{app="web"}"#: 2])
        #expect(try vector("avg(\(count))", at: 60) == ["{}": 4])
        #expect(try vector("min(\(count))", at: 60) == ["{}": 2])
        #expect(try vector("max by (app) (\(count))", at: 60) == [#"{app="api"}"#: 6, #"{app="web"}"#: 2])
        #expect(try vector("count(\(count))", at: 60) == ["{}": 3])
        #expect(try vector("stdvar(\(count))", at: 60) == ["{}": 8.0 / 3])
        #expect(try vector("topk(1, \(count))", at: 60) == [#"{app="api", level="info"}"#: 6])
        #expect(try vector("approx_topk(1, \(count))", at: 60) == [#"{app="api", level="info"}"#: 6])
        #expect(try vector("bottomk(2, \(count))", at: 60) == [#"{app="web"}"#: 2, #"{app="api", level="error"}"#: 4])
        let engine = LogQLEngine(source: makeSource())
        guard case .vector(let sorted) = try engine.instant(query: "sort_desc(\(count))", tenant: .default, time: 60 * Self.second) else {
            Issue.record("not a vector")
            return
        }
        #expect(sorted.map(\.v) == [6, 4, 2])
    }

    @Test func binaryOperators() throws {
        let count = #"count_over_time({app="api"}[60s])"#
        #expect(try vector("\(count) * 2", at: 60) == [#"{app="api", level="error"}"#: 8, #"{app="api", level="info"}"#: 12])
        #expect(try vector("\(count) > 5", at: 60) == [#"{app="api", level="info"}"#: 6])
        #expect(try vector("\(count) > bool 5", at: 60) == [#"{app="api", level="error"}"#: 0, #"{app="api", level="info"}"#: 1])
        #expect(try vector("10 - \(count)", at: 60) == [#"{app="api", level="error"}"#: 6, #"{app="api", level="info"}"#: 4])
        // Ratio of each level to the total, matched on no labels.
        let source = makeSource()
        #expect(try vector("sum by (level) (\(count)) / on () group_left sum(\(count))", at: 60, source: source) == [#"{level="error"}"#: 0.4, #"{level="info"}"#: 0.6])
        // Each sum groups in its own scan (`by (level)` and `by ()`); the same aggregation written twice scans once.
        #expect(source.scans.count == 2)
        let twice = makeSource()
        _ = try vector("sum by (level) (\(count)) / on (level) sum by (level) (\(count))", at: 60, source: twice)
        #expect(twice.scans.count == 1)
        #expect(try vector(#"\#(count) and count_over_time({level="error"}[60s])"#, at: 60) == [#"{app="api", level="error"}"#: 4])
        #expect(try vector(#"\#(count) unless count_over_time({level="error"}[60s])"#, at: 60) == [#"{app="api", level="info"}"#: 6])
        #expect(try vector(#"count_over_time({app="nope"}[60s]) or vector(0)"#, at: 60) == ["{}": 0])
        #expect(try vector(#"label_replace(\#(count), "sev", "$1!", "level", "(e.*)")"#, at: 60) == [
            #"{app="api", level="error", sev="error!"}"#: 4, #"{app="api", level="info"}"#: 6,
        ])
        let engine = LogQLEngine(source: makeSource())
        guard case .scalar(let t, let v) = try engine.instant(query: "1 + 2 * 3 ^ 2", tenant: .default, time: 60 * Self.second) else {
            Issue.record("not a scalar")
            return
        }
        #expect(t == 60_000 && v == 19)
        // One-to-one matching with duplicates on one side is an error, as in PromQL.
        #expect(throws: SightlineError.self) {
            try vector(#"sum by (app) (\#(count)) + on (app) \#(count)"#, at: 60)
        }
    }

    @Test func seriesLimit() throws {
        do {
            _ = try vector(#"count_over_time({app=~".+"}[60s])"#, at: 60, limits: .init(maxSeries: 2))
            Issue.record("series limit not enforced")
        } catch let error as SightlineError {
            #expect(error.code == .tooLarge)
            #expect(error.message.hasPrefix("maximum number of series (2) reached for a single query"))
        }
        // The limit applies to the result: aggregating three series into one stays within a limit of one.
        #expect(try vector(#"sum(count_over_time({app=~".+"}[60s]))"#, at: 60, limits: .init(maxSeries: 1)) == ["{}": 12])
        let limited = LogQLEngine(source: makeSource(), limits: .init(maxSeries: 2))
        #expect(throws: SightlineError.self) {
            try limited.range(query: #"count_over_time({app=~".+"}[10s])"#, tenant: .default, start: 0, end: 60 * Self.second, step: 10 * Self.second)
        }
        let engine = LogQLEngine(source: makeSource(), limits: .init(maxPointsPerSeries: 10))
        #expect(throws: SightlineError.self) {
            try engine.range(query: #"count_over_time({app="api"}[1m])"#, tenant: .default, start: 0, end: 60 * Self.second, step: Self.second)
        }
    }
}
