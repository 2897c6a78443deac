import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import SightlineCore
import SightlineIngest

/// Prometheus remote read 0.1.0 (`POST /api/v1/read`): another Prometheus (with `remote_read`), or any remote-read
/// client, reads the raw samples of the caller's tenant.
///
/// Each query's series and samples in its range (both ends included), staleness markers among them, are answered
/// with the `SAMPLES` response type, snappy-compressed; a client that accepts only streamed chunks is refused with
/// 400. Bad bodies, unknown matcher types, bad regular expressions and queries without matchers are 400s too, as is
/// a request that would send more than ``RawSeriesRead/sampleLimit`` samples (Prometheus' default read limit).
enum PrometheusReadHandler {

    static func handle(request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        if let encoding = request.headers[.contentEncoding], !encoding.isEmpty, encoding.lowercased() != "snappy" {
            throw SightlineError(.unsupportedMediaType, "unsupported Content-Encoding \"\(encoding)\": remote read bodies are snappy-compressed protobuf")
        }
        var request = request
        let body = try await OTLPHTTPHandler.collectBody(&request, limit: api.limits.maxBodyBytes)
        let read = try body.withUnsafeReadableBytes {
            try RemoteReadCodec.decodeRequest(snappyBody: $0, maxDecompressed: api.limits.maxBodyBytes)
        }
        guard read.acceptsSamples else {
            throw SightlineError(
                .invalidArgument,
                "server does not support any of the requested response types: \(read.acceptedResponseTypes); it answers SAMPLES (0)")
        }
        let samples = api.samples
        let tenant = identity.tenant
        let response = try await NIOThreadPool.singleton.runIfActive { () throws -> [UInt8] in
            var results: [[SeriesSamples]] = []
            var total = 0
            for query in read.queries {
                let series = try RawSeriesRead.union(
                    samples, tenant: tenant, matcherSets: [query.matchers], startMs: query.startMs, endMs: query.endMs)
                total += RawSeriesRead.sampleCount(series)
                guard total <= RawSeriesRead.sampleLimit else {
                    throw SightlineError(
                        .invalidArgument, "exceeded sample limit (\(RawSeriesRead.sampleLimit)): narrow the queries' time ranges or matchers")
                }
                results.append(series)
            }
            return RemoteReadCodec.encodeSnappyResponse(results)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/x-protobuf", .contentEncoding: "snappy"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: response)))
    }
}
