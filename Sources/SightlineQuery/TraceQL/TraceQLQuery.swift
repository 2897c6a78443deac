package import SightlineCore

/// A parsed TraceQL query, the subset Sightline evaluates: spanset filters (`{ span.http.status_code >= 500 &&
/// resource.service.name = "api" }`) with `&&`, `||`, `!` and parentheses inside; spansets combined with `&&`, `||`
/// and the structural operators `>` (child), `>>` (descendant), `<` (parent), `<<` (ancestor), `~` (sibling) and
/// their negations (`!>`, `!>>`, `!<`, `!<<`, `!~`), which bind tighter than `&&` and `||`; and pipeline stages
/// `| count() > n`, `| avg(duration) > 1s`, `| min(…)`, `| max(…)`, `| sum(…)`, and `| select(…)` for the
/// attributes to show.
///
/// Fields: `span.x`, `resource.x`, `.x` (span first, then resource), quoted names (`span."a b"`), and the intrinsics
/// `name`, `status`, `statusMessage`, `kind`, `duration`, `rootName`, `rootServiceName`, `traceDuration` (also as
/// `span:name`, `span:status`, `span:statusMessage`, `span:kind`, `span:duration`, `span:id`, `trace:rootName`,
/// `trace:rootService`, `trace:duration`, `trace:id`). Values: strings, integers, floats, durations (`1.5s`, `100ms`),
/// `true`/`false`, `nil`, statuses (`error`, `ok`, `unset`) and kinds (`server`, `client`, …). Operators `= != < <= >
/// >= =~ !~`; regular expressions are fully anchored, as in Tempo. A field a span lacks compares false, except with
/// `= nil`. `nestedSetParent`, `nestedSetLeft` and `nestedSetRight` number spans in their trace as Tempo does
/// (`nestedSetParent < 0` selects root spans).
///
/// Metrics queries end in one of `rate()`, `count_over_time()`, `min_over_time(f)`, `max_over_time(f)`,
/// `sum_over_time(f)`, `avg_over_time(f)`, `histogram_over_time(f)`, `quantile_over_time(f, q…)` or
/// `compare({…}, n[, start, end])`, optionally `by (fields…)` and `| topk(k)` or `| bottomk(k)`; hints
/// (`with(sample=true)`) are accepted and set aside. `coalesce`, spanset `by` and arithmetic between metrics queries
/// are refused with a message that says so.
package struct TraceQLQuery: Sendable {
    /// Spansets and how they combine.
    indirect enum Spanset: Sendable {
        case filter(Condition?)
        case and(Spanset, Spanset)
        case or(Spanset, Spanset)
        /// The right-hand spans that stand in `relation` to a left-hand span (negated: to none; union: and the
        /// left-hand spans that stand in the inverse relation to a right-hand one).
        case structural(Spanset, Relation, StructuralMode, Spanset)
    }

    /// Which spans a structural operation keeps: `>>` the related right-hand ones, `!>>` the unrelated ones, `&>>`
    /// the related ones of both sides.
    enum StructuralMode: Sendable {
        case related, unrelated, union
    }

    /// How a right-hand span relates to a left-hand one in a structural operation.
    enum Relation: Sendable {
        case child, descendant, parent, ancestor, sibling
    }

    /// A pipeline stage: a condition on the spanset as a whole.
    enum Stage: Sendable {
        case count(Comparison, Value)
        /// `avg`, `min`, `max` or `sum` of a field over the spans that have it.
        case aggregate(Aggregate, Field, Comparison, Value)
        /// `select(fields…)`: shows the fields with the matched spans; selects nothing away.
        case select([Field])
    }

    enum Aggregate: String, Sendable {
        case avg, min, max, sum
    }

    /// A metrics function over the matched spans, counted in time intervals (``metrics(source:tenant:window:exemplars:traceLimit:)``).
    struct Metrics: Sendable {
        enum Function: Sendable {
            case rate, countOverTime
            /// `min_over_time`, `max_over_time`, `sum_over_time` or `avg_over_time` of a numeric field.
            case overTime(Aggregate, Field)
            case histogramOverTime(Field)
            case quantileOverTime(Field, [Double])
            /// The attribute values of the spans that satisfy the condition (the selection) against those of the
            /// other matched spans (the baseline): the `topN` most frequent values per attribute, with totals.
            case compare(Condition?, topN: Int, startNano: UInt64?, endNano: UInt64?)
        }

        static let functionNames: Set<String> = [
            "rate", "count_over_time", "min_over_time", "max_over_time", "sum_over_time", "avg_over_time",
            "histogram_over_time", "quantile_over_time", "compare",
        ]

        let function: Function
        /// The fields series are grouped by, with the text the query names them by (their label names).
        let by: [(field: Field, name: String)]
        /// `| topk(k)` (`bottom` false) or `| bottomk(k)`: at each time, only the k highest or lowest series.
        let rank: (bottom: Bool, k: Int)?
    }

    /// A condition on one span.
    indirect enum Condition: Sendable {
        case and(Condition, Condition)
        case or(Condition, Condition)
        case not(Condition)
        case compare(Operand, Comparison, Operand)
        /// A lone field or value: true when it is the boolean true.
        case truth(Operand)
    }

    enum Comparison: String, Sendable {
        case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
        case regex = "=~", notRegex = "!~"
    }

    enum Operand: Sendable {
        case field(Field)
        case value(Value)
    }

    /// A field of a span or its trace.
    enum Field: Hashable, Sendable {
        case span(String)
        case resource(String)
        /// `.name`: the span's attribute, else the resource's.
        case either(String)
        case name, status, statusMessage, kind, duration, spanID
        case rootName, rootServiceName, traceDuration, traceID
        /// The nested set numbers of the span in its trace (Tempo's): a depth-first walk from each root numbers a span
        /// on entering (`left`) and on leaving (`right`); `parent` is the parent's `left`, -1 for a root, 0 for a
        /// span not connected to a root.
        case nestedSetParent, nestedSetLeft, nestedSetRight
        /// An attribute of the span's events (`event.exception.message`) and an event's name (`event:name`): a
        /// comparison holds when any event satisfies it; shown and grouped by, the first event's value.
        case event(String)
        case eventName
    }

    /// A value a field has or a query names.
    enum Value: Hashable, Sendable {
        case string(String)
        case int(Int64)
        case float(Double)
        /// Nanoseconds.
        case duration(Int64)
        case bool(Bool)
        case status(Span.StatusCode)
        case kind(Span.Kind)
        case null
    }

    let spansets: Spanset
    /// The pipeline stages after the spansets, in order.
    let stages: [Stage]
    /// The metrics function that ends the query (`| rate() by (…)`), nil for a search.
    let metrics: Metrics?
    /// Regular expressions of the query, compiled once, by pattern.
    let regexes: [String: LabelMatcher]

    /// Parses `text`.
    /// - Throws: `invalidArgument` with the position and what is wrong (`1:12: expected a value after =`).
    package init(_ text: String) throws {
        var parser = TraceQLParser(text)
        spansets = try parser.spansetExpression()
        (stages, metrics) = try parser.pipeline()
        try parser.hints()
        try parser.expectEnd()
        var regexes: [String: LabelMatcher] = [:]
        for pattern in parser.patterns where regexes[pattern] == nil {
            do {
                regexes[pattern] = try LabelMatcher("traceql", .regexMatch, pattern)
            } catch {
                throw SightlineError(.invalidArgument, "invalid regular expression \(JSONText.quoted(pattern)) in TraceQL query")
            }
        }
        self.regexes = regexes
    }

    /// What a search shows with each matched span, as Tempo shows it: the fields the query's filters and `select()`
    /// read, each once, in order, keyed by their name without the scope (`resource.service.name` as `service.name`,
    /// `event.exception.message` as `exception.message`, `.x` as the span's `x`, else the resource's); intrinsics by
    /// their names (`status`, `kind`, `statusMessage`, `nestedSetLeft`, …). The span name, times, ids and trace-level
    /// fields are not among them (the span carries its name and times itself).
    package func shownAttributes(of span: Span, in trace: TraceSummary) -> [Attribute] {
        var out: [Attribute] = []
        for field in shownFields {
            let key: String
            let found: AttributeValue?
            switch field {
            case .span(let name): (key, found) = (name, span.attributes.first { $0.key == name }?.value)
            case .resource(let name): (key, found) = (name, span.resource.first { $0.key == name }?.value)
            case .either(let name):
                key = name
                found = (span.attributes.first { $0.key == name } ?? span.resource.first { $0.key == name })?.value
            case .event(let name):
                key = name
                found = span.events.lazy.compactMap { $0.attributes.first { $0.key == name }?.value }.first
            case .status, .kind, .statusMessage, .nestedSetParent, .nestedSetLeft, .nestedSetRight, .eventName:
                key = field.intrinsicName
                switch Self.value(of: field, in: span, context: trace) {
                case .int(let number): found = .int(number)
                case let value?: found = value.typedText.map { .string($0.text) }
                case nil: found = nil
                }
            case .name, .duration, .spanID, .rootName, .rootServiceName, .traceDuration, .traceID:
                continue
            }
            if let found, !out.contains(where: { $0.key == key }) { out.append(Attribute(key, found)) }
        }
        return out
    }

    /// The fields the spanset filters read, in order.
    var filterFields: [Field] {
        var out: [Field] = []
        func walk(_ spanset: Spanset) {
            switch spanset {
            case .filter(let condition): out += condition?.fields ?? []
            case .and(let a, let b), .or(let a, let b), .structural(let a, _, _, let b): walk(a); walk(b)
            }
        }
        walk(spansets)
        return out
    }

    /// The fields of filters and `select()` stages, each once, in order.
    var shownFields: [Field] {
        var out = filterFields
        for case .select(let fields) in stages { out += fields }
        var seen = Set<Field>()
        return out.filter { seen.insert($0).inserted }
    }
}

