package import SightlineCore

/// How the samples of a chunk are encoded.
package enum ChunkEncoding: UInt8, Sendable, Hashable {
    /// Delta-of-delta timestamps and XOR-compressed float values (Gorilla), as Prometheus does.
    case xor = 1
    /// Delta-of-delta timestamps and decimal mantissas as bit-packed deltas (``DecimalChunk``); blocks only.
    case decimal = 2
}

/// One encoded chunk of one series: what the head hands to blocks and blocks hand back to queries.
///
/// Blocks store `bytes` as they are; only the chunk codecs look inside.
package struct ChunkData: Sendable, Hashable {
    /// The first and last sample time in the chunk, in ms.
    package var minTime: Int64
    package var maxTime: Int64
    /// How many samples the chunk holds.
    package var sampleCount: Int
    package var encoding: ChunkEncoding
    package var bytes: [UInt8]

    package init(minTime: Int64, maxTime: Int64, sampleCount: Int, encoding: ChunkEncoding, bytes: [UInt8]) {
        self.minTime = minTime
        self.maxTime = maxTime
        self.sampleCount = sampleCount
        self.encoding = encoding
        self.bytes = bytes
    }
}

/// A series and its chunks in ascending `minTime`; chunks may overlap when out-of-order samples were accepted.
package struct SeriesChunks: Sendable, Hashable {
    package var labels: Labels
    package var chunks: [ChunkData]

    package init(labels: Labels, chunks: [ChunkData]) {
        self.labels = labels
        self.chunks = chunks
    }
}
