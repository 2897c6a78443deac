import Logging
import Synchronization

/// A log handler that keeps what was logged, to check warnings.
struct CapturingLogHandler: LogHandler {
    final class Store: Sendable {
        let entries = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        store.entries.withLock { $0.append((event.level, event.message.description, event.metadata ?? [:])) }
    }

    static func logger() -> (Logger, Store) {
        let store = Store()
        return (Logger(label: "test.wal") { _ in CapturingLogHandler(store: store) }, store)
    }
}
