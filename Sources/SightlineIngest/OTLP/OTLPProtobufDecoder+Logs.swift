import SightlineCore

extension OTLPProtobufDecoder {
    /// Decodes an `ExportLogsServiceRequest` straight into a ``LogBatch``: strings are stored as their bytes, no
    /// `LogRecord` is made. Records with ids of the wrong length are rejected, not the request.
    static func decodeLogs(_ buffer: UnsafeRawBufferPointer) throws -> DecodedBatch {
        var batch = LogBatch()
        // A record's strings come from the body, so they never take more bytes than it.
        batch.reserveCapacity(rows: buffer.count / 256, bytes: buffer.count, attributes: buffer.count / 64)
        let tally = try decodeRecords(buffer, ("resource_logs", "scope_logs", "log_records"), into: &batch) { try logRecord(&$0, into: &$1) }
        return DecodedBatch(.logs(batch), rejected: tally.count, rejectionMessage: tally.message)
    }

    /// Decodes a `LogRecord` into a row of `batch`.
    /// - Returns: Why the record is rejected (a trace or span id of the wrong length), having added nothing; nil when
    ///   it was added.
    private static func logRecord(_ r: inout ProtobufReader, into batch: inout LogBatch) throws -> OTLPIDs.IDError? {
        var row = LogBatch.Row()
        var traceID = UnsafeRawBufferPointer(start: nil, count: 0)
        var spanID = UnsafeRawBufferPointer(start: nil, count: 0)
        var attributes = 0
        while let field = try r.nextField() {
            switch field {
            case 1: row.timeUnixNano = try r.readFixed64("time_unix_nano")
            case 2: row.severityNumber = try r.readInt32("severity_number")
            case 3: row.severityText = batch.number(string: try r.readString("severity_text"))
            case 5: row.body = try r.readMessage("body") { try anyValue(&$0, into: &batch) }
            case 6:
                let (key, value) = try r.readMessage("attributes", index: attributes) { try keyValue(&$0, into: &batch) }
                batch.appendAttribute(key: key, value: value)
                attributes += 1
            case 7: row.droppedAttributesCount = try r.readUInt32("dropped_attributes_count")
            case 8: row.flags = try r.readFixed32("flags")
            case 9: traceID = try r.readBytesSlice("trace_id")
            case 10: spanID = try r.readBytesSlice("span_id")
            case 11: row.observedTimeUnixNano = try r.readFixed64("observed_time_unix_nano")
            case 12: row.eventName = batch.number(string: try r.readString("event_name"))
            default: try r.skipField()
            }
        }
        switch OTLPIDs.optionalTraceID(traceID, field: "trace_id") {
        case .id(let id): row.setTraceID(id)
        case .absent: break
        case .invalid(let message):
            batch.discardPendingAttributes()
            return OTLPIDs.IDError(message: message)
        }
        switch OTLPIDs.optionalSpanID(spanID, field: "span_id") {
        case .id(let id): row.setSpanID(id)
        case .absent: break
        case .invalid(let message):
            batch.discardPendingAttributes()
            return OTLPIDs.IDError(message: message)
        }
        batch.appendRow(row)
        return nil
    }

    /// Decodes a `KeyValue` (`key = 1`, `value = 2`) into a key number and a value of `batch`.
    private static func keyValue(_ r: inout ProtobufReader, into batch: inout LogBatch) throws -> (UInt32, LogBatch.Value) {
        var key: UInt32 = 0
        var value = LogBatch.Value.empty
        while let field = try r.nextField() {
            switch field {
            case 1: key = batch.number(string: try r.readString("key"))
            case 2: value = try r.readMessage("value") { try anyValue(&$0, into: &batch) }
            default: try r.skipField()
            }
        }
        return (key, value)
    }

    /// Decodes an `AnyValue` into a value of `batch`, field by field as ``anyValue(_:depth:)`` does (the last field
    /// of the oneof wins), but a string is stored as its bytes, without a `String` (invalid UTF-8 replaced with
    /// U+FFFD, as ``ProtobufReader/readString(_:)`` does). Nested values are decoded by the common functions.
    private static func anyValue(_ r: inout ProtobufReader, into batch: inout LogBatch) throws -> LogBatch.Value {
        var value = LogBatch.Value.empty
        while let field = try r.nextField() {
            switch field {
            case 1:
                let utf8 = try r.readBytesSlice("string_value")
                value = UTF8Text.isValid(utf8) ? batch.store(string: utf8) : batch.store(.string(String(decoding: utf8, as: UTF8.self)))
            case 2: value = batch.store(.bool(try r.readBool("bool_value")))
            case 3: value = batch.store(.int(Int64(bitPattern: try r.readVarint("int_value"))))
            case 4: value = batch.store(.double(try r.readDouble("double_value")))
            case 5: value = batch.store(.array(try r.readMessage("array_value") { try arrayValue(&$0, depth: 1) }))
            case 6: value = batch.store(.keyValueList(try r.readMessage("kvlist_value") { try keyValueList(&$0, depth: 1) }))
            case 7: value = batch.store(.bytes(try r.readBytes("bytes_value")))
            default: try r.skipField()
            }
        }
        return value
    }
}
