import SightlineCore
import SightlineTestSupport

/// Builds random and adversarial sample series for codec property tests.
struct SeriesGenerator {
    /// The shapes of series the generator makes.
    enum Shape: CaseIterable {
        case counter, gauge, randomBits, specialValues, hugeDeltas, negativeTimes, constant
    }

    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// A series of `count` samples of `shape` with strictly ascending timestamps.
    mutating func series(_ shape: Shape, count: Int) -> (timestamps: [Int64], values: [Double]) {
        var timestamps: [Int64] = []
        var values: [Double] = []
        var t: Int64
        switch shape {
        case .negativeTimes: t = -Int64.random(in: 1...(1 << 50), using: &rng)
        case .hugeDeltas: t = Int64.random(in: -(1 << 50)...(1 << 50), using: &rng)
        default: t = 1_700_000_000_000 + Int64.random(in: 0...1_000_000, using: &rng)
        }
        var counter = Double(Int.random(in: 0...1000, using: &rng))
        let constant = Double.random(in: -1e6...1e6, using: &rng)
        for _ in 0..<count {
            timestamps.append(t)
            switch shape {
            case .counter:
                counter += Double(Int.random(in: 0...20, using: &rng))
                values.append(counter)
            case .gauge:
                values.append(Double(Int.random(in: -100_000...100_000, using: &rng)) / 100)
            case .randomBits:
                values.append(Double(bitPattern: rng.next()))
            case .specialValues, .hugeDeltas, .negativeTimes:
                values.append(special())
            case .constant:
                values.append(constant)
            }
            let delta: Int64
            switch shape {
            case .hugeDeltas: delta = Int64.random(in: 1...(1 << 40), using: &rng)
            case .negativeTimes: delta = Int64.random(in: 1...100_000, using: &rng)
            default: delta = 15_000 + Int64.random(in: -2...2, using: &rng)
            }
            t += delta
        }
        return (timestamps, values)
    }

    /// A value from a mix meant to break XOR encoding: NaNs, infinities, signed zeros, repeats, extremes.
    mutating func special() -> Double {
        switch Int.random(in: 0..<12, using: &rng) {
        case 0: return StaleNaN.value
        case 1: return .nan
        case 2: return .infinity
        case 3: return -.infinity
        case 4: return -0.0
        case 5: return 0.0
        case 6: return .greatestFiniteMagnitude
        case 7: return .leastNonzeroMagnitude
        case 8: return 1.0
        case 9: return Double(bitPattern: rng.next())
        case 10: return Double(bitPattern: 0x7FF8_0000_0000_0000 | (rng.next() & 0xF_FFFF_FFFF_FFFF))  // NaN payloads
        default: return Double(Int.random(in: -3...3, using: &rng))
        }
    }
}

/// Value arrays compared by bit pattern, so NaN equals itself and -0.0 differs from 0.0.
func bits(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }
