#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The kernels of PromQL's binary operators on float values, with Go's semantics (Prometheus evaluates them with Go's
/// float64 operators and `math` package).
///
/// The evaluator matches the operands (scalar–scalar, vector–scalar, vector–vector with `on`/`ignoring` and
/// `group_left`/`group_right`) and calls these per pair.
package enum BinaryArithmetic {
    /// The arithmetic operators.
    package enum Operator: Sendable, Hashable, CaseIterable {
        /// `+`
        case add
        /// `-`
        case subtract
        /// `*`
        case multiply
        /// `/`: IEEE division, so `x/0` is ±Inf and `0/0` is NaN.
        case divide
        /// `%`: Go's `math.Mod`, the remainder of truncating division with the sign of the dividend (`-5 % 3` is
        /// `-2`); NaN when the dividend is infinite or the divisor is 0, the dividend itself when the divisor is
        /// infinite.
        case modulo
        /// `^`: Go's `math.Pow`, with C99's special cases (`x^0` is 1 even for NaN, `1^y` is 1 even for NaN, a negative
        /// base with a non-integer exponent is NaN, `0^-1` is +Inf).
        case power
        /// `atan2`: Go's `math.Atan2(lhs, rhs)`.
        case atan2
    }

    /// The comparison operators.
    package enum Comparison: Sendable, Hashable, CaseIterable {
        /// `==`
        case equal
        /// `!=`
        case notEqual
        /// `>`
        case greater
        /// `<`
        case less
        /// `>=`
        case greaterOrEqual
        /// `<=`
        case lessOrEqual
    }

    /// `lhs op rhs` for an arithmetic operator.
    @inline(__always)
    package static func apply(_ op: Operator, _ lhs: Double, _ rhs: Double) -> Double {
        switch op {
        case .add: return lhs + rhs
        case .subtract: return lhs - rhs
        case .multiply: return lhs * rhs
        case .divide: return lhs / rhs
        case .modulo: return modulo(lhs, rhs)
        case .power: return power(lhs, rhs)
        case .atan2: return libmAtan2(lhs, rhs)
        }
    }

    /// Go's `math.Mod(x, y)`: the exact IEEE `fmod`.
    @inline(__always)
    package static func modulo(_ x: Double, _ y: Double) -> Double {
        x.truncatingRemainder(dividingBy: y)
    }

    /// Go's `math.Pow(x, y)`, through the C library's `pow`, whose special cases are the same (C99 Annex F). Finite
    /// results may differ from Go's in the last bit.
    @inline(__always)
    package static func power(_ x: Double, _ y: Double) -> Double {
        libmPow(x, y)
    }

    /// Whether `lhs op rhs` holds. Every comparison with NaN is false except `!=`, which is true.
    @inline(__always)
    package static func holds(_ op: Comparison, _ lhs: Double, _ rhs: Double) -> Bool {
        switch op {
        case .equal: return lhs == rhs
        case .notEqual: return lhs != rhs
        case .greater: return lhs > rhs
        case .less: return lhs < rhs
        case .greaterOrEqual: return lhs >= rhs
        case .lessOrEqual: return lhs <= rhs
        }
    }

    /// A comparison between vector elements (or a vector element and a scalar).
    ///
    /// Without `bool` (filter mode) the element is kept, with the value `lhs`, only when the comparison holds. With
    /// `bool` it is always kept, with the value 1 or 0. When the scalar is the left operand (`1 < v`), the evaluator
    /// passes the operands in source order and, in filter mode, outputs the vector's value instead of `value`, as
    /// Prometheus does.
    @inline(__always)
    package static func compare(
        _ op: Comparison, _ lhs: Double, _ rhs: Double, returnBool: Bool
    ) -> (keep: Bool, value: Double) {
        let result = holds(op, lhs, rhs)
        if returnBool { return (true, result ? 1 : 0) }
        return (result, lhs)
    }

    /// A comparison between two scalars, which PromQL only allows with `bool`: 1 or 0.
    @inline(__always)
    package static func compareScalars(_ op: Comparison, _ lhs: Double, _ rhs: Double) -> Double {
        holds(op, lhs, rhs) ? 1 : 0
    }
}

@inline(__always) private func libmAtan2(_ y: Double, _ x: Double) -> Double { atan2(y, x) }
@inline(__always) private func libmPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
