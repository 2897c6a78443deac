import SightlineCore

/// The values of an instant-vector expression at every step of a range query, series-major: what the step-by-step
/// evaluation would yield at each step, computed in one pass per series.
///
/// A range query evaluates its expression at up to 11,000 steps. For the common dashboard shapes (a selector, a range
/// function of a range selector, an aggregation, arithmetic) the labels of every output series are known once the
/// series are selected, so they are derived, hashed and grouped once per query here, and each step only adds numbers
/// into flat arrays. Expressions outside these shapes keep the step-by-step evaluation; their supported sub-expressions
/// are served from a matrix built in advance (see ``PromQLEvaluator/stepMatrixVector(_:at:)``).
///
/// Built whole and never changed: its arrays are constants, so the loops over them need no exclusivity checks.
final class StepMatrix {
    /// The number of steps of the query.
    let steps: Int
    /// Per output series: its labels and Prometheus 3's delayed name-removal flag.
    let labels: [Labels]
    let dropName: [Bool]
    /// `values[series * steps + step]`, meaningful where `present` is true.
    let values: [Double]
    let present: [Bool]
    /// Per cell, the place at which the step-by-step evaluation's vector holds the series at that step, when that is
    /// not series order: for an aggregation, the index of the first input series of the group present at that step;
    /// for `topk`/`bottomk`, the cell's position in the step's vector (nil when the series order is that order).
    let firstMember: [Int32]?
    /// Per step, the samples the selectors under this expression held at that step (for the sample limit).
    let inputSamples: [Int]

    init(
        steps: Int, labels: [Labels], dropName: [Bool], values: [Double], present: [Bool], firstMember: [Int32]? = nil,
        inputSamples: [Int]
    ) {
        self.steps = steps
        self.labels = labels
        self.dropName = dropName
        self.values = values
        self.present = present
        self.firstMember = firstMember
        self.inputSamples = inputSamples
    }

    /// A matrix without series.
    convenience init(steps: Int, inputSamples: [Int]) {
        self.init(steps: steps, labels: [], dropName: [], values: [], present: [], inputSamples: inputSamples)
    }

    /// Whether at every step the present series come in index order in the step-by-step evaluation's vector (always,
    /// except for an aggregation whose groups appear in another order at some step).
    var isInSeriesOrder: Bool {
        guard let firstMember else { return true }
        for step in 0..<steps {
            var last: Int32 = -1
            for series in labels.indices where present[series * steps + step] {
                let first = firstMember[series * steps + step]
                if first < last { return false }
                last = first
            }
        }
        return true
    }

    /// The instant vector at `step`, as the step-by-step evaluation returns it at time `t`.
    func vector(at step: Int, t: Int64) -> [Sample] {
        var out: [Sample] = []
        if let firstMember {
            var order: [(first: Int32, series: Int)] = []
            for series in labels.indices where present[series * steps + step] {
                order.append((firstMember[series * steps + step], series))
            }
            order.sort { $0.first < $1.first }
            out.reserveCapacity(order.count)
            for (_, series) in order {
                out.append(Sample(metric: labels[series], t: t, v: values[series * steps + step], dropName: dropName[series]))
            }
            return out
        }
        for series in labels.indices where present[series * steps + step] {
            out.append(Sample(metric: labels[series], t: t, v: values[series * steps + step], dropName: dropName[series]))
        }
        return out
    }
}

extension PromQLEvaluator {
    /// The most cells (series × steps) one step matrix may hold; larger expressions are evaluated step by step, which
    /// holds one step at a time.
    static let maxStepMatrixCells = 16_000_000

    /// The range functions a step matrix computes (all whose kernel depends only on the window's points, its edges
    /// and the evaluation time).
    static let stepMatrixRangeFunctions: Set<String> = [
        "rate", "increase", "delta", "irate", "idelta", "deriv", "predict_linear", "resets", "changes", "avg_over_time",
        "sum_over_time", "count_over_time", "min_over_time", "max_over_time", "last_over_time", "first_over_time",
        "present_over_time", "stddev_over_time", "stdvar_over_time", "mad_over_time", "ts_of_min_over_time",
        "ts_of_max_over_time", "ts_of_first_over_time", "ts_of_last_over_time", "quantile_over_time",
    ]

    /// The number of steps of the range query.
    var stepCount: Int { stepMs > 0 ? Int((endMs - startMs) / stepMs) + 1 : 1 }

