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
    /// The block being built.
    private var block = LogBlockEncoder()

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

    /// Adds the rows at `indexes` of `batch`, read in place; a block is finished once it reaches the record limit
    /// or, with its lines plus a rough 64 bytes a record for the other columns, the byte target.
    func append(_ batch: LogBatch, rows indexes: some Sequence<Int>) throws {
        try LogBatchColumns.read(batch) { columns in
            block.begin(batch)
            for index in indexes {
                block.add(index, of: columns)
                if block.count >= options.blockMaxRecords || block.estimatedBytes >= options.blockTargetBytes {
                    try flushBlock()
                    block.begin(batch)
                }
            }
        }
    }

    /// Finishes the block (when it has records) into the buffer, writing the buffer out once it passes 4 MiB.
    private func flushBlock() throws {
        guard block.count > 0 else { return }
        let encoded = block.finish(bitsPerTrigram: options.bloomBitsPerTrigram)
        let bloom = encoded.bloom.bytes
        infos.append(
            BlockInfo(
                minTime: encoded.minTime, maxTime: encoded.maxTime, count: encoded.count, lineBytes: encoded.lineBytes,
                offset: offset, bloomLength: bloom.count, dataLength: encoded.data.count, bloomCRC: CRC32C.checksum(bloom),
                dataCRC: CRC32C.checksum(encoded.data)
            ))
        buffer.append(contentsOf: bloom)
        buffer.append(contentsOf: encoded.data)
        offset += bloom.count + encoded.data.count
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
