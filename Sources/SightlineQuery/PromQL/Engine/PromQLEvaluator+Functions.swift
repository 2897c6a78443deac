import SightlineCore

extension PromQLEvaluator {
    /// A function call at `t`.
    func evalCall(_ call: FunctionCall, at t: Int64) throws(PromQLError) -> EvalValue {
        let name = call.function.name
        let args = call.args.map(\.unparenthesized)
        if let matrixIndex = args.firstIndex(where: { $0.type == .matrix }) {
            return .vector(try evalRangeFunction(name, args, matrixIndex: matrixIndex, at: t))
        }
        switch name {
        case "time": return .scalar(Double(t) / 1000)
        case "pi": return .scalar(Double.pi)
        case "start": return .scalar(Double(startMs) / 1000)
        case "end": return .scalar(Double(endMs) / 1000)
        case "range": return .scalar(Double(endMs - startMs) / 1000)
        case "step": return .scalar(Double(stepMs) / 1000)
        case "min_of", "max_of":
            let a = try evalScalar(args[0], at: t)
            let b = try evalScalar(args[1], at: t)
            return .scalar(name == "min_of" ? MathFunctions.goMin(a, b) : MathFunctions.goMax(a, b))
        case "scalar":
            let vector = try evalVector(args[0], at: t)
            return .scalar(vector.count == 1 ? vector[0].v : .nan)
        case "vector":
            return .vector([Sample(metric: Labels([]), t: t, v: try evalScalar(args[0], at: t))])
        case "label_replace":
            return .vector(try labelReplace(args, at: t))
        case "label_join":
            return .vector(try labelJoin(args, at: t))
        default:
            break
        }
        var result = try evalVectorFunction(name, args, at: t)
        for index in result.indices { result[index].t = t }
        if inRange { try checkDuplicates(result) }
        return .vector(result)
    }

    // MARK: - Functions of instant vectors

    private func evalVectorFunction(_ name: String, _ args: [Expr], at t: Int64) throws(PromQLError) -> [Sample] {
        if inRange && ["sort", "sort_desc", "sort_by_label", "sort_by_label_desc"].contains(name) {
            warn("sort is ineffective for range queries since results are always ordered by labels")
        }
        if let calendar = Self.calendarFunction(name) {
            if args.isEmpty {
                return [Sample(metric: Labels([]), t: t, v: calendar(Double(t / 1000)))]
            }
            return try evalVector(args[0], at: t).map { Sample(metric: $0.metric, t: t, v: calendar($0.v), dropName: true) }
        }
        if let math = Self.mathFunction(name) {
            return try evalVector(args[0], at: t).map { Sample(metric: $0.metric, t: t, v: math($0.v), dropName: true) }
        }
        switch name {
        case "round":
            let vector = try evalVector(args[0], at: t)
            let nearest = args.count > 1 ? try evalScalar(args[1], at: t) : 1
            return vector.map { Sample(metric: $0.metric, t: t, v: MathFunctions.round($0.v, toNearest: nearest), dropName: true) }
        case "clamp", "clamp_min", "clamp_max":
            let vector = try evalVector(args[0], at: t)
            var lower = -Double.infinity
            var upper = Double.infinity
            if name == "clamp" {
                lower = try evalScalar(args[1], at: t)
                upper = try evalScalar(args[2], at: t)
            } else if name == "clamp_min" {
                lower = try evalScalar(args[1], at: t)
            } else {
                upper = try evalScalar(args[1], at: t)
            }
            if upper < lower { return [] }
            return vector.map {
                Sample(metric: $0.metric, t: t, v: MathFunctions.goMax(lower, MathFunctions.goMin(upper, $0.v)), dropName: true)
            }
        case "timestamp":
            let isSelector = if case .vectorSelector = args[0] { true } else { false }
            return try evalVector(args[0], at: t).map {
                Sample(metric: $0.metric, t: t, v: Double(isSelector ? $0.t : t) / 1000, dropName: true)
            }
        case "absent":
            let vector = try evalVector(args[0], at: t)
            if !vector.isEmpty { return [] }
            return [Sample(metric: Self.absentLabels(args[0]), t: t, v: 1)]
        case "sort", "sort_desc":
            let descending = name == "sort_desc"
            return try evalVector(args[0], at: t).enumerated().sorted { a, b in
                let x = a.element.v
                let y = b.element.v
                if x.isNaN || y.isNaN {
                    if x.isNaN && y.isNaN { return a.offset < b.offset }
                    return y.isNaN
                }
                if x == y { return a.offset < b.offset }
                return descending ? x > y : x < y
            }.map(\.element)
        case "sort_by_label", "sort_by_label_desc":
            let labelNames = args.dropFirst().map(stringArgument)
            let descending = name == "sort_by_label_desc"
            return try evalVector(args[0], at: t).sorted { a, b in
                for label in labelNames {
                    let x = a.metric[label] ?? ""
                    let y = b.metric[label] ?? ""
                    if x == y { continue }
                    return Self.naturalLess(x, y) != descending
                }
                return descending ? b.metric < a.metric : a.metric < b.metric
            }
        case "histogram_quantile":
            let phi = try evalScalar(args[0], at: t)
            let vector = try evalVector(args[1], at: t)
            if phi.isNaN || phi < 0 || phi > 1 {
                warn("quantile value should be between 0 and 1, got \(PromQLFloat.formatG(phi))")
            }
            return classicHistograms(vector, argument: args[1]).map { metric, buckets in
                let result = ClassicHistogram.quantile(phi, buckets: buckets)
                if result.forcedMonotonicity {
                    info(ClassicHistogram.forcedMonotonicityInfo)
                }
                return Sample(metric: metric, t: t, v: result.value, dropName: true)
            }
        case "histogram_fraction":
            let lower = try evalScalar(args[0], at: t)
            let upper = try evalScalar(args[1], at: t)
            let vector = try evalVector(args[2], at: t)
            return classicHistograms(vector, argument: args[2]).map { metric, buckets in
                Sample(metric: metric, t: t, v: ClassicHistogram.fraction(lower: lower, upper: upper, buckets: buckets), dropName: true)
            }
        case "histogram_quantiles":
            let vector = try evalVector(args[0], at: t)
            let label = stringArgument(args[1])
            var quantiles: [Double] = []
            for argument in args.dropFirst(2) {
                let phi = try evalScalar(argument, at: t)
                if phi.isNaN || phi < 0 || phi > 1 {
                    warn("quantile value should be between 0 and 1, got \(PromQLFloat.formatG(phi))")
                }
                quantiles.append(phi)
            }
            let histograms = classicHistograms(vector, argument: args[0])
            var out: [Sample] = []
            for phi in quantiles {
                for (metric, buckets) in histograms {
                    let result = ClassicHistogram.quantile(phi, buckets: buckets)
                    if result.forcedMonotonicity { info(ClassicHistogram.forcedMonotonicityInfo) }
                    out.append(Sample(metric: metric.setting(label, Self.openMetricsFloat(phi)), t: t, v: result.value, dropName: true))
                }
            }
            return out
        case "histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev", "histogram_stdvar", "start_timestamp":
            // Native histograms only: float samples produce no output.
            _ = try evalVector(args[0], at: t)
            return []
        case "info":
            return try evalInfo(args, at: t)
        default:
            throw PromQLError(.badData, "function \"\(name)\" is not supported")
        }
    }