    /// The step index of `t` when `t` is one of the range query's own steps evaluated outside any subquery.
    func stepIndex(_ t: Int64) -> Int? {
        guard stepMs > 0, subqueryDepth == 0, t >= startMs, t <= endMs else { return nil }
        let offset = t - startMs
        guard offset % stepMs == 0 else { return nil }
        return Int(offset / stepMs)
    }

    // MARK: - Planning

    /// Builds the step matrices of `expr` for a range query: the matrix of the whole expression when it is supported
    /// (returned), else those of its largest supported sub-expressions (kept for ``stepMatrixVector(_:at:)``).
    func prepareStepMatrices(_ expr: Expr) throws(PromQLError) -> StepMatrix? {
        if Self.supportsStepMatrix(expr), let matrix = try stepMatrix(expr) {
            switch expr.unparenthesized {
            case .aggregate, .call, .binary: stepMatrices[expr.unparenthesized.description] = matrix
            default: break
            }
            return matrix
        }
        switch expr {
        case .paren(let inner), .unary(_, let inner):
            _ = try prepareStepMatrices(inner)
        case .binary(let binary):
            _ = try prepareStepMatrices(binary.lhs)
            _ = try prepareStepMatrices(binary.rhs)
        case .aggregate(let aggregate):
            if let param = aggregate.param { _ = try prepareStepMatrices(param) }
            _ = try prepareStepMatrices(aggregate.expr)
        case .call(let call):
            // info's second argument only names labels; it selects nothing.
            for argument in call.function.name == "info" ? Array(call.args.prefix(1)) : call.args { _ = try prepareStepMatrices(argument) }
        default:
            break
        }
        return nil
    }

    /// The vector of a sub-expression built in advance by ``prepareStepMatrices(_:)``, when `t` is one of the query's
    /// steps; nil otherwise (then the expression is evaluated as usual).
    func stepMatrixVector(_ expr: Expr, at t: Int64) throws(PromQLError) -> [Sample]? {
        guard let step = stepIndex(t), let matrix = stepMatrices[expr.description] else { return nil }
        try account(matrix.inputSamples[step])
        return matrix.vector(at: step, t: t)
    }

    /// Whether ``stepMatrix(_:)`` handles `expr` (decided on the syntax alone, before any series is read).
    static func supportsStepMatrix(_ expr: Expr) -> Bool {
        switch expr {
        case .paren(let inner):
            return supportsStepMatrix(inner)
        case .vectorSelector(let selector):
            return !selector.anchored && !selector.smoothed
        case .call(let call):
            let name = call.function.name
            guard stepMatrixRangeFunctions.contains(name) else { return false }
            var matrices = 0
            for argument in call.args {
                switch argument.unparenthesized {
                case .matrixSelector(let matrix):
                    if matrix.selector.anchored || matrix.selector.smoothed { return false }
                    matrices += 1
                case .number: continue
                default: return false
                }
            }
            return matrices == 1
        case .aggregate(let aggregate):
            switch aggregate.op {
            case .sum, .avg, .min, .max, .count, .group, .stddev, .stdvar:
                return aggregate.param == nil && supportsStepMatrix(aggregate.expr)
            case .topk, .bottomk:
                guard case .number = aggregate.param?.unparenthesized else { return false }
                return supportsStepMatrix(aggregate.expr)
            default:
                return false
            }
        case .binary(let binary):
            guard arithmetic(binary.op) != nil else { return false }
            let lhs = binary.lhs.unparenthesized
            let rhs = binary.rhs.unparenthesized
            if case .number = lhs { return rhs.type == .vector && supportsStepMatrix(rhs) }
            if case .number = rhs { return lhs.type == .vector && supportsStepMatrix(lhs) }
            guard lhs.type == .vector && rhs.type == .vector else { return false }
            if let matching = binary.matching {
                guard matching.cardinality == .oneToOne, matching.include.isEmpty, matching.fillLeft == nil,
                    matching.fillRight == nil
                else { return false }
            }
            return supportsStepMatrix(lhs) && supportsStepMatrix(rhs)
        default:
            return false
        }
    }

    // MARK: - Building

