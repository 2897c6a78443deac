import Foundation
import SightlineCore
import SightlineStorageCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one block, series by series, into `<parent>/<id>.tmp/` and renames it into place on ``finish()``.
///
/// Chunk records stream to the `chunks` file through a buffer; the index is built in memory and written at the end.
/// Not thread-safe: one builder is used by one caller. Call ``finish()`` or ``abort()`` exactly once.
final class BlockBuilder {
    /// The id the finished block gets.
    let id: String
    private let parentDirectory: String
    private let temporaryPath: String
    private let chunksPath: String
    private let level: Int
    private let sources: [String]
    private var chunksFD: Int32
    private var buffer = ByteWriter(capacity: BlockBuilder.bufferSize + 4096)
    private var written: UInt64 = 0
    private var series: [BlockIndexEncoder.Series] = []
    /// The decimal chunks' time sections seen so far, and those stored once in `times`.
    private var sharing = TimeSectionSharing()
    private var samples: Int64 = 0
    private var minTime = Int64.max
    private var maxTime = Int64.min
    private var closed = false

    /// How many bytes of chunk records are buffered before they are written.
    private static let bufferSize = 1 << 20

    /// Creates `<parentDirectory>/<id>.tmp/` and its `chunks` file.
    init(parentDirectory: String, level: Int, sources: [String], nowMs: Int64 = BlockFiles.nowMs()) throws {
        self.parentDirectory = parentDirectory
        self.level = level
        self.sources = Array(Set(sources)).sorted()
        id = BlockID.generate(nowMs: nowMs)
        temporaryPath = BlockFileNames.join(parentDirectory, BlockFileNames.temporaryDirectory(id))
        chunksPath = BlockFileNames.join(temporaryPath, BlockFileNames.chunks)
        try POSIXFile.createDirectory(temporaryPath)
        do {
            chunksFD = try POSIXFile.open(chunksPath, O_WRONLY | O_CREAT | O_TRUNC)
        } catch {
            try? BlockFiles.removeTree(temporaryPath)
            throw error
        }
        buffer.writeRaw(BlockFormat.chunksMagic)
        buffer.writeByte(BlockFormat.chunksVersion)
    }

    deinit {
        if !closed {
            POSIXFile.close(chunksFD)
            try? BlockFiles.removeTree(temporaryPath)
        }
    }

    /// Appends a series. Series must come in strictly ascending label order (`Labels`' `<`); a series without chunks is skipped.
    /// Chunks are stored in ascending minTime order (stable for equal minTimes).
    /// - Throws: `invalidArgument` for out-of-order series or a chunk with maxTime < minTime; `io` when a write fails.
    func append(_ labels: Labels, _ chunks: [ChunkData]) throws {
        guard !chunks.isEmpty else { return }
        if let last = series.last, !(last.labels < labels) {
            throw SightlineError(.invalidArgument, "series out of order or duplicated: \(last.labels) then \(labels)")
        }
        let sorted = chunks.enumerated().sorted { ($0.element.minTime, $0.offset) < ($1.element.minTime, $1.offset) }.map(\.element)
        var refs: [BlockChunkRef] = []
        refs.reserveCapacity(sorted.count)
        for chunk in sorted {
            guard chunk.maxTime >= chunk.minTime else {
                throw SightlineError(.invalidArgument, "chunk of \(labels) has maxTime \(chunk.maxTime) < minTime \(chunk.minTime)")
            }
            let offset = written + UInt64(buffer.bytes.count)
            let length = if let shared = sharing.reference(for: chunk) {
                ChunkRecord.append(chunk, sharingTimes: shared.ref, bitCount: shared.bitCount, to: &buffer)
            } else {
                ChunkRecord.append(chunk, to: &buffer)
            }
            guard length < Int(UInt32.max) else { throw SightlineError(.invalidArgument, "chunk of \(labels) is too large: \(length) bytes") }
            refs.append(BlockChunkRef(offset: offset, length: UInt32(length), minTime: chunk.minTime, maxTime: chunk.maxTime))
            samples += Int64(chunk.sampleCount)
            minTime = min(minTime, chunk.minTime)
            maxTime = max(maxTime, chunk.maxTime)
            if buffer.bytes.count >= Self.bufferSize { try flush() }
        }
        series.append(BlockIndexEncoder.Series(labels: labels, chunks: refs))
    }

    /// Writes the buffered chunk records.
    private func flush() throws {
        try buffer.bytes.withUnsafeBytes { try POSIXFile.writeAll(chunksFD, $0, path: chunksPath) }
        written += UInt64(buffer.bytes.count)
        buffer = ByteWriter(capacity: Self.bufferSize + 4096)
    }

    /// Writes the index, the shared time sections (`times`) and `meta.json`, fsyncs everything, and renames the
    /// directory to `<id>`.
    /// - Returns: the block's metadata, or nil (and nothing on disk) when no series had chunks.
    func finish() throws -> BlockMeta? {
        guard !series.isEmpty else {
            abort()
            return nil
        }
        do {
            try flush()
            try POSIXFile.fsync(chunksFD, path: chunksPath)
            POSIXFile.close(chunksFD)
            closed = true
            let index = try BlockIndexEncoder.encode(series)
            try BlockFiles.writeFile(BlockFileNames.join(temporaryPath, BlockFileNames.index), index)
            let times = sharing.table.encoded()
            try BlockFiles.writeFile(BlockFileNames.join(temporaryPath, BlockFileNames.times), times)
            let meta = BlockMeta(
                id: id, minTime: minTime, maxTime: maxTime, level: level, sources: sources,
                stats: .init(
                    series: Int64(series.count), samples: samples, chunks: Int64(series.reduce(0) { $0 + $1.chunks.count }),
                    bytes: Int64(written) + Int64(index.count) + Int64(times.count)))
            try BlockFiles.writeFile(BlockFileNames.join(temporaryPath, BlockFileNames.meta), try BlockMetaFile.encode(meta))
            try POSIXFile.fsyncDirectory(temporaryPath)
            let finalPath = BlockFileNames.join(parentDirectory, id)
            try BlockFiles.rename(temporaryPath, finalPath)
            try POSIXFile.fsyncDirectory(parentDirectory)
            series = []
            return meta
        } catch {
            abort()
            throw error
        }
    }

    /// Closes the chunks file and removes the temporary directory.
    func abort() {
        if !closed {
            POSIXFile.close(chunksFD)
            closed = true
        }
        try? BlockFiles.removeTree(temporaryPath)
    }
}
