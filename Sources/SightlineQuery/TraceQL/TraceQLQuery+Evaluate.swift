package import SightlineCore

extension TraceQLQuery {
    /// The spans of one trace the query selects, in the trace's order; empty when the trace does not match.
    /// `summary` is the trace's, when the caller has it already.
    package func matchingSpans(in trace: [Span], summary: TraceSummary? = nil) -> [Span] {
        guard !trace.isEmpty else { return [] }
        let context = summary ?? TraceSummary(trace)
        var selected = evaluate(spansets, trace, context)
        for stage in stages where !selected.isEmpty {
            if !holds(stage, selected.map { trace[$0] }, context) { selected = [] }
        }
        return selected.sorted().map { trace[$0] }
    }

    /// The search conditions a store can apply before the query runs: those of a single filter's top-level `&&` that
    /// map onto ``TraceQuery`` (service, name, kind, status, duration bounds, equal tags), and, unless those say all
    /// there is to say, a span predicate a span of every match satisfies (``necessaryCondition(_:)``). A trace the
    /// query matches always passes them.
    package func prefilter(tenant: Tenant, range: TimeRange, limit: Int) -> TraceQuery {
        var query = TraceQuery(tenant: tenant, range: range, limit: limit)
        var exact = false
        if case .filter(let condition?) = spansets {
            exact = true
            var conjuncts: [Condition] = []
            func flatten(_ condition: Condition) {
                if case .and(let a, let b) = condition {
                    flatten(a)
                    flatten(b)
                } else {
                    conjuncts.append(condition)
                }
            }
            flatten(condition)
            /// Sets a field the store filters on exactly; a second, different value makes the mapping inexact.
            func set<T: Equatable>(_ path: WritableKeyPath<TraceQuery, T?>, _ value: T) {
                if let known = query[keyPath: path], known != value { exact = false } else { query[keyPath: path] = value }
            }
            for conjunct in conjuncts {
                if case .truth(.value(.bool(true))) = conjunct { continue }
                guard case .compare(let left, let comparison, let right) = conjunct else {
                    exact = false
                    continue
                }
                let (field, value, op): (Field, Value, Comparison)
                switch (left, right) {
                case (.field(let f), .value(let v)): (field, value, op) = (f, v, comparison)
                case (.value(let v), .field(let f)): (field, value, op) = (f, v, comparison.mirrored)
                default:
                    exact = false
                    continue
                }
                switch (field, op, value) {
                case (.resource("service.name"), .equal, .string(let service)) where service != Span.unknownService: set(\.service, service)
                case (.name, .equal, .string(let name)): set(\.operation, name)
                case (.kind, .equal, .kind(let kind)): set(\.kind, kind)
                case (.status, .equal, .status(let status)): set(\.status, status)
                case (.duration, .greater, .duration(let ns)) where ns >= 0: query.minDurationNano = max(query.minDurationNano ?? 0, UInt64(ns) + 1)
                case (.duration, .greaterOrEqual, .duration(let ns)) where ns >= 0: query.minDurationNano = max(query.minDurationNano ?? 0, UInt64(ns))
                case (.duration, .less, .duration(let ns)) where ns > 0: query.maxDurationNano = min(query.maxDurationNano ?? .max, UInt64(ns) - 1)
                case (.duration, .lessOrEqual, .duration(let ns)) where ns >= 0: query.maxDurationNano = min(query.maxDurationNano ?? .max, UInt64(ns))
                // Roots are -1, every other span 0 or more.
                case (.nestedSetParent, .less, .int(0)), (.nestedSetParent, .lessOrEqual, .int(-1)),
                    (.nestedSetParent, .equal, .int(-1)):
                    query.rootSpans = true
                case (.span(let key), .equal, let value), (.either(let key), .equal, let value), (.resource(let key), .equal, let value):
                    // A tag condition is looser than TraceQL's scopes, so the predicate stays.
                    exact = false
                    if let text = value.tagText { query.tags.append(TagCondition(key, text)) }
                default:
                    exact = false
                }
            }
        }
        if !exact, let condition = Self.necessaryCondition(spansets) {
            let noTrace = TraceSummary([])
            query.predicate = SpanPredicate(Self.describe(condition)) { span in self.holds(condition, span, noTrace) }
        }
        return query
    }

