#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-value kernels of PromQL's instant-vector math functions (`abs`, `ln`, `clamp`, `sin`, …).
///
/// Each maps one sample value to its result; the evaluator applies it to every float sample, skips native
/// histograms, and marks the results with `dropName`. Special values follow Go's `math` package, which follows C99
/// Annex F (`sqrt(-1)` is NaN, `ln(0)` is -Inf, `sgn(NaN)` is NaN, …). Transcendental functions come from the C
/// library, so a result may differ from Prometheus' in the last bit; `log2` and `log10` are built from `ln` with Go's
/// formulas (exact powers of two for `log2`, `ln(v)·(1/ln 10)` for `log10`) so that they round like Go's whenever the
/// natural logarithms agree.
package enum MathFunctions {
    /// `abs(v)`.
    package static func abs(_ v: Double) -> Double { Swift.abs(v) }
    /// `ceil(v)`.
    package static func ceil(_ v: Double) -> Double { v.rounded(.up) }
    /// `floor(v)`.
    package static func floor(_ v: Double) -> Double { v.rounded(.down) }
    /// `exp(v)`.
    package static func exp(_ v: Double) -> Double { libmExp(v) }
    /// `ln(v)`.
    package static func ln(_ v: Double) -> Double { libmLog(v) }
    /// `sqrt(v)`.
    package static func sqrt(_ v: Double) -> Double { v.squareRoot() }

    /// `log2(v)`, as Go computes it: exact for powers of two, otherwise `ln(frac)/ln 2 + exp` of the binary
    /// decomposition `v = frac·2^exp`, `frac` in [0.5, 1).
    package static func log2(_ v: Double) -> Double {
        var exponent: Int32 = 0
        let fraction = libmFrexp(v, &exponent)
        if fraction == 0.5 { return Double(exponent - 1) }
        return libmLog(fraction) * inverseLn2 + Double(exponent)
    }

    /// `log10(v)`, as Go computes it: `ln(v) · (1/ln 10)`.
    package static func log10(_ v: Double) -> Double { libmLog(v) * inverseLn10 }

    /// `sgn(v)`: -1 for negative, 1 for positive values; zero (with its sign) and NaN are returned as they are.
    package static func sgn(_ v: Double) -> Double {
        if v < 0 { return -1 }
        if v > 0 { return 1 }
        return v
    }

    /// `round(v, toNearest)`: rounds to the nearest multiple of `toNearest` (default 1), ties upward, computed as
    /// Prometheus does through the inverse (`floor(v·(1/n) + 0.5) / (1/n)`), which behaves better for fractions.
    package static func round(_ v: Double, toNearest: Double = 1) -> Double {
        let inverse = 1.0 / toNearest
        return (v * inverse + 0.5).rounded(.down) / inverse
    }

    /// `clamp(v, min, max)`: `max(min, min(max, v))` with Go's `math.Max`/`math.Min` special cases (a NaN bound makes
    /// the result NaN, unless an infinity decides first). Nil (no output sample) when `max < min`.
    package static func clamp(_ v: Double, min lower: Double, max upper: Double) -> Double? {
        if upper < lower { return nil }
        return goMax(lower, goMin(upper, v))
    }

    /// `clamp_min(v, min)`: ``clamp(_:min:max:)`` with `max = +Inf`.
    package static func clampMin(_ v: Double, min lower: Double) -> Double {
        goMax(lower, goMin(.infinity, v))
    }

    /// `clamp_max(v, max)`: ``clamp(_:min:max:)`` with `min = -Inf`.
    package static func clampMax(_ v: Double, max upper: Double) -> Double {
        goMax(-.infinity, goMin(upper, v))
    }

    /// Go's `math.Max`: +Inf if either is +Inf, else NaN if either is NaN, `+0` over `-0`, else the larger.
    package static func goMax(_ x: Double, _ y: Double) -> Double {
        if x == .infinity || y == .infinity { return .infinity }
        if x.isNaN || y.isNaN { return .nan }
        if x == 0 && x == y { return x.sign == .minus ? y : x }
        return x > y ? x : y
    }

    /// Go's `math.Min`: -Inf if either is -Inf, else NaN if either is NaN, `-0` over `+0`, else the smaller.
    package static func goMin(_ x: Double, _ y: Double) -> Double {
        if x == -.infinity || y == -.infinity { return -.infinity }
        if x.isNaN || y.isNaN { return .nan }
        if x == 0 && x == y { return x.sign == .minus ? x : y }
        return x < y ? x : y
    }

    // MARK: - Trigonometry

    /// `acos(v)`.
    package static func acos(_ v: Double) -> Double { libmAcos(v) }
    /// `acosh(v)`.
    package static func acosh(_ v: Double) -> Double { libmAcosh(v) }
    /// `asin(v)`.
    package static func asin(_ v: Double) -> Double { libmAsin(v) }
    /// `asinh(v)`.
    package static func asinh(_ v: Double) -> Double { libmAsinh(v) }
    /// `atan(v)`.
    package static func atan(_ v: Double) -> Double { libmAtan(v) }
    /// `atanh(v)`.
    package static func atanh(_ v: Double) -> Double { libmAtanh(v) }
    /// `cos(v)`.
    package static func cos(_ v: Double) -> Double { libmCos(v) }
    /// `cosh(v)`.
    package static func cosh(_ v: Double) -> Double { libmCosh(v) }
    /// `sin(v)`.
    package static func sin(_ v: Double) -> Double { libmSin(v) }
    /// `sinh(v)`.
    package static func sinh(_ v: Double) -> Double { libmSinh(v) }
    /// `tan(v)`.
    package static func tan(_ v: Double) -> Double { libmTan(v) }
    /// `tanh(v)`.
    package static func tanh(_ v: Double) -> Double { libmTanh(v) }
    /// `deg(v)`: radians to degrees, `v · 180 / π` in that order.
    package static func deg(_ v: Double) -> Double { v * 180 / Double.pi }
    /// `rad(v)`: degrees to radians, `v · π / 180` in that order.
    package static func rad(_ v: Double) -> Double { v * Double.pi / 180 }

    /// `1/ln 2` rounded once from the exact value, as Go's constant expression `1/Ln2` is.
    private static let inverseLn2 = 1.44269504088896340735992468100189214
    /// `1/ln 10` rounded once from the exact value, as Go's constant expression `1/Ln10` is.
    private static let inverseLn10 = 0.434294481903251827651128918916605082
}

