import HTTPTypes
import Hummingbird
import NIOCore
import SightlineCore
import SightlineTSDB

/// `GET /api/v1/status/tsdb[?limit=N]`: the cardinality of the caller's metrics head, in Prometheus' response shape.
enum TSDBStatusHandler {
    static func handle(_ request: Request, api: APIDependencies) throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        guard let tsdb = api.tsdb else {
            throw SightlineError(.notFound, "the TSDB status needs the embedded metrics engine")
        }
        let limit = try request.uri.queryParameters["limit"].map { text -> Int in
            guard let value = Int(text), value > 0, value <= 10_000 else {
                throw SightlineError(.invalidArgument, "invalid parameter limit \"\(text)\": use an integer from 1 to 10000")
            }
            return value
        } ?? 10
        let stats = tsdb.headStats(tenant: identity.tenant, limit: limit)
        var out = "{\"status\":\"success\",\"data\":{\"headStats\":{"
        out += "\"numSeries\":\(stats?.numSeries ?? 0),\"numLabelPairs\":\(stats?.numLabelPairs ?? 0),\"chunkCount\":\(stats?.chunkCount ?? 0)"
        out += ",\"minTime\":\(stats?.minTime ?? 0),\"maxTime\":\(stats?.maxTime ?? 0)}"
        let lists: [(String, [HeadStats.Entry])] = [
            ("seriesCountByMetricName", stats?.seriesCountByMetricName ?? []),
            ("labelValueCountByLabelName", stats?.labelValueCountByLabelName ?? []),
            ("memoryInBytesByLabelName", stats?.memoryInBytesByLabelName ?? []),
            ("seriesCountByLabelValuePair", stats?.seriesCountByLabelValuePair ?? []),
        ]
        for (name, entries) in lists {
            out += ",\"\(name)\":["
            for (index, entry) in entries.enumerated() {
                if index > 0 { out += "," }
                out += "{\"name\":"
                JSONText.appendString(entry.name, to: &out)
                out += ",\"value\":\(entry.value)}"
            }
            out += "]"
        }
        out += "}}"
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: out)))
    }
}
