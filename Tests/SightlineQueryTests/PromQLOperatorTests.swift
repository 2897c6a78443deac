import Testing

@testable import SightlineQuery

private typealias F = PromQLFunctionFixtures

@Suite("PromQL binary operator kernels")
struct PromQLOperatorTests {
    static let arithmeticCases: [(BinaryArithmetic.Operator, Double, Double, Double)] = [
        (.add, 1000, 1000, 2000), (.subtract, 1000, 2, 998), (.multiply, -1, 3, -3),
        (.divide, 1000, 0, .infinity), (.divide, -1000, 0, -.infinity), (.divide, 0, 0, .nan),
        (.modulo, 1000, 3, 1), (.modulo, 2600, 3, 2), (.modulo, 1000, 0.3, 0.1), (.modulo, 2600, 0.3, 0.2),
        (.modulo, 1000, 9, 1), (.modulo, 2600, 9, 8), (.modulo, 1000, 512, 488), (.modulo, 2600, 512, 40),
        (.modulo, 0, 0, .nan),
        (.power, 1000, 2, 1_000_000), (.power, 2600, 2, 6_760_000), (.power, 4, 4, 256), (.power, 2, 3, 8),
        (.power, -2, -1, -0.5),
        (.atan2, 10, 20, 0.4636476090008061), (.atan2, 10, .nan, .nan),
    ]

    @Test(arguments: arithmeticCases)
    func arithmetic(_ op: BinaryArithmetic.Operator, _ lhs: Double, _ rhs: Double, _ expected: Double) {
        #expect(F.close(BinaryArithmetic.apply(op, lhs, rhs), expected))
    }

    @Test func precedenceExamples() {
        // -2^---1*3 is -(2^(-(-(-1)))) * 3 = -1.5; 2/-2^---1*3+2 = -10.
        #expect(-BinaryArithmetic.power(2, -1) * 3 == -1.5)
        #expect(2 / -BinaryArithmetic.power(2, -1) * 3 + 2 == -10)
    }

    static let modCases: [(Double, Double, Double)] = [
        // Go's math.Mod: the sign of the dividend, exact.
        (5, 3, 2), (-5, 3, -2), (5, -3, 2), (-5, -3, -2), (5.5, 2, 1.5), (-0.0, 3, -0.0),
        (.infinity, 3, .nan), (-.infinity, 3, .nan), (.nan, 3, .nan), (3, 0, .nan), (3, -0.0, .nan),
        (3, .infinity, 3), (-3, -.infinity, -3), (3, .nan, .nan), (7.5, -2, 1.5),
    ]

    @Test(arguments: modCases)
    func goMod(_ x: Double, _ y: Double, _ expected: Double) {
        let result = BinaryArithmetic.modulo(x, y)
        #expect(result.bitPattern == expected.bitPattern || (result.isNaN && expected.isNaN), "\(x) % \(y) = \(result)")
    }

    static let powCases: [(Double, Double, Double)] = [
        // Go's math.Pow special cases.
        (.nan, 0, 1), (.nan, -0.0, 1), (1, .nan, 1), (1, .infinity, 1), (2, 1, 2), (.nan, 1, .nan), (2, .nan, .nan),
        (0, -3, .infinity), (-0.0, -3, -.infinity), (0, -2, .infinity), (0, -.infinity, .infinity),
        (0, 3, 0), (-0.0, 3, -0.0), (0, 2, 0), (0, .infinity, 0), (-1, .infinity, 1), (-1, -.infinity, 1),
        (2, .infinity, .infinity), (0.5, .infinity, 0), (2, -.infinity, 0), (0.5, -.infinity, .infinity),
        (.infinity, 2, .infinity), (.infinity, -2, 0), (-.infinity, 3, -.infinity), (-.infinity, 2, .infinity),
        (-.infinity, -3, -0.0), (-2, 0.5, .nan), (-8, 3, -512), (10, -1, 0.1),
    ]

    @Test(arguments: powCases)
    func goPow(_ x: Double, _ y: Double, _ expected: Double) {
        let result = BinaryArithmetic.power(x, y)
        #expect(result.bitPattern == expected.bitPattern || (result.isNaN && expected.isNaN), "\(x) ^ \(y) = \(result)")
    }

    static let comparisonCases: [(BinaryArithmetic.Comparison, Double, Double, Bool)] = [
        (.equal, 1, 1, true), (.equal, .nan, .nan, false), (.notEqual, .nan, .nan, true), (.notEqual, 1, 2, true),
        (.greater, 2, 1, true), (.greater, .nan, 1, false), (.less, 1, 2, true), (.less, 1, .nan, false),
        (.greaterOrEqual, 1, 1, true), (.lessOrEqual, 2, 1, false), (.equal, 0, -0.0, true),
        (.greater, .infinity, 1e308, true),
    ]

    @Test(arguments: comparisonCases)
    func comparison(_ op: BinaryArithmetic.Comparison, _ lhs: Double, _ rhs: Double, _ holds: Bool) {
        let filter = BinaryArithmetic.compare(op, lhs, rhs, returnBool: false)
        #expect(filter.keep == holds)
        #expect(filter.value.bitPattern == lhs.bitPattern)
        let bool = BinaryArithmetic.compare(op, lhs, rhs, returnBool: true)
        #expect(bool.keep)
        #expect(bool.value == (holds ? 1 : 0))
        #expect(BinaryArithmetic.compareScalars(op, lhs, rhs) == (holds ? 1 : 0))
    }
}
