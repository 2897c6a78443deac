/// A PromQL function's signature: argument types, how many extra arguments it takes, and its result type.
///
/// `variadic` follows Prometheus: `0` means exactly `argumentTypes.count` arguments; `n > 0` means the last
/// `argumentTypes` entry is optional and may repeat up to `n` times in all; `-1` means it may repeat without limit.
package struct PromQLFunction: Sendable, Hashable, CustomStringConvertible {
    /// The name as written in queries.
    package let name: String
    /// The types of the declared arguments.
    package let argumentTypes: [ValueType]
    /// `0`, a maximum count of the repeatable last argument, or `-1` for no limit.
    package let variadic: Int
    /// The type of the result.
    package let returnType: ValueType
    /// Experimental functions parse only when ``PromQLParser/Options/enableExperimentalFunctions`` is set.
    package let isExperimental: Bool

    /// Creates a signature.
    package init(_ name: String, _ argumentTypes: [ValueType], variadic: Int, returns returnType: ValueType, experimental: Bool = false) {
        self.name = name
        self.argumentTypes = argumentTypes
        self.variadic = variadic
        self.returnType = returnType
        self.isExperimental = experimental
    }

    /// The function name.
    package var description: String { name }

    /// The fewest arguments a call may pass.
    package var minimumArguments: Int { variadic == 0 ? argumentTypes.count : argumentTypes.count - 1 }

    /// The most arguments a call may pass, or nil when unlimited.
    package var maximumArguments: Int? {
        switch variadic {
        case 0: argumentTypes.count
        case ..<0: nil
        default: argumentTypes.count - 1 + variadic
        }
    }

    /// The expected type of argument `index` (repeating the last type for variadic functions), or nil past the end.
    package func argumentType(at index: Int) -> ValueType? {
        if index < argumentTypes.count { return argumentTypes[index] }
        return variadic == 0 ? nil : argumentTypes.last
    }

    /// The function called `name`, or nil. Names are case-sensitive, as in Prometheus.
    package static func named(_ name: String) -> PromQLFunction? { table[name] }

    /// Every function of Prometheus 3's PromQL, by name (the table of `promql/parser/functions.go`).
    /// `holt_winters` is gone in Prometheus 3 (renamed `double_exponential_smoothing`), so it is an unknown function.
    package static let table: [String: PromQLFunction] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// Every function, sorted by name.
    package static let all: [PromQLFunction] = [
        .init("abs", [.vector], variadic: 0, returns: .vector),
        .init("absent", [.vector], variadic: 0, returns: .vector),
        .init("absent_over_time", [.matrix], variadic: 0, returns: .vector),
        .init("acos", [.vector], variadic: 0, returns: .vector),
        .init("acosh", [.vector], variadic: 0, returns: .vector),
        .init("asin", [.vector], variadic: 0, returns: .vector),
        .init("asinh", [.vector], variadic: 0, returns: .vector),
        .init("atan", [.vector], variadic: 0, returns: .vector),
        .init("atanh", [.vector], variadic: 0, returns: .vector),
        .init("avg_over_time", [.matrix], variadic: 0, returns: .vector),
        .init("ceil", [.vector], variadic: 0, returns: .vector),
        .init("changes", [.matrix], variadic: 0, returns: .vector),
        .init("clamp", [.vector, .scalar, .scalar], variadic: 0, returns: .vector),
        .init("clamp_max", [.vector, .scalar], variadic: 0, returns: .vector),
        .init("clamp_min", [.vector, .scalar], variadic: 0, returns: .vector),
        .init("cos", [.vector], variadic: 0, returns: .vector),
        .init("cosh", [.vector], variadic: 0, returns: .vector),
        .init("count_over_time", [.matrix], variadic: 0, returns: .vector),
        .init("day_of_month", [.vector], variadic: 1, returns: .vector),
        .init("day_of_week", [.vector], variadic: 1, returns: .vector),
        .init("day_of_year", [.vector], variadic: 1, returns: .vector),
        .init("days_in_month", [.vector], variadic: 1, returns: .vector),
        .init("deg", [.vector], variadic: 0, returns: .vector),
        .init("delta", [.matrix], variadic: 0, returns: .vector),
        .init("deriv", [.matrix], variadic: 0, returns: .vector),
        .init("double_exponential_smoothing", [.matrix, .scalar, .scalar], variadic: 0, returns: .vector, experimental: true),
        .init("end", [], variadic: 0, returns: .scalar, experimental: true),
        .init("exp", [.vector], variadic: 0, returns: .vector),
        .init("first_over_time", [.matrix], variadic: 0, returns: .vector),
        .init("floor", [.vector], variadic: 0, returns: .vector),
        .init("histogram_avg", [.vector], variadic: 0, returns: .vector),
        .init("histogram_count", [.vector], variadic: 0, returns: .vector),
        .init("histogram_fraction", [.scalar, .scalar, .vector], variadic: 0, returns: .vector),
        .init("histogram_quantile", [.scalar, .vector], variadic: 0, returns: .vector),
        .init("histogram_quantiles", [.vector, .string, .scalar, .scalar], variadic: 9, returns: .vector, experimental: true),
        .init("histogram_stddev", [.vector], variadic: 0, returns: .vector),
        .init("histogram_stdvar", [.vector], variadic: 0, returns: .vector),
        .init("histogram_sum", [.vector], variadic: 0, returns: .vector),
        .init("hour", [.vector], variadic: 1, returns: .vector),
        .init("idelta", [.matrix], variadic: 0, returns: .vector),
        .init("increase", [.matrix], variadic: 0, returns: .vector),
        .init("info", [.vector, .vector], variadic: 1, returns: .vector, experimental: true),
        .init("irate", [.matrix], variadic: 0, returns: .vector),
        .init("label_join", [.vector, .string, .string, .string], variadic: -1, returns: .vector),
        .init("label_replace", [.vector, .string, .string, .string, .string], variadic: 0, returns: .vector),
        .init("last_over_time", [.matrix], variadic: 0, returns: .vector),
        .init("ln", [.vector], variadic: 0, returns: .vector),
        .init("log10", [.vector], variadic: 0, returns: .vector),
        .init("log2", [.vector], variadic: 0, returns: .vector),
        .init("mad_over_time", [.matrix], variadic: 0, returns: .vector, experimental: true),
        .init("max_of", [.scalar, .scalar], variadic: 0, returns: .scalar, experimental: true),
        .init("max_over_time", [.matrix], variadic: 0, returns: .vector),
        .init("min_of", [.scalar, .scalar], variadic: 0, returns: .scalar, experimental: true),
        .init("min_over_time", [.matrix], variadic: 0, returns: .vector),
        .init("minute", [.vector], variadic: 1, returns: .vector),
        .init("month", [.vector], variadic: 1, returns: .vector),
        .init("pi", [], variadic: 0, returns: .scalar),
        .init("predict_linear", [.matrix, .scalar], variadic: 0, returns: .vector),
        .init("present_over_time", [.matrix], variadic: 0, returns: .vector),
        .init("quantile_over_time", [.scalar, .matrix], variadic: 0, returns: .vector),
        .init("rad", [.vector], variadic: 0, returns: .vector),
        .init("range", [], variadic: 0, returns: .scalar, experimental: true),
        .init("rate", [.matrix], variadic: 0, returns: .vector),
        .init("resets", [.matrix], variadic: 0, returns: .vector),
        .init("round", [.vector, .scalar], variadic: 1, returns: .vector),
        .init("scalar", [.vector], variadic: 0, returns: .scalar),
        .init("sgn", [.vector], variadic: 0, returns: .vector),
        .init("sin", [.vector], variadic: 0, returns: .vector),
        .init("sinh", [.vector], variadic: 0, returns: .vector),
        .init("sort", [.vector], variadic: 0, returns: .vector),
        .init("sort_by_label", [.vector, .string], variadic: -1, returns: .vector, experimental: true),
        .init("sort_by_label_desc", [.vector, .string], variadic: -1, returns: .vector, experimental: true),
        .init("sort_desc", [.vector], variadic: 0, returns: .vector),
        .init("sqrt", [.vector], variadic: 0, returns: .vector),
        .init("start", [], variadic: 0, returns: .scalar, experimental: true),
        .init("start_timestamp", [.vector], variadic: 0, returns: .vector, experimental: true),
        .init("stddev_over_time", [.matrix], variadic: 0, returns: .vector),
        .init("stdvar_over_time", [.matrix], variadic: 0, returns: .vector),
        .init("step", [], variadic: 0, returns: .scalar, experimental: true),
        .init("sum_over_time", [.matrix], variadic: 0, returns: .vector),
        .init("tan", [.vector], variadic: 0, returns: .vector),
        .init("tanh", [.vector], variadic: 0, returns: .vector),
        .init("time", [], variadic: 0, returns: .scalar),
        .init("timestamp", [.vector], variadic: 0, returns: .vector),
        .init("ts_of_first_over_time", [.matrix], variadic: 0, returns: .vector, experimental: true),
        .init("ts_of_last_over_time", [.matrix], variadic: 0, returns: .vector, experimental: true),
        .init("ts_of_max_over_time", [.matrix], variadic: 0, returns: .vector, experimental: true),
        .init("ts_of_min_over_time", [.matrix], variadic: 0, returns: .vector, experimental: true),
        .init("vector", [.scalar], variadic: 0, returns: .vector),
        .init("year", [.vector], variadic: 1, returns: .vector),
    ]
}
