import SightlineCore

/// The recursive-descent PromQL parser behind ``PromQLParser``.
///
/// It follows the grammar of Prometheus' `generated_parser.y` (same precedence, same postfix modifiers, same
/// context-dependent error messages) and records node positions in ``ParsedNode`` so that the type check
/// (`ExpressionParser+TypeCheck.swift`) can report errors where Prometheus does. It stops at the first error,
/// which is the one Prometheus reports.
struct ExpressionParser {
    private var lexer: PromQLLexer
    let query: String
    let options: PromQLParser.Options
    /// The lookahead token.
    var token = PromQLToken(kind: .eof, start: 0, text: "")
    /// Error contexts of the enclosing constructs, innermost last: ("aggregation", ""), ("offset", "number, …").
    private var contexts: [(context: String, expected: String)] = []
    /// End offset of the last `)`, `}`, `]`, number or duration read.
    private(set) var lastClosing = 0
    /// How deeply expressions nest right now; bounded so that a hostile query cannot exhaust the stack.
    var depth = 0
    /// The deepest nesting accepted, counting parentheses, calls and chains of binary operators (Prometheus has no
    /// limit; real queries stay far below it, and deeper trees could exhaust a thread's stack when evaluated).
    static let maximumDepth = 200

    init(_ query: String, options: PromQLParser.Options, seriesDescription: Bool = false) {
        self.query = query
        self.options = options
        self.lexer = PromQLLexer(query, seriesDescription: seriesDescription)
    }

    // MARK: - Entry points

    /// Parses a whole expression and type-checks it.
    mutating func parseExpression() throws(PromQLParseError) -> Expr {
        try advance()
        if token.kind == .eof { throw error(at: 0, "no expression found in input") }
        let node = try parseExpr(minimumPrecedence: 0)
        guard token.kind == .eof else { throw unexpected() }
        _ = try check(node)
        return node.expr
    }

    /// Parses a lone vector selector (`foo{a="b"}`, `{__name__=~"x"}`) without the type check, as Prometheus'
    /// `ParseMetricSelector` does.
    mutating func parseMetricSelector() throws(PromQLParseError) -> VectorSelector {
        try advance()
        let node: ParsedNode
        switch token.kind {
        case .leftBrace:
            node = try parseVectorSelector(nameToken: nil)
        case let kind where Self.isMetricIdentifier(kind):
            let nameToken = token
            try advance()
            node = try parseVectorSelector(nameToken: nameToken)
        default:
            throw unexpected()
        }
        guard token.kind == .eof else { throw unexpected() }
        guard case .vectorSelector(let selector) = node.expr else { throw error(at: 0, "unexpected error") }
        return selector
    }

    // MARK: - Tokens and errors

    /// Reads the next token, skipping comments; a lexer error becomes the parse error.
    mutating func advance() throws(PromQLParseError) {
        switch token.kind {
        case .rightParen, .rightBrace, .rightBracket, .number, .duration: lastClosing = token.end
        default: break
        }
        repeat { token = lexer.nextToken() } while token.kind == .comment
        if token.kind == .error {
            throw PromQLParseError(start: token.start, end: query.utf8.count, message: token.text, query: query)
        }
    }

    func error(at start: Int, end: Int? = nil, _ message: String) -> PromQLParseError {
        PromQLParseError(start: start, end: end ?? start, message: message, query: query)
    }

    /// "unexpected <token>" with the innermost context, as Prometheus' `unexpected()`.
    func unexpected() -> PromQLParseError {
        if let context = contexts.last { return unexpected(context.context, context.expected) }
        return unexpected("", "")
    }

    func unexpected(_ context: String, _ expected: String) -> PromQLParseError {
        var message = "unexpected " + token.errorDescription
        if !context.isEmpty { message += " in " + context }
        if !expected.isEmpty { message += ", expected " + expected }
        return error(at: token.start, end: token.end, message)
    }

    mutating func withContext<T>(
        _ context: String, _ expected: String, _ body: (inout ExpressionParser) throws(PromQLParseError) -> T
    ) throws(PromQLParseError) -> T {
        contexts.append((context, expected))
        defer { contexts.removeLast() }
        return try body(&self)
    }

