import SightlineCore

/// Prometheus' experimental `info(v, {selector})`: each series of `v` gains the data labels of the info series
/// (`target_info` unless the selector names others with `__name__`) that share its identifying labels `instance` and
/// `job`.
///
/// At each step the info series are read as an instant selector would read them, at the time the first selector of `v`
/// reads (its `@` and offset, and those of the subqueries around it); when two info series of one metric share the
/// identifying labels, the one with the newer sample wins. Labels the series has already are kept; the selector's other
/// matchers pick which info series count and which of their labels are copied. A series no info series matches is
/// dropped when a matcher rejects the empty value, and kept unchanged otherwise. Series that are info series
/// themselves are not enriched.
extension PromQLEvaluator {
    static let identifyingLabels = ["instance", "job"]

    func evalInfo(_ args: [Expr], at t: Int64) throws(PromQLError) -> [Sample] {
        let base = try evalVector(args[0], at: t)
        var nameMatchers: [LabelMatcher] = []
        var dataMatchers: [LabelMatcher] = []
        if args.count > 1, case .vectorSelector(let selector) = args[1].unparenthesized {
            for matcher in selector.matchers {
                if matcher.name == Labels.metricName { nameMatchers.append(matcher) } else { dataMatchers.append(matcher) }
            }
        }
        let infoNames = try Self.effectiveInfoNameMatchers(nameMatchers)
        let isInfoSeries = { (sample: Sample) in infoNames.allSatisfy { $0.matches(sample.metric.metricName) } }

        // The identifying values among the series to enrich: an info series must have one of them for each.
        var wanted: [String: Set<String>] = [:]
        for sample in base where !isInfoSeries(sample) {
            for name in Self.identifyingLabels {
                if let value = sample.metric[name], !value.isEmpty { wanted[name, default: []].insert(value) }
            }
        }
        var infoBySignature: [InfoSignature: (labels: Labels, time: Int64)] = [:]
        var infoMetricNames: [String] = []
        if !wanted.isEmpty {
            let (pinned, offset) = try infoReference(args[0])
            let ref = (pinned ?? t) - offset
            for series in try series(for: dataMatchers + infoNames) {
                guard wanted.allSatisfy({ name, values in values.contains(series.labels[name] ?? "") }),
                    let index = series.instantIndex(at: ref, lookback: options.lookbackDeltaMs)
                else { continue }
                let time = series.timestamps[index]
                let signature = InfoSignature(series.labels.metricName, series.labels)
                if let existing = infoBySignature[signature] {
                    if existing.time > time { continue }
                    if existing.time == time {
                        throw PromQLError(
                            .execution,
                            "found duplicate series for info metric: existing \(existing.labels.promString) @ \(existing.time), new \(series.labels.promString) @ \(time)")
                    }
                } else if !infoMetricNames.contains(signature.name) {
                    infoMetricNames.append(signature.name)
                }
                infoBySignature[signature] = (series.labels, time)
            }
        }
        try account(infoBySignature.count)

        let dataNames = Set(dataMatchers.map(\.name))
        let droppedWithoutInfo = dataMatchers.contains { !$0.matches("") }
        var out: [Sample] = []
        out.reserveCapacity(base.count)
        for sample in base {
            if isInfoSeries(sample) {
                out.append(sample)
                continue
            }
            var added: [String: String] = [:]
            var matched = false
            for name in infoMetricNames {
                guard let info = infoBySignature[InfoSignature(name, sample.metric)] else { continue }
                matched = true
                for label in info.labels.labels where label.name != Labels.metricName {
                    if !dataNames.isEmpty && !dataNames.contains(label.name) { continue }
                    if let value = added[label.name], value != label.value { throw PromQLError(.execution, "conflicting label: \(label.name)") }
                    if sample.metric[label.name] != nil { continue }
                    added[label.name] = label.value
                }
            }
            if !matched && droppedWithoutInfo { continue }
            var enriched = sample
            if !added.isEmpty { enriched.metric = Labels(sample.metric.labels + added.map { Label($0.key, $0.value) }) }
            out.append(enriched)
        }
        return out
    }

    /// The `__name__` matchers info series are selected by: the given ones when one of them is positive, `.+_info`
    /// with them when all are negative, `target_info` when there are none.
    static func effectiveInfoNameMatchers(_ matchers: [LabelMatcher]) throws(PromQLError) -> [LabelMatcher] {
        do {
            if matchers.contains(where: { $0.kind == .equal || $0.kind == .regexMatch }) { return matchers }
            if !matchers.isEmpty { return [try LabelMatcher(Labels.metricName, .regexMatch, ".+_info")] + matchers }
            return [try LabelMatcher(Labels.metricName, .equal, "target_info")]
        } catch {
            throw PromQLError(.internal, "\(error)")
        }
    }

    /// The `@` time and offset at which the first selector of `expr` reads: its own, plus the offsets of the
    /// subqueries around it up to the innermost one with an `@`.
    func infoReference(_ expr: Expr) throws(PromQLError) -> (pinned: Int64?, offset: Int64) {
        var enclosing: [SubqueryExpr] = []
        func firstSelector(_ expr: Expr) -> VectorSelector? {
            switch expr {
            case .number, .string: return nil
            case .vectorSelector(let selector): return selector
            case .matrixSelector(let matrix): return matrix.selector
            case .subquery(let subquery):
                enclosing.append(subquery)
                if let found = firstSelector(subquery.expr) { return found }
                enclosing.removeLast()
                return nil
            case .paren(let inner), .unary(_, let inner): return firstSelector(inner)
            case .binary(let binary): return firstSelector(binary.lhs) ?? firstSelector(binary.rhs)
            case .aggregate(let aggregate): return firstSelector(aggregate.expr) ?? aggregate.param.flatMap(firstSelector)
            case .call(let call):
                for argument in call.args { if let found = firstSelector(argument) { return found } }
                return nil
            }
        }
        guard let selector = firstSelector(expr) else { return (nil, 0) }
        var pinned = pinnedTime(selector.at)
        var offset = try milliseconds(selector.offset, selector.offsetExpr, allowNegative: true)
        for subquery in enclosing.reversed() where pinned == nil {
            offset += try milliseconds(subquery.offset, subquery.offsetExpr, allowNegative: true)
            pinned = pinnedTime(subquery.at)
        }
        return (pinned, offset)
    }
}

/// An info series' key for matching: its metric name and the identifying labels a series has.
private struct InfoSignature: Hashable {
    var name: String
    var instance: String?
    var job: String?

    init(_ name: String, _ labels: Labels) {
        self.name = name
        instance = labels["instance"]
        job = labels["job"]
    }
}
