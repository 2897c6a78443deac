import Foundation
import Logging
import SightlineTestSupport
import Testing

@testable import SightlineClickHouse
@testable import SightlineCore
@testable import SightlineTraceStore

/// Seeded spans for the trace store tests: several tenants and services, traces of a root, its children and
/// grandchildren, errors, tags (attributes, resource, derived), events, links, orphans and spans without a service,
/// spread over three days. Start times are unique within a tenant, so every ordering is defined.
enum TraceFixture {
    static let nanosPerDay: UInt64 = 86_400 * 1_000_000_000
    /// 2026-11-20T00:00:00Z.
    static let base: UInt64 = 1_795_132_800 * 1_000_000_000
    static let tenants = [Tenant(uncheckedID: "acme"), Tenant(uncheckedID: "beta")]
    static let ms: UInt64 = 1_000_000

    /// The batches, tenants interleaved, four per WAL segment.
    static func batches(seed: UInt64 = 11, tracesPerTenant: Int = 60) -> [(TenantBatch, WALPosition)] {
        var random = SplitMix64(seed: seed)
        var perTenant: [[Span]] = []
        for number in tenants.indices {
            var spans: [Span] = []
            for trace in 0..<tracesPerTenant {
                let start = base + UInt64(trace) * (3 * nanosPerDay / UInt64(tracesPerTenant)) + UInt64.random(in: 0..<60_000_000_000, using: &random)
                spans += makeTrace(start: start, tenantNumber: number, random: &random)
            }
            perTenant.append(spans)
        }
        var result: [(TenantBatch, WALPosition)] = []
        var cursors = Array(repeating: 0, count: tenants.count)
        var index = 0
        while cursors.enumerated().contains(where: { $0.element < perTenant[$0.offset].count }) {
            for number in tenants.indices where cursors[number] < perTenant[number].count {
                let size = Int.random(in: 5...30, using: &random)
                let end = min(perTenant[number].count, cursors[number] + size)
                let spans = Array(perTenant[number][cursors[number]..<end])
                cursors[number] = end
                result.append((TenantBatch(tenant: tenants[number], batch: .traces(spans)), WALPosition(segment: index / 4, offset: Int64(index % 4) * 4096)))
                index += 1
            }
        }
        return result
    }

