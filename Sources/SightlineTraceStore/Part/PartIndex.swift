import SightlineCore

/// An operation in a part's dictionary: the service (index into ``PartIndex/services``), span name and kind.
struct OperationKey: Hashable, Sendable {
    var service: Int
    var name: String
    var kind: Span.Kind
}

/// A resource and scope pair in a part's dictionary: spans of one process share one entry.
struct ResourceKey: Hashable, Sendable {
    var resource: [Attribute]
    var scope: InstrumentationScope
}

/// What a part's footer says about one block, enough to skip it without reading it.
struct BlockMeta: Sendable {
    var offset: Int64
    var length: Int
    var checksum: UInt32
    var spanCount: Int
    /// Spans are sorted by trace id, so a block covers the id range `[minTrace, maxTrace]`.
    var minTrace: TraceID
    var maxTrace: TraceID
    var minStart: UInt64
    var maxStart: UInt64
    var minDuration: UInt64
    var maxDuration: UInt64
    /// Bit `1 << code` set for each status code present.
    var statusMask: UInt8
    /// The sorted indexes of the operations (``PartIndex/operations``) of the block's spans.
    var operations: [Int]
    /// `key=value` hashes (``TraceHash/tag(key:text:)``) of the span and resource attributes in the block.
    var tagFilter: BloomFilter
}

/// The footer of a part, loaded into memory when the part opens: dictionaries, the trace-id filter and the block list.
///
/// See ``PartFormat`` for the bytes.
struct PartIndex: Sendable {
    var tenant: Tenant
    /// The start of the time partition (``TraceStoreOptions/partitionDuration``) the spans start in.
    var partition: UInt64
    var spanCount: Int
    var minStart: UInt64
    var maxStart: UInt64
    var services: [String]
    var operations: [OperationKey]
    var resources: [ResourceKey]
    /// Every trace id of the part (``TraceHash/of(_:)``).
    var traceFilter: BloomFilter
    /// In trace-id order.
    var blocks: [BlockMeta]

