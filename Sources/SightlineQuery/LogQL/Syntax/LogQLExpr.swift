package import SightlineCore

/// A parsed LogQL query: a log query (a stream selector with a pipeline) or a metric query built from range
/// aggregations over log queries, vector aggregations, binary operations and literals, as Loki's grammar has them.
package indirect enum LogQLExpr: Sendable {
    /// `{app="api"} |= "error" | json`: a log query.
    case log(LogSelectorExpr)
    /// `count_over_time({app="api"}[5m])`, `sum_over_time({…} | unwrap x [1m]) by (a)`.
    case rangeAggregation(RangeAggregationExpr)
    /// `sum by (a) (…)`, `topk(3, …)`, `sort(…)`.
    case vectorAggregation(VectorAggregationExpr)
    /// `a / b`, `a > bool 1`, `a and on (x) b`.
    case binary(LogQLBinaryExpr)
    /// A number literal (a scalar).
    case literal(Double)
    /// `vector(0)`: a one-element vector without labels.
    case vector(Double)
    /// `label_replace(expr, "dst", "replacement", "src", "regex")`.
    case labelReplace(LogQLExpr, LabelReplaceArguments)

    /// Whether the query yields samples rather than log lines.
    package var isMetric: Bool {
        if case .log = self { return false }
        return true
    }

    /// Whether a `sort` or `sort_desc` appears anywhere (then Loki keeps an instant vector in value order).
    var sortsByValue: Bool {
        switch self {
        case .vectorAggregation(let aggregation):
            aggregation.op == .sort || aggregation.op == .sortDesc || aggregation.expr.sortsByValue
        case .binary(let binary): binary.lhs.sortsByValue || binary.rhs.sortsByValue
        case .labelReplace(let inner, _): inner.sortsByValue
        case .log, .rangeAggregation, .literal, .vector: false
        }
    }

    /// Every stream selector's matchers in the expression, in source order: what `/series` and `/index/stats` need.
    package var streamMatchers: [[LabelMatcher]] {
        switch self {
        case .log(let selector): [selector.matchers]
        case .rangeAggregation(let range): [range.range.selector.matchers]
        case .vectorAggregation(let aggregation): aggregation.expr.streamMatchers
        case .binary(let binary): binary.lhs.streamMatchers + binary.rhs.streamMatchers
        case .literal, .vector: []
        case .labelReplace(let inner, _): inner.streamMatchers
        }
    }
}

/// A stream selector and the pipeline applied to each of its records.
package struct LogSelectorExpr: Sendable {
    /// The stream matchers (`{a="b", c=~"d.*"}`).
    package var matchers: [LabelMatcher]
    /// The pipeline stages, in order.
    package var stages: [LogStage]

    package init(matchers: [LabelMatcher], stages: [LogStage] = []) {
        self.matchers = matchers
        self.stages = stages
    }

    /// Whether the pipeline is only plain `|=` filters (one literal each, no `or`): a line is selected exactly when it
    /// contains every ``requiredSubstrings`` entry, and neither line nor labels change.
    package var isOnlySubstringFilters: Bool {
        stages.allSatisfy { stage in
            guard case .lineFilter(let filter) = stage, filter.kind == .contains, filter.alternatives.count == 1,
                case .text = filter.alternatives[0]
            else { return false }
            return true
        }
    }

    /// The substrings every selected line must contain: the plain `|=` filters (not inside `or`, not empty) that come
    /// before the first parser or line-changing stage (`line_format`, `decolorize`). Label filters and label edits in
    /// between do not change the line, so filters after them still count. A store may skip blocks without them.
    package var requiredSubstrings: [String] {
        var out: [String] = []
        for stage in stages {
            switch stage {
            case .lineFilter(let filter):
                if filter.kind == .contains, filter.alternatives.count == 1, case .text(let text) = filter.alternatives[0], !text.isEmpty {
                    out.append(text)
                }
            case .labelFilter, .labelFormat, .drop, .keep:
                continue
            case .parser, .lineFormat, .decolorize:
                return out
            }
        }
        return out
    }
}

/// One stage of a log pipeline.
package enum LogStage: Sendable {
    /// `|= "a"`, `!~ "b.*"`, `|= "a" or "b"`.
    case lineFilter(LineFilterExpr)
    /// `| json`, `| logfmt`, `| regexp "…"`, `| pattern "…"`, `| unpack`.
    case parser(LogParserExpr)
    /// `| status >= 500 and path=~"/api.*"`.
    case labelFilter(LabelFilterExpr)
    /// `| line_format "{{.a}}"`.
    case lineFormat(String)
    /// `| label_format a=b, c="{{.d}}"`.
    case labelFormat([LabelFormatItem])
    /// `| drop a, b="v"`.
    case drop([NamedLabelMatcher])
    /// `| keep a, b="v"`.
    case keep([NamedLabelMatcher])
    /// `| decolorize`: removes ANSI colour escapes from the line.
    case decolorize
}

