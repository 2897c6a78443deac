import SightlineCore

/// Decodes OTLP protobuf export requests (opentelemetry-proto v1) into Sightline's model.
///
/// Errors are ``FieldPathError``s; ``OTLPDecoder`` turns them into ``SightlineError``s.
enum OTLPProtobufDecoder {
    /// How deeply `AnyValue`s (arrays, kvlists) may nest.
    static let maxAnyValueDepth = 64

    // MARK: Export requests of records (logs, spans)

    /// The field names of one signal's export request, as error paths use them, e.g. `resource_logs`, `scope_logs`,
    /// `log_records`.
    typealias RecordFields = (resource: StaticString, scope: StaticString, record: StaticString)

    /// Decodes an export request of log records or spans: `resource_* = 1` messages of `resource = 1` and
    /// `scope_* = 2`, each scope message of `scope = 1` and records `= 2`. The resource's attributes and the scope are
    /// given to every record under them.
    ///
    /// - Parameters:
    ///   - buffer: The request body.
    ///   - fields: The names of the three repeated fields, for error paths and rejection messages.
    ///   - records: Where records go (spans into an array, log records into a ``LogBatch``).
    ///   - record: Decodes one record into `records`, or says why it is rejected (not the request), having added
    ///     nothing.
    /// - Returns: The rejected records counted with their paths.
    static func decodeRecords<Sink: OTLPRecordSink>(
        _ buffer: UnsafeRawBufferPointer, _ fields: RecordFields, into records: inout Sink,
        record: (inout ProtobufReader, inout Sink) throws -> OTLPIDs.IDError?
    ) throws -> RejectionTally {
        var r = ProtobufReader(buffer)
        var tally = RejectionTally()
        var resourceIndex = 0
        while let field = try r.nextField() {
            guard field == 1 else {
                try r.skipField()
                continue
            }
            try r.readMessage(fields.resource, index: resourceIndex) {
                try resourceRecords(&$0, fields, resourceIndex, into: &records, tally: &tally, record: record)
            }
            resourceIndex += 1
        }
        return tally
    }

    /// Decodes one `Resource*` message (`resource = 1`, `scope_* = 2`), giving the resource to its records.
    private static func resourceRecords<Sink: OTLPRecordSink>(
        _ r: inout ProtobufReader, _ fields: RecordFields, _ resourceIndex: Int, into records: inout Sink,
        tally: inout RejectionTally, record: (inout ProtobufReader, inout Sink) throws -> OTLPIDs.IDError?
    ) throws {
        let start = records.count
        var resource: [Attribute] = []
        var scopeIndex = 0
        while let field = try r.nextField() {
            switch field {
            case 1: resource = try r.readMessage("resource") { try self.resource(&$0) }
            case 2:
                try r.readMessage(fields.scope, index: scopeIndex) {
                    try scopeRecords(&$0, fields, resourceIndex, scopeIndex, into: &records, tally: &tally, record: record)
                }
                scopeIndex += 1
            default: try r.skipField()
            }
        }
        // The resource may follow its scopes on the wire, so it is filled in afterwards.
        if !resource.isEmpty { records.setResource(resource, from: start) }
    }

    /// Decodes one `Scope*` message (`scope = 1`, records `= 2`), giving the scope to its records.
    private static func scopeRecords<Sink: OTLPRecordSink>(
        _ r: inout ProtobufReader, _ fields: RecordFields, _ resourceIndex: Int, _ scopeIndex: Int,
        into records: inout Sink, tally: inout RejectionTally, record: (inout ProtobufReader, inout Sink) throws -> OTLPIDs.IDError?
    ) throws {
        let start = records.count
        var scope = InstrumentationScope()
        var recordIndex = 0
        while let field = try r.nextField() {
            switch field {
            case 1: scope = try r.readMessage("scope") { try self.scope(&$0) }
            case 2:
                if let error = try r.readMessage(fields.record, index: recordIndex, { try record(&$0, &records) }) {
                    let path = "\(fields.resource)[\(resourceIndex)].\(fields.scope)[\(scopeIndex)].\(fields.record)[\(recordIndex)]"
                    tally.reject(1, "\(path): \(error.message)")
                }
                recordIndex += 1
            default: try r.skipField()
            }
        }
        if scope != InstrumentationScope() { records.setScope(scope, from: start) }
    }

