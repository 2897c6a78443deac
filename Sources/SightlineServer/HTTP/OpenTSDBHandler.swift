import Hummingbird
import NIOCore
import SightlineCore
import SightlineIngest

/// OpenTSDB's `POST /api/put` (JSON data points, gzip allowed), as VictoriaMetrics takes it (``OpenTSDBPutDecoder``).
///
/// Answers as OpenTSDB does: 204 when every point was stored; with `summary` or `details`, 200 (or 400 when some
/// failed) and `{"success": n, "failed": m}`, `details` adding the errors; a failure without them is a 400 whose
/// `error.details` names the points. The good points are stored either way.
enum OpenTSDBHandler {
    static func put(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .ingest)
        let query = request.uri.queryParameters
        let wantsDetails = query["details"] != nil
        let wantsSummary = wantsDetails || query["summary"] != nil
        var request = request
        let body = try await OTLPHTTPHandler.collectBody(&request, limit: api.limits.maxBodyBytes)
        let bytes = try OTLPHTTPHandler.decompress(body, encoding: request.headers[.contentEncoding], limit: api.limits.maxBodyBytes)
        let decoded = try bytes.withUnsafeBytes { try OpenTSDBPutDecoder.decode(json: $0) }
        var errors = decoded.errors
        var stored = decoded.samples.count
        if !decoded.samples.isEmpty {
            let outcome = try await api.pipeline.ingest(
                DecodedBatch(.metrics(MetricBatch(samples: decoded.samples))), tenant: identity.tenant, protocol: "opentsdb",
                bytes: body.readableBytes)
            if outcome.rejected > 0 {
                errors.append("\(outcome.rejected) data points refused: \(outcome.message)")
                stored = outcome.accepted
            }
        }
        let failed = decoded.samples.count + decoded.errors.count - stored
        if wantsSummary {
            var text = "{\"success\":\(stored),\"failed\":\(failed)"
            if wantsDetails { text += ",\"errors\":[" + errors.map { "{\"error\":" + JSONText.quoted($0) + "}" }.joined(separator: ",") + "]" }
            text += "}"
            return json(text, status: errors.isEmpty ? .ok : .badRequest)
        }
        guard errors.isEmpty else {
            return json(
                "{\"error\":{\"code\":400,\"message\":\"One or more data points had errors\",\"details\":"
                    + JSONText.quoted(WriteRequestParameters.summary(errors)) + "}}",
                status: .badRequest)
        }
        return Response(status: .noContent)
    }

    private static func json(_ text: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