    private static func makeTrace(start: UInt64, tenantNumber: Int, random: inout SplitMix64) -> [Span] {
        let traceID = TraceID(high: random.next(), low: random.next())
        var spans: [Span] = []
        var slot: UInt64 = 0
        func nextStart() -> UInt64 {
            slot += 1
            return start + slot * ms + UInt64.random(in: 0..<900_000, using: &random)
        }
        let region = tenantNumber == 0 ? (Bool.random(using: &random) ? "eu" : "us") : "ap"
        func span(service: String?, name: String, kind: Span.Kind, parent: SpanID?, at begin: UInt64) -> Span {
            let roll = UInt64.random(in: 0..<100, using: &random)
            let status: Span.StatusCode = roll < 15 ? .error : roll < 35 ? .ok : .unset
            var attributes = [
                Attribute("http.method", .string(Bool.random(using: &random) ? "GET" : "POST")),
                Attribute("http.status_code", .int(status == .error ? 500 : 200)),
            ]
            if roll % 7 == 0 { attributes.append(Attribute("customer", .string("o'brien\\x"))) }
            if roll % 5 == 0 { attributes.append(Attribute("retry", .bool(true))) }
            if roll % 3 == 0 { attributes.append(Attribute("ratio", .double(Double(roll) / 8))) }
            var resource = [Attribute("region", .string(region)), Attribute("host.name", .string("h\(roll % 4)"))]
            if let service { resource.insert(Attribute("service.name", .string(service)), at: 0) }
            let duration = UInt64.random(in: 1...500, using: &random) * ms + UInt64.random(in: 0..<ms, using: &random)
            var events: [Span.Event] = []
            if roll % 4 == 0 {
                events.append(Span.Event(timeUnixNano: begin + 10, name: "exception", attributes: [Attribute("exception.message", .string("bad ünïcode\n"))], droppedAttributesCount: 1))
            }
            var links: [Span.Link] = []
            if roll % 6 == 0 {
                links.append(Span.Link(traceID: TraceID(high: random.next(), low: 1), spanID: SpanID(random.next() | 1), traceState: "k=v", attributes: [Attribute("link", .bool(false))], flags: 1))
            }
            return Span(
                traceID: traceID, spanID: SpanID(random.next() | 1), parentSpanID: parent, traceState: roll % 2 == 0 ? "vendor=1" : "",
                flags: UInt32(roll % 2), name: name, kind: kind, startTimeUnixNano: begin, endTimeUnixNano: begin + duration,
                attributes: attributes, droppedAttributesCount: UInt32(roll % 3), events: events, droppedEventsCount: UInt32(roll % 2),
                links: links, droppedLinksCount: 0, statusCode: status, statusMessage: status == .error ? "boom" : "",
                resource: resource, scope: InstrumentationScope(name: roll % 2 == 0 ? "lib" : "", version: roll % 2 == 0 ? "1.2" : "")
            )
        }
        let rootName = Bool.random(using: &random) ? "GET /checkout" : "GET /home"
        let root = span(service: "frontend", name: rootName, kind: .server, parent: nil, at: nextStart())
        spans.append(root)
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            // One api span in twenty hangs off a parent that was never sent: it adds no dependency.
            let orphan = UInt64.random(in: 0..<20, using: &random) == 0
            let api = span(service: "api", name: "api.handle", kind: .server, parent: orphan ? SpanID(random.next() | 1) : root.spanID, at: nextStart())
            spans.append(api)
            for _ in 0..<Int.random(in: 0...2, using: &random) {
                let database = Bool.random(using: &random)
                // Some clients set no service.name: they count as unknown_service.
                let service: String? = UInt64.random(in: 0..<10, using: &random) == 0 ? nil : (database ? "db" : "cache")
                spans.append(span(service: service, name: database ? "SELECT" : "GET", kind: .client, parent: api.spanID, at: nextStart()))
            }
        }
        if tenantNumber == 1 { spans.append(span(service: "api", name: "api.internal", kind: .internal, parent: root.spanID, at: nextStart())) }
        return spans.shuffled(using: &random)
    }
}

/// Runs a synchronous store call on a thread of its own: the ClickHouse store blocks its caller, which must not be
/// one of Swift's cooperative threads.
private func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

@Suite(needsClickHouse) struct ClickHouseTraceStoreTests {
    typealias F = TraceFixture
    static let day = TraceFixture.nanosPerDay

    /// Both stores, fed the same batches: the embedded one persisted up to the middle segment (parts and head), the
    /// ClickHouse one persisted as far and flushed for the rest.
    struct Pair {
        var embedded: TraceStore
        var clickHouse: ClickHouseTraceStore
        var client: ClickHouseClient
        var directory: TemporaryDirectory
        var persisted: Int
        var spans: [Tenant: [Span]]

        func remove() async throws {
            try await cleanUp(client)
            directory.remove()
        }
    }

    func makePair(_ name: String = #function, options: TraceStoreOptions = TraceStoreOptions(), persistAll: Bool = false) async throws -> Pair {
        let client = try await testClient(name)
        let directory = try TemporaryDirectory(prefix: "sightline-ch-traces")
        let embedded = try TraceStore(directory: directory.file("embedded"), options: options, logger: Logger(label: "test"))
        let store = try await ClickHouseTraceStore(client: client, checkpointDirectory: directory.file("checkpoints"))
        let batches = F.batches()
        var spans: [Tenant: [Span]] = [:]
        for (batch, position) in batches {
            try embedded.apply(batch, at: position)
            try store.apply(batch, at: position)
            if case .traces(let list) = batch.batch { spans[batch.tenant, default: []] += list }
        }
        let last = batches.last?.1.segment ?? 0
        let persisted = persistAll ? last : last / 2
        try embedded.persist(throughSegment: persisted)
        try await store.persist(throughSegment: persisted)
        try await store.flush()
        return Pair(embedded: embedded, clickHouse: store, client: client, directory: directory, persisted: persisted, spans: spans)
    }

