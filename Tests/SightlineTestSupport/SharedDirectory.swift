package import Foundation

/// Finds the project's `shared` folder (conformance data, datasets), which sits next to the repository root.
package enum SharedDirectory {
    /// `<repository root>/../shared`, found from this file's path with symlinks resolved, so a development package
    /// that links the test folders in finds it too.
    package static let url: URL = {
        // Tests/SightlineTestSupport/SharedDirectory.swift → the repository root is three levels up.
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.deletingLastPathComponent().appendingPathComponent("shared", isDirectory: true)
    }()

    /// The URL of `path` (e.g. `conformance/otlp`) inside the shared folder.
    package static func url(_ path: String) -> URL { url.appendingPathComponent(path) }
}
