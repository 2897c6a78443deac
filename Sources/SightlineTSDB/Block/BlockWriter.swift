import SightlineCore

/// Writes a whole block from series held in memory: what the head calls when it flushes.
package enum BlockWriter {
    /// Writes `series` as a new block in `parentDirectory` and returns its metadata.
    ///
    /// Series are sorted by label order (`Labels`' `<`); series with the same labels are merged (their chunks concatenated);
    /// series without chunks are dropped. The block is written to `<id>.tmp/`, every file and the directory are
    /// fsynced, then it is renamed to `<id>/` and the parent directory is fsynced: a crash leaves either no block
    /// or a complete one (plus a `.tmp` directory that ``BlockStore`` deletes on open).
    ///
    /// - Parameters:
    ///   - series: the series and their chunks; chunk bytes are stored as they are.
    ///   - level: 0 for a head flush; compaction writes higher levels.
    ///   - sources: ids of the blocks this one replaces (empty for a flush).
    ///   - parentDirectory: the tenant's block directory; it must exist.
    /// - Returns: the new block's metadata, or nil when there is no chunk at all (no directory is left behind).
    /// - Throws: `invalidArgument` for a chunk with maxTime < minTime, `io` when the file system fails.
    @discardableResult
    package static func write(_ series: [SeriesChunks], level: Int, sources: [String], into parentDirectory: String) throws -> BlockMeta? {
        let nonEmpty = series.filter { !$0.chunks.isEmpty }
        guard !nonEmpty.isEmpty else { return nil }
        let sorted = nonEmpty.sorted { $0.labels < $1.labels }
        let builder = try BlockBuilder(parentDirectory: parentDirectory, level: level, sources: sources)
        var index = 0
        while index < sorted.count {
            var chunks = sorted[index].chunks
            var next = index + 1
            while next < sorted.count, sorted[next].labels == sorted[index].labels {
                chunks += sorted[next].chunks
                next += 1
            }
            do {
                try builder.append(sorted[index].labels, chunks)
            } catch {
                builder.abort()
                throw error
            }
            index = next
        }
        return try builder.finish()
    }
}
