import SightlineCore
import SightlineTestSupport
import Testing
@testable import SightlineTraceStore

struct TraceSearchTests {
    typealias F = SpanFixtures

    /// Ten traces of two services, each with a server root and a client child, spread over three hours.
    static let spans: [Span] = (0..<10).flatMap { i -> [Span] in
        let start = F.base + UInt64(i) * 20 * 60 * F.second
        let service = i % 2 == 0 ? "frontend" : "checkout"
        let root = F.span(
            trace: UInt64(i + 1), span: 1, service: service, name: "GET /cart", kind: .server, start: start,
            duration: UInt64(i + 1) * 10_000_000, status: i == 3 ? .error : .ok,
            attributes: [Attribute("http.status_code", .int(i == 3 ? 500 : 200)), Attribute("customer", .string("c\(i % 3)"))],
            resource: [Attribute("deployment.environment", .string(i < 5 ? "prod" : "staging"))])
        let child = F.span(
            trace: UInt64(i + 1), span: 2, parent: 1, service: "db", name: "SELECT", kind: .client, start: start + 1000,
            duration: 1_000_000, attributes: [Attribute("db.system", .string("postgresql"))])
        return [root, child]
    }

    static func id(_ i: Int) -> TraceID { TraceID(high: 0xABCD, low: UInt64(i + 1)) }

