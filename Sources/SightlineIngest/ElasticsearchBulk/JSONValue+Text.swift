import SightlineCore

extension JSONValue {
    /// The value as compact JSON text, numbers exactly as they were written.
    package var jsonText: String {
        var out = ""
        appendJSON(to: &out)
        return out
    }

    private func appendJSON(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let text): out += text
        case .string(let text): JSONText.appendString(text, to: &out)
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.appendJSON(to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for index in object.keys.indices {
                if index > 0 { out += "," }
                JSONText.appendString(object.keys[index], to: &out)
                out += ":"
                object.values[index].appendJSON(to: &out)
            }
            out += "}"
        }
    }
}
