import Foundation
import SightlineCore
import SightlineStorageCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file operations of the block layer that `POSIXFile` lacks: positioned reads, renames and removing directories.
///
/// Every failure is a `SightlineError(.io)` naming the path.
enum BlockFiles {
    /// Creates (or truncates) `path`, writes `bytes` and fsyncs the file.
    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let fd = try POSIXFile.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        defer { POSIXFile.close(fd) }
        try bytes.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: path) }
        try POSIXFile.fsync(fd, path: path)
    }

    /// Reads exactly `count` bytes at `offset` of `fd`; a file that ends early is `dataCorrupted`.
    static func read(_ fd: Int32, count: Int, at offset: UInt64, path: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        try bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while filled < count {
                let got = pread(fd, base + filled, count - filled, off_t(offset) + off_t(filled))
                if got < 0 {
                    if errno == EINTR { continue }
                    throw POSIXFile.error("pread", path)
                }
                if got == 0 { break }
                filled += got
            }
        }
        guard filled == count else {
            throw SightlineError(.dataCorrupted, "\(path): file ends at offset \(offset + UInt64(filled)), expected \(count) bytes at offset \(offset)")
        }
        return bytes
    }

    /// Renames `from` to `to` (atomic within one file system).
    static func rename(_ from: String, _ to: String) throws {
        #if canImport(Glibc)
        let result = Glibc.rename(from, to)
        #else
        let result = Darwin.rename(from, to)
        #endif
        if result != 0 { throw POSIXFile.error("rename to \(to)", from) }
    }

    /// Removes a directory and everything in it; a directory that is already gone is not an error.
    static func removeTree(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw SightlineError(.io, "remove directory \(path)", cause: error)
        }
    }

    /// Whether `path` is a directory.
    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The size of the file at `path`.
    static func size(_ path: String) throws -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw POSIXFile.error("stat", path) }
        return Int64(info.st_size)
    }

    /// The current wall-clock time in ms since the epoch.
    static func nowMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
