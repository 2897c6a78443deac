import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineTSDB

struct DecimalChunkTests {
    /// Encodes with ``ChunkCodec/encodeForBlock(timestamps:values:)`` and decodes every chunk back.
    private func blockRoundTrip(_ timestamps: [Int64], _ values: [Double]) throws -> (chunks: [ChunkData], timestamps: [Int64], values: [Double]) {
        let chunks = ChunkCodec.encodeForBlock(timestamps: timestamps, values: values)
        var outTimes: [Int64] = []
        var outValues: [Double] = []
        for chunk in chunks {
            let decoded = try ChunkCodec.decodeAll(chunk)
            #expect(decoded.timestamps.count == chunk.sampleCount)
            #expect(decoded.timestamps.first == chunk.minTime && decoded.timestamps.last == chunk.maxTime)
            outTimes += decoded.timestamps
            outValues += decoded.values
        }
        return (chunks, outTimes, outValues)
    }

    @Test func everyShapeRoundTripsBitExact() throws {
        var generator = SeriesGenerator(seed: 0xDEC1)
        for round in 0..<300 {
            let shape = SeriesGenerator.Shape.allCases[round % SeriesGenerator.Shape.allCases.count]
            let count = round % 5 == 0 ? Int.random(in: 1...3, using: &generator.rng) : Int.random(in: 1...1500, using: &generator.rng)
            let series = generator.series(shape, count: count)
            let result = try blockRoundTrip(series.timestamps, series.values)
            #expect(result.timestamps == series.timestamps, "shape \(shape), round \(round)")
            #expect(bits(result.values) == bits(series.values), "shape \(shape), round \(round)")
        }
    }

    /// The query path's decode keeps only the samples in a time range, and they are the whole decode's cut there.
    @Test func rangeDecodeKeepsTheSamplesInRange() throws {
        var generator = SeriesGenerator(seed: 0xC07)
        for round in 0..<200 {
            let shape = SeriesGenerator.Shape.allCases[round % SeriesGenerator.Shape.allCases.count]
            let series = generator.series(shape, count: Int.random(in: 1...700, using: &generator.rng))
            for chunk in ChunkCodec.encodeForBlock(timestamps: series.timestamps, values: series.values) where chunk.encoding == .decimal {
                let whole = try DecimalChunk.decode(chunk)
                let span = chunk.maxTime - chunk.minTime
                let start = chunk.minTime + Int64.random(in: -10...max(0, span), using: &generator.rng)
                let end = start + Int64.random(in: -5...max(1, span), using: &generator.rng)
                let (times, values) = try DecimalChunk.decode(chunk, from: start, through: end)
                let kept = whole.timestamps.indices.filter { whole.timestamps[$0] >= start && whole.timestamps[$0] <= end }
                #expect(times == kept.map { whole.timestamps[$0] }, "round \(round)")
                #expect(bits(values) == bits(kept.map { whole.values[$0] }), "round \(round)")
            }
        }
    }

    @Test func decimalSeriesUseTheDecimalEncodingAndShrink() throws {
        var generator = SeriesGenerator(seed: 7)
        for shape in [SeriesGenerator.Shape.counter, .gauge, .constant] {
            let series = generator.series(shape, count: 960)
            let result = try blockRoundTrip(series.timestamps, series.values)
            #expect(result.chunks.count == 2)
            #expect(result.chunks.allSatisfy { $0.encoding == .decimal }, "shape \(shape)")
            let xorBytes = ChunkCodec.encode(timestamps: series.timestamps, values: series.values).reduce(0) { $0 + $1.bytes.count }
            let decimalBytes = result.chunks.reduce(0) { $0 + $1.bytes.count }
            #expect(decimalBytes < xorBytes, "shape \(shape): \(decimalBytes) decimal against \(xorBytes) XOR bytes")
        }
    }

    /// Each of the four value forms wins on the data it suits, and each decodes back.
    @Test func everyValueFormIsChosenWhereItIsSmallest() throws {
        var rng = SplitMix64(seed: 0xF0)
        func series(_ increment: (Int) -> Int64) -> [Double] {
            var m: Int64 = 5_000_000
            return (0..<300).map { i in
                m += increment(i)
                return Double(m) / 100
            }
        }
        var rate: Int64 = 1000
        let cases: [(mode: UInt64, values: [Double])] = [
            (0, series { _ in Int64.random(in: -1000...1000, using: &rng) }),  // a gauge's walk: zigzagged deltas
            (1, series { _ in  // a counter whose rate drifts: deltas of deltas
                rate += Int64.random(in: -2...2, using: &rng)
                return rate
            }),
            (2, series { _ in Int64.random(in: 1000...1100, using: &rng) }),  // a counter's increments: from their minimum
            (3, series { i in 1000 + 10 * Int64(i) + Int64.random(in: 0...3, using: &rng) }),  // a rising rate
        ]
        let times = (0..<300).map { Int64($0) * 15_000 }
        for (expected, values) in cases {
            let chunk = try #require(DecimalChunk.encode(timestamps: times, values: values))
            var reader = BitReader(chunk.bytes)
            #expect(reader.skip(try #require(DecimalChunk.timeSectionBitCount(chunk.bytes))))
            _ = reader.readUVarint()  // k
            _ = reader.readVarint()  // m0
            #expect(reader.readUVarint() == expected)
            let decoded = try DecimalChunk.decode(chunk)
            #expect(decoded.timestamps == times)
            #expect(bits(decoded.values) == bits(values), "mode \(expected)")
        }
    }

