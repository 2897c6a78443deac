package import SightlineCore

/// Evaluates PromQL queries against a ``MetricQuerier`` with Prometheus 3 semantics.
///
/// Each query parses the expression, works out the time span its selectors need, selects every distinct selector once
/// over that span, and then evaluates the expression step by step (a range query is a loop of instant evaluations over
/// cached series). Metric names are removed at the end, as Prometheus 3's delayed name removal does.
///
/// ```swift
/// let engine = PromQLEngine(querier: store)
/// let result = try engine.instantQuery("sum(rate(http_requests_total[5m]))", tenant: .default, timeMs: now)
/// ```
package struct PromQLEngine: Sendable {
    /// Limits and defaults of the engine.
    package struct Options: Sendable {
        /// How far back an instant selector looks for the newest sample (Prometheus' `--query.lookback-delta`).
        package var lookbackDeltaMs: Int64 = 300_000
        /// The most samples a query may hold in memory at once (`--query.max-samples`).
        package var maxSamples: Int = 50_000_000
        /// The longest a query may run (`--query.timeout`).
        package var timeout: Duration = .seconds(120)
        /// The most points per series a range query may produce (Prometheus' API limit of 11,000).
        package var maxPointsPerSeries: Int = 11_000
        /// The step of subqueries written without one (`x[1h:]`): Prometheus' global evaluation interval.
        package var defaultSubqueryStepMs: Int64 = 60_000
        /// The parser features the engine accepts; a Prometheus server without feature flags by default.
        package var parserOptions: PromQLParser.Options = .default
        /// Cells (series × steps) of a range function from which its series are computed on every core; below it one
        /// thread does all, as handing work to another costs more than it saves on small queries.
        package var parallelCells: Int = 100_000

        /// Prometheus' defaults.
        package init() {}
    }

    private let querier: any MetricQuerier
    package let options: Options

    /// An engine reading series from `querier`.
    package init(querier: any MetricQuerier, options: Options = Options()) {
        self.querier = querier
        self.options = options
    }

    /// Evaluates `query` at one time (milliseconds since the epoch).
    /// - Throws: ``PromQLError`` `bad_data` for parse errors, `execution` for evaluation errors, `timeout`.
    package func instantQuery(_ query: String, tenant: Tenant, timeMs: Int64) throws(PromQLError) -> PromQLResult {
        let expr = try parse(query)
        let evaluator = PromQLEvaluator(
            querier: querier, tenant: tenant, options: options, startMs: timeMs, endMs: timeMs, stepMs: 0, isRange: false)
        return try evaluator.runInstant(expr)
    }

    /// Evaluates `query` at every step from `startMs` to `endMs` (inclusive) and returns a matrix sorted by labels.
    /// - Throws: ``PromQLError`` `bad_data` for a bad range or step, too many points, a parse error or an expression
    ///   that is not a scalar or an instant vector; otherwise as ``instantQuery(_:tenant:timeMs:)``.
    package func rangeQuery(
        _ query: String, tenant: Tenant, startMs: Int64, endMs: Int64, stepMs: Int64
    ) throws(PromQLError) -> PromQLResult {
        if endMs < startMs {
            throw PromQLError(.badData, "end timestamp must not be before start time")
        }
        if stepMs <= 0 {
            throw PromQLError(.badData, "zero or negative query resolution step widths are not accepted. Try a positive integer")
        }
        if (endMs - startMs) / stepMs > Int64(options.maxPointsPerSeries) {
            throw PromQLError(
                .badData,
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
        }
        let expr = try parse(query)
        if expr.type != .scalar && expr.type != .vector {
            throw PromQLError(
                .badData,
                "invalid expression type \"\(expr.type.documentedName)\" for range query, must be Scalar or instant Vector")
        }
        let evaluator = PromQLEvaluator(
            querier: querier, tenant: tenant, options: options, startMs: startMs, endMs: endMs, stepMs: stepMs, isRange: true)
        return try evaluator.runRange(expr)
    }

    private func parse(_ query: String) throws(PromQLError) -> Expr {
        do {
            return try PromQLParser.parse(query, options: options.parserOptions)
        } catch let error as SightlineError {
            throw PromQLError(.badData, error.message)
        } catch {
            throw PromQLError(.badData, "\(error)")
        }
    }
}
