import Glibc
import SightlineCore
import SightlineStorageCore

/// One immutable part file, open for reading: its footer in memory, its blocks read on demand with `pread`.
///
/// Parts are shared by concurrent queries; the file stays open until the last query drops the part, so a merge or
/// retention may delete the file while a query still reads it.
final class Part: Sendable {
    /// The part's number, unique in the store, and its file name's stem.
    let id: UInt64
    let path: String
    let index: PartIndex
    private let fd: Int32
    /// The file's size in bytes.
    let size: Int

    /// Opens `path` and reads its footer.
    /// - Throws: `io` when the file cannot be read, `dataCorrupted` when its trailer, footer or CRC are wrong.
    init(id: UInt64, path: String) throws {
        self.id = id
        self.path = path
        let fd = try POSIXFile.open(path, O_RDONLY)
        do {
            let size = Int(try POSIXFile.size(fd, path: path))
            guard size >= PartFormat.magic.count + 1 + PartFormat.trailerSize else {
                throw SightlineError(.dataCorrupted, "\(path): \(size) bytes is too short for a part")
            }
            let trailer = try Self.read(fd: fd, path: path, offset: Int64(size - PartFormat.trailerSize), count: PartFormat.trailerSize)
            let (footerLength, footerCRC) = trailer.withUnsafeBytes { raw in
                (UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)), UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
            }
            guard Array(trailer[12..<16]) == PartFormat.magic else { throw SightlineError(.dataCorrupted, "\(path): no part trailer") }
            guard footerLength <= UInt64(size - PartFormat.trailerSize - 5) else {
                throw SightlineError(.dataCorrupted, "\(path): footer length \(footerLength) exceeds the file")
            }
            let footerStart = size - PartFormat.trailerSize - Int(footerLength)
            let footer = try Self.read(fd: fd, path: path, offset: Int64(footerStart), count: Int(footerLength))
            guard footer.withUnsafeBytes({ CRC32C.checksum($0) }) == footerCRC else {
                throw SightlineError(.dataCorrupted, "\(path): footer CRC mismatch")
            }
            let header = try Self.read(fd: fd, path: path, offset: 0, count: PartFormat.magic.count + 1)
            guard Array(header.prefix(4)) == PartFormat.magic, header[4] == PartFormat.version else {
                throw SightlineError(.dataCorrupted, "\(path): not a version \(PartFormat.version) trace part")
            }
            do {
                index = try footer.withUnsafeBytes { try PartIndex(decoding: $0) }
            } catch let error as SightlineError {
                throw SightlineError(.dataCorrupted, "\(path): \(error.message)")
            }
            self.size = size
            self.fd = fd
        } catch {
            POSIXFile.close(fd)
            throw error
        }
    }

    deinit { POSIXFile.close(fd) }

    /// Reads exactly `count` bytes at `offset`.
    private static func read(fd: Int32, path: String, offset: Int64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        try bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while filled < count {
                let got = pread(fd, base + filled, count - filled, off_t(offset) + off_t(filled))
                if got < 0 {
                    if errno == EINTR { continue }
                    throw POSIXFile.error("read", path)
                }
                if got == 0 { throw SightlineError(.dataCorrupted, "\(path): ends at byte \(offset + Int64(filled)), inside a block") }
                filled += got
            }
        }
        return bytes
    }

    /// Reads block `number` and checks its CRC.
    func block(_ number: Int) throws -> BlockData {
        let meta = index.blocks[number]
        let bytes = try Self.read(fd: fd, path: path, offset: meta.offset, count: meta.length)
        guard bytes.withUnsafeBytes({ CRC32C.checksum($0) }) == meta.checksum else {
            throw SightlineError(.dataCorrupted, "\(path): CRC mismatch in block \(number)")
        }
        do {
            return try BlockData(bytes: bytes, meta: meta, index: index)
        } catch let error as SightlineError {
            throw SightlineError(.dataCorrupted, "\(path) block \(number): \(error.message)")
        }
    }

    /// The spans of trace `id` in this part, in part order (start time within the trace).
    func spans(of id: TraceID) throws -> [Span] {
        var spans: [Span] = []
        for number in index.blocks(holding: id) {
            let data = try block(number)
            let traces = try data.traceIDs()
            // Sorted by trace id: find the run of `id`.
            var low = 0
            var high = traces.count
            while low < high {
                let middle = (low + high) / 2
                if traces[middle] < id { low = middle + 1 } else { high = middle }
            }
            guard low < traces.count, traces[low] == id else { continue }
            var end = low
            while end < traces.count, traces[end] == id { end += 1 }
            let columns = try data.rowColumns()
            for row in low..<end { spans.append(try columns.span(row, traceID: id)) }
        }
        return spans
    }

    /// Every span of the part, in part order (for merges).
    func allSpans() throws -> [Span] {
        var spans: [Span] = []
        spans.reserveCapacity(index.spanCount)
        for number in index.blocks.indices {
            let data = try block(number)
            let traces = try data.traceIDs()
            let columns = try data.rowColumns()
            for row in traces.indices { spans.append(try columns.span(row, traceID: traces[row])) }
        }
        return spans
    }
}

