import Glibc
import SightlineCore
import SightlineStorageCore

/// The record store's two durable writes, on the storage layer's POSIX helpers.
enum FileIO {
    /// Writes `bytes` at `offset` of the file at `path` (created if missing), cuts anything after them, and fsyncs.
    static func write(_ bytes: [UInt8], to path: String, at offset: Int64) throws {
        let fd = try POSIXFile.open(path, O_WRONLY | O_CREAT)
        defer { POSIXFile.close(fd) }
        try POSIXFile.truncate(fd, to: offset, path: path)
        guard lseek(fd, off_t(offset), SEEK_SET) == offset else { throw POSIXFile.error("lseek", path) }
        try bytes.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: path) }
        try POSIXFile.fsync(fd, path: path)
    }
}
