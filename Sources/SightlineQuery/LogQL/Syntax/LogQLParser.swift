import SightlineCore

/// Parses LogQL as Loki 2.9/3.x does: log queries (`{…} |= "x" | json | a > 1`), range and vector aggregations,
/// binary operations with PromQL's precedence and vector matching, literals, `vector()` and `label_replace()`.
///
/// Syntax errors carry the position of the offending token, in Loki's words: `parse error at line 1, col 12: syntax
/// error: unexpected IDENTIFIER, expecting STRING`. Checks made after parsing (an all-empty selector, a range
/// aggregation without `unwrap`, grouping where Loki forbids it) have no position: `parse error : …`.
package struct LogQLParser {
    private let query: String
    private var tokens: [LogQLToken]
    private var index = 0

    /// Parses `query`.
    /// - Throws: ``LogQLParseError``.
    package static func parse(_ query: String) throws(LogQLParseError) -> LogQLExpr {
        var parser = LogQLParser(query: query, tokens: try LogQLLexer.tokens(query))
        let expr = try parser.parseExpression(minimumPrecedence: 0)
        if parser.current.kind != .end { throw parser.unexpected() }
        try Self.validate(expr)
        return expr
    }

    private init(query: String, tokens: [LogQLToken]) {
        self.query = query
        self.tokens = tokens
    }

    // MARK: - Tokens

    private var current: LogQLToken { tokens[index] }
    private func peek(_ offset: Int = 1) -> LogQLToken { tokens[min(index + offset, tokens.count - 1)] }

    @discardableResult
    private mutating func advance() -> LogQLToken {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    /// Whether the current token is the keyword `word` (keywords are case-insensitive, as Loki lexes them).
    private func isKeyword(_ word: String) -> Bool { current.kind == .identifier && current.word == word }

    private mutating func accept(_ kind: LogQLTokenKind) -> Bool {
        guard current.kind == kind else { return false }
        advance()
        return true
    }

    private mutating func acceptKeyword(_ word: String) -> Bool {
        guard isKeyword(word) else { return false }
        advance()
        return true
    }

    private mutating func expect(_ kind: LogQLTokenKind) throws(LogQLParseError) -> LogQLToken {
        guard current.kind == kind else { throw unexpected(expecting: kind == .openBracket ? "RANGE" : kind.rawValue) }
        return advance()
    }

    /// Whether the current token is a plain identifier to Loki (not a keyword, not a function name before `(`).
    private var atIdentifier: Bool { current.kind == .identifier && current.displayName(next: peek()) == "IDENTIFIER" }

    private mutating func expectIdentifier() throws(LogQLParseError) -> String {
        guard atIdentifier else { throw unexpected(expecting: "IDENTIFIER") }
        return advance().text
    }

    /// `syntax error: unexpected X[, expecting Y]` at the current token.
    private func unexpected(expecting: String? = nil) -> LogQLParseError {
        var message = "syntax error: unexpected \(current.displayName(next: peek()))"
        if let expecting { message += ", expecting \(expecting)" }
        return error(message, at: current)
    }

    private func error(_ message: String, at token: LogQLToken) -> LogQLParseError {
        let (line, column) = LogQLLexer.lineAndColumn(query, offset: token.offset)
        return LogQLParseError(message, line: line, column: column)
    }

    // MARK: - Expressions

    private static func binaryOperator(_ token: LogQLToken) -> BinaryOperator? {
        switch token.kind {
        case .add: .add
        case .sub: .sub
        case .mul: .mul
        case .div: .div
        case .mod: .mod
        case .pow: .pow
        case .compareEqual: .eql
        case .notEqual: .neq
        case .greater: .gtr
        case .greaterOrEqual: .gte
        case .less: .lss
        case .lessOrEqual: .lte
        case .identifier:
            switch token.word {
            case "or": .or
            case "and": .and
            case "unless": .unless
            default: nil
            }
        default: nil
        }
    }

    /// A binary expression by precedence climbing, with PromQL's precedences and `^` right-associative.
    private mutating func parseExpression(minimumPrecedence: Int) throws(LogQLParseError) -> LogQLExpr {
        var lhs = try parsePrimary()
        while let op = Self.binaryOperator(current), op.precedence >= minimumPrecedence {
            let opToken = advance()
            let (returnBool, matching) = try parseBinaryModifiers(op)
            let nextMinimum = op.isRightAssociative ? op.precedence : op.precedence + 1
            let rhs = try parseExpression(minimumPrecedence: nextMinimum)
            guard lhs.isMetric, rhs.isMetric else {
                throw error("syntax error: unexpected \(opToken.displayName(next: nil))", at: opToken)
            }
            if returnBool && !op.isComparison {
                throw error("bool modifier can only be used on comparison operators", at: opToken)
            }
            lhs = .binary(LogQLBinaryExpr(op: op, lhs: lhs, rhs: rhs, returnBool: returnBool, matching: matching))
        }
        return lhs
    }

    /// `bool`, `on (…)`/`ignoring (…)` and `group_left (…)`/`group_right (…)` after a binary operator.
    private mutating func parseBinaryModifiers(_ op: BinaryOperator) throws(LogQLParseError) -> (Bool, VectorMatching?) {
        let returnBool = acceptKeyword("bool")
        var matching: VectorMatching?
        if isKeyword("on") || isKeyword("ignoring") {
            let on = advance().word == "on"
            let labels = try parseLabelList()
            matching = VectorMatching(cardinality: op.isSetOperator ? .manyToMany : .oneToOne, matchingLabels: labels, on: on)
            if isKeyword("group_left") || isKeyword("group_right") {
                let left = advance().word == "group_left"
                matching?.cardinality = left ? .manyToOne : .oneToMany
                if current.kind == .openParen { matching?.include = try parseLabelList() }
            }
        }
        return (returnBool, matching)
    }

    /// `(a, b)`, possibly empty.
    private mutating func parseLabelList() throws(LogQLParseError) -> [String] {
        _ = try expect(.openParen)
        var labels: [String] = []
        if accept(.closeParen) { return labels }
        if !atIdentifier { throw unexpected(expecting: "IDENTIFIER or )") }
        repeat {
            labels.append(try expectIdentifier())
        } while accept(.comma)
        _ = try expect(.closeParen)
        return labels
    }

    /// A parenthesised expression, a log query, a literal or a function (aggregations, `vector`, `label_replace`).
    private mutating func parsePrimary() throws(LogQLParseError) -> LogQLExpr {
        switch current.kind {
        case .openParen:
            advance()
            let inner = try parseExpression(minimumPrecedence: 0)
            _ = try expect(.closeParen)
            return inner
        case .openBrace:
            return .log(try parseLogSelector(allowUnwrap: false).selector)
        case .number:
            return .literal(try parseNumber())
        case .add, .sub:
            let negative = advance().kind == .sub
            guard current.kind == .number else { throw unexpected(expecting: "NUMBER") }
            let value = try parseNumber()
            return .literal(negative ? -value : value)
        case .identifier:
            if let op = RangeAggregationOp(rawValue: current.word) { return try parseRangeAggregation(op) }
            if let op = VectorAggregationOp(rawValue: current.word) { return try parseVectorAggregation(op) }
            if current.word == "label_replace" { return try parseLabelReplace() }
            if current.word == "vector" {
                advance()
                _ = try expect(.openParen)
                let value = try parseNumber()
                _ = try expect(.closeParen)
                return .vector(value)
            }
            throw unexpected()
        default:
            throw unexpected()
        }
    }

    /// A number literal.
    private mutating func parseNumber() throws(LogQLParseError) -> Double {
        let token = try expect(.number)
        guard let value = LogQLUnits.number(token.text) else { throw error("syntax error: invalid number \(token.text)", at: token) }
        return value
    }

    /// A duration literal, possibly negative (offsets), in ns.
    private mutating func parseDuration() throws(LogQLParseError) -> Int64 {
        let negative = accept(.sub)
        let token = try expect(.duration)
        guard let value = LogQLUnits.durationNanoseconds(token.text) else {
            throw error("syntax error: invalid duration \(token.text)", at: token)
        }
        return negative ? -value : value
    }

    /// `by (…)` or `without (…)`, if present.
    private mutating func parseGrouping() throws(LogQLParseError) -> LogQLGrouping? {
        guard isKeyword("by") || isKeyword("without") else { return nil }
        let without = advance().word == "without"
        return LogQLGrouping(labels: try parseLabelList(), without: without)
    }

    /// `op([param,] log-range) [grouping]`.
    private mutating func parseRangeAggregation(_ op: RangeAggregationOp) throws(LogQLParseError) -> LogQLExpr {
        advance()
        _ = try expect(.openParen)
        var parameter: Double?
        if current.kind == .number || ((current.kind == .sub || current.kind == .add) && peek().kind == .number) {
            let negative = current.kind == .sub
            if current.kind != .number { advance() }
            let value = try parseNumber()
            parameter = negative ? -value : value
            _ = try expect(.comma)
        }
        let range = try parseLogRange()
        _ = try expect(.closeParen)
        let grouping = try parseGrouping()
        return .rangeAggregation(RangeAggregationExpr(op: op, range: range, parameter: parameter, grouping: grouping))
    }

    /// `selector [pipeline] [unwrap] [range] [offset]`, the pipeline also allowed after the range, or the selector
    /// part in parentheses before the range.
    private mutating func parseLogRange() throws(LogQLParseError) -> LogRangeExpr {
        let parenthesized = current.kind == .openParen
        if parenthesized { advance() }
        guard current.kind == .openBrace else { throw unexpected(expecting: "NUMBER or { or (") }
        var (selector, unwrap) = try parseLogSelector(allowUnwrap: true)
        if parenthesized { _ = try expect(.closeParen) }
        guard current.kind == .openBracket else { throw unexpected(expecting: "RANGE") }
        advance()
        let rangeToken = current
        let range = try parseDuration()
        if range <= 0 { throw error("syntax error: range must be greater than 0", at: rangeToken) }
        _ = try expect(.closeBracket)
        var offset: Int64 = 0
        if acceptKeyword("offset") { offset = try parseDuration() }
        if !parenthesized && selector.stages.isEmpty && unwrap == nil && (current.kind == .pipe || Self.isLineFilter(current.kind)) {
            let (stages, trailingUnwrap) = try parsePipeline(allowUnwrap: true)
            selector.stages = stages
            unwrap = trailingUnwrap
        }
        return LogRangeExpr(selector: selector, rangeNs: range, offsetNs: offset, unwrap: unwrap)
    }

    /// `op [grouping] ([param,] expr) [grouping]`, with Loki's checks on the parameter and grouping.
    private mutating func parseVectorAggregation(_ op: VectorAggregationOp) throws(LogQLParseError) -> LogQLExpr {
        let opToken = advance()
        var grouping = try parseGrouping()
        _ = try expect(.openParen)
        var parameter: Double?
        if current.kind == .number && peek().kind == .comma {
            parameter = try parseNumber()
            advance()
        }
        let inner = try parseExpression(minimumPrecedence: 0)
        guard inner.isMetric else { throw unexpected() }
        _ = try expect(.closeParen)
        if grouping == nil { grouping = try parseGrouping() }
        switch op {
        case .topk, .bottomk, .approxTopk:
            if op == .approxTopk && grouping != nil { throw LogQLParseError("approx_topk doesn't support grouping") }
            guard let parameter else { throw LogQLParseError("parameter required for operation \(op.rawValue)") }
            guard parameter == parameter.rounded(.towardZero), parameter > 0 else {
                throw LogQLParseError("invalid parameter (must be greater than 0) \(op.rawValue)(\(GoText.formatFloat(parameter))")
            }
        case .sort, .sortDesc:
            if grouping != nil { throw LogQLParseError("sort and sort_desc doesn't allow grouping by ") }
            if parameter != nil { throw error("syntax error: unsupported parameter for operation \(op.rawValue)", at: opToken) }
        default:
            if parameter != nil { throw LogQLParseError("unsupported parameter for operation \(op.rawValue)(\(GoText.formatFloat(parameter ?? 0)),") }
        }
        return .vectorAggregation(VectorAggregationExpr(op: op, expr: inner, parameter: parameter, grouping: grouping))
    }

    /// `label_replace(expr, "dst", "replacement", "src", "regex")`, the regex checked now.
    private mutating func parseLabelReplace() throws(LogQLParseError) -> LogQLExpr {
        advance()
        _ = try expect(.openParen)
        let inner = try parseExpression(minimumPrecedence: 0)
        var strings: [String] = []
        for _ in 0..<4 {
            _ = try expect(.comma)
            strings.append(try expect(.string).text)
        }
        _ = try expect(.closeParen)
        let arguments = LabelReplaceArguments(destination: strings[0], replacement: strings[1], source: strings[2], regex: strings[3])
        do {
            _ = try LabelReplace(destination: arguments.destination, replacement: arguments.replacement, source: arguments.source, regex: arguments.regex)
        } catch {
            throw LogQLParseError(error.message)
        }
        return .labelReplace(inner, arguments)
    }

    // MARK: - Log selector and pipeline

    /// `{matchers}` and the pipeline after it.
    private mutating func parseLogSelector(allowUnwrap: Bool) throws(LogQLParseError) -> (selector: LogSelectorExpr, unwrap: UnwrapExpr?) {
        _ = try expect(.openBrace)
        var matchers: [LabelMatcher] = []
        if current.kind != .closeBrace {
            repeat {
                matchers.append(try parseMatcher())
            } while accept(.comma)
            if current.kind != .closeBrace { throw unexpected(expecting: "} or ,") }
        }
        _ = try expect(.closeBrace)
        let (stages, unwrap) = try parsePipeline(allowUnwrap: allowUnwrap)
        return (LogSelectorExpr(matchers: matchers, stages: stages), unwrap)
    }

    /// `name op "value"` in a selector, `drop` or `keep`.
    private mutating func parseMatcher() throws(LogQLParseError) -> LabelMatcher {
        let nameToken = current
        let name = try expectIdentifier()
        let kind: LabelMatcher.Kind
        switch current.kind {
        case .equal: kind = .equal
        case .notEqual: kind = .notEqual
        case .regex: kind = .regexMatch
        case .notRegex: kind = .regexNoMatch
        default: throw unexpected(expecting: "EQ or NEQ or RE or NRE")
        }
        advance()
        let value = try expect(.string).text
        do {
            return try LabelMatcher(name, kind, value)
        } catch {
            throw self.error("syntax error: \(error)", at: nameToken)
        }
    }

    private static func isLineFilter(_ kind: LogQLTokenKind) -> Bool {
        switch kind {
        case .pipeExact, .pipeMatch, .pipePattern, .notEqual, .notRegex, .notPattern: true
        default: false
        }
    }

    /// Pipeline stages up to the first token that cannot continue them; after `| unwrap` only label filters.
    private mutating func parsePipeline(allowUnwrap: Bool) throws(LogQLParseError) -> ([LogStage], UnwrapExpr?) {
        var stages: [LogStage] = []
        var unwrap: UnwrapExpr?
        while true {
            if Self.isLineFilter(current.kind) {
                if unwrap != nil { throw unexpected() }
                stages.append(.lineFilter(try parseLineFilter()))
                continue
            }
            guard current.kind == .pipe else { break }
            let pipeToken = advance()
            if unwrap != nil {
                unwrap?.postFilters.append(try parseLabelFilter())
                continue
            }
            if isKeyword("unwrap") {
                guard allowUnwrap else { throw unexpected() }
                advance()
                unwrap = try parseUnwrap()
                continue
            }
            _ = pipeToken
            stages.append(try parseStage())
        }
        return (stages, unwrap)
    }

    /// What follows `| unwrap`: a label, or `duration(label)`/`duration_seconds(label)`/`bytes(label)`.
    private mutating func parseUnwrap() throws(LogQLParseError) -> UnwrapExpr {
        if (isKeyword("duration") || isKeyword("duration_seconds") || isKeyword("bytes")) && peek().kind == .openParen {
            let conversion: UnwrapExpr.Conversion = advance().word == "bytes" ? .bytes : .duration
            advance()
            let label = try expectIdentifier()
            _ = try expect(.closeParen)
            return UnwrapExpr(label: label, conversion: conversion)
        }
        return UnwrapExpr(label: try expectIdentifier())
    }

    /// A line filter operator and its `or` alternatives.
    private mutating func parseLineFilter() throws(LogQLParseError) -> LineFilterExpr {
        let opToken = advance()
        guard let kind = LineFilterExpr.Kind(rawValue: opToken.kind.rawValue) else {
            throw error("syntax error: unexpected \(opToken.displayName(next: nil))", at: opToken)
        }
        var alternatives = [try parseLineFilterValue(kind)]
        // `or` continues the filter only when a string or ip() follows; otherwise it is the binary operator.
        while isKeyword("or") && (peek().kind == .string || (peek().kind == .identifier && peek().word == "ip" && peek(2).kind == .openParen)) {
            advance()
            alternatives.append(try parseLineFilterValue(kind))
        }
        return LineFilterExpr(kind: kind, alternatives: alternatives)
    }

    /// A string (checked as a regex or pattern where the operator needs one) or `ip("…")`.
    private mutating func parseLineFilterValue(_ kind: LineFilterExpr.Kind) throws(LogQLParseError) -> LineFilterExpr.Alternative {
        if isKeyword("ip") && peek().kind == .openParen {
            let ipToken = advance()
            advance()
            let pattern = try expect(.string).text
            _ = try expect(.closeParen)
            guard kind == .contains || kind == .notContains else {
                throw error("syntax error: ip() is only allowed with |= and !=", at: ipToken)
            }
            guard IPMatcher(pattern) != nil else { throw LogQLParseError("invalid ip pattern \(GoText.quote(pattern))") }
            return .ip(pattern)
        }
        guard current.kind == .string else { throw unexpected(expecting: "STRING or ip") }
        let token = advance()
        switch kind {
        case .regex, .notRegex:
            guard LogRegex(token.text) != nil else { throw error("syntax error: invalid regular expression \(GoText.quote(token.text))", at: token) }
        case .pattern, .notPattern:
            do {
                _ = try LinePattern(token.text, requireCapture: false)
            } catch {
                throw self.error("syntax error: \(error.message)", at: token)
            }
        default: break
        }
        return .text(token.text)
    }

    /// One `| stage`: a parser, a formatter, a label edit or a label filter.
    private mutating func parseStage() throws(LogQLParseError) -> LogStage {
        guard current.kind == .identifier || current.kind == .openParen else { throw unexpected() }
        // A label filter starts with `(` or with an identifier followed by a comparison.
        if current.kind == .openParen || Self.isComparison(peek().kind) { return .labelFilter(try parseLabelFilter()) }
        let stageToken = advance()
        switch stageToken.word {
        case "json":
            return .parser(.json(try parseExtractions()))
        case "logfmt":
            var strict = false
            var keepEmpty = false
            while current.kind == .flag {
                let flag = advance()
                switch flag.text {
                case "--strict": strict = true
                case "--keep-empty": keepEmpty = true
                default: throw error("syntax error: unknown logfmt flag \(flag.text)", at: flag)
                }
            }
            return .parser(.logfmt(strict: strict, keepEmpty: keepEmpty, try parseExtractions()))
        case "regexp":
            let token = try expect(.string)
            do {
                _ = try LogRegexpParser(token.text)
            } catch {
                throw LogQLParseError(error.message)
            }
            return .parser(.regexp(token.text))
        case "pattern":
            let token = try expect(.string)
            do {
                _ = try LinePattern(token.text, requireCapture: true)
            } catch {
                throw LogQLParseError(error.message)
            }
            return .parser(.pattern(token.text))
        case "unpack":
            return .parser(.unpack)
        case "decolorize":
            return .decolorize
        case "line_format":
            let token = try expect(.string)
            do {
                _ = try LogTemplate(token.text)
            } catch {
                throw LogQLParseError(error.message)
            }
            return .lineFormat(token.text)
        case "label_format":
            return .labelFormat(try parseLabelFormat())
        case "drop", "keep":
            var items: [NamedLabelMatcher] = []
            repeat {
                if current.kind == .identifier && [.equal, .notEqual, .regex, .notRegex].contains(peek().kind) {
                    let matcher = try parseMatcher()
                    items.append(NamedLabelMatcher(name: matcher.name, matcher: matcher))
                } else {
                    items.append(NamedLabelMatcher(name: try expectIdentifier()))
                }
            } while accept(.comma)
            return stageToken.word == "drop" ? .drop(items) : .keep(items)
        default:
            index -= 1
            throw unexpected()
        }
    }

    /// The optional `name="path"` list after `json` or `logfmt`.
    private mutating func parseExtractions() throws(LogQLParseError) -> [LabelExtraction] {
        guard current.kind == .identifier, !LogQLToken.keywords.contains(current.word) || peek().kind == .equal else { return [] }
        var out: [LabelExtraction] = []
        repeat {
            let name = try expectIdentifier()
            if accept(.equal) {
                let pathToken = try expect(.string)
                guard JSONPath.parse(pathToken.text) != nil else {
                    throw error("syntax error: invalid JSON path \(GoText.quote(pathToken.text))", at: pathToken)
                }
                out.append(LabelExtraction(name: name, path: pathToken.text))
            } else {
                out.append(LabelExtraction(name: name, path: name))
            }
        } while accept(.comma)
        return out
    }

    /// The `dst=src` and `dst="template"` items of `label_format`; a destination may appear once.
    private mutating func parseLabelFormat() throws(LogQLParseError) -> [LabelFormatItem] {
        var items: [LabelFormatItem] = []
        var seen = Set<String>()
        repeat {
            let destination = try expectIdentifier()
            _ = try expect(.equal)
            let item: LabelFormatItem
            if current.kind == .identifier {
                item = .rename(destination: destination, source: advance().text)
            } else {
                let token = try expect(.string)
                do {
                    _ = try LogTemplate(token.text)
                } catch {
                    throw LogQLParseError(error.message)
                }
                item = .template(destination: destination, template: token.text)
            }
            guard seen.insert(destination).inserted else {
                throw LogQLParseError("multiple label name '\(destination)' in the same format expression")
            }
            items.append(item)
        } while accept(.comma)
        return items
    }

    // MARK: - Label filters

    private static func isComparison(_ kind: LogQLTokenKind) -> Bool {
        switch kind {
        case .equal, .notEqual, .regex, .notRegex, .greater, .greaterOrEqual, .less, .lessOrEqual, .compareEqual: true
        default: false
        }
    }

    /// `a or b`, where `and`, `,` and juxtaposition bind tighter than `or`.
    private mutating func parseLabelFilter() throws(LogQLParseError) -> LabelFilterExpr {
        var lhs = try parseLabelFilterConjunction()
        while isKeyword("or") && (peek().kind == .openParen || (peek().kind == .identifier && Self.isComparison(peek(2).kind))) {
            advance()
            lhs = .or(lhs, try parseLabelFilterConjunction())
        }
        return lhs
    }

    /// Filters joined by `and`, `,` or juxtaposition.
    private mutating func parseLabelFilterConjunction() throws(LogQLParseError) -> LabelFilterExpr {
        var lhs = try parseLabelFilterPrimary()
        while true {
            if isKeyword("and") || current.kind == .comma {
                advance()
            } else if !(current.kind == .identifier && !LogQLToken.keywords.contains(current.word) && Self.isComparison(peek().kind)) {
                break
            }
            lhs = .and(lhs, try parseLabelFilterPrimary())
        }
        return lhs
    }

    /// A parenthesised filter or one comparison: string, regex, numeric, duration, bytes or `ip()`.
    private mutating func parseLabelFilterPrimary() throws(LogQLParseError) -> LabelFilterExpr {
        if accept(.openParen) {
            let inner = try parseLabelFilter()
            _ = try expect(.closeParen)
            return inner
        }
        let nameToken = current
        let name = try expectIdentifier()
        let opToken = advance()
        let comparison: LabelFilterComparison
        switch opToken.kind {
        case .equal, .notEqual:
            if current.kind == .string {
                return .matcher(try makeMatcher(name, opToken.kind == .equal ? .equal : .notEqual, advance().text, at: nameToken))
            }
            if isKeyword("ip") && peek().kind == .openParen {
                advance()
                advance()
                let pattern = try expect(.string).text
                _ = try expect(.closeParen)
                guard IPMatcher(pattern) != nil else { throw LogQLParseError("invalid ip pattern \(GoText.quote(pattern))") }
                return .ip(name: name, equal: opToken.kind == .equal, pattern: pattern)
            }
            comparison = opToken.kind == .equal ? .equal : .notEqual
        case .regex, .notRegex:
            let value = try expect(.string).text
            return .matcher(try makeMatcher(name, opToken.kind == .regex ? .regexMatch : .regexNoMatch, value, at: nameToken))
        case .compareEqual: comparison = .equal
        case .greater: comparison = .greater
        case .greaterOrEqual: comparison = .greaterOrEqual
        case .less: comparison = .less
        case .lessOrEqual: comparison = .lessOrEqual
        default:
            index -= 1
            throw unexpected(expecting: "EQ or NEQ or RE or NRE or CMP_EQ or GT or GTE or LT or LTE")
        }
        switch current.kind {
        case .duration:
            let token = advance()
            return .duration(name: name, op: comparison, seconds: Double(LogQLUnits.durationNanoseconds(token.text) ?? 0) / 1e9)
        case .bytes:
            let token = advance()
            return .bytes(name: name, op: comparison, value: LogQLUnits.bytes(token.text) ?? 0)
        case .number:
            return .numeric(name: name, op: comparison, value: try parseNumber())
        case .sub, .add:
            let negative = advance().kind == .sub
            if current.kind == .duration {
                let seconds = Double(LogQLUnits.durationNanoseconds(advance().text) ?? 0) / 1e9
                return .duration(name: name, op: comparison, seconds: negative ? -seconds : seconds)
            }
            let value = try parseNumber()
            return .numeric(name: name, op: comparison, value: negative ? -value : value)
        default:
            throw unexpected()
        }
    }

    /// A label matcher, its regex compiled now.
    private func makeMatcher(_ name: String, _ kind: LabelMatcher.Kind, _ value: String, at token: LogQLToken) throws(LogQLParseError) -> LabelMatcher {
        do {
            return try LabelMatcher(name, kind, value)
        } catch {
            throw self.error("syntax error: \(error)", at: token)
        }
    }

    // MARK: - Validation

    /// The checks Loki makes on a parsed expression.
    private static func validate(_ expr: LogQLExpr) throws(LogQLParseError) {
        switch expr {
        case .log(let selector):
            try validateSelector(selector.matchers)
        case .rangeAggregation(let range):
            try validateSelector(range.range.selector.matchers)
            let op = range.op
            if range.grouping != nil && !op.allowsGrouping {
                throw LogQLParseError("grouping not allowed for \(op.rawValue) aggregation")
            }
            if range.range.unwrap != nil {
                if !op.allowsUnwrap { throw LogQLParseError("invalid aggregation \(op.rawValue) with unwrap") }
            } else if !op.allowsLines {
                throw LogQLParseError("invalid aggregation \(op.rawValue) without unwrap")
            }
            if op == .quantileOverTime && range.parameter == nil {
                throw LogQLParseError("parameter required for operation \(op.rawValue)")
            }
            if op != .quantileOverTime && range.parameter != nil {
                throw LogQLParseError("parameter not allowed for operation \(op.rawValue)")
            }
        case .vectorAggregation(let aggregation):
            try validate(aggregation.expr)
        case .binary(let binary):
            try validate(binary.lhs)
            try validate(binary.rhs)
        case .labelReplace(let inner, _):
            try validate(inner)
        case .literal, .vector:
            break
        }
    }

    /// Loki's rule: at least one matcher must not match the empty string.
    private static func validateSelector(_ matchers: [LabelMatcher]) throws(LogQLParseError) {
        if !matchers.contains(where: { !$0.matches("") }) {
            throw LogQLParseError(
                "queries require at least one regexp or equality matcher that does not have an empty-compatible value. "
                    + "For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will")
        }
    }
}
