@testable import SightlineLogStore
import SightlineCore
import SightlineQuery
import SightlineTestSupport
import Synchronization
import Testing

/// Counts per group (`sum by (…) (count_over_time(…))` in the store) against what the scan hands out.
struct LogStoreGroupCountTests {
    /// Records of streams named by the sender (`{service, host, level}`, as Loki pushes them) and of streams derived
    /// from the resource, in segments 0...5: some records carry an attribute `level` (overriding the stream label),
    /// trace ids as attribute or field, span ids, severity texts and dotted keys; a few are exact duplicates. Records
    /// are about `spacingNano` apart.
    private func populate(_ store: LogStore, persistThrough: Int?, seed: UInt64, spacingNano: UInt64 = 3_000_000) throws -> [LogRecord] {
        var random = SplitMix64(seed: seed)
        let services = ["gateway", "search", "payments"]
        let levels = ["info", "warn", "error"]
        let lines = ["GET /api/v1/orders 200", "cache hit key=user:1", "order placed by user 17", "checksum mismatch", "GET /healthz 200"]
        var all: [LogRecord] = []
        for segment in 0...5 {
            var batch: [LogRecord] = []
            for index in 0..<240 {
                let n = random.next()
                let time = LogFixtures.base + UInt64(segment * 240 + index) * spacingNano + n % (spacingNano * 5 / 3)
                var record = LogRecord(timeUnixNano: time, body: .string("\(lines[Int(n % 5)]) n=\(n % 1000)"))
                let service = services[Int(n >> 8 % 3)]
                if n >> 12 % 4 == 0 {
                    // A stream derived from the resource.
                    record.resource = [Attribute("service.name", .string(service)), Attribute("host.name", .string("host-\(n >> 16 % 2)"))]
                } else {
                    record.stream = Labels(["service": service, "host": "host-\(n >> 16 % 2)", "level": levels[Int(n >> 20 % 3)]])
                    record.resource = [Attribute("deployment.environment", .string("prod"))]
                }
                // The payments service writes `level` as an attribute in later segments: whole blocks then have it.
                if service == "payments" && segment >= 2 && n >> 24 % 3 != 0 {
                    record.attributes.append(Attribute("level", .string(n >> 28 % 2 == 0 ? "debug" : "")))
                }
                // Each kind of structured metadata in some blocks only, so both ways of counting a block are taken.
                if service == "search" && n >> 30 % 3 == 0 { record.attributes.append(Attribute("trace_id", .string(String(n % 7, radix: 16)))) }
                if segment >= 3 && n >> 32 % 5 == 0 { record.traceID = TraceID(high: 1, low: n % 3) }
                if segment % 2 == 0 && n >> 35 % 5 == 0 { record.spanID = SpanID(n % 4 + 1) }
                if service != "gateway" && n >> 38 % 2 == 0 { record.severityText = n >> 40 % 2 == 0 ? "INFO" : "ERROR" }
                if n >> 42 % 4 == 0 { record.attributes.append(Attribute("http.status", .string("\(200 + n % 3)"))) }
                batch.append(record)
                if n >> 45 % 50 == 0 { batch.append(record) }
            }
            try StoreHarness.apply(store, batch, segment: segment)
            all.append(contentsOf: batch)
        }
        if let persistThrough { try store.persist(throughSegment: persistThrough) }
        return all
    }

    /// The counts per group and bucket of the records a scan hands out, each grouped by
    /// ``LogRecord/groupingValue(_:)``, as LogQL's scan path groups them.
    private func countedByScan(_ store: LogStore, _ scan: LogScan, origin: Int64, width: Int64, groupBy: [String]) throws -> [LogGroupCount] {
        var groups: [[String]: [Int64: LogBucketCount]] = [:]
        try store.scan(scan) { record in
            let end = LogBucketCount.bucketEnd(of: Int64(record.effectiveTimeUnixNano), originNano: origin, widthNano: width)
            let values = groupBy.map { record.groupingValue($0) }
            groups[values, default: [:]][end, default: LogBucketCount(endNano: end, records: 0, bytes: 0)].records += 1
            groups[values, default: [:]][end, default: LogBucketCount(endNano: end, records: 0, bytes: 0)].bytes += record.line.utf8.count
            return true
        }
        return groups.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { values, buckets in
            LogGroupCount(values: values, buckets: buckets.values.sorted { $0.endNano < $1.endNano })
        }
    }

