import SightlineCore

extension PromQLEvaluator {
    /// A binary operation at `t`: scalar–scalar, vector–scalar, or vector–vector with matching.
    func evalBinary(_ binary: BinaryExpr, at t: Int64) throws(PromQLError) -> EvalValue {
        let lhs = try eval(binary.lhs, at: t)
        let rhs = try eval(binary.rhs, at: t)
        switch (lhs, rhs) {
        case (.scalar(let l), .scalar(let r)):
            return .scalar(Self.scalarBinop(binary.op, l, r))
        case (.vector(let l), .scalar(let r)):
            return .vector(vectorScalar(binary.op, l, r, swap: false, returnBool: binary.returnBool, at: t))
        case (.scalar(let l), .vector(let r)):
            return .vector(vectorScalar(binary.op, r, l, swap: true, returnBool: binary.returnBool, at: t))
        case (.vector(let l), .vector(let r)):
            let matching = binary.matching ?? VectorMatching(cardinality: binary.op.isSetOperator ? .manyToMany : .oneToOne)
            let result: [Sample]
            switch binary.op {
            case .and: result = vectorAnd(l, r, matching)
            case .or: result = vectorOr(l, r, matching)
            case .unless: result = vectorUnless(l, r, matching)
            default: result = try vectorBinop(binary.op, l, r, matching, returnBool: binary.returnBool, at: t)
            }
            if inRange { try checkDuplicates(result) }
            return .vector(result)
        default:
            throw PromQLError(.internal, "unsupported operand types for \(binary.op.rawValue)")
        }
    }

    // MARK: - Element operations

    static func arithmetic(_ op: BinaryOperator) -> BinaryArithmetic.Operator? {
        switch op {
        case .add: .add
        case .sub: .subtract
        case .mul: .multiply
        case .div: .divide
        case .mod: .modulo
        case .pow: .power
        case .atan2: .atan2
        default: nil
        }
    }

    static func comparison(_ op: BinaryOperator) -> BinaryArithmetic.Comparison? {
        switch op {
        case .eql: .equal
        case .neq: .notEqual
        case .gtr: .greater
        case .lss: .less
        case .gte: .greaterOrEqual
        case .lte: .lessOrEqual
        default: nil
        }
    }

    /// Prometheus' `scalarBinop`: arithmetic, or 1/0 for comparisons.
    static func scalarBinop(_ op: BinaryOperator, _ l: Double, _ r: Double) -> Double {
        if let arithmetic = arithmetic(op) { return BinaryArithmetic.apply(arithmetic, l, r) }
        if let comparison = comparison(op) { return BinaryArithmetic.compareScalars(comparison, l, r) }
        return l
    }

    /// Prometheus' `vectorElemBinop` for floats: the value and whether the element is kept.
    static func elementBinop(_ op: BinaryOperator, _ l: Double, _ r: Double) -> (value: Double, keep: Bool) {
        if let arithmetic = arithmetic(op) { return (BinaryArithmetic.apply(arithmetic, l, r), true) }
        if let comparison = comparison(op) { return (l, BinaryArithmetic.holds(comparison, l, r)) }
        // The trim operators only change native histograms; floats pass unchanged.
        return (l, true)
    }

    // MARK: - Vector and scalar

    func vectorScalar(_ op: BinaryOperator, _ vector: [Sample], _ scalar: Double, swap: Bool, returnBool: Bool, at t: Int64) -> [Sample] {
        var out: [Sample] = []
        out.reserveCapacity(vector.count)
        let changesSchema = Self.arithmetic(op) != nil
        for sample in vector {
            let (l, r) = swap ? (scalar, sample.v) : (sample.v, scalar)
            var (value, keep) = Self.elementBinop(op, l, r)
            if Self.comparison(op) != nil && swap { value = sample.v }
            if returnBool {
                value = keep ? 1 : 0
                keep = true
            }
            guard keep else { continue }
            out.append(Sample(metric: sample.metric, t: t, v: value, dropName: sample.dropName || changesSchema || returnBool))
        }
        return out
    }

    // MARK: - Vector matching

    /// The match signature of `labels`: the `on` labels, or all but the `ignoring` labels and the metric name.
    static func signature(_ labels: Labels, _ matching: VectorMatching) -> Labels {
        if matching.on { return labels.keeping(Set(matching.matchingLabels)) }
        return labels.removing(Set(matching.matchingLabels).union([Labels.metricName]))
    }

    /// ``signature(_:_:)``, memoized per query.
    func matchSignature(_ labels: Labels, _ matching: VectorMatching) -> Labels {
        labelMemo(.signature(on: matching.on, names: matching.matchingLabels)).derive(labels) { Self.signature($0, matching) }
    }

    func vectorAnd(_ lhs: [Sample], _ rhs: [Sample], _ matching: VectorMatching) -> [Sample] {
        if lhs.isEmpty || rhs.isEmpty { return [] }
        let right = Set(rhs.map { matchSignature($0.metric, matching) })
        return lhs.filter { right.contains(matchSignature($0.metric, matching)) }
    }

    func vectorOr(_ lhs: [Sample], _ rhs: [Sample], _ matching: VectorMatching) -> [Sample] {
        if lhs.isEmpty { return rhs }
        if rhs.isEmpty { return lhs }
        let left = Set(lhs.map { matchSignature($0.metric, matching) })
        return lhs + rhs.filter { !left.contains(matchSignature($0.metric, matching)) }
    }

