import Logging
import ServiceLifecycle
import SightlineStorageCore

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
    /// Also runs the operation before the interval is up once `isDue` says so, asked every `every` (a checkpoint
    /// once the WAL holds enough); the interval then counts from that run.
    var early: (every: Duration, isDue: @Sendable () -> Bool)?

    func run() async throws {
        // Shutdown cancels the wait at once; a run in progress finishes first only if it does not await.
        try await cancelWhenGracefulShutdown {
            var last = ContinuousClock.now
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: early.map { min($0.every, interval) } ?? interval)
                } catch {
                    return
                }
                if let early, last.duration(to: .now) < interval, !early.isDue() { continue }
                last = .now
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

extension PeriodicService {
    /// Checkpoints `pipeline` every `interval`, and sooner once the WAL holds `maxWALBytes` (0: never sooner),
    /// looked at every `poll`.
    ///
    /// The byte bound keeps a burst from growing the stores' in-memory heads without limit until the interval is up:
    /// at a checkpoint they persist and free what they hold, and the next records reuse that memory instead of pages
    /// the kernel must fault in and zero (a 5 M-line log load spent a quarter of its CPU on that).
    static func checkpoints(
        _ pipeline: IngestPipeline, interval: Duration, maxWALBytes: Int64, logger: Logger, poll: Duration = .milliseconds(250)
    ) -> PeriodicService {
        var service = PeriodicService(name: "checkpoint", interval: interval, logger: logger) {
            guard pipeline.isReady else { return }
            try await pipeline.checkpoint()
        }
        if maxWALBytes > 0 {
            service.early = (poll, { pipeline.isReady && pipeline.wal.totalBytes >= maxWALBytes })
        }
        return service
    }
}
