import Foundation
import Instrumentation
package import SightlineCore
import Synchronization
package import Tracing

/// Sightline tracing itself: a swift-distributed-tracing `Tracer` whose finished spans become Sightline spans, which a
/// periodic service stores in Sightline's own trace store (see ``drain()``).
///
/// Context travels as W3C Trace Context: ``extract(_:into:using:)`` reads an incoming `traceparent`, so a request
/// sent by a traced client continues the client's trace; ``inject(_:into:using:)`` writes one. Spans that have no
/// parent start a new trace with random ids. Every span is recorded (no sampling): the spans of the server's own
/// requests are few next to the data it ingests.
package final class SelfTracer: Tracer {
    package typealias Span = SelfSpan

    /// The attributes every span's resource carries (`service.name` = `sightline`, the version, the host).
    let resource: [Attribute]
    private let finished = Mutex<[SightlineCore.Span]>([])
    /// Finished spans kept at most; older ones are dropped (and counted) when nobody drains them.
    let capacity: Int
    private let droppedCount = Atomic<Int>(0)

    package init(resource: [Attribute], capacity: Int = 100_000) {
        self.resource = resource
        self.capacity = capacity
    }

    /// The spans finished since the last call, oldest first, and how many were dropped because the buffer was full.
    package func drain() -> (spans: [SightlineCore.Span], dropped: Int) {
        let spans = finished.withLock { spans in
            defer { spans = [] }
            return spans
        }
        return (spans, droppedCount.exchange(0, ordering: .relaxed))
    }

    func finish(_ span: SightlineCore.Span) {
        let kept = finished.withLock { spans -> Bool in
            guard spans.count < capacity else { return false }
            spans.append(span)
            return true
        }
        if !kept { droppedCount.add(1, ordering: .relaxed) }
    }

    // MARK: Tracer

    package func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> SelfSpan {
        var context = context()
        let parent = context[TraceParentKey.self]
        var generator = SystemRandomNumberGenerator()
        let traceID = parent?.traceID ?? TraceID(high: generator.next(), low: generator.next() | 1)
        let spanID = SpanID(generator.next() | 1)
        context[TraceParentKey.self] = TraceParent(traceID: traceID, spanID: spanID, flags: parent?.flags ?? 1)
        return SelfSpan(
            tracer: self, context: context, traceID: traceID, spanID: spanID, parentSpanID: parent?.spanID, name: operationName,
            kind: kind, startNano: instant().nanosecondsSinceEpoch)
    }

    package func startAnySpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> any Tracing.Span {
        startSpan(operationName, context: context(), ofKind: kind, at: instant(), function: function, file: fileID, line: line)
    }

    package func forceFlush() {}

    package func extract<Carrier, Extract>(_ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract)
    where Extract: Extractor, Carrier == Extract.Carrier {
        if let header = extractor.extract(key: "traceparent", from: carrier), let parent = TraceParent(header: header) {
            context[TraceParentKey.self] = parent
        }
    }

    package func inject<Carrier, Inject>(_ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject)
    where Inject: Injector, Carrier == Inject.Carrier {
        if let parent = context[TraceParentKey.self] { injector.inject(parent.header, forKey: "traceparent", into: &carrier) }
    }
}

/// The W3C `traceparent` of a context: `00-<trace id>-<parent span id>-<flags>`.
package struct TraceParent: Sendable, Hashable {
    package var traceID: TraceID
    package var spanID: SpanID
    package var flags: UInt8

    /// Parses version 00 (and, as the specification asks, later versions' first four fields); nil when malformed or
    /// when an id is all zeros.
    package init?(header: String) {
        let parts = header.trimmingCharacters(in: .whitespaces).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", let version = UInt8(parts[0], radix: 16),
            version != 0 || parts.count == 4, parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
            let traceID = TraceID(hex: parts[1].lowercased()), let spanID = SpanID(hex: parts[2].lowercased()),
            let flags = UInt8(parts[3], radix: 16), traceID != TraceID(high: 0, low: 0), spanID != SpanID(0)
        else { return nil }
        self.init(traceID: traceID, spanID: spanID, flags: flags)
    }

    package init(traceID: TraceID, spanID: SpanID, flags: UInt8) {
        self.traceID = traceID
        self.spanID = spanID
        self.flags = flags
    }

    package var header: String {
        "00-\(traceID)-\(spanID)-" + (flags < 16 ? "0" : "") + String(flags, radix: 16)
    }
}

/// Where a context keeps its ``TraceParent``.
enum TraceParentKey: InstrumentationContextKey {
    typealias Value = TraceParent
}

