import Logging
import ServiceLifecycle
import SightlineCore

/// Owns the WAL and the stores for the life of the server: replays the WAL when it starts, and on graceful shutdown
/// (after the listeners above it have stopped) persists the stores and closes the WAL, flushed and fsynced.
struct StorageService: Service {
    let pipeline: IngestPipeline
    let logger: Logger

    func run() async throws {
        try pipeline.replayAndOpen()
        try? await gracefulShutdown()
        logger.info("storage: final checkpoint and WAL close")
        try await pipeline.shutdown()
        logger.info("storage closed")
    }
}

/// Persists the stores every interval so the WAL stays small: a loop around ``IngestPipeline/checkpoint()``.
struct CheckpointService: Service {
    let pipeline: IngestPipeline
    let interval: Duration
    let logger: Logger

    func run() async throws {
        // Shutdown cancels the wait at once; the final checkpoint is the storage service's job.
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                guard pipeline.isReady else { continue }
                do {
                    try await pipeline.checkpoint()
                } catch {
                    logger.error("checkpoint failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