    /// The step matrix of a supported expression, or nil when this data needs the step-by-step evaluation after all
    /// (too many cells, or a duplicate that only the step-by-step path reports the way Prometheus does).
    func stepMatrix(_ expr: Expr) throws(PromQLError) -> StepMatrix? {
        try checkDeadline()
        switch expr {
        case .paren(let inner):
            return try stepMatrix(inner)
        case .vectorSelector(let selector):
            return try selectorMatrix(selector)
        case .call(let call):
            return try rangeFunctionMatrix(call)
        case .aggregate(let aggregate):
            guard let input = try stepMatrix(aggregate.expr) else { return nil }
            if case .number(let k, _) = aggregate.param?.unparenthesized {
                return try selectionMatrix(aggregate, k: k, input)
            }
            return aggregateMatrix(aggregate, input)
        case .binary(let binary):
            return try binaryMatrix(binary)
        default:
            return nil
        }
    }

    /// Whether a matrix of `series` series fits ``maxStepMatrixCells``.
    private func fits(_ series: Int) -> Bool {
        series <= Self.maxStepMatrixCells / max(stepCount, 1)
    }

    /// An instant selector at every step: per series the newest non-stale sample within the lookback.
    private func selectorMatrix(_ selector: VectorSelector) throws(PromQLError) -> StepMatrix? {
        let selected = try series(for: selector.matchers)
        guard fits(selected.count) else { return nil }
        let offset = try milliseconds(selector.offset, selector.offsetExpr, allowNegative: true)
        let pinned = pinnedTime(selector.at)
        let steps = stepCount
        let lookback = options.lookbackDeltaMs
        var refs: [Int64] = []
        refs.reserveCapacity(steps)
        for step in 0..<steps { refs.append((pinned ?? (startMs + Int64(step) * stepMs)) - offset) }
        var labels: [Labels] = []
        labels.reserveCapacity(selected.count)
        var outValues = [Double](repeating: 0, count: selected.count * steps)
        var outPresent = [Bool](repeating: false, count: selected.count * steps)
        var inputSamples = [Int](repeating: 0, count: steps)
        var row = 0
        for series in selected {
            let base = row * steps
            var any = false
            series.timestamps.withUnsafeBufferPointer { timestamps in
                series.values.withUnsafeBufferPointer { values in
                    // The references ascend with the steps (or stay put under `@`), so one cursor walks the samples:
                    // `cursor` counts the samples at or before the current reference.
                    var cursor = 0
                    for step in 0..<steps {
                        let ref = refs[step]
                        while cursor < timestamps.count && timestamps[cursor] <= ref { cursor += 1 }
                        if cursor == 0 || timestamps[cursor - 1] <= ref - lookback { continue }
                        let value = values[cursor - 1]
                        if StaleNaN.isStale(value) { continue }
                        outValues[base + step] = value
                        outPresent[base + step] = true
                        inputSamples[step] += 1
                        any = true
                    }
                }
            }
            if any {
                labels.append(series.labels)
                row += 1
            }
        }
        outValues.removeLast(outValues.count - row * steps)
        outPresent.removeLast(outPresent.count - row * steps)
        return StepMatrix(
            steps: steps, labels: labels, dropName: Array(repeating: false, count: row), values: outValues, present: outPresent,
            inputSamples: inputSamples)
    }

