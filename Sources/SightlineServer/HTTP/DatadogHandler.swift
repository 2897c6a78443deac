import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SightlineCore
import SightlineIngest

/// Datadog's metrics intake under `/datadog`, as VictoriaMetrics serves it, so the Datadog Agent (`dd_url`), DogStatsD
/// forwarders and the Datadog client libraries can send metrics to Sightline: `POST /datadog/api/v1/series` (JSON)
/// and `/datadog/api/v2/series` (JSON or protobuf), and distributions — the Agent's sketches `POST
/// /datadog/api/beta/sketches` (protobuf) and the client libraries' `POST /datadog/api/v1/distribution_points` (JSON) —
/// with zstd (the Agent's default), gzip or deflate bodies, stored as ``DatadogSeriesDecoder`` maps them.
/// `GET /datadog/api/v1/validate` answers `{"valid": true}` for a known key. The Agent's other payloads —
/// `/api/v1/check_run`, `/api/v1/metadata`, `/intake/` — are acknowledged (202) and not stored.
///
/// The key goes in `DD-API-KEY` (or `api_key=`) and is checked as a Sightline token; `Authorization` works as
/// everywhere else.
enum DatadogHandler {
    /// The paths of the payloads that are acknowledged and not stored.
    static let ignoredPaths = ["/datadog/api/v1/check_run", "/datadog/api/v1/metadata", "/datadog/intake"]

    /// The metric payloads that are stored.
    enum Payload {
        /// `/api/v1/series`: JSON.
        case seriesV1
        /// `/api/v2/series`: JSON or protobuf, by `Content-Type`.
        case seriesV2
        /// `/api/v1/distribution_points`: JSON.
        case distributionPoints
        /// `/api/beta/sketches`: protobuf whatever the `Content-Type` says (the Agent sends no other).
        case sketches
    }

    static func series(_ request: Request, payload: Payload, api: APIDependencies) async throws -> Response {
        let identity = try identify(request, api: api, role: .ingest)
        var request = request
        let body = try await OTLPHTTPHandler.collectBody(&request, limit: api.limits.maxBodyBytes)
        let bytes = try OTLPHTTPHandler.decompress(body, encoding: request.headers[.contentEncoding], limit: api.limits.maxBodyBytes)
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        let isProtobuf = request.headers[.contentType]?.lowercased().hasPrefix("application/x-protobuf") ?? false
        if isProtobuf && (payload == .seriesV1 || payload == .distributionPoints) {
            throw SightlineError(
                .unsupportedMediaType, "\(request.uri.path.dropFirst("/datadog".count)) takes JSON; protobuf goes to /api/v2/series or /api/beta/sketches")
        }
        let samples = try bytes.withUnsafeBytes { raw in
            switch payload {
            case .seriesV1: try DatadogSeriesDecoder.decodeV1(json: raw, nowMs: nowMs)
            case .seriesV2 where isProtobuf: try DatadogSeriesDecoder.decodeV2(protobuf: raw, nowMs: nowMs)
            case .seriesV2: try DatadogSeriesDecoder.decodeV2(json: raw, nowMs: nowMs)
            case .distributionPoints: try DatadogSeriesDecoder.decodeDistributionPoints(json: raw, nowMs: nowMs)
            case .sketches: try DatadogSeriesDecoder.decodeSketches(protobuf: raw, nowMs: nowMs)
            }
        }
        let outcome = try await api.pipeline.ingest(
            DecodedBatch(.metrics(MetricBatch(samples: samples))), tenant: identity.tenant, protocol: "datadog", bytes: body.readableBytes)
        try WriteRequestParameters.requireAllStored(outcome)
        return accepted(payload == .seriesV2 ? "{\"errors\":[]}" : "{\"status\":\"ok\"}")
    }

    static func validate(_ request: Request, api: APIDependencies) throws -> Response {
        _ = try identify(request, api: api, role: .ingest)
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"valid\":true}")))
    }

    static func ignored(_ request: Request, api: APIDependencies) throws -> Response {
        _ = try identify(request, api: api, role: .ingest)
        return accepted("{\"status\":\"ok\"}")
    }

    private static func accepted(_ body: String) -> Response {
        Response(status: .accepted, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// The caller, from `Authorization`, else `DD-API-KEY` or `api_key=` taken as a bearer token.
    private static func identify(_ request: Request, api: APIDependencies, role: Role) throws -> Identity {
        let key = request.headers[HTTPField.Name("DD-API-KEY")!] ?? request.uri.queryParameters["api_key"].map(String.init)
        let authorization = request.headers[.authorization] ?? key.map { "Bearer " + $0 }
        return try api.authenticator.identify(authorization: authorization, requiring: role)
    }
}
