import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SightlineCore
import SightlineIngest

/// InfluxDB's write API, as VictoriaMetrics serves it: `POST /write` (1.x) and `/api/v2/write` (2.x), also under
/// `/influx/`, with line-protocol bodies (gzip allowed), for Telegraf and the InfluxDB clients. Each numeric field
/// becomes a series `<measurement>_<field>` (``InfluxLineParser``); `db` (1.x) or `bucket` (2.x) becomes the label
/// `db` unless a tag has that name, and `extra_label=name=value` adds labels, as with the Prometheus import.
///
/// 204 when every line was stored. Lines that do not parse are left out and the others stored; the answer is then 400
/// with InfluxDB's `partial write` message naming the lines. The token may come as `Authorization: Token …` (2.x),
/// `Bearer`, basic authentication, or the `p` parameter (1.x).
enum InfluxWriteHandler {
    /// The paths of the write API.
    static let writePaths = ["/write", "/api/v2/write", "/influx/write", "/influx/api/v2/write"]
    /// The paths clients probe before writing (answered 204).
    static let pingPaths = ["/ping", "/influx/ping"]

    static func write(_ request: Request, api: APIDependencies) async throws -> Response {
        let query = request.uri.queryParameters
        let isVersion2 = request.uri.path.hasSuffix("/api/v2/write")
        let authorization = request.headers[.authorization]
            ?? query["p"].map { "Basic " + Base64.encode(Array("\(query["u"].map(String.init) ?? ""):\($0)".utf8)) }
        let identity = try api.authenticator.identify(authorization: authorization, requiring: .ingest)
        let precisionName = String(query["precision"] ?? "")
        guard let precision = InfluxLineParser.Precision(name: precisionName) else {
            return error("invalid precision \"\(precisionName)\": use ns, us, ms, s, m or h", version2: isVersion2)
        }
        var extraLabels: [Label]
        do {
            extraLabels = try WriteRequestParameters.extraLabels(request)
        } catch let failure as SightlineError {
            return error(failure.message, version2: isVersion2)
        }
        if let database = query[isVersion2 ? "bucket" : "db"].map(String.init), !database.isEmpty,
            !extraLabels.contains(where: { $0.name == "db" })
        {
            extraLabels.append(Label("db", database))
        }
        var request = request
        let body = try await OTLPHTTPHandler.collectBody(&request, limit: api.limits.maxBodyBytes)
        let bytes = try OTLPHTTPHandler.decompress(body, encoding: request.headers[.contentEncoding], limit: api.limits.maxBodyBytes)
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        let parsed = bytes.withUnsafeBytes {
            InfluxLineParser.parse($0, precision: precision, defaultTimestampMs: nowMs, extraLabels: extraLabels)
        }
        var problems = parsed.errors
        if !parsed.samples.isEmpty {
            let outcome = try await api.pipeline.ingest(
                DecodedBatch(.metrics(MetricBatch(samples: parsed.samples))), tenant: identity.tenant, protocol: "influx",
                bytes: body.readableBytes)
            if outcome.rejected > 0 { problems.append("\(outcome.rejected) samples refused: \(outcome.message)") }
        }
        guard problems.isEmpty else {
            return error("partial write: \(WriteRequestParameters.summary(problems))", version2: isVersion2)
        }
        return Response(status: .noContent)
    }

    static func ping() -> Response {
        Response(status: .noContent, headers: [HTTPField.Name("X-Influxdb-Version")!: "1.8.10 (Sightline)"])
    }

    /// A 400 in the shape of InfluxDB's 1.x (`{"error": …}`) or 2.x (`{"code": "invalid", "message": …}`) API.
    private static func error(_ message: String, version2: Bool) -> Response {
        let body = version2
            ? "{\"code\":\"invalid\",\"message\":" + JSONText.quoted(message) + "}"
            : "{\"error\":" + JSONText.quoted(message) + "}"
        return Response(
            status: .badRequest, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
