import Foundation
@testable import SightlineLogStore
import SightlineCore
import SightlineTestSupport
import Synchronization
import Testing

struct LogStoreMaintenanceTests {
    private static let hour: UInt64 = 3_600_000_000_000

    /// Persists `count` small parts of one stream (`service`), 20 records each, one segment each.
    private func smallParts(_ store: LogStore, count: Int, service: String = "gateway", firstSegment: Int = 0, start: UInt64 = 0) throws -> [LogRecord] {
        var all: [LogRecord] = []
        for index in 0..<count {
            let segment = firstSegment + index
            // Parts overlap in time, so a merge must interleave them.
            let records = (0..<20).map { LogFixtures.record("\(service) part \(segment) record \($0)", at: start + UInt64($0 * 1000 + segment), service: service) }
            try StoreHarness.apply(store, records, segment: segment)
            try store.persist(throughSegment: segment)
            all.append(contentsOf: records)
        }
        return all
    }

    @Test func mergesKeepEveryRecordOnce() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        let all = try smallParts(store, count: 6) + smallParts(store, count: 2, service: "search", firstSegment: 6)
        #expect(store.summary().parts == 8)
        let report = try store.maintain(now: harness.clock.nano)
        // The gateway's six small parts become one; the search stream's two are fewer than mergeMinParts.
        #expect(report.mergedParts == 6)
        #expect(report.newParts == 1)
        #expect(store.summary().parts == 3)
        let expected = StoreHarness.labeled(all).sorted { ($0.effectiveTimeUnixNano, $0.line) < ($1.effectiveTimeUnixNano, $1.line) }
        let scanned = try StoreHarness.scan(store).sorted { ($0.effectiveTimeUnixNano, $0.line) < ($1.effectiveTimeUnixNano, $1.line) }
        #expect(scanned == expected)
        // The merged-away files are gone, and a reopened store agrees.
        #expect(try FileManager.default.contentsOfDirectory(atPath: harness.directory.file("parts")).count == 3)
        let reopened = try harness.open()
        #expect(try StoreHarness.scan(reopened).sorted { ($0.effectiveTimeUnixNano, $0.line) < ($1.effectiveTimeUnixNano, $1.line) } == expected)
        #expect(try reopened.maintain(now: harness.clock.nano) == LogStore.MaintenanceReport())
    }

    @Test func queriesInFlightKeepReadingMergedParts() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        let all = try smallParts(store, count: 5)
        var seen: [LogRecord] = []
        var maintained = false
        try store.scan(LogScan(tenant: StoreHarness.tenant, matchers: [], range: .all, direction: .forward)) { record in
            seen.append(record)
            if !maintained {
                // Merge (and delete the files of) the parts this scan is reading.
                maintained = true
                let merged = try store.maintain(now: harness.clock.nano).mergedParts
                #expect(merged == 5)
            }
            return true
        }
        #expect(seen.count == all.count)
        #expect(Set(seen.map(\.line)) == Set(all.map(\.line)))
        #expect(store.summary().parts == 1)
    }

    @Test func rollsOverBySize() throws {
        var options = StoreHarness.smallBlocks
        options.rolloverMaxBytes = 1
        options.mergeMinParts = 2
        let harness = try StoreHarness(options: options)
        defer { harness.directory.remove() }
        let store = try harness.open()
        let first = try smallParts(store, count: 1)
        #expect(try store.maintain(now: harness.clock.nano).rolledOver == 1)
        let second = try smallParts(store, count: 1, firstSegment: 1)
        let generations = store.state.withLock { $0.streams[StoreHarness.tenant]?.values.first?.parts.map(\.meta.generation) }
        #expect(generations == [0, 1])
        // Each generation has one part, so there is nothing to merge: merges stay within a generation.
        let report = try store.maintain(now: harness.clock.nano)
        #expect(report.mergedParts == 0)
        #expect(report.rolledOver == 1)
        #expect(try StoreHarness.scan(store).count == first.count + second.count)
        // The generation survives a restart.
        let reopened = try harness.open()
        #expect(reopened.state.withLock { $0.streams[StoreHarness.tenant]?.values.first?.generation } == 1)
    }

    @Test func rollsOverByAge() throws {
        var options = StoreHarness.smallBlocks
        options.rolloverMaxAge = .seconds(3600)
        let harness = try StoreHarness(options: options)
        defer { harness.directory.remove() }
        let store = try harness.open()
        _ = try smallParts(store, count: 1)
        #expect(try store.maintain(now: harness.clock.nano).rolledOver == 0)
        harness.clock.advance(Self.hour - 1)
        #expect(try store.maintain(now: harness.clock.nano).rolledOver == 0)
        harness.clock.advance(1)
        #expect(try store.maintain(now: harness.clock.nano).rolledOver == 1)
        // A new generation with no parts yet does not roll over again.
        harness.clock.advance(5 * Self.hour)
        #expect(try store.maintain(now: harness.clock.nano).rolledOver == 0)
        _ = try smallParts(store, count: 1, firstSegment: 1)
        let generations = store.state.withLock { $0.streams[StoreHarness.tenant]?.values.first?.parts.map(\.meta.generation) }
        #expect(generations == [0, 1])
    }

    @Test func retentionDropsOldGenerationsPerSelector() throws {
        var options = StoreHarness.smallBlocks
        options.rolloverMaxBytes = 1
        options.retention = [
            LogRetentionRule(matchers: [try LabelMatcher("service_name", .equal, "gateway")], maxAge: .seconds(3600)),
            LogRetentionRule(tenant: try Tenant("other"), maxAge: .seconds(60)),
        ]
        options.defaultRetention = .seconds(24 * 3600)
        let harness = try StoreHarness(options: options)
        defer { harness.directory.remove() }
        let store = try harness.open()
        // Generation 0 of both streams holds records at base; generation 1 of the gateway records two hours later.
        _ = try smallParts(store, count: 1, service: "gateway")
        _ = try smallParts(store, count: 1, service: "search", firstSegment: 1)
        _ = try store.maintain(now: LogFixtures.base)
        let recent = try smallParts(store, count: 1, service: "gateway", firstSegment: 2, start: 2 * Self.hour)
        // Three hours on: the gateway's first generation is older than its hour; search keeps its day.
        let report = try store.maintain(now: LogFixtures.base + 3 * Self.hour - 1)
        #expect(report.droppedParts == 1)
        #expect(report.droppedRecords == 20)
        let gateway = try StoreHarness.scan(store, matchers: [try LabelMatcher("service_name", .equal, "gateway")])
        #expect(gateway == StoreHarness.labeled(recent))
        #expect(try StoreHarness.scan(store, matchers: [try LabelMatcher("service_name", .equal, "search")]).count == 20)
        // A day later the default drops the rest.
        #expect(try store.maintain(now: LogFixtures.base + 30 * Self.hour).droppedParts == 2)
        #expect(try StoreHarness.scan(store).isEmpty)
        #expect(try harness.open().summary().parts == 0)
    }

    @Test func mergePlanIsSizeTiered() {
        let k = 1 << 10
        // Four small parts merge; a lone large part and three mid-size ones wait for company.
        #expect(LogStore.planMerges(sizes: [10 * k, 20 * k, 5 * k, 30 * k, 900 * k], current: true, minParts: 4, maxBytes: 1 << 30) == [[0, 1, 2, 3]])
        #expect(LogStore.planMerges(sizes: [100 * k, 120 * k, 200 * k, 10 * k], current: true, minParts: 4, maxBytes: 1 << 30) == [])
        #expect(LogStore.planMerges(sizes: [100 * k, 120 * k, 200 * k, 130 * k], current: true, minParts: 4, maxBytes: 1 << 30) == [[0, 1, 2, 3]])
        // A closed generation merges whatever it has, parts at the limit excepted, in groups under the limit.
        #expect(LogStore.planMerges(sizes: [100 * k, 5 * k, 2000 * k], current: false, minParts: 4, maxBytes: 1000 * k) == [[0, 1]])
        #expect(LogStore.planMerges(sizes: [600 * k, 500 * k, 300 * k, 100 * k], current: false, minParts: 4, maxBytes: 1000 * k) == [[1, 2, 3]])
        #expect(LogStore.planMerges(sizes: [5 * k], current: false, minParts: 4, maxBytes: 1000 * k) == [])
    }

    @Test func mergeInterleavesMultiBlockPartsInTimeOrder() throws {
        var options = StoreHarness.smallBlocks
        options.mergeMinParts = 3
        let harness = try StoreHarness(options: options)
        defer { harness.directory.remove() }
        let store = try harness.open()
        var all: [LogRecord] = []
        for segment in 0..<3 {
            // 250 records a part (three blocks), interleaved with the other parts, some times shared across parts.
            let records = (0..<250).map { LogFixtures.record("p\(segment) r\($0)", at: UInt64($0 * 3 + (segment == 2 ? 0 : segment)) * 100) }
            try StoreHarness.apply(store, records, segment: segment)
            try store.persist(throughSegment: segment)
            all.append(contentsOf: records)
        }
        #expect(store.summary().blocks == 9)
        #expect(try store.maintain(now: harness.clock.nano).mergedParts == 3)
        #expect(store.summary().parts == 1)
        #expect(store.summary().blocks == 8)
        let scanned = try StoreHarness.scan(store)
        #expect(scanned.map(\.effectiveTimeUnixNano) == all.map(\.effectiveTimeUnixNano).sorted())
        #expect(Set(scanned.map(\.line)) == Set(all.map(\.line)))
        #expect(scanned.count == 750)
    }
}