extension TraceQLQuery.Field {
    /// An intrinsic's name as Tempo shows it in a span's attributes.
    var intrinsicName: String {
        switch self {
        case .status: "status"
        case .kind: "kind"
        case .statusMessage: "statusMessage"
        case .nestedSetParent: "nestedSetParent"
        case .nestedSetLeft: "nestedSetLeft"
        case .nestedSetRight: "nestedSetRight"
        case .eventName: "event:name"
        default: ""
        }
    }
}

extension TraceQLQuery.Condition {
    /// The fields the condition reads, in order.
    var fields: [TraceQLQuery.Field] {
        switch self {
        case .and(let a, let b), .or(let a, let b): a.fields + b.fields
        case .not(let inner): inner.fields
        case .compare(let a, _, let b): [a, b].compactMap(\.field)
        case .truth(let operand): operand.field.map { [$0] } ?? []
        }
    }
}

extension TraceQLQuery.Operand {
    var field: TraceQLQuery.Field? {
        if case .field(let field) = self { return field }
        return nil
    }
}

/// Reads TraceQL text into ``TraceQLQuery``'s tree.
private struct TraceQLParser {
    let scalars: [Unicode.Scalar]
    var index = 0
    /// Every regular expression met, for compiling after the parse.
    var patterns: [String] = []

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    // MARK: Spansets

