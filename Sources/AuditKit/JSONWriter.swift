/// Appends compact JSON to a byte array. Small and allocation-light, because `record` runs inside the app's
/// transaction and the relay concatenates the stored texts without re-encoding them.
struct JSONWriter {
    /// The JSON written so far, UTF-8.
    var bytes: [UInt8] = []

    /// Appends text that is already JSON (punctuation, keys known to need no escaping).
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends `,"key":"value"` when the value is present.
    mutating func optional(_ key: StaticString, _ value: String?) {
        guard let value else { return }
        raw(",\"")
        raw(key)
        raw("\":")
        string(value)
    }

    /// Appends a quoted string, escaping `"`, `\` and control characters as RFC 8259 requires.
    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case 0x0A: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends any JSON value; object keys sorted so equal values give equal bytes.
    mutating func value(_ value: AuditJSON) {
        switch value {
        case .null: raw("null")
        case .bool(let flag): flag ? raw("true") : raw("false")
        case .int(let number): bytes.append(contentsOf: String(number).utf8)
        case .double(let number):
            if number.isFinite { bytes.append(contentsOf: number.description.utf8) } else { raw("null") }
        case .string(let text): string(text)
        case .array(let elements):
            raw("[")
            for (index, element) in elements.enumerated() {
                if index > 0 { raw(",") }
                self.value(element)
            }
            raw("]")
        case .object(let members):
            raw("{")
            var first = true
            for key in members.keys.sorted() {
                if !first { raw(",") }
                first = false
                string(key)
                raw(":")
                self.value(members[key] ?? .null)
            }
            raw("}")
        }
    }
}
