/// Maps the level names log shippers put in a `level`/`severity`/`log.level` field to OpenTelemetry severity numbers.
///
/// Only the base number of each range is used: trace 1, debug 5, info 9, warn 13, error 17, fatal 21. Names are
/// compared case-insensitively and the common spellings are accepted (`warning`, `err`, `critical`, `panic`, `dbug`,
/// `eror`, syslog's `notice`/`emerg`/`alert`/`crit`). Unknown names give 0 (unspecified); the text is kept anyway.
package enum LogSeverity {
    /// The field and label names that carry a level, in the order they are looked up.
    package static let levelKeys = ["level", "severity", "log.level"]

    /// The OpenTelemetry severity number for a level name; 0 when the name is not recognised.
    package static func number(forLevel name: String) -> Int32 {
        switch name.lowercased() {
        case "trace", "trc", "finest", "verbose": 1
        case "debug", "dbug", "dbg", "fine", "finer": 5
        case "info", "information", "informational", "inf", "notice": 9
        case "warn", "warning", "wrn": 13
        case "error", "err", "eror", "erro", "severe": 17
        case "fatal", "critical", "crit", "panic", "emerg", "emergency", "alert", "ftl": 21
        default: 0
        }
    }
}
