import Logging
import ServiceLifecycle
import SightlineStorageCore

/// Checkpoints the ingestion pipeline every `interval`, and sooner once the WAL holds `maxWALBytes` (0: never
/// sooner), checked four times a second.
///
/// The byte bound keeps a burst from growing the stores' in-memory heads without limit until the interval is up: at
/// a checkpoint they persist and free what they hold, and the next records reuse that memory instead of pages the
/// kernel must fault in and zero (a 5 M-line log load spent a quarter of its CPU on that).
struct CheckpointService: Service {
    let pipeline: IngestPipeline
    let interval: Duration
    let maxWALBytes: Int64
    let logger: Logger
    /// How often the WAL's size is looked at.
    var pollInterval: Duration = .milliseconds(250)

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            var last = ContinuousClock.now
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: maxWALBytes > 0 ? min(pollInterval, interval) : interval)
                } catch {
                    return
                }
                guard pipeline.isReady else { continue }
                let due = last.duration(to: .now) >= interval
                guard due || (maxWALBytes > 0 && pipeline.wal.totalBytes >= maxWALBytes) else { continue }
                do {
                    try await pipeline.checkpoint()
                } catch {
                    logger.error("checkpoint failed", metadata: ["error": "\(error)"])
                }
                last = .now
            }
        }
    }
}
