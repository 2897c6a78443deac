/// Why a PromQL query failed, shaped like the `errorType`/`error` pair of Prometheus' HTTP API.
package struct PromQLError: Error, Sendable, CustomStringConvertible {
    /// The failure class; the raw value is the `errorType` Prometheus' API reports.
    package enum Kind: String, Sendable, Hashable {
        /// The query or its parameters are malformed (parse errors, bad steps, too many points).
        case badData = "bad_data"
        /// The query is valid but failed while running (duplicate labelsets, matching errors, sample limit).
        case execution
        /// The query ran longer than ``PromQLEngine/Options/timeout``.
        case timeout
        /// The query was canceled.
        case canceled
        /// A bug or an unexpected condition inside the engine.
        case `internal`
        /// The storage could not be read.
        case unavailable
    }

    /// The failure class.
    package var kind: Kind
    /// Prometheus' message text, e.g. `vector cannot contain metrics with the same labelset`.
    package var message: String

    /// An error of `kind` with Prometheus' `message`.
    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }

    /// `query processing would load too many samples into memory in query execution`.
    package static let tooManySamples = PromQLError(
        .execution, "query processing would load too many samples into memory in query execution")

    /// `query timed out in expression evaluation`.
    package static let timedOut = PromQLError(.timeout, "query timed out in expression evaluation")

    /// `vector cannot contain metrics with the same labelset`.
    package static let duplicateLabelset = PromQLError(.execution, "vector cannot contain metrics with the same labelset")
}
