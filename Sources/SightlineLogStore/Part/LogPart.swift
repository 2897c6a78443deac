import Glibc
import SightlineCore
import SightlineStorageCore
import Synchronization

/// What a part's index says about one of its blocks.
struct BlockInfo: Sendable {
    var minTime: UInt64
    var maxTime: UInt64
    var count: Int
    /// Bytes of the block's lines, for stats.
    var lineBytes: Int
    /// Where the block's trigram filter starts; its columns follow it.
    var offset: Int
    var bloomLength: Int
    var dataLength: Int
    var bloomCRC: UInt32
    var dataCRC: UInt32

    /// Whether the block may hold records in `range` (its first or last record, or the span between, falls in it).
    func overlaps(_ range: TimeRange) -> Bool { maxTime >= range.startNano && minTime < range.endNano }
}

/// What identifies a part and places it in its stream's history.
struct PartMeta: Sendable {
    var id: UInt64
    var tenant: Tenant
    /// The stream's labels (``LogRecord/streamLabels``).
    var labels: Labels
    /// The stream's generation (backing part set) the part belongs to; merges stay within one.
    var generation: Int
    /// When the part's generation's data was first written (the earliest creation time of the records' parts), in ns.
    var createdNano: UInt64
}

/// One immutable part file: the records of one stream, sorted by time, in columnar blocks.
///
/// Layout:
/// - header: `SLLP`, format version 1, three zero bytes.
/// - blocks: per block its trigram filter (little-endian words), then its columns (``LogBlockCodec``).
/// - index: the tenant, the stream labels, the generation, the creation time, the block count, then per block min
///   time, max − min, record count, line bytes, offset, filter length, data length (varints) and the CRC-32C of the
///   filter and of the data (4 bytes LE each).
/// - footer (20 bytes): index offset (8 bytes LE), index length (4), CRC-32C of the index (4), `SLLP`.
///
/// The part keeps its file open for its whole life and reads blocks with `pread`, so a part that a merge or retention
/// removed (its file unlinked) stays readable by the queries that still hold it; the descriptor closes when the last
/// of them lets go.
final class LogPart: Sendable {
    let meta: PartMeta
    let path: String
    let blocks: [BlockInfo]
    let minTime: UInt64
    let maxTime: UInt64
    let recordCount: Int
    let fileBytes: Int
    private let fd: Int32
    /// Per block, whether its data has passed its checksum in this process (see ``withColumns(_:_:)``).
    private let verified: Mutex<[Bool]>
    /// Per block, whether its trigram filter has passed its checksum in this process.
    private let bloomVerified: Mutex<[Bool]>

    static let magic: [UInt8] = Array("SLLP".utf8)
    static let version: UInt8 = 1
    static let headerLength = 8
    static let footerLength = 20

    private init(meta: PartMeta, path: String, blocks: [BlockInfo], fileBytes: Int, fd: Int32) {
        self.meta = meta
        self.path = path
        self.blocks = blocks
        self.minTime = blocks.map(\.minTime).min() ?? 0
        self.maxTime = blocks.map(\.maxTime).max() ?? 0
        self.recordCount = blocks.reduce(0) { $0 + $1.count }
        self.fileBytes = fileBytes
        self.fd = fd
        self.verified = Mutex([Bool](repeating: false, count: blocks.count))
        self.bloomVerified = Mutex([Bool](repeating: false, count: blocks.count))
    }

    deinit { POSIXFile.close(fd) }

    // MARK: Writing

    /// Writes the records of `chunks` (a stream's head chunks, read where they are) as part `meta.id` in
    /// `directory`: in `order` when given (``LogStore/timeOrder(_:)``), else one chunk after the other (then together
    /// sorted by ``LogRecord/effectiveTimeUnixNano``). A temporary file, fsynced, then renamed; the caller fsyncs the
    /// directory. Returns the part opened for reading.
    static func write(
        _ chunks: [LogStore.HeadChunk], order: [LogStore.RecordLocation]?, meta: PartMeta, directory: String, options: LogStoreOptions
    ) throws -> LogPart {
        let writer = try LogPartWriter(meta: meta, directory: directory, options: options)
        guard let order else {
            for chunk in chunks { try writer.append(chunk.batch, rows: chunk.rows) }
            return try writer.finish()
        }
        // A run of places in one chunk at a time.
        var start = 0
        while start < order.count {
            let chunk = order[start].chunk
            var end = start + 1
            while end < order.count && order[end].chunk == chunk { end += 1 }
            try writer.append(chunks[chunk].batch, rows: order[start..<end].lazy.map(\.index))
            start = end
        }
        return try writer.finish()
    }

    // MARK: Reading

