/// Durations as Prometheus prints them (`model.Duration.String()`): `1h30m`, `90d`, `1w`, `0s`.
package enum PrometheusDuration {
    /// A number of milliseconds: units from years to milliseconds, years and weeks only when the duration is a whole
    /// number of them; a leading `-` for negative values.
    package static func format(milliseconds: Int64) -> String {
        if milliseconds == 0 { return "0s" }
        var rest = milliseconds.magnitude
        var out = milliseconds < 0 ? "-" : ""
        let units: [(String, UInt64, Bool)] = [
            ("y", 1000 * 60 * 60 * 24 * 365, true), ("w", 1000 * 60 * 60 * 24 * 7, true),
            ("d", 1000 * 60 * 60 * 24, false), ("h", 1000 * 60 * 60, false), ("m", 1000 * 60, false),
            ("s", 1000, false), ("ms", 1, false),
        ]
        for (unit, size, exact) in units {
            if exact && rest % size != 0 { continue }
            let count = rest / size
            if count > 0 {
                out += "\(count)\(unit)"
                rest -= count * size
            }
        }
        return out
    }
}