    /// The classic histograms in `vector`: float samples grouped by their labels without `le`, in first-seen order.
    private func classicHistograms(_ vector: [Sample], argument: Expr) -> [(Labels, [ClassicHistogram.Bucket])] {
        var order: [Labels] = []
        var groups: [Labels: [ClassicHistogram.Bucket]] = [:]
        for sample in vector {
            let le = sample.metric["le"] ?? ""
            guard let bound = Self.parseGoFloat(le) else {
                warn("bucket label \"le\" is missing or has a malformed value of \"\(le)\" for metric name \"\(sample.metric.metricName)\"")
                continue
            }
            let key = sample.metric.removing(["le"])
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(ClassicHistogram.Bucket(upperBound: bound, count: sample.v))
        }
        return order.compactMap { key in groups[key].map { (key, $0) } }
    }

    /// Prometheus' `labels.FormatOpenMetricsFloat`: Go's shortest `%g` form, with `.0` added to whole numbers.
    static func openMetricsFloat(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        let text = PromQLFloat.formatG(value)
        if text.contains(".") || text.contains("e") { return text }
        return text + ".0"
    }

    /// Go's `strconv.ParseFloat` for bucket bounds: decimals, exponents, `Inf`, `+Inf`, `-Inf`, `NaN`.
    static func parseGoFloat(_ text: String) -> Double? {
        let trimmed = text
        guard !trimmed.isEmpty else { return nil }
        switch trimmed.lowercased() {
        case "inf", "+inf", "infinity", "+infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        case "nan": return .nan
        default: break
        }
        if trimmed.lowercased().hasPrefix("0x") || trimmed.lowercased().hasPrefix("-0x") || trimmed.lowercased().hasPrefix("+0x") {
            return Double(trimmed)
        }
        guard trimmed.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE_".contains($0)) }) else { return nil }
        return Double(String(trimmed.filter { $0 != "_" }))
    }

