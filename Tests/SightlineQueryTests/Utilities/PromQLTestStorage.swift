import SightlineCore

/// A tiny in-memory ``MetricQuerier`` for engine tests: series with float samples (stale markers as ``StaleNaN``).
final class PromQLTestStorage: MetricQuerier, PromQLTestData, @unchecked Sendable {
    // Written only while a test script loads data, before any query runs; queries only read it.
    private var series: [Labels: [(t: Int64, v: Double)]] = [:]

    init() {}

    /// Adds samples to a series; later samples at the same timestamp replace earlier ones.
    func add(_ labels: Labels, _ samples: [(t: Int64, v: Double)]) {
        var existing = series[labels] ?? []
        existing.append(contentsOf: samples)
        existing.sort { $0.t < $1.t }
        var unique: [(t: Int64, v: Double)] = []
        for sample in existing {
            if let last = unique.last, last.t == sample.t { unique[unique.count - 1] = sample } else { unique.append(sample) }
        }
        series[labels] = unique
    }

    /// Drops every series.
    func clear() { series = [:] }

    var querier: any MetricQuerier { self }

    /// Nothing to do: added series are visible at once.
    func commit() {}

    func select(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [SeriesSamples] {
        var out: [SeriesSamples] = []
        for (labels, samples) in series where matchers.allSatisfy({ $0.matches(labels) }) {
            let window = samples.filter { $0.t >= startMs && $0.t <= endMs }
            out.append(SeriesSamples(labels: labels, timestampsMs: window.map(\.t), values: window.map(\.v)))
        }
        return out.sorted { $0.labels < $1.labels }
    }

    func labelNames(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] {
        Array(Set(try select(tenant: tenant, matchers: matchers, startMs: startMs, endMs: endMs).flatMap { $0.labels.labels.map(\.name) })).sorted()
    }

    func labelValues(tenant: Tenant, name: String, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] {
        Array(Set(try select(tenant: tenant, matchers: matchers, startMs: startMs, endMs: endMs).compactMap { $0.labels[name] })).sorted()
    }

    func metadata(tenant: Tenant, metric: String?) throws -> [MetricMetadata] { [] }
}