    /// Searches covering every condition of TraceQuery, alone and together, with and without a cutting limit.
    static func queries(_ tenant: Tenant) -> [TraceQuery] {
        let day1 = TimeRange(startNano: F.base, endNano: F.base + day)
        let odd = TimeRange(startNano: F.base + day / 3 + 12_345, endNano: F.base + 2 * day + 987_654_321)
        let ms = F.ms
        return [
            TraceQuery(tenant: tenant, limit: 10_000),
            TraceQuery(tenant: tenant, limit: 7),
            TraceQuery(tenant: tenant, service: "api", limit: 10_000),
            TraceQuery(tenant: tenant, service: "db", kind: .client, limit: 10_000),
            TraceQuery(tenant: tenant, service: "db", kind: .server, limit: 10_000),
            TraceQuery(tenant: tenant, service: Span.unknownService, limit: 10_000),
            TraceQuery(tenant: tenant, service: "frontend", operation: "GET /checkout", limit: 10),
            TraceQuery(tenant: tenant, operation: "SELECT", limit: 10_000),
            TraceQuery(tenant: tenant, tags: [TagCondition("http.status_code", "500")], limit: 10_000),
            TraceQuery(tenant: tenant, tags: [TagCondition("error", "true")], limit: 10_000),
            TraceQuery(tenant: tenant, tags: [TagCondition("region", "eu")], limit: 10_000),
            TraceQuery(tenant: tenant, tags: [TagCondition("span.kind", "client"), TagCondition("http.method", "GET")], limit: 10_000),
            TraceQuery(tenant: tenant, tags: [TagCondition("otel.status_code", "OK")], limit: 10_000),
            TraceQuery(tenant: tenant, tags: [TagCondition("otel.status_description", "boom"), TagCondition("host.name", "h2")], limit: 10_000),
            TraceQuery(tenant: tenant, tags: [TagCondition("otel.scope.name", "lib"), TagCondition("otel.scope.version", "1.2")], limit: 25),
            TraceQuery(tenant: tenant, tags: [TagCondition("customer", "o'brien\\x")], limit: 10_000),
            TraceQuery(tenant: tenant, tags: [TagCondition("retry", "true"), TagCondition("ratio", "0.0")], limit: 10_000),
            TraceQuery(tenant: tenant, tags: [TagCondition("http.status_code", "500"), TagCondition("http.status_code", "200")], limit: 10_000),
            TraceQuery(tenant: tenant, minDurationNano: 400 * ms, limit: 10_000),
            TraceQuery(tenant: tenant, maxDurationNano: 30 * ms, limit: 15),
            TraceQuery(tenant: tenant, service: "api", minDurationNano: 100 * ms, maxDurationNano: 300 * ms, limit: 10_000),
            TraceQuery(tenant: tenant, status: .error, limit: 10_000),
            TraceQuery(tenant: tenant, status: .ok, range: odd, limit: 10_000),
            TraceQuery(tenant: tenant, service: "api", range: day1, limit: 5),
            TraceQuery(tenant: tenant, kind: .internal, range: odd, limit: 10_000),
            TraceQuery(tenant: tenant, range: TimeRange(startNano: F.base + day, endNano: F.base + day), limit: 10_000),
            TraceQuery(tenant: tenant, service: "nope", limit: 10_000),
            TraceQuery(tenant: tenant, limit: 0),
        ] + [TraceQuery(tenant: tenant, limit: 10_000), TraceQuery(tenant: tenant, service: "api", status: .error, range: odd, limit: 10_000)].map {
            var roots = $0
            roots.rootSpans = true
            return roots
        }
    }

    /// Ranges on day boundaries: the embedded store answers services and operations by whole blocks of a part (one
    /// part per hour), so it is exact only when a range does not cut an hour.
    static let alignedRanges = [
        TimeRange.all, TimeRange(startNano: F.base, endNano: F.base + day), TimeRange(startNano: F.base + day, endNano: F.base + 3 * day),
        TimeRange(startNano: F.base + 5 * day, endNano: F.base + 6 * day),
    ]
    static let anyRanges = alignedRanges + [TimeRange(startNano: F.base + day / 3 + 12_345, endNano: F.base + 2 * day + 987_654_321)]

