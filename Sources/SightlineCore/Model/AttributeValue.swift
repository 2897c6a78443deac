/// A value in the OpenTelemetry attribute model: log bodies, attributes of records, spans and resources.
package enum AttributeValue: Hashable, Sendable {
    case empty
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case bytes([UInt8])
    case array([AttributeValue])
    case keyValueList([Attribute])
}

/// A key and its value, in the order the sender gave them.
package struct Attribute: Hashable, Sendable {
    package var key: String
    package var value: AttributeValue

    package init(_ key: String, _ value: AttributeValue) {
        self.key = key
        self.value = value
    }
}

extension AttributeValue {
    /// The value as a plain string, the way it is shown in labels and text: strings unquoted, arrays and maps as JSON.
    package var text: String {
        switch self {
        case .empty: ""
        case .string(let s): s
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): d.isFinite ? "\(d)" : (d.isNaN ? "NaN" : (d > 0 ? "+Inf" : "-Inf"))
        case .bytes(let b): Base64.encode(b)
        case .array, .keyValueList: JSONText.encode(self)
        }
    }
}

extension [Attribute] {
    /// The value of the first attribute named `key`.
    package subscript(key key: String) -> AttributeValue? {
        first(where: { $0.key == key })?.value
    }
}

/// The name and version of the library that produced a record.
package struct InstrumentationScope: Hashable, Sendable {
    package var name: String
    package var version: String
    package var attributes: [Attribute]

    package init(name: String = "", version: String = "", attributes: [Attribute] = []) {
        self.name = name
        self.version = version
        self.attributes = attributes
    }
}
