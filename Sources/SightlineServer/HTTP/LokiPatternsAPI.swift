import Hummingbird
import SightlineCore
import SightlineQuery

/// Loki's `/loki/api/v1/patterns` (GET, POST), the log patterns Grafana's Logs Drilldown shows: `query` (a stream
/// selector), `start`/`end` (default the last hour), `step` (default the range over 250 points; at least 10 s).
///
/// Answer: `{"status":"success","data":[{"pattern":"<_> GET /api <_>","level":"info","samples":[[<unix s>,<lines>],…]},…]}`,
/// the most frequent first (at most 300, each of at least 30 lines). Loki learns patterns as lines arrive and keeps
/// them for three hours; Sightline learns them from the stored lines when asked (``LogPatterns``), from the newest
/// three hours of the range (which bounds the lines one request reads), wherever the range lies.
extension LokiQueryAPI {
    static func addPatternRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        for method in [HTTPRequest.Method.get, .post] {
            router.on("/loki/api/v1/patterns", method: method) { request, _ in await answer { try await patterns(request, api: api) } }
        }
    }

    static func patterns(_ request: Request, api: APIDependencies) async throws -> Response {
        let (tenant, parameters) = try await read(request, api: api)
        let (start, end) = try parameters.range()
        let matchers = try selectorMatchers(try parameters.query())
        let step = try parameters.duration("step") ?? LokiParameters.defaultStep(start: start, end: end)
        if (end - start) / step >= 11_000 {
            throw SightlineError(
                .invalidArgument, "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter")
        }
        let found = try await run {
            try LogPatterns.find(
                source: api.logs, tenant: tenant, matchers: matchers, start: Int64(clamping: start), end: Int64(clamping: end),
                step: Int64(clamping: step))
        }
        var out = "{\"status\":\"success\",\"data\":["
        for (index, pattern) in found.enumerated() {
            if index > 0 { out += "," }
            out += "{\"pattern\":"
            // HTML-safe, as Loki writes pattern strings full of `<_>`.
            out += JSONText.quoted(pattern.pattern, htmlSafe: true)
            out += ",\"level\":"
            JSONText.appendString(pattern.level, to: &out)
            out += ",\"samples\":["
            out += pattern.samples.map { "[\($0.t / 1000),\($0.count)]" }.joined(separator: ",")
            out += "]}"
        }
        return json(out + "]}")
    }
}