    /// Counts one more level of nesting.
    mutating func enterNesting() throws(PromQLParseError) {
        depth += 1
        if depth > Self.maximumDepth {
            throw error(at: token.start, "expression nests more than \(Self.maximumDepth) levels deep")
        }
    }

    mutating func expect(_ kind: PromQLTokenKind) throws(PromQLParseError) {
        guard token.kind == kind else { throw unexpected() }
        try advance()
    }

    // MARK: - Expressions

    mutating func parseExpr(minimumPrecedence: Int) throws(PromQLParseError) -> ParsedNode {
        try enterNesting()
        defer { depth -= 1 }
        var lhs = try parseUnary()
        while case .binaryOperator(let op) = token.kind, op.precedence >= minimumPrecedence {
            let operatorStart = token.start
            try advance()
            let modifiers = try parseBinaryModifiers()
            let rhs = try parseExpr(minimumPrecedence: op.isRightAssociative ? op.precedence : op.precedence + 1)
            lhs = try makeBinary(op, operatorStart: operatorStart, lhs: lhs, rhs: rhs, modifiers: modifiers)
            if lhs.height > Self.maximumDepth {
                throw error(at: operatorStart, "expression nests more than \(Self.maximumDepth) levels deep")
            }
        }
        return lhs
    }

    /// A unary sign binds like `*`: tighter than `+`, looser than `^` (`-2^2` is `-(2^2)`).
    private mutating func parseUnary() throws(PromQLParseError) -> ParsedNode {
        guard case .binaryOperator(let op) = token.kind, op == .add || op == .sub else {
            return try parsePostfix(parsePrimary())
        }
        let start = token.start
        try advance()
        let operand = try parseExpr(minimumPrecedence: BinaryOperator.pow.precedence)
        if case .number(let value, let isDuration) = operand.expr {
            return ParsedNode(.number(op == .sub ? -value : value, isDuration: isDuration), start: start, end: operand.end)
        }
        return ParsedNode(.unary(op == .sub ? .minus : .plus, operand.expr), start: start, end: operand.end, children: [operand])
    }

    private mutating func parsePrimary() throws(PromQLParseError) -> ParsedNode {
        let start = token.start
        switch token.kind {
        case .number, .duration:
            let value = try literalSeconds(token)
            let node = ParsedNode(.number(value, isDuration: token.kind == .duration), start: start, end: token.end)
            try advance()
            return node
        case .string:
            let node = ParsedNode(.string(PromQLLiteral.unquote(token.text)), start: start, end: token.end)
            try advance()
            return node
        case .leftParen:
            try advance()
            let inner = try parseExpr(minimumPrecedence: 0)
            guard token.kind == .rightParen else { throw unexpected() }
            let end = token.end
            try advance()
            return ParsedNode(.paren(inner.expr), start: start, end: end, children: [inner])
        case .leftBrace:
            return try parseVectorSelector(nameToken: nil)
        case .identifier:
            let nameToken = token
            try advance()
            if token.kind == .leftParen { return try parseCall(nameToken: nameToken) }
            return try parseVectorSelector(nameToken: nameToken)
        case .preprocessor:
            let nameToken = token
            try advance()
            if token.kind == .leftParen { return try parseCall(nameToken: nameToken) }
            return try parseVectorSelector(nameToken: nameToken)
        case .aggregator(let op):
            let opToken = token
            try advance()
            switch token.kind {
            case .leftParen, .keyword(.by), .keyword(.without): return try parseAggregation(op, opToken: opToken)
            default: return try parseVectorSelector(nameToken: opToken)
            }
        case let kind where Self.isMetricIdentifier(kind):
            let nameToken = token
            try advance()
            return try parseVectorSelector(nameToken: nameToken)
        default:
            throw unexpected()
        }
    }

    /// Tokens that may be a metric name outside braces (`metric_identifier` in Prometheus' grammar).
    static func isMetricIdentifier(_ kind: PromQLTokenKind) -> Bool {
        switch kind {
        case .identifier, .metricIdentifier, .aggregator, .preprocessor: true
        case .binaryOperator(.and), .binaryOperator(.or), .binaryOperator(.unless): true
        case .keyword(let keyword):
            switch keyword {
            case .by, .without, .offset, .fill, .fillLeft, .fillRight, .anchored, .smoothed: true
            case .bool, .on, .ignoring, .groupLeft, .groupRight: false
            }
        default: false
        }
    }