    /// The query's spanset filter as a test of one span, when the query is one filter (without stages) that needs no
    /// whole trace; nil otherwise.
    package var spanCondition: ((Span) -> Bool)? {
        guard case .filter(let condition) = spansets, stages.isEmpty, metrics == nil else { return nil }
        guard let condition else { return { _ in true } }
        guard !Self.readsTrace(condition) else { return nil }
        let noTrace = TraceSummary([])
        return { span in self.holds(condition, span, noTrace) }
    }

    /// A condition some span of every matching trace satisfies, when one can be checked span by span (it reads no
    /// trace-level field): a filter's own, either side's of `&&`, both sides' of `||`, the right side's of a
    /// structural operator.
    private static func necessaryCondition(_ spanset: Spanset) -> Condition? {
        switch spanset {
        case .filter(let condition):
            guard let condition, !readsTrace(condition) else { return nil }
            return condition
        case .and(let a, let b): return necessaryCondition(a) ?? necessaryCondition(b)
        case .or(let a, let b):
            guard let left = necessaryCondition(a), let right = necessaryCondition(b) else { return nil }
            return .or(left, right)
        case .structural(_, _, _, let b): return necessaryCondition(b)
        }
    }

    /// Whether `condition` needs the whole trace to be decided. `nestedSetParent` compared with a negative number, or
    /// `< 0` and `>= 0`, does not: the answer is the same for every value a non-root span may have (0 when not
    /// connected to a root, a positive number otherwise), so -1 for roots and 0 for others decides it span by span.
    static func readsTrace(_ condition: Condition) -> Bool {
        switch condition {
        case .and(let a, let b), .or(let a, let b): return readsTrace(a) || readsTrace(b)
        case .not(let inner): return readsTrace(inner)
        case .compare(.field(.nestedSetParent), let op, .value(let value)), .compare(.value(let value), let op, .field(.nestedSetParent)):
            let mirrored: Comparison
            if case .field = condition.leftOperand { mirrored = op } else { mirrored = op.mirrored }
            guard let bound = value.number else { return true }
            return !(bound < 0 || (bound == 0 && (mirrored == .less || mirrored == .greaterOrEqual)))
        case .compare, .truth: return condition.fields.contains(where: \.readsTrace)
        }
    }

    /// A text that tells conditions apart, for the predicate's identity.
    private static func describe(_ condition: Condition) -> String {
        switch condition {
        case .and(let a, let b): "(\(describe(a)) && \(describe(b)))"
        case .or(let a, let b): "(\(describe(a)) || \(describe(b)))"
        case .not(let inner): "!\(describe(inner))"
        case .compare(let a, let op, let b): "\(a) \(op.rawValue) \(b)"
        case .truth(let operand): "\(operand)"
        }
    }

    // MARK: Evaluation

    private func evaluate(_ spanset: Spanset, _ trace: [Span], _ context: TraceSummary) -> Set<Int> {
        switch spanset {
        case .filter(let condition):
            guard let condition else { return Set(trace.indices) }
            return Set(trace.indices.filter { holds(condition, trace[$0], context) })
        case .and(let a, let b):
            let left = evaluate(a, trace, context)
            guard !left.isEmpty else { return [] }
            let right = evaluate(b, trace, context)
            return right.isEmpty ? [] : left.union(right)
        case .or(let a, let b):
            return evaluate(a, trace, context).union(evaluate(b, trace, context))
        case .structural(let a, let relation, let mode, let b):
            let left = evaluate(a, trace, context)
            let right = evaluate(b, trace, context)
            guard !right.isEmpty else { return [] }
            let family = Family(trace)
            switch mode {
            case .related: return right.filter { family.has(relation, of: $0, among: left) }
            case .unrelated: return right.filter { !family.has(relation, of: $0, among: left) }
            case .union:
                let related = right.filter { family.has(relation, of: $0, among: left) }
                guard !related.isEmpty else { return [] }
                return related.union(left.filter { family.has(relation.inverse, of: $0, among: related) })
            }
        }
    }

    /// Who is whose parent in a trace, by index.
    private struct Family {
        let parent: [Int?]

        init(_ trace: [Span]) {
            var index: [SpanID: Int] = [:]
            for (position, span) in trace.enumerated() { index[span.spanID] = position }
            parent = trace.map { span in span.parentSpanID.flatMap { index[$0] } }
        }

