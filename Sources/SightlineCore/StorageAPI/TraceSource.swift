/// A span name and kind as a trace search lists them: what Jaeger's `/api/operations` returns for a service.
package struct TraceOperation: Hashable, Sendable, Comparable {
    package var name: String
    package var kind: Span.Kind

    package init(name: String, kind: Span.Kind) {
        self.name = name
        self.kind = kind
    }

    package static func < (lhs: TraceOperation, rhs: TraceOperation) -> Bool {
        (lhs.name, lhs.kind.rawValue) < (rhs.name, rhs.kind.rawValue)
    }
}

/// One condition of a trace search: a tag (attribute) that must have a value, compared as text.
///
/// The key is looked up, in this order, among the span's attributes, its resource attributes, and the tags Jaeger
/// derives from OpenTelemetry span fields (``Span/derivedTagText(_:)``): `span.kind`, `error`, `otel.status_code`,
/// `otel.status_description`, `otel.scope.name`, `otel.scope.version`. Values compare by ``AttributeValue/text``, so
/// `http.status_code=500` matches the integer attribute 500 and `error=true` matches a span with status error.
package struct TagCondition: Hashable, Sendable {
    package var key: String
    package var value: String

    package init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// A condition on one span beyond what ``TraceQuery``'s fields say (a TraceQL filter), named by its text so that
/// queries stay comparable. A store that cannot evaluate it may ignore it: callers check what comes back.
package struct SpanPredicate: Hashable, Sendable {
    /// What the predicate tests, in the query language it came from; equal texts test the same.
    package let text: String
    let test: @Sendable (Span) -> Bool

    package init(_ text: String, _ test: @escaping @Sendable (Span) -> Bool) {
        self.text = text
        self.test = test
    }

    package func callAsFunction(_ span: Span) -> Bool { test(span) }

    package static func == (a: SpanPredicate, b: SpanPredicate) -> Bool { a.text == b.text }
    package func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

/// What a trace search asks for: every condition must hold for one and the same span of a trace.
///
/// Jaeger's `/api/traces?service=…&operation=…&tags=…&minDuration=…&start=…&end=…&limit=…` maps onto it one to one.
package struct TraceQuery: Hashable, Sendable {
    package var tenant: Tenant
    /// The `service.name` resource attribute of the span.
    package var service: String?
    /// The span name.
    package var operation: String?
    package var kind: Span.Kind?
    /// Tag conditions; all must hold on the same span.
    package var tags: [TagCondition]
    /// Bounds on the span's duration (`end - start`) in nanoseconds, inclusive.
    package var minDurationNano: UInt64?
    package var maxDurationNano: UInt64?
    package var status: Span.StatusCode?
    /// Only root spans: those without a parent span id (``Span/isRoot``).
    package var rootSpans = false
    /// The span's start time must fall in the range.
    package var range: TimeRange
    /// At most this many trace ids are returned.
    package var limit: Int
    /// A further condition on the span; stores that cannot evaluate it return a superset.
    package var predicate: SpanPredicate?
    /// False when the caller, and the predicate, read none of a span's details: its attributes, events, links, status
    /// message, trace state and instrumentation scope. ``TraceSource/forEachSpan(matching:_:)`` may then hand out spans without them (the
    /// embedded store skips decoding them: most of a scan's cost).
    package var spanDetails = true

    package init(
        tenant: Tenant, service: String? = nil, operation: String? = nil, kind: Span.Kind? = nil, tags: [TagCondition] = [],
        minDurationNano: UInt64? = nil, maxDurationNano: UInt64? = nil, status: Span.StatusCode? = nil,
        range: TimeRange = .all, limit: Int = 20
    ) {
        self.tenant = tenant
        self.service = service
        self.operation = operation
        self.kind = kind
        self.tags = tags
        self.minDurationNano = minDurationNano
        self.maxDurationNano = maxDurationNano
        self.status = status
        self.range = range
        self.limit = limit
    }

    /// Whether `span` satisfies every condition. Stores may skip data by their indexes first, but this is the
    /// definition every implementation must agree with.
    package func matches(_ span: Span) -> Bool {
        guard range.contains(span.startTimeUnixNano) else { return false }
        if let operation, span.name != operation { return false }
        if let kind, span.kind != kind { return false }
        if let status, span.statusCode != status { return false }
        if rootSpans && !span.isRoot { return false }
        let duration = span.durationNano
        if let minDurationNano, duration < minDurationNano { return false }
        if let maxDurationNano, duration > maxDurationNano { return false }
        if let service, span.serviceName != service { return false }
        return tags.allSatisfy { span.hasTag($0) } && (predicate.map { $0(span) } ?? true)
    }
}

/// A caller → callee edge between two services, as Jaeger's `/api/dependencies` lists them.
package struct DependencyLink: Hashable, Sendable, Comparable {
    package var parent: String
    package var child: String
    package var callCount: Int

    package init(parent: String, child: String, callCount: Int) {
        self.parent = parent
        self.child = child
        self.callCount = callCount
    }

    package static func < (lhs: DependencyLink, rhs: DependencyLink) -> Bool { (lhs.parent, lhs.child) < (rhs.parent, rhs.child) }

    /// The edges between services in `spans`: one call for every span whose parent span (same trace) belongs to
    /// another service. Spans whose parent is missing add nothing. Sorted by parent, then child.
    package static func compute(_ spans: some Sequence<Span>) -> [DependencyLink] {
        var services: [SpanKey: String] = [:]
        var parents: [(key: SpanKey, service: String)] = []
        for span in spans {
            let service = span.serviceName
            services[SpanKey(trace: span.traceID, span: span.spanID)] = service
            if let parent = span.parentSpanID, !parent.isZero {
                parents.append((SpanKey(trace: span.traceID, span: parent), service))
            }
        }
        return count(parents.compactMap { edge in services[edge.key].map { ($0, edge.service) } })
    }

    /// Counts (parent service, child service) pairs that differ, as sorted links.
    package static func count(_ pairs: some Sequence<(String, String)>) -> [DependencyLink] {
        var counts: [String: [String: Int]] = [:]
        for (parent, child) in pairs where parent != child {
            counts[parent, default: [:]][child, default: 0] += 1
        }
        return counts.flatMap { parent, children in children.map { DependencyLink(parent: parent, child: $0.key, callCount: $0.value) } }.sorted()
    }

    /// A span's identity within the store: trace id and span id.
    private struct SpanKey: Hashable {
        var trace: TraceID
        var span: SpanID
    }
}

/// The read side of a trace store beyond single traces: what Jaeger's query API and Grafana's Jaeger data source ask.
///
/// The embedded trace engine implements it and so will the ClickHouse backend, so it hands out values, never files.
///
/// ```swift
/// let ids = try source.findTraces(TraceQuery(tenant: tenant, service: "api", tags: [TagCondition("error", "true")]))
/// let traces = try ids.map { try source.trace(tenant: tenant, id: $0) }
/// ```
package protocol TraceSource: SpanQuerier {
    /// The sorted service names (`service.name` resource attribute; ``Span/unknownService`` when absent) of spans of
    /// `tenant` that start in `range`.
    func services(tenant: Tenant, range: TimeRange) throws -> [String]

    /// The sorted operations (span name and kind) of `service`, only those of `kind` when it is given.
    func operations(tenant: Tenant, service: String, kind: Span.Kind?, range: TimeRange) throws -> [TraceOperation]

    /// The ids of traces with at least one span matching `query` (``TraceQuery/matches(_:)``), newest first by the
    /// start of their newest matching span, at most `query.limit`.
    func findTraces(_ query: TraceQuery) throws -> [TraceID]

    /// Calls `visit` with every span matching `query` (``TraceQuery/matches(_:)``, its predicate included), in no set
    /// order; `query.limit` does not apply. What TraceQL metrics read.
    func forEachSpan(matching query: TraceQuery, _ visit: (Span) throws -> Void) throws

    /// Caller → callee edges between services of spans of `tenant` that start in `range`.
    func dependencies(tenant: Tenant, range: TimeRange) throws -> [DependencyLink]
}

extension Span {
    /// The service a span without `service.name` belongs to, as the OpenTelemetry SDKs name it.
    package static let unknownService = "unknown_service"

    /// The `service.name` resource attribute as text, or ``unknownService``.
    package var serviceName: String {
        for attribute in resource where attribute.key == "service.name" { return attribute.value.text }
        return Self.unknownService
    }

    /// Whether the span has no parent span id: a root of its trace (Tempo's `nestedSetParent < 0`).
    package var isRoot: Bool { parentSpanID.map(\.isZero) ?? true }

    /// `end - start` in nanoseconds; 0 when the end precedes the start.
    package var durationNano: UInt64 { endTimeUnixNano >= startTimeUnixNano ? endTimeUnixNano - startTimeUnixNano : 0 }

    /// Whether the span has the tag of `condition`: as an attribute, a resource attribute, or a derived tag.
    package func hasTag(_ condition: TagCondition) -> Bool {
        for attribute in attributes where attribute.key == condition.key && attribute.value.text == condition.value { return true }
        for attribute in resource where attribute.key == condition.key && attribute.value.text == condition.value { return true }
        return derivedTagText(condition.key) == condition.value
    }

    /// The value of a tag Jaeger shows for an OpenTelemetry span field, or nil when the span has none under `key`:
    /// `span.kind` (`server`, `client`, …; nil when unspecified), `error` (`true` when the status is error),
    /// `otel.status_code` (`OK`/`ERROR`; nil when unset), `otel.status_description`, `otel.scope.name`,
    /// `otel.scope.version`.
    package func derivedTagText(_ key: String) -> String? {
        switch key {
        case "span.kind": kind.jaegerName
        case "error": statusCode == .error ? "true" : nil
        case "otel.status_code": statusCode.jaegerName
        case "otel.status_description": statusCode == .error && !statusMessage.isEmpty ? statusMessage : nil
        case "otel.scope.name": scope.name.isEmpty ? nil : scope.name
        case "otel.scope.version": scope.version.isEmpty ? nil : scope.version
        default: nil
        }
    }
}

extension Span.Kind {
    /// The lower-case name Jaeger uses (`server`, `client`, `producer`, `consumer`, `internal`); nil for unspecified.
    package var jaegerName: String? {
        switch self {
        case .unspecified: nil
        case .internal: "internal"
        case .server: "server"
        case .client: "client"
        case .producer: "producer"
        case .consumer: "consumer"
        }
    }

    /// Parses a Jaeger kind name, case-insensitively; `unspecified` for the empty string.
    package init?(jaegerName: String) {
        switch jaegerName.lowercased() {
        case "": self = .unspecified
        case "internal": self = .internal
        case "server": self = .server
        case "client": self = .client
        case "producer": self = .producer
        case "consumer": self = .consumer
        default: return nil
        }
    }
}

extension Span.StatusCode {
    /// `OK` or `ERROR` as Jaeger shows `otel.status_code`; nil when unset.
    package var jaegerName: String? {
        switch self {
        case .unset: nil
        case .ok: "OK"
        case .error: "ERROR"
        }
    }
}