    /// Labels for `absent()` and `absent_over_time()`: the equality matchers of a plain selector argument, minus any
    /// label matched more than once or by another kind of matcher.
    static func absentLabels(_ argument: Expr) -> Labels {
        let matchers: [LabelMatcher]
        switch argument.unparenthesized {
        case .vectorSelector(let selector): matchers = selector.matchers
        case .matrixSelector(let matrix): matchers = matrix.selector.matchers
        default: return Labels([])
        }
        var has = Set<String>()
        var result: [String: String] = [:]
        for matcher in matchers where matcher.name != Labels.metricName {
            if matcher.kind == .equal && !has.contains(matcher.name) {
                result[matcher.name] = matcher.value
                has.insert(matcher.name)
            } else {
                result[matcher.name] = nil
            }
        }
        return Labels(result.map { Label($0.key, $0.value) })
    }

    private static func calendarFunction(_ name: String) -> ((Double) -> Double)? {
        switch name {
        case "minute": CalendarFunctions.minute
        case "hour": CalendarFunctions.hour
        case "day_of_week": CalendarFunctions.dayOfWeek
        case "day_of_month": CalendarFunctions.dayOfMonth
        case "day_of_year": CalendarFunctions.dayOfYear
        case "days_in_month": CalendarFunctions.daysInMonth
        case "month": CalendarFunctions.month
        case "year": CalendarFunctions.year
        default: nil
        }
    }

    private static func mathFunction(_ name: String) -> ((Double) -> Double)? {
        switch name {
        case "abs": MathFunctions.abs
        case "ceil": MathFunctions.ceil
        case "floor": MathFunctions.floor
        case "exp": MathFunctions.exp
        case "sqrt": MathFunctions.sqrt
        case "ln": MathFunctions.ln
        case "log2": MathFunctions.log2
        case "log10": MathFunctions.log10
        case "sgn": MathFunctions.sgn
        case "acos": MathFunctions.acos
        case "acosh": MathFunctions.acosh
        case "asin": MathFunctions.asin
        case "asinh": MathFunctions.asinh
        case "atan": MathFunctions.atan
        case "atanh": MathFunctions.atanh
        case "cos": MathFunctions.cos
        case "cosh": MathFunctions.cosh
        case "sin": MathFunctions.sin
        case "sinh": MathFunctions.sinh
        case "tan": MathFunctions.tan
        case "tanh": MathFunctions.tanh
        case "deg": MathFunctions.deg
        case "rad": MathFunctions.rad
        default: nil
        }
    }

    /// Natural ordering of label values (digit runs compare as numbers), as Prometheus' `sort_by_label` uses.
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        let x = Array(a.unicodeScalars)
        let y = Array(b.unicodeScalars)
        var i = 0
        var j = 0
        func isDigit(_ s: Unicode.Scalar) -> Bool { s.value >= 48 && s.value <= 57 }
        while i < x.count && j < y.count {
            if isDigit(x[i]) && isDigit(y[j]) {
                var i2 = i
                while i2 < x.count && isDigit(x[i2]) { i2 += 1 }
                var j2 = j
                while j2 < y.count && isDigit(y[j2]) { j2 += 1 }
                let da = String(String.UnicodeScalarView(x[i..<i2])).drop { $0 == "0" }
                let db = String(String.UnicodeScalarView(y[j..<j2])).drop { $0 == "0" }
                if da.count != db.count { return da.count < db.count }
                if da != db { return da < db }
                i = i2
                j = j2
            } else {
                if x[i] != y[j] { return x[i].value < y[j].value }
                i += 1
                j += 1
            }
        }
        return x.count - i < y.count - j
    }

    // MARK: - label_replace, label_join

    private func labelReplace(_ args: [Expr], at t: Int64) throws(PromQLError) -> [Sample] {
        let replace: LabelReplace
        do {
            replace = try LabelReplace(
                destination: stringArgument(args[1]), replacement: stringArgument(args[2]), source: stringArgument(args[3]),
                regex: stringArgument(args[4]))
        } catch {
            throw PromQLError(.execution, error.message)
        }
        var vector = try evalVector(args[0], at: t)
        for index in vector.indices {
            replace.apply(to: &vector[index])
            vector[index].t = t
        }
        try checkDuplicates(vector)
        return vector
    }

    private func labelJoin(_ args: [Expr], at t: Int64) throws(PromQLError) -> [Sample] {
        let join: LabelJoin
        do {
            join = try LabelJoin(
                destination: stringArgument(args[1]), separator: stringArgument(args[2]), sources: args.dropFirst(3).map(stringArgument))
        } catch {
            throw PromQLError(.execution, error.message)
        }
        var vector = try evalVector(args[0], at: t)
        for index in vector.indices {
            join.apply(to: &vector[index])
            vector[index].t = t
        }
        try checkDuplicates(vector)
        return vector
    }
}
