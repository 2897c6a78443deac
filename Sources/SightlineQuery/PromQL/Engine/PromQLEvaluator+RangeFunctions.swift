import SightlineCore

extension PromQLEvaluator {
    /// A function of a range vector (`rate(x[5m])`, `quantile_over_time(0.9, x[1h:1m])`, …) at `t`.
    func evalRangeFunction(_ name: String, _ args: [Expr], matrixIndex: Int, at t: Int64) throws(PromQLError) -> [Sample] {
        var scalars: [Double] = []
        for (index, argument) in args.enumerated() where index != matrixIndex {
            scalars.append(try evalScalar(argument, at: t))
        }
        let window: RangeWindow
        switch args[matrixIndex] {
        case .matrixSelector(let matrix): window = try selectRange(matrix, at: t)
        case .subquery(let subquery): window = try evalSubquery(subquery, at: t)
        default: throw PromQLError(.internal, "expected a range vector argument to \(name)")
        }

        switch window.reach {
        case .none: break
        case .anchored where !RangeFunctions.anchoredFunctions.contains(name):
            throw PromQLError(
                .execution, "anchored modifier can only be used with: \(RangeFunctions.anchoredFunctions.joined(separator: ", ")) - not with \(name)")
        case .smoothed where !RangeFunctions.smoothedFunctions.contains(name):
            throw PromQLError(
                .execution, "smoothed modifier can only be used with: \(RangeFunctions.smoothedFunctions.joined(separator: ", ")) - not with \(name)")
        case .anchored, .smoothed: break
        }
        if name == "absent_over_time" {
            if !window.series.isEmpty { return [] }
            return [Sample(metric: Self.absentLabels(args[matrixIndex]), t: t, v: 1, dropName: true)]
        }
        let keepsName = name == "last_over_time" || name == "first_over_time"
        let kernel = try rangeKernel(name, scalars: scalars, window: window, at: t)
        var out: [Sample] = []
        out.reserveCapacity(window.series.count)
        var lastCheckedName: String?
        for series in window.series {
            guard let value = try kernel(series.points[...]) else { continue }
            out.append(Sample(metric: series.metric, t: t, v: value, dropName: !keepsName || series.dropName))
            if name == "rate" || name == "increase" {
                let metricName = series.metric.metricName
                if metricName == lastCheckedName { continue }
                lastCheckedName = metricName
                if !metricName.isEmpty && !["_total", "_sum", "_count", "_bucket"].contains(where: { metricName.hasSuffix($0) }) {
                    info("metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \(LabelName.goQuoted(metricName))")
                }
            }
        }
        return out
    }

    typealias Kernel = (ArraySlice<FloatPoint>) throws(PromQLError) -> Double?

    func rangeKernel(_ name: String, scalars: [Double], window: RangeWindow, at t: Int64) throws(PromQLError) -> Kernel {
        let start = window.start
        let end = window.end
        if window.reach != .none {
            let smoothed = window.reach == .smoothed
            let seconds = Double(end - start) / 1000
            switch name {
            case "rate", "increase", "delta":
                let isCounter = name != "delta"
                let isRate = name == "rate"
                return {
                    RangeFunctions.extendedRate(
                        $0, rangeStart: start, rangeEnd: end, rangeSeconds: seconds, smoothed: smoothed, isCounter: isCounter, isRate: isRate)
                }
            case "changes": return { RangeFunctions.anchoredPoints($0, rangeStart: start).flatMap(RangeFunctions.changes) }
            case "resets": return { RangeFunctions.anchoredPoints($0, rangeStart: start).flatMap(RangeFunctions.resets) }
            default: break
            }
        }
        switch name {
        case "rate": return { RangeFunctions.rate($0, rangeStart: start, rangeEnd: end) }
        case "increase": return { RangeFunctions.increase($0, rangeStart: start, rangeEnd: end) }
        case "delta": return { RangeFunctions.delta($0, rangeStart: start, rangeEnd: end) }
        case "irate": return { RangeFunctions.irate($0) }
        case "idelta": return { RangeFunctions.idelta($0) }
        case "deriv": return { RangeFunctions.deriv($0) }
        case "predict_linear":
            let seconds = scalars.first ?? 0
            return { RangeFunctions.predictLinear($0, seconds: seconds, evaluationTime: t) }
        case "resets": return { RangeFunctions.resets($0) }
        case "changes": return { RangeFunctions.changes($0) }
        case "avg_over_time": return { RangeFunctions.avgOverTime($0) }
        case "sum_over_time": return { RangeFunctions.sumOverTime($0) }
        case "count_over_time": return { RangeFunctions.countOverTime($0) }
        case "min_over_time": return { RangeFunctions.minOverTime($0) }
        case "max_over_time": return { RangeFunctions.maxOverTime($0) }
        case "last_over_time": return { RangeFunctions.lastOverTime($0) }
        case "first_over_time": return { RangeFunctions.firstOverTime($0) }
        case "present_over_time": return { RangeFunctions.presentOverTime($0) }
        case "stddev_over_time": return { RangeFunctions.stddevOverTime($0) }
        case "stdvar_over_time": return { RangeFunctions.stdvarOverTime($0) }
        case "mad_over_time": return { RangeFunctions.madOverTime($0) }
        case "ts_of_min_over_time": return { RangeFunctions.tsOfMinOverTime($0) }
        case "ts_of_max_over_time": return { RangeFunctions.tsOfMaxOverTime($0) }
        case "ts_of_first_over_time": return { RangeFunctions.tsOfFirstOverTime($0) }
        case "ts_of_last_over_time": return { RangeFunctions.tsOfLastOverTime($0) }
        case "quantile_over_time":
            let phi = scalars.first ?? .nan
            if phi.isNaN || phi < 0 || phi > 1 {
                warn("quantile value should be between 0 and 1, got \(PromQLFloat.formatG(phi))")
            }
            return { RangeFunctions.quantileOverTime(phi, $0) }
        case "double_exponential_smoothing":
            let sf = scalars.count > 0 ? scalars[0] : .nan
            let tf = scalars.count > 1 ? scalars[1] : .nan
            return { (points: ArraySlice<FloatPoint>) throws(PromQLError) -> Double? in
                do {
                    return try RangeFunctions.doubleExponentialSmoothing(points, smoothingFactor: sf, trendFactor: tf)
                } catch let error as SightlineError {
                    throw PromQLError(.execution, error.message)
                } catch {
                    throw PromQLError(.execution, "\(error)")
                }
            }
        default:
            throw PromQLError(.badData, "function \"\(name)\" is not supported")
        }
    }
}
