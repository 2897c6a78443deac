package import SightlineCore

/// A metric source without series: for the PromQL evaluator whose vector matching LogQL borrows, and for engines that
/// only check syntax.
package struct NoSeries: MetricQuerier {
    package init() {}
    package func select(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [SeriesSamples] { [] }
    package func labelNames(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] { [] }
    package func labelValues(tenant: Tenant, name: String, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] { [] }
    package func metadata(tenant: Tenant, metric: String?) throws -> [MetricMetadata] { [] }
}
