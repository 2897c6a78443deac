/// Where one chunk of a block lives in the `chunks` file, and the time range it covers: what the index stores per chunk.
struct BlockChunkRef: Sendable, Hashable {
    /// The byte offset of the chunk record in the `chunks` file.
    var offset: UInt64
    /// The length of the whole record (header, payload and CRC).
    var length: UInt32
    /// The first sample time (ms, inclusive).
    var minTime: Int64
    /// The last sample time (ms, inclusive).
    var maxTime: Int64
}
