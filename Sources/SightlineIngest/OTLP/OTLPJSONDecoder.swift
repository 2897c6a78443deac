import SightlineCore

/// Decodes OTLP/JSON export requests into Sightline's model.
///
/// Follows the OTLP/JSON mapping: lowerCamelCase field names (the proto's snake_case names are accepted too),
/// trace and span ids as hex, 64-bit integers as strings or numbers, enums as numbers or names, bytes as base64,
/// doubles as numbers or "NaN"/"Infinity"/"-Infinity", unknown fields ignored, `null` meaning "not set".
/// Errors are ``FieldPathError``s naming the JSON path; ``OTLPDecoder`` turns them into ``SightlineError``s.
enum OTLPJSONDecoder {
    // MARK: Field access

    /// The value as an object.
    static func object(_ value: JSONValue) throws -> JSONObject {
        guard case .object(let object) = value else { throw FieldPathError("expected an object, got \(value.typeName)") }
        return object
    }

    /// The member named `name` (or its snake_case `alternative`); nil when missing or null.
    static func member(_ object: JSONObject, _ name: String, _ alternative: String? = nil) -> JSONValue? {
        let value = object[name] ?? alternative.flatMap { object[$0] }
        if case .null = value { return nil }
        return value
    }

    /// Calls `body` with each object of the array member `name`, adding `.name[index]` to error paths.
    static func forEach(
        _ object: JSONObject, _ name: String, _ alternative: String? = nil, _ body: (JSONObject, Int) throws -> Void
    ) throws {
        guard let value = member(object, name, alternative) else { return }
        guard case .array(let elements) = value else {
            throw FieldPathError("expected an array, got \(value.typeName)").prefixed(".\(name)")
        }
        for (index, element) in elements.enumerated() {
            try withFieldPath(".\(name)[\(index)]") { try body(try self.object(element), index) }
        }
    }

    /// Decodes the member `name` with `body`, adding `.name` to error paths; nil when missing or null.
    static func decode<T>(
        _ object: JSONObject, _ name: String, _ alternative: String? = nil, _ body: (JSONValue) throws -> T
    ) throws -> T? {
        guard let value = member(object, name, alternative) else { return nil }
        return try withFieldPath(".\(name)") { try body(value) }
    }

    /// A string member; "" when missing.
    static func string(_ object: JSONObject, _ name: String, _ alternative: String? = nil) throws -> String {
        try decode(object, name, alternative) { value in
            guard case .string(let s) = value else { throw FieldPathError("expected a string, got \(value.typeName)") }
            return s
        } ?? ""
    }

    /// A bool member; false when missing.
    static func bool(_ object: JSONObject, _ name: String, _ alternative: String? = nil) throws -> Bool {
        try decode(object, name, alternative) { value in
            guard case .bool(let b) = value else { throw FieldPathError("expected a boolean, got \(value.typeName)") }
            return b
        } ?? false
    }

    /// A uint64 (fixed64) value written as a decimal string or a number.
    static func uint64(_ value: JSONValue) throws -> UInt64 {
        switch value {
        case .string(let s):
            guard let v = UInt64(s) ?? JSONValue.number(s).uint64Value else {
                throw FieldPathError("expected an unsigned 64-bit integer, got \"\(s)\"")
            }
            return v
        case .number(let text):
            guard let v = value.uint64Value else { throw FieldPathError("expected an unsigned 64-bit integer, got \(text)") }
            return v
        default: throw FieldPathError("expected an integer string or number, got \(value.typeName)")
        }
    }

    /// An int64 value written as a decimal string or a number.
    static func int64(_ value: JSONValue) throws -> Int64 {
        switch value {
        case .string(let s):
            guard let v = Int64(s) ?? JSONValue.number(s).int64Value else {
                throw FieldPathError("expected a 64-bit integer, got \"\(s)\"")
            }
            return v
        case .number(let text):
            guard let v = value.int64Value else { throw FieldPathError("expected a 64-bit integer, got \(text)") }
            return v
        default: throw FieldPathError("expected an integer string or number, got \(value.typeName)")
        }
    }

    /// A uint64 member; 0 when missing.
    static func uint64(_ object: JSONObject, _ name: String, _ alternative: String? = nil) throws -> UInt64 {
        try decode(object, name, alternative) { try uint64($0) } ?? 0
    }

    /// A uint32 member; 0 when missing.
    static func uint32(_ object: JSONObject, _ name: String, _ alternative: String? = nil) throws -> UInt32 {
        try integer(object, name, alternative, typeName: "uint32")
    }

