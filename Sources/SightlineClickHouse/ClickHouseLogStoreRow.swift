import SightlineCore

/// How one ``LogRecord`` is a row of the `logs` table: the columns queries filter and order by, plus a `record` blob
/// holding everything else in the Core binary layout (``ByteWriter/writeAttributes(_:)`` and friends), so a record
/// read back equals the record applied (with ``LogRecord/stream`` set to its stream labels, as every log store
/// hands records out).
///
/// The blob, version 1: a version byte; a body byte (0: the body is the string in the `line` column, 1: a tagged
/// value follows); the attributes; dropped attributes count and flags as varints; trace id (presence byte, 16
/// bytes) and span id (presence byte, 8 bytes); event name; resource attributes; scope; a byte, 1 when the sender
/// named the stream.
enum ClickHouseLogRow {
    static let version: UInt8 = 1

    /// Appends the row of `record` as RowBinary, columns in ``ClickHouseLogStore/columns`` order.
    static func encode(_ record: LogRecord, tenant: Tenant, labels: Labels, streamID: UInt64, into out: inout ByteWriter) {
        let time = record.effectiveTimeUnixNano
        out.writeString(tenant.id)
        out.writeUInt64LE(streamID)
        out.writeStringArray(labels.labels.map(\.name))
        out.writeStringArray(labels.labels.map(\.value))
        out.writeDate(days: Int64(time / ClickHouseLogStore.nanosPerDay))
        out.writeUInt64LE(time)
        out.writeUInt64LE(record.timeUnixNano)
        out.writeUInt64LE(record.observedTimeUnixNano)
        out.writeUInt32LE(UInt32(bitPattern: record.severityNumber))
        out.writeString(record.severityText)
        out.writeString(record.traceID?.description ?? "")
        let line = record.line
        out.writeString(line)
        out.writeBytes(blob(record, line: line))
    }

    /// The `record` column of `record`.
    static func blob(_ record: LogRecord, line: String) -> [UInt8] {
        var blob = ByteWriter(capacity: 64)
        blob.writeByte(version)
        if case .string(let text) = record.body, text == line {
            blob.writeByte(0)
        } else {
            blob.writeByte(1)
            blob.writeAttributeValue(record.body)
        }
        blob.writeAttributes(record.attributes)
        blob.writeVarint(UInt64(record.droppedAttributesCount))
        blob.writeVarint(UInt64(record.flags))
        if let traceID = record.traceID {
            blob.writeByte(1)
            blob.writeUInt64LE(traceID.high)
            blob.writeUInt64LE(traceID.low)
        } else {
            blob.writeByte(0)
        }
        if let spanID = record.spanID {
            blob.writeByte(1)
            blob.writeUInt64LE(spanID.value)
        } else {
            blob.writeByte(0)
        }
        blob.writeString(record.eventName)
        blob.writeAttributes(record.resource)
        blob.writeScope(record.scope)
        blob.writeByte(record.stream.labels.isEmpty ? 0 : 1)
        return blob.bytes
    }

    /// The columns a scan selects, in the order ``decode(_:labels:)`` reads them.
    static let selectColumns = "stream_id, timestamp_ns, observed_ns, severity_number, severity_text, line, record"

    /// Reads one row selected with ``selectColumns`` (plus the stream arrays when `withArrays`); `labels` finds the
    /// stream labels of a stream id when the arrays are not selected.
    /// - Throws: `dataCorrupted` when the row or its blob is damaged or of an unknown version.
    static func decode(_ reader: inout ByteReader, withArrays: Bool, labels: [UInt64: Labels]) throws -> LogRecord {
        let id = try reader.readUInt64LE()
        var record = LogRecord()
        record.timeUnixNano = try reader.readUInt64LE()
        record.observedTimeUnixNano = try reader.readUInt64LE()
        record.severityNumber = Int32(bitPattern: try reader.readUInt32LE())
        record.severityText = try reader.readString()
        let line = try reader.readString()
        let blob = try reader.readBytes()
        if withArrays {
            let names = try reader.readStringArray()
            let values = try reader.readStringArray()
            guard names.count == values.count else {
                throw SightlineError(.dataCorrupted, "ClickHouse log row has \(names.count) stream label names and \(values.count) values")
            }
            record.stream = Labels(zip(names, values).map { Label($0, $1) })
        } else {
            guard let stream = labels[id] else {
                throw SightlineError(.dataCorrupted, "ClickHouse log row of stream \(id), which the stream lookup did not return")
            }
            record.stream = stream
        }
        try blob.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            let version = try r.readByte()
            guard version == Self.version else {
                throw SightlineError(.dataCorrupted, "ClickHouse log row has record layout version \(version); this server reads \(Self.version)")
            }
            record.body = try r.readByte() == 0 ? .string(line) : try r.readAttributeValue()
            record.attributes = try r.readAttributes()
            record.droppedAttributesCount = UInt32(truncatingIfNeeded: try r.readVarint())
            record.flags = UInt32(truncatingIfNeeded: try r.readVarint())
            if try r.readByte() != 0 { record.traceID = TraceID(high: try r.readUInt64LE(), low: try r.readUInt64LE()) }
            if try r.readByte() != 0 { record.spanID = SpanID(try r.readUInt64LE()) }
            record.eventName = try r.readString()
            record.resource = try r.readAttributes()
            record.scope = try r.readScope()
            _ = try r.readByte()  // whether the sender named the stream: scans hand out the stream labels either way
        }
        return record
    }
}