    @Test(arguments: [nil, 3, 5] as [Int?])
    func groupedCountsEqualWhatTheScanHandsOut(persistThrough: Int?) throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        _ = try populate(store, persistThrough: persistThrough, seed: 42)
        let base = Int64(LogFixtures.base)
        let groupings: [[String]] = [
            [], ["level"], ["service"], ["service", "level"], ["level", "service"], ["nowhere"], ["trace_id"], ["span_id"],
            ["severity_text"], ["http_status"], ["http.status"], ["service_name", "host_name"], ["level", "level"], ["host", "nowhere"],
            ["detected_level"], ["service", "detected_level"],
        ]
        let ranges = [TimeRange.all, TimeRange(startNano: LogFixtures.base + 400_000_000, endNano: LogFixtures.base + 3_100_000_007)]
        let selections: [([LabelMatcher], [String])] = [
            ([], []), ([try LabelMatcher("service", .regexMatch, "pay.*|search")], []), ([], ["GET"]), ([], ["user", "n=1"]),
            ([try LabelMatcher("level", .notEqual, "info")], ["order"]), ([], ["nowhere in any line"]),
        ]
        // Buckets finer and coarser than a block, and one bucket for everything (blocks counted whole).
        for (origin, width) in [(base, Int64(7_000_000)), (base - 3, Int64(500_000_000)), (base + 1_000_000_000_000, Int64(1) << 50)] {
            for range in ranges {
                for (matchers, needles) in selections {
                    for groupBy in groupings {
                        let scan = LogScan(tenant: StoreHarness.tenant, matchers: matchers, range: range, lineContains: needles)
                        let counted = try #require(try store.countBuckets(scan, originNano: origin, widthNano: width, groupBy: groupBy))
                        let expected = try countedByScan(store, scan, origin: origin, width: width, groupBy: groupBy)
                        #expect(counted == expected, "\(groupBy) \(matchers) \(needles) \(range) \(width)")
                    }
                }
            }
        }
    }

    /// A query's answer as text (samples by labels, each series' points), or its error.
    private static func answer(_ run: () throws -> LogQLResult) -> String {
        do {
            switch try run() {
            case .vector(let samples): return samples.map { "\($0.metric.description) \($0.t) \($0.v)" }.sorted().joined(separator: "\n")
            case .matrix(let series):
                return series.map { "\($0.metric.description) " + $0.points.map { "\($0.t):\($0.v)" }.joined(separator: ",") }.joined(separator: "\n")
            case .streams: return "streams"
            case .scalar(let t, let v): return "\(t) \(v)"
            }
        } catch {
            return "error: \(error)"
        }
    }

    /// Counting range functions over pipelines fold the store's blocks and heads in parts on several threads; the
    /// answers equal those of the time-ordered scan, errors included.
    @Test(arguments: [nil, 3, 5] as [Int?])
    func foldedAggregationsEqualScannedOnes(persistThrough: Int?) throws {
        var harness = try StoreHarness()
        defer { harness.directory.remove() }
        harness.options.parallelism = 3
        let store = try harness.open()
        _ = try populate(store, persistThrough: persistThrough, seed: 9)
        let spy = FoldSpy(store)
        let folded = LogQLEngine(source: spy)
        let scanned = LogQLEngine(source: ScanOnly(store: store))
        let start = Int64(LogFixtures.base)
        let end = start + 4_500_000_000
        var queries: [String] = []
        // A count and a byte rate stand for the four counting functions (they share the code; this test is costly).
        for function in ["count_over_time", "bytes_rate"] {
            for pipeline in ["", #"|= "GET""#, #"| logfmt | n > 500"#, #"| line_format "{{ .service }} {{ __line__ }}""#, #"| regexp "n=(?P<n>\\d+)""#] {
                let inner = "\(function)({service=~\".+\"} \(pipeline) [700ms])"
                queries += [inner, "sum by (level) (\(inner))", "sum by (service, n) (\(inner))"]
            }
        }
        queries += [
            #"max_over_time({service=~".+"} | regexp "n=(?P<n>\\d+)" | unwrap n [700ms]) by (service)"#,
            #"min_over_time({service=~".+"} | logfmt | unwrap n | __error__="" [700ms])"#,
            #"max_over_time({service=~".+"} | logfmt | unwrap n [700ms])"#,
            #"sum by (service) (count_over_time({service=~".+"} | json [700ms]))"#,
            #"count_over_time({service=~".+"} | json [1s])"#, #"sum by (service) (rate({service=~".+"} | json | __error__="" [1s]))"#,
        ]
        for query in queries {
            let tenant = StoreHarness.tenant
            let instant = Self.answer { try folded.instant(query: query, tenant: tenant, time: end) }
            #expect(instant == Self.answer { try scanned.instant(query: query, tenant: tenant, time: end) }, "\(query)")
            let ranged = Self.answer { try folded.range(query: query, tenant: tenant, start: start, end: end, step: 350_000_000) }
            #expect(ranged == Self.answer { try scanned.range(query: query, tenant: tenant, start: start, end: end, step: 350_000_000) }, "\(query)")
            #expect(!ranged.isEmpty || query.contains("__error__"), "\(query)")
            #expect(!instant.hasPrefix("error: ") || query.contains("json"), "\(query): \(instant)")
        }
        // Every query took the folding path (twice each, instant and range), but the ungrouped counts over plain
        // filters and no pipeline at all, which the store counts itself.
        #expect(spy.folds.load(ordering: .relaxed) > queries.count)
    }

    /// The store, counting the folds LogQL asks of it.
    private final class FoldSpy: LogPartitionedScanning {
        let store: LogStore
        let folds = Atomic<Int>(0)
        init(_ store: LogStore) { self.store = store }
        func streams(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> [Labels] {
            try store.streams(tenant: tenant, matchers: matchers, range: range)
        }
        func scan(_ scan: LogScan, _ visit: (LogRecord) throws -> Bool) throws { try store.scan(scan, visit) }
        func stats(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> LogStats {
            try store.stats(tenant: tenant, matchers: matchers, range: range)
        }
        func fold<Partial>(_ scan: LogScan, start: () -> Partial, _ fold: (inout Partial, LogRecord) throws -> Void) throws -> [Partial] {
            folds.add(1, ordering: .relaxed)
            return try store.fold(scan, start: start, fold)
        }
    }

    @Test func anAttributeNamedLikeTheGroupingLabelWinsOverTheStreamLabel() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        let stream = Labels(["service": "api", "level": "info"])
        var records: [LogRecord] = []
        for index in 0..<250 {
            var record = LogRecord(timeUnixNano: LogFixtures.base + UInt64(index), body: .string("line \(index)"), stream: stream)
            // Blocks of 100: the first holds no attribute `level`, the second one record with it, the third several.
            if index == 150 || (index >= 200 && index % 10 == 0) { record.attributes = [Attribute("level", .string("debug"))] }
            if index == 210 { record.attributes = [Attribute("level", .string(""))] }
            records.append(record)
        }
        try StoreHarness.apply(store, Array(records[0..<200]), segment: 0)
        try StoreHarness.apply(store, Array(records[200...]), segment: 1)
        try store.persist(throughSegment: 0)
        let scan = LogScan(tenant: StoreHarness.tenant, matchers: [], range: .all)
        let counted = try #require(try store.countBuckets(scan, originNano: 0, widthNano: 1 << 62, groupBy: ["level"]))
        let end = LogBucketCount.bucketEnd(of: Int64(LogFixtures.base), originNano: 0, widthNano: 1 << 62)
        #expect(counted.map(\.values) == [[""], ["debug"], ["info"]])
        #expect(counted.map { $0.buckets.map(\.records) } == [[1], [5], [244]])
        #expect(counted.allSatisfy { $0.buckets.map(\.endNano) == [end] })
        #expect(counted == (try countedByScan(store, scan, origin: 0, width: 1 << 62, groupBy: ["level"])))
        // Without grouping, one group of everything.
        let ungrouped = try #require(try store.countBuckets(scan, originNano: 0, widthNano: 1 << 62, groupBy: []))
        let bytes = records.reduce(0) { $0 + $1.line.utf8.count }
        #expect(ungrouped == [LogGroupCount(values: [], buckets: [LogBucketCount(endNano: end, records: 250, bytes: bytes)])])
    }

    @Test func noRecordsNoGroupsAndAZeroWidthIsNotCounted() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        let scan = LogScan(tenant: StoreHarness.tenant, matchers: [], range: .all)
        #expect(try store.countBuckets(scan, originNano: 0, widthNano: 1_000, groupBy: ["level"]) == [])
        _ = try populate(store, persistThrough: 2, seed: 7)
        #expect(try store.countBuckets(scan, originNano: 0, widthNano: 0, groupBy: ["level"]) == nil)
        #expect(try store.countBuckets(scan, originNano: 0, widthNano: -5, groupBy: []) == nil)
        let other = LogScan(tenant: try Tenant("other"), matchers: [], range: .all)
        #expect(try store.countBuckets(other, originNano: 0, widthNano: 1_000, groupBy: ["level"]) == [])
    }

    // MARK: - Through LogQL

    /// The store seen only as a ``LogSource``: LogQL cannot ask it to count, so it scans.
    private struct ScanOnly: LogSource {
        let store: LogStore
        func streams(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> [Labels] {
            try store.streams(tenant: tenant, matchers: matchers, range: range)
        }
        func scan(_ scan: LogScan, _ visit: (LogRecord) throws -> Bool) throws { try store.scan(scan, visit) }
        func stats(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> LogStats {
            try store.stats(tenant: tenant, matchers: matchers, range: range)
        }
    }

    /// The store as LogQL sees it, remembering the groupings it was asked to count by.
    private final class CountSpy: LogBucketCounting, @unchecked Sendable {
        let store: LogStore
        /// The `groupBy` of every count asked for, in order (a test runs one query at a time).
        private(set) var groupings: [[String]] = []
        init(_ store: LogStore) { self.store = store }
        func clearGroupings() { groupings = [] }
        func streams(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> [Labels] {
            try store.streams(tenant: tenant, matchers: matchers, range: range)
        }
        func scan(_ scan: LogScan, _ visit: (LogRecord) throws -> Bool) throws { try store.scan(scan, visit) }
        func stats(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> LogStats {
            try store.stats(tenant: tenant, matchers: matchers, range: range)
        }
        func countBuckets(_ scan: LogScan, originNano: Int64, widthNano: Int64, groupBy: [String]) throws -> [LogGroupCount]? {
            groupings.append(groupBy)
            return try store.countBuckets(scan, originNano: originNano, widthNano: widthNano, groupBy: groupBy)
        }
    }

    /// A metric result as text: series or samples with their labels and values, in the engine's order.
    private static func text(_ result: LogQLResult) -> String {
        switch result {
        case .matrix(let series): series.map { "\($0.metric) \($0.points.map { "\($0.t)=\($0.v)" })" }.joined(separator: "\n")
        case .vector(let samples): samples.map { "\($0.metric) \($0.t)=\($0.v)" }.joined(separator: "\n")
        case .scalar(let t, let v): "scalar \(t)=\(v)"
        case .streams(let streams): "streams \(streams.count)"
        }
    }

    /// LogQL over the store, which counts `sum by (…)` of counts and bytes where the records are, gives what LogQL
    /// gives over the same store when it must scan: range queries whose windows cut blocks, instant queries over
    /// everything, the head and parts, groupings by stream labels, by names of structured metadata and by names
    /// nobody has.
    @Test(arguments: [nil, 4] as [Int?])
    func logQLGivesTheSameWhetherTheStoreCountsOrItScans(persistThrough: Int?) throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        _ = try populate(store, persistThrough: persistThrough, seed: 99, spacingNano: 250_000_000)
        let spy = CountSpy(store)
        let counting = LogQLEngine(source: spy)
        let scanning = LogQLEngine(source: ScanOnly(store: store))
        let base = Int64(LogFixtures.base)
        let second: Int64 = 1_000_000_000
        let rangeQueries = [
            #"sum by (level) (count_over_time({service=~".+"}[1m]))"#,
            #"sum by (level) (count_over_time({service=~".+"} |= "GET" [1m]))"#,
            #"sum by (service, level) (bytes_over_time({service=~"pay.*|search"}[40s]))"#,
            #"sum by (trace_id) (count_over_time({service=~".+"}[1m]))"#,
            #"sum by (span_id, severity_text) (count_over_time({service=~".+"}[1m] offset 10s))"#,
            #"sum by (nowhere) (bytes_over_time({service=~".+"} |= "user" |= "n=1" [1m]))"#,
            #"sum by (service_name, host_name) (count_over_time({service_name=~".+"}[30s]))"#,
            #"sum by (http_status, level) (count_over_time({level=~"warn|error"}[1m]))"#,
            #"sum(count_over_time({service=~".+"}[1m]))"#,
            // Not counted by the store: `without`, a pipeline that is not only `|=`, no `sum`.
            #"sum without (level) (count_over_time({service=~".+"}[1m]))"#,
            #"sum by (level) (count_over_time({service=~".+"} != "GET" [1m]))"#,
            #"count_over_time({service="search"}[1m])"#,
        ]
        let countedBy: [[String]] = [["level"], ["level"], ["service", "level"], ["trace_id"], ["span_id", "severity_text"], ["nowhere"],
            ["service_name", "host_name"], ["http_status", "level"], [], [], [], []]
        for (query, groupBy) in zip(rangeQueries, countedBy) {
            for (start, step) in [(base + 60 * second, 60 * second), (base + 15 * second, 20 * second)] {
                spy.clearGroupings()
                let end = base + 7 * 60 * second
                let counted = try counting.range(query: query, tenant: StoreHarness.tenant, start: start, end: end, step: step)
                let scanned = try scanning.range(query: query, tenant: StoreHarness.tenant, start: start, end: end, step: step)
                #expect(Self.text(counted) == Self.text(scanned), "\(query) step \(step)")
                #expect(!Self.text(counted).isEmpty, "\(query)")
                #expect(spy.groupings == (groupBy.isEmpty && !query.hasPrefix("sum(") ? [] : [groupBy]), "\(query)")
            }
        }
        let instantQueries = [
            #"topk(10, sum by (service) (count_over_time({level=~"error|warn"}[10m])))"#,
            #"sum by (level) (bytes_over_time({service=~".+"}[10m]))"#,
            #"sum by (level, service) (count_over_time({service=~".+"} |= "order" [3m]))"#,
            #"sum by (trace_id) (count_over_time({service="search"}[10m]))"#,
        ]
        for query in instantQueries {
            let time = base + 8 * 60 * second
            spy.clearGroupings()
            let counted = try counting.instant(query: query, tenant: StoreHarness.tenant, time: time)
            let scanned = try scanning.instant(query: query, tenant: StoreHarness.tenant, time: time)
            #expect(Self.text(counted) == Self.text(scanned), "\(query)")
            #expect(!Self.text(counted).isEmpty, "\(query)")
            #expect(spy.groupings.count == 1, "\(query)")
        }
    }
}
