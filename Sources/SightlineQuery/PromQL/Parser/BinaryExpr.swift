/// A binary operation: arithmetic, comparison, set operation, `atan2`, or the native-histogram trim operators.
package struct BinaryExpr: Sendable, Equatable {
    /// The operator.
    package var op: BinaryOperator
    /// The left operand.
    package var lhs: Expr
    /// The right operand.
    package var rhs: Expr
    /// The `bool` modifier of a comparison.
    package var returnBool: Bool
    /// How series are matched; nil unless both sides are instant vectors (as in Prometheus).
    package var matching: VectorMatching?

    /// Creates a binary operation.
    package init(op: BinaryOperator, lhs: Expr, rhs: Expr, returnBool: Bool = false, matching: VectorMatching? = nil) {
        self.op = op
        self.lhs = lhs
        self.rhs = rhs
        self.returnBool = returnBool
        self.matching = matching
    }
}

/// A binary operator; the raw value is its PromQL spelling.
package enum BinaryOperator: String, Sendable, Hashable, CaseIterable {
    case add = "+", sub = "-", mul = "*", div = "/", mod = "%", pow = "^", atan2
    case eql = "==", neq = "!=", gtr = ">", lss = "<", gte = ">=", lte = "<="
    case and, or, unless
    /// `</`: trims the upper side of native histograms.
    case trimUpper = "</"
    /// `>/`: trims the lower side of native histograms.
    case trimLower = ">/"

    /// Whether this is `==`, `!=`, `>`, `<`, `>=` or `<=`.
    package var isComparison: Bool {
        switch self {
        case .eql, .neq, .gtr, .lss, .gte, .lte: true
        default: false
        }
    }

    /// Whether this is `and`, `or` or `unless`.
    package var isSetOperator: Bool { self == .and || self == .or || self == .unless }

    /// Binding strength, weakest first: `or` 1; `and unless` 2; comparisons and trims 3; `+ -` 4; `* / % atan2` 5; `^` 6.
    package var precedence: Int {
        switch self {
        case .or: 1
        case .and, .unless: 2
        case .eql, .neq, .gtr, .lss, .gte, .lte, .trimUpper, .trimLower: 3
        case .add, .sub: 4
        case .mul, .div, .mod, .atan2: 5
        case .pow: 6
        }
    }

    /// Only `^` groups to the right.
    package var isRightAssociative: Bool { self == .pow }
}

/// Vector matching of a binary operation between two instant vectors.
package struct VectorMatching: Sendable, Equatable {
    /// `one-to-one` unless `group_left`/`group_right` (or a set operator) says otherwise.
    package var cardinality: Cardinality
    /// The `on`/`ignoring` labels.
    package var matchingLabels: [String]
    /// Whether ``matchingLabels`` came from `on` (true) or `ignoring` (false).
    package var on: Bool
    /// The `group_left`/`group_right` labels copied from the "one" side.
    package var include: [String]
    /// The experimental `fill`/`fill_left` value for series missing on the left side.
    package var fillLeft: Double?
    /// The experimental `fill`/`fill_right` value for series missing on the right side.
    package var fillRight: Double?

    /// Creates a matching; the defaults are plain one-to-one matching on all labels.
    package init(
        cardinality: Cardinality = .oneToOne, matchingLabels: [String] = [], on: Bool = false, include: [String] = [],
        fillLeft: Double? = nil, fillRight: Double? = nil
    ) {
        self.cardinality = cardinality
        self.matchingLabels = matchingLabels
        self.on = on
        self.include = include
        self.fillLeft = fillLeft
        self.fillRight = fillRight
    }

    /// Which side may have several series per match group.
    package enum Cardinality: String, Sendable, Hashable {
        case oneToOne = "one-to-one"
        /// `group_left`.
        case manyToOne = "many-to-one"
        /// `group_right`.
        case oneToMany = "one-to-many"
        /// Set operations.
        case manyToMany = "many-to-many"
    }
}
