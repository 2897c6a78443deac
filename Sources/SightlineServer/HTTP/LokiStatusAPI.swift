import Hummingbird
import SightlineCore
import SightlineQuery

/// What Loki clients probe: `/loki/api/v1/status/buildinfo` and `/loki/api/v1/drilldown-limits` (GET), the limits
/// Grafana's Logs Drilldown adapts to (line limit, time ranges within retention, the patterns tab).
extension LokiQueryAPI {
    /// The Loki version Sightline's Loki API answers as: 3.6 has every route Sightline serves (`/patterns` with levels,
    /// `/drilldown-limits`).
    static let lokiVersion = "3.6.0"

    static func addStatusRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        router.get("/loki/api/v1/status/buildinfo") { request, _ in
            await answer {
                _ = try await read(request, api: api)
                return json(
                    "{\"version\":\"\(lokiVersion)\",\"revision\":\"sightline\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"}")
            }
        }
        router.get("/loki/api/v1/drilldown-limits") { request, _ in
            await answer {
                _ = try await read(request, api: api)
                return json(drilldownLimits(logRetention: api.logRetention))
            }
        }
    }

    /// `{"limits":{…},"pattern_ingester_enabled":true,"version":…}` with the limits Sightline's Loki API applies, named
    /// as Loki's configuration names them.
    static func drilldownLimits(logRetention: Duration?) -> String {
        let engine = LogQLEngine.Limits()
        let retention = logRetention.map { PrometheusDuration.format(milliseconds: $0.components.seconds * 1000) } ?? "0s"
        var fields = ""
        PrometheusAPIJSON.appendStrings(LogLevelDetection.fields, to: &fields)
        return "{\"limits\":{\"discover_log_levels\":true,\"log_level_fields\":\(fields),"
            + "\"max_entries_limit_per_query\":\(engine.maxEntries),\"max_query_series\":\(engine.maxSeries),"
            + "\"pattern_persistence_enabled\":false,\"retention_period\":\(JSONText.quoted(retention)),\"volume_enabled\":true,"
            + "\"volume_max_series\":\(LogQLEngine.maxVolumeSeries)},\"pattern_ingester_enabled\":true,\"version\":\"\(lokiVersion)\"}"
    }
}
