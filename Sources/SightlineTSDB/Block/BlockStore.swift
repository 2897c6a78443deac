package import Logging
package import SightlineCore
import SightlineStorageCore
import Synchronization

/// The blocks of one tenant: one directory holding a sub-directory per block.
///
/// Readers take a snapshot of the block list under a short lock and query it without the lock. Compaction and
/// retention swap the list atomically, so a reader sees either the old blocks or their replacement, never both.
///
/// **Deleting blocks that readers still use:** a replaced block's directory is renamed to `<id>.deleting.tmp` and
/// removed right after the swap, while readers may still hold the ``Block``. That is safe because a block holds its
/// whole index in memory and keeps its `chunks` file descriptor open until its last reference goes away: the kernel
/// keeps an unlinked file's data alive while a descriptor refers to it (unlink-while-open, POSIX). No reference
/// counting is needed, and disk space comes back when the last reader lets go.
///
/// **Crash safety:** new blocks appear by renaming a complete, fsynced `<id>.tmp/`. A compacted block lists its inputs
/// as `sources`; if a crash came between its rename and the inputs' deletion, ``init(directory:logger:planner:)``
/// deletes the inputs. Leftover `*.tmp` directories are deleted on open too.
///
/// ``compact(nowMs:merge:)`` and ``applyRetention(maxAgeMs:maxBytes:nowMs:)`` are blocking file operations and are
/// serialized with each other; ``add(_:)`` and queries may run concurrently with them.
package final class BlockStore: Sendable {
    /// The tenant's block directory.
    package let directory: String
    /// The planner ``compact(nowMs:merge:)`` uses.
    package let planner: CompactionPlanner
    private let logger: Logger
    /// The open blocks, sorted by (minTime, maxTime, id).
    private let blocks: Mutex<[Block]>
    /// Held for the whole of a compaction or retention pass.
    private let maintenance = Mutex(())

    /// Opens (creating it if needed) the block directory `directory`.
    ///
    /// Deletes leftover `*.tmp` directories and the blocks already merged into another block, then opens every block.
    /// Entries that are neither blocks nor temporary directories are ignored.
    /// - Throws: `dataCorrupted` when a block fails its checks, `io` when the file system fails.
    package init(directory: String, logger: Logger, planner: CompactionPlanner = CompactionPlanner()) throws {
        self.directory = directory
        self.logger = logger
        self.planner = planner
        try POSIXFile.createDirectory(directory)
        var opened: [Block] = []
        var changed = false
        for name in try POSIXFile.listDirectory(directory).sorted() {
            let path = BlockFileNames.join(directory, name)
            guard BlockFiles.isDirectory(path) else { continue }
            if BlockFileNames.isTemporary(name) {
                logger.info("removing leftover temporary block directory", metadata: ["path": "\(path)"])
                try BlockFiles.removeTree(path)
                changed = true
                continue
            }
            guard BlockID.isValid(name) else {
                logger.debug("ignoring directory that is not a block", metadata: ["path": "\(path)"])
                continue
            }
            let block = try Block(directory: path)
            guard block.meta.id == name else {
                throw SightlineError(.dataCorrupted, "meta file \(BlockFileNames.join(path, BlockFileNames.meta)): id \(block.meta.id) differs from directory name")
            }
            opened.append(block)
        }
        let replaced = Set(opened.flatMap { block in block.meta.sources.filter { $0 != block.meta.id } })
        for block in opened where replaced.contains(block.meta.id) {
            logger.info("removing block already compacted into another", metadata: ["block": "\(block.meta.id)"])
            try Self.deleteDirectory(of: block, in: directory)
            changed = true
        }
        opened.removeAll { replaced.contains($0.meta.id) }
        if changed { try POSIXFile.fsyncDirectory(directory) }
        blocks = Mutex(opened.sorted(by: Self.order))
    }

    /// The metadata of every block, in time order.
    package var metas: [BlockMeta] { blocks.withLock { $0.map(\.meta) } }

    /// The size of every block's files.
    package var totalBytes: Int64 { blocks.withLock { $0.reduce(0) { $0 + $1.sizeBytes } } }

    /// Writes `series` as a new level-0 block and starts serving it.
    /// - Returns: its metadata, or nil when `series` holds no chunk (nothing is written).
    @discardableResult
    package func add(_ series: [SeriesChunks]) throws -> BlockMeta? {
        guard let meta = try BlockWriter.write(series, level: 0, sources: [], into: directory) else { return nil }
        let block = try Block(directory: BlockFileNames.join(directory, meta.id))
        blocks.withLock { list in
            list.append(block)
            list.sort(by: Self.order)
        }
        logger.debug("added block", metadata: ["block": "\(meta.id)", "series": "\(meta.stats.series)", "samples": "\(meta.stats.samples)"])
        return meta
    }

    /// The series matching every matcher with their chunks overlapping `minTime...maxTime`, merged across blocks:
    /// one entry per series (in label order (`Labels`' `<`)), its chunks from all blocks in minTime order, not decoded.
    /// Chunks with equal minTime come in block creation order (older block first), so a merge that lets later chunks
    /// win prefers newer data.
    package func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [SeriesChunks] {
        let snapshot = blocks.withLock { $0.filter { $0.meta.overlaps(minTime: minTime, maxTime: maxTime) } }
            .sorted { $0.meta.id < $1.meta.id }
        if snapshot.count == 1, let only = snapshot.first { return try only.select(matchers, minTime: minTime, maxTime: maxTime) }
        var merged: [Labels: [ChunkData]] = [:]
        for block in snapshot {
            for series in try block.select(matchers, minTime: minTime, maxTime: maxTime) {
                merged[series.labels, default: []].append(contentsOf: series.chunks)
            }
        }
        return merged
            .map { labels, chunks in
                SeriesChunks(
                    labels: labels,
                    chunks: chunks.enumerated().sorted { ($0.element.minTime, $0.offset) < ($1.element.minTime, $1.offset) }.map(\.element))
            }
            .sorted { $0.labels < $1.labels }
    }

    /// The label names of the series matching every matcher, across all blocks, sorted.
    package func labelNames(_ matchers: [LabelMatcher]) throws -> [String] {
        var names = Set<String>()
        for block in blocks.withLock({ $0 }) { names.formUnion(try block.labelNames(matchers)) }
        return names.sorted()
    }

    /// The values of label `name` in the series matching every matcher, across all blocks, sorted.
    package func labelValues(_ name: String, _ matchers: [LabelMatcher]) throws -> [String] {
        var values = Set<String>()
        for block in blocks.withLock({ $0 }) { values.formUnion(try block.labelValues(name, matchers)) }
        return values.sorted()
    }

    /// Runs one compaction plan: merges each group the ``planner`` picks into a new block, swaps it in for its inputs
    /// under the lock, then deletes the inputs' directories.
    /// - Parameters:
    ///   - nowMs: the time that decides which buckets are complete (the wall clock by default).
    ///   - merge: re-encodes the chunks of one series; see ``Compactor/compact(_:into:merge:)``.
    /// - Returns: how many blocks were merged away (replaced by the blocks written); 0 when there was nothing to do.
    @discardableResult
    package func compact(nowMs: Int64 = BlockFiles.nowMs(), merge: ([ChunkData]) throws -> [ChunkData]) throws -> Int {
        try maintenance.withLock { _ in
            let snapshot = blocks.withLock { $0 }
            var replacedCount = 0
            for group in planner.plan(snapshot.map(\.meta), now: nowMs) {
                let inputs = group.compactMap { id in snapshot.first { $0.meta.id == id } }
                guard inputs.count >= 2, let meta = try Compactor.compact(inputs, into: directory, merge: merge) else { continue }
                let merged = try Block(directory: BlockFileNames.join(directory, meta.id))
                let replaced = Set(group)
                blocks.withLock { list in
                    list.removeAll { replaced.contains($0.meta.id) }
                    list.append(merged)
                    list.sort(by: Self.order)
                }
                replacedCount += inputs.count
                logger.info(
                    "compacted blocks",
                    metadata: ["block": "\(meta.id)", "level": "\(meta.level)", "sources": "\(group.joined(separator: ","))",
                               "series": "\(meta.stats.series)", "samples": "\(meta.stats.samples)"])
                for block in inputs {
                    do {
                        try Self.deleteDirectory(of: block, in: directory)
                    } catch {
                        // The new block lists it as a source: the next open deletes it.
                        logger.warning("could not delete compacted block", metadata: ["block": "\(block.meta.id)", "error": "\(error)"])
                    }
                }
            }
            return replacedCount
        }
    }

    /// Removes samples of the series matching every matcher: every block with such a series' chunk overlapping
    /// `minTime...maxTime` is written again with `remove` applied to the chunks of those series, swapped in for the
    /// old block under the lock, and the old block's directory deleted (the new one lists it as its source, so a
    /// crash in between deletes it on open). Serialized with compaction and retention.
    /// - Parameter remove: the chunks of one series without the samples to delete.
    /// - Returns: the ids of the blocks replaced (by their copy, or by nothing when no chunk was left).
    @discardableResult
    package func delete(
        _ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64, remove: ([ChunkData]) throws -> [ChunkData]
    ) throws -> [String] {
        try maintenance.withLock { _ in
            var rewritten: [String] = []
            for block in blocks.withLock({ $0 }) {
                let refs = try block.seriesRefs(matchers, minTime: minTime, maxTime: maxTime)
                guard !refs.isEmpty else { continue }
                let meta = try Compactor.rewrite(block, into: directory, series: refs, remove)
                let replacement = try meta.map { try Block(directory: BlockFileNames.join(directory, $0.id)) }
                blocks.withLock { list in
                    list.removeAll { $0.meta.id == block.meta.id }
                    if let replacement { list.append(replacement) }
                    list.sort(by: Self.order)
                }
                try Self.deleteDirectory(of: block, in: directory)
                rewritten.append(block.meta.id)
                logger.info(
                    "rewrote block without deleted samples",
                    metadata: ["block": "\(block.meta.id)", "replacement": "\(meta?.id ?? "none")", "series": "\(refs.count)"])
            }
            return rewritten
        }
    }

    /// Hard-links the files of every block into `directory/<id>/`, serialized with compaction and retention (so no
    /// block goes while its files are linked). The links share the blocks' data and stay valid after the blocks are
    /// deleted here.
    /// - Returns: how many blocks were linked.
    @discardableResult
    package func link(into directory: String) throws -> Int {
        try maintenance.withLock { _ in
            let snapshot = blocks.withLock { $0 }
            for block in snapshot {
                let target = BlockFileNames.join(directory, block.meta.id)
                try POSIXFile.createDirectory(target)
                for name in try POSIXFile.listDirectory(block.directory) {
                    try POSIXFile.link(BlockFileNames.join(block.directory, name), BlockFileNames.join(target, name))
                }
                try POSIXFile.fsyncDirectory(target)
            }
            return snapshot.count
        }
    }

    /// Deletes whole blocks: first those whose `maxTime < nowMs − maxAgeMs`, then the oldest ones (by maxTime) while
    /// the total size exceeds `maxBytes`. A nil bound is not applied.
    /// - Returns: the ids of the deleted blocks, oldest first.
    /// - Throws: `io` when a directory could not be deleted (the block is no longer served either way).
    @discardableResult
    package func applyRetention(maxAgeMs: Int64?, maxBytes: Int64?, nowMs: Int64) throws -> [String] {
        try maintenance.withLock { _ in
            let doomed: [Block] = blocks.withLock { list in
                var doomed: [Block] = []
                if let maxAgeMs {
                    let cutoff = nowMs &- maxAgeMs
                    doomed += list.filter { $0.meta.maxTime < cutoff }
                    list.removeAll { $0.meta.maxTime < cutoff }
                }
                if let maxBytes {
                    var total = list.reduce(Int64(0)) { $0 + $1.sizeBytes }
                    let oldestFirst = list.sorted { ($0.meta.maxTime, $0.meta.minTime, $0.meta.id) < ($1.meta.maxTime, $1.meta.minTime, $1.meta.id) }
                    var removed = Set<String>()
                    for block in oldestFirst where total > maxBytes {
                        total -= block.sizeBytes
                        removed.insert(block.meta.id)
                        doomed.append(block)
                    }
                    list.removeAll { removed.contains($0.meta.id) }
                }
                return doomed
            }
            var firstError: (any Error)?
            for block in doomed {
                logger.info("deleting block past retention", metadata: ["block": "\(block.meta.id)", "maxTime": "\(block.meta.maxTime)"])
                do {
                    try Self.deleteDirectory(of: block, in: directory)
                } catch {
                    firstError = firstError ?? error
                }
            }
            if let firstError { throw firstError }
            return doomed.map(\.meta.id)
        }
    }

    /// Renames a block's directory to `<id>.deleting.tmp`, makes that durable, and removes it.
    private static func deleteDirectory(of block: Block, in directory: String) throws {
        let deleting = BlockFileNames.join(directory, BlockFileNames.deletingDirectory(block.meta.id))
        try BlockFiles.rename(block.directory, deleting)
        try POSIXFile.fsyncDirectory(directory)
        try BlockFiles.removeTree(deleting)
    }

    /// Blocks in time order.
    private static func order(_ a: Block, _ b: Block) -> Bool {
        (a.meta.minTime, a.meta.maxTime, a.meta.id) < (b.meta.minTime, b.meta.maxTime, b.meta.id)
    }
}
