import SightlineCore

extension OTLPProtobufDecoder {
    /// Decodes an `ExportLogsServiceRequest`. Records with ids of the wrong length are rejected, not the request.
    static func decodeLogs(_ buffer: UnsafeRawBufferPointer) throws -> DecodedBatch {
        try decodeRecords(buffer, ("resource_logs", "scope_logs", "log_records"), as: { .logs(LogBatch($0)) }) { try logRecord(&$0) }
    }

    /// Decodes a `LogRecord`.
    /// - Returns: The record, or why it is rejected (a trace or span id of the wrong length).
    private static func logRecord(_ r: inout ProtobufReader) throws -> Result<LogRecord, OTLPIDs.IDError> {
        var record = LogRecord()
        var traceID = UnsafeRawBufferPointer(start: nil, count: 0)
        var spanID = UnsafeRawBufferPointer(start: nil, count: 0)
        while let field = try r.nextField() {
            switch field {
            case 1: record.timeUnixNano = try r.readFixed64("time_unix_nano")
            case 2: record.severityNumber = try r.readInt32("severity_number")
            case 3: record.severityText = try r.readString("severity_text")
            case 5: record.body = try r.readMessage("body") { try anyValue(&$0, depth: 0) }
            case 6: try appendAttribute(&r, "attributes", to: &record.attributes)
            case 7: record.droppedAttributesCount = try r.readUInt32("dropped_attributes_count")
            case 8: record.flags = try r.readFixed32("flags")
            case 9: traceID = try r.readBytesSlice("trace_id")
            case 10: spanID = try r.readBytesSlice("span_id")
            case 11: record.observedTimeUnixNano = try r.readFixed64("observed_time_unix_nano")
            case 12: record.eventName = try r.readString("event_name")
            default: try r.skipField()
            }
        }
        switch OTLPIDs.optionalTraceID(traceID, field: "trace_id") {
        case .id(let id): record.traceID = id
        case .absent: break
        case .invalid(let message): return .failure(OTLPIDs.IDError(message: message))
        }
        switch OTLPIDs.optionalSpanID(spanID, field: "span_id") {
        case .id(let id): record.spanID = id
        case .absent: break
        case .invalid(let message): return .failure(OTLPIDs.IDError(message: message))
        }
        return .success(record)
    }
}
