package import HTTPTypes
package import Hummingbird
import NIOCore
package import SightlineCore

/// Maps Sightline's error codes to HTTP statuses at the edge; stores and decoders stay free of HTTP.
extension SightlineError: HTTPResponseError {
    package var status: HTTPResponse.Status {
        switch code {
        case .invalidArgument, .configuration: .badRequest
        case .tooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .unauthenticated: .unauthorized
        case .permissionDenied: .forbidden
        case .notFound: .notFound
        case .unavailable: .serviceUnavailable
        default: .internalServerError
        }
    }

    /// The Prometheus API's `errorType` for the code.
    package var errorType: String {
        switch code {
        case .invalidArgument, .configuration: "bad_data"
        case .tooLarge: "too_large"
        case .unsupportedMediaType: "unsupported_media_type"
        case .unauthenticated: "unauthorized"
        case .permissionDenied: "forbidden"
        case .notFound: "not_found"
        case .unavailable: "unavailable"
        default: "internal"
        }
    }

    /// `{"status":"error","errorType":"…","error":"…"}`, as the Prometheus HTTP API answers errors.
    package func response(from request: Request, context: some RequestContext) throws -> Response {
        var body = "{\"status\":\"error\",\"errorType\":"
        JSONText.appendString(errorType, to: &body)
        body += ",\"error\":"
        JSONText.appendString(description, to: &body)
        body += "}"
        var headers: HTTPFields = [.contentType: "application/json"]
        if code == .unauthenticated { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
