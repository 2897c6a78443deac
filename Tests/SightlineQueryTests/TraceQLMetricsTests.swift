import SightlineCore
import Testing

@testable import SightlineQuery

/// Spans held in memory, scanned by ``TraceQuery/matches(_:)``: the store protocol's definition, without a store.
struct SpanList: TraceSource {
    var spans: [Span]

    func spans(tenant: Tenant, in range: TimeRange, limit: Int) throws -> [Span] {
        Array(spans.filter { range.contains($0.startTimeUnixNano) }.sorted { $0.startTimeUnixNano > $1.startTimeUnixNano }.prefix(limit))
    }
    func trace(tenant: Tenant, id: TraceID) throws -> [Span] { spans.filter { $0.traceID == id } }
    func services(tenant: Tenant, range: TimeRange) throws -> [String] { Array(Set(spans.map(\.serviceName))).sorted() }
    func operations(tenant: Tenant, service: String, kind: Span.Kind?, range: TimeRange) throws -> [TraceOperation] { [] }
    func findTraces(_ query: TraceQuery) throws -> [TraceID] { Array(Set(spans.filter(query.matches).map(\.traceID))) }
    func dependencies(tenant: Tenant, range: TimeRange) throws -> [DependencyLink] { DependencyLink.compute(spans) }
    func forEachSpan(matching query: TraceQuery, _ visit: (Span) throws -> Void) throws {
        for span in spans where query.matches(span) { try visit(span) }
    }
}

@Suite struct TraceQLMetricsTests {
    static let second: UInt64 = 1_000_000_000
    static let tenant = Tenant(uncheckedID: "acme")

    /// Six traces, one every 10 s from 1000 s: a root server span of `shop` (100 ms · (i + 1)), a client child, and
    /// (in traces 0, 2, 4) a failing `stock` server span under the client whose `retries` is i.
    static let spans: [Span] = (0..<6).flatMap { i -> [Span] in
        let id = TraceID(high: 7, low: UInt64(i + 1))
        let start = (1000 + 10 * UInt64(i)) * second
        let shop = [Attribute("service.name", .string("shop"))]
        var spans = [
            Span(
                traceID: id, spanID: SpanID(1), name: "GET /cart", kind: .server, startTimeUnixNano: start,
                endTimeUnixNano: start + UInt64(i + 1) * 100_000_000, attributes: [Attribute("http.method", .string(i < 3 ? "GET" : "POST"))],
                resource: shop),
            Span(
                traceID: id, spanID: SpanID(2), parentSpanID: SpanID(1), name: "call stock", kind: .client, startTimeUnixNano: start + 1000,
                endTimeUnixNano: start + 50_000_000, resource: shop),
        ]
        if i % 2 == 0 {
            spans.append(
                Span(
                    traceID: id, spanID: SpanID(3), parentSpanID: SpanID(2), name: "GET /stock", kind: .server, startTimeUnixNano: start + 2000,
                    endTimeUnixNano: start + 3_000_000, attributes: [Attribute("retries", .int(Int64(i)))], statusCode: .error,
                    resource: [Attribute("service.name", .string("stock"))]))
        }
        return spans
    }

    /// The range 1000 s to 1060 s in steps of 20 s: intervals ending at 1000, 1020, 1040, 1060 (the first, added as
    /// Tempo adds it, holds the spans of 1000 s exactly).
    static let window = try! TraceQLMetricsWindow(rangeFrom: 1000 * second, to: 1060 * second, step: 20 * second)

    func run(_ text: String, window: TraceQLMetricsWindow = Self.window, spans: [Span] = Self.spans, traceLimit: Int = 100) throws -> TraceQLMetricsResult {
        try TraceQLQuery(text).metrics(source: SpanList(spans: spans), tenant: Self.tenant, window: window, exemplars: 10, traceLimit: traceLimit)
    }

    /// Each series as `labels: values`, values by interval index (missing ones left out).
    func table(_ result: TraceQLMetricsResult) -> [String] {
        result.series.map { series in
            let labels = series.labels.map { label -> String in
                switch label.value {
                case .string(let text): "\(label.name)=\(text)"
                case .int(let n): "\(label.name)=\(n)i"
                case .double(let x): "\(label.name)=\(x)"
                case .bool(let flag): "\(label.name)=\(flag)"
                }
            }
            return labels.joined(separator: ",") + ": " + series.samples.map { "\($0.interval):\($0.value)" }.joined(separator: " ")
        }
    }