    /// Opens part `id` at `path` and reads its index.
    /// - Throws: `dataCorrupted` naming the file when its footer or index is damaged, `io` when it cannot be read.
    static func open(path: String, id: UInt64) throws -> LogPart {
        let fd = try POSIXFile.open(path, O_RDONLY)
        do {
            let size = Int(try POSIXFile.size(fd, path: path))
            guard size >= headerLength + footerLength else { throw corrupted(path, "has \(size) bytes, too few for a part") }
            let header = try readExactly(fd, at: 0, count: headerLength, path: path)
            guard Array(header.prefix(4)) == magic, header[4] == version else { throw corrupted(path, "is not a log part (bad header)") }
            let footer = try readExactly(fd, at: size - footerLength, count: footerLength, path: path)
            let (indexOffset, indexLength, indexCRC) = try footer.withUnsafeBytes { raw -> (Int, Int, UInt32) in
                var r = ByteReader(raw)
                let offset = try r.readUInt64LE()
                let length = try r.readUInt32LE()
                let crc = try r.readUInt32LE()
                guard Array(raw[16..<20]) == magic else { throw corrupted(path, "has no part footer") }
                guard offset >= UInt64(headerLength), offset + UInt64(length) == UInt64(size - footerLength) else {
                    throw corrupted(path, "footer names an index at \(offset) of \(length) bytes in a file of \(size)")
                }
                return (Int(offset), Int(length), crc)
            }
            let index = try readExactly(fd, at: indexOffset, count: indexLength, path: path)
            guard CRC32C.checksum(index) == indexCRC else { throw corrupted(path, "index fails its checksum") }
            let (meta, blocks) = try index.withUnsafeBytes { raw -> (PartMeta, [BlockInfo]) in
                var r = ByteReader(raw)
                let tenant = Tenant(uncheckedID: try r.readString())
                let labels = try r.readLabels()
                let generation = try r.readVarint()
                let created = try r.readVarint()
                let count = try r.readCount()
                var blocks: [BlockInfo] = []
                blocks.reserveCapacity(count)
                for number in 0..<count {
                    let minTime = try r.readVarint()
                    let span = try r.readVarint()
                    let records = try r.readVarint()
                    let lineBytes = try r.readVarint()
                    let offset = try r.readVarint()
                    let bloomLength = try r.readVarint()
                    let dataLength = try r.readVarint()
                    let bloomCRC = try r.readUInt32LE()
                    let dataCRC = try r.readUInt32LE()
                    guard offset >= UInt64(headerLength), bloomLength < 1 << 32, dataLength < 1 << 32, records < 1 << 32, lineBytes < 1 << 48,
                        offset + bloomLength + dataLength <= UInt64(indexOffset), span <= UInt64.max - minTime
                    else { throw corrupted(path, "index entry of block \(number) is out of range") }
                    blocks.append(
                        BlockInfo(
                            minTime: minTime, maxTime: minTime + span, count: Int(records), lineBytes: Int(lineBytes), offset: Int(offset),
                            bloomLength: Int(bloomLength), dataLength: Int(dataLength), bloomCRC: bloomCRC, dataCRC: dataCRC
                        ))
                }
                guard r.isAtEnd, generation < 1 << 40 else { throw corrupted(path, "index has trailing bytes") }
                return (PartMeta(id: id, tenant: tenant, labels: labels, generation: Int(generation), createdNano: created), blocks)
            }
            return LogPart(meta: meta, path: path, blocks: blocks, fileBytes: size, fd: fd)
        } catch let error as SightlineError where error.code == .dataCorrupted && !error.message.hasPrefix(path) {
            POSIXFile.close(fd)
            throw corrupted(path, error.message)
        } catch {
            POSIXFile.close(fd)
            throw error
        }
    }

    /// The trigram filter of block `number`.
    /// - Throws: `dataCorrupted` naming the file when it fails its checksum.
    func bloom(_ number: Int) throws -> TrigramBloom {
        let info = blocks[number]
        let bytes = try Self.readExactly(fd, at: info.offset, count: info.bloomLength, path: path)
        // Checked once per process, as block data is (see ``withColumns(_:_:)``): term searches read every filter.
        if !bloomVerified.withLock({ $0[number] }) {
            guard CRC32C.checksum(bytes) == info.bloomCRC else { throw Self.corrupted(path, "filter of block \(number) fails its checksum") }
            bloomVerified.withLock { $0[number] = true }
        }
        return bytes.withUnsafeBytes { TrigramBloom(bytes: $0) }
    }

    /// The records of block `number` that `filter` keeps, in time order.
    /// - Throws: `dataCorrupted` naming the file and the block when it fails its checksum or does not decode.
    func records(_ number: Int, filter: RecordFilter) throws -> [LogRecord] {
        try withColumns(number) { columns, count in try LogBlockCodec.decode(columns, count: count, streamLabels: meta.labels, filter: filter) }
    }

