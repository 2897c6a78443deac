import SightlineCore

extension OTLPJSONDecoder {
    /// `Span.SpanKind` names, indexed by value.
    static let spanKindNames = [
        "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER",
        "SPAN_KIND_CONSUMER",
    ]
    /// `Status.StatusCode` names, indexed by value.
    static let statusCodeNames = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"]

    /// Decodes an OTLP/JSON `ExportTraceServiceRequest`. Spans without valid ids are rejected, not the request.
    static func decodeTraces(_ buffer: UnsafeRawBufferPointer) throws -> DecodedBatch {
        try decodeRecords(
            buffer, ("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), ("spans", nil), as: SignalBatch.traces
        ) { try span($0, resource: $1, scope: $2) }
    }

    private static func span(
        _ object: JSONObject, resource: [Attribute], scope: InstrumentationScope
    ) throws -> Result<Span, OTLPIDs.IDError> {
        do {
            return try spanOrIDError(object, resource: resource, scope: scope)
        } catch let error as OTLPIDs.IDError {
            return .failure(error)
        }
    }

    /// Decodes a span; throws ``OTLPIDs/IDError`` for an id string that is not hex.
    private static func spanOrIDError(
        _ object: JSONObject, resource: [Attribute], scope: InstrumentationScope
    ) throws -> Result<Span, OTLPIDs.IDError> {
        let traceID = try idBytes(object, "traceId", "trace_id", length: 16)
        let spanID = try idBytes(object, "spanId", "span_id", length: 8)
        let parentSpanID = try idBytes(object, "parentSpanId", "parent_span_id", length: 8)
        var span = Span(
            traceID: TraceID(high: 0, low: 0), spanID: SpanID(0),
            traceState: try string(object, "traceState", "trace_state"),
            flags: try uint32(object, "flags"),
            name: try string(object, "name"),
            kind: Span.Kind(otlp: try enumValue(object, "kind", names: spanKindNames)),
            startTimeUnixNano: try uint64(object, "startTimeUnixNano", "start_time_unix_nano"),
            endTimeUnixNano: try uint64(object, "endTimeUnixNano", "end_time_unix_nano"),
            attributes: try attributes(object),
            droppedAttributesCount: try uint32(object, "droppedAttributesCount", "dropped_attributes_count"),
            droppedEventsCount: try uint32(object, "droppedEventsCount", "dropped_events_count"),
            droppedLinksCount: try uint32(object, "droppedLinksCount", "dropped_links_count"),
            resource: resource, scope: scope)
        try forEach(object, "events") { event, _ in
            span.events.append(
                Span.Event(
                    timeUnixNano: try uint64(event, "timeUnixNano", "time_unix_nano"), name: try string(event, "name"),
                    attributes: try attributes(event),
                    droppedAttributesCount: try uint32(event, "droppedAttributesCount", "dropped_attributes_count")))
        }
        if let status = try decode(object, "status", nil, { try self.object($0) }) {
            try withFieldPath(".status") {
                span.statusMessage = try string(status, "message")
                span.statusCode = Span.StatusCode(otlp: try enumValue(status, "code", names: statusCodeNames))
            }
        }
        var links: [Result<Span.Link, OTLPIDs.IDError>] = []
        try forEach(object, "links") { link, index in
            let linkTraceID = try idBytes(link, "traceId", "trace_id", length: 16)
            let linkSpanID = try idBytes(link, "spanId", "span_id", length: 8)
            let traceState = try string(link, "traceState", "trace_state")
            let attributes = try attributes(link)
            let dropped = try uint32(link, "droppedAttributesCount", "dropped_attributes_count")
            let flags = try uint32(link, "flags")
            links.append(
                OTLPIDs.completeLink(
                    Span.Link(
                        traceID: TraceID(high: 0, low: 0), spanID: SpanID(0), traceState: traceState, attributes: attributes,
                        droppedAttributesCount: dropped, flags: flags),
                    traceID: linkTraceID, spanID: linkSpanID, fields: ("links[\(index)].traceId", "links[\(index)].spanId")))
        }
        return OTLPIDs.completeSpan(
            span, traceID: traceID, spanID: spanID, parentSpanID: parentSpanID, links: links,
            fields: ("traceId", "spanId", "parentSpanId"))
    }
}
