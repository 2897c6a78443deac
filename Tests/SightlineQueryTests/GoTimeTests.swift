import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineQuery

@Suite struct GoTimeTests {
    // 2026-07-04T09:05:07.012300Z, a Saturday, day 185 of the year.
    let instant = GoTime.Instant(seconds: 1_783_155_907, nanosecond: 12_300_000)
    let cest = ZoneInfo.Kind(offset: 7200, isDaylight: true, abbreviation: "CEST")
    let newfoundland = ZoneInfo.Kind(offset: -9000, isDaylight: false, abbreviation: "NST")

    @Test(arguments: [
        ("2006-01-02 15:04:05.999999999 -0700 MST", "2026-07-04 11:05:07.0123 +0200 CEST"),
        ("Mon, 02 Jan 2006 15:04:05 MST", "Sat, 04 Jul 2026 11:05:07 CEST"),  // RFC 1123
        ("2006-01-02T15:04:05Z07:00", "2026-07-04T11:05:07+02:00"),  // RFC 3339
        ("Monday January 2 3:04PM", "Saturday July 4 11:05AM"),
        ("Jan _2 15:04:05.000", "Jul  4 11:05:07.012"),  // Stamp with milliseconds
        ("02/01/06 3pm", "04/07/26 11am"),
        ("day 002, __2", "day 185, 185"),
        ("Month Monkey", "Month Monkey"),  // Jan/Mon followed by a lowercase letter is text
        ("15:04:05,000000", "11:05:07,012300"),
        ("x_2006", "x_2026"),
        ("-07 -070000 -07:00:00 Z0700", "+02 +020000 +02:00:00 +0200"),
    ])
    func formatsLayoutsInAZone(layout: String, expected: String) {
        #expect(GoTime.format(instant, layout: layout, zone: cest) == expected)
    }

    @Test func zonesWithoutNamesOrWithMinutes() {
        #expect(GoTime.format(instant, layout: "15:04 -07:00 Z07:00 MST", zone: newfoundland) == "06:35 -02:30 -02:30 NST")
        #expect(GoTime.format(instant, layout: "15:04 MST", zone: ZoneInfo.Kind(offset: 19800, isDaylight: false, abbreviation: "")) == "14:35 +0530")
        #expect(GoTime.format(instant, layout: "Z07:00 Z0700 Z07 -0700", zone: GoTime.utc) == "Z Z Z +0000")
    }

    @Test func goStringsOfTimes() {
        #expect(GoTime.string(instant) == "2026-07-04 09:05:07.0123 +0000 UTC")
        #expect(GoTime.string(GoTime.Instant.zero) == "0001-01-01 00:00:00 +0000 UTC")
        #expect(GoTime.string(1_700_000_000_123_000_000) == "2023-11-14 22:13:20.123 +0000 UTC")
        #expect(GoTime.string(GoTime.Instant(milliseconds: -1)) == "1969-12-31 23:59:59.999 +0000 UTC")
    }

    @Test func instantArithmetic() {
        let later = instant.adding(nanoseconds: -12_300_001)
        #expect(later == GoTime.Instant(seconds: 1_783_155_906, nanosecond: 999_999_999))
        #expect(instant.nanoseconds(since: later) == 12_300_001)
        #expect(GoTime.Instant.zero.nanoseconds(since: instant) == .min)  // Go's Sub clamps
        #expect(instant.nanoseconds(since: .zero) == .max)
        #expect(GoTime.Instant(milliseconds: -1500) == GoTime.Instant(seconds: -2, nanosecond: 500_000_000))
    }

    /// Layouts come from users' templates: random ones, at instants from year 1 to far past 2262, never trap.
    @Test func randomLayoutsNeverTrap() {
        var rng = SplitMix64(seed: 23)
        let pieces = ["2006", "06", "01", "1", "Jan", "January", "02", "2", "_2", "__2", "002", "15", "3", "03", "4", "04", "5", "05", "PM", "pm",
            "MST", "Z07:00", "-0700", "Z070000", "-07", ".000", ",999", ".9", "Mon", "Monday", "Month", " ", "x", "é"]
        let instants = [
            GoTime.Instant.zero, GoTime.Instant(nanoseconds: .min), GoTime.Instant(nanoseconds: .max),
            GoTime.Instant(seconds: 253_402_300_799, nanosecond: 999_999_999), GoTime.Instant(seconds: -1, nanosecond: 1),
            GoTime.Instant(milliseconds: .min), GoTime.Instant(milliseconds: .max), GoTime.Instant.zero.adding(nanoseconds: .min),
        ]
        for _ in 0..<2000 {
            let layout = (0..<Int(rng.next() % 12)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            let zone = ZoneInfo.Kind(offset: Int(Int64(bitPattern: rng.next()) % 100_000), isDaylight: false, abbreviation: rng.next() % 2 == 0 ? "" : "XT")
            _ = GoTime.format(instants[Int(rng.next() % UInt64(instants.count))], layout: layout, zone: zone)
        }
        _ = GoTime.duration(.max)
    }

    @Test(arguments: [
        (Int64(0), "0s"), (1, "1ns"), (1500, "1.5µs"), (1_500_000, "1.5ms"), (999_999_999, "999.999999ms"), (1_000_000_000, "1s"),
        (90_000_000_000, "1m30s"), (3_600_000_000_000, "1h0m0s"), (-2_500_000_000, "-2.5s"), (93_784_000_000_001, "26h3m4.000000001s"),
        (.min, "-2562047h47m16.854775808s"),
    ])
    func goStringsOfDurations(nanoseconds: Int64, expected: String) {
        #expect(GoTime.duration(nanoseconds) == expected)
    }
}