    /// The value of a number or duration token in seconds.
    func literalSeconds(_ literal: PromQLToken) throws(PromQLParseError) -> Double {
        if literal.kind == .duration {
            switch PromQLLiteral.duration(literal.text) {
            case .success(let milliseconds): return Double(milliseconds) / 1000
            case .failure(let failure): throw error(at: literal.start, end: literal.end, failure.message)
            }
        }
        switch PromQLLiteral.number(literal.text) {
        case .success(let value): return value
        case .failure(let failure): throw error(at: literal.start, end: literal.end, "error parsing number: \(failure.message)")
        }
    }

    // MARK: - Postfix modifiers

    /// Ranges, subqueries, `offset`, `@`, `anchored` and `smoothed` bind tighter than any operator.
    private mutating func parsePostfix(_ primary: ParsedNode) throws(PromQLParseError) -> ParsedNode {
        var node = primary
        while true {
            switch token.kind {
            case .leftBracket: node = try parseRangeOrSubquery(node)
            case .keyword(.offset): node = try parseOffset(node)
            case .at: node = try parseAt(node)
            case .keyword(.anchored): node = try parseExtendedRange(node, anchored: true)
            case .keyword(.smoothed): node = try parseExtendedRange(node, anchored: false)
            default: return node
            }
        }
    }

    private mutating func parseRangeOrSubquery(_ node: ParsedNode) throws(PromQLParseError) -> ParsedNode {
        let bracketStart = token.start
        try advance()
        let range = try withContext("subquery or range selector", "number, duration, step(), or range()") {
            (parser: inout ExpressionParser) throws(PromQLParseError) in try parser.parsePositiveDuration()
        }
        switch token.kind {
        case .rightBracket:
            guard case .vectorSelector(let selector) = node.expr else {
                throw error(at: bracketStart, "ranges only allowed for vector selectors")
            }
            if selector.offset != 0 || selector.offsetExpr != nil { throw error(at: bracketStart, "no offset modifiers allowed before range") }
            if selector.at != nil { throw error(at: bracketStart, "no @ modifiers allowed before range") }
            let end = token.end
            try advance()
            let matrix = MatrixSelector(selector: selector, range: range.fixed ?? 0, rangeExpr: range.expression)
            return ParsedNode(.matrixSelector(matrix), start: node.start, end: end, children: [node])
        case .colon:
            try advance()
            var step = DurationValue(fixed: 0, expression: nil)
            if token.kind != .rightBracket {
                step = try withContext("subquery selector", "number, duration, step(), range(), or \"]\"") {
                    (parser: inout ExpressionParser) throws(PromQLParseError) in try parser.parsePositiveDuration()
                }
                guard token.kind == .rightBracket else { throw unexpected("subquery selector", "\"]\"") }
            }
            let end = token.end
            try advance()
            let subquery = SubqueryExpr(
                expr: node.expr, range: range.fixed ?? 0, rangeExpr: range.expression, step: step.fixed ?? 0, stepExpr: step.expression)
            return ParsedNode(.subquery(subquery), start: node.start, end: end, children: [node])
        default:
            throw unexpected("subquery or range", "\":\" or \"]\"")
        }
    }

