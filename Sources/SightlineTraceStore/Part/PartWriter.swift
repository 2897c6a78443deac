import SightlineCore
import SightlineStorageCore

/// The bytes of a part file.
///
/// ```
/// "SLTP" version(1)
/// block*                         each: column directory, then the columns
/// footer                         PartIndex.encoded(): dictionaries, trace-id Bloom filter, block metas
/// footerLength UInt64 LE, footerCRC32C UInt32 LE, "SLTP"
/// ```
///
/// A block holds up to ``TraceStoreOptions/blockSpans`` spans, sorted by trace id then start time. It starts with
/// a directory of its five columns (for each: raw size varint, codec byte 0 = stored / 1 = LZ4 block, stored size
/// varint), followed by the column bytes:
/// 0. trace ids, 16 bytes each (high, low as UInt64 LE);
/// 1. span id and parent span id (0 = none), 8 bytes each, LE;
/// 2. times: start − block min start (varint), end − start (zigzag varint, wrapping) per span;
/// 3. meta: operation index (varint), resource index (varint), status code (byte), detail length (varint);
/// 4. details (``ByteWriter/writeSpanDetails(_:)``): trace state, flags, status message, attributes, events, links.
///
/// Columns are read separately: a trace lookup decodes column 0 and only the spans of its trace from the others;
/// a search decodes columns 2 and 3 first and the details only for spans that pass them.
enum PartFormat {
    static let magic: [UInt8] = Array("SLTP".utf8)
    static let version: UInt8 = 1
    static let columnCount = 5
    static let trailerSize = 16
    /// A block's tag filter never grows past this; spans with more distinct tags saturate it (it then skips nothing).
    static let maxTagFilterBytes = 2048
}

