import SightlineCore

extension OTLPProtobufDecoder {
    /// Decodes an `ExportTraceServiceRequest`. Spans without valid ids are rejected, not the request.
    static func decodeTraces(_ buffer: UnsafeRawBufferPointer) throws -> DecodedBatch {
        var r = ProtobufReader(buffer)
        var spans: [Span] = []
        var tally = RejectionTally()
        var resourceIndex = 0
        while let field = try r.nextField() {
            guard field == 1 else {
                try r.skipField()
                continue
            }
            try r.readMessage("resource_spans", index: resourceIndex) {
                try resourceSpans(&$0, resourceIndex, into: &spans, tally: &tally)
            }
            resourceIndex += 1
        }
        return DecodedBatch(.traces(spans), rejected: tally.count, rejectionMessage: tally.message)
    }

    /// Decodes a `ResourceSpans` (`resource = 1`, `scope_spans = 2`).
    private static func resourceSpans(
        _ r: inout ProtobufReader, _ resourceIndex: Int, into spans: inout [Span], tally: inout RejectionTally
    ) throws {
        let start = spans.count
        var resource: [Attribute] = []
        var scopeIndex = 0
        while let field = try r.nextField() {
            switch field {
            case 1: resource = try r.readMessage("resource") { try self.resource(&$0) }
            case 2:
                try r.readMessage("scope_spans", index: scopeIndex) {
                    try scopeSpans(&$0, resourceIndex, scopeIndex, into: &spans, tally: &tally)
                }
                scopeIndex += 1
            default: try r.skipField()
            }
        }
        if !resource.isEmpty {
            for index in start..<spans.count { spans[index].resource = resource }
        }
    }

    /// Decodes a `ScopeSpans` (`scope = 1`, `spans = 2`).
    private static func scopeSpans(
        _ r: inout ProtobufReader, _ resourceIndex: Int, _ scopeIndex: Int, into spans: inout [Span], tally: inout RejectionTally
    ) throws {
        let start = spans.count
        var scope = InstrumentationScope()
        var spanIndex = 0
        while let field = try r.nextField() {
            switch field {
            case 1: scope = try r.readMessage("scope") { try self.scope(&$0) }
            case 2:
                let result = try r.readMessage("spans", index: spanIndex) { try span(&$0) }
                switch result {
                case .success(let span): spans.append(span)
                case .failure(let error):
                    tally.reject(1, "resource_spans[\(resourceIndex)].scope_spans[\(scopeIndex)].spans[\(spanIndex)]: \(error.message)")
                }
                spanIndex += 1
            default: try r.skipField()
            }
        }
        if scope != InstrumentationScope() {
            for index in start..<spans.count { spans[index].scope = scope }
        }
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
            case 6: span.kind = Span.Kind(rawValue: try r.readInt32("kind")) ?? .unspecified
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
                        case 3: span.statusCode = Span.StatusCode(rawValue: try status.readInt32("code")) ?? .unset
                        default: try status.skipField()
                        }
                    }
                }
            case 16: span.flags = try r.readFixed32("flags")
            default: try r.skipField()
            }
        }
        do {
            span.traceID = try OTLPIDs.requiredTraceID(traceID, field: "trace_id").get()
            span.spanID = try OTLPIDs.requiredSpanID(spanID, field: "span_id").get()
            switch OTLPIDs.optionalSpanID(parentSpanID, field: "parent_span_id") {
            case .id(let id): span.parentSpanID = id
            case .absent: break
            case .invalid(let message): return .failure(OTLPIDs.IDError(message: message))
            }
            span.links = try links.map { try $0.get() }
        } catch let error as OTLPIDs.IDError {
            return .failure(error)
        }
        return .success(span)
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
        return Result {
            link.traceID = try OTLPIDs.requiredTraceID(traceID, field: "links[\(index)].trace_id").get()
            link.spanID = try OTLPIDs.requiredSpanID(spanID, field: "links[\(index)].span_id").get()
            return link
        }.mapError { $0 as? OTLPIDs.IDError ?? OTLPIDs.IDError(message: "\($0)") }
    }
}