    /// Runs `check` with the spans in the head, then in parts, then reopened from disk.
    func everywhere(_ check: (TraceStore) throws -> Void) throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        let store = try F.open(directory, options: TraceStoreOptions(blockSpans: 3, partitionDuration: .seconds(3600)))
        for (segment, pair) in stride(from: 0, to: Self.spans.count, by: 2).enumerated() {
            try store.apply(Array(Self.spans[pair..<pair + 2]), segment: segment)
        }
        try check(store)
        try store.persist(throughSegment: 4)
        try check(store)
        try store.persist(throughSegment: 9)
        try check(store)
        try check(F.open(directory, options: TraceStoreOptions(blockSpans: 3)))
    }

    /// The matching traces by number; a thrown error is recorded as an issue. (`#expect(try …)` does not compile
    /// inside the closures `everywhere` takes.)
    func find(_ store: TraceStore, _ query: TraceQuery) -> [Int] {
        attempt { try store.findTraces(query).map { Int($0.low) - 1 } } ?? []
    }

    func attempt<T>(_ body: () throws -> T) -> T? {
        do { return try body() } catch {
            Issue.record(error)
            return nil
        }
    }

    @Test func eachFilterAlone() throws {
        try everywhere { store in
            let q = { TraceQuery(tenant: F.tenant, limit: 100) }
            #expect(find(store, q()) == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
            var query = q()
            query.service = "checkout"
            #expect(find(store, query) == [9, 7, 5, 3, 1])
            query = q()
            query.service = "db"
            query.operation = "GET /cart"
            #expect(find(store, query).isEmpty)
            query = q()
            query.operation = "SELECT"
            #expect(find(store, query).count == 10)
            query = q()
            query.kind = .server
            #expect(find(store, query).count == 10)
            query.kind = .producer
            #expect(find(store, query).isEmpty)
            query = q()
            query.tags = [TagCondition("http.status_code", "500")]
            #expect(find(store, query) == [3])
            query.tags = [TagCondition("error", "true")]
            #expect(find(store, query) == [3])
            query.tags = [TagCondition("deployment.environment", "staging")]
            #expect(find(store, query) == [9, 8, 7, 6, 5])
            query.tags = [TagCondition("span.kind", "client"), TagCondition("db.system", "postgresql")]
            #expect(find(store, query).count == 10)
            query.tags = [TagCondition("otel.status_code", "OK")]
            #expect(find(store, query).count == 9)
            query.tags = [TagCondition("customer", "nobody")]
            #expect(find(store, query).isEmpty)
            query = q()
            query.minDurationNano = 80_000_000
            #expect(find(store, query) == [9, 8, 7])
            query = q()
            query.maxDurationNano = 20_000_000
            query.kind = .server
            #expect(find(store, query) == [1, 0])
            query = q()
            query.status = .error
            #expect(find(store, query) == [3])
            query = q()
            query.range = TimeRange(startNano: F.base + 40 * 60 * F.second, endNano: F.base + 100 * 60 * F.second)
            #expect(find(store, query) == [4, 3, 2])
        }
    }

    @Test func filtersCombineOnOneSpanAndLimitKeepsTheNewest() throws {
        try everywhere { store in
            var query = TraceQuery(tenant: F.tenant, service: "frontend", kind: .server, tags: [TagCondition("customer", "c0")], limit: 100)
            #expect(find(store, query) == [6, 0])
            // db.system is on the child, customer on the root: no single span has both.
            query.tags.append(TagCondition("db.system", "postgresql"))
            #expect(find(store, query).isEmpty)
            query = TraceQuery(tenant: F.tenant, minDurationNano: 30_000_000, maxDurationNano: 60_000_000, limit: 2)
            #expect(find(store, query) == [5, 4])
            query = TraceQuery(tenant: F.tenant, limit: 3)
            #expect(find(store, query) == [9, 8, 7])
            query.limit = 0
            #expect(find(store, query).isEmpty)
        }
    }

    @Test func everyMatchingSpanIsScannedOnce() throws {
        let queries = [
            TraceQuery(tenant: F.tenant),
            TraceQuery(tenant: F.tenant, service: "frontend", kind: .server),
            TraceQuery(tenant: F.tenant, tags: [TagCondition("db.system", "postgresql")]),
            TraceQuery(tenant: F.tenant, minDurationNano: 30_000_000, status: .ok, range: TimeRange(startNano: F.base, endNano: F.base + 3600 * F.second)),
            TraceQuery(tenant: F.other),
        ] + [TraceQuery(tenant: F.tenant), TraceQuery(tenant: F.tenant, service: "db")].map {
            var roots = $0
            roots.rootSpans = true
            return roots
        }
        let key = { (span: Span) in "\(span.traceID) \(span.spanID)" }
        try everywhere { store in
            for query in queries {
                var scanned: [Span] = []
                _ = attempt { try store.forEachSpan(matching: query) { scanned.append($0) } }
                #expect(scanned.map(key).sorted() == Self.spans.filter { query.matches($0) && query.tenant == F.tenant }.map(key).sorted(), "\(query)")
            }
            var bare = TraceQuery(tenant: F.tenant, service: "frontend")
            bare.spanDetails = false
            var spans: [Span] = []
            _ = attempt { try store.forEachSpan(matching: bare) { spans.append($0) } }
            let full = Self.spans.filter { bare.matches($0) }
            #expect(spans.map(key).sorted() == full.map(key).sorted())
            #expect(spans.allSatisfy { span in
                span.name == "GET /cart" && span.kind == .server && span.parentSpanID == nil && span.serviceName == "frontend"
                    && full.contains { $0.spanID == span.spanID && $0.traceID == span.traceID && $0.durationNano == span.durationNano && $0.statusCode == span.statusCode }
            })
            var odd = TraceQuery(tenant: F.tenant)
            odd.predicate = SpanPredicate("odd traces") { $0.traceID.low % 2 == 1 }
            var scanned: [Span] = []
            _ = attempt { try store.forEachSpan(matching: odd) { scanned.append($0) } }
            #expect(scanned.count == 10 && scanned.allSatisfy { $0.traceID.low % 2 == 1 })
        }
    }

    @Test func servicesOperationsAndDependencies() throws {
        try everywhere { store in
            #expect(attempt { try store.services(tenant: F.tenant, range: .all) } == ["checkout", "db", "frontend"])
            #expect(attempt { try store.services(tenant: F.other, range: .all) } == [])
            #expect(attempt { try store.operations(tenant: F.tenant, service: "db", kind: nil, range: .all) } == [TraceOperation(name: "SELECT", kind: .client)])
            #expect(attempt { try store.operations(tenant: F.tenant, service: "db", kind: .server, range: .all) } == [])
            #expect(attempt { try store.dependencies(tenant: F.tenant, range: .all) } == [
                DependencyLink(parent: "checkout", child: "db", callCount: 5), DependencyLink(parent: "frontend", child: "db", callCount: 5),
            ])
            #expect(attempt { try store.spans(tenant: F.tenant, in: .all, limit: 3).map(\.traceID) } == [Self.id(9), Self.id(9), Self.id(8)])
        }
        #expect(DependencyLink.compute(Self.spans).map(\.callCount) == [5, 5])
    }
}
