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
