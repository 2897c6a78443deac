import SightlineTestSupport
import Testing

@testable import SightlineQuery

@Suite("PromQL float formatting")
struct PromQLFloatTests {
    static let cases: [(Double, String, String, String)] = [
        // value, 'f' -1 (count_values), API JSON, 'g' -1 (%v)
        (1e6, "1000000", "1000000", "1e+06"),
        (1e-7, "0.0000001", "1e-07", "1e-07"),
        (0.1, "0.1", "0.1", "0.1"),
        (100, "100", "100", "100"),
        (-0.0, "-0", "-0", "-0"),
        (0, "0", "0", "0"),
        (.nan, "NaN", "NaN", "NaN"),
        (.infinity, "+Inf", "+Inf", "+Inf"),
        (-.infinity, "-Inf", "-Inf", "-Inf"),
        (1.5, "1.5", "1.5", "1.5"),
        (-2.25, "-2.25", "-2.25", "-2.25"),
        (123456, "123456", "123456", "123456"),
        (1234567, "1234567", "1234567", "1.234567e+06"),
        (0.0001, "0.0001", "0.0001", "0.0001"),
        (0.00001, "0.00001", "0.00001", "1e-05"),
        (1e-6, "0.000001", "0.000001", "1e-06"),
        (9.99e-7, "0.000000999", "9.99e-07", "9.99e-07"),
        (1e21, "1000000000000000000000", "1e+21", "1e+21"),
        (1e20, "100000000000000000000", "100000000000000000000", "1e+20"),
        (1.5e300, "15" + String(repeating: "0", count: 299), "1.5e+300", "1.5e+300"),
        (5e-324, "0." + String(repeating: "0", count: 323) + "5", "5e-324", "5e-324"),
        (0.30000000000000004, "0.30000000000000004", "0.30000000000000004", "0.30000000000000004"),
        (1.0 / 3, "0.3333333333333333", "0.3333333333333333", "0.3333333333333333"),
        (123456789012345678, "123456789012345680", "123456789012345680", "1.2345678901234568e+17"),
        (9007199254740993, "9007199254740992", "9007199254740992", "9.007199254740992e+15"),
        (0.26666666666666666, "0.26666666666666666", "0.26666666666666666", "0.26666666666666666"),
        (-1e-300, "-0." + String(repeating: "0", count: 299) + "1", "-1e-300", "-1e-300"),
    ]

    @Test(arguments: cases)
    func format(_ value: Double, _ fixed: String, _ api: String, _ general: String) {
        #expect(PromQLFloat.format(value) == fixed)
        #expect(PromQLFloat.formatAPI(value) == api)
        #expect(PromQLFloat.formatG(value) == general)
    }

    @Test func formatRoundTrips() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let value = Double(bitPattern: generator.next())
            guard value.isFinite else { continue }
            #expect(Double(PromQLFloat.format(value)) == value)
            #expect(Double(PromQLFloat.formatAPI(value)) == value)
            #expect(Double(PromQLFloat.formatG(value)) == value)
        }
    }

    /// The fast path (Swift's description, integers) lays out the same text as the digit-by-digit layout, on the
    /// values metrics hold: integers, decimals with a few places, their negatives, and arbitrary bit patterns.
    @Test func fastPathMatchesDigitLayout() {
        var generator = SplitMix64(seed: 7)
        var values: [Double] = [0, -0.0, 1, -1, 1e15, 1e15 - 1, -1e15, 1e16, 2e21, 9.99e20, 1e-6, 9.99e-7, 1e-4, 1e-5]
        for _ in 0..<5_000 {
            let mantissa = Double(Int64(bitPattern: generator.next()) % 10_000_000_000)
            let exponent = Int(generator.next() % 12)
            values.append(mantissa / [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11][exponent])
            values.append(Double(bitPattern: generator.next()))
        }
        for value in values where value.isFinite {
            #expect(PromQLFloat.formatAPI(value) == PromQLFloat.formatAPIByDigits(value), "\(value)")
            #expect(PromQLFloat.format(value) == PromQLFloat.formatByDigits(value), "\(value)")
        }
    }

    @Test func fixed6() {
        #expect(PromQLFloat.formatFixed6(1.5) == "1.500000")
        #expect(PromQLFloat.formatFixed6(0) == "0.000000")
        #expect(PromQLFloat.formatFixed6(-0.0000005) == "-0.000000" || PromQLFloat.formatFixed6(-0.0000005) == "-0.000001")
        #expect(PromQLFloat.formatFixed6(2.0000005) == "2.000001" || PromQLFloat.formatFixed6(2.0000005) == "2.000000")
        #expect(PromQLFloat.formatFixed6(.nan) == "NaN")
        #expect(PromQLFloat.formatFixed6(.infinity) == "+Inf")
        #expect(PromQLFloat.formatFixed6(1e20) == "100000000000000000000.000000")
    }
}
