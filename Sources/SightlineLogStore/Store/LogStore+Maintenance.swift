import SightlineCore
import Logging
import SightlineStorageCore
import Synchronization

/// Background work the server runs periodically: rollover, retention and merges.
extension LogStore {
    /// What one ``maintain(now:)`` run did.
    package struct MaintenanceReport: Hashable, Sendable {
        /// Streams that started a new generation.
        package var rolledOver = 0
        /// Parts dropped by retention, and their records.
        package var droppedParts = 0
        package var droppedRecords = 0
        /// Parts merged away, and the parts written in their place.
        package var mergedParts = 0
        package var newParts = 0
    }

    /// One round of maintenance at time `now` (ns since the epoch), in this order:
    /// 1. **rollover**: a stream whose current generation holds ``LogStoreOptions/rolloverMaxBytes`` or was started
    ///    ``LogStoreOptions/rolloverMaxAge`` ago writes its next parts to a new generation;
    /// 2. **retention**: generations whose newest record is older than the stream's retention are dropped whole;
    /// 3. **merges**: in each generation, once ``LogStoreOptions/mergeMinParts`` parts are smaller than
    ///    ``LogStoreOptions/mergeMaxPartBytes`` in one size tier (or any two, in a generation no longer written to),
    ///    they are rewritten as one part, streams in parallel (see ``planMerges(sizes:current:minParts:maxBytes:)``).
    ///
    /// Safe while queries, applies and persists run: a query keeps the parts it started with, and the files of merged
    /// or dropped parts are deleted once the manifest no longer names them, readable through open descriptors until
    /// the last query lets go. Call it from one periodic service (calls are serialized).
    /// - Throws: `io` when files cannot be written (the store is unchanged), `dataCorrupted` naming a damaged part.
    @discardableResult
    package func maintain(now: UInt64) throws -> MaintenanceReport {
        try maintainLock.withLock { _ in
            var report = MaintenanceReport()
            let options = self.options
            let maxAge = options.rolloverMaxAge.nanoseconds

            // 1. Rollover, and a snapshot of every stream's parts.
            struct StreamParts {
                var tenant: Tenant
                var labels: Labels
                var parts: [LogPart]
                var generation: Int
            }
            let streams: [StreamParts] = state.withLock { state in
                var streams: [StreamParts] = []
                for (tenant, byLabels) in state.streams {
                    for (labels, stream) in byLabels {
                        let current = stream.parts.filter { $0.meta.generation == stream.generation }
                        if let created = current.map(\.meta.createdNano).min() {
                            let bytes = current.reduce(0) { $0 + $1.fileBytes }
                            if bytes >= options.rolloverMaxBytes || (now > created && now - created >= maxAge) {
                                state.streams[tenant]?[labels]?.generation += 1
                                report.rolledOver += 1
                            }
                        }
                        if stream.parts.isEmpty && stream.headCount == 0 {
                            state.streams[tenant]?[labels] = nil
                            continue
                        }
                        streams.append(StreamParts(tenant: tenant, labels: labels, parts: stream.parts, generation: state.streams[tenant]?[labels]?.generation ?? 0))
                    }
                }
                return streams
            }

            // 2. Retention: whole generations whose newest record is too old.
            var dropped = Set<UInt64>()
            for stream in streams {
                guard let retention = options.retentionNano(tenant: stream.tenant, labels: stream.labels), now > retention else { continue }
                let cutoff = now - retention
                for (_, parts) in Dictionary(grouping: stream.parts, by: { $0.meta.generation }) {
                    guard let newest = parts.map(\.maxTime).max(), newest < cutoff else { continue }
                    for part in parts {
                        dropped.insert(part.meta.id)
                        report.droppedParts += 1
                        report.droppedRecords += part.recordCount
                    }
                }
            }

            // 3. Merges, planned per generation, run per stream in parallel.
            struct Merge {
                var inputs: [LogPart]
                var meta: PartMeta
            }
            var merges: [Merge] = []
            for stream in streams {
                for (generation, parts) in Dictionary(grouping: stream.parts, by: { $0.meta.generation }) {
                    let live = parts.filter { !dropped.contains($0.meta.id) }
                    let groups = Self.planMerges(
                        sizes: live.map(\.fileBytes), current: generation == stream.generation, minParts: options.mergeMinParts,
                        maxBytes: options.mergeMaxPartBytes
                    )
                    for group in groups {
                        let inputs = group.map { live[$0] }
                        let id = state.withLock { state in
                            defer { state.nextPartID += 1 }
                            return state.nextPartID
                        }
                        let created = inputs.map(\.meta.createdNano).min() ?? now
                        merges.append(
                            Merge(inputs: inputs, meta: PartMeta(id: id, tenant: stream.tenant, labels: stream.labels, generation: generation, createdNano: created)))
                    }
                }
            }
            let partsDirectory = self.partsDirectory
            let results = parallelMap(merges, width: options.parallelism) { merge in
                try Self.merge(merge.inputs, into: merge.meta, directory: partsDirectory, options: options)
            }
            let newParts = try Self.collect(results)
            var removing = dropped
            for merge in merges {
                for part in merge.inputs { removing.insert(part.meta.id) }
                report.mergedParts += merge.inputs.count
            }
            report.newParts = newParts.count
            if !removing.isEmpty || !newParts.isEmpty {
                // On failure the new files stay, as in persist: the manifest may name them; if not, open deletes them.
                try commit(adding: newParts, removing: removing, persistedSegment: nil)
                logger.info(
                    "log store maintained",
                    metadata: [
                        "rolled_over": "\(report.rolledOver)", "dropped_parts": "\(report.droppedParts)", "merged_parts": "\(report.mergedParts)",
                        "new_parts": "\(report.newParts)",
                    ])
            }
            return report
        }
    }

