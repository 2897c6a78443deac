import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SightlineCore
import SightlineIngest

/// `POST /loki/api/v1/push`: Loki's push API, for Promtail, Grafana Alloy, the Docker driver, Fluent Bit's and
/// Vector's Loki outputs.
///
/// Bodies are JSON (`Content-Type: application/json`) or Snappy-compressed `logproto.PushRequest` protobuf (any other
/// content type, as Loki does; without a Content-Type a body starting with `{` is taken as JSON). `Content-Encoding:
/// gzip` is undone first. See ``LokiPushDecoder`` for the mapping to log records.
///
/// Answers like Loki: 204 when everything was stored; 400 with a plain-text reason for malformed bodies, invalid
/// stream labels and refused entries (the accepted entries of the request are stored); 413 over the size limit;
/// 401/403 for authentication (role `ingest`; the tenant is the token's); 503 while starting.
enum LokiPushHandler {
    /// The protocol name in ingestion metrics.
    static let protocolName = "loki_push"

    /// Registers the push route.
    static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        router.post("/loki/api/v1/push") { request, _ in
            await push(request: request, api: api)
        }
    }

    /// Handles one push request; errors become plain-text responses.
    static func push(request: Request, api: APIDependencies) async -> Response {
        do {
            let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .ingest)
            var request = request
            let body = try await OTLPHTTPHandler.collectBody(&request, limit: api.limits.maxBodyBytes)
            let bytes = try OTLPHTTPHandler.decompress(body, encoding: request.headers[.contentEncoding], limit: api.limits.maxBodyBytes)
            let json = isJSON(contentType: request.headers[.contentType], bytes: bytes)
            let decoded = json
                ? try LokiPushDecoder.decode(json: bytes)
                : try LokiPushDecoder.decode(snappyProtobuf: bytes, maxDecompressed: api.limits.maxBodyBytes)
            let now = arrivalTime()
            var batch = stamped(consume decoded, observedTimeUnixNano: now)
            batch.request = ReceivedRequest(format: json ? .lokiJSON : .lokiSnappyProtobuf, body: bytes, observedTimeUnixNano: now, recordCount: batch.batch.recordCount)
            let outcome = try await api.pipeline.ingest(
                batch, tenant: identity.tenant, protocol: protocolName, bytes: body.readableBytes
            )
            guard outcome.rejected == 0 else {
                throw SightlineError(.invalidArgument, "\(outcome.rejected) entries refused, \(outcome.accepted) stored: \(outcome.message)")
            }
            return Response(status: .noContent)
        } catch {
            let failure = error as? SightlineError ?? SightlineError(.internal, "\(error)")
            api.metrics.refusedRequest(protocol: protocolName, status: "\(failure.status.code)")
            var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
            if failure.code == .unauthenticated { headers[.wwwAuthenticate] = "Bearer" }
            if failure.code == .unavailable { headers[.retryAfter] = "1" }
            return Response(status: failure.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: failure.message + "\n")))
        }
    }

    /// Whether the body is JSON: by Content-Type, or by its first byte when there is none.
    static func isJSON(contentType: String?, bytes: [UInt8]) -> Bool {
        guard let contentType, !contentType.trimmingCharacters(in: .whitespaces).isEmpty else {
            return bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 } == UInt8(ascii: "{")
        }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }

    /// Now, as a record's observed time.
    static func arrivalTime() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1e9)) }

    /// The batch with the arrival time as every record's observed time. The batch is taken, not shared: with a
    /// second reference to its records, the first change would copy every record.
    static func stamped(_ decoded: consuming DecodedBatch, observedTimeUnixNano now: UInt64) -> DecodedBatch {
        var batch = consume decoded
        guard case .logs(var records) = batch.batch else { return batch }
        batch.batch = .logs([])
        records.setObservedTime(now)
        batch.batch = .logs(records)
        return batch
    }
}
