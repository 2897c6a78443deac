import Foundation
import HTTPTypes
package import Hummingbird
import NIOCore
import SightlineCore
import SightlineIngest

/// Adds Zipkin's span collector route, `POST /api/v2/spans`, for Zipkin tracers (Brave, py-zipkin, zipkin-go, the
/// OpenTelemetry Zipkin exporter).
///
/// Bodies are JSON (`Content-Type: application/json`, or none), optionally `Content-Encoding: gzip`; see
/// ``ZipkinDecoder`` for the mapping. Protobuf bodies (`application/x-protobuf`) get 415. Answers like Zipkin: 202 when
/// the spans are stored; 400 with a plain-text reason for a malformed body; 413 over the size limit; 401/403 for
/// authentication (role `ingest`; the tenant is the token's); 503 while starting.
/// - Parameters:
///   - router: The server's router.
///   - api: The ingestion pipeline, limits, authentication and metrics.
package func registerZipkinRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
    router.post("/api/v2/spans") { request, _ in
        await ZipkinHandler.post(request: request, api: api)
    }
}

/// The handler behind ``registerZipkinRoutes(to:api:)``.
enum ZipkinHandler {
    /// The protocol name in ingestion metrics.
    static let protocolName = "zipkin"

    /// Handles one `POST /api/v2/spans`; errors become plain-text responses.
    static func post(request: Request, api: APIDependencies) async -> Response {
        do {
            let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .ingest)
            if let contentType = request.headers[.contentType] {
                let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
                guard mediaType.isEmpty || mediaType == "application/json" || mediaType == "text/plain" else {
                    throw SightlineError(.unsupportedMediaType, "unsupported Content-Type \"\(contentType)\": Sightline reads Zipkin v2 JSON (application/json)")
                }
            }
            var request = request
            let body = try await OTLPHTTPHandler.collectBody(&request, limit: api.limits.maxBodyBytes)
            let bytes = try OTLPHTTPHandler.decompress(body, encoding: request.headers[.contentEncoding], limit: api.limits.maxBodyBytes)
            let decoded = try ZipkinDecoder.decode(json: bytes)
            let outcome = try await api.pipeline.ingest(decoded, tenant: identity.tenant, protocol: protocolName, bytes: body.readableBytes)
            guard outcome.rejected == 0 else {
                throw SightlineError(.invalidArgument, "\(outcome.rejected) spans refused, \(outcome.accepted) stored: \(outcome.message)")
            }
            return Response(status: .accepted)
        } catch {
            let failure = error as? SightlineError ?? SightlineError(.internal, "\(error)")
            api.metrics.refusedRequest(protocol: protocolName, status: "\(failure.status.code)")
            var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
            if failure.code == .unauthenticated { headers[.wwwAuthenticate] = "Bearer" }
            if failure.code == .unavailable { headers[.retryAfter] = "1" }
            return Response(status: failure.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: failure.message + "\n")))
        }
    }
}