    /// Every read of the two stores for `tenant`, expected identical.
    func expectParity(_ pair: Pair, tenant: Tenant, expectData: Bool = true, searchesFinding: Int = 22) async throws {
        let (embedded, store) = (pair.embedded, pair.clickHouse)
        for range in Self.alignedRanges {
            let services = try embedded.services(tenant: tenant, range: range)
            #expect(try await onOwnThread { try store.services(tenant: tenant, range: range) } == services, "services \(tenant) \(range)")
            for service in services + ["nope"] {
                for kind in [nil, Span.Kind.server, .client] {
                    let want = try embedded.operations(tenant: tenant, service: service, kind: kind, range: range)
                    let got = try await onOwnThread { try store.operations(tenant: tenant, service: service, kind: kind, range: range) }
                    #expect(got == want, "operations \(tenant) \(service) \(String(describing: kind)) \(range)")
                }
            }
        }
        var nonEmpty = 0
        for query in Self.queries(tenant) {
            let want = try embedded.findTraces(query)
            let got = try await onOwnThread { try store.findTraces(query) }
            #expect(got == want, "findTraces \(query)")
            if !want.isEmpty { nonEmpty += 1 }
            var wantSpans: [Span] = []
            try embedded.forEachSpan(matching: query) { wantSpans.append($0) }
            let gotSpans = try await onOwnThread {
                var spans: [Span] = []
                try store.forEachSpan(matching: query) { spans.append($0) }
                return spans
            }
            let inPieces = try await onOwnThread {
                var spans: [Span] = []
                try store.forEachSpan(matching: query, pieceSpans: 3) { spans.append($0) }
                return spans
            }
            let key = { (span: Span) in "\(span.traceID) \(span.spanID) \(span.startTimeUnixNano)" }
            #expect(gotSpans.map(key).sorted() == wantSpans.map(key).sorted(), "forEachSpan \(query)")
            #expect(inPieces.map(key).sorted() == wantSpans.map(key).sorted(), "forEachSpan in pieces \(query)")
        }
        for range in Self.anyRanges {
            let want = try embedded.dependencies(tenant: tenant, range: range)
            #expect(try await onOwnThread { try store.dependencies(tenant: tenant, range: range) } == want, "dependencies \(tenant) \(range)")
            for limit in [1, 30, 100_000] {
                let wantSpans = try embedded.spans(tenant: tenant, in: range, limit: limit)
                #expect(try await onOwnThread { try store.spans(tenant: tenant, in: range, limit: limit) } == wantSpans, "spans \(tenant) \(range) \(limit)")
            }
        }
        let all = try embedded.findTraces(TraceQuery(tenant: tenant, limit: 100_000))
        for id in all + [TraceID(high: 1, low: 2)] {
            let want = try embedded.trace(tenant: tenant, id: id)
            #expect(try await onOwnThread { try store.trace(tenant: tenant, id: id) } == want, "trace \(id)")
        }
        if expectData {
            // Not a parity of empty answers: most searches find something, and dependencies exist.
            #expect(nonEmpty >= searchesFinding, "only \(nonEmpty) searches found traces")
            #expect(!(try embedded.dependencies(tenant: tenant, range: .all)).isEmpty)
        }
    }

    @Test func answersEveryQueryExactlyAsTheEmbeddedStore() async throws {
        let pair = try await makePair()
        for tenant in F.tenants { try await expectParity(pair, tenant: tenant) }
        let services = try await onOwnThread { try pair.clickHouse.services(tenant: F.tenants[0], range: .all) }
        #expect(services == ["api", "cache", "db", "frontend", Span.unknownService])
        #expect(try await onOwnThread { try pair.clickHouse.dependencies(tenant: F.tenants[0], range: .all) }.contains { $0.parent == "frontend" && $0.child == "api" })
        try await pair.remove()
    }