    func vectorUnless(_ lhs: [Sample], _ rhs: [Sample], _ matching: VectorMatching) -> [Sample] {
        if lhs.isEmpty || rhs.isEmpty { return lhs }
        let right = Set(rhs.map { matchSignature($0.metric, matching) })
        return lhs.filter { !right.contains(matchSignature($0.metric, matching)) }
    }

    /// Prometheus' `VectorBinop`: one-to-one, many-to-one and one-to-many matching with its errors.
    func vectorBinop(
        _ op: BinaryOperator, _ lhsIn: [Sample], _ rhsIn: [Sample], _ matching: VectorMatching, returnBool: Bool, at t: Int64
    ) throws(PromQLError) -> [Sample] {
        let fillLeft = matching.fillLeft
        let fillRight = matching.fillRight
        if lhsIn.isEmpty && rhsIn.isEmpty { return [] }
        if (lhsIn.isEmpty || rhsIn.isEmpty) && fillLeft == nil && fillRight == nil { return [] }
        let swapped = matching.cardinality == .oneToMany
        let lhs = swapped ? rhsIn : lhsIn
        let rhs = swapped ? lhsIn : rhsIn
        // Prometheus keeps the fill values on their sides when it swaps the operands for group_right: fill_right
        // stands in for a missing "one" series and fill_left for a missing "many" series (fill-modifier.test).
        let (fillForRight, fillForLeft) = (fillRight, fillLeft)

        var rightBySignature: [Labels: Sample] = [:]
        for sample in rhs {
            let signature = matchSignature(sample.metric, matching)
            if let duplicate = rightBySignature[signature] {
                let side = swapped ? "left" : "right"
                let matched = matching.on
                    ? sample.metric.keeping(Set(matching.matchingLabels))
                    : sample.metric.removing(Set(matching.matchingLabels).union([Labels.metricName]))
                var first = sample.metric.promString
                var second = duplicate.metric.promString
                if first > second { swap(&first, &second) }
                throw PromQLError(
                    .execution,
                    "found duplicate series for the match group \(matched.promString) on the \(side) hand-side of the operation: "
                        + "[\(first), \(second)];many-to-many matching not allowed: matching labels must be unique on one side")
            }
            rightBySignature[signature] = sample
        }

        var out: [Sample] = []
        var matchedOneToOne = Set<Labels>()
        var matchedGroups: [Labels: Set<Labels>] = [:]
        let changesSchema = Self.arithmetic(op) != nil
        let resultMemo = matching.include.isEmpty
            ? labelMemo(
                .resultMetric(
                    changesSchema: changesSchema, oneToOne: matching.cardinality == .oneToOne, on: matching.on,
                    names: matching.matchingLabels))
            : nil

        func apply(_ ls: Sample, _ rs: Sample, _ signature: Labels) throws(PromQLError) {
            let (fl, fr) = swapped ? (rs.v, ls.v) : (ls.v, rs.v)
            var (value, keep) = Self.elementBinop(op, fl, fr)
            if returnBool {
                value = keep ? 1 : 0
            }
            let metric =
                if let resultMemo {
                    resultMemo.derive(ls.metric) { resultMetric($0, rs.metric, changesSchema: changesSchema, matching) }
                } else {
                    resultMetric(ls.metric, rs.metric, changesSchema: changesSchema, matching)
                }
            if matching.cardinality == .oneToOne {
                if !matchedOneToOne.insert(signature).inserted {
                    throw PromQLError(
                        .execution, "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
                }
            } else {
                if !matchedGroups[signature, default: []].insert(metric).inserted {
                    throw PromQLError(.execution, "multiple matches for labels: grouping labels must ensure unique matches")
                }
            }
            if !keep && !returnBool { return }
            out.append(Sample(metric: metric, t: t, v: value, dropName: returnBool))
        }

        for ls in lhs {
            let signature = matchSignature(ls.metric, matching)
            if let rs = rightBySignature[signature] {
                try apply(ls, rs, signature)
            } else if let fill = fillForRight {
                try apply(ls, Sample(metric: signatureLabels(ls.metric, matching), t: t, v: fill), signature)
            }
        }
        if let fill = fillForLeft {
            for rs in rhs {
                let signature = matchSignature(rs.metric, matching)
                let alreadyMatched =
                    matching.cardinality == .oneToOne ? matchedOneToOne.contains(signature) : !(matchedGroups[signature]?.isEmpty ?? true)
                if alreadyMatched { continue }
                try apply(Sample(metric: signatureLabels(rs.metric, matching), t: t, v: fill), rs, signature)
            }
        }
        return out
    }

    private func signatureLabels(_ labels: Labels, _ matching: VectorMatching) -> Labels {
        matching.on
            ? labels.keeping(Set(matching.matchingLabels))
            : labels.removing(Set(matching.matchingLabels).union([Labels.metricName]))
    }

    /// Prometheus' `resultMetric`: the left labels, without the name for arithmetic, reduced to the `on` labels (or
    /// without the `ignoring` labels) for one-to-one matching, plus the `group_x` labels copied from the other side.
    func resultMetric(_ lhs: Labels, _ rhs: Labels, changesSchema: Bool, _ matching: VectorMatching) -> Labels {
        var metric = changesSchema ? lhs.withoutMetricName : lhs
        if matching.cardinality == .oneToOne {
            metric = matching.on ? metric.keeping(Set(matching.matchingLabels)) : metric.removing(Set(matching.matchingLabels))
        }
        for name in matching.include {
            metric = metric.setting(name, rhs[name] ?? "")
        }
        return metric
    }
}
