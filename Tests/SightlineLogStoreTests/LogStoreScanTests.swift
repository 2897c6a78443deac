import Logging
@testable import SightlineLogStore
import SightlineCore
import SightlineTestSupport
import Testing

struct LogStoreScanTests {
    /// Three services, interleaved in time (unique times), fed in segments 0...5.
    private func populate(_ store: LogStore, persistThrough: Int?) throws -> [LogRecord] {
        var all: [LogRecord] = []
        let services = ["gateway", "search", "payments"]
        for segment in 0...5 {
            var batch: [LogRecord] = []
            for index in 0..<150 {
                let n = UInt64(segment * 150 + index)
                // Out of order within a batch, so parts and heads must sort.
                let time = (n % 2 == 0 ? n : n + 1_000) * 1_000_000 + UInt64(segment)
                batch.append(LogFixtures.record("line \(n) from \(services[index % 3])", at: time, service: services[index % 3]))
            }
            try StoreHarness.apply(store, batch, segment: segment)
            all.append(contentsOf: batch)
        }
        if let persistThrough { try store.persist(throughSegment: persistThrough) }
        return all
    }

    @Test func scansInBothDirectionsAcrossStreamsHeadAndParts() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        let all = try populate(store, persistThrough: 3)
        #expect(store.summary().headRecords == 300)
        #expect(store.summary().partRecords == 600)
        let expected = StoreHarness.labeled(all).sorted { $0.effectiveTimeUnixNano < $1.effectiveTimeUnixNano }
        #expect(try StoreHarness.scan(store, direction: .forward) == expected)
        #expect(try StoreHarness.scan(store, direction: .backward) == expected.reversed())
        #expect(try store.logs(tenant: StoreHarness.tenant, in: .all, limit: 7) == Array(expected.reversed().prefix(7)))
        #expect(try StoreHarness.scan(store, tenant: Tenant("other")).isEmpty)
    }

    @Test func stopsEarly() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        let all = try populate(store, persistThrough: 5)
        var seen: [LogRecord] = []
        try store.scan(LogScan(tenant: StoreHarness.tenant, matchers: [], range: .all, direction: .backward)) { record in
            seen.append(record)
            return seen.count < 5
        }
        #expect(seen == Array(StoreHarness.labeled(all).sorted { $0.effectiveTimeUnixNano > $1.effectiveTimeUnixNano }.prefix(5)))
        // Only the blocks holding the newest records were opened.
        #expect(store.blockCounters.read < store.summary().blocks)
    }

    @Test func matchesStreamLabels() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        let all = StoreHarness.labeled(try populate(store, persistThrough: 2))
        func services(_ matcher: LabelMatcher) throws -> Set<String> {
            Set(try StoreHarness.scan(store, matchers: [matcher]).map { $0.stream["service_name"] ?? "" })
        }
        #expect(try services(LabelMatcher("service_name", .equal, "search")) == ["search"])
        #expect(try services(LabelMatcher("service_name", .notEqual, "search")) == ["gateway", "payments"])
        #expect(try services(LabelMatcher("service_name", .regexMatch, "pay.*|gate.*")) == ["gateway", "payments"])
        #expect(try services(LabelMatcher("service_name", .regexNoMatch, "pay.*")) == ["gateway", "search"])
        #expect(try services(LabelMatcher("host_name", .equal, "host-1")) == ["gateway", "search", "payments"])
        let search = try StoreHarness.scan(store, matchers: [LabelMatcher("service_name", .equal, "search")])
        #expect(search == all.filter { $0.stream["service_name"] == "search" }.sorted { $0.effectiveTimeUnixNano < $1.effectiveTimeUnixNano })
        let streams = try store.streams(tenant: StoreHarness.tenant, matchers: [LabelMatcher("service_name", .regexMatch, "g.*|s.*")], range: .all)
        #expect(streams == [Labels(["service_name": "gateway", "host_name": "host-1"]), Labels(["service_name": "search", "host_name": "host-1"])].sorted())
    }

    @Test func recordsSharingAResourceArrayGetItsStreamAndOthersTheirOwn() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        // As OTLP decoding and the agent hand them over: the records of one resource share its attribute array.
        let gateway = LogFixtures.record("g", at: 0, service: "gateway").resource
        let search = LogFixtures.record("s", at: 0, service: "search").resource
        var records: [LogRecord] = []
        for (index, resource) in [gateway, gateway, search, gateway, search, search].enumerated() {
            var record = LogFixtures.record("line \(index)", at: UInt64(index) * 1_000)
            record.resource = resource
            records.append(record)
        }
        // Equal contents in another array, and explicit stream labels, between them.
        var copy = LogFixtures.record("copy", at: 10_000, service: "gateway")
        copy.resource = Array(gateway)
        records.insert(copy, at: 2)
        var explicit = LogFixtures.record("explicit", at: 20_000)
        explicit.stream = Labels(["app": "other"])
        records.insert(explicit, at: 4)
        try StoreHarness.apply(store, records, segment: 0)
        func lines(_ matcher: LabelMatcher) throws -> [String] {
            try StoreHarness.scan(store, matchers: [matcher]).map(\.line)
        }
        #expect(try lines(LabelMatcher("service_name", .equal, "gateway")) == ["line 0", "line 1", "line 3", "copy"])
        #expect(try lines(LabelMatcher("service_name", .equal, "search")) == ["line 2", "line 4", "line 5"])
        #expect(try lines(LabelMatcher("app", .equal, "other")) == ["explicit"])
    }

    @Test func timeRangeIsHalfOpen() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        let base = LogFixtures.base
        let records = (0..<10).map { LogFixtures.record("r\($0)", at: UInt64($0) * 10) }
        try StoreHarness.apply(store, Array(records[0..<5]), segment: 0)
        try StoreHarness.apply(store, Array(records[5...]), segment: 1)
        try store.persist(throughSegment: 0)
        // [20, 70): records 2...6, across the part and the head.
        let range = TimeRange(startNano: base + 20, endNano: base + 70)
        for direction in [LogScan.Direction.forward, .backward] {
            let lines = try StoreHarness.scan(store, range: range, direction: direction).map(\.line)
            let expected = (2...6).map { "r\($0)" }
            #expect(lines == (direction == .forward ? expected : expected.reversed()))
        }
        #expect(try StoreHarness.scan(store, range: TimeRange(startNano: base + 41, endNano: base + 50)).isEmpty)
        #expect(try store.streams(tenant: StoreHarness.tenant, matchers: [], range: TimeRange(startNano: base + 41, endNano: base + 50)).isEmpty)
        #expect(try store.streams(tenant: StoreHarness.tenant, matchers: [], range: TimeRange(startNano: base + 40, endNano: base + 41)).count == 1)
        let stats = try store.stats(tenant: StoreHarness.tenant, matchers: [], range: range)
        #expect(stats == LogStats(streams: 1, chunks: 2, entries: 5, bytes: 10))
    }

    /// The counts a scan's records give, bucketed as ``LogStore/countBuckets(_:originNano:widthNano:groupBy:)`` buckets.
    private func countedByScan(_ store: LogStore, _ scan: LogScan, origin: Int64, width: Int64) throws -> [LogBucketCount] {
        var counts: [Int64: LogBucketCount] = [:]
        try store.scan(scan) { record in
            let end = LogBucketCount.bucketEnd(of: Int64(record.effectiveTimeUnixNano), originNano: origin, widthNano: width)
            counts[end, default: LogBucketCount(endNano: end, records: 0, bytes: 0)].records += 1
            counts[end, default: LogBucketCount(endNano: end, records: 0, bytes: 0)].bytes += record.line.utf8.count
            return true
        }
        return counts.values.sorted { $0.endNano < $1.endNano }
    }

    @Test func countsPerBucketEqualWhatTheScanHandsOut() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        _ = try populate(store, persistThrough: 3)
        let base = Int64(LogFixtures.base)
        let ranges = [TimeRange.all, TimeRange(startNano: LogFixtures.base + 100_000_000, endNano: LogFixtures.base + 700_000_003)]
        let selections: [([LabelMatcher], [String])] = [
            ([], []), ([try LabelMatcher("service_name", .notEqual, "search")], []), ([], ["from pay"]), ([], ["line 1", "gateway"]),
            ([], ["nowhere in any line"]),
        ]
        // Buckets finer and coarser than a block, and one bucket for everything.
        for (origin, width) in [(base, Int64(7_000_000)), (base - 3, Int64(250_000_000)), (base + 1_000_000_000_000, Int64(1) << 50)] {
            for range in ranges {
                for (matchers, needles) in selections {
                    let scan = LogScan(tenant: StoreHarness.tenant, matchers: matchers, range: range, lineContains: needles)
                    let counted = try #require(try store.countBuckets(scan, originNano: origin, widthNano: width, groupBy: []))
                    let expected = try countedByScan(store, scan, origin: origin, width: width)
                    #expect(counted == (expected.isEmpty ? [] : [LogGroupCount(values: [], buckets: expected)]), "\(matchers) \(needles) \(range) \(width)")
                }
            }
        }
        #expect(try store.countBuckets(LogScan(tenant: StoreHarness.tenant, matchers: [], range: .all), originNano: 0, widthNano: 0, groupBy: []) == nil)
    }

    @Test func persistSortsByTimeKeepingArrivalOrderForEqualTimes() throws {
        let records = [5, 3, 5, 1, 3].enumerated().map { LogFixtures.record("r\($0.offset)", at: UInt64($0.element)) }
        let order = try #require(LogStore.timeOrder([LogStore.HeadChunk(records)]))
        #expect(order.map { records[$0.index].line } == ["r3", "r1", "r4", "r0", "r2"])
        #expect(order.allSatisfy { $0.chunk == 0 })
        #expect(LogStore.timeOrder([LogStore.HeadChunk(order.map { records[$0.index] })]) == nil)
    }

    @Test func statsCountStreamsBlocksEntriesAndBytes() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        let all = try populate(store, persistThrough: 5)
        let stats = try store.stats(tenant: StoreHarness.tenant, matchers: [], range: .all)
        #expect(stats.streams == 3)
        #expect(stats.entries == all.count)
        #expect(stats.bytes == all.reduce(0) { $0 + $1.line.utf8.count })
        #expect(stats.chunks == store.summary().blocks)
        let search = try store.stats(tenant: StoreHarness.tenant, matchers: [LabelMatcher("service_name", .equal, "search")], range: .all)
        #expect(search.streams == 1)
        #expect(search.entries == 300)
    }

    @Test func tenantsNeverSeeEachOther() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let other = try Tenant("team-b")
        do {
            let store = try harness.open()
            try StoreHarness.apply(store, [LogFixtures.record("default tenant line", at: 1)], segment: 0)
            try StoreHarness.apply(store, [LogFixtures.record("team b line", at: 2)], segment: 0, tenant: other)
            try store.persist(throughSegment: 0)
            try StoreHarness.apply(store, [LogFixtures.record("team b head line", at: 3)], segment: 1, tenant: other)
            #expect(try StoreHarness.scan(store).map(\.line) == ["default tenant line"])
            #expect(try StoreHarness.scan(store, tenant: other).map(\.line) == ["team b line", "team b head line"])
        }
        let reopened = try harness.open()
        #expect(try StoreHarness.scan(reopened).map(\.line) == ["default tenant line"])
        #expect(try StoreHarness.scan(reopened, tenant: other).map(\.line) == ["team b line"])
        #expect(try reopened.stats(tenant: other, matchers: [], range: .all).entries == 1)
        #expect(try reopened.logs(tenant: try Tenant("nobody"), in: .all, limit: 10).isEmpty)
    }
}