    @Test func spansRoundTripWithEveryField() async throws {
        let pair = try await makePair()
        for (tenant, spans) in pair.spans {
            let byTrace = Dictionary(grouping: spans, by: \.traceID)
            for (id, sent) in byTrace.prefix(40) {
                let got = try await onOwnThread { try pair.clickHouse.trace(tenant: tenant, id: id) }
                #expect(got == sent.sorted { $0.startTimeUnixNano < $1.startTimeUnixNano }, "trace \(id)")
            }
        }
        try await pair.remove()
    }

    @Test func aRestartedStoreSeesTheDataAndItsPersistedSegment() async throws {
        let pair = try await makePair()
        #expect(pair.clickHouse.persistedSegment == pair.persisted)
        let reopened = try await ClickHouseTraceStore(client: pair.client, checkpointDirectory: pair.directory.file("checkpoints"))
        #expect(reopened.persistedSegment == pair.persisted)
        let restarted = Pair(
            embedded: pair.embedded, clickHouse: reopened, client: pair.client, directory: pair.directory, persisted: pair.persisted, spans: pair.spans)
        try await expectParity(restarted, tenant: F.tenants[1])
        // Replaying a segment the store already holds inserts nothing twice.
        let (batch, position) = try #require(F.batches().first)
        try reopened.apply(batch, at: position)
        try await reopened.persist(throughSegment: pair.persisted)
        try await expectParity(restarted, tenant: batch.tenant)
        // Replaying the segments after it (flushed before the restart, never persisted) inserts their rows again:
        // every answer still counts each span once.
        for (batch, position) in F.batches() where position.segment > pair.persisted { try reopened.apply(batch, at: position) }
        try await reopened.flush()
        let rows = try await pair.client.query("SELECT count() FROM trace_spans FORMAT TabSeparated")
        #expect(Int(String(decoding: rows, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 > pair.spans.values.map(\.count).reduce(0, +))
        for tenant in F.tenants { try await expectParity(restarted, tenant: tenant) }
        try await pair.remove()
    }

    @Test func tenantsSeeOnlyTheirOwnSpans() async throws {
        let pair = try await makePair()
        let (acme, beta) = (F.tenants[0], F.tenants[1])
        let stranger = Tenant(uncheckedID: "stranger")
        try await expectParity(pair, tenant: stranger, expectData: false)
        #expect(try await onOwnThread { try pair.clickHouse.services(tenant: stranger, range: .all) }.isEmpty)
        let acmeTrace = try #require(pair.spans[acme]?.first?.traceID)
        #expect(try await onOwnThread { try pair.clickHouse.trace(tenant: beta, id: acmeTrace) }.isEmpty)
        #expect(!(try await onOwnThread { try pair.clickHouse.trace(tenant: acme, id: acmeTrace) }).isEmpty)
        let betaOnly = try await onOwnThread { try pair.clickHouse.operations(tenant: beta, service: "api", kind: nil, range: .all) }
        let acmeOps = try await onOwnThread { try pair.clickHouse.operations(tenant: acme, service: "api", kind: nil, range: .all) }
        #expect(betaOnly.contains(TraceOperation(name: "api.internal", kind: .internal)))
        #expect(!acmeOps.contains(TraceOperation(name: "api.internal", kind: .internal)))
        try await pair.remove()
    }

    @Test func retentionDropsWholeDaysAsTheEmbeddedStoreDropsParts() async throws {
        let retention: UInt64 = 86_400 * 1_000_000_000
        let pair = try await makePair(options: TraceStoreOptions(retention: .seconds(86_400)), persistAll: true)
        let cutoff = F.base + Self.day  // the first day goes, the second and third stay
        let report = try pair.embedded.maintain(nowNano: cutoff + retention)
        #expect(report.partsExpired > 0)
        let dropped = try await pair.clickHouse.dropPartitions(olderThan: cutoff + Self.day / 2)  // the second day is not over: it stays
        #expect(dropped == ["20261120"])
        #expect(try await pair.clickHouse.dropPartitions(olderThan: cutoff).isEmpty)
        for tenant in F.tenants {
            try await expectParity(pair, tenant: tenant, searchesFinding: 15)
            let oldest = try await onOwnThread { try pair.clickHouse.spans(tenant: tenant, in: .all, limit: 100_000) }.last
            #expect((oldest?.startTimeUnixNano ?? 0) >= cutoff)
        }
        try await pair.remove()
    }