    /// Calls `visit` with the effective time, record count, line bytes and group of `groupBy` of the records of block
    /// `number` that `filter` keeps: one record a call, or the whole block at once when `whole` (the caller knows every
    /// record is kept and they share one bucket) and the block's records are all of the stream's own group (nil), which
    /// reads no more than the attribute keys (see ``LogBlockCodec/countLines(_:count:filter:groupBy:streamLabels:whole:_:)``).
    func countLines(
        _ number: Int, filter: RecordFilter, groupBy: [String], whole: Bool, _ visit: (UInt64, Int, Int, [String]?) -> Void
    ) throws {
        let info = blocks[number]
        try withColumns(number) { columns, count in
            try LogBlockCodec.countLines(
                columns, count: count, filter: filter, groupBy: groupBy, streamLabels: meta.labels,
                whole: whole ? (info.minTime, info.lineBytes) : nil, visit)
        }
    }

    /// Bytes read at the start of a verified block for its column directory (a few bytes per column).
    private static let directoryPrefixLength = 512

    /// Hands the columns of block `number` and its record count to `body`; a block that does not decode is reported
    /// with the part's path.
    ///
    /// The first read of a block reads it whole and checks its checksum (the checksum covers the whole block). The
    /// part is immutable, so later reads of a block that passed read only its column directory and then the columns
    /// `body` asks for: a count over the last hour reads the time and line-length columns, not every line again.
    private func withColumns<T>(_ number: Int, _ body: (ColumnSetReader, Int) throws -> T) throws -> T {
        let info = blocks[number]
        guard verified.withLock({ $0[number] }) else {
            return try withBlock(number) { bytes, count in try body(ColumnSetReader(bytes), count) }
        }
        let start = info.offset + info.bloomLength
        let prefix = try Self.readExactly(fd, at: start, count: min(info.dataLength, Self.directoryPrefixLength), path: path)
        let fd = self.fd
        let path = self.path
        guard let columns = try? ColumnSetReader(prefix: prefix, blockLength: info.dataLength, load: { offset, length in
            try Self.readExactly(fd, at: start + offset, count: length, path: path)
        }) else {
            // A directory longer than the prefix (or damage, which the whole read reports).
            return try withBlock(number) { bytes, count in try body(ColumnSetReader(bytes), count) }
        }
        do {
            return try body(columns, info.count)
        } catch let error as SightlineError where error.code == .dataCorrupted {
            // Decoding failures name the block; read errors of the columns pass as they are.
            throw Self.corrupted(path, "block \(number): \(error.message)")
        }
    }

    /// Reads block `number` whole, checks its checksum (marking the block verified) and hands its bytes and record
    /// count to `body`; a block that does not decode is reported with the part's path.
    private func withBlock<T>(_ number: Int, _ body: ([UInt8], Int) throws -> T) throws -> T {
        let info = blocks[number]
        let bytes = try Self.readExactly(fd, at: info.offset + info.bloomLength, count: info.dataLength, path: path)
        guard CRC32C.checksum(bytes) == info.dataCRC else { throw Self.corrupted(path, "block \(number) fails its checksum") }
        verified.withLock { $0[number] = true }
        do {
            return try body(bytes, info.count)
        } catch let error as SightlineError {
            throw Self.corrupted(path, "block \(number): \(error.message)")
        }
    }

    /// Every record of the part, in time order; every block read whole and checked against its checksum (merges copy
    /// records into new parts, so they must not carry damage along).
    func allRecords() throws -> [LogRecord] {
        var records: [LogRecord] = []
        records.reserveCapacity(recordCount)
        for number in blocks.indices {
            try withBlock(number) { bytes, count in
                records.append(contentsOf: try LogBlockCodec.decode(bytes, count: count, streamLabels: meta.labels, filter: .all))
            }
        }
        return records
    }

    private static func corrupted(_ path: String, _ what: String) -> SightlineError {
        SightlineError(.dataCorrupted, "\(path): \(what)")
    }

    /// Reads `count` bytes at `offset`; a short read means the file is cut.
    private static func readExactly(_ fd: Int32, at offset: Int, count: Int, path: String) throws -> [UInt8] {
        var failure: (any Error)?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var filled = 0
            while filled < count, let base = buffer.baseAddress {
                let got = pread(fd, base + filled, count - filled, off_t(offset + filled))
                if got < 0 {
                    if errno == EINTR { continue }
                    failure = POSIXFile.error("pread", path)
                    break
                }
                if got == 0 {
                    failure = corrupted(path, "is cut: \(count) bytes at \(offset) run past its end")
                    break
                }
                filled += got
            }
            initialized = failure == nil ? count : 0
        }
        if let failure { throw failure }
        return bytes
    }
}
