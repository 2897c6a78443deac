package import HTTPTypes
package import Hummingbird
import NIOCore
import SightlineCore
package import SightlineQuery

/// An error of the Prometheus query API, answered as Prometheus answers it:
/// `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: …"}`.
///
/// The message is sent as it is, with no cause appended, so clients that match Prometheus' texts see the same text.
package struct PrometheusAPIError: Error, Sendable, CustomStringConvertible, HTTPResponseError {
    /// Prometheus' error types: the engine's, so the two cannot drift apart. Their HTTP statuses are in ``status``.
    package typealias Kind = PromQLError.Kind

    /// The error type.
    package var kind: Kind
    /// The text for the `error` field.
    package var message: String

    /// Creates an error.
    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// Prometheus' `invalid parameter "<name>": <message>`.
    package static func invalidParameter(_ name: String, _ message: String) -> PrometheusAPIError {
        PrometheusAPIError(.badData, "invalid parameter \(JSONText.quoted(name)): \(message)")
    }

    /// The API error for an engine error. A bad-data error from the engine is about the query (it did not parse or
    /// does not fit the query kind), so it is reported as Prometheus does, as an invalid `query` parameter.
    package init(_ error: PromQLError) {
        if error.kind == .badData && !error.message.hasPrefix("invalid parameter ") {
            self = .invalidParameter("query", error.message)
        } else {
            self.init(error.kind, error.message)
        }
    }

    /// The API error for a failure of the metric store: an execution error, as Prometheus reports storage errors on
    /// the metadata endpoints, except that a store that is not ready is unavailable.
    package init(storage error: any Error) {
        if let error = error as? SightlineError {
            switch error.code {
            case .unavailable: self.init(.unavailable, error.description)
            case .invalidArgument: self.init(.badData, error.message)
            default: self.init(.execution, error.description)
            }
        } else {
            self.init(.execution, "\(error)")
        }
    }

    package var description: String { "\(kind.rawValue): \(message)" }

    /// Prometheus' status for each error type; a cancellation answers 503 rather than Prometheus' 499 ("client closed
    /// request"), because here it comes from a shutting-down server as often as from a client, and 503 tells a
    /// retrying client the right thing.
    package var status: HTTPResponse.Status {
        switch kind {
        case .badData: .badRequest
        case .execution: .unprocessableContent
        case .timeout, .canceled, .unavailable: .serviceUnavailable
        case .internal: .internalServerError
        }
    }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        var body = "{\"status\":\"error\",\"errorType\":"
        JSONText.appendString(kind.rawValue, to: &body)
        body += ",\"error\":"
        JSONText.appendString(message, to: &body)
        body += "}"
        return Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
