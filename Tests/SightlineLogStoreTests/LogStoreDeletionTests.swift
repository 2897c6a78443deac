import Foundation
@testable import SightlineLogStore
import SightlineCore
import SightlineStorageCore
import SightlineTestSupport
import Testing

/// Delete requests (``LogDeletion``) against a model of what should be left: heads, parts, merges, restarts.
struct LogStoreDeletionTests {
    private static func deletion(
        _ id: String, service: String, filters: [LogDeletion.LineFilter] = [], from start: UInt64 = 0, through end: UInt64 = .max
    ) -> LogDeletion {
        LogDeletion(
            requestID: id, query: "{service_name=\"\(service)\"}", matchers: [try! LabelMatcher("service_name", .equal, service)],
            lineFilters: filters, startNano: start, endNano: end, createdAtMs: Int64(id.hashValue & 0xFFFF))
    }

    private static func apply(_ store: LogStore, _ deletion: LogDeletion, segment: Int) throws {
        var batch = LogBatch()
        batch.deletions = [deletion]
        try store.apply(TenantBatch(tenant: StoreHarness.tenant, batch: .logs(batch)), at: WALPosition(segment: segment, offset: 1))
    }

    /// What the model keeps of `records` after `deletions`, as scans hand them out (time order).
    private static func expected(_ records: [LogRecord], after deletions: [LogDeletion]) -> [LogRecord] {
        StoreHarness.labeled(records)
            .filter { record in
                !deletions.contains { $0.covers(stream: record.streamLabels) && $0.covers(timeNano: record.effectiveTimeUnixNano) { record.line } }
            }
            .sorted { $0.effectiveTimeUnixNano < $1.effectiveTimeUnixNano }
    }

    /// Segment `segment`'s records: 60, alternating two services, lines that line filters can tell apart.
    private static func records(_ segment: Int) -> [LogRecord] {
        (0..<60).map { index in
            let level = index % 3 == 0 ? "error" : "info"
            return LogFixtures.record(
                "\(level) segment \(segment) user=\(index % 7) request \(index)", at: UInt64(segment * 60 + index) * 1_000,
                service: index % 2 == 0 ? "api" : "web")
        }
    }

    @Test func deletionsReachHeadsPartsAndMergesAndSurviveRestarts() throws {
        var harness = try StoreHarness()
        harness.options.mergeMinParts = 2
        defer { harness.directory.remove() }
        // What the store should hold: records written, less those a later deletion covers.
        var kept: [LogRecord] = []
        func delete(_ deletion: LogDeletion, in store: LogStore, segment: Int) throws {
            try Self.apply(store, deletion, segment: segment)
            kept = Self.expected(kept, after: [deletion])
        }
        func stored(_ store: LogStore) throws -> [LogRecord] { try StoreHarness.scan(store) }
        func expected() -> [LogRecord] { StoreHarness.labeled(kept).sorted { $0.effectiveTimeUnixNano < $1.effectiveTimeUnixNano } }
        do {
            let store = try harness.open()
            for segment in 0...2 {
                try StoreHarness.apply(store, Self.records(segment), segment: segment)
                kept += Self.records(segment)
            }
            try store.persist(throughSegment: 1)  // segments 0 and 1 in parts, 2 in the head
            // Error lines of `api` in segments 1 and 2 (a part and the head); every `web` line of user 3.
            let errors = Self.deletion(
                "e1", service: "api", filters: [try LogDeletion.LineFilter(.contains, ["error"])],
                from: LogFixtures.base + 60_000, through: LogFixtures.base + 179_000)
            let user = Self.deletion("u3", service: "web", filters: [try LogDeletion.LineFilter(.regex, ["user=3\\b"])])
            for deletion in [errors, user] {
                let before = try stored(store).count
                try delete(deletion, in: store, segment: 2)
                #expect(try stored(store) == expected())
                #expect(try stored(store).count < before)
            }
            // Written after the deletion, in its range: kept.
            let late = [LogFixtures.record("error late", at: 100_500, service: "api")]
            try StoreHarness.apply(store, late, segment: 3)
            kept += late
            try store.persist(throughSegment: 3)
            try store.maintain(now: LogFixtures.base)
            #expect(try stored(store) == expected())
            #expect(store.deletionRequests(tenant: StoreHarness.tenant).map(\.requestID).sorted() == ["e1", "u3"])
        }
        // Reopened: the parts hold what was left, and the request list came back.
        let reopened = try harness.open()
        #expect(try stored(reopened) == expected())
        #expect(reopened.deletionRequests(tenant: StoreHarness.tenant).count == 2)

        // Everything of `api` up to the end of segment 1: parts left with nothing of it go.
        try delete(Self.deletion("all", service: "api", through: LogFixtures.base + 119_999), in: reopened, segment: 4)
        #expect(try stored(reopened) == expected())
        let api = try StoreHarness.scan(reopened, matchers: [LabelMatcher("service_name", .equal, "api")])
        #expect(!api.isEmpty && api.allSatisfy { $0.effectiveTimeUnixNano >= LogFixtures.base + 120_000 })
        #expect(try stored(try harness.open()) == expected())
    }

    /// A crash after a deletion but before the next persist: replaying the WAL (records, then the deletion, then later
    /// records) gives back what the store showed before the crash.
    @Test func replayAppliesDeletionsInWALOrder() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let deletion = Self.deletion("d", service: "web", filters: [try LogDeletion.LineFilter(.notContains, ["error", "user=1"])])
        let later = Self.records(1)
        func replay(into store: LogStore) throws {
            try StoreHarness.apply(store, Self.records(0), segment: 0)
            try Self.apply(store, deletion, segment: 0)
            try StoreHarness.apply(store, later, segment: 0)
        }
        let expected = Self.expected(Self.records(0), after: [deletion]) + StoreHarness.labeled(later)
        do {
            let store = try harness.open()
            try replay(into: store)
            #expect(try StoreHarness.scan(store) == expected)
        }
        let reopened = try harness.open()
        try replay(into: reopened)
        #expect(try StoreHarness.scan(reopened) == expected)
        #expect(reopened.deletionRequests(tenant: StoreHarness.tenant).map(\.requestID) == ["d"])
    }

    @Test func lineFiltersFollowLogQL() throws {
        let contains = try LogDeletion.LineFilter(.contains, ["a", "b"])
        #expect(contains.passes("xbx") && !contains.passes("xyz"))
        let notContains = try LogDeletion.LineFilter(.notContains, ["a", "b"])
        #expect(!notContains.passes("xbx") && notContains.passes("xyz"))
        let regex = try LogDeletion.LineFilter(.regex, ["user=[0-9]+$"])
        #expect(regex.passes("login user=42") && !regex.passes("user=42 login"))
        #expect(try LogDeletion.LineFilter(.notRegex, ["(?i)ERROR"]).passes("all fine"))
        #expect(throws: SightlineError.self) { try LogDeletion.LineFilter(.regex, ["(unclosed"]) }
    }
}