    /// An int32 member; 0 when missing.
    static func int32(_ object: JSONObject, _ name: String, _ alternative: String? = nil) throws -> Int32 {
        try integer(object, name, alternative, typeName: "int32")
    }

    /// An integer member of a type narrower than 64 bits; 0 when missing.
    private static func integer<T: FixedWidthInteger>(
        _ object: JSONObject, _ name: String, _ alternative: String?, typeName: String
    ) throws -> T {
        try decode(object, name, alternative) { value in
            let v = try int64(value)
            guard let result = T(exactly: v) else { throw FieldPathError("\(v) is out of range for \(typeName)") }
            return result
        } ?? 0
    }

    /// A double value: a number, a numeric string, or "NaN", "Infinity", "-Infinity".
    static func double(_ value: JSONValue) throws -> Double {
        switch value {
        case .number(let text):
            guard let d = Double(text) else { throw FieldPathError("invalid number \(text)") }
            return d
        case .string(let s):
            switch s {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default:
                guard let d = JSONValue.number(s).doubleValue, !s.isEmpty else {
                    throw FieldPathError("expected a number, got \"\(s)\"")
                }
                return d
            }
        default: throw FieldPathError("expected a number, got \(value.typeName)")
        }
    }

    /// A double member; nil when missing.
    static func double(_ object: JSONObject, _ name: String, _ alternative: String? = nil) throws -> Double? {
        try decode(object, name, alternative) { try double($0) }
    }

    /// An enum member written as a number or as one of `names` (its index is the value); 0 when missing.
    static func enumValue(
        _ object: JSONObject, _ name: String, _ alternative: String? = nil, names: [String]
    ) throws -> Int32 {
        try decode(object, name, alternative) { value in
            switch value {
            case .number(let text):
                guard let v = value.int64Value, let result = Int32(exactly: v) else {
                    throw FieldPathError("invalid enum value \(text)")
                }
                return result
            case .string(let s):
                if let index = names.firstIndex(of: s) { return Int32(index) }
                if let v = Int32(s) { return v }
                throw FieldPathError("unknown enum value \"\(s)\"")
            default: throw FieldPathError("expected an enum name or number, got \(value.typeName)")
            }
        } ?? 0
    }

    /// An id member as bytes: hex as OTLP/JSON requires, or base64 as protobuf's generic JSON mapping writes; [] when missing.
    ///
    /// Throws ``OTLPIDs/IDError`` (which rejects the record, not the request) for a string that is neither.
    static func idBytes(_ object: JSONObject, _ name: String, _ alternative: String? = nil, length: Int) throws -> [UInt8] {
        try decode(object, name, alternative) { value in
            guard case .string(let s) = value else { throw FieldPathError("expected a hex string, got \(value.typeName)") }
            if s.isEmpty { return [] }
            if let bytes = Hex.decode(s) { return bytes }
            if let bytes = Base64.decode(s), bytes.count == length { return bytes }
            throw OTLPIDs.IDError(message: "\(name) \"\(s)\" is not a hex id")
        } ?? []
    }

    // MARK: Export requests of records (logs, spans)

    /// A member name in lowerCamelCase and its snake_case alternative, if it has one.
    typealias MemberName = (name: String, alternative: String?)

    /// Decodes an OTLP/JSON export request of log records or spans: an array of `resource*` objects with a `resource`
    /// and an array of `scope*` objects, each with a `scope` and an array of records. The resource's attributes and the
    /// scope are handed to `record` for every record under them.
    ///
    /// - Parameters:
    ///   - buffer: The request body.
    ///   - resource: The root's array of resource objects, e.g. `resourceLogs`.
    ///   - scope: The resource object's array of scope objects, e.g. `scopeLogs`.
    ///   - recordMember: The scope object's array of records, e.g. `logRecords`.
    ///   - batch: Wraps the records in their signal's batch.
    ///   - record: Decodes one record with its resource attributes and scope, or says why it is rejected (not the request).
    /// - Returns: The accepted records, and the rejected ones counted with their paths.
    static func decodeRecords<Record>(
        _ buffer: UnsafeRawBufferPointer, _ resource: MemberName, _ scope: MemberName, _ recordMember: MemberName,
        as batch: ([Record]) -> SignalBatch,
        record: (JSONObject, [Attribute], InstrumentationScope) throws -> Result<Record, OTLPIDs.IDError>
    ) throws -> DecodedBatch {
        let root = try self.root(buffer)
        var records: [Record] = []
        var tally = RejectionTally()
        try forEach(root, resource.name, resource.alternative) { resourceObject, resourceIndex in
            let resourceAttributes = try self.resource(resourceObject)
            try forEach(resourceObject, scope.name, scope.alternative) { scopeObject, scopeIndex in
                let instrumentationScope = try self.scope(scopeObject)
                try forEach(scopeObject, recordMember.name, recordMember.alternative) { object, recordIndex in
                    switch try record(object, resourceAttributes, instrumentationScope) {
                    case .success(let decoded): records.append(decoded)
                    case .failure(let error):
                        let path = "\(resource.name)[\(resourceIndex)].\(scope.name)[\(scopeIndex)].\(recordMember.name)[\(recordIndex)]"
                        tally.reject(1, "\(path): \(error.message)")
                    }
                }
            }
        }
        return DecodedBatch(batch(records), rejected: tally.count, rejectionMessage: tally.message)
    }