    mutating func spansetExpression() throws -> TraceQLQuery.Spanset {
        var left = try structuralExpression()
        while true {
            skipSpace()
            if take("&&") {
                left = .and(left, try structuralExpression())
            } else if take("||") {
                left = .or(left, try structuralExpression())
            } else {
                return left
            }
        }
    }

    /// Spansets joined by structural operators, left to right.
    mutating func structuralExpression() throws -> TraceQLQuery.Spanset {
        var left = try spansetTerm()
        while true {
            skipSpace()
            let negated = peek("!") && !peek("!=")
            let union = !negated && peek("&") && !peek("&&")
            if negated || union { index += 1 }
            let relation: TraceQLQuery.Relation
            if take(">>") {
                relation = .descendant
            } else if take("<<") {
                relation = .ancestor
            } else if take(">") {
                relation = .child
            } else if take("<") {
                relation = .parent
            } else if take("~") {
                relation = .sibling
            } else {
                if negated || union { throw failure("expected a structural operator after \(negated ? "!" : "&")") }
                return left
            }
            left = .structural(left, relation, negated ? .unrelated : union ? .union : .related, try spansetTerm())
        }
    }

    mutating func spansetTerm() throws -> TraceQLQuery.Spanset {
        skipSpace()
        if take("(") {
            let inner = try spansetExpression()
            skipSpace()
            guard take(")") else { throw failure("expected ) after a spanset expression") }
            return inner
        }
        guard take("{") else { throw failure("expected a spanset filter { … }") }
        skipSpace()
        if take("}") { return .filter(nil) }
        let condition = try orCondition()
        skipSpace()
        guard take("}") else { throw failure("expected } or an operator") }
        return .filter(condition)
    }

