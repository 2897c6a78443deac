import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SightlineCore
import SightlineIngest

/// Prometheus-style metric ingestion: remote write 1.0 (`POST /api/v1/write`) and text exposition import
/// (`POST /api/v1/import/prometheus`).
///
/// Status codes follow what Prometheus' remote-write client expects: 204 when everything was stored; 400 for data
/// that must not be retried (malformed bodies, and refused samples: the accepted ones are stored and resending
/// would only be refused again); 413 over the size limit; 503 while starting (retried).
enum PrometheusWriteHandler {
    static func remoteWrite(request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .ingest)
        if let encoding = request.headers[.contentEncoding], !encoding.isEmpty, encoding.lowercased() != "snappy" {
            throw SightlineError(.unsupportedMediaType, "unsupported Content-Encoding \"\(encoding)\": remote write bodies are snappy-compressed protobuf")
        }
        if let contentType = request.headers[.contentType], !contentType.lowercased().hasPrefix("application/x-protobuf") {
            throw SightlineError(.unsupportedMediaType, "unsupported Content-Type \"\(contentType)\": remote write takes application/x-protobuf")
        }
        var request = request
        let body = try await OTLPHTTPHandler.collectBody(&request, limit: api.limits.maxBodyBytes)
        let decoded = try body.withUnsafeReadableBytes {
            try RemoteWriteDecoder.decode(snappyBody: $0, maxDecompressed: api.limits.maxBodyBytes, seriesCache: .shared)
        }
        let outcome = try await api.pipeline.ingest(
            decoded, tenant: identity.tenant, protocol: "remote_write", bytes: body.readableBytes,
            batchID: request.headers[.sightlineBatchID]
        )
        return try respond(outcome)
    }

    /// `POST /api/v1/import/prometheus[?extra_label=name=value…][&timestamp=ms]`: a text exposition or OpenMetrics body
    /// (gzip allowed). Samples without a timestamp get the request's time (or `timestamp`).
    static func importText(request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .ingest)
        let query = request.uri.queryParameters
        let extraLabels = try WriteRequestParameters.extraLabels(request)
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        let timestampMs = try query["timestamp"].map { text -> Int64 in
            guard let value = Int64(text) else { throw SightlineError(.invalidArgument, "invalid timestamp \"\(text)\": use milliseconds since the epoch") }
            return value
        } ?? nowMs
        var request = request
        let body = try await OTLPHTTPHandler.collectBody(&request, limit: api.limits.maxBodyBytes)
        let bytes = try OTLPHTTPHandler.decompress(body, encoding: request.headers[.contentEncoding], limit: api.limits.maxBodyBytes)
        let openMetrics = request.headers[.contentType].map(PrometheusTextParser.isOpenMetricsContentType)
        let parsed = try bytes.withUnsafeBytes {
            try PrometheusTextParser.parse($0, defaultTimestampMs: timestampMs, extraLabels: extraLabels, openMetrics: openMetrics == true ? true : nil)
        }
        let decoded = DecodedBatch(.metrics(MetricBatch(samples: parsed.samples, metadata: parsed.metadata)))
        let outcome = try await api.pipeline.ingest(decoded, tenant: identity.tenant, protocol: "prometheus_import", bytes: body.readableBytes)
        return try respond(outcome)
    }

    private static func respond(_ outcome: IngestPipeline.Outcome) throws -> Response {
        try WriteRequestParameters.requireAllStored(outcome)
        return Response(status: .noContent)
    }
}
