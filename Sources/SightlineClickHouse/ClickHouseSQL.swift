import SightlineCore

/// Building SQL for ClickHouse 18.16, which has no query parameters: every value goes through ``quote(_:)``.
package enum ClickHouseSQL {
    /// A string literal: single quotes, with backslash, quote and control characters escaped as ClickHouse reads them.
    package static func quote(_ value: String) -> String {
        var out = "'"
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\0": out += "\\0"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "'"
    }

    /// `toDate('YYYY-MM-DD')`: a `Date` value for a day since 1970-01-01 (UTC), as the tables' `day` columns hold.
    package static func date(day: Int64) -> String {
        let (year, month, dayOfMonth) = CivilTime.civil(fromDays: day)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "toDate('\(year)-\(two(month))-\(two(dayOfMonth))')"
    }

    /// `[...]`: an array literal of strings.
    package static func array(_ values: [String]) -> String {
        "[" + values.map(quote).joined(separator: ", ") + "]"
    }

    /// `ids` as the lists of `IN (…)` conditions, at most `size` ids each, so a statement stays of bounded length.
    package static func inLists(_ ids: [UInt64], size: Int = 10_000) -> [String] {
        stride(from: 0, to: ids.count, by: size).map { start in ids[start..<min(start + size, ids.count)].map(String.init).joined(separator: ",") }
    }

    /// Whether `name` can be a database, table or column name without quoting.
    package static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, first == UInt8(ascii: "_") || (first | 0x20) >= UInt8(ascii: "a") && (first | 0x20) <= UInt8(ascii: "z")
        else { return false }
        return name.utf8.allSatisfy { byte in
            byte == UInt8(ascii: "_") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || ((byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z"))
        }
    }
}
