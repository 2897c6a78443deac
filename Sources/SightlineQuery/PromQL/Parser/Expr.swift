package import SightlineCore

/// A parsed PromQL expression: the syntax tree ``PromQLParser/parse(_:options:)`` returns and the evaluator walks.
///
/// Value semantics throughout; `description` prints canonical PromQL as Prometheus' `String()` does
/// (see `Expr+Description.swift`). Equality is structural; note that a NaN literal is not equal to itself.
package indirect enum Expr: Sendable, Equatable {
    /// A number. `isDuration` records that it was written as a duration (`5m` is the number 300) so that it prints back
    /// the same way. A leading `-` on a literal is folded into the value, as Prometheus does.
    case number(Double, isDuration: Bool = false)
    /// A string literal, unquoted.
    case string(String)
    /// An instant vector selector: `foo{a="b"} offset 5m @ 100`.
    case vectorSelector(VectorSelector)
    /// A range vector selector: `foo[5m]`.
    case matrixSelector(MatrixSelector)
    /// A subquery: `expr[1h:5m]`.
    case subquery(SubqueryExpr)
    /// An expression in parentheses.
    case paren(Expr)
    /// `-expr` or `+expr` (never on a number literal, which folds the sign).
    case unary(UnaryOperator, Expr)
    /// A binary operation with its vector matching.
    case binary(BinaryExpr)
    /// An aggregation: `sum by (a) (x)`.
    case aggregate(AggregateExpr)
    /// A function call.
    case call(FunctionCall)

    /// The type of the expression's value, as Prometheus' `Expr.Type()` computes it.
    package var type: ValueType {
        switch self {
        case .number: .scalar
        case .string: .string
        case .vectorSelector: .vector
        case .matrixSelector, .subquery: .matrix
        case .paren(let inner), .unary(_, let inner): inner.type
        case .binary(let binary): binary.lhs.type == .scalar && binary.rhs.type == .scalar ? .scalar : .vector
        case .aggregate: .vector
        case .call(let call): call.function.returnType
        }
    }

    /// The expression with any enclosing parentheses removed.
    package var unparenthesized: Expr {
        if case .paren(let inner) = self { return inner.unparenthesized }
        return self
    }

    /// The matchers of every vector selector in the expression, one list per selector in the order they are written
    /// (Prometheus' `ExtractSelectors`): the series whose exemplars `/api/v1/query_exemplars` answers with.
    package var selectors: [[LabelMatcher]] {
        switch self {
        case .number, .string: []
        case .vectorSelector(let selector): [selector.matchers]
        case .matrixSelector(let matrix): [matrix.selector.matchers]
        case .subquery(let subquery): subquery.expr.selectors
        case .paren(let inner), .unary(_, let inner): inner.selectors
        case .binary(let binary): binary.lhs.selectors + binary.rhs.selectors
        case .aggregate(let aggregate): (aggregate.param?.selectors ?? []) + aggregate.expr.selectors
        case .call(let call): call.args.flatMap(\.selectors)
        }
    }
}

/// A unary sign.
package enum UnaryOperator: String, Sendable, Hashable {
    case minus = "-"
    case plus = "+"
}
