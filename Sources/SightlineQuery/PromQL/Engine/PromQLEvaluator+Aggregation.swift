import SightlineCore

extension PromQLEvaluator {
    /// The output labels of a group: the `by` labels, or all but the `without` labels and the metric name.
    static func groupLabels(_ metric: Labels, _ aggregate: AggregateExpr) -> Labels {
        if aggregate.without {
            return metric.removing(Set(aggregate.grouping).union([Labels.metricName]))
        }
        return aggregate.grouping.isEmpty ? Labels([]) : metric.keeping(Set(aggregate.grouping))
    }

    /// An aggregation at `t`.
    func evalAggregate(_ aggregate: AggregateExpr, at t: Int64) throws(PromQLError) -> [Sample] {
        var parameter = 0.0
        var label = ""
        if let param = aggregate.param {
            if aggregate.op == .countValues {
                label = stringArgument(param)
            } else {
                parameter = try evalScalar(param, at: t)
            }
        }
        if aggregate.op == .countValues && !LabelName.isValid(label) {
            throw PromQLError(.execution, "invalid label name \(LabelName.goQuoted(label))")
        }
        let input = try evalVector(aggregate.expr, at: t)

        switch aggregate.op {
        case .countValues:
            let grouping = aggregate.without ? aggregate.grouping : aggregate.grouping + [label]
            let projection = AggregateExpr(op: .countValues, expr: aggregate.expr, grouping: grouping, without: aggregate.without)
            do {
                let counted = try Aggregation.countValues(input, label: label, t: t) { Self.groupLabels($0, projection) }
                if inRange { try checkDuplicates(counted) }
                return counted
            } catch let error as SightlineError {
                throw PromQLError(.execution, error.message)
            } catch {
                throw PromQLError(.execution, "\(error)")
            }
        case .topk, .bottomk, .limitk, .limitRatio:
            return try selectingAggregate(aggregate, parameter, input)
        default:
            break
        }

        if aggregate.op == .quantile && (parameter.isNaN || parameter < 0 || parameter > 1) {
            warn("quantile value should be between 0 and 1, got \(PromQLFloat.formatG(parameter))")
        }

        let (order, groups) = group(input, by: aggregate)
        var out: [Sample] = []
        out.reserveCapacity(order.count)
        for (slot, key) in order.enumerated() {
            let members = groups[slot]
            let values = members.map(\.v)
            let value: Double?
            switch aggregate.op {
            case .sum:
                var sum = Aggregation.Sum()
                for v in values { sum.add(v) }
                value = sum.result
            case .avg:
                var average = Aggregation.Average()
                for v in values { average.add(v) }
                value = average.result
            case .min, .max:
                var extreme = Aggregation.Extreme(isMax: aggregate.op == .max)
                for v in values { extreme.add(v) }
                value = extreme.result
            case .count:
                value = Aggregation.count(values.count)
            case .group:
                value = Aggregation.group(values.count)
            case .stddev, .stdvar:
                var variance = Aggregation.Variance()
                for v in values { variance.add(v) }
                value = aggregate.op == .stddev ? variance.standardDeviation : variance.variance
            case .quantile:
                value = Aggregation.quantile(parameter, of: values)
            default:
                value = nil
            }
            guard let value else { continue }
            let dropName = members.contains { $0.dropName }
            out.append(Sample(metric: key, t: t, v: value, dropName: dropName))
        }
        return out
    }

    /// `topk`, `bottomk`, `limitk` and `limit_ratio`: per group, a selection of the input samples.
    private func selectingAggregate(_ aggregate: AggregateExpr, _ parameter: Double, _ input: [Sample]) throws(PromQLError) -> [Sample] {
        switch aggregate.op {
        case .limitRatio:
            if parameter == 0 { return [] }
            if parameter.isNaN { throw PromQLError(.execution, "Ratio value is NaN") }
            if parameter > 1 || parameter < -1 {
                let capped = parameter > 1 ? 1.0 : -1.0
                warn(
                    "ratio value should be between -1 and 1, got \(PromQLFloat.formatG(parameter)), capping to \(PromQLFloat.formatG(capped))")
            }
        default:
            if parameter < 1 { return [] }
            do {
                try Aggregation.validateK(parameter)
            } catch {
                throw PromQLError(.execution, error.message)
            }
        }
        let (_, groups) = group(input, by: aggregate)
        var out: [Sample] = []
        for members in groups {
            switch aggregate.op {
            case .topk: out += Aggregation.topK(parameter, members)
            case .bottomk: out += Aggregation.bottomK(parameter, members)
            case .limitk: out += Aggregation.limitK(parameter, members)
            default: out += Aggregation.limitRatio(parameter, members)
            }
        }
        return out
    }

    /// The samples of `input` by their group labels under `aggregate`'s `by`/`without`, groups in order of first
    /// appearance.
    private func group(_ input: [Sample], by aggregate: AggregateExpr) -> (keys: [Labels], groups: [[Sample]]) {
        let memo = labelMemo(.group(grouping: aggregate.grouping, without: aggregate.without))
        var slots: [Labels: Int] = [:]
        var order: [Labels] = []
        var groups: [[Sample]] = []
        for sample in input {
            let key = memo.derive(sample.metric) { Self.groupLabels($0, aggregate) }
            if let slot = slots[key] {
                groups[slot].append(sample)
            } else {
                slots[key] = order.count
                order.append(key)
                groups.append([sample])
            }
        }
        return (order, groups)
    }
}