/// A span of ``SelfTracer``; becomes a Sightline span when it ends.
package final class SelfSpan: Tracing.Span {
    package let context: InstrumentationContext
    private let tracer: SelfTracer
    private let traceID: TraceID
    private let spanID: SpanID
    private let parentSpanID: SpanID?
    private let kind: SpanKind
    private let startNano: UInt64
    private let state: Mutex<State>

    private struct State {
        var name: String
        var attributes = SpanAttributes()
        var status: SpanStatus?
        var events: [SpanEvent] = []
        var links: [SpanLink] = []
        var ended = false
    }

    init(
        tracer: SelfTracer, context: InstrumentationContext, traceID: TraceID, spanID: SpanID, parentSpanID: SpanID?, name: String,
        kind: SpanKind, startNano: UInt64
    ) {
        self.tracer = tracer
        self.context = context
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.kind = kind
        self.startNano = startNano
        self.state = Mutex(State(name: name))
    }

    package var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    package var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { $0.attributes = newValue } }
    }

    package var isRecording: Bool { state.withLock { !$0.ended } }

    package func setStatus(_ status: SpanStatus) { state.withLock { $0.status = status } }

    package func addEvent(_ event: SpanEvent) { state.withLock { $0.events.append(event) } }

    package func addLink(_ link: SpanLink) { state.withLock { $0.links.append(link) } }

    package func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        var eventAttributes = attributes
        eventAttributes["exception.type"] = "\(type(of: error))"
        eventAttributes["exception.message"] = "\(error)"
        addEvent(SpanEvent(name: "exception", at: instant(), attributes: eventAttributes))
    }

    package func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let endNano = instant().nanosecondsSinceEpoch
        guard let state = state.withLock({ state -> State? in
            guard !state.ended else { return nil }
            state.ended = true
            return state
        }) else { return }
        tracer.finish(
            SightlineCore.Span(
                traceID: traceID, spanID: spanID, parentSpanID: parentSpanID, name: state.name, kind: Self.kind(kind),
                startTimeUnixNano: startNano, endTimeUnixNano: max(endNano, startNano), attributes: Self.attributes(state.attributes),
                events: state.events.map { event in
                    SightlineCore.Span.Event(timeUnixNano: event.nanosecondsSinceEpoch, name: event.name, attributes: Self.attributes(event.attributes))
                },
                links: state.links.compactMap { link in
                    link.context[TraceParentKey.self].map { parent in
                        SightlineCore.Span.Link(traceID: parent.traceID, spanID: parent.spanID, attributes: Self.attributes(link.attributes))
                    }
                },
                statusCode: state.status.map { $0.code == .ok ? .ok : .error } ?? .unset, statusMessage: state.status?.message ?? "",
                resource: tracer.resource, scope: InstrumentationScope(name: "sightline")))
    }

    private static func kind(_ kind: SpanKind) -> SightlineCore.Span.Kind {
        switch kind {
        case .server: .server
        case .client: .client
        case .producer: .producer
        case .consumer: .consumer
        case .internal: .internal
        }
    }

    /// swift-distributed-tracing attributes as OpenTelemetry ones.
    private static func attributes(_ attributes: SpanAttributes) -> [Attribute] {
        var out: [Attribute] = []
        attributes.forEach { key, value in
            let converted: AttributeValue
            switch value {
            case .int32(let v): converted = .int(Int64(v))
            case .int64(let v): converted = .int(v)
            case .double(let v): converted = .double(v)
            case .bool(let v): converted = .bool(v)
            case .string(let v): converted = .string(v)
            case .int32Array(let v): converted = .array(v.map { .int(Int64($0)) })
            case .int64Array(let v): converted = .array(v.map { .int($0) })
            case .doubleArray(let v): converted = .array(v.map { .double($0) })
            case .boolArray(let v): converted = .array(v.map { .bool($0) })
            case .stringArray(let v): converted = .array(v.map { .string($0) })
            case .stringConvertible(let v): converted = .string(v.description)
            case .stringConvertibleArray(let v): converted = .array(v.map { .string($0.description) })
            @unknown default: converted = .string("\(value)")
            }
            out.append(Attribute(key, converted))
        }
        return out.sorted { $0.key < $1.key }
    }
}

extension SelfTracer {
    /// `service.name` = `sightline`, the host name and the process id, as an OpenTelemetry resource.
    package static func defaultResource() -> [Attribute] {
        [
            Attribute("service.name", .string("sightline")),
            Attribute("host.name", .string(ProcessInfo.processInfo.hostName)),
            Attribute("process.pid", .int(Int64(ProcessInfo.processInfo.processIdentifier))),
        ]
    }
}