    /// A range function of a range selector at every step, the window moving forward over each series' points.
    private func rangeFunctionMatrix(_ call: FunctionCall) throws(PromQLError) -> StepMatrix? {
        let name = call.function.name
        var scalars: [Double] = []
        var matrixSelector: MatrixSelector?
        for argument in call.args {
            switch argument.unparenthesized {
            case .matrixSelector(let matrix): matrixSelector = matrix
            case .number(let value, _): scalars.append(value)
            default: return nil
            }
        }
        guard let matrixSelector else { return nil }
        let selector = matrixSelector.selector
        let selected = try series(for: selector.matchers)
        guard fits(selected.count) else { return nil }
        let offset = try milliseconds(selector.offset, selector.offsetExpr, allowNegative: true)
        let range = try milliseconds(matrixSelector.range, matrixSelector.rangeExpr, allowNegative: false)
        let pinned = pinnedTime(selector.at)
        let steps = stepCount
        // rate, increase and delta are computed from each window's ends (and its resets), not through a kernel.
        let extrapolates = name == "rate" || name == "increase" || name == "delta"
        let rateSeconds = name == "rate" ? RangeFunctions.durationSeconds(milliseconds: range) : nil
        var kernels: [(ArraySlice<FloatPoint>) throws(PromQLError) -> Double?] = []
        var refs: [Int64] = []
        refs.reserveCapacity(steps)
        for step in 0..<steps {
            let t = startMs + Int64(step) * stepMs
            let ref = (pinned ?? t) - offset
            refs.append(ref)
            if !extrapolates {
                kernels.append(try rangeKernel(name, scalars: scalars, window: RangeWindow(series: [], start: ref - range, end: ref), at: t))
            }
        }
        let keepsName = name == "last_over_time" || name == "first_over_time"
        let checksCounter = name == "rate" || name == "increase"
        /// The rows of a run of series: which series have a value at some step, their cells, and the samples read.
        struct Rows {
            var series: [Int] = []
            var values: [Double] = []
            var present: [Bool] = []
            var inputSamples: [Int]
        }
        // Each series' row depends on that series alone, so large selections are computed on every core, in runs of
        // series; the runs are joined in order, so the result is the same as on one thread.
        func rows(_ run: Range<Int>) throws(PromQLError) -> Rows {
            var rows = Rows(inputSamples: [Int](repeating: 0, count: steps))
            if extrapolates {
                let computer = ExtrapolatedRows(refs: refs, range: range, isCounter: name != "delta", rateSeconds: rateSeconds)
                for index in run {
                    let (timestamps, values) = selected[index].nonStaleColumns()
                    let any = timestamps.withUnsafeBufferPointer { times in
                        values.withUnsafeBufferPointer { values in computer.fill(times: times, values: values) }
                    }
                    guard any else { continue }
                    rows.series.append(index)
                    rows.values.append(contentsOf: computer.cells)
                    rows.present.append(contentsOf: computer.present)
                }
                rows.inputSamples = Array(computer.inputSamples)
                return rows
            }
            var cells = [Double](repeating: 0, count: steps)
            var cellPresent = [Bool](repeating: false, count: steps)
            for index in run {
                let series = selected[index]
                var any = false
                let points = series.nonStalePoints()
                for step in 0..<steps {
                    let ref = refs[step]
                    let window = series.nonStaleRange(after: ref - range, through: ref)
                    cells[step] = 0
                    cellPresent[step] = false
                    if window.isEmpty { continue }
                    rows.inputSamples[step] += window.count
                    guard let value = try kernels[step](points[window]) else { continue }
                    cells[step] = value
                    cellPresent[step] = true
                    any = true
                }
                guard any else { continue }
                rows.series.append(index)
                rows.values.append(contentsOf: cells)
                rows.present.append(contentsOf: cellPresent)
            }
            return rows
        }
        let width = selected.count * steps < options.parallelCells ? 1 : processorCount
        let runs = parallelRuns(selected.count, width: width)
        var computed: [Rows] = []
        computed.reserveCapacity(runs.count)
        for result in parallelMap(runs, width: width, { run throws in try rows(run) }) {
            switch result {
            case .success(let rows): computed.append(rows)
            case .failure(let error as PromQLError): throw error
            case .failure(let error): throw PromQLError(.execution, "\(error)")
            }
        }

        var labels: [Labels] = []
        var outValues: [Double] = []
        var outPresent: [Bool] = []
        var inputSamples = [Int](repeating: 0, count: steps)
        outValues.reserveCapacity(computed.reduce(0) { $0 + $1.values.count })
        outPresent.reserveCapacity(outValues.capacity)
        var lastCheckedName: String?
        for rows in computed {
            outValues.append(contentsOf: rows.values)
            outPresent.append(contentsOf: rows.present)
            for step in 0..<steps { inputSamples[step] += rows.inputSamples[step] }
            for index in rows.series {
                let series = selected[index]
                labels.append(series.labels)
                if checksCounter {
                    let metricName = series.labels.metricName
                    if metricName == lastCheckedName { continue }
                    lastCheckedName = metricName
                    if !metricName.isEmpty && !["_total", "_sum", "_count", "_bucket"].contains(where: { metricName.hasSuffix($0) }) {
                        info("metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \(LabelName.goQuoted(metricName))")
                    }
                }
            }
        }
        return StepMatrix(
            steps: steps, labels: labels, dropName: Array(repeating: !keepsName, count: labels.count), values: outValues,
            present: outPresent, inputSamples: inputSamples)
    }

