#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
package import SightlineCore
import SightlineStorageCore
import Synchronization

/// Time zones by name, found as Go's `time.LoadLocation` finds them: `""` and `UTC` are UTC, `Local` is the
/// server's zone (`TZ`, else `/etc/localtime`), any other name is a compiled zone file under `$ZONEINFO` or the
/// system's zoneinfo directories (the Debian package `tzdata`). Zones are read once and kept.
package enum GoLocation {
    private static let loaded = Mutex<[String: ZoneInfo]>([:])
    private static let directories = ["/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/locale/TZ/", "/etc/zoneinfo/"]

    /// The zone called `name`.
    /// - Throws: ``GoLocationError`` with Go's message: `unknown time zone Mars/Olympus`, or
    ///   `time: invalid location name` for a path.
    package static func load(_ name: String) throws(GoLocationError) -> ZoneInfo {
        if name.isEmpty || name == "UTC" { return .utc }
        if let zone = loaded.withLock({ $0[name] }) { return zone }
        let zone = try name == "Local" ? local() : find(name)
        loaded.withLock { $0[name] = zone }
        return zone
    }

    private static func find(_ name: String) throws(GoLocationError) -> ZoneInfo {
        guard !name.hasPrefix("/"), !name.hasPrefix("\\"), !name.split(separator: "/").contains("..") else {
            throw GoLocationError(message: "time: invalid location name")
        }
        var searched = directories
        if let custom = environment("ZONEINFO"), !custom.isEmpty { searched.insert(custom.hasSuffix("/") ? custom : custom + "/", at: 0) }
        for directory in searched {
            guard let bytes = try? POSIXFile.readAll(directory + name) else { continue }
            do {
                return try ZoneInfo(name: name, tzif: bytes)
            } catch {
                throw GoLocationError(message: "unknown time zone \(name)")
            }
        }
        throw GoLocationError(message: "unknown time zone \(name)")
    }

    /// Go's `time.Local`: `TZ` names a zone (`Europe/Paris`, `:Europe/Paris`, a file path) or, empty, UTC; without
    /// `TZ`, `/etc/localtime`; UTC when neither can be read.
    private static func local() -> ZoneInfo {
        /// The zone in a compiled zone file, named Local; nil when it cannot be read.
        func file(_ path: String) -> ZoneInfo? { (try? POSIXFile.readAll(path)).flatMap { try? ZoneInfo(name: "Local", tzif: $0) } }
        guard var tz = environment("TZ") else { return file("/etc/localtime") ?? .utc }
        if tz.hasPrefix(":") { tz.removeFirst() }
        if tz.isEmpty || tz == "UTC" { return .utc }
        if tz.hasPrefix("/") { return file(tz) ?? .utc }
        return (try? find(tz)) ?? .utc
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// A time zone name that names no zone, with Go's message.
package struct GoLocationError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package var description: String { message }
}
