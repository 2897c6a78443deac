import SightlineCore
import SightlineStorageCore

/// The columns of one block, each compressed on its own with LZ4, as one byte string.
///
/// Layout: the column count (varint); per column its raw length, stored length and codec byte (0 stored as is,
/// 1 LZ4); then the stored bytes of every column in order. A column is kept raw when LZ4 does not make it smaller
/// (random ids), so no column grows.
struct ColumnSetWriter {
    private var directory = ByteWriter(capacity: 64)
    private var payload: [UInt8] = []
    private var count = 0

    /// Appends one column, compressed unless `compress` is false (a column of random ids, known not to shrink).
    mutating func append(_ column: [UInt8], compress: Bool = true) {
        count += 1
        directory.writeVarint(UInt64(column.count))
        if compress && column.count >= 32 {
            let compressed = LZ4Block.compress(column)
            if compressed.count < column.count {
                directory.writeVarint(UInt64(compressed.count))
                directory.writeByte(1)
                payload.append(contentsOf: compressed)
                return
            }
        }
        directory.writeVarint(UInt64(column.count))
        directory.writeByte(0)
        payload.append(contentsOf: column)
    }

    /// The finished column set.
    func finish() -> [UInt8] {
        var header = ByteWriter(capacity: directory.bytes.count + 8 + payload.count)
        header.writeVarint(UInt64(count))
        header.writeRaw(directory.bytes)
        header.writeRaw(payload)
        return header.bytes
    }
}

/// Reads the columns ``ColumnSetWriter`` wrote, decompressing each on demand: from the whole block in memory, or
/// column by column through a loader (a part whose block was verified once reads only the columns a query needs).
struct ColumnSetReader {
    private struct Entry {
        var rawLength: Int
        var offset: Int
        var storedLength: Int
        var codec: UInt8
    }

    /// Where the stored bytes come from.
    private enum Source {
        /// The whole block.
        case block([UInt8])
        /// `load(offset, length)`: the stored bytes of one column, by its place in the block.
        case loader((Int, Int) throws -> [UInt8])
    }

    private let source: Source
    private var entries: [Entry] = []

    /// Parses the column directory of `bytes`.
    /// - Throws: `dataCorrupted` when the directory is cut or names bytes past the end.
    init(_ bytes: [UInt8]) throws {
        self.source = .block(bytes)
        self.entries = try Self.directory(bytes, blockLength: bytes.count)
    }

    /// Parses the column directory at the start of `prefix` (the first bytes of a block of `blockLength` bytes); each
    /// column is then read with `load` when asked for.
    /// - Throws: `dataCorrupted` when the directory is cut (it may not fit the prefix) or names bytes past the end.
    init(prefix: [UInt8], blockLength: Int, load: @escaping (_ offset: Int, _ length: Int) throws -> [UInt8]) throws {
        self.source = .loader(load)
        self.entries = try Self.directory(prefix, blockLength: blockLength)
    }

    private static func directory(_ bytes: [UInt8], blockLength: Int) throws -> [Entry] {
        var entries: [Entry] = []
        let payloadStart: Int = try bytes.withUnsafeBytes { raw in
            var reader = ByteReader(raw)
            let count = try reader.readCount()
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let rawLength = try reader.readVarint()
                let storedLength = try reader.readVarint()
                let codec = try reader.readByte()
                // LZ4 expands at most about 255 times, so a larger raw length is damage (and would be a huge allocation).
                guard rawLength < 1 << 32, storedLength < 1 << 32, codec <= 1, rawLength <= storedLength * 256 + 16 else {
                    throw SightlineError(.dataCorrupted, "column directory entry is invalid (codec \(codec), \(rawLength) bytes)")
                }
                entries.append(Entry(rawLength: Int(rawLength), offset: 0, storedLength: Int(storedLength), codec: codec))
            }
            return reader.offset
        }
        var offset = payloadStart
        for index in entries.indices {
            entries[index].offset = offset
            offset += entries[index].storedLength
            guard offset <= blockLength else { throw SightlineError(.dataCorrupted, "column \(index) runs past the end of the block") }
        }
        return entries
    }

    /// The number of columns.
    var count: Int { entries.count }

    /// The decompressed length of column `index`, from the directory, without decompressing it.
    /// - Throws: `dataCorrupted` when the column is missing.
    func rawLength(_ index: Int) throws -> Int {
        guard index < entries.count else { throw SightlineError(.dataCorrupted, "block has \(entries.count) columns, column \(index) is missing") }
        return entries[index].rawLength
    }

    /// The decompressed bytes of column `index`.
    /// - Throws: `dataCorrupted` when the column is missing or does not decompress.
    func column(_ index: Int) throws -> [UInt8] {
        guard index < entries.count else { throw SightlineError(.dataCorrupted, "block has \(entries.count) columns, column \(index) is missing") }
        let entry = entries[index]
        func decompress(_ stored: UnsafeRawBufferPointer) throws -> [UInt8] {
            if entry.codec == 0 {
                guard entry.rawLength == entry.storedLength else { throw SightlineError(.dataCorrupted, "raw column \(index) has the wrong length") }
                return Array(stored)
            }
            return try LZ4Block.decompress(stored, decompressedSize: entry.rawLength)
        }
        switch source {
        case .block(let bytes):
            return try bytes.withUnsafeBytes { raw in
                try decompress(UnsafeRawBufferPointer(rebasing: raw[entry.offset..<(entry.offset + entry.storedLength)]))
            }
        case .loader(let load):
            let stored = try load(entry.offset, entry.storedLength)
            guard stored.count == entry.storedLength else { throw SightlineError(.dataCorrupted, "column \(index) is cut") }
            return try stored.withUnsafeBytes { try decompress($0) }
        }
    }
}
