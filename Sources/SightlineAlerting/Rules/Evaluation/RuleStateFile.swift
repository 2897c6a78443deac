import Foundation
import SightlineCore

/// The alerts of one tenant's alerting rules on disk, so that a restart continues `for` timers and keeps firing
/// alerts firing with their original `activeAt` instead of paging again.
///
/// One file per tenant, `<directory>/<tenant>.alerts.json`, rewritten atomically (write to a temporary file, then
/// rename) after every evaluation that changed an alert. Format (JSON, version 1):
/// ```json
/// {"version":1,"rules":[{"file":"f.yml","group":"g","name":"HighLatency","expr":"…","labels":[["severity","page"]],
///   "alerts":[{"labels":[["alertname","HighLatency"],…],"annotations":[…],"state":"firing","value":"1.5",
///              "activeAtMs":…,"firedAtMs":…,"resolvedAtMs":null,"keepFiringSinceMs":null,"lastSentAtMs":…,
///              "validUntilMs":…}]}]}
/// ```
/// A rule's alerts are restored when a rule with the same file, group, name, expression and labels is loaded.
struct RuleStateFile: Codable, Sendable {
    struct StoredAlert: Codable, Sendable {
        var labels: [[String]]
        var annotations: [[String]]
        var state: AlertState
        /// The value as text, so that NaN and infinities survive JSON.
        var value: String
        var activeAtMs: Int64
        var firedAtMs: Int64?
        var resolvedAtMs: Int64?
        var keepFiringSinceMs: Int64?
        var lastSentAtMs: Int64?
        var validUntilMs: Int64?
    }

    struct StoredRule: Codable, Sendable {
        var file: String
        var group: String
        var name: String
        var expr: String
        var labels: [[String]]
        var alerts: [StoredAlert]
    }

    var version = 1
    var rules: [StoredRule] = []

    /// The key a rule's state is found by.
    static func key(file: String, group: String, rule: RuleDefinition, labels: [Label]) -> String {
        ([file, group, rule.name, rule.expr] + labels.flatMap { [$0.name, $0.value] }).joined(separator: "\u{0}")
    }

    func key(of rule: StoredRule) -> String {
        ([rule.file, rule.group, rule.name, rule.expr] + rule.labels.flatMap { $0 }).joined(separator: "\u{0}")
    }

    static func encode(_ labels: Labels) -> [[String]] { labels.labels.map { [$0.name, $0.value] } }

    static func decode(_ pairs: [[String]]) -> Labels {
        Labels(pairs.compactMap { $0.count == 2 ? Label($0[0], $0[1]) : nil })
    }

    static func stored(_ alert: ActiveAlert) -> StoredAlert {
        StoredAlert(
            labels: encode(alert.labels), annotations: encode(alert.annotations), state: alert.state, value: "\(alert.value)",
            activeAtMs: alert.activeAtMs, firedAtMs: alert.firedAtMs, resolvedAtMs: alert.resolvedAtMs,
            keepFiringSinceMs: alert.keepFiringSinceMs, lastSentAtMs: alert.lastSentAtMs, validUntilMs: alert.validUntilMs)
    }

    static func restored(_ stored: StoredAlert) -> ActiveAlert {
        ActiveAlert(
            labels: decode(stored.labels), annotations: decode(stored.annotations), state: stored.state,
            value: Double(stored.value) ?? .nan, activeAtMs: stored.activeAtMs, firedAtMs: stored.firedAtMs,
            resolvedAtMs: stored.resolvedAtMs, lastSentAtMs: stored.lastSentAtMs, validUntilMs: stored.validUntilMs,
            keepFiringSinceMs: stored.keepFiringSinceMs)
    }

    /// The state file of `tenant` in `directory`.
    static func path(directory: String, tenant: Tenant) -> String {
        (directory.hasSuffix("/") ? directory : directory + "/") + tenant.id + ".alerts.json"
    }

    /// Reads the file at `path`; nil when there is none.
    /// - Throws: `dataCorrupted` naming the file when it does not decode.
    static func read(path: String) throws -> RuleStateFile? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try decode(Array(data), source: "alert state file \(path)")
    }

    /// Decodes a document (a file's or a shared copy's bytes).
    /// - Throws: `dataCorrupted` naming `source` when it does not decode.
    static func decode(_ bytes: [UInt8], source: String) throws -> RuleStateFile {
        do {
            return try JSONDecoder().decode(RuleStateFile.self, from: Data(bytes))
        } catch {
            throw SightlineError(.dataCorrupted, "\(source) does not decode", cause: error)
        }
    }

    /// The document's bytes, as written.
    /// - Throws: `internal` when it does not encode.
    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return Array(try encoder.encode(self))
        } catch {
            throw SightlineError(.internal, "cannot encode the alert state", cause: error)
        }
    }

    /// Writes `bytes` to `path` atomically, creating the directory when needed.
    /// - Throws: `io` naming the file.
    static func write(_ bytes: [UInt8], path: String) throws {
        do {
            let directory = (path as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw SightlineError(.io, "cannot write alert state file \(path)", cause: error)
        }
    }

    /// Writes the file atomically, creating the directory when needed.
    /// - Throws: `io` naming the file.
    func write(path: String) throws {
        try Self.write(try encoded(), path: path)
    }
}
