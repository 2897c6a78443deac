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

    /// Why an id was not accepted.
    struct IDError: Error {
        var message: String
    }
}
