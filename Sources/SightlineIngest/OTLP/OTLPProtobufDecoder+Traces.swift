import SightlineCore

extension OTLPProtobufDecoder {
    /// Decodes an `ExportTraceServiceRequest`. Spans without valid ids are rejected, not the request.
    static func decodeTraces(_ buffer: UnsafeRawBufferPointer) throws -> DecodedBatch {
        var spans: [Span] = []
        let tally = try decodeRecords(buffer, ("resource_spans", "scope_spans", "spans"), into: &spans) { r, spans in
            switch try span(&r) {
            case .success(let span):
                spans.append(span)
                return nil
            case .failure(let error):
                return error
            }
        }
        return DecodedBatch(.traces(spans), rejected: tally.count, rejectionMessage: tally.message)
    }

    /// Decodes a `Span`; a missing, zero or wrong-length id (its own, its parent's or a link's) rejects it.
    private static func span(_ r: inout ProtobufReader) throws -> Result<Span, OTLPIDs.IDError> {
        var traceID = UnsafeRawBufferPointer(start: nil, count: 0)
        var spanID = UnsafeRawBufferPointer(start: nil, count: 0)
        var parentSpanID = UnsafeRawBufferPointer(start: nil, count: 0)
        var span = Span(traceID: TraceID(high: 0, low: 0), spanID: SpanID(0), name: "", startTimeUnixNano: 0, endTimeUnixNano: 0)
        var links: [Result<Span.Link, OTLPIDs.IDError>] = []
        while let field = try r.nextField() {
            switch field {
            case 1: traceID = try r.readBytesSlice("trace_id")
            case 2: spanID = try r.readBytesSlice("span_id")
            case 3: span.traceState = try r.readString("trace_state")
            case 4: parentSpanID = try r.readBytesSlice("parent_span_id")
            case 5: span.name = try r.readString("name")
            case 6: span.kind = Span.Kind(otlp: try r.readInt32("kind"))
            case 7: span.startTimeUnixNano = try r.readFixed64("start_time_unix_nano")
            case 8: span.endTimeUnixNano = try r.readFixed64("end_time_unix_nano")
            case 9: try appendAttribute(&r, "attributes", to: &span.attributes)
            case 10: span.droppedAttributesCount = try r.readUInt32("dropped_attributes_count")
            case 11: span.events.append(try r.readMessage("events", index: span.events.count) { try event(&$0) })
            case 12: span.droppedEventsCount = try r.readUInt32("dropped_events_count")
            case 13: links.append(try r.readMessage("links", index: links.count) { try link(&$0, index: links.count) })
            case 14: span.droppedLinksCount = try r.readUInt32("dropped_links_count")
            case 15:
                try r.readMessage("status") { status in
                    while let field = try status.nextField() {
                        switch field {
                        case 2: span.statusMessage = try status.readString("message")
                        case 3: span.statusCode = Span.StatusCode(otlp: try status.readInt32("code"))
                        default: try status.skipField()
                        }
                    }
                }
            case 16: span.flags = try r.readFixed32("flags")
            default: try r.skipField()
            }
        }
        return OTLPIDs.completeSpan(
            span, traceID: traceID, spanID: spanID, parentSpanID: parentSpanID, links: links,
            fields: ("trace_id", "span_id", "parent_span_id"))
    }

    /// Decodes a `Span.Event`.
    private static func event(_ r: inout ProtobufReader) throws -> Span.Event {
        var event = Span.Event(timeUnixNano: 0, name: "")
        while let field = try r.nextField() {
            switch field {
            case 1: event.timeUnixNano = try r.readFixed64("time_unix_nano")
            case 2: event.name = try r.readString("name")
            case 3: try appendAttribute(&r, "attributes", to: &event.attributes)
            case 4: event.droppedAttributesCount = try r.readUInt32("dropped_attributes_count")
            default: try r.skipField()
            }
        }
        return event
    }

    /// Decodes a `Span.Link`; its ids must be valid.
    private static func link(_ r: inout ProtobufReader, index: Int) throws -> Result<Span.Link, OTLPIDs.IDError> {
        var traceID = UnsafeRawBufferPointer(start: nil, count: 0)
        var spanID = UnsafeRawBufferPointer(start: nil, count: 0)
        var link = Span.Link(traceID: TraceID(high: 0, low: 0), spanID: SpanID(0))
        while let field = try r.nextField() {
            switch field {
            case 1: traceID = try r.readBytesSlice("trace_id")
            case 2: spanID = try r.readBytesSlice("span_id")
            case 3: link.traceState = try r.readString("trace_state")
            case 4: try appendAttribute(&r, "attributes", to: &link.attributes)
            case 5: link.droppedAttributesCount = try r.readUInt32("dropped_attributes_count")
            case 6: link.flags = try r.readFixed32("flags")
            default: try r.skipField()
            }
        }
        return OTLPIDs.completeLink(
            link, traceID: traceID, spanID: spanID, fields: ("links[\(index)].trace_id", "links[\(index)].span_id"))
    }
}
