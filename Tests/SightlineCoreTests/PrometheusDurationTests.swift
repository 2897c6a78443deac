import Testing

@testable import SightlineCore

struct PrometheusDurationTests {
    /// As Prometheus' `model.Duration.String()`: years and weeks only when whole.
    @Test func formatsAsPrometheusPrintsDurations() {
        let cases: [(Int64, String)] = [
            (0, "0s"), (250, "250ms"), (5_430_250, "1h30m30s250ms"), (90_000, "1m30s"), (86_400_000, "1d"),
            (7 * 86_400_000, "1w"), (15 * 86_400_000, "15d"), (14 * 86_400_000, "2w"), (365 * 86_400_000, "1y"),
            (366 * 86_400_000, "366d"), (90 * 86_400_000, "90d"), (5_400_001, "1h30m1ms"), (-60_000, "-1m"),
        ]
        for (ms, text) in cases { #expect(PrometheusDuration.format(milliseconds: ms) == text, "\(ms)") }
    }
}