    @Test func fullBuffersAreInsertedWithoutWaitingForTheTimer() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-traces")
        let store = try await ClickHouseTraceStore(client: client, checkpointDirectory: directory.file("checkpoints"), maxBufferBytes: 4096)
        let batches = F.batches(tracesPerTenant: 10)
        for (batch, position) in batches { try store.apply(batch, at: position) }
        var found = 0
        for _ in 0..<100 where found == 0 {
            try await Task.sleep(for: .milliseconds(50))
            found = try await onOwnThread { try store.findTraces(TraceQuery(tenant: F.tenants[0], limit: 100)) }.count
        }
        #expect(found > 0)
        #expect(store.persistedSegment == -1)  // a flush claims no segment
        try await store.persist(throughSegment: batches.last?.1.segment ?? 0)
        #expect(try await onOwnThread { try store.findTraces(TraceQuery(tenant: F.tenants[0], limit: 100)) }.count == 10)
        try await cleanUp(client)
        directory.remove()
    }

    @Test func wrongBatchesAndEmptyRangesAreHandled() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-traces")
        let store = try await ClickHouseTraceStore(client: client, checkpointDirectory: directory.file("checkpoints"))
        let error = sightlineError { try store.apply(TenantBatch(tenant: F.tenants[0], batch: .logs([])), at: WALPosition(segment: 0, offset: 0)) }
        #expect(error?.code == .internal && error?.message.contains("traces store") == true)
        let empty = TimeRange(startNano: 0, endNano: 0)
        #expect(try await onOwnThread { try store.services(tenant: F.tenants[0], range: empty) }.isEmpty)
        #expect(try await onOwnThread { try store.findTraces(TraceQuery(tenant: F.tenants[0], range: empty)) }.isEmpty)
        #expect(try await onOwnThread { try store.dependencies(tenant: F.tenants[0], range: .all) }.isEmpty)
        try await cleanUp(client)
        directory.remove()
    }

    @Test func aClickHouseThatIsDownIsReportedAsUnavailable() async throws {
        let directory = try TemporaryDirectory(prefix: "sightline-ch-traces")
        // A store whose server went away: reads and persists fail as unavailable, nothing is claimed as persisted,
        // and applied rows stay buffered.
        let gone = try ClickHouseTraceStore(
            migratedClient: try ClickHouseClient(url: "http://127.0.0.1:9", database: "nowhere"), checkpointDirectory: directory.file("gone"))
        let (batch, position) = try #require(F.batches().first)
        try gone.apply(batch, at: position)
        let persistError = await #expect(throws: SightlineError.self) { try await gone.persist(throughSegment: position.segment) }
        #expect(persistError?.code == .unavailable)
        #expect(gone.persistedSegment == -1)
        for read in [
            { _ = try gone.services(tenant: F.tenants[0], range: .all) }, { _ = try gone.findTraces(TraceQuery(tenant: F.tenants[0])) },
            { _ = try gone.trace(tenant: F.tenants[0], id: TraceID(high: 1, low: 1)) }, { _ = try gone.dependencies(tenant: F.tenants[0], range: .all) },
        ] as [@Sendable () throws -> Void] {
            let error = try await onOwnThread { sightlineError(read) }
            #expect(error?.code == .unavailable && error?.message.contains("127.0.0.1:9") == true)
        }
        let nowhere = try ClickHouseClient(url: "http://127.0.0.1:9", database: "nowhere")
        let error = await #expect(throws: SightlineError.self) {
            _ = try await ClickHouseTraceStore(client: nowhere, checkpointDirectory: directory.file("checkpoints"))
        }
        #expect(error?.code == .unavailable && error?.message.contains("127.0.0.1:9") == true)
        directory.remove()
    }
}
