package import SightlineCore

/// Parses PromQL as Prometheus 3 does: expressions, metric selectors, durations and test-script series descriptions.
///
/// Every failure is a `SightlineError(.invalidArgument, …)` whose message is exactly Prometheus 3's error text, e.g.
/// `1:9: parse error: unexpected end of input` (line:column, then the message; this is what Prometheus 3's HTTP API
/// returns in `error`, where Prometheus 2 said `parse error at char 9: …`). The structured ``PromQLParseError`` is
/// the error's `cause`.
package enum PromQLParser {
    /// Prometheus' parser options. The defaults match a Prometheus server started without feature flags.
    package struct Options: Sendable, Hashable {
        /// Experimental functions and aggregations (`info`, `sort_by_label`, `limitk`, `double_exponential_smoothing`, …):
        /// `--enable-feature=promql-experimental-functions`.
        package var enableExperimentalFunctions: Bool
        /// Arithmetic, `step()`, `range()`, `min_of`/`max_of` in ranges and offsets: `promql-duration-expr`.
        package var enableDurationExpressions: Bool
        /// The `anchored` and `smoothed` modifiers: `promql-extended-range-selectors`.
        package var enableExtendedRangeSelectors: Bool
        /// `fill`, `fill_left` and `fill_right` on binary operations: `promql-binop-fill-modifiers`.
        package var enableBinopFillModifiers: Bool

        /// Creates options; every feature is off unless given.
        package init(
            enableExperimentalFunctions: Bool = false, enableDurationExpressions: Bool = false, enableExtendedRangeSelectors: Bool = false,
            enableBinopFillModifiers: Bool = false
        ) {
            self.enableExperimentalFunctions = enableExperimentalFunctions
            self.enableDurationExpressions = enableDurationExpressions
            self.enableExtendedRangeSelectors = enableExtendedRangeSelectors
            self.enableBinopFillModifiers = enableBinopFillModifiers
        }

        /// Prometheus' `--enable-feature` names of the parser's features.
        package static let featureNames = [
            "promql-experimental-functions", "promql-duration-expr", "promql-extended-range-selectors", "promql-binop-fill-modifiers",
        ]

        /// Turns on the feature Prometheus names `name` (one of ``featureNames``); false when there is none by that name.
        package mutating func enable(feature name: String) -> Bool {
            switch name {
            case "promql-experimental-functions": enableExperimentalFunctions = true
            case "promql-duration-expr": enableDurationExpressions = true
            case "promql-extended-range-selectors": enableExtendedRangeSelectors = true
            case "promql-binop-fill-modifiers": enableBinopFillModifiers = true
            default: return false
            }
            return true
        }

        /// The names of the features that are on, in ``featureNames`` order.
        package var enabledFeatureNames: [String] {
            zip(Self.featureNames, [enableExperimentalFunctions, enableDurationExpressions, enableExtendedRangeSelectors, enableBinopFillModifiers])
                .filter(\.1).map(\.0)
        }

        /// Prometheus' defaults: every experimental feature off.
        package static let `default` = Options()

        /// Everything on, as Prometheus' own PromQL test scripts (`promqltest.TestParserOpts`) run.
        package static let allFeatures = Options(
            enableExperimentalFunctions: true, enableDurationExpressions: true, enableExtendedRangeSelectors: true,
            enableBinopFillModifiers: true)
    }

    /// Parses and type-checks a PromQL expression.
    /// - Throws: `invalidArgument` with Prometheus' message, e.g. `1:5: parse error: unexpected end of input`.
    package static func parse(_ input: String, options: Options = .default) throws -> Expr {
        var parser = ExpressionParser(input, options: options)
        do {
            return try parser.parseExpression()
        } catch {
            throw SightlineError(.invalidArgument, error.description, cause: error)
        }
    }

    /// Parses a series selector as given to `/api/v1/series` `match[]`, `/api/v1/labels` and friends: `foo`,
    /// `foo{a="b"}`, `{__name__=~"x.*", "service.name"="api"}`. The metric name, when written before the braces,
    /// is the last matcher. Like Prometheus, this does not demand a non-empty matcher; callers check that.
    package static func parseMetricSelector(_ input: String) throws -> [LabelMatcher] {
        var parser = ExpressionParser(input, options: .default)
        do {
            return try parser.parseMetricSelector().matchers
        } catch {
            throw SightlineError(.invalidArgument, error.description, cause: error)
        }
    }

    /// Parses a duration the way Prometheus' HTTP API parses `step`, `timeout` and `lookback_delta`: a number of
    /// seconds (`30`, `1.5`) or a Prometheus duration (`5m`, `1h30m`, `500ms`). Returns milliseconds.
    /// - Throws: `invalidArgument`: `cannot parse "x" to a valid duration`, or `… duration out of range`.
    package static func parseDuration(_ input: String) throws -> Int64 {
        if let seconds = Double(input), !input.isEmpty, input.allSatisfy({ $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" || $0 == "e" || $0 == "E" }) {
            let milliseconds = seconds * 1000
            guard milliseconds.isFinite, milliseconds.magnitude < 9.2e15 else {
                throw SightlineError(.invalidArgument, "cannot parse \(GoText.quote(input)) to a valid duration. It overflows int64")
            }
            return Int64(milliseconds.rounded())
        }
        switch PromQLLiteral.duration(input) {
        case .success(let milliseconds): return milliseconds
        case .failure: throw SightlineError(.invalidArgument, "cannot parse \(GoText.quote(input)) to a valid duration")
        }
    }

    /// Parses a series line of Prometheus' test scripts (`promqltest`), as `parser.ParseSeriesDesc` does:
    /// `metric{a="b"} 0+10x5 _ stale 1 -2+4x3 _x2`.
    ///
    /// Expansion rules: `a` is one value; `axN` is N+1 copies of a; `a+bxN` and `a-bxN` are the N+1 values a, a±b, …
    /// (accumulated in floating point); `_` is one missing sample and `_xN` is N of them; `stale` is a staleness marker.
    /// - Throws: `invalidArgument` for malformed lines; native histogram values (`{{…}}`) throw an error whose cause is a
    ///   ``PromQLParseError`` of kind ``PromQLParseError/Kind/unsupported``.
    package static func parseSeriesDescription(_ line: String) throws -> (labels: Labels, values: [SeriesValue]) {
        var parser = SeriesDescriptionParser(line)
        do {
            return try parser.parse()
        } catch {
            throw SightlineError(.invalidArgument, error.description, cause: error)
        }
    }
}
