/// One log record in the OpenTelemetry log model, with its resource and scope inline.
package struct LogRecord: Hashable, Sendable {
    /// When the event happened, in ns since the epoch; 0 when unknown.
    package var timeUnixNano: UInt64
    /// When a collector first saw it, in ns since the epoch; 0 when unknown.
    package var observedTimeUnixNano: UInt64
    /// 0 (unspecified) to 24 (fatal4), as OpenTelemetry numbers severities.
    package var severityNumber: Int32
    package var severityText: String
    package var body: AttributeValue
    package var attributes: [Attribute]
    package var droppedAttributesCount: UInt32
    package var flags: UInt32
    package var traceID: TraceID?
    package var spanID: SpanID?
    package var eventName: String
    package var resource: [Attribute]
    package var scope: InstrumentationScope
    /// The labels of the stream the sender put the record in (Loki's stream labels, an Elasticsearch index); empty
    /// when the protocol has none and the store derives the stream from the resource.
    package var stream: Labels

    package init(
        timeUnixNano: UInt64 = 0, observedTimeUnixNano: UInt64 = 0, severityNumber: Int32 = 0, severityText: String = "",
        body: AttributeValue = .empty, attributes: [Attribute] = [], droppedAttributesCount: UInt32 = 0, flags: UInt32 = 0,
        traceID: TraceID? = nil, spanID: SpanID? = nil, eventName: String = "", resource: [Attribute] = [],
        scope: InstrumentationScope = InstrumentationScope(), stream: Labels = Labels([])
    ) {
        self.timeUnixNano = timeUnixNano
        self.observedTimeUnixNano = observedTimeUnixNano
        self.severityNumber = severityNumber
        self.severityText = severityText
        self.body = body
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
        self.flags = flags
        self.traceID = traceID
        self.spanID = spanID
        self.eventName = eventName
        self.resource = resource
        self.scope = scope
        self.stream = stream
    }
}
