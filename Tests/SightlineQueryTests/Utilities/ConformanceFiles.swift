import Foundation
import Testing

/// Finds the shared PromQL conformance scripts (`../shared/conformance/promql/*.test` from the project root).
///
/// The root is found from this file's path with symlinks resolved, so the helper also works from a development package
/// that links the test files in. A missing folder is a test failure, never a skip.
enum ConformanceFiles {
    /// The `promql` conformance folder.
    static func promQLDirectory() throws -> URL {
        // Tests/SightlineQueryTests/Utilities/ConformanceFiles.swift → project root is three levels up.
        let file = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        let root = file.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.deletingLastPathComponent().appendingPathComponent("shared/conformance/promql", isDirectory: true)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            Issue.record("PromQL conformance scripts not found at \(directory.path)")
            throw ConformanceFilesError.missing(directory.path)
        }
        return directory
    }

    /// Every `*.test` script, sorted by name, with its text.
    static func promQLScripts() throws -> [(name: String, text: String)] {
        let directory = try promQLDirectory()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".test") }.sorted()
        guard !names.isEmpty else {
            Issue.record("no .test scripts in \(directory.path)")
            throw ConformanceFilesError.missing(directory.path)
        }
        return try names.map { name in
            (name, try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8))
        }
    }
}

/// Why the conformance data could not be read.
enum ConformanceFilesError: Error {
    case missing(String)
}
