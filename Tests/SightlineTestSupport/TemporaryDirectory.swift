import Foundation
import Glibc

/// A fresh, empty directory under the system temporary directory; ``remove()`` deletes it with its contents.
///
/// ```swift
/// let directory = try TemporaryDirectory(prefix: "sightline-wal")
/// defer { directory.remove() }
/// ```
package struct TemporaryDirectory: Sendable {
    /// The directory's path, without a trailing slash.
    package let path: String

    /// Creates `<tmp>/<prefix>-XXXXXX` (random, as `mkdtemp` makes it).
    /// - Parameter prefix: The start of the directory's name.
    /// - Throws: `CocoaError(.fileWriteUnknown)` when the directory cannot be created.
    package init(prefix: String = "sightline") throws {
        var base = NSTemporaryDirectory()
        if !base.hasSuffix("/") { base += "/" }
        var template = Array((base + prefix + "-XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let start = buffer.baseAddress else { return false }
            return mkdtemp(start) != nil
        }
        guard created else { throw CocoaError(.fileWriteUnknown) }
        path = template.withUnsafeBufferPointer { buffer in buffer.baseAddress.map { String(cString: $0) } ?? "" }
    }

    /// Deletes the directory and everything in it; does nothing when it is already gone.
    package func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// The path of `name` inside the directory.
    package func file(_ name: String) -> String { path + "/" + name }

    /// The names of the directory's entries, sorted.
    package func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
}