    // MARK: Common messages (opentelemetry.proto.common.v1, resource.v1)

    /// Decodes an `AnyValue`; the last field of its oneof wins, none means `.empty`.
    static func anyValue(_ r: inout ProtobufReader, depth: Int) throws -> AttributeValue {
        guard depth < maxAnyValueDepth else { throw FieldPathError("AnyValue nested deeper than \(maxAnyValueDepth) levels") }
        var value = AttributeValue.empty
        while let field = try r.nextField() {
            switch field {
            case 1: value = .string(try r.readString("string_value"))
            case 2: value = .bool(try r.readBool("bool_value"))
            case 3: value = .int(Int64(bitPattern: try r.readVarint("int_value")))
            case 4: value = .double(try r.readDouble("double_value"))
            case 5: value = .array(try r.readMessage("array_value") { try arrayValue(&$0, depth: depth + 1) })
            case 6: value = .keyValueList(try r.readMessage("kvlist_value") { try keyValueList(&$0, depth: depth + 1) })
            case 7: value = .bytes(try r.readBytes("bytes_value"))
            default: try r.skipField()
            }
        }
        return value
    }

    /// Decodes an `ArrayValue` (`values = 1`).
    static func arrayValue(_ r: inout ProtobufReader, depth: Int) throws -> [AttributeValue] {
        var values: [AttributeValue] = []
        while let field = try r.nextField() {
            if field == 1 {
                values.append(try r.readMessage("values", index: values.count) { try anyValue(&$0, depth: depth) })
            } else {
                try r.skipField()
            }
        }
        return values
    }

    /// Decodes a `KeyValueList` (`values = 1`).
    static func keyValueList(_ r: inout ProtobufReader, depth: Int) throws -> [Attribute] {
        var values: [Attribute] = []
        while let field = try r.nextField() {
            if field == 1 {
                values.append(try r.readMessage("values", index: values.count) { try keyValue(&$0, depth: depth) })
            } else {
                try r.skipField()
            }
        }
        return values
    }

    /// Decodes a `KeyValue` (`key = 1`, `value = 2`).
    static func keyValue(_ r: inout ProtobufReader, depth: Int) throws -> Attribute {
        var attribute = Attribute("", .empty)
        while let field = try r.nextField() {
            switch field {
            case 1: attribute.key = try r.readString("key")
            case 2: attribute.value = try r.readMessage("value") { try anyValue(&$0, depth: depth) }
            default: try r.skipField()
            }
        }
        return attribute
    }

    /// Appends the `KeyValue` in the current field (a repeated `attributes` field) to `attributes`.
    static func appendAttribute(_ r: inout ProtobufReader, _ name: StaticString, to attributes: inout [Attribute]) throws {
        attributes.append(try r.readMessage(name, index: attributes.count) { try keyValue(&$0, depth: 0) })
    }

    /// Decodes a `Resource`'s attributes (`attributes = 1`).
    static func resource(_ r: inout ProtobufReader) throws -> [Attribute] {
        var attributes: [Attribute] = []
        while let field = try r.nextField() {
            if field == 1 { try appendAttribute(&r, "attributes", to: &attributes) } else { try r.skipField() }
        }
        return attributes
    }

    /// Decodes an `InstrumentationScope` (`name = 1`, `version = 2`, `attributes = 3`).
    static func scope(_ r: inout ProtobufReader) throws -> InstrumentationScope {
        var scope = InstrumentationScope()
        while let field = try r.nextField() {
            switch field {
            case 1: scope.name = try r.readString("name")
            case 2: scope.version = try r.readString("version")
            case 3: try appendAttribute(&r, "attributes", to: &scope.attributes)
            default: try r.skipField()
            }
        }
        return scope
    }
}
