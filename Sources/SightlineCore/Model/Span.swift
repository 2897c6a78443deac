/// One span in the OpenTelemetry trace model, with its resource and scope inline.
package struct Span: Hashable, Sendable {
    /// Span kinds, numbered as in OTLP.
    package enum Kind: Int32, Sendable {
        case unspecified = 0, `internal` = 1, server = 2, client = 3, producer = 4, consumer = 5
    }

    /// Status codes, numbered as in OTLP.
    package enum StatusCode: Int32, Sendable {
        case unset = 0, ok = 1, error = 2
    }

    /// Something that happened at one moment during the span.
    package struct Event: Hashable, Sendable {
        package var timeUnixNano: UInt64
        package var name: String
        package var attributes: [Attribute]
        package var droppedAttributesCount: UInt32

        package init(timeUnixNano: UInt64, name: String, attributes: [Attribute] = [], droppedAttributesCount: UInt32 = 0) {
            self.timeUnixNano = timeUnixNano
            self.name = name
            self.attributes = attributes
            self.droppedAttributesCount = droppedAttributesCount
        }
    }

    /// A reference to a span of the same or another trace.
    package struct Link: Hashable, Sendable {
        package var traceID: TraceID
        package var spanID: SpanID
        package var traceState: String
        package var attributes: [Attribute]
        package var droppedAttributesCount: UInt32
        package var flags: UInt32

        package init(
            traceID: TraceID, spanID: SpanID, traceState: String = "", attributes: [Attribute] = [],
            droppedAttributesCount: UInt32 = 0, flags: UInt32 = 0
        ) {
            self.traceID = traceID
            self.spanID = spanID
            self.traceState = traceState
            self.attributes = attributes
            self.droppedAttributesCount = droppedAttributesCount
            self.flags = flags
        }
    }

    package var traceID: TraceID
    package var spanID: SpanID
    package var parentSpanID: SpanID?
    package var traceState: String
    package var flags: UInt32
    package var name: String
    package var kind: Kind
    package var startTimeUnixNano: UInt64
    package var endTimeUnixNano: UInt64
    package var attributes: [Attribute]
    package var droppedAttributesCount: UInt32
    package var events: [Event]
    package var droppedEventsCount: UInt32
    package var links: [Link]
    package var droppedLinksCount: UInt32
    package var statusCode: StatusCode
    package var statusMessage: String
    package var resource: [Attribute]
    package var scope: InstrumentationScope

    package init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID? = nil, traceState: String = "", flags: UInt32 = 0,
        name: String, kind: Kind = .unspecified, startTimeUnixNano: UInt64, endTimeUnixNano: UInt64,
        attributes: [Attribute] = [], droppedAttributesCount: UInt32 = 0, events: [Event] = [], droppedEventsCount: UInt32 = 0,
        links: [Link] = [], droppedLinksCount: UInt32 = 0, statusCode: StatusCode = .unset, statusMessage: String = "",
        resource: [Attribute] = [], scope: InstrumentationScope = InstrumentationScope()
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.traceState = traceState
        self.flags = flags
        self.name = name
        self.kind = kind
        self.startTimeUnixNano = startTimeUnixNano
        self.endTimeUnixNano = endTimeUnixNano
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
        self.events = events
        self.droppedEventsCount = droppedEventsCount
        self.links = links
        self.droppedLinksCount = droppedLinksCount
        self.statusCode = statusCode
        self.statusMessage = statusMessage
        self.resource = resource
        self.scope = scope
    }
}