    /// Pipeline stages: `| count() <op> n`, `| avg|min|max|sum(field) <op> value` and `| select(…)`, any number of
    /// them, then at most one metrics function (``metricsFunction(_:)``), which ends the pipeline.
    mutating func pipeline() throws -> ([TraceQLQuery.Stage], TraceQLQuery.Metrics?) {
        var stages: [TraceQLQuery.Stage] = []
        while true {
            skipSpace()
            let bar = index
            guard take("|") else { return (stages, nil) }
            skipSpace()
            let start = index
            let word = identifier()
            if word == "select" {
                stages.append(.select(try selectFields()))
                continue
            }
            if TraceQLQuery.Metrics.functionNames.contains(word) {
                return (stages, try metricsFunction(word))
            }
            if word == "topk" || word == "bottomk" {
                index = bar
                throw failure("\(word) needs a metrics function before it")
            }
            let aggregate = TraceQLQuery.Aggregate(rawValue: word)
            guard word == "count" || aggregate != nil else {
                index = start
                throw failure(word.isEmpty ? "expected count(), avg(), min(), max(), sum(), select() or a metrics function after |" : "\(word) is not supported after |")
            }
            skipSpace()
            guard take("(") else { throw failure("expected ( after \(word)") }
            var field: TraceQLQuery.Field?
            if aggregate != nil {
                guard case .field(let named) = try operand() else { throw failure("expected a field in \(word)()") }
                field = named
            }
            skipSpace()
            guard take(")") else { throw failure("expected ) after \(word)(") }
            skipSpace()
            guard let comparison = comparisonOperator(), comparison != .regex, comparison != .notRegex else {
                throw failure("expected a comparison after \(word)()")
            }
            skipSpace()
            guard case .value(let value) = try operand(), value.number != nil else {
                throw failure("expected a number or a duration after \(word)() \(comparison.rawValue)")
            }
            if let aggregate, let field {
                stages.append(.aggregate(aggregate, field, comparison, value))
            } else {
                stages.append(.count(comparison, value))
            }
        }
    }

    /// The arguments of metrics function `name` (its name read already), its `by (…)`, and a `| topk(k)` or
    /// `| bottomk(k)` after it.
    mutating func metricsFunction(_ name: String) throws -> TraceQLQuery.Metrics {
        skipSpace()
        guard take("(") else { throw failure("expected ( after \(name)") }
        var field: TraceQLQuery.Field?
        if name != "rate" && name != "count_over_time" && name != "compare" {
            guard case .field(let named) = try operand() else { throw failure("expected a field in \(name)()") }
            field = named
        }
        let function: TraceQLQuery.Metrics.Function
        switch (name, field) {
        case ("rate", _): function = .rate
        case ("count_over_time", _): function = .countOverTime
        case ("histogram_over_time", let field?): function = .histogramOverTime(field)
        case ("quantile_over_time", let field?):
            var quantiles: [Double] = []
            skipSpace()
            while take(",") {
                skipSpace()
                let at = index
                guard case .value(let value) = try operand(), let q = value.number, (0...1).contains(q) else {
                    index = at
                    throw failure("expected a quantile between 0 and 1 in quantile_over_time()")
                }
                quantiles.append(q)
                skipSpace()
            }
            guard !quantiles.isEmpty else { throw failure("quantile_over_time() needs at least one quantile after the field") }
            function = .quantileOverTime(field, quantiles)
        case ("compare", _):
            skipSpace()
            guard case .filter(let condition) = try spansetTerm() else { throw failure("compare() takes a spanset filter { … }") }
            var numbers: [Int64] = []
            skipSpace()
            while take(",") {
                skipSpace()
                let at = index
                guard case .value(.int(let number)) = try operand(), number >= 0 else {
                    index = at
                    throw failure("expected a whole number in compare()")
                }
                numbers.append(number)
                skipSpace()
            }
            let topN = numbers.first ?? 10
            guard numbers.count <= 3, (1...1000).contains(topN) else {
                throw failure("compare() takes a filter, a top count from 1 to 1000 and an optional start and end in nanoseconds")
            }
            guard numbers.count != 2 else { throw failure("compare() needs both a start and an end, or neither") }
            function = .compare(condition, topN: Int(topN), startNano: numbers.count == 3 ? UInt64(numbers[1]) : nil,
                                endNano: numbers.count == 3 ? UInt64(numbers[2]) : nil)
        case (let other, let field?):
            function = .overTime(TraceQLQuery.Aggregate(rawValue: String(other.prefix { $0 != "_" }))!, field)
        default:
            throw failure("expected a field in \(name)()")
        }
        skipSpace()
        guard take(")") else { throw failure("expected ) to close \(name)(") }
        var by: [(field: TraceQLQuery.Field, name: String)] = []
        skipSpace()
        let byStart = index
        if identifier() == "by" {
            if case .compare = function { throw failure("compare() takes no by (…)") }
            skipSpace()
            guard take("(") else { throw failure("expected ( after by") }
            repeat {
                skipSpace()
                let start = index
                guard case .field(let field) = try operand() else { throw failure("expected a field in by (…)") }
                by.append((field, String(String.UnicodeScalarView(scalars[start..<index]))))
                skipSpace()
            } while take(",")
            guard take(")") else { throw failure("expected , or ) in by (…)") }
        } else {
            index = byStart
        }
        var rank: (bottom: Bool, k: Int)?
        skipSpace()
        let bar = index
        if take("|") {
            skipSpace()
            let word = identifier()
            guard word == "topk" || word == "bottomk" else {
                index = bar
                throw failure("only topk() or bottomk() may follow a metrics function")
            }
            skipSpace()
            guard take("(") else { throw failure("expected ( after \(word)") }
            skipSpace()
            guard case .value(.int(let k)) = try operand(), k > 0 else { throw failure("expected a positive whole number in \(word)()") }
            skipSpace()
            guard take(")") else { throw failure("expected ) after \(word)(") }
            rank = (word == "bottomk", Int(clamping: k))
        }
        return TraceQLQuery.Metrics(function: function, by: by, rank: rank)
    }

