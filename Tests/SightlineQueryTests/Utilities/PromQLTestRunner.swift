import Foundation
import SightlineCore
@testable import SightlineQuery

/// Where a script's `load`ed series go and what its queries read: memory (``PromQLTestStorage``) or a real store.
protocol PromQLTestData: AnyObject {
    /// What the engine queries.
    var querier: any MetricQuerier { get }
    /// Drops every series (`clear`).
    func clear() throws
    /// Adds one series' samples; a later sample at the same timestamp replaces an earlier one.
    func add(_ labels: Labels, _ samples: [(t: Int64, v: Double)]) throws
    /// Makes what was added visible to queries; called before the first `eval` after a `load`.
    func commit() throws
}

/// Runs a ``PromQLTestScript`` against ``PromQLEngine`` over ``PromQLTestData``, as `promqltest` does: each
/// instant `eval` runs as an instant query and again in range mode (a 1m-step range query around the time).
struct PromQLTestRunner {
    enum Outcome {
        case passed
        case failed(String)
        case skipped(String)
    }

    struct Result {
        var line: Int
        var expr: String
        var outcome: Outcome
        var annotationNote: String?
    }

    static let epsilon = 1e-6

    /// - Throws: what `data` throws while it loads or commits series.
    static func run(_ script: PromQLTestScript, data: any PromQLTestData = PromQLTestStorage()) throws -> [Result] {
        var options = PromQLEngine.Options()
        options.parserOptions = .allFeatures
        options.maxPointsPerSeries = Int.max
        var unsupportedSeries: [Labels] = []
        var unsupportedReason: String?
        var results: [Result] = []
        var uncommitted = false
        for command in script.commands {
            switch command {
            case .clear:
                try data.clear()
                unsupportedSeries = []
                unsupportedReason = nil
            case .load(let load):
                for series in load.series {
                    var samples: [(t: Int64, v: Double)] = []
                    for (index, value) in series.values.enumerated() {
                        let t = Int64(index) * load.stepMs
                        switch value {
                        case .value(let v): samples.append((t, v))
                        case .stale: samples.append((t, StaleNaN.value))
                        case .missing: break
                        }
                    }
                    try data.add(series.labels, samples)
                    uncommitted = true
                }
                if let reason = load.unsupportedReason {
                    unsupportedReason = reason
                    unsupportedSeries += load.unsupportedSeries
                    if reason.contains("nhcb") {
                        // Classic histograms are also converted to native ones under their base name.
                        for series in load.series {
                            let name = series.labels.metricName
                            for suffix in ["_bucket", "_count", "_sum"] where name.hasSuffix(suffix) {
                                unsupportedSeries.append(
                                    series.labels.removing(["le"]).setting(Labels.metricName, String(name.dropLast(suffix.count))))
                            }
                        }
                    }
                }
            case .eval(let eval):
                if let reason = eval.skipReason {
                    results.append(Result(line: eval.line, expr: eval.expr, outcome: .skipped(reason)))
                    continue
                }
                if uncommitted {
                    try data.commit()
                    uncommitted = false
                }
                var result = run(eval, PromQLEngine(querier: data.querier, options: options))
                // A case that fails while it reads series Sightline could not load (native histograms) is skipped.
                if case .failed = result.outcome, let reason = unsupportedReason, selectsAny(eval.expr, unsupportedSeries) {
                    result.outcome = .skipped(reason)
                }
                results.append(result)
            }
        }
        return results
    }

    /// Whether any selector of `expr` would select one of `series`.
    static func selectsAny(_ expr: String, _ series: [Labels]) -> Bool {
        guard !series.isEmpty, let parsed = try? PromQLParser.parse(expr, options: .allFeatures) else { return false }
        var selectors: [[LabelMatcher]] = []
        func walk(_ e: Expr) {
            switch e {
            case .number, .string: break
            case .vectorSelector(let selector): selectors.append(selector.matchers)
            case .matrixSelector(let matrix): selectors.append(matrix.selector.matchers)
            case .subquery(let subquery): walk(subquery.expr)
            case .paren(let inner), .unary(_, let inner): walk(inner)
            case .binary(let binary):
                walk(binary.lhs)
                walk(binary.rhs)
            case .aggregate(let aggregate):
                walk(aggregate.expr)
                if let param = aggregate.param { walk(param) }
            case .call(let call): call.args.forEach(walk)
            }
        }
        walk(parsed)
        return selectors.contains { matchers in series.contains { labels in matchers.allSatisfy { $0.matches(labels) } } }
    }

