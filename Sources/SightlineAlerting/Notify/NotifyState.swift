import Foundation
import SightlineCore
import SightlineStorageCore

/// Saves and restores one tenant's notifier state as three JSON files, each written atomically (temporary file,
/// fsync, rename): `alerts.json` (the alert store), `silences.json` and `nflog.json` (the notification log).
enum NotifyState {
    private struct PersistedAlert: Codable {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAtMs: Int64
        var endsAtMs: Int64
        var generatorURL: String
        var updatedAtMs: Int64
        var timeout: Bool
    }

    /// Writes the parts named.
    /// - Throws: `io` when a file cannot be written.
    static func save(_ dispatcher: TenantDispatcher, directory: String, alerts: Bool, silences: Bool, log: Bool) throws {
        try POSIXFile.createDirectory(directory)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func write(_ value: some Encodable, _ name: String) throws {
            let data: Data
            do { data = try encoder.encode(value) } catch {
                throw SightlineError(.internal, "cannot encode \(directory)/\(name)", cause: error)
            }
            try POSIXFile.writeAtomically(Array(data), to: directory + "/" + name)
        }
        if alerts {
            let list = dispatcher.alerts.values.sorted { $0.labels < $1.labels }.map { alert in
                PersistedAlert(
                    labels: Dictionary(alert.labels.labels.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }),
                    annotations: Dictionary(alert.annotations.labels.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }),
                    startsAtMs: alert.startsAtMs, endsAtMs: alert.endsAtMs, generatorURL: alert.generatorURL,
                    updatedAtMs: alert.updatedAtMs, timeout: alert.timeout)
            }
            try write(list, "alerts.json")
        }
        if silences { try write(dispatcher.silences.all, "silences.json") }
        if log { try write(dispatcher.log.entries, "nflog.json") }
    }

    /// Reads a tenant's saved state; missing files are empty state.
    /// - Throws: `dataCorrupted` naming the file that does not decode.
    static func load(tenant: Tenant, directory: String, config: NotifyConfig, nowMs: Int64) throws -> TenantDispatcher {
        var dispatcher = TenantDispatcher(tenant: tenant)
        func read<T: Decodable>(_ type: T.Type, _ name: String) throws -> T? {
            let path = directory + "/" + name
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            let bytes = try POSIXFile.readAll(path)
            do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch {
                throw SightlineError(.dataCorrupted, "notifier state file \(path) does not decode", cause: error)
            }
        }
        if let silences = try read([Silence].self, "silences.json") { dispatcher.silences = SilenceStore(restoring: silences) }
        if let entries = try read([String: NotificationLog.Entry].self, "nflog.json") { dispatcher.log = NotificationLog(entries: entries) }
        if let alerts = try read([PersistedAlert].self, "alerts.json") {
            let restored = alerts.map { saved in
                StoredAlert(
                    labels: Labels(saved.labels.map { Label($0.key, $0.value) }), annotations: Labels(saved.annotations.map { Label($0.key, $0.value) }),
                    startsAtMs: saved.startsAtMs, endsAtMs: saved.endsAtMs, generatorURL: saved.generatorURL, updatedAtMs: saved.updatedAtMs,
                    timeout: saved.timeout)
            }
            dispatcher.restore(restored, config: config, nowMs: nowMs)
        }
        return dispatcher
    }
}
