import HTTPTypes
import Hummingbird
import NIOCore
import SightlineCore
import SightlineQuery
import SightlineScrape

/// The status endpoints of the Prometheus HTTP API that clients probe: `/api/v1/status/buildinfo`,
/// `/api/v1/status/config` and `/api/v1/status/flags`.
enum PrometheusAPIStatusHandler {
    /// The Prometheus version Sightline's query API answers as. Grafana reads `data.version` as semver to decide which
    /// API features to use; with no `application` and no `features` fields it treats the server as plain Prometheus.
    /// `3.0.0` says: Prometheus 3 semantics (left-open range selectors, `line:column` parse errors, UTF-8 names), and
    /// every API a 2.x client gates on (`/api/v1/labels` with `match[]`, `/api/v1/query_exemplars`, `/api/v1/metadata`).
    static let prometheusVersion = "3.0.0"

    /// `{"version":"3.0.0","revision":"sightline","branch":"","buildUser":"","buildDate":"","goVersion":""}`.
    static func buildInfo(_ request: Request, api: APIDependencies) throws -> Response {
        _ = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let data =
            "{\"version\":\(JSONText.quoted(prometheusVersion)),\"revision\":\"sightline\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"}"
        return PrometheusAPIJSON.success(data: data)
    }

    /// `{"yaml":"…"}`: Sightline's default global settings in Prometheus' configuration format. Scrape jobs are not
    /// listed; Sightline's configuration file is the place to read them.
    static func config(_ request: Request, api: APIDependencies) throws -> Response {
        _ = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let yaml = """
            global:
              scrape_interval: \(ScrapeDuration.format(ScrapeConfig.defaultInterval))
              scrape_timeout: \(ScrapeDuration.format(ScrapeConfig.defaultTimeout))
              evaluation_interval: 1m

            """
        return PrometheusAPIJSON.success(data: "{\"yaml\":\(JSONText.quoted(yaml))}")
    }

    /// The query engine's limits and PromQL features, named as Prometheus' command-line flags.
    static func flags(_ request: Request, api: APIDependencies) throws -> Response {
        _ = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let options = PromQLEngine.Options()
        let timeoutMs = ScrapeDuration.milliseconds(options.timeout)
        let flags: [(String, String)] = [
            ("enable-feature", api.promQLFeatures.enabledFeatureNames.joined(separator: ",")),
            ("query.lookback-delta", PrometheusDuration.format(milliseconds: options.lookbackDeltaMs)),
            ("query.max-samples", String(options.maxSamples)),
            ("query.timeout", PrometheusDuration.format(milliseconds: timeoutMs)),
        ]
        var data = "{"
        for (index, (name, value)) in flags.enumerated() {
            if index > 0 { data += "," }
            JSONText.appendString(name, to: &data)
            data += ":"
            JSONText.appendString(value, to: &data)
        }
        data += "}"
        return PrometheusAPIJSON.success(data: data)
    }
}