        /// The parent, grandparent, … of span `i` (at most as many as there are spans, should the ids loop).
        func ancestors(of i: Int) -> [Int] {
            var out: [Int] = []
            var current = parent[i]
            while let up = current, out.count < parent.count {
                out.append(up)
                current = parent[up]
            }
            return out
        }

        /// Whether span `b` stands in `relation` to one of the spans `among`.
        func has(_ relation: Relation, of b: Int, among: Set<Int>) -> Bool {
            switch relation {
            case .child: parent[b].map(among.contains) ?? false
            case .descendant: ancestors(of: b).contains(where: among.contains)
            case .parent: among.contains { parent[$0] == b }
            case .ancestor: among.contains { ancestors(of: $0).contains(b) }
            case .sibling: parent[b].map { mine in among.contains { $0 != b && parent[$0] == mine } } ?? false
            }
        }
    }

    /// Whether a pipeline stage holds for the selected spans.
    private func holds(_ stage: Stage, _ spans: [Span], _ context: TraceSummary) -> Bool {
        switch stage {
        case .count(let comparison, let value):
            return Self.holds(Double(spans.count), comparison, value.number ?? .nan)
        case .aggregate(let aggregate, let field, let comparison, let value):
            let numbers = spans.compactMap { Self.value(of: field, in: $0, context: context)?.number }
            guard !numbers.isEmpty else { return false }
            let result: Double
            switch aggregate {
            case .avg: result = numbers.reduce(0, +) / Double(numbers.count)
            case .min: result = numbers.min() ?? .nan
            case .max: result = numbers.max() ?? .nan
            case .sum: result = numbers.reduce(0, +)
            }
            return Self.holds(result, comparison, value.number ?? .nan)
        case .select:
            return true
        }
    }

    func holds(_ condition: Condition, _ span: Span, _ context: TraceSummary) -> Bool {
        switch condition {
        case .and(let a, let b): return holds(a, span, context) && holds(b, span, context)
        case .or(let a, let b): return holds(a, span, context) || holds(b, span, context)
        case .not(let inner): return !holds(inner, span, context)
        case .truth(let operand): return value(operand, span, context) == .bool(true)
        case .compare(let left, let comparison, let right):
            let a = value(left, span, context)
            let b = value(right, span, context)
            // `= nil` asks for absence, `!= nil` for presence; otherwise a missing field compares false.
            if case .value(.null) = right { return comparison == .equal ? a == nil : comparison == .notEqual && a != nil }
            if case .value(.null) = left { return comparison == .equal ? b == nil : comparison == .notEqual && b != nil }
            // An event field holds when any of the span's events satisfies the comparison, as in Tempo.
            if span.events.count > 1, left.field?.isEventField == true || right.field?.isEventField == true {
                return span.events.contains { event in
                    guard let x = Self.value(left, of: event, or: a), let y = Self.value(right, of: event, or: b) else { return false }
                    return compare(x, comparison, y)
                }
            }
            guard let a, let b else { return false }
            return compare(a, comparison, b)
        }
    }

    /// An operand's value for one event: an event field's in that event, any other operand's as already read.
    private static func value(_ operand: Operand, of event: Span.Event, or other: Value?) -> Value? {
        switch operand.field {
        case .event(let key)?: attribute(key, in: event.attributes)
        case .eventName?: .string(event.name)
        default: other
        }
    }