    static func run(_ eval: PromQLTestScript.Eval, _ engine: PromQLEngine) -> Result {
        var result = Result(line: eval.line, expr: eval.expr, outcome: .passed)
        let outcome: PromQLResult
        do {
            if eval.isRange {
                outcome = try engine.rangeQuery(eval.expr, tenant: .default, startMs: eval.startMs, endMs: eval.endMs, stepMs: eval.stepMs)
            } else {
                outcome = try engine.instantQuery(eval.expr, tenant: .default, timeMs: eval.endMs)
            }
        } catch {
            if eval.fail {
                result.outcome = checkFailure(eval, error.message)
            } else {
                result.outcome = .failed("error evaluating query: \(error.message)")
            }
            return result
        }
        if eval.fail {
            result.outcome = .failed("expected error evaluating query but got none")
            return result
        }
        result.annotationNote = annotationNote(eval, outcome)
        if let diff = compare(eval, outcome.value, instantRange: !eval.isRange && eval.excludeFromRangeQuery) {
            result.outcome = .failed(diff)
            return result
        }
        guard !eval.isRange, !eval.excludeFromRangeQuery, !eval.ordered,
            eval.expr.range(of: #"(start|end|range|step)\(\)"#, options: .regularExpression) == nil
        else { return result }
        // Range mode: the same query as a range query around the time must give the same value at that time.
        let t = eval.endMs
        do {
            let rangeOutcome = try engine.rangeQuery(eval.expr, tenant: .default, startMs: t - 60_000, endMs: t + 60_000, stepMs: 60_000)
            guard case .matrix(let series) = rangeOutcome.value else {
                result.outcome = .failed("range mode: result is not a matrix")
                return result
            }
            var vector: [Sample] = []
            for item in series {
                if let point = item.points.first(where: { $0.t == t }) {
                    vector.append(Sample(metric: item.metric, t: t, v: point.v))
                }
            }
            let value: PromQLValue
            if case .scalar = outcome.value {
                value = .scalar(t: t, v: vector.first?.v ?? .nan)
            } else {
                value = .vector(vector)
            }
            if let diff = compare(eval, value, instantRange: false) {
                result.outcome = .failed("range mode: " + diff)
            }
        } catch {
            result.outcome = .failed("range mode: error evaluating query: \(error.message)")
        }
        return result
    }

    static func checkFailure(_ eval: PromQLTestScript.Eval, _ message: String) -> Outcome {
        if let expected = eval.failMessage, expected != message {
            return .failed("expected error \(expected.debugDescription), got \(message.debugDescription)")
        }
        if let pattern = eval.failRegex {
            guard let regex = try? Regex(pattern) else { return .failed("invalid regex \(pattern)") }
            if (try? regex.firstMatch(in: message)) == nil {
                return .failed("expected error matching \(pattern.debugDescription), got \(message.debugDescription)")
            }
        }
        return .passed
    }

    static func annotationNote(_ eval: PromQLTestScript.Eval, _ outcome: PromQLResult) -> String? {
        var notes: [String] = []
        if eval.expectWarn && outcome.warnings.isEmpty { notes.append("expected a warning") }
        if eval.expectNoWarn && !outcome.warnings.isEmpty { notes.append("unexpected warnings \(outcome.warnings)") }
        if eval.expectInfo && outcome.infos.isEmpty { notes.append("expected an info") }
        if eval.expectNoInfo && !outcome.infos.isEmpty { notes.append("unexpected infos \(outcome.infos)") }
        return notes.isEmpty ? nil : notes.joined(separator: "; ")
    }

    static func almostEqual(_ a: Double, _ b: Double) -> Bool {
        ClassicHistogram.almostEqual(a, b, tolerance: epsilon)
    }

    /// Compares a value with the expectations as `compareResult` does; nil when they agree, else a description.
    static func compare(_ eval: PromQLTestScript.Eval, _ value: PromQLValue, instantRange: Bool) -> String? {
        switch value {
        case .scalar(_, let v):
            guard let expected = eval.expectScalar else { return "expected vector or matrix result, but got scalar \(v)" }
            return almostEqual(expected, v) ? nil : "expected scalar \(expected) but got \(v)"
        case .string(_, let s):
            return eval.expectedString == s ? nil : "expected string \(String(describing: eval.expectedString)) but got \(s.debugDescription)"
        case .vector(let samples):
            if eval.expectScalar != nil { return "expected scalar result, but got vector \(describe(samples))" }
            var expected: [Labels: (position: Int, value: SeriesValue)] = [:]
            for (position, line) in eval.expected.enumerated() {
                expected[line.labels] = (position, line.values.first ?? .missing)
            }
            var seen = Set<Labels>()
            for (position, sample) in samples.enumerated() {
                guard let entry = expected[sample.metric] else {
                    return "unexpected metric \(sample.metric.promString) in result, has value \(sample.v); got \(describe(samples))"
                }
                if eval.ordered && entry.position != position {
                    return "expected metric \(sample.metric.promString) at position \(entry.position + 1) but was at \(position + 1)"
                }
                let expectedValue: Double
                switch entry.value {
                case .value(let v): expectedValue = v
                case .stale: expectedValue = StaleNaN.value
                case .missing: expectedValue = .nan
                }
                if !almostEqual(expectedValue, sample.v) {
                    return "expected \(expectedValue) for \(sample.metric.promString) but got \(sample.v)"
                }
                seen.insert(sample.metric)
            }
            for line in eval.expected where !seen.contains(line.labels) {
                return "expected metric \(line.labels.promString) not found; got \(describe(samples))"
            }
            return nil
        case .matrix(let series):
            if eval.ordered { return "expected ordered result, but query returned a matrix" }
            if eval.expectScalar != nil { return "expected scalar result, but got a matrix" }
            var expected: [Labels: [SeriesValue]] = [:]
            for line in eval.expected { expected[line.labels] = line.values }
            var seen = Set<Labels>()
            for item in series {
                guard let values = expected[item.metric] else {
                    return "unexpected metric \(item.metric.promString) in result, has \(item.points.map { "\($0.v)@\($0.t)" })"
                }
                seen.insert(item.metric)
                var points: [FloatPoint] = []
                for (index, value) in values.enumerated() {
                    let t = eval.startMs + Int64(index) * eval.stepMs
                    switch value {
                    case .value(let v): points.append(FloatPoint(t: t, v: v))
                    case .stale: points.append(FloatPoint(t: t, v: StaleNaN.value))
                    case .missing: break
                    }
                }
                if points.count != item.points.count {
                    return "expected \(points.count) points for \(item.metric.promString), got \(item.points.map { "\($0.v)@\($0.t)" })"
                }
                for (a, b) in zip(points, item.points) {
                    if a.t != b.t { return "expected timestamp \(a.t) for \(item.metric.promString), got \(b.t)" }
                    if !almostEqual(a.v, b.v) {
                        return "expected \(a.v) at t=\(a.t) for \(item.metric.promString), got \(b.v)"
                    }
                }
            }
            for line in eval.expected where !seen.contains(line.labels) {
                return "expected metric \(line.labels.promString) not found"
            }
            return nil
        }
    }

    static func describe(_ samples: [Sample]) -> String {
        "[" + samples.prefix(6).map { "\($0.metric.promString) \($0.v)" }.joined(separator: ", ") + (samples.count > 6 ? ", …" : "") + "]"
    }
}