    private mutating func parseOffset(_ node: ParsedNode) throws(PromQLParseError) -> ParsedNode {
        try advance()
        let value = try withContext("offset", "number, duration, step(), or range()") {
            (parser: inout ExpressionParser) throws(PromQLParseError) in try parser.parseOffsetDuration()
        }
        var result = node
        result.end = lastClosing
        func alreadySet(_ offset: Int64, _ expression: DurationExpr?) -> Bool { offset != 0 || expression != nil }
        switch node.expr {
        case .vectorSelector(var selector):
            if alreadySet(selector.offset, selector.offsetExpr) { throw error(at: node.start, "offset may not be set multiple times") }
            (selector.offset, selector.offsetExpr) = (value.fixed ?? 0, value.expression)
            result.expr = .vectorSelector(selector)
        case .matrixSelector(var matrix):
            if alreadySet(matrix.selector.offset, matrix.selector.offsetExpr) {
                throw error(at: node.start, "offset may not be set multiple times")
            }
            (matrix.selector.offset, matrix.selector.offsetExpr) = (value.fixed ?? 0, value.expression)
            result.expr = .matrixSelector(matrix)
        case .subquery(var subquery):
            if alreadySet(subquery.offset, subquery.offsetExpr) { throw error(at: node.start, "offset may not be set multiple times") }
            (subquery.offset, subquery.offsetExpr) = (value.fixed ?? 0, value.expression)
            result.expr = .subquery(subquery)
        default:
            throw error(
                at: node.start, "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery")
        }
        return result
    }

    private mutating func parseAt(_ node: ParsedNode) throws(PromQLParseError) -> ParsedNode {
        try advance()
        let modifier = try withContext("@", "timestamp") { (parser: inout ExpressionParser) throws(PromQLParseError) -> AtModifier in
            switch parser.token.kind {
            case .preprocessor(.start), .preprocessor(.end):
                let isStart = parser.token.kind == .preprocessor(.start)
                try parser.advance()
                try parser.expect(.leftParen)
                try parser.expect(.rightParen)
                return isStart ? .start : .end
            default:
                var negative = false
                if case .binaryOperator(let sign) = parser.token.kind, sign == .add || sign == .sub {
                    negative = sign == .sub
                    try parser.advance()
                }
                guard parser.token.kind == .number || parser.token.kind == .duration else { throw parser.unexpected() }
                var seconds = try parser.literalSeconds(parser.token)
                try parser.advance()
                if negative { seconds = -seconds }
                if seconds.isNaN || seconds.isInfinite || seconds >= 9.223372036854775807e18 || seconds <= -9.223372036854775808e18 {
                    throw parser.error(at: node.start, "timestamp out of bounds for @ modifier: \(GoText.formatFixed6(seconds))")
                }
                let milliseconds = (seconds * 1000).rounded()
                return .timestamp(milliseconds >= 9.2e18 ? .max : milliseconds <= -9.2e18 ? .min : Int64(milliseconds))
            }
        }
        var result = node
        result.end = lastClosing
        let repeated = "@ <timestamp> may not be set multiple times"
        switch node.expr {
        case .vectorSelector(var selector):
            if selector.at != nil { throw error(at: node.start, repeated) }
            selector.at = modifier
            result.expr = .vectorSelector(selector)
        case .matrixSelector(var matrix):
            if matrix.selector.at != nil { throw error(at: node.start, repeated) }
            matrix.selector.at = modifier
            result.expr = .matrixSelector(matrix)
        case .subquery(var subquery):
            if subquery.at != nil { throw error(at: node.start, repeated) }
            subquery.at = modifier
            result.expr = .subquery(subquery)
        default:
            throw error(at: node.start, "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery")
        }
        return result
    }

    private mutating func parseExtendedRange(_ node: ParsedNode, anchored: Bool) throws(PromQLParseError) -> ParsedNode {
        try advance()
        let name = anchored ? "anchored" : "smoothed"
        guard options.enableExtendedRangeSelectors else { throw error(at: node.start, "\(name) modifier is experimental and not enabled") }
        func apply(_ selector: inout VectorSelector) throws(PromQLParseError) {
            if anchored { selector.anchored = true } else { selector.smoothed = true }
            if selector.anchored && selector.smoothed {
                throw error(at: node.start, "anchored and smoothed modifiers cannot be used together")
            }
        }
        var result = node
        switch node.expr {
        case .vectorSelector(var selector):
            try apply(&selector)
            result.expr = .vectorSelector(selector)
        case .matrixSelector(var matrix):
            try apply(&matrix.selector)
            result.expr = .matrixSelector(matrix)
        case .subquery:
            throw error(at: node.start, "\(name) modifier is not supported for subqueries")
        default:
            throw error(at: node.start, "\(name) modifier not implemented")
        }
        return result
    }

