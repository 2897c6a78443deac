import SightlineCore
import SightlineQuery

/// Reads of raw samples for the endpoints that hand samples out rather than query results: remote read, federation
/// and the JSON line export.
enum RawSeriesRead {
    /// The most samples one read may hand out: the query engine's limit on samples held (Prometheus' default
    /// `--query.max-samples`, and its remote-read sample limit too).
    static let sampleLimit = PromQLEngine.Options().maxSamples

    /// The series of `tenant` with samples in `[startMs, endMs]` that match any of `matcherSets`, each once, sorted by
    /// labels.
    static func union(
        _ samples: any MetricQuerier, tenant: Tenant, matcherSets: [[LabelMatcher]], startMs: Int64, endMs: Int64
    ) throws -> [SeriesSamples] {
        var found: [Labels: SeriesSamples] = [:]
        for matchers in matcherSets {
            for series in try samples.select(tenant: tenant, matchers: matchers, startMs: startMs, endMs: endMs)
            where !series.timestampsMs.isEmpty && found[series.labels] == nil {
                found[series.labels] = series
            }
        }
        return found.values.sorted { $0.labels < $1.labels }
    }

    /// How many samples `series` hold.
    static func sampleCount(_ series: [SeriesSamples]) -> Int {
        series.reduce(0) { $0 + $1.values.count }
    }
}
