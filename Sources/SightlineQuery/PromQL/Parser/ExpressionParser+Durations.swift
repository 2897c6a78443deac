/// Durations in ranges, subquery steps and offsets: literals (`5m`, `300`), and the experimental duration
/// expressions (`[5m+1m]`, `[step()*2]`, `offset min_of(step(), 1m)`).
extension ExpressionParser {
    /// Seconds beyond which a duration no longer fits Prometheus' nanosecond `time.Duration`.
    private static let maximumDurationSeconds = 9_223_372_036.854775807

    /// A range or step: a positive literal, or a duration expression (checked when the query runs).
    mutating func parsePositiveDuration() throws(PromQLParseError) -> DurationValue {
        let start = token.start
        let (expression, literalStart) = try parseDurationExpression(minimumPrecedence: 0)
        if case .number(let seconds, _) = expression {
            if seconds <= 0 { throw error(at: literalStart ?? start, "duration must be greater than 0") }
            return DurationValue(fixed: Self.milliseconds(seconds), expression: nil)
        }
        return DurationValue(fixed: nil, expression: expression)
    }

    /// An offset: an optionally signed literal, `step()`, `range()`, `min_of(…)`/`max_of(…)` or parenthesized
    /// expression. Arithmetic after it belongs to the enclosing expression (`foo offset 100 + 2` adds 2), except
    /// after an unsigned parenthesis, where Prometheus' grammar keeps reading a duration expression.
    mutating func parseOffsetDuration() throws(PromQLParseError) -> DurationValue {
        let expression: DurationExpr
        if token.kind == .leftParen {
            expression = try parseDurationExpression(minimumPrecedence: 0).expression
        } else {
            var sign: (negative: Bool, start: Int)?
            if case .binaryOperator(let op) = token.kind, op == .add || op == .sub {
                sign = (op == .sub, token.start)
                try advance()
            }
            var primary: DurationExpr
            switch token.kind {
            case .number, .duration, .preprocessor(.step), .preprocessor(.range), .preprocessor(.minOf), .preprocessor(.maxOf), .leftParen:
                primary = try parseDurationPrimary().expression
            default:
                throw unexpected()
            }
            if let sign {
                primary = try applySign(negative: sign.negative, to: primary, at: sign.start)
            }
            expression = primary
        }
        if case .number(let seconds, _) = expression { return DurationValue(fixed: Self.milliseconds(seconds), expression: nil) }
        return DurationValue(fixed: nil, expression: expression)
    }

    /// Whole milliseconds of a number of seconds, as Prometheus truncates its nanosecond durations.
    static func milliseconds(_ seconds: Double) -> Int64 {
        let nanoseconds = (seconds * 1e9).rounded()
        guard nanoseconds.magnitude < 9.2e18 else { return seconds < 0 ? .min : .max }
        return Int64(nanoseconds) / 1_000_000
    }

    /// Duration arithmetic: `+ -` below `* / %` below `^` (right-associative); a sign binds like `*`.
    /// Returns the expression and, for a bare literal, where it starts.
    private mutating func parseDurationExpression(minimumPrecedence: Int) throws(PromQLParseError) -> (expression: DurationExpr, start: Int?) {
        try enterNesting()
        defer { depth -= 1 }
        var (lhs, lhsStart) = try parseDurationUnary()
        while case .binaryOperator(let op) = token.kind, let durationOp = Self.durationOperator(op), op.precedence >= minimumPrecedence {
            let operatorStart = token.start
            try advance()
            let (rhs, _) = try parseDurationExpression(minimumPrecedence: op.isRightAssociative ? op.precedence : op.precedence + 1)
            try requireDurationExpressions(at: lhsStart ?? operatorStart)
            if case .number(0, _) = rhs, durationOp == .div || durationOp == .mod {
                throw error(at: operatorStart, durationOp == .div ? "division by zero" : "modulo by zero")
            }
            lhs = .binary(durationOp, lhs, rhs)
            lhsStart = nil
        }
        return (lhs, lhsStart)
    }

    private static func durationOperator(_ op: BinaryOperator) -> DurationExpr.Operator? {
        switch op {
        case .add: .add
        case .sub: .sub
        case .mul: .mul
        case .div: .div
        case .mod: .mod
        case .pow: .pow
        default: nil
        }
    }

    private mutating func parseDurationUnary() throws(PromQLParseError) -> (expression: DurationExpr, start: Int?) {
        guard case .binaryOperator(let op) = token.kind, op == .add || op == .sub else { return try parseDurationPrimary() }
        let start = token.start
        try advance()
        let (operand, _) = try parseDurationExpression(minimumPrecedence: BinaryOperator.pow.precedence)
        let result = try applySign(negative: op == .sub, to: operand, at: start)
        if case .number = result { return (result, start) }
        return (result, nil)
    }

    /// A sign folds into a literal, negates an expression, and a `+` disappears, as in Prometheus.
    private func applySign(negative: Bool, to expression: DurationExpr, at start: Int) throws(PromQLParseError) -> DurationExpr {
        if case .number(let value, let isDuration) = expression {
            let signed = negative ? -value : value
            if signed.magnitude > Self.maximumDurationSeconds { throw error(at: start, "duration out of range") }
            return .number(signed, isDuration: isDuration)
        }
        return negative ? .negate(expression) : expression
    }

    private mutating func parseDurationPrimary() throws(PromQLParseError) -> (expression: DurationExpr, start: Int?) {
        let start = token.start
        switch token.kind {
        case .number, .duration:
            let seconds = try literalSeconds(token)
            if seconds.magnitude > Self.maximumDurationSeconds { throw error(at: start, "duration out of range") }
            let literal = DurationExpr.number(seconds, isDuration: token.kind == .duration)
            try advance()
            return (literal, start)
        case .preprocessor(.step), .preprocessor(.range):
            let isStep = token.kind == .preprocessor(.step)
            try advance()
            try expect(.leftParen)
            try expect(.rightParen)
            try requireDurationExpressions(at: start)
            return (isStep ? .step : .range, nil)
        case .preprocessor(.minOf), .preprocessor(.maxOf):
            let isMin = token.kind == .preprocessor(.minOf)
            try advance()
            try expect(.leftParen)
            let (first, _) = try parseDurationExpression(minimumPrecedence: 0)
            try expect(.comma)
            let (second, _) = try parseDurationExpression(minimumPrecedence: 0)
            try expect(.rightParen)
            try requireDurationExpressions(at: start)
            return (isMin ? .minOf(first, second) : .maxOf(first, second), nil)
        case .leftParen:
            try advance()
            let (inner, innerStart) = try parseDurationExpression(minimumPrecedence: 0)
            try expect(.rightParen)
            try requireDurationExpressions(at: innerStart ?? start)
            return (.paren(inner), nil)
        default:
            throw unexpected()
        }
    }

    private func requireDurationExpressions(at start: Int) throws(PromQLParseError) {
        if !options.enableDurationExpressions { throw error(at: start, "experimental duration expression is not enabled") }
    }
}
