package import SightlineCore

/// Label-name rules and label-set edits shared by `label_replace`, `label_join` and `count_values`.
package enum LabelName {
    /// Whether `name` is a valid label name under Prometheus 3's UTF-8 validation: non-empty and valid UTF-8.
    ///
    /// A Swift `String` is always valid UTF-8, so invalid bytes can only reach here already decoded as U+FFFD (the
    /// replacement character); such a name is rejected, which is how `"\xff"` from a PromQL string literal fails as it
    /// does in Prometheus. (A name that genuinely contains U+FFFD is rejected too.)
    package static func isValid(_ name: String) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains("\u{FFFD}")
    }

    /// `labels` with `name` set to `value`, or removed when `value` is empty (Prometheus' `labels.Builder.Set`).
    package static func setting(_ name: String, to value: String, in labels: Labels) -> Labels {
        var list = labels.labels
        if let index = list.firstIndex(where: { $0.name == name }) {
            if value.isEmpty {
                list.remove(at: index)
            } else {
                list[index].value = value
            }
            return Labels(list)
        }
        if value.isEmpty { return labels }
        // Insert in name order, so `Labels.init` keeps the list without sorting it again.
        let index = list.firstIndex(where: { $0.name > name }) ?? list.endIndex
        list.insert(Label(name, value), at: index)
        return Labels(list)
    }

    /// `text` in double quotes with Go's `%q` escapes for quotes, backslashes and control characters, as Prometheus'
    /// error messages print names.
    package static func goQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\u{FFFD}": out += "\\ufffd"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
