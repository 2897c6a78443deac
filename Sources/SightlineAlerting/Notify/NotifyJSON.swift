import SightlineCore
import SightlineQuery

/// Go's `encoding/json` for notification template values, as Alertmanager's `toJson` produces it: Alertmanager's
/// structs with their JSON names (`receiver`, `commonLabels`, `startsAt`, …, in declaration order), maps with sorted
/// keys, times in RFC 3339 with nanoseconds, durations as nanoseconds, and `<`, `>`, `&` escaped as `\u003c`, ….
enum NotifyJSON {
    static func encode(_ value: NotifyTemplateValue) throws(GoTemplateFailure) -> String {
        var out = ""
        try append(value, to: &out)
        return out
    }

    private static func append(_ value: NotifyTemplateValue, to out: inout String) throws(GoTemplateFailure) {
        switch value {
        case .string(let text), .html(let text): appendString(text, to: &out)
        case .int(let number): out += String(number)
        case .float(let number):
            guard number.isFinite else { throw .returned("json: unsupported value: \(PromQLFloat.formatG(number))") }
            var text = Array(PromQLFloat.formatAPI(number).utf8)
            // encoding/json writes e-07 as e-7.
            let n = text.count
            if n >= 4, text[n - 4] == UInt8(ascii: "e"), text[n - 3] == UInt8(ascii: "-"), text[n - 2] == UInt8(ascii: "0") { text.remove(at: n - 2) }
            out += String(decoding: text, as: UTF8.self)
        case .bool(let flag): out += flag ? "true" : "false"
        case .null: out += "null"
        case .duration(let nanoseconds): out += String(nanoseconds)
        case .time(let instant, let zone):
            let local = zone.kind(atSecond: instant.seconds)
            appendString(GoTime.format(instant, layout: "2006-01-02T15:04:05.999999999Z07:00", zone: local), to: &out)
        case .list(let items, _):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                try append(item, to: &out)
            }
            out += "]"
        case .kv(let pairs):
            out += "{"
            for (index, (key, text)) in pairs.sorted(by: { $0.0 < $1.0 }).enumerated() {
                if index > 0 { out += "," }
                appendString(key, to: &out)
                out += ":"
                appendString(text, to: &out)
            }
            out += "}"
        case .dict(let entries):
            out += "{"
            for (index, key) in entries.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                appendString(key, to: &out)
                out += ":"
                try append(entries[key] ?? .null, to: &out)
            }
            out += "}"
        case .object(let fields):
            // A Pair has no JSON tags (`Name`, `Value`); Data's and Alert's fields have lowerCamelCase ones.
            let isPair = Set(fields.keys) == ["Name", "Value"]
            out += "{"
            for (index, name) in NotifyTemplateValue.fieldOrder(fields).enumerated() {
                if index > 0 { out += "," }
                appendString(isPair ? name : name.prefix(1).lowercased() + name.dropFirst(), to: &out)
                out += ":"
                try append(fields[name] ?? .null, to: &out)
            }
            out += "}"
        }
    }

    /// A JSON string with Go's escapes: `\"`, `\\`, `\n`, `\r`, `\t`, other control characters, `<`, `>`, `&`,
    /// U+2028 and U+2029 as `\uXXXX`.
    static func appendString(_ text: String, to out: inout String) {
        JSONText.appendString(text, to: &out, htmlSafe: true)
    }

    /// The position Go's decoder names for malformed base64: the first byte outside the URL alphabet, else the length
    /// rounded down to a whole quantum.
    static func firstBadBase64Byte(_ text: String) -> Int {
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=".utf8)
        if let index = text.utf8.firstIndex(where: { !alphabet.contains($0) }) { return text.utf8.distance(from: text.utf8.startIndex, to: index) }
        return text.utf8.count / 4 * 4
    }
}
