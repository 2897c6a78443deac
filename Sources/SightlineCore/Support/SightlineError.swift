/// The error every Sightline module throws: a code that says what kind of failure it is, a message for people, and the cause.
///
/// Transport layers map ``Code`` to HTTP and gRPC status codes; stores and decoders never know about those.
package struct SightlineError: Error, Sendable, CustomStringConvertible {
    /// Kinds of failure. New codes may be added; switch with a default.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The input is malformed: a body that does not decode, a bad field value.
        package static let invalidArgument = Code("invalid argument")
        /// The input is larger than a configured limit.
        package static let tooLarge = Code("too large")
        /// The content type or encoding is not one Sightline reads.
        package static let unsupportedMediaType = Code("unsupported media type")
        /// No credentials, or credentials that are not known.
        package static let unauthenticated = Code("unauthenticated")
        /// Known credentials without the role the operation needs.
        package static let permissionDenied = Code("permission denied")
        /// A resource that does not exist.
        package static let notFound = Code("not found")
        /// The server is not ready yet or is shutting down.
        package static let unavailable = Code("unavailable")
        /// Stored data failed a check (a CRC, a length).
        package static let dataCorrupted = Code("data corrupted")
        /// A file or system call failed.
        package static let io = Code("i/o")
        /// A configuration key or value is wrong.
        package static let configuration = Code("configuration")
        /// A broken invariant inside Sightline.
        package static let `internal` = Code("internal")

        package var description: String { name }
    }

    package var code: Code
    package var message: String
    package var cause: (any Error)?

    package init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    package var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}