    // MARK: - Selectors

    /// A vector selector after its optional name token; the lookahead is `{` or whatever follows the name.
    mutating func parseVectorSelector(nameToken: PromQLToken?) throws(PromQLParseError) -> ParsedNode {
        var matchers: [LabelMatcher] = []
        let start = nameToken?.start ?? token.start
        var end = nameToken?.end ?? token.start
        if token.kind == .leftBrace {
            matchers = try parseLabelMatchers()
            end = lastClosing
        }
        var name: String?
        if let nameToken {
            name = nameToken.text
            matchers.append(try makeMatcher(Labels.metricName, .equal, nameToken.text, at: nameToken.start))
        }
        return ParsedNode(.vectorSelector(VectorSelector(name: name, matchers: matchers)), start: start, end: end)
    }

    /// `{a="b", "c.d"=~"e", "metric.name"}`; the lookahead is `{`.
    private mutating func parseLabelMatchers() throws(PromQLParseError) -> [LabelMatcher] {
        try advance()
        var matchers: [LabelMatcher] = []
        if token.kind == .rightBrace {
            try advance()
            return matchers
        }
        while true {
            let nameStart = token.start
            switch token.kind {
            case .identifier:
                let name = token.text
                try advance()
                guard let kind = Self.matchKind(token.kind) else { throw unexpected("label matching", "label matching operator") }
                try advance()
                guard token.kind == .string else { throw unexpected("label matching", "string") }
                matchers.append(try makeMatcher(name, kind, PromQLLiteral.unquote(token.text), at: nameStart))
                try advance()
            case .string:
                let name = PromQLLiteral.unquote(token.text)
                try advance()
                if let kind = Self.matchKind(token.kind) {
                    try advance()
                    guard token.kind == .string else { throw unexpected("label matching", "string") }
                    matchers.append(try makeMatcher(name, kind, PromQLLiteral.unquote(token.text), at: nameStart))
                    try advance()
                } else {
                    matchers.append(try makeMatcher(Labels.metricName, .equal, name, at: nameStart))
                }
            default:
                throw unexpected("label matching", "identifier or \"}\"")
            }
            switch token.kind {
            case .comma:
                try advance()
                if token.kind == .rightBrace {
                    try advance()
                    return matchers
                }
            case .rightBrace:
                try advance()
                return matchers
            default:
                throw unexpected("label matching", "\",\" or \"}\"")
            }
        }
    }

    private static func matchKind(_ kind: PromQLTokenKind) -> LabelMatcher.Kind? {
        switch kind {
        case .assign: .equal
        case .binaryOperator(.neq): .notEqual
        case .regexMatch: .regexMatch
        case .regexNoMatch: .regexNoMatch
        default: nil
        }
    }

    private func makeMatcher(_ name: String, _ kind: LabelMatcher.Kind, _ value: String, at start: Int) throws(PromQLParseError) -> LabelMatcher {
        do {
            return try LabelMatcher(name, kind, value)
        } catch let failure as SightlineError {
            throw error(at: start, failure.message)
        } catch {
            throw self.error(at: start, "\(error)")
        }
    }

    // MARK: - Calls and aggregations

    /// The arguments in `( … )`; the lookahead must be `(`.
    private mutating func parseCallBody() throws(PromQLParseError) -> [ParsedNode] {
        guard token.kind == .leftParen else { throw unexpected() }
        try advance()
        var args: [ParsedNode] = []
        if token.kind == .rightParen {
            try advance()
            return args
        }
        while true {
            args.append(try parseExpr(minimumPrecedence: 0))
            switch token.kind {
            case .comma:
                let commaStart = token.start
                try advance()
                if token.kind == .rightParen { throw error(at: commaStart, end: commaStart + 1, "trailing commas not allowed in function call args") }
            case .rightParen:
                try advance()
                return args
            default:
                throw unexpected()
            }
        }
    }

