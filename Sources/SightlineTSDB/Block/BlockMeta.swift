/// The metadata of one block, stored as `meta.json` in its directory.
///
/// Times are in ms since the epoch and both bounds are inclusive: every sample in the block lies in `minTime...maxTime`.
package struct BlockMeta: Codable, Sendable, Hashable {
    /// The format version this code writes. Version 2 added the `times` file and chunk records that refer to it.
    package static let currentVersion = 2
    /// The format versions this code reads; blocks with another version are refused.
    package static let readableVersions = 1...2

    /// Counts describing a block's content.
    package struct Stats: Codable, Sendable, Hashable {
        /// How many series the block holds.
        package var series: Int64
        /// The sum of the chunks' sample counts.
        package var samples: Int64
        /// How many chunks the block holds.
        package var chunks: Int64
        /// The size of the `index`, `times` and `chunks` files together.
        package var bytes: Int64

        /// Creates stats.
        package init(series: Int64, samples: Int64, chunks: Int64, bytes: Int64) {
            self.series = series
            self.samples = samples
            self.chunks = chunks
            self.bytes = bytes
        }
    }

    /// The on-disk format version of the block's files (``currentVersion`` when written by this code).
    package var version: Int
    /// The block's id, also the name of its directory.
    package var id: String
    /// The earliest sample time in the block (ms, inclusive).
    package var minTime: Int64
    /// The latest sample time in the block (ms, inclusive).
    package var maxTime: Int64
    /// 0 for a block flushed from the head; a compacted block has the highest level of its inputs plus one.
    package var level: Int
    /// The ids of the blocks merged directly into this one (empty for a flushed block), sorted.
    package var sources: [String]
    /// Counts of what the block holds.
    package var stats: Stats

    /// Creates metadata.
    package init(version: Int = BlockMeta.currentVersion, id: String, minTime: Int64, maxTime: Int64, level: Int, sources: [String], stats: Stats) {
        self.version = version
        self.id = id
        self.minTime = minTime
        self.maxTime = maxTime
        self.level = level
        self.sources = sources
        self.stats = stats
    }

    /// Whether the block holds data in `minTime...maxTime` (both inclusive).
    package func overlaps(minTime: Int64, maxTime: Int64) -> Bool {
        self.minTime <= maxTime && self.maxTime >= minTime
    }
}
