/// Writes JSON text by hand, without Foundation, for attribute values and API responses.
package enum JSONText {
    /// Appends `value` as a JSON string literal, escaping what JSON requires. `htmlSafe` also writes `<`, `>`, `&`,
    /// U+2028 and U+2029 as `\uXXXX`, as Go's encoders do by default (Alertmanager's payloads, Loki's patterns).
    package static func appendString(_ value: String, to out: inout String, htmlSafe: Bool = false) {
        out.append("\"")
        // Most strings (label values, numbers, names) need no escape: append them whole, not scalar by scalar.
        let mayNeedEscape = value.utf8.contains { byte in
            byte < 0x20 || byte == 0x22 || byte == 0x5C || (htmlSafe && (byte == 0x3C || byte == 0x3E || byte == 0x26 || byte == 0xE2))
        }
        guard mayNeedEscape else {
            out.append(value)
            out.append("\"")
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                if htmlSafe { appendUnicodeEscape(scalar, to: &out) } else { out.unicodeScalars.append(scalar) }
            default:
                if scalar.value < 0x20 { appendUnicodeEscape(scalar, to: &out) } else { out.unicodeScalars.append(scalar) }
            }
        }
        out.append("\"")
    }

    /// `\uXXXX` for a scalar of the Basic Multilingual Plane.
    private static func appendUnicodeEscape(_ scalar: Unicode.Scalar, to out: inout String) {
        let hex = String(scalar.value, radix: 16)
        out.append("\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex)
    }

    /// A JSON string literal for `value`.
    package static func quoted(_ value: String) -> String { quoted(value, htmlSafe: false) }

    /// A JSON string literal for `value` (see ``appendString(_:to:htmlSafe:)``).
    package static func quoted(_ value: String, htmlSafe: Bool) -> String {
        var out = ""
        appendString(value, to: &out, htmlSafe: htmlSafe)
        return out
    }

    /// A JSON number for `value`; non-finite values become strings ("NaN", "+Inf", "-Inf") as Prometheus writes them.
    package static func number(_ value: Double) -> String {
        if value.isNaN { return "\"NaN\"" }
        if value.isInfinite { return value > 0 ? "\"+Inf\"" : "\"-Inf\"" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// The plain JSON form of an attribute value: maps become objects, bytes base64 strings, empty null.
    package static func encode(_ value: AttributeValue) -> String {
        var out = ""
        append(value, to: &out)
        return out
    }

    /// Appends the plain JSON form of an attribute value.
    package static func append(_ value: AttributeValue, to out: inout String) {
        switch value {
        case .empty: out.append("null")
        case .string(let s): appendString(s, to: &out)
        case .bool(let b): out.append(b ? "true" : "false")
        case .int(let i): out.append(String(i))
        case .double(let d): out.append(number(d))
        case .bytes(let b): appendString(Base64.encode(b), to: &out)
        case .array(let values):
            out.append("[")
            for (index, element) in values.enumerated() {
                if index > 0 { out.append(",") }
                append(element, to: &out)
            }
            out.append("]")
        case .keyValueList(let attributes): appendObject(attributes, to: &out)
        }
    }

    /// Appends labels as one JSON object in label order: `{"__name__":"up","job":"node"}`.
    package static func appendLabels(_ labels: Labels, to out: inout String) {
        appendLabels(labels.labels, to: &out)
    }

    /// Appends a list of labels as one JSON object in the list's order.
    package static func appendLabels(_ labels: [Label], to out: inout String) {
        out.append("{")
        for (index, label) in labels.enumerated() {
            if index > 0 { out.append(",") }
            appendString(label.name, to: &out)
            out.append(":")
            appendString(label.value, to: &out)
        }
        out.append("}")
    }

    /// Appends attributes as one JSON object.
    package static func appendObject(_ attributes: [Attribute], to out: inout String) {
        out.append("{")
        for (index, attribute) in attributes.enumerated() {
            if index > 0 { out.append(",") }
            appendString(attribute.key, to: &out)
            out.append(":")
            append(attribute.value, to: &out)
        }
        out.append("}")
    }
}

/// Helpers for the Prometheus text format.
package enum PromText {
    /// Escapes a label value: backslash, double quote and newline.
    package static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out.append("\\\\")
            case "\"": out.append("\\\"")
            case "\n": out.append("\\n")
            default: out.append(c)
            }
        }
        return out
    }
}
