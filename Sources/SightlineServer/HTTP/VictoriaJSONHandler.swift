import Hummingbird
import NIOCore
import NIOPosix
import SightlineCore
import SightlineIngest
import SightlineQuery

/// VictoriaMetrics' JSON line export and import (`/api/v1/export`, `/api/v1/import`), for scripts and migrations that
/// move raw samples between VictoriaMetrics and Sightline (``VictoriaJSONLines``).
enum VictoriaJSONHandler {
    /// `GET|POST /api/v1/export?match[]=…[&start=…][&end=…]`: one line per series with its raw samples (staleness
    /// markers left out); several `match[]` are a union. Without `start` and `end`, all time; at most
    /// ``RawSeriesRead/sampleLimit`` samples.
    static func export(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        guard !parameters.values("match[]").isEmpty else { throw PrometheusAPIError(.badData, "missing match[] query arg") }
        let (startMs, endMs) = try PrometheusAPISeriesHandler.range(parameters)
        let matcherSets = try parameters.matcherSets(wrapped: true)
        let samples = api.samples
        let tenant = identity.tenant
        let text = try await NIOThreadPool.singleton.runIfActive { () throws -> String in
            let series = try RawSeriesRead.union(samples, tenant: tenant, matcherSets: matcherSets, startMs: startMs, endMs: endMs)
            guard RawSeriesRead.sampleCount(series) <= RawSeriesRead.sampleLimit else {
                throw SightlineError(
                    .invalidArgument, "the export would hold more than \(RawSeriesRead.sampleLimit) samples: narrow match[] or the time range")
            }
            var out = ""
            for one in series { VictoriaJSONLines.append(one, to: &out) }
            return out
        }
        return Response(status: .ok, headers: [.contentType: "application/stream+json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// `POST /api/v1/import[?extra_label=name=value…]`: JSON lines (gzip allowed). Every good line is stored; lines
    /// that do not parse are named in a 400.
    static func `import`(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .ingest)
        let extraLabels = try WriteRequestParameters.extraLabels(request)
        var request = request
        let body = try await OTLPHTTPHandler.collectBody(&request, limit: api.limits.maxBodyBytes)
        let bytes = try OTLPHTTPHandler.decompress(body, encoding: request.headers[.contentEncoding], limit: api.limits.maxBodyBytes)
        let parsed = bytes.withUnsafeBytes { VictoriaJSONLines.parse($0, extraLabels: extraLabels) }
        var problems = parsed.errors
        if !parsed.samples.isEmpty {
            let outcome = try await api.pipeline.ingest(
                DecodedBatch(.metrics(MetricBatch(samples: parsed.samples))), tenant: identity.tenant, protocol: "vm_import", bytes: body.readableBytes)
            if outcome.rejected > 0 { problems.append("\(outcome.rejected) samples refused: \(outcome.message)") }
        }
        guard problems.isEmpty else {
            throw SightlineError(.invalidArgument, WriteRequestParameters.summary(problems))
        }
        return Response(status: .noContent)
    }
}
