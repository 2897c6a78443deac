#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import SightlineCore

/// An experimental duration expression in a range, subquery step or offset: `[5m+1m]`, `[step()*2]`, `offset -(1h/2)`.
///
/// Values are in seconds. ``PromQLParser`` keeps plain literals (`[5m]`, `offset -1h`) as fixed milliseconds in the
/// selector instead; only expressions that need arithmetic or the query's step/range end up here.
package indirect enum DurationExpr: Sendable, Equatable {
    /// A number of seconds; `isDuration` when written with units (`5m`).
    case number(Double, isDuration: Bool = false)
    /// `step()`: the query's step.
    case step
    /// `range()`: the query's range (end - start).
    case range
    case minOf(DurationExpr, DurationExpr)
    case maxOf(DurationExpr, DurationExpr)
    /// `-expr` (a unary `+` is dropped when parsing).
    case negate(DurationExpr)
    case binary(Operator, DurationExpr, DurationExpr)
    case paren(DurationExpr)

    /// The arithmetic allowed in duration expressions.
    package enum Operator: String, Sendable, Hashable {
        case add = "+", sub = "-", mul = "*", div = "/", mod = "%", pow = "^"
    }

    /// Evaluates to seconds, given the query's step and range in seconds.
    /// - Throws: `invalidArgument` on division or modulo by zero.
    package func seconds(step: Double, range: Double) throws -> Double {
        switch self {
        case .number(let value, _): return value
        case .step: return step
        case .range: return range
        case .minOf(let a, let b): return Swift.min(try a.seconds(step: step, range: range), try b.seconds(step: step, range: range))
        case .maxOf(let a, let b): return Swift.max(try a.seconds(step: step, range: range), try b.seconds(step: step, range: range))
        case .negate(let inner): return -(try inner.seconds(step: step, range: range))
        case .paren(let inner): return try inner.seconds(step: step, range: range)
        case .binary(let op, let a, let b):
            let lhs = try a.seconds(step: step, range: range)
            let rhs = try b.seconds(step: step, range: range)
            switch op {
            case .add: return lhs + rhs
            case .sub: return lhs - rhs
            case .mul: return lhs * rhs
            case .div:
                if rhs == 0 { throw SightlineError(.invalidArgument, "division by zero") }
                return lhs / rhs
            case .mod:
                if rhs == 0 { throw SightlineError(.invalidArgument, "modulo by zero") }
                return lhs.truncatingRemainder(dividingBy: rhs)
            case .pow: return pow(lhs, rhs)
            }
        }
    }

    /// Evaluates to whole milliseconds as Prometheus' engine does before running a query.
    /// - Parameters:
    ///   - allowNegative: true for offsets; ranges and steps must be positive.
    /// - Throws: `invalidArgument` for NaN, infinite, non-positive (unless allowed) or out-of-range results.
    package func milliseconds(stepMilliseconds: Int64, rangeMilliseconds: Int64, allowNegative: Bool) throws -> Int64 {
        let value = try seconds(step: Double(stepMilliseconds) / 1000, range: Double(rangeMilliseconds) / 1000)
        if value.isNaN || value.isInfinite { throw SightlineError(.invalidArgument, "duration is NaN or infinite") }
        if value <= 0 && !allowNegative { throw SightlineError(.invalidArgument, "duration must be greater than 0") }
        if value.magnitude > 9_223_372_036.854775 { throw SightlineError(.invalidArgument, "duration is out of range") }
        return Int64((value * 1000).rounded(.towardZero))
    }
}