    private func compare(_ a: Value, _ comparison: Comparison, _ b: Value) -> Bool {
        switch comparison {
        case .regex, .notRegex:
            guard case .string(let text) = a, case .string(let pattern) = b, let regex = regexes[pattern] else { return false }
            return regex.matches(text) == (comparison == .regex)
        default:
            break
        }
        if let x = a.number, let y = b.number { return Self.holds(x, comparison, y) }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            switch comparison {
            case .equal: return x == y
            case .notEqual: return x != y
            case .less: return x < y
            case .lessOrEqual: return x <= y
            case .greater: return x > y
            case .greaterOrEqual: return x >= y
            case .regex, .notRegex: return false
            }
        case (.bool, .bool), (.status, .status), (.kind, .kind):
            switch comparison {
            case .equal: return a == b
            case .notEqual: return a != b
            default: return false
            }
        default:
            return false
        }
    }

    private static func holds(_ x: Double, _ comparison: Comparison, _ y: Double) -> Bool {
        switch comparison {
        case .equal: x == y
        case .notEqual: x != y
        case .less: x < y
        case .lessOrEqual: x <= y
        case .greater: x > y
        case .greaterOrEqual: x >= y
        case .regex, .notRegex: false
        }
    }

    private func value(_ operand: Operand, _ span: Span, _ context: TraceSummary) -> Value? {
        switch operand {
        case .value(let value): return value
        case .field(let field): return Self.value(of: field, in: span, context: context)
        }
    }

    /// A field's value in `span`; the trace-level ones need the trace's `context` (nil without one).
    static func value(of field: Field, in span: Span, context: TraceSummary?) -> Value? {
        switch field {
        case .span(let key): return Self.attribute(key, in: span.attributes)
        case .resource(let key): return Self.attribute(key, in: span.resource)
        case .either(let key): return Self.attribute(key, in: span.attributes) ?? Self.attribute(key, in: span.resource)
        case .name: return .string(span.name)
        case .status: return .status(span.statusCode)
        case .statusMessage: return .string(span.statusMessage)
        case .kind: return .kind(span.kind)
        case .duration: return .duration(Int64(clamping: span.durationNano))
        case .spanID: return .string(span.spanID.description)
        case .rootName: return context.map { .string($0.rootName) }
        case .rootServiceName: return context.map { .string($0.rootService) }
        case .traceDuration: return context.map { .duration(Int64(clamping: $0.durationNano)) }
        case .traceID: return .string(span.traceID.description)
        case .nestedSetParent: return .int(context?.nestedSets[span.spanID]?.parent ?? (span.isRoot ? -1 : 0))
        case .nestedSetLeft: return .int(context?.nestedSets[span.spanID]?.left ?? 0)
        case .nestedSetRight: return .int(context?.nestedSets[span.spanID]?.right ?? 0)
        case .event(let key):
            for event in span.events {
                if let value = Self.attribute(key, in: event.attributes) { return value }
            }
            return nil
        case .eventName: return span.events.first.map { .string($0.name) }
        }
    }

    private static func attribute(_ key: String, in attributes: [Attribute]) -> Value? {
        for attribute in attributes where attribute.key == key {
            switch attribute.value {
            case .string(let text): return .string(text)
            case .int(let number): return .int(number)
            case .double(let number): return .float(number)
            case .bool(let flag): return .bool(flag)
            default: return nil
            }
        }
        return nil
    }
}

extension TraceQLQuery.Condition {
    var leftOperand: TraceQLQuery.Operand? {
        if case .compare(let left, _, _) = self { return left }
        return nil
    }
}

extension TraceQLQuery.Field {
    /// Whether the field is among a span's details (``TraceQuery/spanDetails``): its attributes, events and status
    /// message. `.x` reads the resource too, but the span's attributes first.
    var readsDetails: Bool {
        switch self {
        case .span, .either, .event, .eventName, .statusMessage: true
        default: false
        }
    }

    /// Whether the field reads one of the span's events.
    var isEventField: Bool {
        switch self {
        case .event, .eventName: true
        default: false
        }
    }

    /// Whether the field's value depends on the rest of the span's trace.
    var readsTrace: Bool {
        switch self {
        case .rootName, .rootServiceName, .traceDuration, .nestedSetParent, .nestedSetLeft, .nestedSetRight: true
        default: false
        }
    }
}

extension TraceQLQuery.Relation {
    /// The relation seen from the other side: a child's parent, a descendant's ancestor, a sibling's sibling.
    var inverse: Self {
        switch self {
        case .child: .parent
        case .parent: .child
        case .descendant: .ancestor
        case .ancestor: .descendant
        case .sibling: .sibling
        }
    }
}

extension TraceQLQuery.Comparison {
    /// The comparison with its operands swapped (`5 < x` is `x > 5`).
    var mirrored: Self {
        switch self {
        case .less: .greater
        case .lessOrEqual: .greaterOrEqual
        case .greater: .less
        case .greaterOrEqual: .lessOrEqual
        default: self
        }
    }
}

extension TraceQLQuery.Value {
    /// Integers, floats and durations (in nanoseconds) compare as numbers.
    var number: Double? {
        switch self {
        case .int(let n): Double(n)
        case .float(let x): x
        case .duration(let ns): Double(ns)
        default: nil
        }
    }

    /// The value as a tag search compares it (``AttributeValue/text``), for the store's prefilter.
    var tagText: String? {
        switch self {
        case .string(let text): text
        case .int(let n): String(n)
        case .bool(let flag): flag ? "true" : "false"
        default: nil
        }
    }
}
