import SightlineCore

/// Merges blocks into one new block, streaming series by series.
package enum Compactor {
    /// Chunks with fewer samples than this are "small": when a series has two or more of them (level-0 flushes hold
    /// what a series gathered between two checkpoints), its chunks go through `merge` to be re-encoded into full ones.
    package static let smallChunkSamples = ChunkCodec.samplesPerChunk

    /// Writes one block holding every series of `blocks` into `parentDirectory` and returns its metadata.
    ///
    /// Series are merged by labels (k-way, in label order (`Labels`' `<`)). The chunks of one series are concatenated in minTime
    /// order (equal minTimes in block creation order, older block first, so a merge that lets later chunks win on
    /// equal timestamps prefers newer data) and passed through `merge` when any two overlap or when at least two are
    /// under ``smallChunkSamples``;
    /// otherwise they are copied byte for byte. The new block has level `max(levels) + 1` and the input ids as
    /// sources. The input blocks are not deleted: that is the caller's job once the new block is in use.
    ///
    /// - Parameter merge: re-encodes the chunks of one series (given in minTime order) into chunks in minTime order;
    ///   the block layer never decodes chunk bytes itself.
    /// - Returns: the new block's metadata, or nil when the inputs hold no chunk (nothing is written).
    /// - Throws: whatever reading the inputs, `merge` or writing throws; no partial block is left behind.
    package static func compact(_ blocks: [Block], into parentDirectory: String, merge: ([ChunkData]) throws -> [ChunkData]) throws -> BlockMeta? {
        guard !blocks.isEmpty else { return nil }
        let blocks = blocks.sorted { $0.meta.id < $1.meta.id }  // ids sort by creation time
        let builder = try BlockBuilder(
            parentDirectory: parentDirectory, level: (blocks.map(\.meta.level).max() ?? 0) + 1, sources: blocks.map(\.meta.id))
        do {
            var next = [Int](repeating: 0, count: blocks.count)
            var current: [Labels?] = blocks.map { $0.seriesCount > 0 ? $0.labels(ofSeries: 0) : nil }
            while true {
                var smallest: Labels?
                for case let labels? in current where smallest.map({ labels < $0 }) ?? true { smallest = labels }
                guard let labels = smallest else { break }
                var chunks: [ChunkData] = []
                for (i, block) in blocks.enumerated() where current[i] == labels {
                    chunks += try block.chunks(ofSeries: next[i])
                    next[i] += 1
                    current[i] = next[i] < block.seriesCount ? block.labels(ofSeries: next[i]) : nil
                }
                try builder.append(labels, try mergeIfNeeded(chunks, merge: merge))
            }
            return try builder.finish()
        } catch {
            builder.abort()
            throw error
        }
    }

    /// Writes a copy of `block` into `parentDirectory` in which `rewrite` replaced the chunks of the series `refs`
    /// names (ascending references); the other series are copied byte for byte, and a series left without chunks is
    /// left out. The copy keeps the block's level and lists the block as its source, so that opening the directory
    /// after a crash deletes whichever of the two the swap did not.
    /// - Returns: the new block's metadata, or nil when no chunk is left (nothing is written).
    /// - Throws: whatever reading the block, `rewrite` or writing throws; no partial block is left behind.
    package static func rewrite(
        _ block: Block, into parentDirectory: String, series refs: [Int], _ rewrite: ([ChunkData]) throws -> [ChunkData]
    ) throws -> BlockMeta? {
        let builder = try BlockBuilder(parentDirectory: parentDirectory, level: block.meta.level, sources: [block.meta.id])
        do {
            var next = 0
            for ref in 0..<block.seriesCount {
                var chunks = try block.chunks(ofSeries: ref)
                if next < refs.count && refs[next] == ref {
                    chunks = try rewrite(chunks)
                    next += 1
                }
                if !chunks.isEmpty { try builder.append(block.labels(ofSeries: ref), chunks) }
            }
            return try builder.finish()
        } catch {
            builder.abort()
            throw error
        }
    }

    /// The chunks of one series in minTime order, passed through `merge` when they overlap or hold several small ones.
    static func mergeIfNeeded(_ chunks: [ChunkData], merge: ([ChunkData]) throws -> [ChunkData]) throws -> [ChunkData] {
        let sorted = chunks.enumerated().sorted { ($0.element.minTime, $0.offset) < ($1.element.minTime, $1.offset) }.map(\.element)
        guard sorted.count >= 2 else { return sorted }
        var overlap = false
        var small = 0
        var latest = Int64.min
        for chunk in sorted {
            if chunk.sampleCount < smallChunkSamples { small += 1 }
            if chunk.minTime <= latest { overlap = true }
            latest = max(latest, chunk.maxTime)
        }
        guard overlap || small >= 2 else { return sorted }
        return try merge(sorted)
    }
}
