import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SightlineCore
import SightlineIngest

/// `POST /v1/logs`, `/v1/metrics`, `/v1/traces`: OTLP/HTTP with protobuf or JSON bodies, optionally gzip-compressed.
/// The same routes under the paths the anchor systems take OTLP at answer the same (``paths(of:)``), so a Collector
/// or SDK configured for them works unchanged.
enum OTLPHTTPHandler {
    /// The paths that take OTLP exports of `signal`: the standard `/v1/<signal>`; Loki's and Mimir's `/otlp/v1/<signal>`;
    /// for metrics also Prometheus' `/api/v1/otlp/v1/metrics` and VictoriaMetrics' `/opentelemetry/v1/metrics`.
    static func paths(of signal: Signal) -> [String] {
        let name = signal.description
        var paths = ["/v1/\(name)", "/otlp/v1/\(name)"]
        if signal == .metrics { paths += ["/api/v1/otlp/v1/metrics", "/opentelemetry/v1/metrics"] }
        return paths
    }

    /// Every OTLP path of every signal.
    static let allPaths: Set<String> = Set(Signal.allCases.flatMap(paths(of:)))

    static func handle(_ signal: Signal, request: Request, context: SightlineRequestContext, api: APIDependencies) async throws -> Response {
        let format = contentFormat(request.headers[.contentType])
        do {
            let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .ingest)
            guard let format else { throw contentFormatError(request.headers[.contentType]) }
            var request = request
            let body = try await collectBody(&request, limit: api.limits.maxBodyBytes)
            let bytes = try decompress(body, encoding: request.headers[.contentEncoding], limit: api.limits.maxBodyBytes)
            let deltas = OTLPDecoder.Deltas(api.otlpDeltas, tenant: identity.tenant.id)
            var decoded = try bytes.withUnsafeBytes { try OTLPDecoder.decode(signal, body: $0, format: format, deltas: deltas, translation: api.otlpTranslation) }
            decoded.request = ReceivedRequest.otlp(signal, format: format, body: bytes, decoded: decoded)
            let outcome = try await api.pipeline.ingest(
                decoded, tenant: identity.tenant, protocol: "otlp_http", bytes: body.readableBytes,
                batchID: request.headers[.sightlineBatchID]
            )
            let responseBody = OTLPResponse.export(signal, rejected: outcome.rejected, message: outcome.message, format: format)
            return Response(
                status: .ok, headers: [.contentType: format.contentType],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: responseBody))
            )
        } catch let error as SightlineError {
            api.metrics.refusedRequest(protocol: "otlp_http", status: "\(error.status.code)")
            if error.code == .invalidArgument || error.code == .tooLarge {
                context.logger.debug("OTLP request refused", metadata: ["signal": "\(signal)", "error": "\(error)"])
            }
            guard format == .protobuf else { throw error }
            // OTLP asks for a google.rpc.Status in the request's encoding.
            let status = OTLPResponse.status(code: OTLPResponse.grpcCode(error.code), message: error.description, format: .protobuf)
            var headers: HTTPFields = [.contentType: OTLPFormat.protobuf.contentType]
            if error.code == .unavailable { headers[.retryAfter] = "1" }
            return Response(status: error.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: status)))
        }
    }

    /// The body format named by a `Content-Type` header, parameters ignored.
    static func contentFormat(_ contentType: String?) -> OTLPFormat? {
        contentType.flatMap(OTLPFormat.init(contentType:))
    }

    private static func contentFormatError(_ contentType: String?) -> SightlineError {
        SightlineError(
            .unsupportedMediaType,
            "unsupported Content-Type \"\(contentType ?? "")\": OTLP/HTTP takes application/x-protobuf or application/json"
        )
    }

    /// Collects at most `limit` bytes of body.
    static func collectBody(_ request: inout Request, limit: Int) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw SightlineError(.tooLarge, "request body of \(length) bytes exceeds the limit of \(limit) bytes (limits.max_body_bytes)")
        }
        do {
            return try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw SightlineError(.tooLarge, "request body exceeds the limit of \(limit) bytes (limits.max_body_bytes)")
        }
    }

    /// Undoes `Content-Encoding` (``ContentDecoding``), bounding the decompressed size by `limit`.
    static func decompress(_ body: ByteBuffer, encoding: String?, limit: Int) throws -> [UInt8] {
        try body.withUnsafeReadableBytes { try ContentDecoding.decode($0, encoding: encoding, limit: limit) }
    }
}

extension HTTPField.Name {
    /// `X-Sightline-Batch-ID`: the sender's id of a batch; a batch whose id the server already accepted is acknowledged
    /// without being stored again (see ``BatchDeduplicator``).
    static let sightlineBatchID = HTTPField.Name("X-Sightline-Batch-ID") ?? .contentType
}

extension OTLPFormat {
    /// The media type of the format.
    var contentType: String {
        switch self {
        case .protobuf: "application/x-protobuf"
        case .json: "application/json"
        }
    }
}