/// The bytes of one block and its column directory; columns decompress on demand.
struct BlockData {
    private let bytes: [UInt8]
    private let columns: [(rawSize: Int, codec: UInt8, offset: Int, storedSize: Int)]
    let meta: BlockMeta
    let index: PartIndex

    init(bytes: [UInt8], meta: BlockMeta, index: PartIndex) throws {
        self.bytes = bytes
        self.meta = meta
        self.index = index
        var directory: [(Int, UInt8, Int, Int)] = []
        var payloadSize = 0
        let headerSize = try bytes.withUnsafeBytes { raw -> Int in
            var r = ByteReader(raw)
            for _ in 0..<PartFormat.columnCount {
                let rawSize = Int(try r.readVarint())
                let codec = try r.readByte()
                let storedSize = Int(try r.readVarint())
                guard codec <= 1, rawSize <= 1 << 30, storedSize <= bytes.count else {
                    throw SightlineError(.dataCorrupted, "bad column directory entry (codec \(codec), sizes \(rawSize)/\(storedSize))")
                }
                directory.append((rawSize, codec, payloadSize, storedSize))
                payloadSize += storedSize
            }
            return r.offset
        }
        guard headerSize + payloadSize == bytes.count else {
            throw SightlineError(.dataCorrupted, "columns take \(headerSize + payloadSize) bytes of a \(bytes.count)-byte block")
        }
        columns = directory.map { ($0.0, $0.1, $0.2 + headerSize, $0.3) }
    }

    /// Column `number`, decompressed.
    func column(_ number: Int) throws -> [UInt8] {
        let entry = columns[number]
        return try bytes.withUnsafeBytes { raw in
            let stored = UnsafeRawBufferPointer(rebasing: raw[entry.offset..<(entry.offset + entry.storedSize)])
            if entry.codec == 0 {
                guard entry.rawSize == entry.storedSize else { throw SightlineError(.dataCorrupted, "stored column sizes differ") }
                return Array(stored)
            }
            return try LZ4Block.decompress(stored, decompressedSize: entry.rawSize)
        }
    }

    /// Column 0: the trace id of each span.
    func traceIDs() throws -> [TraceID] {
        let column = try column(0)
        guard column.count == meta.spanCount * 16 else { throw SightlineError(.dataCorrupted, "trace id column has \(column.count) bytes for \(meta.spanCount) spans") }
        return column.withUnsafeBytes { raw in
            (0..<meta.spanCount).map { row in
                TraceID(
                    high: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: row * 16, as: UInt64.self)),
                    low: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: row * 16 + 8, as: UInt64.self)))
            }
        }
    }

    /// Columns 2 and 3: what searches filter on. Each column is filled in place (no appends: this runs for every
    /// block a search or a TraceQL metrics query reads).
    func filterColumns() throws -> FilterColumns {
        let times = try column(2)
        let meta = try column(3)
        let count = self.meta.spanCount
        let minStart = self.meta.minStart
        var ends: [UInt64] = []
        let starts = try times.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            var starts: [UInt64] = []
            starts = try Array(unsafeUninitializedCapacity: count) { startBuffer, startCount in
                ends = try Array(unsafeUninitializedCapacity: count) { endBuffer, endCount in
                    for row in 0..<count {
                        let start = minStart &+ (try r.readVarint())
                        startBuffer.initializeElement(at: row, to: start)
                        endBuffer.initializeElement(at: row, to: start &+ UInt64(bitPattern: try r.readSignedVarint()))
                        (startCount, endCount) = (row + 1, row + 1)
                    }
                }
            }
            return starts
        }
        var operations = [Int](repeating: 0, count: count)
        var resources = [Int](repeating: 0, count: count)
        var statuses = [Span.StatusCode](repeating: .unset, count: count)
        var detailOffsets = [Int](repeating: 0, count: count + 1)
        let (operationCount, resourceCount) = (index.operations.count, index.resources.count)
        try meta.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            var offset = 0
            for row in 0..<count {
                let operation = Int(try r.readVarint())
                let resource = Int(try r.readVarint())
                let status = try r.readByte()
                let length = Int(try r.readVarint())
                guard operation < operationCount, resource < resourceCount else {
                    throw SightlineError(.dataCorrupted, "span names operation \(operation) or resource \(resource) outside the dictionaries")
                }
                operations[row] = operation
                resources[row] = resource
                statuses[row] = Span.StatusCode(rawValue: Int32(status)) ?? .unset
                detailOffsets[row] = offset
                offset += length
            }
            detailOffsets[count] = offset
        }
        return FilterColumns(starts: starts, ends: ends, operations: operations, resources: resources, statuses: statuses, detailOffsets: detailOffsets)
    }

    /// Every column a span needs, decoded.
    func rowColumns() throws -> RowColumns {
        try rowColumns(try idColumns(try filterColumns()))
    }

    /// Every column a span needs, with the filter and id columns already decoded.
    func rowColumns(_ ids: IDColumns) throws -> RowColumns {
        let filter = ids.filter
        let details = try column(4)
        guard filter.detailOffsets.last == details.count else { throw SightlineError(.dataCorrupted, "detail column has \(details.count) bytes, lengths add to \(filter.detailOffsets.last ?? 0)") }
        return RowColumns(columns: ids, details: details)
    }

    /// The columns of spans without their details: `filter` and the span and parent ids.
    func idColumns(_ filter: FilterColumns) throws -> IDColumns {
        let ids = try column(1)
        guard ids.count == meta.spanCount * 16 else { throw SightlineError(.dataCorrupted, "span id column has \(ids.count) bytes for \(meta.spanCount) spans") }
        return IDColumns(filter: filter, ids: ids, index: index)
    }
}

