import SightlineCore

extension OTLPProtobufDecoder {
    /// Decodes an `ExportLogsServiceRequest`. Records with ids of the wrong length are rejected, not the request.
    static func decodeLogs(_ buffer: UnsafeRawBufferPointer) throws -> DecodedBatch {
        var r = ProtobufReader(buffer)
        var records: [LogRecord] = []
        var tally = RejectionTally()
        var resourceIndex = 0
        while let field = try r.nextField() {
            guard field == 1 else {
                try r.skipField()
                continue
            }
            try r.readMessage("resource_logs", index: resourceIndex) {
                try resourceLogs(&$0, resourceIndex, into: &records, tally: &tally)
            }
            resourceIndex += 1
        }
        return DecodedBatch(.logs(records), rejected: tally.count, rejectionMessage: tally.message)
    }

    /// Decodes a `ResourceLogs` (`resource = 1`, `scope_logs = 2`), copying the resource into its records.
    private static func resourceLogs(
        _ r: inout ProtobufReader, _ resourceIndex: Int, into records: inout [LogRecord], tally: inout RejectionTally
    ) throws {
        let start = records.count
        var resource: [Attribute] = []
        var scopeIndex = 0
        while let field = try r.nextField() {
            switch field {
            case 1: resource = try r.readMessage("resource") { try self.resource(&$0) }
            case 2:
                try r.readMessage("scope_logs", index: scopeIndex) {
                    try scopeLogs(&$0, resourceIndex, scopeIndex, into: &records, tally: &tally)
                }
                scopeIndex += 1
            default: try r.skipField()
            }
        }
        // The resource may follow its scopes on the wire, so it is filled in afterwards.
        if !resource.isEmpty {
            for index in start..<records.count { records[index].resource = resource }
        }
    }

    /// Decodes a `ScopeLogs` (`scope = 1`, `log_records = 2`), copying the scope into its records.
    private static func scopeLogs(
        _ r: inout ProtobufReader, _ resourceIndex: Int, _ scopeIndex: Int, into records: inout [LogRecord],
        tally: inout RejectionTally
    ) throws {
        let start = records.count
        var scope = InstrumentationScope()
        var recordIndex = 0
        while let field = try r.nextField() {
            switch field {
            case 1: scope = try r.readMessage("scope") { try self.scope(&$0) }
            case 2:
                let (record, rejection) = try r.readMessage("log_records", index: recordIndex) { try logRecord(&$0) }
                if let rejection {
                    tally.reject(1, "resource_logs[\(resourceIndex)].scope_logs[\(scopeIndex)].log_records[\(recordIndex)]: \(rejection)")
                } else {
                    records.append(record)
                }
                recordIndex += 1
            default: try r.skipField()
            }
        }
        if scope != InstrumentationScope() {
            for index in start..<records.count { records[index].scope = scope }
        }
    }

    /// Decodes a `LogRecord`.
    /// - Returns: The record, and why it is rejected (a trace or span id of the wrong length) or nil.
    private static func logRecord(_ r: inout ProtobufReader) throws -> (LogRecord, String?) {
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
        case .invalid(let message): return (record, message)
        }
        switch OTLPIDs.optionalSpanID(spanID, field: "span_id") {
        case .id(let id): record.spanID = id
        case .absent: break
        case .invalid(let message): return (record, message)
        }
        return (record, nil)
    }
}