    /// Query hints, `with(name=value, …)`: read and set aside (Sightline's metrics are exact, not sampled).
    mutating func hints() throws {
        skipSpace()
        let start = index
        guard identifier() == "with" else {
            index = start
            return
        }
        skipSpace()
        guard take("(") else { throw failure("expected ( after with") }
        skipSpace()
        if take(")") { return }
        repeat {
            skipSpace()
            guard !identifier().isEmpty else { throw failure("expected a hint name in with(…)") }
            skipSpace()
            guard take("=") else { throw failure("expected = after a hint name") }
            _ = try operand()
            skipSpace()
        } while take(",")
        guard take(")") else { throw failure("expected , or ) in with(…)") }
    }

    /// `(field, field, …)` after `select`.
    mutating func selectFields() throws -> [TraceQLQuery.Field] {
        skipSpace()
        guard take("(") else { throw failure("expected ( after select") }
        var fields: [TraceQLQuery.Field] = []
        repeat {
            guard case .field(let field) = try operand() else { throw failure("expected a field in select()") }
            fields.append(field)
            skipSpace()
        } while take(",")
        guard take(")") else { throw failure("expected , or ) in select()") }
        return fields
    }

    mutating func expectEnd() throws {
        skipSpace()
        if index < scalars.count { throw failure("unexpected \(String(scalars[index]))") }
    }

    // MARK: Conditions

    mutating func orCondition() throws -> TraceQLQuery.Condition {
        var left = try andCondition()
        while true {
            skipSpace()
            guard take("||") else { return left }
            left = .or(left, try andCondition())
        }
    }

    mutating func andCondition() throws -> TraceQLQuery.Condition {
        var left = try unaryCondition()
        while true {
            skipSpace()
            guard take("&&") else { return left }
            left = .and(left, try unaryCondition())
        }
    }

    mutating func unaryCondition() throws -> TraceQLQuery.Condition {
        skipSpace()
        if peek("!") && !peek("!=") && !peek("!~") {
            index += 1
            return .not(try unaryCondition())
        }
        if take("(") {
            let inner = try orCondition()
            skipSpace()
            guard take(")") else { throw failure("expected )") }
            return inner
        }
        let left = try operand()
        skipSpace()
        guard let comparison = comparisonOperator() else { return .truth(left) }
        skipSpace()
        let right = try operand()
        if comparison == .regex || comparison == .notRegex {
            guard case .value(.string(let pattern)) = right else { throw failure("expected a string after \(comparison.rawValue)") }
            patterns.append(pattern)
        }
        return .compare(left, comparison, right)
    }

