import Glibc
import SightlineCore
import SightlineStorageCore

/// Writes one part file block by block, so a merge of large parts holds one block of records at a time, not the
/// whole part (format in ``LogPart``).
///
/// Records must be appended in ``LogRecord/effectiveTimeUnixNano`` order. The file is `<id>.part.tmp` until ``finish()`` fsyncs and
/// renames it; a writer dropped unfinished deletes its temporary file.
final class LogPartWriter {
    private let meta: PartMeta
    private let path: String
    private let temporary: String
    private let options: LogStoreOptions
    private var fd: Int32
    private var buffer: [UInt8]
    private var offset: Int
    private var infos: [BlockInfo] = []
    private var pending: [LogRecord] = []
    private var pendingBytes = 0

    /// Creates `<id>.part.tmp` in `directory` and writes the header.
    init(meta: PartMeta, directory: String, options: LogStoreOptions) throws {
        self.meta = meta
        self.options = options
        path = directory + "/" + LogStoreFileNames.part(meta.id)
        temporary = path + LogStoreFileNames.temporarySuffix
        fd = try POSIXFile.open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        buffer = LogPart.magic + [LogPart.version, 0, 0, 0]
        offset = buffer.count
    }

    deinit {
        if fd >= 0 {
            POSIXFile.close(fd)
            try? POSIXFile.remove(temporary)
        }
    }

    /// Adds a record; a block is encoded once it reaches the record limit or, with its lines plus a rough 64 bytes a
    /// record for the other columns, the byte target.
    func append(_ record: LogRecord) throws {
        pendingBytes += record.line.utf8.count + 64
        pending.append(record)
        if pending.count >= options.blockMaxRecords || pendingBytes >= options.blockTargetBytes { try flushBlock() }
    }

    /// Appends records already in time order, cut into blocks as ``append(_:)`` would cut them, encoding each block
    /// straight from `records` (no copy of a record).
    func append(contentsOf records: ArraySlice<LogRecord>) throws {
        var start = records.startIndex
        var bytes = pendingBytes
        var count = pending.count
        for index in records.indices {
            bytes += records[index].line.utf8.count + 64
            count += 1
            guard count >= options.blockMaxRecords || bytes >= options.blockTargetBytes else { continue }
            if pending.isEmpty {
                try writeBlock(records[start...index])
            } else {
                pending.append(contentsOf: records[start...index])
                try flushBlock()
            }
            start = index + 1
            bytes = 0
            count = 0
        }
        pending.append(contentsOf: records[start...])
        pendingBytes = bytes
    }

    private func flushBlock() throws {
        guard !pending.isEmpty else { return }
        try writeBlock(pending[...])
        pending.removeAll(keepingCapacity: true)
        pendingBytes = 0
    }

    /// Encodes `records` as one block into the buffer, writing the buffer out once it passes 4 MiB.
    private func writeBlock(_ records: ArraySlice<LogRecord>) throws {
        let block = LogBlockCodec.encode(records, streamLabels: meta.labels, bitsPerTrigram: options.bloomBitsPerTrigram)
        let bloom = block.bloom.bytes
        infos.append(
            BlockInfo(
                minTime: block.minTime, maxTime: block.maxTime, count: block.count, lineBytes: block.lineBytes, offset: offset,
                bloomLength: bloom.count, dataLength: block.data.count, bloomCRC: CRC32C.checksum(bloom), dataCRC: CRC32C.checksum(block.data)
            ))
        buffer.append(contentsOf: bloom)
        buffer.append(contentsOf: block.data)
        offset += bloom.count + block.data.count
        if buffer.count >= 4 << 20 { try writeBuffer() }
    }

    private func writeBuffer() throws {
        try buffer.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: temporary) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes the last block, the index and the footer, fsyncs, renames the file to its final name, and opens it.
    /// The caller fsyncs the directory before committing the part.
    func finish() throws -> LogPart {
        try flushBlock()
        var index = ByteWriter(capacity: 64 + infos.count * 40)
        index.writeString(meta.tenant.id)
        index.writeLabels(meta.labels)
        index.writeVarint(UInt64(meta.generation))
        index.writeVarint(meta.createdNano)
        index.writeVarint(UInt64(infos.count))
        for info in infos {
            index.writeVarint(info.minTime)
            index.writeVarint(info.maxTime - info.minTime)
            index.writeVarint(UInt64(info.count))
            index.writeVarint(UInt64(info.lineBytes))
            index.writeVarint(UInt64(info.offset))
            index.writeVarint(UInt64(info.bloomLength))
            index.writeVarint(UInt64(info.dataLength))
            index.writeUInt32LE(info.bloomCRC)
            index.writeUInt32LE(info.dataCRC)
        }
        var footer = ByteWriter(capacity: LogPart.footerLength)
        footer.writeUInt64LE(UInt64(offset))
        footer.writeUInt32LE(UInt32(index.bytes.count))
        footer.writeUInt32LE(CRC32C.checksum(index.bytes))
        footer.writeRaw(LogPart.magic)
        buffer.append(contentsOf: index.bytes)
        buffer.append(contentsOf: footer.bytes)
        try writeBuffer()
        try POSIXFile.fsync(fd, path: temporary)
        POSIXFile.close(fd)
        fd = -1
        guard rename(temporary, path) == 0 else {
            let error = POSIXFile.error("rename", temporary)
            try? POSIXFile.remove(temporary)
            throw error
        }
        return try LogPart.open(path: path, id: meta.id)
    }
}
