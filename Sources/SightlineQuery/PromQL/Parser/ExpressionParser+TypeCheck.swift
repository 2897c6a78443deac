import SightlineCore

/// The type check Prometheus runs after a successful parse (`checkAST`), in the same order, so that the first error
/// reported is the same one.
extension ExpressionParser {
    /// Checks `node` and its children; returns the node's type.
    func check(_ node: ParsedNode, bypassEmptyMatcherCheck: Bool = false) throws(PromQLParseError) -> ValueType {
        let type = node.expr.type
        switch node.expr {
        case .number, .string:
            break
        case .vectorSelector(let selector):
            try checkSelector(selector, at: node.start, bypassEmptyMatcherCheck: bypassEmptyMatcherCheck)
        case .matrixSelector(let matrix):
            try checkSelector(matrix.selector, at: node.start, bypassEmptyMatcherCheck: false)
        case .paren:
            for child in node.children { _ = try check(child) }
        case .unary:
            guard let operand = node.children.first else { break }
            let operandType = try check(operand)
            if operandType != .scalar && operandType != .vector {
                throw error(
                    at: node.start,
                    "unary expression only allowed on expressions of type scalar or instant vector, got \(GoText.quote(operandType.documentedName))")
            }
        case .subquery:
            guard let inner = node.children.first else { break }
            let innerType = try check(inner)
            if innerType != .vector { throw error(at: node.start, "subquery is only allowed on instant vector, got \(innerType) instead") }
        case .aggregate(let aggregate):
            try checkAggregate(aggregate, node)
        case .binary(let binary):
            try checkBinary(binary, node)
        case .call(let call):
            try checkCall(call, node)
        }
        return type
    }

    private func checkSelector(_ selector: VectorSelector, at start: Int, bypassEmptyMatcherCheck: Bool) throws(PromQLParseError) {
        if let name = selector.name {
            // The last matcher is the one for the name given outside the braces.
            for matcher in selector.matchers.dropLast() where matcher.name == "__name__" {
                throw error(at: start, "metric name must not be set twice: \(GoText.quote(name)) or \(GoText.quote(matcher.value))")
            }
            return
        }
        if !bypassEmptyMatcherCheck && !selector.matchers.contains(where: { !$0.matches("") }) {
            throw error(at: start, "vector selector must contain at least one non-empty matcher")
        }
    }

    private func expectType(_ node: ParsedNode, _ expected: ValueType, context: String) throws(PromQLParseError) {
        let actual = try check(node)
        if actual != expected {
            throw error(at: node.start, "expected type \(expected.documentedName) in \(context), got \(actual.documentedName)")
        }
    }

    private func checkAggregate(_ aggregate: AggregateExpr, _ node: ParsedNode) throws(PromQLParseError) {
        guard let exprNode = node.children.last else { return }
        try expectType(exprNode, .vector, context: "aggregation expression")
        if let parameterType = aggregate.op.parameterType, node.children.count == 2 {
            try expectType(node.children[0], parameterType, context: "aggregation parameter")
        }
    }

    private func checkBinary(_ binary: BinaryExpr, _ node: ParsedNode) throws(PromQLParseError) {
        guard node.children.count == 2, let info = node.binaryInfo else { return }
        let lhsType = try check(node.children[0])
        let rhsType = try check(node.children[1])
        let op = binary.op
        let operatorAt = info.operatorStart
        let matching = info.matching
        if binary.returnBool && !op.isComparison { throw error(at: operatorAt, "bool modifier can only be used on comparison operators") }
        if op.isComparison && !binary.returnBool && lhsType == .scalar && rhsType == .scalar {
            throw error(at: operatorAt, "comparisons between scalars must use BOOL modifier")
        }
        if matching.on {
            for label in matching.matchingLabels where matching.include.contains(label) {
                throw error(at: operatorAt, "label \(GoText.quote(label)) must not occur in ON and GROUP clause at once")
            }
        }
        if lhsType != .scalar && lhsType != .vector {
            throw error(at: node.children[0].start, "binary expression must contain only scalar and instant vector types")
        }
        if rhsType != .scalar && rhsType != .vector {
            throw error(at: node.children[1].start, "binary expression must contain only scalar and instant vector types")
        }
        let hasFill = matching.fillLeft != nil || matching.fillRight != nil
        if lhsType != .vector || rhsType != .vector {
            if !matching.matchingLabels.isEmpty { throw error(at: node.start, "vector matching only allowed between instant vectors") }
            if hasFill { throw error(at: node.start, "filling in missing series only allowed between instant vectors") }
        } else if op.isSetOperator {
            if matching.cardinality == .oneToMany || matching.cardinality == .manyToOne {
                throw error(at: node.start, "no grouping allowed for \(GoText.quote(op.rawValue)) operation")
            }
            if matching.cardinality != .manyToMany { throw error(at: node.start, "set operations must always be many-to-many") }
            if hasFill { throw error(at: node.start, "filling in missing series not allowed for set operators") }
        }
        if (lhsType == .scalar || rhsType == .scalar) && op.isSetOperator {
            throw error(at: node.start, "set operator \(GoText.quote(op.rawValue)) not allowed in binary scalar expression")
        }
    }

    private func checkCall(_ call: FunctionCall, _ node: ParsedNode) throws(PromQLParseError) {
        let function = call.function
        let name = GoText.quote(function.name)
        let count = node.children.count
        let declared = function.argumentTypes.count
        if function.variadic == 0 {
            if declared != count { throw error(at: node.start, "expected \(declared) argument(s) in call to \(name), got \(count)") }
        } else if declared - 1 > count {
            throw error(at: node.start, "expected at least \(declared - 1) argument(s) in call to \(name), got \(count)")
        } else if let maximum = function.maximumArguments, maximum < count {
            throw error(at: node.start, "expected at most \(maximum) argument(s) in call to \(name), got \(count)")
        }
        var bypassSecond = false
        if function.name == "info" && count > 1 {
            let labelsArgument = node.children[1]
            let argumentType = labelsArgument.expr.type
            if argumentType != .vector {
                throw error(at: node.start, "expected type instant vector in call to function \(name), got \(argumentType.documentedName)")
            }
            guard case .vectorSelector(let selector) = labelsArgument.expr else {
                throw error(at: labelsArgument.start, "expected label selectors only")
            }
            if selector.name != nil { throw error(at: labelsArgument.start, "expected label selectors only, got vector selector instead") }
            bypassSecond = true
        }
        for (index, argument) in node.children.enumerated() {
            guard let expected = function.argumentType(at: index) else { break }
            let actual = try check(argument, bypassEmptyMatcherCheck: bypassSecond && index == 1)
            if actual != expected {
                throw error(
                    at: argument.start, "expected type \(expected.documentedName) in call to function \(name), got \(actual.documentedName)")
            }
        }
    }
}