// The C library's functions under names that the static members above do not shadow.
@inline(__always) private func libmExp(_ v: Double) -> Double { exp(v) }
@inline(__always) private func libmLog(_ v: Double) -> Double { log(v) }
@inline(__always) private func libmFrexp(_ v: Double, _ e: inout Int32) -> Double { frexp(v, &e) }
@inline(__always) private func libmAcos(_ v: Double) -> Double { acos(v) }
@inline(__always) private func libmAcosh(_ v: Double) -> Double { acosh(v) }
@inline(__always) private func libmAsin(_ v: Double) -> Double { asin(v) }
@inline(__always) private func libmAsinh(_ v: Double) -> Double { asinh(v) }
@inline(__always) private func libmAtan(_ v: Double) -> Double { atan(v) }
@inline(__always) private func libmAtanh(_ v: Double) -> Double { atanh(v) }
@inline(__always) private func libmCos(_ v: Double) -> Double { cos(v) }
@inline(__always) private func libmCosh(_ v: Double) -> Double { cosh(v) }
@inline(__always) private func libmSin(_ v: Double) -> Double { sin(v) }
@inline(__always) private func libmSinh(_ v: Double) -> Double { sinh(v) }
@inline(__always) private func libmTan(_ v: Double) -> Double { tan(v) }
@inline(__always) private func libmTanh(_ v: Double) -> Double { tanh(v) }
