/// A subquery, `expr[range:step] @ t offset d`.
package struct SubqueryExpr: Sendable, Equatable {
    /// The instant-vector expression evaluated at each step.
    package var expr: Expr
    /// The range in milliseconds (0 while ``rangeExpr`` is still to be computed).
    package var range: Int64
    /// The range as a duration expression, computed per query; nil when ``range`` is final.
    package var rangeExpr: DurationExpr?
    /// The resolution in milliseconds; 0 means the default evaluation interval.
    package var step: Int64
    /// The step as a duration expression, computed per query.
    package var stepExpr: DurationExpr?
    /// The offset in milliseconds; negative looks forward.
    package var offset: Int64
    /// The offset as a duration expression, computed per query.
    package var offsetExpr: DurationExpr?
    /// The `@` modifier.
    package var at: AtModifier?

    /// Creates a subquery.
    package init(
        expr: Expr, range: Int64, rangeExpr: DurationExpr? = nil, step: Int64 = 0, stepExpr: DurationExpr? = nil, offset: Int64 = 0,
        offsetExpr: DurationExpr? = nil, at: AtModifier? = nil
    ) {
        self.expr = expr
        self.range = range
        self.rangeExpr = rangeExpr
        self.step = step
        self.stepExpr = stepExpr
        self.offset = offset
        self.offsetExpr = offsetExpr
        self.at = at
    }
}
