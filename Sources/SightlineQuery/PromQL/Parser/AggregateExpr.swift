/// An aggregation, `sum by (job) (x)` or `topk(3, x)`.
package struct AggregateExpr: Sendable, Equatable {
    /// The aggregation operator.
    package var op: AggregateOperator
    /// The aggregated instant vector.
    package var expr: Expr
    /// The parameter of `topk`, `bottomk`, `quantile`, `count_values`, `limitk` and `limit_ratio`.
    package var param: Expr?
    /// The `by` or `without` labels.
    package var grouping: [String]
    /// Whether ``grouping`` came from `without`.
    package var without: Bool

    /// Creates an aggregation.
    package init(op: AggregateOperator, expr: Expr, param: Expr? = nil, grouping: [String] = [], without: Bool = false) {
        self.op = op
        self.expr = expr
        self.param = param
        self.grouping = grouping
        self.without = without
    }
}

/// An aggregation operator; the raw value is its (lower-case) PromQL name.
package enum AggregateOperator: String, Sendable, Hashable, CaseIterable {
    case sum, avg, count, min, max, group, stddev, stdvar, topk, bottomk
    case countValues = "count_values"
    case quantile, limitk
    case limitRatio = "limit_ratio"

    /// Whether the operator takes a parameter before the vector.
    package var takesParameter: Bool {
        switch self {
        case .topk, .bottomk, .countValues, .quantile, .limitk, .limitRatio: true
        default: false
        }
    }

    /// `limitk` and `limit_ratio` need ``PromQLParser/Options/enableExperimentalFunctions``.
    package var isExperimental: Bool { self == .limitk || self == .limitRatio }

    /// The type the parameter must have, if the operator takes one.
    package var parameterType: ValueType? {
        switch self {
        case .topk, .bottomk, .quantile, .limitk, .limitRatio: .scalar
        case .countValues: .string
        default: nil
        }
    }
}