/// Builds one part from the spans of one tenant and one time partition.
enum PartWriter {
    /// The bytes of a part holding `spans` (any order; they are sorted here) and its footer.
    /// - Parameters:
    ///   - spans: The spans; all of `tenant`.
    ///   - partition: The start of the partition, recorded in the footer.
    ///   - blockSpans: The most spans per block.
    static func build(tenant: Tenant, partition: UInt64, spans: [Span], blockSpans: Int) -> (bytes: [UInt8], index: PartIndex) {
        // Sort small keys, not spans: copying a span in a comparator costs a dozen reference counts.
        var keys = spans.indices.map { index in
            let span = spans[index]
            return SortKey(trace: span.traceID, start: span.startTimeUnixNano, span: span.spanID.value, index: index)
        }
        keys.sort { ($0.trace.high, $0.trace.low, $0.start, $0.span) < ($1.trace.high, $1.trace.low, $1.start, $1.span) }
        let order = keys.map(\.index)
        var services: [String] = []
        var serviceIndex: [String: Int] = [:]
        var operations: [OperationKey] = []
        var operationIndex: [OperationKey: Int] = [:]
        var resources: [ResourceKey] = []
        var resourceIndex: [ResourceKey: Int] = [:]
        var resourceTags: [[UInt64]] = []
        /// The service index of each resource.
        var resourceServices: [Int] = []
        var lastResource: (key: ResourceKey, index: Int)?
        var lastOperation: (key: OperationKey, index: Int)?
        var distinctTraces = 0
        for (position, key) in keys.enumerated() where position == 0 || keys[position - 1].trace != key.trace { distinctTraces += 1 }
        var traceFilter = BloomFilter(expected: max(1, distinctTraces), maxBytes: 1 << 24)
        var bytes = PartFormat.magic + [PartFormat.version]
        var blocks: [BlockMeta] = []
        var minStart = UInt64.max
        var maxStart = UInt64(0)

        var blockStart = 0
        let perBlock = max(1, blockSpans)
        while blockStart < order.count {
            let blockEnd = min(order.count, blockStart + perBlock)
            var columns = [ByteWriter](repeating: ByteWriter(capacity: 1024), count: PartFormat.columnCount)
            var meta = BlockMeta(
                offset: Int64(bytes.count), length: 0, checksum: 0, spanCount: blockEnd - blockStart,
                minTrace: spans[order[blockStart]].traceID, maxTrace: spans[order[blockEnd - 1]].traceID, minStart: .max, maxStart: 0,
                minDuration: .max, maxDuration: 0, statusMask: 0, operations: [],
                tagFilter: BloomFilter(expected: (blockEnd - blockStart) * 4, maxBytes: PartFormat.maxTagFilterBytes))
            for position in blockStart..<blockEnd { meta.minStart = min(meta.minStart, spans[order[position]].startTimeUnixNano) }
            var blockOperations = Set<Int>()
            var blockResources = Set<Int>()
            var previousTrace: TraceID?
            for position in blockStart..<blockEnd {
                let span = spans[order[position]]
                if span.traceID != previousTrace {
                    traceFilter.insert(TraceHash.of(span.traceID))
                    previousTrace = span.traceID
                }
                let resource: Int
                if let last = lastResource, last.key.resource == span.resource, last.key.scope == span.scope {
                    // Neighbours usually share their process's resource (often its very storage): no hashing.
                    resource = last.index
                } else {
                    let resourceKey = ResourceKey(resource: span.resource, scope: span.scope)
                    if let known = resourceIndex[resourceKey] {
                        resource = known
                    } else {
                        resource = resources.count
                        resources.append(resourceKey)
                        resourceIndex[resourceKey] = resource
                        resourceTags.append(span.resource.map { TraceHash.tag(key: $0.key, text: $0.value.text) })
                        let serviceName = span.serviceName
                        if let known = serviceIndex[serviceName] {
                            resourceServices.append(known)
                        } else {
                            resourceServices.append(services.count)
                            serviceIndex[serviceName] = services.count
                            services.append(serviceName)
                        }
                    }
                    lastResource = (resourceKey, resource)
                }
                let service = resourceServices[resource]
                let operation: Int
                if let last = lastOperation, last.key.service == service, last.key.kind == span.kind, last.key.name == span.name {
                    operation = last.index
                } else {
                    let operationKey = OperationKey(service: service, name: span.name, kind: span.kind)
                    if let known = operationIndex[operationKey] {
                        operation = known
                    } else {
                        operation = operations.count
                        operations.append(operationKey)
                        operationIndex[operationKey] = operation
                    }
                    lastOperation = (operationKey, operation)
                }
                blockOperations.insert(operation)
                blockResources.insert(resource)

                let start = span.startTimeUnixNano
                let duration = span.durationNano
                meta.maxStart = max(meta.maxStart, start)
                meta.minDuration = min(meta.minDuration, duration)
                meta.maxDuration = max(meta.maxDuration, duration)
                meta.statusMask |= 1 << UInt8(span.statusCode.rawValue & 7)
                for attribute in span.attributes { meta.tagFilter.insert(TraceHash.tag(key: attribute.key, text: attribute.value.text)) }

                columns[0].writeUInt64LE(span.traceID.high)
                columns[0].writeUInt64LE(span.traceID.low)
                columns[1].writeUInt64LE(span.spanID.value)
                columns[1].writeUInt64LE(span.parentSpanID?.value ?? 0)
                columns[2].writeVarint(start - meta.minStart)
                columns[2].writeSignedVarint(Int64(bitPattern: span.endTimeUnixNano &- start))
                let detailStart = columns[4].bytes.count
                columns[4].writeSpanDetails(span)
                columns[3].writeVarint(UInt64(operation))
                columns[3].writeVarint(UInt64(resource))
                columns[3].writeByte(UInt8(span.statusCode.rawValue))
                columns[3].writeVarint(UInt64(columns[4].bytes.count - detailStart))
            }
            for resource in blockResources { for hash in resourceTags[resource] { meta.tagFilter.insert(hash) } }
            meta.operations = blockOperations.sorted()
            minStart = min(minStart, meta.minStart)
            maxStart = max(maxStart, meta.maxStart)

            let block = encodeBlock(columns.map(\.bytes))
            meta.length = block.count
            meta.checksum = block.withUnsafeBytes { CRC32C.checksum($0) }
            bytes.append(contentsOf: block)
            blocks.append(meta)
            blockStart = blockEnd
        }
        let index = PartIndex(
            tenant: tenant, partition: partition, spanCount: spans.count, minStart: spans.isEmpty ? 0 : minStart, maxStart: maxStart,
            services: services, operations: operations, resources: resources, traceFilter: traceFilter, blocks: blocks)
        let footer = index.encoded()
        bytes.append(contentsOf: footer)
        var trailer = ByteWriter(capacity: PartFormat.trailerSize)
        trailer.writeUInt64LE(UInt64(footer.count))
        trailer.writeUInt32LE(footer.withUnsafeBytes { CRC32C.checksum($0) })
        trailer.writeRaw(PartFormat.magic)
        bytes.append(contentsOf: trailer.bytes)
        return (bytes, index)
    }

    /// What spans are sorted by, with the span's index.
    private struct SortKey {
        var trace: TraceID
        var start: UInt64
        var span: UInt64
        var index: Int
    }

    /// The column directory and the columns, each LZ4-compressed when that makes it smaller.
    private static func encodeBlock(_ columns: [[UInt8]]) -> [UInt8] {
        var directory = ByteWriter(capacity: 64)
        var payload: [UInt8] = []
        for column in columns {
            let compressed = LZ4Block.compress(column)
            directory.writeVarint(UInt64(column.count))
            if compressed.count < column.count {
                directory.writeByte(1)
                directory.writeVarint(UInt64(compressed.count))
                payload.append(contentsOf: compressed)
            } else {
                directory.writeByte(0)
                directory.writeVarint(UInt64(column.count))
                payload.append(contentsOf: column)
            }
        }
        return directory.bytes + payload
    }
}