    private mutating func parseCall(nameToken: PromQLToken) throws(PromQLParseError) -> ParsedNode {
        let args = try parseCallBody()
        guard let function = PromQLFunction.named(nameToken.text) else {
            throw error(at: nameToken.start, end: nameToken.end, "unknown function with name \(GoText.quote(nameToken.text))")
        }
        if function.isExperimental && !options.enableExperimentalFunctions {
            throw error(at: nameToken.start, end: nameToken.end, "function \(GoText.quote(nameToken.text)) is not enabled")
        }
        let call = FunctionCall(function: function, args: args.map(\.expr))
        return ParsedNode(.call(call), start: nameToken.start, end: lastClosing, children: args)
    }

    private mutating func parseAggregation(_ op: AggregateOperator, opToken: PromQLToken) throws(PromQLParseError) -> ParsedNode {
        let (args, grouping, without) = try withContext("aggregation", "") {
            (parser: inout ExpressionParser) throws(PromQLParseError) -> ([ParsedNode], [String], Bool) in
            var grouping: [String]?
            var without = false
            if case .keyword(let keyword) = parser.token.kind, keyword == .by || keyword == .without {
                without = keyword == .without
                try parser.advance()
                grouping = try parser.parseGroupingLabels()
            }
            let args = try parser.parseCallBody()
            if grouping == nil, case .keyword(let keyword) = parser.token.kind, keyword == .by || keyword == .without {
                without = keyword == .without
                try parser.advance()
                grouping = try parser.parseGroupingLabels()
            }
            return (args, grouping ?? [], without)
        }
        let start = opToken.start
        if args.isEmpty { throw error(at: start, end: lastClosing, "no arguments for aggregate expression provided") }
        var expected = 1
        if op.takesParameter {
            if op.isExperimental && !options.enableExperimentalFunctions {
                throw error(
                    at: start, end: lastClosing,
                    "\(op.rawValue)() is experimental and must be enabled with --enable-feature=promql-experimental-functions")
            }
            expected = 2
        }
        if args.count != expected {
            throw error(
                at: start, end: lastClosing,
                "wrong number of arguments for aggregate expression provided, expected \(expected), got \(args.count)")
        }
        let aggregate = AggregateExpr(
            op: op, expr: args[expected - 1].expr, param: expected == 2 ? args[0].expr : nil, grouping: grouping, without: without)
        return ParsedNode(.aggregate(aggregate), start: start, end: lastClosing, children: args)
    }

    /// `(a, b, "c.d")` after `by`, `without`, `on`, `ignoring`, `group_left` or `group_right`.
    mutating func parseGroupingLabels() throws(PromQLParseError) -> [String] {
        guard token.kind == .leftParen else { throw unexpected("grouping opts", "\"(\"") }
        try advance()
        var labels: [String] = []
        if token.kind == .rightParen {
            try advance()
            return labels
        }
        while true {
            switch token.kind {
            case .string:
                let name = PromQLLiteral.unquote(token.text)
                if name.isEmpty { throw error(at: token.start, end: token.end, "invalid label name for grouping: \(GoText.quote(name))") }
                labels.append(name)
            case let kind where Self.isLabelWord(kind):
                labels.append(token.text)
            default:
                throw unexpected("grouping opts", "label")
            }
            try advance()
            switch token.kind {
            case .comma:
                try advance()
                if token.kind == .rightParen {
                    try advance()
                    return labels
                }
            case .rightParen:
                try advance()
                return labels
            default:
                throw unexpected("grouping opts", "\",\" or \")\"")
            }
        }
    }

    /// Words the lexer may turn into keywords that are still label names in a grouping list (`maybe_label`).
    private static func isLabelWord(_ kind: PromQLTokenKind) -> Bool {
        switch kind {
        case .identifier, .metricIdentifier, .aggregator, .keyword, .preprocessor: true
        case .binaryOperator(let op): op == .and || op == .or || op == .unless || op == .atan2
        default: false
        }
    }

    // MARK: - Binary operations

    /// `bool`, `on(…)`/`ignoring(…)`, `group_left(…)`/`group_right(…)` and the experimental fill modifiers.
    struct BinaryModifiers {
        var returnBool = false
        var matching = VectorMatching()
        var hasFill: Bool { matching.fillLeft != nil || matching.fillRight != nil }
    }

