import Foundation

/// A JSON value, for an event's `before` and `after` snapshots.
///
/// Build it with literals (`["status": "paid", "amount_cents": 1200]`) or from any `Encodable` with
/// `AuditJSON(encoding:)`. Object keys are written sorted, so the same value always gives the same bytes.
public enum AuditJSON: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A whole number, written without a fraction.
    case int(Int64)
    /// A number with a fraction; NaN and infinities are written as `null` since JSON has no spelling for them.
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([AuditJSON])
    /// An object.
    case object([String: AuditJSON])

    /// Converts any `Encodable` value (e.g. the app's model struct) through its JSON encoding.
    public init(encoding value: some Encodable) throws {
        let data = try JSONEncoder().encode(value)
        self = try JSONDecoder().decode(AuditJSON.self, from: data)
    }

    /// Parses JSON text.
    public init(parsing text: String) throws {
        self = try JSONDecoder().decode(AuditJSON.self, from: Data(text.utf8))
    }

    /// The value as compact JSON text (object keys sorted).
    public var jsonText: String {
        var writer = JSONWriter()
        writer.value(self)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

extension AuditJSON: Codable {
    /// Decodes any JSON value; booleans are tried before numbers and whole numbers before fractions.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([AuditJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: AuditJSON].self))
        }
    }

    /// Encodes the value as the JSON it stands for.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): if value.isFinite { try container.encode(value) } else { try container.encodeNil() }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension AuditJSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: AuditJSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, AuditJSON)...) {
        var object: [String: AuditJSON] = [:]
        for (key, value) in elements { object[key] = value }
        self = .object(object)
    }
}