    mutating func comparisonOperator() -> TraceQLQuery.Comparison? {
        for comparison: TraceQLQuery.Comparison in [.notEqual, .regex, .notRegex, .lessOrEqual, .greaterOrEqual, .equal, .less, .greater]
        where take(comparison.rawValue) {
            return comparison
        }
        return nil
    }

    // MARK: Operands

    mutating func operand() throws -> TraceQLQuery.Operand {
        skipSpace()
        guard index < scalars.count else { throw failure("unexpected end of query") }
        let scalar = scalars[index]
        if scalar == "\"" || scalar == "`" { return .value(.string(try quoted())) }
        if scalar == "." { index += 1; return .field(.either(try attributeName())) }
        if ("0"..."9").contains(scalar) || (scalar == "-" && index + 1 < scalars.count && ("0"..."9").contains(scalars[index + 1])) {
            return .value(try number())
        }
        let start = index
        let word = identifier()
        if take(".") {
            switch word {
            case "span": return .field(.span(try attributeName()))
            case "resource": return .field(.resource(try attributeName()))
            case "event": return .field(.event(try attributeName()))
            default:
                index = start
                throw failure("unknown attribute scope \(word); use span., resource., event. or .")
            }
        }
        if take(":") {
            let name = identifier()
            switch (word, name) {
            case ("span", "name"): return .field(.name)
            case ("span", "status"): return .field(.status)
            case ("span", "statusMessage"): return .field(.statusMessage)
            case ("span", "kind"): return .field(.kind)
            case ("span", "duration"): return .field(.duration)
            case ("span", "id"): return .field(.spanID)
            case ("trace", "rootName"): return .field(.rootName)
            case ("trace", "rootService"): return .field(.rootServiceName)
            case ("trace", "duration"): return .field(.traceDuration)
            case ("trace", "id"): return .field(.traceID)
            case ("event", "name"): return .field(.eventName)
            default:
                index = start
                throw failure("unknown intrinsic \(word):\(name)")
            }
        }
        switch word {
        case "name": return .field(.name)
        case "status": return .field(.status)
        case "statusMessage": return .field(.statusMessage)
        case "kind": return .field(.kind)
        case "duration": return .field(.duration)
        case "rootName": return .field(.rootName)
        case "rootServiceName": return .field(.rootServiceName)
        case "traceDuration": return .field(.traceDuration)
        case "nestedSetParent": return .field(.nestedSetParent)
        case "nestedSetLeft": return .field(.nestedSetLeft)
        case "nestedSetRight": return .field(.nestedSetRight)
        case "true": return .value(.bool(true))
        case "false": return .value(.bool(false))
        case "nil": return .value(.null)
        case "error": return .value(.status(.error))
        case "ok": return .value(.status(.ok))
        case "unset": return .value(.status(.unset))
        case "unspecified": return .value(.kind(.unspecified))
        case "internal": return .value(.kind(.internal))
        case "server": return .value(.kind(.server))
        case "client": return .value(.kind(.client))
        case "producer": return .value(.kind(.producer))
        case "consumer": return .value(.kind(.consumer))
        case "":
            throw failure("expected a field or a value")
        default:
            index = start
            throw failure("unknown field or value \(word)")
        }
    }

    /// An attribute name after its scope: a quoted string, or everything up to a space or an operator character.
    mutating func attributeName() throws -> String {
        if index < scalars.count, scalars[index] == "\"" { return try quoted() }
        let start = index
        while index < scalars.count, !scalars[index].properties.isWhitespace, !"{}()=!<>&|~,\"".unicodeScalars.contains(scalars[index]) {
            index += 1
        }
        guard index > start else { throw failure("expected an attribute name") }
        return String(String.UnicodeScalarView(scalars[start..<index]))
    }