    /// The groups of an aggregation over series with these labels: each group's output labels, in order of first
    /// appearance, and per series the index of its group.
    private static func groups(of labels: [Labels], _ aggregate: AggregateExpr) -> (keys: [Labels], groupOf: [Int]) {
        var slots: [Labels: Int] = [:]
        var keys: [Labels] = []
        var groupOf: [Int] = []
        groupOf.reserveCapacity(labels.count)
        for metric in labels {
            let key = groupLabels(metric, aggregate)
            if let slot = slots[key] {
                groupOf.append(slot)
            } else {
                slots[key] = keys.count
                groupOf.append(keys.count)
                keys.append(key)
            }
        }
        return (keys, groupOf)
    }

    /// An aggregation without parameter at every step: each input series' group is derived once, then every step's
    /// value is added into its group's accumulator.
    private func aggregateMatrix(_ aggregate: AggregateExpr, _ input: StepMatrix) -> StepMatrix? {
        let steps = input.steps
        // Accumulating in another order than the step-by-step path could change the last bits of a sum.
        guard input.isInSeriesOrder else { return nil }
        guard let firstDrop = input.dropName.first else {
            return StepMatrix(steps: steps, inputSamples: input.inputSamples)
        }
        // The output's name-removal flag is that of any present member; with mixed flags it would vary by step.
        if input.dropName.contains(where: { $0 != firstDrop }) { return nil }
        let (keys, groupOf) = Self.groups(of: input.labels, aggregate)
        var members = [[Int]](repeating: [], count: keys.count)
        for (series, group) in groupOf.enumerated() { members[group].append(series) }
        /// The rows of a run of groups: per cell, the value, its presence and the first member present at that step.
        struct Rows {
            var values: [Double] = []
            var present: [Bool] = []
            var first: [Int32] = []
        }
        // A group's accumulators take its members in series order, as the step-by-step path adds them, so each group
        // is computed on its own (on every core for large inputs, in runs of groups joined in order) with the same
        // result bit for bit.
        let inputValues = input.values
        let inputPresent = input.present
        let width = input.values.count < options.parallelCells ? 1 : processorCount
        let runs = parallelRuns(keys.count, width: width, runsPerThread: 4)
        func accumulate<A>(_ empty: A, add: (inout A, Double) -> Void, result: (A) -> Double?) -> [Rows] {
            parallelMap(runs, width: width) { run in
                var rows = Rows()
                rows.values.reserveCapacity(run.count * steps)
                rows.present.reserveCapacity(run.count * steps)
                rows.first.reserveCapacity(run.count * steps)
                var accumulators = [A](repeating: empty, count: steps)
                var first = [Int32](repeating: -1, count: steps)
                for group in run {
                    for step in 0..<steps {
                        accumulators[step] = empty
                        first[step] = -1
                    }
                    inputValues.withUnsafeBufferPointer { values in
                        inputPresent.withUnsafeBufferPointer { present in
                            for series in members[group] {
                                let base = series * steps
                                for step in 0..<steps where present[base + step] {
                                    add(&accumulators[step], values[base + step])
                                    if first[step] < 0 { first[step] = Int32(truncatingIfNeeded: series) }
                                }
                            }
                        }
                    }
                    for step in 0..<steps {
                        let value = first[step] >= 0 ? result(accumulators[step]) : nil
                        rows.values.append(value ?? 0)
                        rows.present.append(value != nil)
                    }
                    rows.first.append(contentsOf: first)
                }
                return rows
            }.map { result in
                switch result {
                case .success(let rows): return rows
                case .failure(let error): preconditionFailure("an aggregation run cannot fail: \(error)")
                }
            }
        }

        let computed: [Rows]
        switch aggregate.op {
        case .sum:
            computed = accumulate(Aggregation.Sum(), add: { $0.add($1) }, result: { $0.result })
        case .avg:
            computed = accumulate(Aggregation.Average(), add: { $0.add($1) }, result: { $0.result })
        case .min, .max:
            computed = accumulate(Aggregation.Extreme(isMax: aggregate.op == .max), add: { $0.add($1) }, result: { $0.result })
        case .count:
            computed = accumulate(0, add: { count, _ in count += 1 }, result: { Aggregation.count($0) })
        case .group:
            computed = accumulate(0, add: { count, _ in count += 1 }, result: { Aggregation.group($0) })
        case .stddev:
            computed = accumulate(Aggregation.Variance(), add: { $0.add($1) }, result: { $0.standardDeviation })
        case .stdvar:
            computed = accumulate(Aggregation.Variance(), add: { $0.add($1) }, result: { $0.variance })
        default:
            return nil
        }
        var outValues: [Double] = []
        var outPresent: [Bool] = []
        var first: [Int32] = []
        outValues.reserveCapacity(keys.count * steps)
        outPresent.reserveCapacity(keys.count * steps)
        first.reserveCapacity(keys.count * steps)
        for rows in computed {
            outValues.append(contentsOf: rows.values)
            outPresent.append(contentsOf: rows.present)
            first.append(contentsOf: rows.first)
        }
        return StepMatrix(
            steps: steps, labels: keys, dropName: Array(repeating: firstDrop, count: keys.count), values: outValues,
            present: outPresent, firstMember: first, inputSamples: input.inputSamples)
    }

