package import SightlineCore

/// A decoding failure deep inside a message, with the path of fields that led to it.
///
/// Decoders throw it from the innermost field and add one path component per level on the way out
/// (``withFieldPath(_:_:)``), so the happy path builds no strings. The entry point turns it into a
/// ``SightlineError`` with ``sightlineError(prefix:root:)``.
package struct FieldPathError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, without the path: "truncated varint".
    package var reason: String
    /// Path components, innermost first: `[".log_records[3]", ".scope_logs[0]"]`.
    package var reversedPath: [String]

    package init(_ reason: String) {
        self.reason = reason
        self.reversedPath = []
    }

    /// The path from the root, e.g. `.resource_logs[0].scope_logs[0]`.
    package var path: String { reversedPath.reversed().joined() }

    package var description: String { path.isEmpty ? reason : "\(path): \(reason)" }

    /// Converts to an `.invalidArgument` error: "`prefix` `root``path`: `reason`".
    /// - Parameters:
    ///   - prefix: What kind of input it was, e.g. "malformed protobuf in".
    ///   - root: The top-level message name, e.g. "ExportLogsServiceRequest".
    /// - Returns: The error to throw to callers outside this module.
    package func sightlineError(prefix: String, root: String) -> SightlineError {
        SightlineError(.invalidArgument, "\(prefix) \(root)\(path): \(reason)")
    }
}

/// Runs `body`, adding `component` to the path of any ``FieldPathError`` it throws.
/// - Parameters:
///   - component: The path component, evaluated only on failure, e.g. `".scope_logs[\(index)]"`.
///   - body: The decoding step.
/// - Returns: What `body` returns.
@inline(__always)
package func withFieldPath<T>(_ component: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch var error as FieldPathError {
        error.reversedPath.append(component())
        throw error
    }
}