    /// The blocks that may hold spans of `id`: the filter says maybe, and the block's id range covers it.
    func blocks(holding id: TraceID) -> Range<Int> {
        guard traceFilter.mayContain(TraceHash.of(id)) else { return 0..<0 }
        var low = 0
        var high = blocks.count
        while low < high {
            let middle = (low + high) / 2
            if blocks[middle].maxTrace < id { low = middle + 1 } else { high = middle }
        }
        var end = low
        while end < blocks.count, blocks[end].minTrace <= id { end += 1 }
        return low..<end
    }

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 4096 + blocks.count * 256)
        w.writeString(tenant.id)
        w.writeVarint(partition)
        w.writeVarint(UInt64(spanCount))
        w.writeVarint(minStart)
        w.writeVarint(maxStart)
        w.writeVarint(UInt64(services.count))
        for service in services { w.writeString(service) }
        w.writeVarint(UInt64(operations.count))
        for operation in operations {
            w.writeVarint(UInt64(operation.service))
            w.writeString(operation.name)
            w.writeByte(UInt8(operation.kind.rawValue))
        }
        w.writeVarint(UInt64(resources.count))
        for resource in resources {
            w.writeAttributes(resource.resource)
            w.writeScope(resource.scope)
        }
        w.writeByte(UInt8(traceFilter.probes))
        w.writeBytes(traceFilter.bits)
        w.writeVarint(UInt64(blocks.count))
        for block in blocks {
            w.writeVarint(UInt64(block.offset))
            w.writeVarint(UInt64(block.length))
            w.writeUInt32LE(block.checksum)
            w.writeVarint(UInt64(block.spanCount))
            w.writeUInt64LE(block.minTrace.high)
            w.writeUInt64LE(block.minTrace.low)
            w.writeUInt64LE(block.maxTrace.high)
            w.writeUInt64LE(block.maxTrace.low)
            w.writeVarint(block.minStart)
            w.writeVarint(block.maxStart)
            w.writeVarint(block.minDuration)
            w.writeVarint(block.maxDuration)
            w.writeByte(block.statusMask)
            w.writeVarint(UInt64(block.operations.count))
            for operation in block.operations { w.writeVarint(UInt64(operation)) }
            w.writeByte(UInt8(block.tagFilter.probes))
            w.writeBytes(block.tagFilter.bits)
        }
        return w.bytes
    }

    /// Reads a footer, checking that every index stays inside its dictionary.
    /// - Throws: `dataCorrupted` naming what is wrong.
    init(decoding bytes: UnsafeRawBufferPointer) throws {
        var r = ByteReader(bytes)
        let tenantID = try r.readString()
        guard Tenant.isValid(tenantID) else { throw SightlineError(.dataCorrupted, "part footer names the invalid tenant \"\(tenantID)\"") }
        tenant = Tenant(uncheckedID: tenantID)
        partition = try r.readVarint()
        spanCount = Int(try r.readVarint())
        minStart = try r.readVarint()
        maxStart = try r.readVarint()
        services = try (0..<r.readCount()).map { _ in try r.readString() }
        operations = []
        for _ in 0..<(try r.readCount()) {
            let service = Int(try r.readVarint())
            let name = try r.readString()
            let kind = Span.Kind(rawValue: Int32(try r.readByte())) ?? .unspecified
            guard service < services.count else { throw SightlineError(.dataCorrupted, "part operation names service \(service) of \(services.count)") }
            operations.append(OperationKey(service: service, name: name, kind: kind))
        }
        resources = []
        for _ in 0..<(try r.readCount()) { resources.append(ResourceKey(resource: try r.readAttributes(), scope: try r.readScope())) }
        let traceProbes = Int(try r.readByte())
        traceFilter = try BloomFilter(bits: try r.readBytes(), probes: traceProbes)
        blocks = []
        for _ in 0..<(try r.readCount()) {
            let offset = Int64(try r.readVarint())
            let length = Int(try r.readVarint())
            let checksum = try r.readUInt32LE()
            let spanCount = Int(try r.readVarint())
            let minTrace = TraceID(high: try r.readUInt64LE(), low: try r.readUInt64LE())
            let maxTrace = TraceID(high: try r.readUInt64LE(), low: try r.readUInt64LE())
            let minStart = try r.readVarint()
            let maxStart = try r.readVarint()
            let minDuration = try r.readVarint()
            let maxDuration = try r.readVarint()
            let statusMask = try r.readByte()
            var operationIndexes: [Int] = []
            for _ in 0..<(try r.readCount()) {
                let operation = Int(try r.readVarint())
                guard operation < operations.count else { throw SightlineError(.dataCorrupted, "part block names operation \(operation) of \(operations.count)") }
                operationIndexes.append(operation)
            }
            let tagProbes = Int(try r.readByte())
            let tagFilter = try BloomFilter(bits: try r.readBytes(), probes: tagProbes)
            blocks.append(
                BlockMeta(
                    offset: offset, length: length, checksum: checksum, spanCount: spanCount, minTrace: minTrace, maxTrace: maxTrace,
                    minStart: minStart, maxStart: maxStart, minDuration: minDuration, maxDuration: maxDuration, statusMask: statusMask,
                    operations: operationIndexes, tagFilter: tagFilter))
        }
        guard r.isAtEnd else { throw SightlineError(.dataCorrupted, "part footer has \(r.remaining) bytes after its last block") }
    }

    init(
        tenant: Tenant, partition: UInt64, spanCount: Int, minStart: UInt64, maxStart: UInt64, services: [String],
        operations: [OperationKey], resources: [ResourceKey], traceFilter: BloomFilter, blocks: [BlockMeta]
    ) {
        self.tenant = tenant
        self.partition = partition
        self.spanCount = spanCount
        self.minStart = minStart
        self.maxStart = maxStart
        self.services = services
        self.operations = operations
        self.resources = resources
        self.traceFilter = traceFilter
        self.blocks = blocks
    }
}