    /// `topk` or `bottomk` with a literal `k` at every step: per step and group, the step-by-step path's heap selection
    /// over the group's present members in input order. The output keeps the input's series and cells; each selected
    /// cell records its place in the step's vector (groups in order of first appearance, best first within a group),
    /// which is not series order, so an expression over it that needs series order is evaluated step by step.
    private func selectionMatrix(_ aggregate: AggregateExpr, k: Double, _ input: StepMatrix) throws(PromQLError) -> StepMatrix? {
        guard aggregate.op == .topk || aggregate.op == .bottomk, input.isInSeriesOrder else { return nil }
        let steps = input.steps
        if k < 1 { return StepMatrix(steps: steps, inputSamples: input.inputSamples) }
        do {
            try Aggregation.validateK(k)
        } catch {
            throw PromQLError(.execution, error.message)
        }
        struct Cell: Valued {
            let series: Int
            let v: Double
        }
        let (keys, groupOf) = Self.groups(of: input.labels, aggregate)
        var members = [[Cell]](repeating: [], count: keys.count)
        var groupOrder: [Int] = []
        let inputPresent = input.present
        let inputValues = input.values
        var present = [Bool](repeating: false, count: inputPresent.count)
        var place = [Int32](repeating: -1, count: inputPresent.count)
        for step in 0..<steps {
            for series in groupOf.indices where inputPresent[series * steps + step] {
                let group = groupOf[series]
                if members[group].isEmpty { groupOrder.append(group) }
                members[group].append(Cell(series: series, v: inputValues[series * steps + step]))
            }
            var next: Int32 = 0
            for group in groupOrder {
                let chosen = aggregate.op == .topk ? Aggregation.topK(k, members[group]) : Aggregation.bottomK(k, members[group])
                for cell in chosen {
                    present[cell.series * steps + step] = true
                    place[cell.series * steps + step] = next
                    next += 1
                }
                members[group].removeAll(keepingCapacity: true)
            }
            groupOrder.removeAll(keepingCapacity: true)
        }
        return StepMatrix(
            steps: steps, labels: input.labels, dropName: input.dropName, values: inputValues, present: present, firstMember: place,
            inputSamples: input.inputSamples)
    }

    /// Arithmetic between a vector and a number, or between two vectors matched one-to-one.
    private func binaryMatrix(_ binary: BinaryExpr) throws(PromQLError) -> StepMatrix? {
        guard let arithmetic = Self.arithmetic(binary.op) else { return nil }
        let lhsExpr = binary.lhs.unparenthesized
        let rhsExpr = binary.rhs.unparenthesized
        if case .number(let scalar, _) = lhsExpr {
            guard let vector = try stepMatrix(rhsExpr) else { return nil }
            return scalarArithmetic(vector) { BinaryArithmetic.apply(arithmetic, scalar, $0) }
        }
        if case .number(let scalar, _) = rhsExpr {
            guard let vector = try stepMatrix(lhsExpr) else { return nil }
            return scalarArithmetic(vector) { BinaryArithmetic.apply(arithmetic, $0, scalar) }
        }
        guard let lhs = try stepMatrix(lhsExpr), lhs.isInSeriesOrder, let rhs = try stepMatrix(rhsExpr) else { return nil }
        let matching = binary.matching ?? VectorMatching(cardinality: .oneToOne)
        let steps = lhs.steps
        // Pairs are fixed per query; any ambiguity (a signature twice on a side, or two results with the same labels)
        // is left to the step-by-step path, which reports it at the step where it happens, as Prometheus does.
        var rightBySignature: [Labels: Int] = [:]
        for (index, metric) in rhs.labels.enumerated() {
            let signature = Self.signature(metric, matching)
            if rightBySignature.updateValue(index, forKey: signature) != nil { return nil }
        }
        var usedRight = Set<Int>()
        var seen = Set<Labels>()
        var inputs = lhs.inputSamples
        for step in inputs.indices { inputs[step] += rhs.inputSamples[step] }
        var labels: [Labels] = []
        var values: [Double] = []
        var present: [Bool] = []
        let (leftValues, leftPresent) = (lhs.values, lhs.present)
        let (rightValues, rightPresent) = (rhs.values, rhs.present)
        for (left, metric) in lhs.labels.enumerated() {
            guard let right = rightBySignature[Self.signature(metric, matching)] else { continue }
            if !usedRight.insert(right).inserted { return nil }
            let result = resultMetric(metric, rhs.labels[right], changesSchema: true, matching)
            if !seen.insert(result).inserted { return nil }
            var base: Int?
            let leftBase = left * steps
            let rightBase = right * steps
            for step in 0..<steps where leftPresent[leftBase + step] && rightPresent[rightBase + step] {
                if base == nil {  // the first step where both sides are present adds the output series
                    base = values.count
                    labels.append(result)
                    values.append(contentsOf: repeatElement(0, count: steps))
                    present.append(contentsOf: repeatElement(false, count: steps))
                }
                values[base! + step] = BinaryArithmetic.apply(arithmetic, leftValues[leftBase + step], rightValues[rightBase + step])
                present[base! + step] = true
            }
        }
        return StepMatrix(
            steps: steps, labels: labels, dropName: Array(repeating: binary.returnBool, count: labels.count), values: values,
            present: present, inputSamples: inputs)
    }