    @Test func valuesThatAreNotDecimalsFallBackToXOR() throws {
        let timestamps: [Int64] = [1000, 2000, 3000, 4000]
        for odd in [StaleNaN.value, .nan, .infinity, -.infinity, -0.0, 1e300, 9_007_199_254_740_993.0 * 4, 5e-324, 0.1 + 0.2] {
            let values = [1.5, odd, 2.25, 3]
            #expect(DecimalChunk.encode(timestamps: timestamps, values: values) == nil, "\(odd)")
            let result = try blockRoundTrip(timestamps, values)
            #expect(result.chunks.allSatisfy { $0.encoding == .xor })
            #expect(bits(result.values) == bits(values))
        }
    }

    @Test func extremesRoundTrip() throws {
        // Huge and wrapping timestamp deltas, mantissas at the 2^53 edge, many decimal digits, one sample.
        let cases: [([Int64], [Double])] = [
            ([.min, -1, 0, 1, 1 << 40, .max - 1, .max], [0, -1, 1, 0.1, -0.001, 123456.789, 0]),
            ([0, 1, 2], [9_007_199_254_740_991, -9_007_199_254_740_991, 0]),
            ([5, 10, 15, 20], [0.000000000000000001, 1e-18, 2e-18, 1e15]),
            ([42], [0.5]),
            ([1, 2, 3, 4, 5], [7, 7, 7, 7, 7]),
            // Regular times and a constant: every packed group is 0 bits wide, far fewer bits than samples.
            ((0..<480).map { Int64($0) * 15_000 }, [Double](repeating: 1, count: 480)),
            ((0..<480).map { Int64($0) * 15_000 }, (0..<480).map { Double($0) * 10 }),
        ]
        for (timestamps, values) in cases {
            let result = try blockRoundTrip(timestamps, values)
            #expect(result.timestamps == timestamps)
            #expect(bits(result.values) == bits(values))
        }
    }

    @Test func nonAscendingTimestampsStartANewChunk() throws {
        let timestamps: [Int64] = [10, 20, 30, 30, 40, 5, 6]
        let values: [Double] = [1, 2, 3, 4, 5, 6, 7]
        let result = try blockRoundTrip(timestamps, values)
        #expect(result.chunks.count == 3)
        #expect(result.timestamps == timestamps)
        #expect(result.values == values)
    }

    @Test func damagedChunksThrowDataCorrupted() throws {
        let timestamps = (0..<200).map { Int64($0) * 15_000 + Int64($0 % 3) }
        let values = (0..<200).map { Double($0 * 7) / 100 }
        let chunk = try #require(DecimalChunk.encode(timestamps: timestamps, values: values))
        for cut in [0, 1, 3, chunk.bytes.count / 2, chunk.bytes.count - 1] {
            var truncated = chunk
            truncated.bytes = Array(chunk.bytes.prefix(cut))
            #expect(throws: SightlineError.self, "cut at \(cut)") { try ChunkCodec.decodeAll(truncated) }
        }
        var wrongCount = chunk
        wrongCount.sampleCount += 1
        #expect(throws: SightlineError.self) { try ChunkCodec.decodeAll(wrongCount) }
        var random = SplitMix64(seed: 99)
        for _ in 0..<200 {
            var garbled = chunk
            let index = Int.random(in: 0..<garbled.bytes.count, using: &random)
            garbled.bytes[index] ^= UInt8.random(in: 1...255, using: &random)
            // Garbled bytes either fail cleanly or decode to something; they never trap.
            _ = try? ChunkCodec.decodeAll(garbled)
        }
    }

    @Test func compactTurnsHeadChunksIntoDecimalBlockChunks() throws {
        let timestamps = (0..<500).map { Int64($0) * 15_000 + Int64($0 % 5) - 2 }
        let values = (0..<500).map { Double($0 * 13) / 100 }
        // As the head hands them over: XOR chunks of a few samples each.
        var chunks: [ChunkData] = []
        var start = 0
        while start < timestamps.count {
            let end = min(start + 37, timestamps.count)
            chunks += ChunkCodec.encode(timestamps: Array(timestamps[start..<end]), values: Array(values[start..<end]))
            start = end
        }
        let compacted = try ChunkCodec.compact(chunks)
        #expect(compacted.map(\.sampleCount) == [480, 20])
        #expect(compacted.allSatisfy { $0.encoding == .decimal })
        // Compacting again changes nothing for the full chunk and keeps the samples.
        let again = try ChunkCodec.compact(compacted)
        #expect(again.first == compacted.first)
        var outTimes: [Int64] = []
        var outValues: [Double] = []
        for chunk in again {
            let decoded = try ChunkCodec.decodeAll(chunk)
            outTimes += decoded.timestamps
            outValues += decoded.values
        }
        #expect(outTimes == timestamps)
        #expect(bits(outValues) == bits(values))
    }
}
