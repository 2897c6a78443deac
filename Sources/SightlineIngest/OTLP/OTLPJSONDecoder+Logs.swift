import SightlineCore

extension OTLPJSONDecoder {
    /// `SeverityNumber` names, indexed by value.
    static let severityNames: [String] = {
        var names = ["SEVERITY_NUMBER_UNSPECIFIED"]
        for level in ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] {
            names.append("SEVERITY_NUMBER_\(level)")
            for n in 2...4 { names.append("SEVERITY_NUMBER_\(level)\(n)") }
        }
        return names
    }()

    /// Decodes an OTLP/JSON `ExportLogsServiceRequest`.
    static func decodeLogs(_ buffer: UnsafeRawBufferPointer) throws -> DecodedBatch {
        try decodeRecords(
            buffer, ("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs"), ("logRecords", "log_records"),
            as: { .logs(LogBatch($0)) }
        ) { try logRecord($0, resource: $1, scope: $2) }
    }

    private static func logRecord(
        _ object: JSONObject, resource: [Attribute], scope: InstrumentationScope
    ) throws -> Result<LogRecord, OTLPIDs.IDError> {
        var record = LogRecord(resource: resource, scope: scope)
        record.timeUnixNano = try uint64(object, "timeUnixNano", "time_unix_nano")
        record.observedTimeUnixNano = try uint64(object, "observedTimeUnixNano", "observed_time_unix_nano")
        record.severityNumber = try enumValue(object, "severityNumber", "severity_number", names: severityNames)
        record.severityText = try string(object, "severityText", "severity_text")
        record.body = try decode(object, "body") { try anyValue($0, depth: 0) } ?? .empty
        record.attributes = try attributes(object)
        record.droppedAttributesCount = try uint32(object, "droppedAttributesCount", "dropped_attributes_count")
        record.flags = try uint32(object, "flags")
        record.eventName = try string(object, "eventName", "event_name")
        let traceID: [UInt8]
        let spanID: [UInt8]
        do {
            traceID = try idBytes(object, "traceId", "trace_id", length: 16)
            spanID = try idBytes(object, "spanId", "span_id", length: 8)
        } catch let error as OTLPIDs.IDError {
            return .failure(error)
        }
        switch OTLPIDs.optionalTraceID(traceID, field: "traceId") {
        case .id(let id): record.traceID = id
        case .absent: break
        case .invalid(let message): return .failure(OTLPIDs.IDError(message: message))
        }
        switch OTLPIDs.optionalSpanID(spanID, field: "spanId") {
        case .id(let id): record.spanID = id
        case .absent: break
        case .invalid(let message): return .failure(OTLPIDs.IDError(message: message))
        }
        return .success(record)
    }
}