    /// `vector op number` or `number op vector`: every present cell mapped, the name to be dropped.
    private func scalarArithmetic(_ input: StepMatrix, _ apply: (Double) -> Double) -> StepMatrix {
        let present = input.present
        var values = input.values
        for cell in values.indices where present[cell] {
            values[cell] = apply(values[cell])
        }
        return StepMatrix(
            steps: input.steps, labels: input.labels, dropName: Array(repeating: true, count: input.labels.count), values: values,
            present: present, firstMember: input.firstMember, inputSamples: input.inputSamples)
    }

    // MARK: - Range result

    /// The range query's matrix from the step matrix of its whole expression, or nil when two output series end up
    /// with the same labels after name removal (the step-by-step path then reports the duplicate).
    func rangeResult(_ matrix: StepMatrix) throws(PromQLError) -> [Series]? {
        let steps = matrix.steps
        var seen = Set<Labels>()
        var out: [Series] = []
        var pointsPerStep = [Int](repeating: 0, count: steps)
        for series in matrix.labels.indices {
            let metric = matrix.dropName[series] ? matrix.labels[series].withoutMetricName : matrix.labels[series]
            var points: [FloatPoint] = []
            let base = series * steps
            for step in 0..<steps where matrix.present[base + step] {
                points.append(FloatPoint(t: startMs + Int64(step) * stepMs, v: matrix.values[base + step]))
                pointsPerStep[step] += 1
            }
            if points.isEmpty { continue }
            if !seen.insert(metric).inserted { return nil }
            out.append(Series(metric: metric, points: points))
        }
        // The sample limit as the step-by-step path applies it: the points so far plus the step's selected samples.
        var total = 0
        for step in 0..<steps {
            if total + matrix.inputSamples[step] > options.maxSamples { throw PromQLError.tooManySamples }
            total += pointsPerStep[step]
        }
        if total > options.maxSamples { throw PromQLError.tooManySamples }
        out.sort { $0.metric < $1.metric }
        return out
    }
}

/// `rate`, `increase` or `delta` of series at every step of a range query, from each series' samples directly; one
/// instance per run of series (it holds the run's scratch and output buffers).
///
/// The window `(ref - range, ref]` only moves forward with the steps, so two cursors walk the samples once, and the
/// newest counter reset behind the upper cursor tells whether a window holds one (only then are its points summed;
/// otherwise the raw result is `last - first`). A first pass finds every step's window and raw result, a second
/// extrapolates them two steps at a time (``RangeFunctions/extrapolate(_:firstTime:firstValue:lastTime:count:rangeStart:rangeEnd:isCounter:rateSeconds:)``):
/// its divisions bound the whole computation, and apart from the window search they overlap.
private final class ExtrapolatedRows {
    let steps: Int
    let range: Int64
    let isCounter: Bool
    let rateSeconds: Double?
    /// The last series' value and presence at every step.
    let cells: UnsafeMutableBufferPointer<Double>
    let present: UnsafeMutableBufferPointer<Bool>
    /// Per step, the samples in the windows of all series so far.
    let inputSamples: UnsafeMutableBufferPointer<Int>
    /// Per step (padded to an even count): the window's end, its first and last sample, its size (0 when it holds
    /// fewer than two samples) and raw result.
    private let refs: UnsafeMutableBufferPointer<Int64>
    private let firstTimes: UnsafeMutableBufferPointer<Int64>
    private let lastTimes: UnsafeMutableBufferPointer<Int64>
    private let counts: UnsafeMutableBufferPointer<Int64>
    private let firstValues: UnsafeMutableBufferPointer<Double>
    private let raws: UnsafeMutableBufferPointer<Double>

