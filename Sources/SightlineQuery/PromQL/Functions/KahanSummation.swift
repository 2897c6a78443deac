/// Kahan–Babuška–Neumaier compensated addition, the way Prometheus' `util/kahansum` does it.
///
/// The running sum and its compensation term travel separately; callers add the compensation once at the end
/// (`sum + c`). When the sum becomes infinite, the compensation is reset to zero so that the final `sum + c` cannot turn
/// an infinity into a NaN.
package enum KahanSummation {
    /// Adds `increment` to `sum`, returning the new sum and the new compensation (the previous compensation is `c`).
    @inline(__always)
    package static func add(_ increment: Double, to sum: Double, compensation c: Double) -> (sum: Double, compensation: Double) {
        let t = sum + increment
        var c = c
        if t.isInfinite {
            c = 0
        } else if abs(sum) >= abs(increment) {
            // Neumaier's variant: the compensation comes from whichever operand is smaller in magnitude.
            c += (sum - t) + increment
        } else {
            c += (increment - t) + sum
        }
        return (t, c)
    }
}
