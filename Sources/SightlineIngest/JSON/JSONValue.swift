/// A parsed JSON document, kept close to the text: numbers stay as their literal so 64-bit integers keep their precision.
package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number literal exactly as written, e.g. `"1544712660300000000"` or `"6.5e-3"`.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The JSON type name, for error messages: "null", "boolean", "number", "string", "array" or "object".
    package var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The number as a double; nil for other types.
    package var doubleValue: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    /// The number as an Int64 when it is integral and in range (`1e3` counts); nil otherwise.
    package var int64Value: Int64? {
        guard case .number(let text) = self else { return nil }
        if let exact = Int64(text) { return exact }
        guard let d = Double(text), d == d.rounded(), d >= -9.223_372_036_854_775_808e18, d < 9.223_372_036_854_775_808e18
        else { return nil }
        return Int64(d)
    }

    /// The number as a UInt64 when it is integral and in range; nil otherwise.
    package var uint64Value: UInt64? {
        guard case .number(let text) = self else { return nil }
        if let exact = UInt64(text) { return exact }
        guard let d = Double(text), d == d.rounded(), d >= 0, d < 1.844_674_407_370_955_161_6e19 else { return nil }
        return UInt64(d)
    }

    /// The string; nil for other types.
    package var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The object; nil for other types.
    package var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The array; nil for other types.
    package var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// A JSON object's members in document order. Lookups are linear: the objects of wire protocols are small.
package struct JSONObject: Sendable, Equatable {
    package var keys: [String]
    package var values: [JSONValue]

    package init(keys: [String] = [], values: [JSONValue] = []) {
        self.keys = keys
        self.values = values
    }

    /// How many members the object has (duplicates included).
    package var count: Int { keys.count }

    /// The value of the last member named `key` (as most JSON parsers do for duplicates), or nil.
    package subscript(key: String) -> JSONValue? {
        var index = keys.count - 1
        while index >= 0 {
            if keys[index] == key { return values[index] }
            index -= 1
        }
        return nil
    }

    /// The value of the member named `key` or, failing that, `alternative` (e.g. camelCase and snake_case names).
    package subscript(key: String, or alternative: String) -> JSONValue? {
        self[key] ?? self[alternative]
    }
}
