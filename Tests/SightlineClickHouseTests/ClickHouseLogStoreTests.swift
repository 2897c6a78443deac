import Foundation
import Logging
import SightlineLogStore
import SightlineQuery
import SightlineTestSupport
import Testing

@testable import SightlineClickHouse
@testable import SightlineCore

/// Runs synchronous store work on a thread of its own: the stores block on ClickHouse, which must not happen on
/// Swift's cooperative pool (the engines call them from NIO's thread pool in the server).
private func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// A day in ns, and a start time (2026-11-20T00:00:00Z) the generated records count from.
private let day: UInt64 = 86_400_000_000_000
private let base: UInt64 = 1_795_132_800 * 1_000_000_000

/// Seeded log records of two tenants: streams named by the sender (Loki push) and derived from OpenTelemetry
/// resources, JSON, logfmt and plain lines, a few non-string bodies, attributes, trace and span ids, records with
/// only an observed time, spread over three days. Times are distinct, so results do not depend on how a store
/// orders ties.
private func generateBatches(seed: UInt64, count: Int) throws -> [TenantBatch] {
    var random = SplitMix64(seed: seed)
    let tenants = [try Tenant("acme"), try Tenant("globex")]
    let apps = ["api", "web", "worker"]
    let envs = ["prod", "staging"]
    let services = ["checkout", "cart", "search"]
    let levels = ["debug", "info", "warn", "error"]
    let paths = ["/login", "/cart", "/search?q=x", "/ünï"]
    var batches: [TenantBatch] = []
    var records: [LogRecord] = []
    var tenant = tenants[0]
    // Three days of records, 1 ms apart at least, with sub-ms jitter.
    let spacing = 3 * day / UInt64(count)
    for index in 0..<count {
        let time = base + UInt64(index) * spacing + random.next() % (spacing / 2)
        let level = levels[Int(random.next() % 4)]
        let status = [200, 201, 404, 500, 503][Int(random.next() % 5)]
        let path = paths[Int(random.next() % UInt64(paths.count))]
        let duration = random.next() % 900 + 1
        var record = LogRecord(observedTimeUnixNano: time + 1000, severityNumber: Int32(levels.firstIndex(of: level)! * 4 + 5), severityText: level)
        if random.next() % 10 != 0 { record.timeUnixNano = time } else { record.observedTimeUnixNano = time }
        switch random.next() % 3 {
        case 0:
            let app = apps[Int(random.next() % 3)]
            record.stream = Labels(["app": app, "env": envs[Int(random.next() % 2)]])
            record.body = .string(#"{"level":"\#(level)","status":\#(status),"path":"\#(path)","msg":"GET \#(path) took \#(duration)ms"}"#)
        case 1:
            let service = services[Int(random.next() % 3)]
            record.resource = [
                Attribute("service.name", .string(service)), Attribute("k8s.namespace.name", .string(["shop", "ops"][Int(random.next() % 2)])),
                Attribute("telemetry.sdk.language", .string("swift")), Attribute("host.arch", .string("arm64")),
            ]
            record.body = .string("level=\(level) method=GET path=\(path) status=\(status) duration=\(duration)ms user=\(random.next() % 50)")
            record.scope = InstrumentationScope(name: "http", version: "1.0", attributes: [Attribute("lib", .string("nio"))])
            if random.next() % 2 == 0 {
                record.traceID = TraceID(high: random.next(), low: random.next())
                record.spanID = SpanID(random.next())
            }
            record.attributes = [Attribute("http.status_code", .int(Int64(status))), Attribute("user-agent", .string("curl/8"))]
        default:
            record.stream = Labels(["app": "legacy", "job": "cron"])
            if random.next() % 5 == 0 {
                record.body = .keyValueList([Attribute("event", .string("tick")), Attribute("n", .int(Int64(index)))])
            } else {
                record.body = .string("\(level.uppercased()) cron run \(index) finished with status \(status) — ok")
            }
            record.eventName = random.next() % 2 == 0 ? "cron.run" : ""
            record.flags = UInt32(random.next() % 2)
            record.droppedAttributesCount = UInt32(random.next() % 3)
        }
        records.append(record)
        if records.count == 37 || index == count - 1 {
            batches.append(TenantBatch(tenant: tenant, batch: .logs(records)))
            records = []
            tenant = tenants[Int(random.next() % 2)]
        }
    }
    return batches
}

/// A result as text, so two engines' answers compare exactly.
private func describe(_ result: LogQLResult) -> String {
    switch result {
    case .streams(let streams):
        return streams.map { stream in
            "\(stream.labels) \(stream.streamLabels)\n" + stream.entries.map { "  \($0.timeNs) \($0.line) \($0.structuredMetadata) \($0.parsed)" }.joined(separator: "\n")
        }.joined(separator: "\n")
    case .matrix(let series):
        return series.map { "\($0.metric) " + $0.points.map { "\($0.t)=\($0.v)" }.joined(separator: ",") }.joined(separator: "\n")
    case .vector(let samples):
        return samples.map { "\($0.metric) \($0.t)=\($0.v)" }.joined(separator: "\n")
    case .scalar(let t, let v):
        return "\(t)=\(v)"
    }
}

/// The number of entries of a log result.
private func entryCount(_ result: LogQLResult) -> Int {
    guard case .streams(let streams) = result else { return 0 }
    return streams.reduce(0) { $0 + $1.entries.count }
}

@Suite(needsClickHouse) struct ClickHouseLogStoreTests {
    let logger = Logger(label: "test.clickhouse.logs")

    /// Writes the batches into both stores, persisting every third segment (the embedded store keeps the rest in its
    /// head) and flushing the rest.
    func load(_ batches: [TenantBatch], embedded: LogStore, clickHouse: ClickHouseLogStore) async throws {
        for (segment, batch) in batches.enumerated() {
            try embedded.apply(batch, at: WALPosition(segment: segment, offset: 0))
            try clickHouse.apply(batch, at: WALPosition(segment: segment, offset: 0))
            if segment % 3 == 2 {
                try embedded.persist(throughSegment: segment)
                try await clickHouse.persist(throughSegment: segment)
            }
        }
        try await clickHouse.flush()
    }

    @Test func logQLAnswersEqualTheEmbeddedStore() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-logs")
        let embedded = try LogStore(directory: directory.file("embedded"), logger: logger)
        let store = try await ClickHouseLogStore(client: client, checkpointDirectory: directory.file("ch"), pageRows: 16)
        let batches = try generateBatches(seed: 11, count: 3000)
        try await load(batches, embedded: embedded, clickHouse: store)

        let start = Int64(base), end = Int64(base + 3 * day)
        let logQueries: [(String, Int, LogScan.Direction)] = [
            (#"{app="api"}"#, 50, .backward),
            (#"{app="api"}"#, 50, .forward),
            (#"{app="api"}"#, 5000, .forward),
            (#"{app=~"api|web"} |= "error""#, 1000, .backward),
            (#"{app=~".+", env!="prod"} != "debug""#, 300, .forward),
            (#"{env=~".+", app!~"w.*"} |= "status\":5""#, 200, .backward),
            (#"{app=~".+"} |~ "took [0-9]{3}ms""#, 400, .backward),
            (#"{service_name="checkout"} |= "path=/cart" |= "GET""#, 100, .forward),
            (#"{service_name=~"c(art|heckout)", k8s_namespace_name="shop"} | logfmt | status >= 500"#, 500, .backward),
            (#"{app="api"} | json | level="error""#, 500, .backward),
            (#"{job="cron"} |= "ok""#, 2000, .forward),
            (#"{job="cron"} | trace_id="" "#, 100, .backward),
            (#"{service_name=~"s.+|c.+"} | trace_id=~"[0-9a-f]{32}""#, 100, .forward),
            (#"{app="nope"}"#, 100, .forward),
            (#"{app=~"\\w+"}"#, 100, .forward),  // a regex not pushed down: the Swift check alone decides
        ]
        let metricQueries = [
            #"count_over_time({app="api"}[1h])"#,
            #"sum by (level) (rate({app=~"api|web|worker"} | json [1h]))"#,
            #"sum by (level) (rate({app=~".+"} | json [1h]))"#,  // fails on the cron lines: the same error from both
            #"sum by (service_name) (count_over_time({service_name=~".+"} |= "GET" [30m]))"#,
            #"bytes_over_time({job="cron"}[2h])"#,
            #"sum(count_over_time({app=~".+"} | severity_text="warn" [1h]))"#,
            #"topk(2, sum by (app) (rate({env="prod"}[3h])))"#,
            // Counted inside ClickHouse (LogBucketCounting); the unlisted store scans instead.
            #"sum(count_over_time({app=~".+"} |= "GET" [30m]))"#,
            #"sum(bytes_over_time({app=~"api|web"}[1h]))"#,
            #"sum(count_over_time({job="cron"} |= "ok" |= "" [2h] offset 45m))"#,
            #"sum(count_over_time({service_name=~".+"}[7m]))"#,
        ]
        let tenants = [try Tenant("acme"), try Tenant("globex")]
        let (want, got, gotUnlisted) = try await offPool {
            var want: [String] = [], got: [String] = []
            // The ClickHouse store twice: listing the selected streams' ids, and (as over many streams) not.
            let engines = [LogQLEngine(source: embedded), LogQLEngine(source: store), LogQLEngine(source: store.with(maxStreamsInList: 1))]
            var gotUnlisted: [String] = []
            for (index, engine) in engines.enumerated() {
                var answers: [String] = []
                for tenant in tenants {
                    for (query, limit, direction) in logQueries {
                        let result = try engine.range(query: query, tenant: tenant, start: start, end: end, step: 0, limit: limit, direction: direction)
                        answers.append("\(tenant) \(query) \(limit) \(direction) [\(entryCount(result))]\n" + describe(result))
                    }
                    for query in metricQueries {
                        do {
                            let result = try engine.range(query: query, tenant: tenant, start: start, end: end, step: 1_800_000_000_000)
                            answers.append("\(tenant) \(query)\n" + describe(result))
                        } catch {
                            answers.append("\(tenant) \(query)\nerror \(error)")
                        }
                    }
                }
                switch index {
                case 0: want = answers
                case 1: got = answers
                default: gotUnlisted = answers
                }
            }
            return (want, got, gotUnlisted)
        }
        #expect(want.count == got.count && want.count == gotUnlisted.count)
        for (w, (g, u)) in zip(want, zip(got, gotUnlisted)) {
            #expect(w == g, "\(w.prefix(300))")
            #expect(w == u, "without the id list: \(w.prefix(300))")
        }
        // The queries are not vacuous: most select something.
        #expect(want.filter { $0.contains("[0]") }.count < 6)

        // The store protocols' own answers.
        try await offPool { () throws -> Void in
            for tenant in tenants {
                for matchers in [
                    [], [try LabelMatcher("app", .regexMatch, "api|web")], [try LabelMatcher("service_name", .notEqual, "cart")],
                    [try LabelMatcher("env", .equal, "")], [try LabelMatcher("job", .regexNoMatch, "cron")],
                ] {
                    for range in [TimeRange.all, TimeRange(startNano: base + day / 2, endNano: base + day + 7_000_000_000_000)] {
                        let streams = try store.streams(tenant: tenant, matchers: matchers, range: range)
                        #expect(streams == (try embedded.streams(tenant: tenant, matchers: matchers, range: range)), "\(matchers)")
                        #expect(!streams.isEmpty || matchers.count == 1)
                        let ours = try store.stats(tenant: tenant, matchers: matchers, range: range)
                        let theirs = try embedded.stats(tenant: tenant, matchers: matchers, range: range)
                        #expect(ours.streams == theirs.streams && ours.entries == theirs.entries && ours.bytes == theirs.bytes, "\(matchers)")
                    }
                }
                // Whole records round-trip, in both directions.
                let range = TimeRange(startNano: base + day, endNano: base + 2 * day)
                #expect(try store.logs(tenant: tenant, in: range, limit: 77) == (try embedded.logs(tenant: tenant, in: range, limit: 77)))
                for direction in [LogScan.Direction.forward, .backward] {
                    var ours: [LogRecord] = [], theirs: [LogRecord] = []
                    let scan = LogScan(tenant: tenant, matchers: [try LabelMatcher("app", .regexMatch, ".+")], range: range, direction: direction, lineContains: ["GET"])
                    try store.scan(scan) { ours.append($0); return true }
                    try embedded.scan(scan) { theirs.append($0); return true }
                    #expect(ours == theirs && !ours.isEmpty)
                }
            }
        }
        try await cleanUp(client)
        directory.remove()
    }

    @Test func aRestartSeesTheRowsAndThePersistedSegmentAndTenantsStayApart() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-logs")
        let store = try await ClickHouseLogStore(client: client, checkpointDirectory: directory.path)
        #expect(store.persistedSegment == -1)
        let acme = try Tenant("acme"), globex = try Tenant("globex")
        let record = LogRecord(timeUnixNano: base + 5, body: .string("hello from acme"), stream: Labels(["app": "a"]))
        try store.apply(TenantBatch(tenant: acme, batch: .logs([record])), at: WALPosition(segment: 4, offset: 0))
        try await store.persist(throughSegment: 4)
        #expect(store.persistedSegment == 4)

        let reopened = try await ClickHouseLogStore(client: client, checkpointDirectory: directory.path)
        #expect(reopened.persistedSegment == 4)
        try await offPool { () throws -> Void in
            var expected = record
            expected.stream = Labels(["app": "a"])
            #expect(try reopened.logs(tenant: acme, in: .all, limit: 10) == [expected])
            #expect(try reopened.logs(tenant: globex, in: .all, limit: 10).isEmpty)
            #expect(try reopened.streams(tenant: globex, matchers: [], range: .all).isEmpty)
            #expect(try reopened.stats(tenant: globex, matchers: [], range: .all) == LogStats())
            #expect(try reopened.stats(tenant: acme, matchers: [], range: .all) == LogStats(streams: 1, chunks: 1, entries: 1, bytes: 15))
        }

        // Label values ClickHouse compares by bytes but Swift by canonical equivalence (a decomposed é, the Kelvin
        // sign) still select what the embedded store selects: pushed conditions keep such values for the Swift check.
        let unusual = [
            LogRecord(timeUnixNano: base + 6, body: .string("decomposed"), stream: Labels(["city": "Cafe\u{301}"])),
            LogRecord(timeUnixNano: base + 7, body: .string("kelvin"), stream: Labels(["unit": "\u{212A}"])),
        ]
        try store.apply(TenantBatch(tenant: acme, batch: .logs(unusual)), at: WALPosition(segment: 5, offset: 0))
        try await store.flush()
        try await offPool { () throws -> Void in
            for matcher in [
                try LabelMatcher("city", .equal, "Caf\u{E9}"), try LabelMatcher("unit", .equal, "K"),
                try LabelMatcher("city", .regexMatch, "Caf."), try LabelMatcher("unit", .regexMatch, "[K]"),
            ] {
                var lines: [String] = []
                try store.scan(LogScan(tenant: acme, matchers: [matcher], range: .all)) { lines.append($0.line); return true }
                let expected = unusual.filter { matcher.matches($0.stream) }.map(\.line)
                #expect(lines == expected && (matcher.kind != .equal || !lines.isEmpty), "\(matcher)")
            }
            #expect(try store.streams(tenant: acme, matchers: [try LabelMatcher("city", .notEqual, "Caf\u{E9}")], range: .all).count == 2)
        }
        try await cleanUp(client)
        directory.remove()
    }

    @Test func pagesNeitherSplitNorRepeatRecordsOfOneTime() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-logs")
        let embedded = try LogStore(directory: directory.file("embedded"), logger: logger)
        let store = try await ClickHouseLogStore(client: client, checkpointDirectory: directory.file("ch"), pageRows: 4)
        let tenant = try Tenant("acme")
        // Runs of equal times longer than a page, shorter, and at page edges, across three streams.
        var records: [LogRecord] = []
        for (offset, run) in [(1, 9), (2, 1), (3, 4), (4, 3), (5, 12), (6, 2)] {
            for index in 0..<run {
                records.append(LogRecord(timeUnixNano: base + UInt64(offset), body: .string("t\(offset) n\(index)"), stream: Labels(["s": "\(index % 3)"])))
            }
        }
        let batch = TenantBatch(tenant: tenant, batch: .logs(records))
        try embedded.apply(batch, at: WALPosition(segment: 0, offset: 0))
        try store.apply(batch, at: WALPosition(segment: 0, offset: 0))
        try await store.flush()
        try await offPool { () throws -> Void in
            for direction in [LogScan.Direction.forward, .backward] {
                for limit in [1, 4, 5, 10, 31, 100] {
                    var ours: [LogRecord] = [], theirs: [LogRecord] = []
                    let scan = LogScan(tenant: tenant, matchers: [try LabelMatcher("s", .regexMatch, ".+")], range: .all, direction: direction)
                    try store.scan(scan) { ours.append($0); return ours.count < limit }
                    try embedded.scan(scan) { theirs.append($0); return theirs.count < limit }
                    // Ties come in any order: compare the times in order, and the records as sets where whole.
                    #expect(ours.map(\.timeUnixNano) == theirs.map(\.timeUnixNano), "\(direction) \(limit)")
                    if limit == 100 { #expect(Set(ours) == Set(theirs) && ours.count == 31) }
                }
            }
        }
        try await cleanUp(client)
        directory.remove()
    }

    @Test func aRecordStoredTwiceIsReadOnce() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-logs")
        let store = try await ClickHouseLogStore(client: client, checkpointDirectory: directory.path, pageRows: 4)
        let tenant = try Tenant("acme")
        // Equal times in two streams, and two records that differ only in their line: all distinct, all kept.
        let records = (0..<10).map { index in
            LogRecord(timeUnixNano: base + UInt64(index / 3), body: .string("line \(index % 2)"), stream: Labels(["s": "\(index % 3)"]))
        }
        let batch = TenantBatch(tenant: tenant, batch: .logs(records))
        try store.apply(batch, at: WALPosition(segment: 0, offset: 0))
        try await store.flush()
        // The same batch again: a replayed WAL segment, or a queued batch stored by a second server.
        try store.apply(batch, at: WALPosition(segment: 1, offset: 0))
        try await store.flush()
        #expect(try await client.query("SELECT count() FROM logs FORMAT TabSeparated") == Array("20\n".utf8))
        try await offPool { () throws -> Void in
            for direction in [LogScan.Direction.forward, .backward] {
                var read: [LogRecord] = []
                try store.scan(LogScan(tenant: tenant, matchers: [], range: .all, direction: direction)) { read.append($0); return true }
                #expect(read.count == Set(records).count && Set(read) == Set(records), "\(direction)")
            }
            let counted = try LogQLEngine(source: store).instant(
                query: #"sum(count_over_time({s=~".+"}[1h]))"#, tenant: tenant, time: Int64(base) + 60_000_000_000)
            guard case .vector(let samples) = counted else { Issue.record("not a vector: \(counted)"); return }
            #expect(samples.map(\.v) == [Double(Set(records).count)])
            // Counted in ClickHouse, duplicates once.
            let buckets = try store.countBuckets(
                LogScan(tenant: tenant, matchers: [try LabelMatcher("s", .regexMatch, ".+")], range: .all), originNano: 0, widthNano: 1 << 50,
                groupBy: [])
            #expect(buckets?.count == 1 && buckets?.first?.values == [])
            #expect(buckets?.first?.buckets.reduce(0) { $0 + $1.records } == Set(records).count)
            // Structured metadata is inside the record blobs: grouped counts are left to the scan.
            #expect(try store.countBuckets(LogScan(tenant: tenant, matchers: [], range: .all), originNano: 0, widthNano: 1 << 50, groupBy: ["s"]) == nil)
        }
        try await cleanUp(client)
        directory.remove()
    }

    /// Loki delete requests on ClickHouse: the records of the matching streams in the range whose line passes the
    /// filters go (buffered ones included); other streams, tenants and lines stay; the request is listed; a regex
    /// RE2 may read otherwise is refused before anything is deleted.
    @Test func deleteRequestsRemoveMatchingRecordsAndAreListed() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-logs")
        let store = try await ClickHouseLogStore(client: client, checkpointDirectory: directory.path)
        let (acme, globex) = (try Tenant("acme"), try Tenant("globex"))
        func records(_ app: String) -> [LogRecord] {
            (0..<6).map { LogRecord(timeUnixNano: base + UInt64($0) * 1000, body: .string($0 % 2 == 0 ? "token=\($0) secret" : "ok \($0)"), stream: Labels(["app": app])) }
        }
        try store.apply(TenantBatch(tenant: acme, batch: .logs(records("a") + records("b"))), at: WALPosition(segment: 0, offset: 0))
        try store.apply(TenantBatch(tenant: globex, batch: .logs(records("a"))), at: WALPosition(segment: 0, offset: 1))
        // Not flushed: the deletion inserts what is buffered first.
        let deletion = LogDeletion(
            requestID: "0000abcd", query: #"{app="a"} |= "secret""#, matchers: [try LabelMatcher("app", .equal, "a")],
            lineFilters: [try LogDeletion.LineFilter(.contains, ["secret"])], startNano: base + 1000, endNano: base + 4000, createdAtMs: 1234)
        var batch = LogBatch()
        batch.deletions = [deletion]
        try await store.delete(.logs(batch), tenant: acme)
        func lines(_ tenant: Tenant, _ app: String) async throws -> [String] {
            try await offPool {
                var read: [String] = []
                try store.scan(LogScan(tenant: tenant, matchers: [try LabelMatcher("app", .equal, app)], range: .all, direction: .forward)) {
                    read.append($0.line)
                    return true
                }
                return read
            }
        }
        // Records 2 and 4 ("secret" lines inside the range) go; 0 is before the range.
        #expect(try await lines(acme, "a") == ["token=0 secret", "ok 1", "ok 3", "ok 5"])
        let (acmeB, globexA) = (try await lines(acme, "b"), try await lines(globex, "a"))
        #expect(acmeB.count == 6 && globexA.count == 6)
        let listed = try await offPool { store.deletionRequests(tenant: acme) }
        #expect(listed.map(\.requestID) == ["0000abcd"] && listed.first?.query == deletion.query)
        #expect(listed.first?.startNano == deletion.startNano && listed.first?.endNano == deletion.endNano && listed.first?.createdAtMs == 1234)
        let none = try await offPool { store.deletionRequests(tenant: globex) }
        #expect(none.isEmpty)
        // A regex only LogQL's engine reads as written: refused, nothing deleted.
        var refused = LogBatch()
        refused.deletions = [LogDeletion(
            requestID: "0000abce", query: #"{app="b"} |~ "\\d""#, matchers: [try LabelMatcher("app", .equal, "b")],
            lineFilters: [try LogDeletion.LineFilter(.regex, [#"\d"#])], startNano: 0, endNano: .max, createdAtMs: 1235)]
        await #expect(throws: SightlineError.self) { try await store.delete(.logs(refused), tenant: acme) }
        let stillB = try await lines(acme, "b")
        #expect(stillB.count == 6)
        #expect(try ClickHouseLogStore.sqlCondition(try LogDeletion.LineFilter(.notContains, ["x", ""])) == "NOT (position(line, 'x') > 0 OR 1)")
        try await cleanUp(client)
        directory.remove()
    }

    @Test func retentionDropsWholeDaysBeforeTheCutoff() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-logs")
        let store = try await ClickHouseLogStore(client: client, checkpointDirectory: directory.path)
        let tenant = try Tenant("acme")
        let records = (0..<4).map { LogRecord(timeUnixNano: base + UInt64($0) * day + 1000, body: .string("day \($0)"), stream: Labels(["app": "a"])) }
        try store.apply(TenantBatch(tenant: tenant, batch: .logs(records)), at: WALPosition(segment: 0, offset: 0))
        try await store.persist(throughSegment: 0)
        // Mid-day 2: days 0 and 1 are wholly before it, day 2 is not.
        let dropped = try await store.dropPartitions(olderThan: base + 2 * day + day / 2)
        #expect(dropped == ["2026-11-20", "2026-11-21"])
        let lines = try await offPool { try store.logs(tenant: tenant, in: .all, limit: 10).map(\.line) }
        #expect(lines == ["day 3", "day 2"])
        #expect(try await store.dropPartitions(olderThan: base).isEmpty)
        try await cleanUp(client)
        directory.remove()
    }

    @Test func clickHouseDownIsAnUnavailableErrorFromAQuery() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-logs")
        let store = try await ClickHouseLogStore(client: client, checkpointDirectory: directory.path)
        try await cleanUp(client)
        // The database is gone: a query names what ClickHouse refused.
        let refused = try await offPool { sightlineError { _ = try store.streams(tenant: .default, matchers: [], range: .all) } }
        #expect(refused?.code == .invalidArgument && refused?.message.contains("logs") == true)
        // Nothing listens: a clear `unavailable`.
        let nowhere = try ClickHouseClient(url: "http://127.0.0.1:9", database: client.database)
        let down = await #expect(throws: SightlineError.self) { _ = try await ClickHouseLogStore(client: nowhere, checkpointDirectory: directory.path) }
        #expect(down?.code == .unavailable)
        let engineError = try await offPool {
            sightlineError {
                _ = try LogQLEngine(source: store.with(client: nowhere)).range(
                    query: #"{app="a"}"#, tenant: .default, start: 0, end: 1_000_000, step: 0, limit: 10)
            }
        }
        #expect(engineError?.code == .unavailable && engineError?.message.contains("127.0.0.1:9") == true)
        directory.remove()
    }

    @Test func onlyRegexesBothEnginesReadAlikeArePushedDown() throws {
        for pattern in ["api|web", ".+", "c(art|heckout)", "[a-z]+-[0-9]{2,3}", #"a\.b"#, "(?:x)?y*", "[^abc]+"] {
            #expect(ClickHouseLogStore.isPortableRegex(pattern), "\(pattern)")
        }
        for pattern in [#"\d+"#, "^a", "a$", "(?i)a", "[[:alpha:]]", "ü", "a++", "[a-z&&[^x]]", #"\w"#] {
            #expect(!ClickHouseLogStore.isPortableRegex(pattern), "\(pattern)")
        }
        #expect(ClickHouseLogStore.streamID(Labels(["a": "b"])) != ClickHouseLogStore.streamID(Labels(["ab": ""])))
        #expect(ClickHouseLogStore.streamID(Labels(["a": "b", "c": "d"])) == ClickHouseLogStore.streamID(Labels(["c": "d", "a": "b"])))
    }
}