    /// Expects `body` to throw `invalidArgument` with `message`.
    func expectInvalid(_ message: String, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("no error, expected \(message)", sourceLocation: sourceLocation)
        } catch let error as SightlineError {
            #expect(error.code == .invalidArgument && error.message == message, "\(error.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record(error, sourceLocation: sourceLocation)
        }
    }

    @Test func windowsEndOnMultiplesOfTheStepAndStartOneEarlier() throws {
        let window = Self.window
        #expect(window.count == 4)
        #expect((0..<4).map(window.timestampMs) == [1_000_000, 1_020_000, 1_040_000, 1_060_000])
        #expect(window.interval(of: 980 * Self.second) == nil)
        #expect(window.interval(of: 980 * Self.second + 1) == 0)
        #expect(window.interval(of: 1000 * Self.second) == 0)
        #expect(window.interval(of: 1000 * Self.second + 1) == 1)
        #expect(window.interval(of: 1060 * Self.second) == 3)
        #expect(window.interval(of: 1060 * Self.second + 1) == nil)
        let unaligned = try TraceQLMetricsWindow(rangeFrom: 1005 * Self.second, to: 1041 * Self.second, step: 20 * Self.second)
        #expect((0..<unaligned.count).map(unaligned.timestampMs) == [1_000_000, 1_020_000, 1_040_000, 1_060_000])
        let instant = try TraceQLMetricsWindow(instantFrom: 1005 * Self.second, to: 1041 * Self.second)
        #expect(instant.count == 1 && instant.interval(of: 1005 * Self.second) == nil && instant.interval(of: 1041 * Self.second) == 0)

        let hour = 3600 * Self.second
        #expect(TraceQLMetricsWindow.defaultStep(from: 0, to: hour) == 15 * Self.second)
        #expect(TraceQLMetricsWindow.defaultStep(from: 0, to: 6 * hour) == 60 * Self.second)
        #expect(TraceQLMetricsWindow.defaultStep(from: 0, to: 24 * hour) == 300 * Self.second)
        #expect(TraceQLMetricsWindow.defaultStep(from: 0, to: 30 * Self.second) == 100_000_000)
        #expect(TraceQLMetricsWindow.defaultStep(from: 0, to: Self.second) == 50_000_000)

        expectInvalid("end must be greater than start") { _ = try TraceQLMetricsWindow(rangeFrom: 5, to: 5, step: 1) }
        expectInvalid("end is out of range") { _ = try TraceQLMetricsWindow(rangeFrom: 0, to: .max, step: .max / 2) }
        expectInvalid("end is out of range") { _ = try TraceQLMetricsWindow(instantFrom: 0, to: .max) }
        let widest = try TraceQLMetricsWindow(rangeFrom: 0, to: .max / 2, step: .max / 4)
        #expect(widest.count == 4 && widest.scanRange.endNano > .max / 2)
        expectInvalid("step of 35ms is too small, minimum step for given range is 36ms") {
            _ = try TraceQLMetricsWindow(rangeFrom: 0, to: 360 * Self.second, step: 35_000_000)
        }
    }

    @Test func countsAndRatesHaveEveryIntervalGroupedAsAsked() throws {
        #expect(table(try run("{} | count_over_time()")) == ["__name__=count_over_time: 0:1.0 1:5.0 2:5.0 3:4.0"])
        #expect(table(try run("{ nestedSetParent < 0 } | rate()")) == ["__name__=rate: 0:0.05 1:0.1 2:0.1 3:0.05"])
        #expect(table(try run("{ status = error } | count_over_time() by (resource.service.name, span.retries)")) == [
            "resource.service.name=stock,span.retries=0i: 0:0.0 1:1.0 2:0.0 3:0.0",
            "resource.service.name=stock,span.retries=2i: 0:0.0 1:0.0 2:1.0 3:0.0",
            "resource.service.name=stock,span.retries=4i: 0:0.0 1:0.0 2:0.0 3:1.0",
        ])
        // A missing field is left out; when all are, the first is shown as nil.
        #expect(table(try run("{ kind = server } | count_over_time() by (span.retries)")) == [
            "span.retries=0i: 0:0.0 1:1.0 2:0.0 3:0.0", "span.retries=2i: 0:0.0 1:0.0 2:1.0 3:0.0",
            "span.retries=4i: 0:0.0 1:0.0 2:0.0 3:1.0", "span.retries=nil: 0:1.0 1:2.0 2:2.0 3:1.0",
        ])
        #expect(table(try run("{} | count_over_time() by (status, kind)")).first == "status=error,kind=server: 0:0.0 1:1.0 2:1.0 3:1.0")
        #expect(try run("{ name = \"nothing\" } | rate()").series.isEmpty)
    }

    @Test func overTimeFunctionsLeaveEmptyIntervalsOut() throws {
        // Root durations: 0.1 s at 1000, 0.2 s and 0.3 s in (1000, 1020], 0.4 and 0.5 in (1020, 1040], 0.6 at 1050.
        let roots = "{ nestedSetParent < 0 }"
        #expect(table(try run(roots + " | max_over_time(duration)")) == ["__name__=max_over_time: 0:0.1 1:0.3 2:0.5 3:0.6"])
        #expect(table(try run(roots + " | min_over_time(duration)")) == ["__name__=min_over_time: 0:0.1 1:0.2 2:0.4 3:0.6"])
        let sums = try run(roots + " | sum_over_time(duration)").series[0].samples.map(\.value)
        #expect(zip(sums, [0.1, 0.5, 0.9, 0.6]).allSatisfy { abs($0 - $1) < 1e-9 })
        #expect(table(try run("{} | avg_over_time(span.retries)")) == ["__name__=avg_over_time: 1:0.0 2:2.0 3:4.0"])
    }

    @Test func histogramsCountPowerOfTwoBucketsAndQuantilesInterpolate() throws {
        // Durations 3 ms (stock) fall in 2^22 ns = 0.004194304 s; 100 ms roots in 2^27 ns.
        let histogram = table(try run("{ kind = server && resource.service.name = \"stock\" } | histogram_over_time(duration)"))
        #expect(histogram == ["__bucket=0.004194304: 0:0.0 1:1.0 2:1.0 3:1.0"])
        #expect(table(try run("{ status = error } | histogram_over_time(span.retries)")) == ["__bucket=2.0: 0:0.0 1:0.0 2:1.0 3:0.0", "__bucket=4.0: 0:0.0 1:0.0 2:0.0 3:1.0"])

        #expect(Log2Buckets.quantile(0.5, [1: 1, 2: 1, 4: 2]) == 2)
        #expect(Log2Buckets.quantile(0.9, [1: 1, 2: 1, 4: 2]) == 4)
        #expect(abs(Log2Buckets.quantile(0.6, [1: 1, 2: 1, 4: 2]) - 2.8284271247) < 1e-9)
        #expect(abs(Log2Buckets.quantile(0.5, [8: 4]) - 5.6568542495) < 1e-9)

        let quantiles = try run("{ nestedSetParent < 0 } | quantile_over_time(duration, 0.5, 1) by (span.http.method)")
        #expect(quantiles.series.map { $0.labels.map(\.name) } == Array(repeating: ["span.http.method", "p"], count: 4))
        // Interval 1 of GET holds 0.2 s and 0.3 s: buckets 2^28 ns and 2^29 ns; the median is the first's bound.
        let getMedian = quantiles.series.first { $0.labels == [.init(name: "span.http.method", value: .string("GET")), .init(name: "p", value: .double(0.5))] }
        #expect(getMedian?.samples.map(\.value) == [0.134217728, 0.268435456, 0, 0])
    }

    @Test func compareCountsAttributeValuesOfSelectionAndBaseline() throws {
        let result = table(try run("{} | compare({ status = error }, 1)", window: try TraceQLMetricsWindow(instantFrom: 900 * Self.second, to: 1100 * Self.second)))
        #expect(result.contains("__meta_type=selection,span.retries=0i: 0:1.0"))
        #expect(!result.contains("__meta_type=selection,span.retries=2i: 0:1.0"))  // top 1 per attribute
        #expect(result.contains("__meta_type=selection_total,span.retries=nil: 0:3.0"))
        #expect(result.contains("__meta_type=selection,resource.service.name=stock: 0:3.0"))
        #expect(result.contains("__meta_type=baseline,resource.service.name=shop: 0:12.0"))
        #expect(result.contains("__meta_type=baseline,kind=client: 0:6.0"))
        #expect(result.contains("__meta_type=baseline_total,status=nil: 0:12.0"))
        // With a time selection, errors outside it are baseline.
        let timed = table(try run("{} | compare({ status = error }, 10, 1015000000000, 1025000000000)", window: try TraceQLMetricsWindow(instantFrom: 900 * Self.second, to: 1100 * Self.second)))
        #expect(timed.contains("__meta_type=selection,span.retries=2i: 0:1.0") && timed.contains("__meta_type=baseline,span.retries=4i: 0:1.0"))
    }

    @Test func topkKeepsTheHighestSeriesAtEachInterval() throws {
        #expect(table(try run("{} | count_over_time() by (name) | topk(1)")) == [
            "name=GET /cart: 0:1.0 1:2.0 2:2.0", "name=call stock: 3:2.0",
        ])
        #expect(table(try run("{ nestedSetParent < 0 } | max_over_time(duration) by (span.http.method) | bottomk(1)")) == [
            "span.http.method=GET: 0:0.1 1:0.3", "span.http.method=POST: 2:0.5 3:0.6",
        ])
    }

    @Test func traceLevelFieldsAndStructureReadWholeTraces() throws {
        #expect(table(try run("{} | count_over_time() by (rootServiceName)")) == ["rootServiceName=shop: 0:1.0 1:5.0 2:5.0 3:4.0"])
        let structural = try run(#"{ kind = client } > { resource.service.name = "stock" } | count_over_time()"#)
        #expect(table(structural) == ["__name__=count_over_time: 0:0.0 1:1.0 2:1.0 3:1.0"])
        #expect(structural.inspectedTraces == 3)
        #expect(table(try run("{ nestedSetParent = 1 } | count_over_time() by (nestedSetLeft)")) == ["nestedSetLeft=2i: 0:0.0 1:2.0 2:2.0 3:2.0"])
        #expect(table(try run("{ nestedSetParent = 2 } | count_over_time()")) == ["__name__=count_over_time: 0:0.0 1:1.0 2:1.0 3:1.0"])
        #expect(throws: SightlineError.self) { try run("{} | count_over_time() by (rootName)", traceLimit: 5) }
    }

    @Test func nestedSetsNumberTheTreeDepthFirst() {
        let summary = TraceSummary(Self.spans.filter { $0.traceID.low == 1 })
        #expect(summary.nestedSets[SpanID(1)].map { [$0.left, $0.right, $0.parent] } == [1, 6, -1])
        #expect(summary.nestedSets[SpanID(2)].map { [$0.left, $0.right, $0.parent] } == [2, 5, 1])
        #expect(summary.nestedSets[SpanID(3)].map { [$0.left, $0.right, $0.parent] } == [3, 4, 2])
        // Span by span: roots are -1 and every other span 0, which decides `< 0` without the trace.
        #expect(!TraceQLQuery.readsTrace(.compare(.field(.nestedSetParent), .less, .value(.int(0)))))
        #expect(TraceQLQuery.readsTrace(.compare(.field(.nestedSetParent), .lessOrEqual, .value(.int(0)))))
        #expect(!TraceQLQuery.readsTrace(.compare(.value(.int(-1)), .equal, .field(.nestedSetParent))))
    }

    @Test(arguments: [
        ("{} | rate() by ()", "TraceQL: 1:17: expected a field or a value"),
        ("{} | histogram_over_time()", "TraceQL: 1:26: expected a field or a value"),
        ("{} | quantile_over_time(duration, 2)", "TraceQL: 1:35: expected a quantile between 0 and 1 in quantile_over_time()"),
        ("{} | compare({}, 0)", "TraceQL: 1:19: compare() takes a filter, a top count from 1 to 1000 and an optional start and end in nanoseconds"),
        ("{} | compare({}, 5, 10)", "TraceQL: 1:23: compare() needs both a start and an end, or neither"),
        ("{} | compare({}) by (name)", "TraceQL: 1:20: compare() takes no by (…)"),
        ("{} | rate() | count() > 1", "TraceQL: 1:13: only topk() or bottomk() may follow a metrics function"),
        ("{} | topk(3)", "TraceQL: 1:4: topk needs a metrics function before it"),
        ("{} | rate() with(sample)", "TraceQL: 1:24: expected = after a hint name"),
    ])
    func malformedMetricsQueriesSayWhatIsWrong(query: String, message: String) {
        expectInvalid(message) { _ = try TraceQLQuery(query) }
    }

    @Test func hintsAreAcceptedAndSearchesAreNotMetrics() throws {
        #expect(try TraceQLQuery("{nestedSetParent<0 && true} | rate()  with(sample=true)").isMetricsQuery)
        #expect(try TraceQLQuery("{} | select(span.a) with(most_recent=true, exemplars=5)").isMetricsQuery == false)
        #expect(throws: SightlineError.self) {
            try TraceQLQuery("{}").metrics(source: SpanList(spans: []), tenant: Self.tenant, window: Self.window)
        }
    }
}
