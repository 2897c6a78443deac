import HTTPTypes
package import Hummingbird

/// The Prometheus-compatible query API, so that Grafana's Prometheus data source and Prometheus clients work unchanged.
///
/// | Route | Methods | |
/// |---|---|---|
/// | `/api/v1/query` | GET, POST | instant query |
/// | `/api/v1/query_range` | GET, POST | range query |
/// | `/api/v1/format_query` | GET, POST | canonical PromQL text |
/// | `/api/v1/query_exemplars` | GET, POST | exemplars of the series a query selects |
/// | `/api/v1/series` | GET, POST | series matching `match[]` |
/// | `/api/v1/labels` | GET, POST | label names |
/// | `/api/v1/label/<name>/values` | GET | label values |
/// | `/api/v1/metadata` | GET | metric metadata |
/// | `/api/v1/status/buildinfo`, `/config`, `/flags` | GET | what clients probe |
///
/// Parameters come from the query string and from `application/x-www-form-urlencoded` bodies, as in Prometheus. Every
/// route needs the `query` role when tokens are configured, and sees the caller's tenant only. Answers and error
/// messages are Prometheus' own: see ``PrometheusAPIJSON`` and ``PrometheusAPIError``.
package enum PrometheusAPI {
    /// Adds the routes to `router`.
    package static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        for method in [HTTPRequest.Method.get, .post] {
            router.on("/api/v1/query", method: method) { request, _ in try await PrometheusAPIQueryHandler.query(request, api: api) }
            router.on("/api/v1/query_range", method: method) { request, _ in
                try await PrometheusAPIQueryHandler.queryRange(request, api: api)
            }
            router.on("/api/v1/format_query", method: method) { request, _ in
                try await PrometheusAPIQueryHandler.formatQuery(request, api: api)
            }
            router.on("/api/v1/query_exemplars", method: method) { request, _ in
                try await PrometheusAPIQueryHandler.queryExemplars(request, api: api)
            }
            router.on("/api/v1/series", method: method) { request, _ in try await PrometheusAPISeriesHandler.series(request, api: api) }
            router.on("/api/v1/labels", method: method) { request, _ in try await PrometheusAPISeriesHandler.labelNames(request, api: api) }
        }
        router.get("/api/v1/label/:name/values") { request, context in
            try await PrometheusAPISeriesHandler.labelValues(request, context: context, api: api)
        }
        router.get("/api/v1/metadata") { request, _ in try await PrometheusAPISeriesHandler.metadata(request, api: api) }
        router.get("/api/v1/status/buildinfo") { request, _ in try PrometheusAPIStatusHandler.buildInfo(request, api: api) }
        router.get("/api/v1/status/config") { request, _ in try PrometheusAPIStatusHandler.config(request, api: api) }
        router.get("/api/v1/status/flags") { request, _ in try PrometheusAPIStatusHandler.flags(request, api: api) }
    }
}
