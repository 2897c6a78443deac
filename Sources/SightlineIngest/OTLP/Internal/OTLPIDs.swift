import SightlineCore

/// Turns the bytes of trace and span ids into the model's ids, following OTLP's rules.
enum OTLPIDs {
    /// The outcome of reading an optional id field.
    enum Result<ID> {
        case absent
        case id(ID)
        case invalid(String)
    }

    /// A trace id where absence is allowed: empty or all-zero bytes mean none.
    static func optionalTraceID(_ bytes: some Collection<UInt8>, field: String) -> Result<TraceID> {
        if bytes.isEmpty { return .absent }
        guard let id = TraceID(bytes: bytes) else { return .invalid("\(field) has \(bytes.count) bytes, expected 16") }
        return id.isZero ? .absent : .id(id)
    }

    /// A span id where absence is allowed: empty or all-zero bytes mean none.
    static func optionalSpanID(_ bytes: some Collection<UInt8>, field: String) -> Result<SpanID> {
        if bytes.isEmpty { return .absent }
        guard let id = SpanID(bytes: bytes) else { return .invalid("\(field) has \(bytes.count) bytes, expected 8") }
        return id.isZero ? .absent : .id(id)
    }

    /// A trace id that must be present and non-zero.
    static func requiredTraceID(_ bytes: some Collection<UInt8>, field: String) -> Swift.Result<TraceID, IDError> {
        switch optionalTraceID(bytes, field: field) {
        case .id(let id): .success(id)
        case .absent: .failure(IDError(message: "\(field) is missing or zero"))
        case .invalid(let message): .failure(IDError(message: message))
        }
    }

    /// A span id that must be present and non-zero.
    static func requiredSpanID(_ bytes: some Collection<UInt8>, field: String) -> Swift.Result<SpanID, IDError> {
        switch optionalSpanID(bytes, field: field) {
        case .id(let id): .success(id)
        case .absent: .failure(IDError(message: "\(field) is missing or zero"))
        case .invalid(let message): .failure(IDError(message: message))
        }
    }

    /// A decoded span with its ids and links filled in: its trace and span ids must be present and valid, its parent's
    /// may be absent, and every link must have decoded; the first failure, in that order, rejects the span.
    /// - Parameters:
    ///   - span: The span as decoded, without ids and links.
    ///   - traceID: The bytes of the trace id.
    ///   - spanID: The bytes of the span id.
    ///   - parentSpanID: The bytes of the parent span id; empty when there is none.
    ///   - links: The decoded links, or why each was rejected.
    ///   - fields: The names of the three id fields as messages give them (`trace_id` or `traceId`, …).
    static func completeSpan(
        _ span: Span, traceID: some Collection<UInt8>, spanID: some Collection<UInt8>, parentSpanID: some Collection<UInt8>,
        links: [Swift.Result<Span.Link, IDError>], fields: (traceID: String, spanID: String, parentSpanID: String)
    ) -> Swift.Result<Span, IDError> {
        do throws(IDError) {
            var span = span
            span.traceID = try requiredTraceID(traceID, field: fields.traceID).get()
            span.spanID = try requiredSpanID(spanID, field: fields.spanID).get()
            switch optionalSpanID(parentSpanID, field: fields.parentSpanID) {
            case .id(let id): span.parentSpanID = id
            case .absent: break
            case .invalid(let message): throw IDError(message: message)
            }
            span.links = try links.map { link throws(IDError) in try link.get() }
            return .success(span)
        } catch {
            return .failure(error)
        }
    }

    /// A decoded link with its ids filled in; both must be present and valid.
    /// - Parameters:
    ///   - link: The link as decoded, without ids.
    ///   - traceID: The bytes of the trace id.
    ///   - spanID: The bytes of the span id.
    ///   - fields: The names of the two id fields as messages give them (`links[0].trace_id`, …).
    static func completeLink(
        _ link: Span.Link, traceID: some Collection<UInt8>, spanID: some Collection<UInt8>,
        fields: (traceID: String, spanID: String)
    ) -> Swift.Result<Span.Link, IDError> {
        do throws(IDError) {
            var link = link
            link.traceID = try requiredTraceID(traceID, field: fields.traceID).get()
            link.spanID = try requiredSpanID(spanID, field: fields.spanID).get()
            return .success(link)
        } catch {
            return .failure(error)
        }
    }

    /// Why an id was not accepted.
    struct IDError: Error {
        var message: String
    }
}
