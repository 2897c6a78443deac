import Foundation
import Glibc
package import SightlineCore

/// Thin wrappers around the POSIX calls the storage layer needs, turning `errno` into `SightlineError(.io)`.
///
/// Every helper retries on `EINTR` and names the path and the failed call in its error message.
package enum POSIXFile {
    /// The `SightlineError(.io)` for a failed call, with the `errno` text.
    package static func error(_ call: String, _ path: String, errno code: Int32 = errno) -> SightlineError {
        SightlineError(.io, "\(call) \(path): \(String(cString: strerror(code))) (errno \(code))")
    }

    /// Creates `path` and its missing parents.
    package static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw SightlineError(.io, "create directory \(path)", cause: error)
        }
    }

    /// Makes `to` a hard link to the file `from` (both on one file system).
    package static func link(_ from: String, _ to: String) throws {
        guard Glibc.link(from, to) == 0 else { throw error("link to", from + " from " + to) }
    }

    /// Opens `path` with `flags` (`O_CLOEXEC` is added) and `mode` for created files.
    package static func open(_ path: String, _ flags: Int32, mode: UInt32 = 0o644) throws -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode_t(mode))
            if fd >= 0 { return fd }
            if errno != EINTR { throw error("open", path) }
        }
    }

    /// Closes `fd`, ignoring errors (the data that matters was fsynced before).
    package static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Writes every byte of `bytes` at the file's current offset, looping over short writes.
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        guard var base = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = Glibc.write(fd, base, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw error("write", path)
            }
            remaining -= written
            base += written
        }
    }

    /// Flushes the file's data and metadata to stable storage.
    package static func fsync(_ fd: Int32, path: String) throws {
        while Glibc.fsync(fd) != 0 {
            if errno != EINTR { throw error("fsync", path) }
        }
    }

    /// Sets the file's length to `length` bytes.
    package static func truncate(_ fd: Int32, to length: Int64, path: String) throws {
        while ftruncate(fd, off_t(length)) != 0 {
            if errno != EINTR { throw error("ftruncate", path) }
        }
    }

    /// Fsyncs a directory so that created, renamed and deleted entries in it are durable.
    package static func fsyncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, path: path)
    }

    /// Replaces the file at `path` with `bytes` so that a crash leaves either the old or the new content: writes
    /// `path.tmp`, fsyncs it, renames it over `path`, and fsyncs the directory.
    package static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp"
        let fd = try open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        defer { close(fd) }
        try bytes.withUnsafeBytes { try writeAll(fd, $0, path: temporary) }
        try fsync(fd, path: temporary)
        guard rename(temporary, path) == 0 else { throw error("rename", path) }
        let slash = path.lastIndex(of: "/")
        try fsyncDirectory(slash.map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? ".")
    }

    /// Deletes a file; a file that is already gone is not an error.
    package static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw error("unlink", path) }
    }

    /// The size of the file `fd` refers to.
    package static func size(_ fd: Int32, path: String) throws -> Int64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw error("fstat", path) }
        return Int64(info.st_size)
    }

    /// The whole content of `path`.
    package static func readAll(_ path: String) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        return try read(fd, offset: 0, count: Int(try size(fd, path: path)), path: path)
    }

    /// `count` bytes of `path` from `offset` (fewer when the file ends first).
    package static func read(_ path: String, offset: Int64, count: Int) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        return try read(fd, offset: offset, count: count, path: path)
    }

    /// `count` bytes of the open file `fd` from `offset`, looping over short reads; fewer when the file ends first.
    private static func read(_ fd: Int32, offset: Int64, count: Int, path: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        try bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while filled < count {
                let got = pread(fd, base + filled, count - filled, off_t(offset) + off_t(filled))
                if got < 0 {
                    if errno == EINTR { continue }
                    throw error("read", path)
                }
                if got == 0 { break }  // the file ends (or shrank while reading)
                filled += got
            }
        }
        if filled < count { bytes.removeLast(count - filled) }
        return bytes
    }

    /// The names of the entries in directory `path`.
    package static func listDirectory(_ path: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw SightlineError(.io, "list directory \(path)", cause: error)
        }
    }
}
