package import SightlineCore
import Synchronization

/// The read side: scans merge the blocks of every selected stream and their heads in time order, opening a block only
/// when the merge reaches its first record, and skipping it unread when its trigram filter rules the search out.
extension LogStore: LogPartitionedScanning {
    /// What a query sees of one stream: its labels, its head and its parts at one moment.
    struct StreamSnapshot {
        var labels: Labels
        var head: [HeadChunk]
        var parts: [LogPart]
    }

    /// The streams of `tenant` matching `matchers`, as they are now. Parts in a snapshot stay readable even when a
    /// merge replaces them meanwhile.
    func snapshot(tenant: Tenant, matchers: [LabelMatcher]) -> [StreamSnapshot] {
        let all = state.withLock { state in
            (state.streams[tenant] ?? [:]).map { StreamSnapshot(labels: $0.key, head: $0.value.head, parts: $0.value.parts) }
        }
        return all.filter { stream in matchers.allSatisfy { $0.matches(stream.labels) } }
    }

    // MARK: LogSource

    package func streams(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> [Labels] {
        var result: [Labels] = []
        for stream in snapshot(tenant: tenant, matchers: matchers) where try hasRecords(stream, in: range) {
            result.append(stream.labels)
        }
        return result.sorted()
    }

    /// Whether the stream has a record in `range`: a block whose first or last record is in it does; a block that
    /// spans the whole range is decoded to look.
    private func hasRecords(_ stream: StreamSnapshot, in range: TimeRange) throws -> Bool {
        if stream.head.contains(where: { $0.hasRecord(in: range) }) { return true }
        for part in stream.parts where part.maxTime >= range.startNano && part.minTime < range.endNano {
            for (number, block) in part.blocks.enumerated() where block.overlaps(range) {
                if range.contains(block.minTime) || range.contains(block.maxTime) { return true }
                if try !part.records(number, filter: RecordFilter(range: range, needles: [])).isEmpty { return true }
            }
        }
        return false
    }

    package func scan(_ scan: LogScan, _ visit: (LogRecord) throws -> Bool) throws {
        let forward = scan.direction == .forward
        let filter = RecordFilter(range: scan.range, needles: scan.lineContains.map { Array($0.utf8) })
        let pruning = filter.needles.filter { $0.count >= 3 }
        /// The merge order: ascending time forward, descending backward, as ascending keys.
        func key(_ time: UInt64) -> UInt64 { forward ? time : ~time }

        struct Pending {
            var key: UInt64
            var part: LogPart
            var block: Int
            var labels: Labels
        }
        /// The records of one block (decoded) or one stream's head (rows of its chunks, in merge order, made into records
        /// only when the merge reaches them: a query that stops early makes few), read from `position` on.
        struct Cursor {
            var records: [LogRecord] = []
            var head: [HeadChunk] = []
            var headRows: [HeadRow] = []
            var position = 0
            var labels: Labels

            var count: Int { head.isEmpty ? records.count : headRows.count }

            func time(at index: Int) -> UInt64 { head.isEmpty ? records[index].effectiveTimeUnixNano : headRows[index].time }

            func record(at index: Int) -> LogRecord {
                guard !head.isEmpty else { return records[index] }
                let row = headRows[index]
                return head[row.chunk].batch[row.row]
            }
        }
        /// A cursor in the merge: its next record's key and its place in `cursors` (the heap moves these, not records).
        struct Entry {
            var key: UInt64
            var cursor: Int
        }
        var pending = Heap<Pending> { $0.key < $1.key }
        var cursors: [Cursor] = []
        var active = Heap<Entry> { $0.key != $1.key ? $0.key < $1.key : $0.cursor < $1.cursor }
        func open(_ cursor: Cursor) {
            cursors.append(cursor)
            active.push(Entry(key: key(cursor.time(at: 0)), cursor: cursors.count - 1))
        }

        var candidates: [Pending] = []
        for stream in snapshot(tenant: scan.tenant, matchers: scan.matchers) {
            for part in stream.parts where part.maxTime >= scan.range.startNano && part.minTime < scan.range.endNano {
                for (number, block) in part.blocks.enumerated() where block.overlaps(scan.range) {
                    candidates.append(Pending(key: key(forward ? block.minTime : block.maxTime), part: part, block: number, labels: stream.labels))
                }
            }
            var rows = HeadRow.kept(in: stream.head, by: filter)
            if !rows.isEmpty {
                if !forward { rows.reverse() }
                open(Cursor(head: stream.head, headRows: rows, labels: stream.labels))
            }
        }

        let width = max(1, options.parallelism)
        if pruning.isEmpty {
            for candidate in candidates { pending.push(candidate) }
        } else {
            // A search for a term: the blocks' trigram filters are checked all at once, in parallel, so that the merge
            // below meets only the few blocks that can hold it (checking them pairwise as the merge reaches them
            // woke a second thread per pair of blocks).
            let kept = parallelMap(candidates, width: width) { candidate in
                try self.mustRead(candidate.part, candidate.block, pruning: pruning)
            }
            for (candidate, result) in zip(candidates, kept) where try result.get() { pending.push(candidate) }
        }
        while true {
            if let next = pending.first, active.first.map({ next.key <= $0.key }) ?? true {
                // The merge needs this block now. The next few in line are decoded with it, in parallel: a full scan
                // reads them anyway, and an early stop wastes at most `parallelism - 1` blocks.
                var batch: [Pending] = []
                while batch.count < width, let more = pending.pop() { batch.append(more) }
                let loaded = parallelMap(batch, width: width) { block in
                    // Blocks kept by their filter were counted as read when checked.
                    if pruning.isEmpty { self.blocksRead.add(1, ordering: .relaxed) }
                    return try block.part.records(block.block, filter: filter)
                }
                for (block, result) in zip(batch, loaded) {
                    var records = try result.get()
                    guard !records.isEmpty else { continue }
                    if !forward { records.reverse() }
                    open(Cursor(records: records, labels: block.labels))
                }
                continue
            }
            guard let top = active.first else { return }
            let index = top.cursor
            var record = cursors[index].record(at: cursors[index].position)
            record.stream = cursors[index].labels
            guard try visit(record) else { return }
            cursors[index].position += 1
            if cursors[index].position < cursors[index].count {
                active.replaceFirst(with: Entry(key: key(cursors[index].time(at: cursors[index].position)), cursor: index))
            } else {
                _ = active.pop()
                cursors[index] = Cursor(labels: Labels([]))  // read: its memory goes now, not at the end of the scan
            }
        }
    }

    /// One head record a scan keeps: its time, its chunk in the stream's head and its row in the chunk's batch.
    struct HeadRow {
        var time: UInt64
        var chunk: Int
        var row: Int

        /// The rows of `head` that `filter` keeps, in ascending time (ties in head order).
        static func kept(in head: [HeadChunk], by filter: RecordFilter) -> [HeadRow] {
            var rows: [HeadRow] = []
            for (number, chunk) in head.enumerated() {
                for row in chunk.rows where filter.keeps(row: row, of: chunk.batch) {
                    rows.append(HeadRow(time: chunk.batch.rows[row].effectiveTimeUnixNano, chunk: number, row: row))
                }
            }
            rows.sort { $0.time != $1.time ? $0.time < $1.time : ($0.chunk, $0.row) < ($1.chunk, $1.row) }
            return rows
        }
    }

    /// A part of a scan's data folded at once: a block, or a chunk of a stream's head.
    private enum FoldPiece {
        case block(LogPart, Int, Labels)
        case head(HeadChunk, Labels)
    }

    /// The scan's blocks and head chunks in runs, each run folded on one of `options.parallelism` threads: no merge, no
    /// order. Blocks are checked against their trigram filters where they are read.
    package func fold<Partial>(_ scan: LogScan, start: () -> Partial, _ fold: (inout Partial, LogRecord) throws -> Void) throws -> [Partial] {
        let filter = RecordFilter(range: scan.range, needles: scan.lineContains.map { Array($0.utf8) })
        let pruning = filter.needles.filter { $0.count >= 3 }
        var pieces: [FoldPiece] = []
        for stream in snapshot(tenant: scan.tenant, matchers: scan.matchers) {
            for part in stream.parts where part.maxTime >= scan.range.startNano && part.minTime < scan.range.endNano {
                for (number, block) in part.blocks.enumerated() where block.overlaps(scan.range) {
                    pieces.append(.block(part, number, stream.labels))
                }
            }
            for chunk in stream.head { pieces.append(.head(chunk, stream.labels)) }
        }
        let width = max(1, options.parallelism)
        let runs = parallelRuns(pieces.count, width: width)
        let folded = parallelMap(runs, width: width) { run -> Partial in
            var partial = start()
            for piece in pieces[run] {
                switch piece {
                case .block(let part, let number, let labels):
                    guard try self.mustRead(part, number, pruning: pruning) else { continue }
                    for var record in try part.records(number, filter: filter) {
                        record.stream = labels
                        try fold(&partial, record)
                    }
                case .head(let chunk, let labels):
                    try chunk.forEachRecord(keptBy: filter) { record in
                        var record = record
                        record.stream = labels
                        try fold(&partial, record)
                    }
                }
            }
            return partial
        }
        return try folded.map { try $0.get() }
    }

    /// Whether block `block` of `part` can hold every one of the `pruning` needles (all ≥ 3 bytes) by its trigram
    /// filter, so it must be read; counts the block as read or skipped.
    private func mustRead(_ part: LogPart, _ block: Int, pruning: [[UInt8]]) throws -> Bool {
        if !pruning.isEmpty {
            let bloom = try part.bloom(block)
            if !pruning.allSatisfy({ bloom.mayContain(needle: $0) }) {
                blocksSkipped.add(1, ordering: .relaxed)
                return false
            }
        }
        blocksRead.add(1, ordering: .relaxed)
        return true
    }

    /// Records and line bytes per bucket end.
    private typealias BucketTally = [Int64: (records: Int, bytes: Int)]

    /// Counts per group and bucket in parallel over the selected streams' blocks, without building records where it
    /// can. A record's group is its stream's labels of `groupBy` unless it has structured metadata of such a name, so
    /// a stream's block counts as a whole for its stream's group when no record of it can have such metadata (its
    /// attribute keys, and its trace id, span id and severity text columns when those names are asked, say so);
    /// otherwise it is decoded and every record grouped as a scan hands it. Head records are grouped one by one.
    ///
    /// A block wholly inside the range and inside one bucket, with no substring to look for, is counted from the part
    /// index (without grouping) or after reading only its attribute keys; other blocks are skipped by their trigram
    /// filter when they cannot hold a substring, or read for their times and lines only. Never nil: every scan can be
    /// counted here.
    package func countBuckets(_ scan: LogScan, originNano: Int64, widthNano: Int64, groupBy: [String]) throws -> [LogGroupCount]? {
        guard widthNano > 0 else { return nil }
        let filter = RecordFilter(range: scan.range, needles: scan.lineContains.map { Array($0.utf8) })
        let pruning = filter.needles.filter { $0.count >= 3 }
        func end(_ time: UInt64) -> Int64 { LogBucketCount.bucketEnd(of: Int64(clamping: time), originNano: originNano, widthNano: widthNano) }
        func add(_ time: UInt64, records: Int, bytes: Int, into counts: inout BucketTally) {
            counts[end(time), default: (0, 0)].records += records
            counts[end(time), default: (0, 0)].bytes += bytes
        }
        var totals: [[String]: BucketTally] = [:]
        /// A block to read, and the group of its stream's records without structured metadata of a grouping name.
        struct Pending {
            var part: LogPart
            var block: Int
            var whole: Bool
            var group: [String]
        }
        var blocks: [Pending] = []
        for stream in snapshot(tenant: scan.tenant, matchers: scan.matchers) {
            let group = groupBy.map { stream.labels[$0] ?? "" }
            for part in stream.parts where part.maxTime >= scan.range.startNano && part.minTime < scan.range.endNano {
                for (number, block) in part.blocks.enumerated() where block.overlaps(scan.range) {
                    let whole = filter.needles.isEmpty && scan.range.contains(block.minTime) && scan.range.contains(block.maxTime)
                        && end(block.minTime) == end(block.maxTime)
                    if whole && groupBy.isEmpty {
                        add(block.minTime, records: block.count, bytes: block.lineBytes, into: &totals[group, default: [:]])
                    } else {
                        blocks.append(Pending(part: part, block: number, whole: whole, group: group))
                    }
                }
            }
            for chunk in stream.head {
                chunk.forEachRecord(keptBy: filter) { record in
                    let values = groupBy.isEmpty ? group : record.group(groupBy, inStream: stream.labels)
                    add(record.effectiveTimeUnixNano, records: 1, bytes: record.line.utf8.count, into: &totals[values, default: [:]])
                }
            }
        }
        let counted = parallelMap(blocks, width: max(1, options.parallelism)) { item -> (own: BucketTally, others: [[String]: BucketTally]) in
            var own: BucketTally = [:]
            var others: [[String]: BucketTally] = [:]
            guard try self.mustRead(item.part, item.block, pruning: pruning) else { return (own, others) }
            // A block's records ascend in time, so the stream's own group fills one bucket after another: a run is
            // summed, and added to the tally when the bucket changes.
            var run = (end: Int64.min, records: 0, bytes: 0)
            func flush() {
                guard run.records > 0 else { return }
                own[run.end, default: (0, 0)].records += run.records
                own[run.end, default: (0, 0)].bytes += run.bytes
            }
            try item.part.countLines(item.block, filter: filter, groupBy: groupBy, whole: item.whole) { time, records, bytes, group in
                if let group {
                    add(time, records: records, bytes: bytes, into: &others[group, default: [:]])
                    return
                }
                let bucket = end(time)
                if bucket != run.end {
                    flush()
                    run = (bucket, 0, 0)
                }
                run.records += records
                run.bytes += bytes
            }
            flush()
            return (own, others)
        }
        /// Adds a block's counts to the totals of `group`.
        func merge(_ counts: BucketTally, into group: [String]) {
            guard !counts.isEmpty else { return }
            totals[group, default: [:]].merge(counts) { ($0.records + $1.records, $0.bytes + $1.bytes) }
        }
        for (item, result) in zip(blocks, counted) {
            let counts = try result.get()
            merge(counts.own, into: item.group)
            for (group, tally) in counts.others { merge(tally, into: group) }
        }
        return totals.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { group, tally in
            LogGroupCount(
                values: group,
                buckets: tally.sorted { $0.key < $1.key }.map { LogBucketCount(endNano: $0.key, records: $0.value.records, bytes: $0.value.bytes) })
        }
    }

    /// Counts streams in parallel: blocks wholly inside the range are counted from the part index, blocks at the
    /// range's edges are decoded.
    package func stats(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> LogStats {
        let results = parallelMap(snapshot(tenant: tenant, matchers: matchers), width: options.parallelism) { stream in
            try Self.stats(of: stream, in: range)
        }
        var stats = LogStats()
        for result in results {
            let stream = try result.get()
            guard stream.entries > 0 else { continue }
            stats.streams += 1
            stats.chunks += stream.chunks
            stats.entries += stream.entries
            stats.bytes += stream.bytes
        }
        return stats
    }

    /// The stats of one stream (`streams` left 0).
    private static func stats(of stream: StreamSnapshot, in range: TimeRange) throws -> LogStats {
        var stats = LogStats()
        let head = stream.head.map { $0.count(in: range) }
        if head.contains(where: { $0.records > 0 }) {
            stats.chunks += 1
            stats.entries += head.reduce(0) { $0 + $1.records }
            stats.bytes += head.reduce(0) { $0 + $1.lineBytes }
        }
        for part in stream.parts where part.maxTime >= range.startNano && part.minTime < range.endNano {
            for (number, block) in part.blocks.enumerated() where block.overlaps(range) {
                if range.contains(block.minTime) && range.contains(block.maxTime) {
                    stats.chunks += 1
                    stats.entries += block.count
                    stats.bytes += block.lineBytes
                } else {
                    let records = try part.records(number, filter: RecordFilter(range: range, needles: []))
                    guard !records.isEmpty else { continue }
                    stats.chunks += 1
                    stats.entries += records.count
                    stats.bytes += records.reduce(0) { $0 + $1.line.utf8.count }
                }
            }
        }
        return stats
    }
}