/// The columns searches filter on, one entry per span.
struct FilterColumns {
    var starts: [UInt64]
    var ends: [UInt64]
    var operations: [Int]
    var resources: [Int]
    var statuses: [Span.StatusCode]
    /// Where each span's details start in column 4, plus the end.
    var detailOffsets: [Int]
}

/// The columns of a block but the details: spans with their names, kinds, times, statuses, resources and ids.
struct IDColumns {
    let filter: FilterColumns
    let ids: [UInt8]
    let index: PartIndex

    func spanID(_ row: Int) -> SpanID { SpanID(ids.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: row * 16, as: UInt64.self)) }) }

    func parentID(_ row: Int) -> SpanID? {
        let value = ids.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: row * 16 + 8, as: UInt64.self)) }
        return value == 0 ? nil : SpanID(value)
    }

    /// The span in row `row` without attributes, events, links, status message, trace state and instrumentation scope.
    func spanWithoutDetails(_ row: Int, traceID: TraceID) -> Span {
        let operation = index.operations[filter.operations[row]]
        return Span(
            traceID: traceID, spanID: spanID(row), parentSpanID: parentID(row), name: operation.name, kind: operation.kind,
            startTimeUnixNano: filter.starts[row], endTimeUnixNano: filter.ends[row], statusCode: filter.statuses[row],
            resource: index.resources[filter.resources[row]].resource)
    }
}

/// All columns of a block, to build whole spans.
struct RowColumns {
    let columns: IDColumns
    let details: [UInt8]

    var filter: FilterColumns { columns.filter }
    var index: PartIndex { columns.index }

    func spanID(_ row: Int) -> SpanID { columns.spanID(row) }

    func parentID(_ row: Int) -> SpanID? { columns.parentID(row) }

    /// The span in row `row`, whose trace id the caller read from column 0.
    func span(_ row: Int, traceID: TraceID) throws -> Span {
        let operation = index.operations[filter.operations[row]]
        let resource = index.resources[filter.resources[row]]
        let detail = try details.withUnsafeBytes { raw in
            var r = ByteReader(UnsafeRawBufferPointer(rebasing: raw[filter.detailOffsets[row]..<filter.detailOffsets[row + 1]]))
            return try r.readSpanDetails()
        }
        return Span(
            traceID: traceID, spanID: spanID(row), parentSpanID: parentID(row), traceState: detail.traceState, flags: detail.flags,
            name: operation.name, kind: operation.kind, startTimeUnixNano: filter.starts[row], endTimeUnixNano: filter.ends[row],
            attributes: detail.attributes, droppedAttributesCount: detail.droppedAttributesCount, events: detail.events,
            droppedEventsCount: detail.droppedEventsCount, links: detail.links, droppedLinksCount: detail.droppedLinksCount,
            statusCode: filter.statuses[row], statusMessage: detail.statusMessage, resource: resource.resource, scope: resource.scope)
    }
}
