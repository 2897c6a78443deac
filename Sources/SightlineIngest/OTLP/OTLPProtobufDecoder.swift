import SightlineCore

/// Decodes OTLP protobuf export requests (opentelemetry-proto v1) into Sightline's model.
///
/// Errors are ``FieldPathError``s; ``OTLPDecoder`` turns them into ``SightlineError``s.
enum OTLPProtobufDecoder {
    /// How deeply `AnyValue`s (arrays, kvlists) may nest.
    static let maxAnyValueDepth = 64

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