    /// Plans the merges of one generation's parts, given their sizes: groups of part indexes, each to become one part.
    ///
    /// Size-tiered, so a record is rewritten about log₄(part size / 64 KiB) times rather than at every round: parts
    /// are put in tiers by size (under 64 KiB, then each tier 4× the one before) and a tier of the generation being
    /// written is merged once it has `minParts` parts. A generation no longer written to is merged whole (any two
    /// parts). Parts of `maxBytes` or more are left alone, and a group stops before it would pass `maxBytes`.
    static func planMerges(sizes: [Int], current: Bool, minParts: Int, maxBytes: Int) -> [[Int]] {
        let candidates = sizes.indices.filter { sizes[$0] < maxBytes }
        var tiers: [[Int]] = []
        if current {
            var byTier: [Int: [Int]] = [:]
            for index in candidates {
                var tier = 0
                var limit = 64 << 10
                while sizes[index] >= limit && tier < 40 {
                    tier += 1
                    limit *= 4
                }
                byTier[tier, default: []].append(index)
            }
            tiers = byTier.keys.sorted().compactMap { byTier[$0] }.filter { $0.count >= max(2, minParts) }
        } else if candidates.count >= 2 {
            tiers = [candidates]
        }
        var groups: [[Int]] = []
        for tier in tiers {
            var group: [Int] = []
            var bytes = 0
            for index in tier {
                if !group.isEmpty && bytes + sizes[index] > maxBytes {
                    if group.count >= 2 { groups.append(group) }
                    group = []
                    bytes = 0
                }
                group.append(index)
                bytes += sizes[index]
            }
            if group.count >= 2 { groups.append(group) }
        }
        return groups
    }

    /// Writes the records of `inputs` as one part, in time order: a k-way merge over the parts, each read one block
    /// at a time, so memory holds a block per input and the block being written.
    static func merge(_ inputs: [LogPart], into meta: PartMeta, directory: String, options: LogStoreOptions) throws -> LogPart {
        struct Cursor {
            var input: Int
            var part: LogPart
            var block: Int
            var records: LogBatch
            var position: Int
            var time: UInt64 { records.rows[position].effectiveTimeUnixNano }
        }
        /// The cursor at the first record of the first non-empty block from `block` on, or nil at the part's end.
        func cursor(_ input: Int, from block: Int) throws -> Cursor? {
            let part = inputs[input]
            var number = block
            while number < part.blocks.count {
                let records = try part.records(number, filter: .all)
                if !records.isEmpty { return Cursor(input: input, part: part, block: number, records: LogBatch(records), position: 0) }
                number += 1
            }
            return nil
        }
        // Ties go to the earlier input, so records with equal times keep their order.
        var heap = Heap<Cursor> { a, b in a.time != b.time ? a.time < b.time : a.input < b.input }
        for input in inputs.indices {
            if let first = try cursor(input, from: 0) { heap.push(first) }
        }
        let writer = try LogPartWriter(meta: meta, directory: directory, options: options)
        while var top = heap.pop() {
            // The run of the block's records that come before the next cursor's goes in one call.
            var end = top.position + 1
            if let next = heap.first {
                while end < top.records.count {
                    let time = top.records.rows[end].effectiveTimeUnixNano
                    guard time < next.time || (time == next.time && top.input < next.input) else { break }
                    end += 1
                }
            } else {
                end = top.records.count
            }
            try writer.append(top.records, rows: top.position..<end)
            top.position = end
            if top.position < top.records.count {
                heap.push(top)
            } else if let next = try cursor(top.input, from: top.block + 1) {
                heap.push(next)
            }
        }
        return try writer.finish()
    }
}
