package import SightlineCore
package import SightlineQuery

/// A query language as the rule evaluator sees it: an instant query yielding labelled values, and a syntax check.
///
/// PromQL is ``PromQLRuleQueryEngine``; the LogQL engine gets a small adapter of its own (the integrator's), used for
/// groups with `query_language: logql`.
///
/// ```swift
/// let engines = RuleQueryEngines(promql: PromQLRuleQueryEngine(engine: PromQLEngine(querier: store)), logql: logqlAdapter)
/// ```
package protocol RuleQueryEngine: Sendable {
    /// Evaluates `expr` for `tenant` at `timeMs` (ms since the epoch). A scalar result is one sample without labels.
    /// - Throws: a query error; the rule's health becomes `err` with the error's text.
    func instant(_ expr: String, tenant: Tenant, timeMs: Int64) throws -> [(Labels, Double)]
    /// Checks the syntax of `expr`.
    /// - Throws: a parse error whose message says what is wrong.
    func check(_ expr: String) throws
}

/// ``RuleQueryEngine`` over the PromQL engine, with Prometheus' `EngineQueryFunc` conversion: vectors as they are,
/// scalars as one sample without labels, anything else an error.
package struct PromQLRuleQueryEngine: RuleQueryEngine {
    private let engine: PromQLEngine

    package init(engine: PromQLEngine) {
        self.engine = engine
    }

    package func instant(_ expr: String, tenant: Tenant, timeMs: Int64) throws -> [(Labels, Double)] {
        let result = try engine.instantQuery(expr, tenant: tenant, timeMs: timeMs)
        switch result.value {
        case .vector(let samples): return samples.map { ($0.metric, $0.v) }
        case .scalar(_, let v): return [(Labels([]), v)]
        default: throw SightlineError(.invalidArgument, "rule result is not a vector or scalar")
        }
    }

    /// Parses with the engine's parser features.
    package func check(_ expr: String) throws {
        _ = try PromQLParser.parse(expr, options: engine.options.parserOptions)
    }
}

/// The engines rules are evaluated with, one per query language.
package struct RuleQueryEngines: Sendable {
    package var promql: any RuleQueryEngine
    /// The LogQL engine; nil makes LogQL groups fail to evaluate (health `err`) and skips their syntax check.
    package var logql: (any RuleQueryEngine)?

    package init(promql: any RuleQueryEngine, logql: (any RuleQueryEngine)? = nil) {
        self.promql = promql
        self.logql = logql
    }

    /// The engine of `language`.
    /// - Throws: `unavailable` when no LogQL engine is plugged in.
    func engine(for language: RuleQueryLanguage) throws -> any RuleQueryEngine {
        switch language {
        case .promql: return promql
        case .logql:
            guard let logql else { throw SightlineError(.unavailable, "no LogQL engine is available for rule evaluation") }
            return logql
        }
    }
}

/// Where rule output goes: recording rules' series, `ALERTS` and `ALERTS_FOR_STATE`, and staleness markers.
///
/// The integrator connects it to the ingestion pipeline. Writes must be visible to the querier when `write` returns,
/// because later rules of the same group read what earlier ones recorded in the same evaluation.
package protocol RuleSampleSink: Sendable {
    func write(_ samples: [MetricSample], tenant: Tenant) async throws
}
