import Foundation
package import SightlineCore
import SightlineStorageCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One immutable block on disk, opened for queries.
///
/// Opening reads `meta.json`, the whole `index` and the `times` file (checking every CRC) into memory and keeps the
/// `chunks` file open; chunks are read with `pread` on demand and checked against their CRC, those sharing a time
/// section put back together whole. The file descriptor stays open until
/// the last reference to the block goes away, so a block whose directory was deleted (after compaction or retention)
/// keeps answering the readers that still hold it: unlink-while-open.
package final class Block: Sendable {
    /// The block's metadata from `meta.json`.
    package let meta: BlockMeta
    /// The block's directory.
    package let directory: String
    /// The size of the block's files (`meta.json`, `index`, `times`, `chunks`) when it was opened.
    package let sizeBytes: Int64
    /// The decoded index.
    let index: BlockIndex
    /// The time sections chunk records share (none in a version-1 block).
    let times: BlockTimes
    /// The open `chunks` file, read with `pread` (which does not move a shared offset, so concurrent reads are safe).
    private let chunksFD: Int32
    /// The path of the `chunks` file, for error messages.
    private let chunksPath: String

    /// Opens the block in `directory`.
    /// - Throws: `dataCorrupted` naming the file and offset when a file is malformed or fails its CRC; `io` when a
    ///   file cannot be read.
    package init(directory: String) throws {
        self.directory = directory
        let metaPath = BlockFileNames.join(directory, BlockFileNames.meta)
        let indexPath = BlockFileNames.join(directory, BlockFileNames.index)
        chunksPath = BlockFileNames.join(directory, BlockFileNames.chunks)
        let metaBytes = try POSIXFile.readAll(metaPath)
        meta = try BlockMetaFile.decode(metaBytes, path: metaPath)
        let indexBytes = try POSIXFile.readAll(indexPath)
        index = try BlockIndex(bytes: indexBytes, path: indexPath)
        var timesSize = 0
        if meta.version >= 2 {
            let timesPath = BlockFileNames.join(directory, BlockFileNames.times)
            let timesBytes = try POSIXFile.readAll(timesPath)
            times = try BlockTimes(bytes: timesBytes, path: timesPath)
            timesSize = timesBytes.count
        } else {
            times = BlockTimes()
        }
        let fd = try POSIXFile.open(chunksPath, O_RDONLY)
        do {
            let header = try BlockFiles.read(fd, count: BlockFormat.headerLength, at: 0, path: chunksPath)
            guard Array(header[0..<4]) == BlockFormat.chunksMagic, header[4] == BlockFormat.chunksVersion else {
                throw SightlineError(.dataCorrupted, "chunks file \(chunksPath): bad magic or version at offset 0")
            }
            let chunksSize = try POSIXFile.size(fd, path: chunksPath)
            sizeBytes = Int64(metaBytes.count) + Int64(indexBytes.count) + Int64(timesSize) + chunksSize
        } catch {
            POSIXFile.close(fd)
            throw error
        }
        chunksFD = fd
    }

    deinit { POSIXFile.close(chunksFD) }

    /// The series matching every matcher, each with only its chunks overlapping `minTime...maxTime` (inclusive);
    /// series with no such chunk are omitted. Series come in label order (`Labels`' `<`), chunks in minTime order, bytes as written.
    /// - Throws: `dataCorrupted` naming the `chunks` file and offset when a chunk fails its CRC; `io` when a read fails.
    package func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [SeriesChunks] {
        guard meta.overlaps(minTime: minTime, maxTime: maxTime) else { return [] }
        let members = try index.series(matching: matchers).members
        // Each series is one read and a checksum per chunk, independent of the others: many series are read on every
        // core, in runs joined in order.
        let width = members.count < Self.parallelReadSeries ? 1 : processorCount
        var result: [SeriesChunks] = []
        result.reserveCapacity(members.count)
        for run in parallelMap(parallelRuns(members.count, width: width), width: width, { run in
            try members[run].compactMap { ref -> SeriesChunks? in
                let chunks = try readChunks(ofSeries: ref) { index.chunk($0, overlaps: minTime, maxTime) }
                return chunks.isEmpty ? nil : SeriesChunks(labels: index.labels(ofSeries: ref), chunks: chunks)
            }
        }) {
            result.append(contentsOf: try run.get())
        }
        return result
    }

    /// The references of the series matching every matcher with a chunk overlapping `minTime...maxTime`, ascending.
    func seriesRefs(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [Int] {
        guard meta.overlaps(minTime: minTime, maxTime: maxTime) else { return [] }
        return try index.series(matching: matchers).members.filter { ref in
            index.chunks(ofSeries: ref).contains { index.chunk($0, overlaps: minTime, maxTime) }
        }
    }

    /// From how many selected series a block reads them on every core.
    static let parallelReadSeries = 256

    /// The label names of the series matching every matcher (every name in the block for no matchers), sorted.
    package func labelNames(_ matchers: [LabelMatcher]) throws -> [String] {
        if matchers.isEmpty { return index.labelNames() }
        var names = Set<UInt32>()
        for ref in try index.series(matching: matchers).members { names.formUnion(index.nameRefs(ofSeries: ref)) }
        return names.map { index.symbols[Int($0)] }.sorted()
    }

    /// The values label `name` takes in the series matching every matcher (in all series for no matchers), sorted.
    package func labelValues(_ name: String, _ matchers: [LabelMatcher]) throws -> [String] {
        if matchers.isEmpty { return index.labelValues(name) }
        guard index.nameIndex(name) != nil, let nameRef = index.symbolRef(name) else { return [] }
        var values = Set<UInt32>()
        for ref in try index.series(matching: matchers).members {
            if let value = index.valueRef(ofSeries: ref, name: nameRef) { values.insert(value) }
        }
        return values.map { index.symbols[Int($0)] }.sorted()
    }

    /// How many series the block holds.
    var seriesCount: Int { index.seriesCount }

    /// The labels of series `ref` (`0..<seriesCount`, in label order (`Labels`' `<`)).
    func labels(ofSeries ref: Int) -> Labels { index.labels(ofSeries: ref) }

    /// All chunks of series `ref`.
    func chunks(ofSeries ref: Int) throws -> [ChunkData] { try readChunks(ofSeries: ref) { _ in true } }

    /// Reads the chunks of series `ref` that `include` accepts, with one `pread` over their records.
    private func readChunks(ofSeries ref: Int, where include: (Int) -> Bool) throws -> [ChunkData] {
        let selected = index.chunks(ofSeries: ref).filter(include)
        guard let first = selected.first, let last = selected.last else { return [] }
        let start = index.chunk(first).offset
        let end = index.chunk(last).offset + UInt64(index.chunk(last).length)
        let bytes = try BlockFiles.read(chunksFD, count: Int(end - start), at: start, path: chunksPath)
        return try bytes.withUnsafeBytes { raw in
            try selected.map { i in
                let chunk = index.chunk(i)
                let from = Int(chunk.offset - start)
                return try ChunkRecord.decode(
                    UnsafeRawBufferPointer(rebasing: raw[from..<from + Int(chunk.length)]),
                    minTime: chunk.minTime, maxTime: chunk.maxTime, times: times, path: chunksPath, offset: chunk.offset)
            }
        }
    }
}
