import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SightlineCore
import SightlineIngest

/// Prometheus-style metric ingestion: remote write 1.0 and 2.0 (`POST /api/v1/write`) and text exposition import
/// (`POST /api/v1/import/prometheus`).
///
/// Status codes follow what Prometheus' remote-write client expects: 204 when everything was stored; 400 for data
/// that must not be retried (malformed bodies, and refused samples: the accepted ones are stored and resending
/// would only be refused again); 413 over the size limit; 503 while starting (retried).
enum PrometheusWriteHandler {
    /// The remote write message a `Content-Type` names: `application/x-protobuf`, optionally with
    /// `proto=prometheus.WriteRequest` (1.0) or `proto=io.prometheus.write.v2.Request` (2.0).
    enum RemoteWriteMessage: Equatable {
        case v1, v2

        init(contentType: String?) throws {
            guard let contentType else {
                self = .v1
                return
            }
            var parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.removeFirst().lowercased() == "application/x-protobuf" else {
                throw SightlineError(.unsupportedMediaType, "unsupported Content-Type \"\(contentType)\": remote write takes application/x-protobuf")
            }
            self = .v1
            for parameter in parts {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard pair.count == 2, pair[0].lowercased() == "proto" else { continue }
                switch pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) {
                case "prometheus.WriteRequest": self = .v1
                case "io.prometheus.write.v2.Request": self = .v2
                case let other:
                    throw SightlineError(
                        .unsupportedMediaType,
                        "unsupported remote write message \"\(other)\": use prometheus.WriteRequest or io.prometheus.write.v2.Request")
                }
            }
        }
    }

    /// `POST /api/v1/write`: remote write 1.0 or 2.0, by the `Content-Type`. A 2.0 answer says what was written in
    /// `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written`.
    static func remoteWrite(request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .ingest)
        if let encoding = request.headers[.contentEncoding], !encoding.isEmpty, encoding.lowercased() != "snappy" {
            throw SightlineError(.unsupportedMediaType, "unsupported Content-Encoding \"\(encoding)\": remote write bodies are snappy-compressed protobuf")
        }
        let message = try RemoteWriteMessage(contentType: request.headers[.contentType])
        var request = request
        let body = try await OTLPHTTPHandler.collectBody(&request, limit: api.limits.maxBodyBytes)
        let (decoded, histograms, histogramSamples) = try body.withUnsafeReadableBytes { bytes -> (DecodedBatch, Int, Int) in
            switch message {
            case .v1:
                return (try RemoteWriteDecoder.decode(snappyBody: bytes, maxDecompressed: api.limits.maxBodyBytes, seriesCache: .shared), 0, 0)
            case .v2:
                let protobuf = try Snappy.decompress(bytes, maxOutput: api.limits.maxBodyBytes)
                return try protobuf.withUnsafeBytes { try RemoteWrite2Decoder.decodeCounting(protobuf: $0) }
            }
        }
        let outcome = try await api.pipeline.ingest(
            decoded, tenant: identity.tenant, protocol: message == .v1 ? "remote_write" : "remote_write_v2", bytes: body.readableBytes,
            batchID: request.headers[.sightlineBatchID]
        )
        var response = try respond(outcome)
        if message == .v2 {
            // A 2xx answer stored everything: the float samples are what the histograms did not make.
            response.headers[Self.samplesWritten] = String(max(0, outcome.accepted - histogramSamples))
            response.headers[Self.histogramsWritten] = String(histograms)
            // Every exemplar of a request answered 2xx went to the store (which drops out-of-order ones, counted).
            let exemplars = if case .metrics(let batch) = decoded.batch { batch.exemplars.count } else { 0 }
            response.headers[Self.exemplarsWritten] = String(exemplars)
        }
        return response
    }

    static let samplesWritten = HTTPField.Name("X-Prometheus-Remote-Write-Samples-Written")!
    static let histogramsWritten = HTTPField.Name("X-Prometheus-Remote-Write-Histograms-Written")!
    static let exemplarsWritten = HTTPField.Name("X-Prometheus-Remote-Write-Exemplars-Written")!

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
        let decoded = DecodedBatch(.metrics(MetricBatch(samples: parsed.samples, metadata: parsed.metadata, exemplars: parsed.exemplars.map(\.exemplar))))
        let outcome = try await api.pipeline.ingest(decoded, tenant: identity.tenant, protocol: "prometheus_import", bytes: body.readableBytes)
        return try respond(outcome)
    }

    private static func respond(_ outcome: IngestPipeline.Outcome) throws -> Response {
        try WriteRequestParameters.requireAllStored(outcome)
        return Response(status: .noContent)
    }
}
