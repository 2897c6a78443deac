import Foundation
import Logging
import ServiceLifecycle
import SightlineTSDB

/// Compacts blocks and applies retention every interval: a loop around the engine's single operations.
struct TSDBMaintenanceService: Service {
    let tsdb: TSDB
    let interval: Duration
    let metrics: ServerMetrics
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                do {
                    let merged = try tsdb.compact()
                    let removed = try tsdb.applyRetention(nowMs: Int64(Date().timeIntervalSince1970 * 1000))
                    if merged > 0 || !removed.isEmpty {
                        logger.info("metrics blocks maintained", metadata: ["merged_blocks": "\(merged)", "removed_blocks": "\(removed.count)"])
                    }
                    metrics.tsdbState(blockBytes: tsdb.blockBytes, discarded: tsdb.discarded)
                } catch {
                    logger.error("metrics maintenance failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

extension Duration {
    /// The duration in whole milliseconds.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