/// A line filter: one operator and one or more alternatives joined by `or`.
package struct LineFilterExpr: Sendable {
    /// The filter operators.
    package enum Kind: String, Sendable {
        case contains = "|=", notContains = "!=", regex = "|~", notRegex = "!~", pattern = "|>", notPattern = "!>"

        /// Whether the operator keeps lines that do not match.
        package var isNegative: Bool { self == .notContains || self == .notRegex || self == .notPattern }
    }

    /// One alternative: a string (text, regex or pattern, depending on the operator) or `ip("…")`.
    package enum Alternative: Sendable {
        case text(String)
        case ip(String)
    }

    package var kind: Kind
    /// For a positive operator a line passes when any alternative matches; for a negative one when none does.
    package var alternatives: [Alternative]
}

/// A parser stage.
package enum LogParserExpr: Sendable {
    /// `| json` (every field, flattened) or `| json a="x.y", b` (the given paths).
    case json([LabelExtraction])
    /// `| logfmt`, with the `--strict` and `--keep-empty` flags and optional extractions.
    case logfmt(strict: Bool, keepEmpty: Bool, [LabelExtraction])
    /// `| regexp "(?P<name>…)"`.
    case regexp(String)
    /// `| pattern "<ip> - <_> …"`.
    case pattern(String)
    /// `| unpack`: a JSON object of string values, `_entry` becoming the line.
    case unpack
}

/// `name="path"` (or just `name`) in `| json …` and `| logfmt …`.
package struct LabelExtraction: Sendable, Equatable {
    package var name: String
    package var path: String

    package init(name: String, path: String) {
        self.name = name
        self.path = path
    }
}

/// A label filter expression.
package indirect enum LabelFilterExpr: Sendable {
    /// `name = "v"`, `name =~ "re"` …: the label value (empty when absent) against a matcher.
    case matcher(LabelMatcher)
    /// `name > 1.5`: the label value as a number.
    case numeric(name: String, op: LabelFilterComparison, value: Double)
    /// `name > 250ms`: the label value as a Go duration, compared in seconds.
    case duration(name: String, op: LabelFilterComparison, seconds: Double)
    /// `name > 1KB`: the label value as a byte size.
    case bytes(name: String, op: LabelFilterComparison, value: Double)
    /// `name = ip("10.0.0.0/8")`, `name != ip("…")`.
    case ip(name: String, equal: Bool, pattern: String)
    case and(LabelFilterExpr, LabelFilterExpr)
    case or(LabelFilterExpr, LabelFilterExpr)
}

/// The comparison of numeric, duration and bytes label filters.
package enum LabelFilterComparison: String, Sendable {
    case greater = ">", greaterOrEqual = ">=", less = "<", lessOrEqual = "<=", equal = "==", notEqual = "!="

    /// Whether `lhs op rhs` holds.
    func holds(_ lhs: Double, _ rhs: Double) -> Bool {
        switch self {
        case .greater: lhs > rhs
        case .greaterOrEqual: lhs >= rhs
        case .less: lhs < rhs
        case .lessOrEqual: lhs <= rhs
        case .equal: lhs == rhs
        case .notEqual: lhs != rhs
        }
    }
}

/// One item of `| label_format`: a rename (`dst=src`) or a template (`dst="{{.a}}-{{.b}}"`).
package enum LabelFormatItem: Sendable {
    case rename(destination: String, source: String)
    case template(destination: String, template: String)

    /// The label the item writes.
    package var destination: String {
        switch self {
        case .rename(let destination, _), .template(let destination, _): destination
        }
    }
}

/// An item of `| drop` and `| keep`: a bare name (any value) or a matcher (only when the value matches).
package struct NamedLabelMatcher: Sendable {
    package var name: String
    package var matcher: LabelMatcher?

    package init(name: String, matcher: LabelMatcher? = nil) {
        self.name = name
        self.matcher = matcher
    }
}

