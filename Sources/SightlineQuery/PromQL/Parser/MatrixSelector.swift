/// A range vector selector, `foo[5m]`. Its `offset` and `@` live on the inner ``VectorSelector``, as in Prometheus.
package struct MatrixSelector: Sendable, Equatable {
    /// The selector, with the `offset`, `@` and extended-range modifiers.
    package var selector: VectorSelector
    /// The range in milliseconds (0 while ``rangeExpr`` is still to be computed).
    package var range: Int64
    /// The range as a duration expression (`[5m+1m]`, `[step()]`), to be computed per query; nil when ``range`` is final.
    package var rangeExpr: DurationExpr?

    /// Creates a range selector.
    package init(selector: VectorSelector, range: Int64, rangeExpr: DurationExpr? = nil) {
        self.selector = selector
        self.range = range
        self.rangeExpr = rangeExpr
    }
}
