import Foundation
import Logging
import SightlineTSDB

extension TSDB {
    /// One maintenance pass: compaction, retention, and the engine's state in the server's metrics.
    func maintain(metrics: ServerMetrics, logger: Logger) throws {
        let merged = try compact()
        let removed = try applyRetention(nowMs: Int64(Date().timeIntervalSince1970 * 1000))
        if merged > 0 || !removed.isEmpty {
            logger.info("metrics blocks maintained", metadata: ["merged_blocks": "\(merged)", "removed_blocks": "\(removed.count)"])
        }
        metrics.tsdbState(blockBytes: blockBytes, discarded: discarded, exemplars: exemplarState)
    }
}

extension Duration {
    /// The duration in whole milliseconds.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
