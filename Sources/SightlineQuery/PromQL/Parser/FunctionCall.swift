/// A call of a PromQL function.
package struct FunctionCall: Sendable, Equatable {
    /// The called function.
    package var function: PromQLFunction
    /// The arguments, in order.
    package var args: [Expr]

    /// Creates a call.
    package init(function: PromQLFunction, args: [Expr]) {
        self.function = function
        self.args = args
    }
}