    private mutating func parseBinaryModifiers() throws(PromQLParseError) -> BinaryModifiers {
        var modifiers = BinaryModifiers()
        if token.kind == .keyword(.bool) {
            modifiers.returnBool = true
            try advance()
        }
        if case .keyword(let keyword) = token.kind, keyword == .on || keyword == .ignoring {
            try advance()
            modifiers.matching.matchingLabels = try parseGroupingLabels()
            modifiers.matching.on = keyword == .on
            if case .keyword(let group) = token.kind, group == .groupLeft || group == .groupRight {
                try advance()
                modifiers.matching.cardinality = group == .groupLeft ? .manyToOne : .oneToMany
                if token.kind == .leftParen { modifiers.matching.include = try parseGroupingLabels() }
            }
        }
        switch token.kind {
        case .keyword(.fill):
            try advance()
            let value = try parseFillValue()
            modifiers.matching.fillLeft = value
            modifiers.matching.fillRight = value
        case .keyword(.fillLeft):
            try advance()
            modifiers.matching.fillLeft = try parseFillValue()
            if token.kind == .keyword(.fillRight) {
                try advance()
                modifiers.matching.fillRight = try parseFillValue()
            }
        case .keyword(.fillRight):
            try advance()
            modifiers.matching.fillRight = try parseFillValue()
            if token.kind == .keyword(.fillLeft) {
                try advance()
                modifiers.matching.fillLeft = try parseFillValue()
            }
        default:
            break
        }
        return modifiers
    }

    /// `(number)` or `(-number)` after a fill keyword.
    private mutating func parseFillValue() throws(PromQLParseError) -> Double {
        try expect(.leftParen)
        var negative = false
        if case .binaryOperator(let sign) = token.kind, sign == .add || sign == .sub {
            negative = sign == .sub
            try advance()
        }
        guard token.kind == .number || token.kind == .duration else { throw unexpected() }
        let value = try literalSeconds(token)
        try advance()
        try expect(.rightParen)
        return negative ? -value : value
    }

    private func makeBinary(
        _ op: BinaryOperator, operatorStart: Int, lhs: ParsedNode, rhs: ParsedNode, modifiers: BinaryModifiers
    ) throws(PromQLParseError) -> ParsedNode {
        if modifiers.hasFill && !options.enableBinopFillModifiers {
            throw error(at: lhs.start, end: rhs.end, "binop fill modifiers are experimental and not enabled")
        }
        var matching = modifiers.matching
        if op.isSetOperator && matching.cardinality == .oneToOne { matching.cardinality = .manyToMany }
        let bothVectors = lhs.expr.type == .vector && rhs.expr.type == .vector
        let binary = BinaryExpr(
            op: op, lhs: lhs.expr, rhs: rhs.expr, returnBool: modifiers.returnBool, matching: bothVectors ? matching : nil)
        return ParsedNode(
            .binary(binary), start: lhs.start, end: rhs.end, children: [lhs, rhs],
            binaryInfo: .init(operatorStart: operatorStart, matching: matching))
    }
}

/// A node of the parse tree: the expression plus what the type check needs to report errors where Prometheus does.
struct ParsedNode {
    /// Binary-operation details that the final AST normalizes away.
    struct BinaryInfo {
        var operatorStart: Int
        /// The matching as written (kept even when one side is a scalar and the AST drops it).
        var matching: VectorMatching
    }

    var expr: Expr
    var start: Int
    var end: Int
    /// Sub-expressions in source order (for aggregations, the parameter first).
    var children: [ParsedNode]
    var binaryInfo: BinaryInfo?
    /// Levels of the tree below and including this node.
    var height: Int

    init(_ expr: Expr, start: Int, end: Int, children: [ParsedNode] = [], binaryInfo: BinaryInfo? = nil) {
        self.expr = expr
        self.start = start
        self.end = end
        self.children = children
        self.binaryInfo = binaryInfo
        self.height = 1 + (children.map(\.height).max() ?? 0)
    }
}

/// A range, step or offset: fixed milliseconds, or an expression to compute per query.
struct DurationValue {
    var fixed: Int64?
    var expression: DurationExpr?
}

extension PromQLToken {
    /// Byte offset just past the token.
    var end: Int { start + text.utf8.count }
}
