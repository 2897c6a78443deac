import SightlineCore

/// Canonical PromQL text, as Prometheus' `String()` methods print it (what `/api/v1/format_query` returns):
/// `sum by (job) (rate(http_requests_total{code=~"5.."}[5m] offset 1m))`.
extension Expr: CustomStringConvertible {
    /// Canonical PromQL text.
    package var description: String {
        switch self {
        case .number(let value, let isDuration): return Self.numberText(value, isDuration: isDuration)
        case .string(let value): return GoText.quote(value)
        case .vectorSelector(let selector): return selector.description
        case .matrixSelector(let matrix): return matrix.description
        case .subquery(let subquery): return subquery.description
        case .paren(let inner): return "(\(inner))"
        case .unary(let op, let inner): return op.rawValue + inner.description
        case .binary(let binary): return binary.description
        case .aggregate(let aggregate): return aggregate.description
        case .call(let call): return "\(call.function.name)(\(call.args.map(\.description).joined(separator: ", ")))"
        }
    }

    /// A number as Prometheus prints a `NumberLiteral`: `5m` when written as a duration, otherwise the shortest decimal.
    static func numberText(_ value: Double, isDuration: Bool) -> String {
        guard isDuration, value.isFinite else { return GoText.formatFloat(value) }
        return PrometheusDuration.format(milliseconds: ExpressionParser.milliseconds(value))
    }

    /// A grouping list: plain names as they are, others quoted.
    static func labelList(_ labels: [String]) -> String {
        labels.map { isLegacyLabelName($0) ? $0 : GoText.quote($0) }.joined(separator: ", ")
    }

    static func isLegacyLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }

    static func atText(_ at: AtModifier?) -> String {
        switch at {
        case nil: ""
        case .timestamp(let milliseconds): " @ " + GoText.formatFixed(Double(milliseconds) / 1000, decimals: 3)
        case .start: " @ start()"
        case .end: " @ end()"
        }
    }

    static func offsetText(_ offset: Int64, _ expression: DurationExpr?) -> String {
        if let expression { return " offset \(expression)" }
        if offset > 0 { return " offset " + PrometheusDuration.format(milliseconds: offset) }
        if offset < 0 { return " offset -" + PrometheusDuration.format(milliseconds: -offset) }
        return ""
    }
}

extension VectorSelector: CustomStringConvertible {
    /// Canonical PromQL text.
    package var description: String { body + Expr.atText(at) + extendedText + Expr.offsetText(offset, offsetExpr) }

    /// The name and matchers, without modifiers. Matchers print sorted; the one for the outer name is left out.
    var body: String {
        let outerName = name ?? ""
        let texts = matchers.filter { !($0.name == Labels.metricName && $0.kind == .equal && $0.value == outerName && !$0.value.isEmpty) }
            .map(Self.matcherText)
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return outerName + (texts.isEmpty ? "" : "{" + texts.joined(separator: ",") + "}")
    }

    var extendedText: String { anchored ? " anchored" : smoothed ? " smoothed" : "" }

    private static func matcherText(_ matcher: LabelMatcher) -> String {
        let name = Expr.isLegacyLabelName(matcher.name) ? matcher.name : GoText.quote(matcher.name)
        return name + matcher.kind.rawValue + GoText.quote(matcher.value)
    }
}

extension MatrixSelector: CustomStringConvertible {
    /// Canonical PromQL text.
    package var description: String {
        let rangeText = rangeExpr?.description ?? PrometheusDuration.format(milliseconds: range)
        return "\(selector.body)[\(rangeText)]\(selector.extendedText)\(Expr.atText(selector.at))\(Expr.offsetText(selector.offset, selector.offsetExpr))"
    }
}

extension SubqueryExpr: CustomStringConvertible {
    /// Canonical PromQL text.
    package var description: String {
        let rangeText = rangeExpr?.description ?? PrometheusDuration.format(milliseconds: range)
        let stepText = step != 0 ? PrometheusDuration.format(milliseconds: step) : stepExpr?.description ?? ""
        return "\(expr)[\(rangeText):\(stepText)]\(Expr.atText(at))\(Expr.offsetText(offset, offsetExpr))"
    }
}

extension BinaryExpr: CustomStringConvertible {
    /// Canonical PromQL text.
    package var description: String {
        var text = "\(lhs) \(op.rawValue)"
        if returnBool { text += " bool" }
        if let matching {
            let grouped = matching.cardinality == .manyToOne || matching.cardinality == .oneToMany
            if !matching.matchingLabels.isEmpty || matching.on || grouped {
                text += (matching.on ? " on (" : " ignoring (") + Expr.labelList(matching.matchingLabels) + ")"
            }
            if grouped {
                text += (matching.cardinality == .manyToOne ? " group_left (" : " group_right (") + Expr.labelList(matching.include) + ")"
            }
            if let left = matching.fillLeft, let right = matching.fillRight, left == right {
                text += " fill (\(GoText.formatFloat(left)))"
            } else {
                if let left = matching.fillLeft { text += " fill_left (\(GoText.formatFloat(left)))" }
                if let right = matching.fillRight { text += " fill_right (\(GoText.formatFloat(right)))" }
            }
        }
        return text + " \(rhs)"
    }
}

extension AggregateExpr: CustomStringConvertible {
    /// Canonical PromQL text.
    package var description: String {
        var text = op.rawValue
        if without {
            text += " without (\(Expr.labelList(grouping))) "
        } else if !grouping.isEmpty {
            text += " by (\(Expr.labelList(grouping))) "
        }
        text += "("
        if let param { text += "\(param), " }
        return text + "\(expr))"
    }
}

extension DurationExpr: CustomStringConvertible {
    /// Canonical PromQL text.
    package var description: String {
        switch self {
        case .number(let value, let isDuration): Expr.numberText(value, isDuration: isDuration)
        case .step: "step()"
        case .range: "range()"
        case .minOf(let a, let b): "min_of(\(a), \(b))"
        case .maxOf(let a, let b): "max_of(\(a), \(b))"
        case .negate(let inner): "-\(inner)"
        case .binary(let op, let a, let b): "\(a) \(op.rawValue) \(b)"
        case .paren(let inner): "(\(inner))"
        }
    }
}
