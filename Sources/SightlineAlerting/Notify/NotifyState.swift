import Foundation
import SightlineCore
import SightlineStorageCore

/// Saves and restores one tenant's notifier state as three JSON files, each written atomically (temporary file,
/// fsync, rename): `alerts.json` (the alert store), `silences.json` and `nflog.json` (the notification log). The same
/// bytes are the documents an ``AlertingStateMirror`` shares.
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

    /// The file name of each shared document kind in a tenant's directory.
    static func fileName(_ kind: AlertingStateDocument.Kind) -> String {
        switch kind {
        case .notifierAlerts: "alerts.json"
        case .silences: "silences.json"
        case .notificationLog: "nflog.json"
        case .ruleAlerts: "rules.json"  // not a notifier document
        }
    }

    /// Encodes the parts named, as they are saved.
    /// - Throws: `internal` when a part does not encode.
    static func encode(_ dispatcher: TenantDispatcher, alerts: Bool, silences: Bool, log: Bool) throws -> [(AlertingStateDocument.Kind, [UInt8])] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func encode(_ value: some Encodable, _ kind: AlertingStateDocument.Kind) throws -> (AlertingStateDocument.Kind, [UInt8]) {
            do { return (kind, Array(try encoder.encode(value))) } catch {
                throw SightlineError(.internal, "cannot encode the notifier's \(fileName(kind)) of tenant \(dispatcher.tenant.id)", cause: error)
            }
        }
        var parts: [(AlertingStateDocument.Kind, [UInt8])] = []
        if alerts {
            let list = dispatcher.alerts.values.sorted { $0.labels < $1.labels }.map { alert in
                PersistedAlert(
                    labels: Dictionary(alert.labels.labels.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }),
                    annotations: Dictionary(alert.annotations.labels.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }),
                    startsAtMs: alert.startsAtMs, endsAtMs: alert.endsAtMs, generatorURL: alert.generatorURL,
                    updatedAtMs: alert.updatedAtMs, timeout: alert.timeout)
            }
            parts.append(try encode(list, .notifierAlerts))
        }
        if silences { parts.append(try encode(dispatcher.silences.all, .silences)) }
        if log { parts.append(try encode(dispatcher.log.entries, .notificationLog)) }
        return parts
    }

    /// Writes the parts named; returns what was written.
    /// - Throws: `io` when a file cannot be written.
    @discardableResult
    static func save(_ dispatcher: TenantDispatcher, directory: String, alerts: Bool, silences: Bool, log: Bool) throws -> [(AlertingStateDocument.Kind, [UInt8])] {
        try POSIXFile.createDirectory(directory)
        let parts = try encode(dispatcher, alerts: alerts, silences: silences, log: log)
        for (kind, bytes) in parts { try POSIXFile.writeAtomically(bytes, to: directory + "/" + fileName(kind)) }
        return parts
    }

    /// Decodes a silences document.
    /// - Throws: `dataCorrupted` naming `source` when it does not decode.
    static func decodeSilences(_ bytes: [UInt8], source: String) throws -> [Silence] {
        try decode([Silence].self, bytes, source: source)
    }

    /// Decodes a notification log document.
    /// - Throws: `dataCorrupted` naming `source` when it does not decode.
    static func decodeLog(_ bytes: [UInt8], source: String) throws -> [String: NotificationLog.Entry] {
        try decode([String: NotificationLog.Entry].self, bytes, source: source)
    }

    /// Decodes an alerts document.
    /// - Throws: `dataCorrupted` naming `source` when it does not decode.
    static func decodeAlerts(_ bytes: [UInt8], source: String) throws -> [StoredAlert] {
        try decode([PersistedAlert].self, bytes, source: source).map { saved in
            StoredAlert(
                labels: Labels(saved.labels.map { Label($0.key, $0.value) }), annotations: Labels(saved.annotations.map { Label($0.key, $0.value) }),
                startsAtMs: saved.startsAtMs, endsAtMs: saved.endsAtMs, generatorURL: saved.generatorURL, updatedAtMs: saved.updatedAtMs,
                timeout: saved.timeout)
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], source: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch {
            throw SightlineError(.dataCorrupted, "notifier state \(source) does not decode", cause: error)
        }
    }

    /// Builds a tenant's dispatcher from documents; a missing document is empty state.
    /// - Throws: `dataCorrupted` naming the document (`source` and its file name) that does not decode.
    static func dispatcher(
        tenant: Tenant, alerts: [UInt8]?, silences: [UInt8]?, log: [UInt8]?, source: String, config: NotifyConfig, nowMs: Int64
    ) throws -> TenantDispatcher {
        var dispatcher = TenantDispatcher(tenant: tenant)
        if let silences { dispatcher.silences = SilenceStore(restoring: try decodeSilences(silences, source: source + "/silences.json")) }
        if let log { dispatcher.log = NotificationLog(entries: try decodeLog(log, source: source + "/nflog.json")) }
        if let alerts { dispatcher.restore(try decodeAlerts(alerts, source: source + "/alerts.json"), config: config, nowMs: nowMs) }
        return dispatcher
    }

    /// Reads a tenant's saved state; missing files are empty state.
    /// - Throws: `dataCorrupted` naming the file that does not decode.
    static func load(tenant: Tenant, directory: String, config: NotifyConfig, nowMs: Int64) throws -> TenantDispatcher {
        func read(_ kind: AlertingStateDocument.Kind) throws -> [UInt8]? {
            let path = directory + "/" + fileName(kind)
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            return try POSIXFile.readAll(path)
        }
        return try dispatcher(
            tenant: tenant, alerts: try read(.notifierAlerts), silences: try read(.silences), log: try read(.notificationLog),
            source: "file " + directory, config: config, nowMs: nowMs)
    }
}