    // MARK: Common messages

    /// Decodes an `AnyValue` object; `{}` is `.empty`.
    static func anyValue(_ value: JSONValue, depth: Int) throws -> AttributeValue {
        guard depth < OTLPProtobufDecoder.maxAnyValueDepth else {
            throw FieldPathError("AnyValue nested deeper than \(OTLPProtobufDecoder.maxAnyValueDepth) levels")
        }
        let object = try self.object(value)
        if let v = try decode(object, "stringValue", "string_value", { value -> String in
            guard case .string(let s) = value else { throw FieldPathError("expected a string, got \(value.typeName)") }
            return s
        }) {
            return .string(v)
        }
        if let v = try decode(object, "boolValue", "bool_value", { value -> Bool in
            guard case .bool(let b) = value else { throw FieldPathError("expected a boolean, got \(value.typeName)") }
            return b
        }) {
            return .bool(v)
        }
        if let v = try decode(object, "intValue", "int_value", { try int64($0) }) { return .int(v) }
        if let v = try decode(object, "doubleValue", "double_value", { try double($0) }) { return .double(v) }
        if let v = try decode(object, "bytesValue", "bytes_value", { value -> [UInt8] in
            guard case .string(let s) = value, let bytes = Base64.decode(s) else {
                throw FieldPathError("expected a base64 string")
            }
            return bytes
        }) {
            return .bytes(v)
        }
        if let v = try decode(object, "arrayValue", "array_value", { value -> [AttributeValue] in
            var values: [AttributeValue] = []
            try forEachValue(try self.object(value), "values") { values.append(try anyValue($0, depth: depth + 1)) }
            return values
        }) {
            return .array(v)
        }
        if let v = try decode(object, "kvlistValue", "kvlist_value", { value -> [Attribute] in
            try attributes(try self.object(value), "values", depth: depth + 1)
        }) {
            return .keyValueList(v)
        }
        return .empty
    }

    /// Calls `body` with each value of the array member `name` (elements need not be objects).
    private static func forEachValue(_ object: JSONObject, _ name: String, _ body: (JSONValue) throws -> Void) throws {
        guard let value = member(object, name) else { return }
        guard case .array(let elements) = value else {
            throw FieldPathError("expected an array, got \(value.typeName)").prefixed(".\(name)")
        }
        for (index, element) in elements.enumerated() {
            try withFieldPath(".\(name)[\(index)]") { try body(element) }
        }
    }

    /// Decodes an array member of `KeyValue` objects.
    static func attributes(_ object: JSONObject, _ name: String = "attributes", depth: Int = 0) throws -> [Attribute] {
        var attributes: [Attribute] = []
        try forEach(object, name) { keyValue, _ in
            let key = try string(keyValue, "key")
            let value = try decode(keyValue, "value") { try anyValue($0, depth: depth) } ?? .empty
            attributes.append(Attribute(key, value))
        }
        return attributes
    }

    /// Decodes the `resource` member of a `Resource*` object into its attributes.
    static func resource(_ object: JSONObject) throws -> [Attribute] {
        try decode(object, "resource") { try attributes(try self.object($0)) } ?? []
    }

    /// Decodes the `scope` member of a `Scope*` object.
    static func scope(_ object: JSONObject) throws -> InstrumentationScope {
        try decode(object, "scope") { value in
            let scope = try self.object(value)
            return InstrumentationScope(
                name: try string(scope, "name"), version: try string(scope, "version"), attributes: try attributes(scope))
        } ?? InstrumentationScope()
    }

    /// Parses `buffer` and returns its root object.
    static func root(_ buffer: UnsafeRawBufferPointer) throws -> JSONObject {
        try object(try JSONParser.parse(buffer))
    }
}

extension FieldPathError {
    /// The error with `component` added to its path.
    func prefixed(_ component: String) -> FieldPathError {
        var copy = self
        copy.reversedPath.append(component)
        return copy
    }
}