    /// A string in double quotes (with `\"`, `\\`, `\n`, `\t` escapes) or backquotes (raw).
    mutating func quoted() throws -> String {
        let quote = scalars[index]
        let start = index
        index += 1
        var out = String.UnicodeScalarView()
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            if scalar == quote { return String(out) }
            if scalar == "\\" && quote == "\"" && index < scalars.count {
                let escaped = scalars[index]
                index += 1
                switch escaped {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                default: out.append(escaped)
                }
            } else {
                out.append(scalar)
            }
        }
        index = start
        throw failure("unterminated string")
    }

    /// An integer, a float, or a duration (a number followed by `ns`, `us`, `µs`, `ms`, `s`, `m` or `h`).
    mutating func number() throws -> TraceQLQuery.Value {
        let start = index
        if scalars[index] == "-" { index += 1 }
        while index < scalars.count, ("0"..."9").contains(scalars[index]) || scalars[index] == "." { index += 1 }
        let digits = String(String.UnicodeScalarView(scalars[start..<index]))
        let unitStart = index
        while index < scalars.count, ("a"..."z").contains(scalars[index]) || scalars[index] == "µ" { index += 1 }
        let unit = String(String.UnicodeScalarView(scalars[unitStart..<index]))
        guard let number = Double(digits) else {
            index = start
            throw failure("malformed number \(digits)")
        }
        if unit.isEmpty { return digits.contains(".") ? .float(number) : (Int64(digits).map { .int($0) } ?? .float(number)) }
        let scale: Double
        switch unit {
        case "ns": scale = 1
        case "us", "µs": scale = 1e3
        case "ms": scale = 1e6
        case "s": scale = 1e9
        case "m": scale = 60e9
        case "h": scale = 3600e9
        default:
            index = unitStart
            throw failure("unknown duration unit \(unit)")
        }
        return .duration(Int64(number * scale))
    }

    mutating func identifier() -> String {
        let start = index
        while index < scalars.count, scalars[index].properties.isAlphabetic || ("0"..."9").contains(scalars[index]) || scalars[index] == "_" {
            index += 1
        }
        return String(String.UnicodeScalarView(scalars[start..<index]))
    }

    // MARK: Characters

    mutating func skipSpace() {
        while index < scalars.count, scalars[index].properties.isWhitespace { index += 1 }
    }

    func peek(_ text: String) -> Bool {
        let wanted = Array(text.unicodeScalars)
        return index + wanted.count <= scalars.count && Array(scalars[index..<(index + wanted.count)]) == wanted
    }

    mutating func take(_ text: String) -> Bool {
        guard peek(text) else { return false }
        index += text.unicodeScalars.count
        return true
    }

    /// An error at the current position: `1:12: message`.
    func failure(_ message: String) -> SightlineError {
        var line = 1
        var column = 1
        for scalar in scalars[..<min(index, scalars.count)] {
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return SightlineError(.invalidArgument, "TraceQL: \(line):\(column): \(message)")
    }
}

extension TraceQLQuery {
    /// A field named as in a query (`span.http.method`, `resource.service.name`, `.peer.service`, `name`, `status`),
    /// for listing the values it takes.
    package struct FieldReader: Sendable {
        let field: Field

        /// A value with its type, as the tag-value routes list them.
        package struct TagValue: Hashable, Sendable {
            package var type: String
            package var value: String
        }

        /// The field's value in `span` as Tempo's tag-value routes show it: a type (`string`, `int`, `float`, `bool`,
        /// `duration`, `keyword`) and the text; nil when the span has none.
        package func tagValue(of span: Span) -> TagValue? {
            TraceQLQuery.value(of: field, in: span, context: nil)?.typedText.map { TagValue(type: $0.type, value: $0.text) }
        }
    }

    /// The field `name` names.
    /// - Throws: `invalidArgument` when `name` is not a field.
    package static func field(named name: String) throws -> FieldReader {
        var parser = TraceQLParser(name)
        guard case .field(let field) = try parser.operand() else {
            throw SightlineError(.invalidArgument, "\(JSONText.quoted(name)) is not a TraceQL field")
        }
        try parser.expectEnd()
        return FieldReader(field: field)
    }
}

extension TraceQLQuery.Value {
    /// The value's type and text as Tempo shows them (`string`, `int`, `float`, `bool`, `duration` in Go's notation,
    /// `keyword` for statuses and kinds); nil for `nil`.
    var typedText: (type: String, text: String)? {
        switch self {
        case .string(let text): ("string", text)
        case .int(let number): ("int", String(number))
        case .float(let number): ("float", String(number))
        case .bool(let flag): ("bool", flag ? "true" : "false")
        case .duration(let ns): ("duration", GoTime.duration(ns))
        case .status(let status): ("keyword", ["unset", "ok", "error"][Int(status.rawValue)])
        case .kind(let kind): ("keyword", ["unspecified", "internal", "server", "client", "producer", "consumer"][Int(kind.rawValue)])
        case .null: nil
        }
    }
}
