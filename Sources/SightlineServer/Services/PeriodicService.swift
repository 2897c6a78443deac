import Logging
import ServiceLifecycle

/// Runs one operation every interval until graceful shutdown: the loop around the stores' single operations
/// (checkpoints, compaction, retention). A failing run is logged and the loop goes on.
struct PeriodicService: Service {
    /// What the loop does, for its log messages.
    let name: String
    let interval: Duration
    let logger: Logger
    let operation: @Sendable () async throws -> Void
    /// Runs once more after the loop ends at shutdown (a final digest, say); its failure is logged.
    var atShutdown: (@Sendable () async throws -> Void)?

    func run() async throws {
        // Shutdown cancels the wait at once; a run in progress finishes first only if it does not await.
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                do {
                    try await operation()
                } catch {
                    logger.error("\(name) failed", metadata: ["error": "\(error)"])
                }
            }
        }
        guard let atShutdown else { return }
        do {
            try await atShutdown()
        } catch {
            logger.error("\(name) at shutdown failed", metadata: ["error": "\(error)"])
        }
    }
}
