import Logging
import SightlineCore
import SightlineTestSupport
@testable import SightlineTraceStore

/// Spans and stores for the trace store tests.
enum SpanFixtures {
    static let hour: UInt64 = 3_600_000_000_000
    static let second: UInt64 = 1_000_000_000
    /// 2026-01-01T00:00:00Z.
    static let base: UInt64 = 1_767_225_600 * second
    static let tenant = Tenant(uncheckedID: "acme")
    static let other = Tenant(uncheckedID: "globex")

    /// A span of `service` with readable defaults.
    static func span(
        trace: UInt64, span: UInt64, parent: UInt64? = nil, service: String = "api", name: String = "GET /", kind: Span.Kind = .server,
        start: UInt64, duration: UInt64 = 1_000_000, status: Span.StatusCode = .unset, attributes: [Attribute] = [],
        resource: [Attribute] = []
    ) -> Span {
        Span(
            traceID: TraceID(high: 0xABCD, low: trace), spanID: SpanID(span), parentSpanID: parent.map(SpanID.init), name: name, kind: kind,
            startTimeUnixNano: start, endTimeUnixNano: start + duration, attributes: attributes, statusCode: status,
            resource: [Attribute("service.name", .string(service))] + resource, scope: InstrumentationScope(name: "tests", version: "1.0"))
    }

    /// A span with every field set, nested values included.
    static func fullSpan(start: UInt64) -> Span {
        Span(
            traceID: TraceID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210), spanID: SpanID(0x1111_2222_3333_4444),
            parentSpanID: SpanID(0x5555_6666_7777_8888), traceState: "vendor=a,other=b", flags: 0x301, name: "SELECT orders",
            kind: .client, startTimeUnixNano: start, endTimeUnixNano: start + 42_000_123,
            attributes: [
                Attribute("db.system", .string("postgresql")), Attribute("retry", .bool(true)), Attribute("rows", .int(-17)),
                Attribute("ratio", .double(0.25)), Attribute("blob", .bytes([0, 1, 255])), Attribute("none", .empty),
                Attribute("list", .array([.int(1), .string("two"), .array([.bool(false)])])),
                Attribute("map", .keyValueList([Attribute("inner", .double(-1.5e300))])),
            ],
            droppedAttributesCount: 3,
            events: [
                Span.Event(timeUnixNano: start + 5, name: "exception", attributes: [Attribute("exception.message", .string("boom"))], droppedAttributesCount: 1),
                Span.Event(timeUnixNano: start + 6, name: "retry"),
            ],
            droppedEventsCount: 2,
            links: [
                Span.Link(
                    traceID: TraceID(high: 9, low: 10), spanID: SpanID(11), traceState: "k=v", attributes: [Attribute("link", .string("yes"))],
                    droppedAttributesCount: 4, flags: 1)
            ],
            droppedLinksCount: 5, statusCode: .error, statusMessage: "connection reset",
            resource: [Attribute("service.name", .string("billing")), Attribute("host.name", .string("db-1"))],
            scope: InstrumentationScope(name: "io.opentelemetry.jdbc", version: "2.1", attributes: [Attribute("scope.attr", .int(7))]))
    }

    static func batch(_ spans: [Span], tenant: Tenant = tenant) -> TenantBatch {
        TenantBatch(tenant: tenant, batch: .traces(spans))
    }

    static func open(_ directory: TemporaryDirectory, options: TraceStoreOptions = TraceStoreOptions()) throws -> TraceStore {
        try TraceStore(directory: directory.path, options: options, logger: Logger(label: "tests"))
    }
}

extension TraceStore {
    /// Applies `spans` at `segment`.
    func apply(_ spans: [Span], segment: Int, tenant: Tenant = SpanFixtures.tenant) throws {
        try apply(SpanFixtures.batch(spans, tenant: tenant), at: WALPosition(segment: segment, offset: 0))
    }
}