/// A log range: the log query, the range, the offset and the optional `| unwrap`.
package struct LogRangeExpr: Sendable {
    package var selector: LogSelectorExpr
    /// The range, in nanoseconds.
    package var rangeNs: Int64
    /// The offset, in nanoseconds (may be negative).
    package var offsetNs: Int64
    package var unwrap: UnwrapExpr?

    package init(selector: LogSelectorExpr, rangeNs: Int64, offsetNs: Int64 = 0, unwrap: UnwrapExpr? = nil) {
        self.selector = selector
        self.rangeNs = rangeNs
        self.offsetNs = offsetNs
        self.unwrap = unwrap
    }
}

/// `| unwrap label`, `| unwrap duration(label)`, `| unwrap bytes(label)`, with label filters after it.
package struct UnwrapExpr: Sendable {
    /// How the label value becomes a number.
    package enum Conversion: String, Sendable {
        /// A float (Go's `strconv.ParseFloat`).
        case number = ""
        /// A Go duration, in seconds (`duration` and `duration_seconds`).
        case duration
        /// A byte size (`1.5KB`, `3 MiB`).
        case bytes
    }

    package var label: String
    package var conversion: Conversion
    /// Label filters applied after the conversion (typically `| __error__=""`).
    package var postFilters: [LabelFilterExpr]

    package init(label: String, conversion: Conversion = .number, postFilters: [LabelFilterExpr] = []) {
        self.label = label
        self.conversion = conversion
        self.postFilters = postFilters
    }
}

/// The range aggregation functions.
package enum RangeAggregationOp: String, Sendable, CaseIterable {
    case countOverTime = "count_over_time"
    case rate
    case rateCounter = "rate_counter"
    case bytesOverTime = "bytes_over_time"
    case bytesRate = "bytes_rate"
    case avgOverTime = "avg_over_time"
    case sumOverTime = "sum_over_time"
    case minOverTime = "min_over_time"
    case maxOverTime = "max_over_time"
    case stdvarOverTime = "stdvar_over_time"
    case stddevOverTime = "stddev_over_time"
    case quantileOverTime = "quantile_over_time"
    case firstOverTime = "first_over_time"
    case lastOverTime = "last_over_time"
    case absentOverTime = "absent_over_time"

    /// Whether Loki allows `by`/`without` on it.
    var allowsGrouping: Bool {
        switch self {
        case .avgOverTime, .stddevOverTime, .stdvarOverTime, .quantileOverTime, .maxOverTime, .minOverTime, .firstOverTime,
            .lastOverTime:
            true
        default: false
        }
    }

    /// Whether it works on unwrapped values.
    var allowsUnwrap: Bool {
        switch self {
        case .countOverTime, .bytesOverTime, .bytesRate: false
        default: true
        }
    }

    /// Whether it works without `| unwrap`.
    var allowsLines: Bool {
        switch self {
        case .countOverTime, .rate, .bytesOverTime, .bytesRate, .absentOverTime: true
        default: false
        }
    }
}

/// `by (a, b)` or `without (a)`.
package struct LogQLGrouping: Sendable, Equatable {
    package var labels: [String]
    package var without: Bool

    package init(labels: [String], without: Bool) {
        self.labels = labels
        self.without = without
    }

    /// The labels a series is grouped under.
    func key(_ labels: Labels) -> Labels {
        without ? labels.removing(Set(self.labels)) : labels.keeping(Set(self.labels))
    }
}

/// A range aggregation over a log range.
package struct RangeAggregationExpr: Sendable {
    package var op: RangeAggregationOp
    package var range: LogRangeExpr
    /// The φ of `quantile_over_time`.
    package var parameter: Double?
    package var grouping: LogQLGrouping?
}

/// The vector aggregation operators.
package enum VectorAggregationOp: String, Sendable, CaseIterable {
    case sum, avg, count, max, min, stddev, stdvar, bottomk, topk, sort
    case sortDesc = "sort_desc"
    /// Loki's sketch-based `topk`; computed exactly here, which is what the sketch approximates.
    case approxTopk = "approx_topk"
}

/// A vector aggregation.
package struct VectorAggregationExpr: Sendable {
    package var op: VectorAggregationOp
    package var expr: LogQLExpr
    /// The `k` of `topk`/`bottomk`.
    package var parameter: Double?
    package var grouping: LogQLGrouping?
}

/// A binary operation, with PromQL's operators and vector matching.
package struct LogQLBinaryExpr: Sendable {
    package var op: BinaryOperator
    package var lhs: LogQLExpr
    package var rhs: LogQLExpr
    package var returnBool: Bool
    package var matching: VectorMatching?
}

/// The string arguments of `label_replace`, checked when parsing (``LabelReplace`` compiles them).
package struct LabelReplaceArguments: Sendable, Equatable {
    package var destination: String
    package var replacement: String
    package var source: String
    package var regex: String
}