    init(refs: [Int64], range: Int64, isCounter: Bool, rateSeconds: Double?) {
        steps = refs.count
        self.range = range
        self.isCounter = isCounter
        self.rateSeconds = rateSeconds
        cells = .allocate(capacity: steps)
        present = .allocate(capacity: steps)
        inputSamples = .allocate(capacity: steps)
        inputSamples.initialize(repeating: 0)
        let padded = (steps + 1) & ~1
        self.refs = .allocate(capacity: padded)
        firstTimes = .allocate(capacity: padded)
        lastTimes = .allocate(capacity: padded)
        counts = .allocate(capacity: padded)
        firstValues = .allocate(capacity: padded)
        raws = .allocate(capacity: padded)
        for buffer in [self.refs, firstTimes, lastTimes, counts] { buffer.initialize(repeating: 0) }
        for buffer in [firstValues, raws] { buffer.initialize(repeating: 0) }
        for (step, ref) in refs.enumerated() { self.refs[step] = ref }
        if padded > steps { self.refs[steps] = refs[steps - 1] }
    }

    deinit {
        cells.deallocate()
        present.deallocate()
        inputSamples.deallocate()
        for buffer in [refs, firstTimes, lastTimes, counts] { buffer.deallocate() }
        for buffer in [firstValues, raws] { buffer.deallocate() }
    }

    /// Computes one series' ``cells`` and ``present`` at every step, adds its window sizes to ``inputSamples``, and
    /// returns whether any step has a value. `times` ascend and `values` hold no staleness marker.
    func fill(times: UnsafeBufferPointer<Int64>, values: UnsafeBufferPointer<Double>) -> Bool {
        let count = times.count
        // `low` and `high` count the samples at or before the window's start and end; `newestReset` is the index of
        // the newest sample below its predecessor before `high` (0: none).
        var low = 0
        var high = 0
        var newestReset = 0
        var previousRef = Int64.min
        for step in 0..<steps {
            let ref = refs[step]
            if ref < previousRef {  // not a range query's ascending steps: start over
                (low, high, newestReset) = (0, 0, 0)
            }
            previousRef = ref
            while high < count && times[high] <= ref {
                if high > 0 && values[high] < values[high - 1] { newestReset = high }
                high += 1
            }
            while low < high && times[low] <= ref - range { low += 1 }
            inputSamples[step] += high - low
            guard high - low >= 2 else {
                counts[step] = 0
                continue
            }
            let last = high - 1
            var raw = values[last] - values[low]
            if isCounter && newestReset > low {
                var previous = values[low]
                for index in (low + 1)...last {
                    if values[index] < previous { raw += previous }
                    previous = values[index]
                }
            }
            (firstTimes[step], lastTimes[step], counts[step]) = (times[low], times[last], Int64(high - low))
            (firstValues[step], raws[step]) = (values[low], raw)
        }
        var any = false
        @inline(__always) func pair<T: SIMDScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ step: Int) -> SIMD2<T> {
            SIMD2(buffer[step], buffer[step + 1])
        }
        for step in stride(from: 0, to: steps, by: 2) {
            let ends = pair(refs, step)
            let extrapolated = RangeFunctions.extrapolate(
                pair(raws, step), firstTime: pair(firstTimes, step), firstValue: pair(firstValues, step),
                lastTime: pair(lastTimes, step), count: pair(counts, step), rangeStart: ends &- range, rangeEnd: ends,
                isCounter: isCounter, rateSeconds: rateSeconds)
            for lane in 0..<min(2, steps - step) {
                let has = counts[step + lane] >= 2
                cells[step + lane] = has ? extrapolated[lane] : 0
                present[step + lane] = has
                any = any || has
            }
        }
        return any
    }
}
