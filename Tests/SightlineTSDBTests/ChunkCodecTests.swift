import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineTSDB

struct ChunkCodecTests {
    /// Encodes into one chunk and decodes it sample by sample.
    private func roundTrip(_ timestamps: [Int64], _ values: [Double]) throws -> (timestamps: [Int64], values: [Double]) {
        var encoder = XORChunkEncoder()
        for (t, v) in zip(timestamps, values) { encoder.append(t, v) }
        let chunk = encoder.finish()
        #expect(chunk.sampleCount == timestamps.count)
        if let first = timestamps.first, let last = timestamps.last {
            #expect(chunk.minTime == first)
            #expect(chunk.maxTime == last)
        }
        return try ChunkCodec.decodeAll(chunk)
    }

    @Test func randomSeriesRoundTripBitExact() throws {
        var generator = SeriesGenerator(seed: 0x5EED)
        for round in 0..<400 {
            let shape = SeriesGenerator.Shape.allCases[round % SeriesGenerator.Shape.allCases.count]
            let count = round % 7 == 0 ? 1 : Int.random(in: 1...1000, using: &generator.rng)
            let series = generator.series(shape, count: count)
            let decoded = try roundTrip(series.timestamps, series.values)
            #expect(decoded.timestamps == series.timestamps, "shape \(shape), round \(round)")
            #expect(bits(decoded.values) == bits(series.values), "shape \(shape), round \(round)")
        }
    }

    @Test func chunkedEncodeRoundTrips() throws {
        var generator = SeriesGenerator(seed: 42)
        for shape in SeriesGenerator.Shape.allCases {
            let series = generator.series(shape, count: 1000)
            let chunks = ChunkCodec.encode(timestamps: series.timestamps, values: series.values)
            #expect(chunks.count == 9)
            #expect(chunks.dropLast().allSatisfy { $0.sampleCount == 120 })
            var timestamps: [Int64] = []
            var values: [Double] = []
            for chunk in chunks {
                let decoded = try ChunkCodec.decodeAll(chunk)
                timestamps += decoded.timestamps
                values += decoded.values
            }
            #expect(timestamps == series.timestamps)
            #expect(bits(values) == bits(series.values))
        }
    }

    @Test func extremeTimestampsAndValues() throws {
        let timestamps: [Int64] = [.min, -1, 0, 1, 1 << 40, .max - 1, .max]
        let values: [Double] = [StaleNaN.value, -0.0, 0.0, .infinity, -.infinity, .nan, StaleNaN.value]
        let decoded = try roundTrip(timestamps, values)
        #expect(decoded.timestamps == timestamps)
        #expect(bits(decoded.values) == bits(values))
        // Every delta-of-delta bucket edge.
        var t: Int64 = 0
        var delta: Int64 = 1000
        var edges: [Int64] = [0, 1]
        for dod: Int64 in [0, 1, -1, 8191, 8192, -8191, -8192, 65536, 65537, -65535, -65536, 524_288, 524_289, -524_287, -524_288, 1 << 40, -(1 << 39)] {
            delta += dod
            if delta <= 0 { delta = 1 }
            t += delta
            edges.append(t)
        }
        let edgeValues = edges.map { Double($0) }
        let decodedEdges = try roundTrip(edges, edgeValues)
        #expect(decodedEdges.timestamps == edges)
    }

    @Test func emptyAndSingleSampleChunks() throws {
        let empty = XORChunkEncoder().finish()
        #expect(empty.sampleCount == 0)
        #expect(try ChunkCodec.decodeAll(empty).timestamps.isEmpty)
        let single = try roundTrip([-5], [StaleNaN.value])
        #expect(single.timestamps == [-5])
        #expect(single.values.first?.bitPattern == StaleNaN.bitPattern)
    }

    @Test func encoderIgnoresTimesNotAfterMaxTime() throws {
        var encoder = XORChunkEncoder()
        encoder.append(10, 1)
        encoder.append(10, 2)
        encoder.append(5, 3)
        encoder.append(20, 4)
        #expect(encoder.count == 2)
        let decoded = try ChunkCodec.decodeAll(encoder.finish())
        #expect(decoded.timestamps == [10, 20])
        #expect(decoded.values == [1, 4])
    }

    @Test func finishSnapshotsAndEncoderContinues() throws {
        var encoder = XORChunkEncoder()
        for t in 0..<50 { encoder.append(Int64(t) * 15_000, Double(t)) }
        let snapshot = encoder.finish()
        for t in 50..<100 { encoder.append(Int64(t) * 15_000, Double(t)) }
        #expect(try ChunkCodec.decodeAll(snapshot).timestamps.count == 50)
        #expect(try ChunkCodec.decodeAll(encoder.finish()).timestamps.count == 100)
    }

    @Test func encodeStartsNewChunkWhereTimesDoNotAscend() throws {
        let chunks = ChunkCodec.encode(timestamps: [1, 2, 3, 2, 5], values: [1, 2, 3, 4, 5])
        #expect(chunks.map(\.sampleCount) == [3, 2])
        #expect(chunks.map(\.minTime) == [1, 2])
    }

    @Test func truncatedChunksNeverTrapAndReportErrors() throws {
        var generator = SeriesGenerator(seed: 7)
        for shape in SeriesGenerator.Shape.allCases {
            let series = generator.series(shape, count: 60)
            guard let chunk = ChunkCodec.encode(timestamps: series.timestamps, values: series.values).first else {
                Issue.record("no chunk")
                continue
            }
            for length in 0..<chunk.bytes.count {
                var cut = chunk
                cut.bytes = Array(chunk.bytes.prefix(length))
                var decoder = try XORChunkDecoder(cut)
                var timestamps: [Int64] = []
                var values: [Double] = []
                while let sample = decoder.next() {
                    timestamps.append(sample.t)
                    values.append(sample.v)
                }
                #expect(decoder.error != nil, "prefix of \(length) bytes decoded without error")
                #expect(decoder.error?.code == .dataCorrupted)
                // What decoded before the cut is right.
                #expect(timestamps == Array(series.timestamps.prefix(timestamps.count)))
                #expect(bits(values) == bits(Array(series.values.prefix(values.count))))
                #expect(throws: SightlineError.self) { try ChunkCodec.decodeAll(cut) }
            }
        }
    }

    @Test func corruptedAndRandomBytesNeverTrap() throws {
        var rng = SplitMix64(seed: 99)
        var generator = SeriesGenerator(seed: 100)
        for round in 0..<3000 {
            var chunk: ChunkData
            if round % 3 == 0 {
                // Pure garbage, sometimes with a huge announced count.
                let length = Int.random(in: 0...64, using: &rng)
                chunk = ChunkData(
                    minTime: 0, maxTime: 0, sampleCount: 0, encoding: .xor,
                    bytes: (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) })
            } else {
                let shape = SeriesGenerator.Shape.allCases[round % SeriesGenerator.Shape.allCases.count]
                let series = generator.series(shape, count: Int.random(in: 1...120, using: &rng))
                guard let encoded = ChunkCodec.encode(timestamps: series.timestamps, values: series.values).first else { continue }
                chunk = encoded
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let index = Int.random(in: 0..<chunk.bytes.count, using: &rng)
                    chunk.bytes[index] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
                }
            }
            var decoder = try XORChunkDecoder(chunk)
            var previous = Int64.min
            var count = 0
            while let sample = decoder.next() {
                // Whatever decodes still ascends strictly.
                #expect(count == 0 || sample.t > previous)
                previous = sample.t
                count += 1
                if count > 1 << 20 { break }
            }
            #expect(count <= decoder.sampleCount)
            _ = try? ChunkCodec.decodeAll(chunk)
        }
    }

    @Test func bitWriterAndReaderAgreeOnMixedWidths() {
        var rng = SplitMix64(seed: 3)
        var writer = BitWriter()
        var written: [(UInt64, Int)] = []
        for _ in 0..<5000 {
            let width = Int.random(in: 1...64, using: &rng)
            let value = width == 64 ? rng.next() : rng.next() & ((1 << UInt64(width)) - 1)
            writer.writeBits(value, count: width)
            written.append((value, width))
        }
        writer.writeUVarint(.max)
        writer.writeVarint(.min)
        var reader = BitReader(writer.finishedBytes())
        for (value, width) in written {
            #expect(reader.readBits(width) == value)
        }
        #expect(reader.readUVarint() == .max)
        #expect(reader.readVarint() == .min)
        #expect(reader.readBits(8) == nil)
    }

    @Test func bitWriterFinishesAtEveryLengthWithWordsStagedOrNot() {
        // Every finish point from 0 to 20 words, so each count of staged words meets the accumulator's every fill.
        var rng = SplitMix64(seed: 11)
        var writer = BitWriter()
        var bits: [Bool] = []
        while bits.count < 20 * 64 {
            let width = Int.random(in: 1...13, using: &rng)
            let value = rng.next() & ((1 << UInt64(width)) - 1)
            writer.writeBits(value, count: width)
            for shift in stride(from: width - 1, through: 0, by: -1) { bits.append((value >> UInt64(shift)) & 1 == 1) }
            #expect(writer.bitCount == bits.count)
            var expected = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
            for (index, bit) in bits.enumerated() where bit { expected[index / 8] |= 0x80 >> UInt8(index % 8) }
            #expect(writer.finishedBytes() == expected)
        }
    }

    // MARK: - merge

    @Test func mergeKeepsNonOverlappingChunksAsTheyAre() throws {
        let a = ChunkCodec.encode(timestamps: [1, 2, 3], values: [1, 2, 3])
        let b = ChunkCodec.encode(timestamps: [10, 20], values: [10, 20])
        let merged = try ChunkCodec.merge(b + a)
        #expect(merged == a + b)
    }

    @Test func mergeOverlappingPrefersLaterChunk() throws {
        let older = ChunkCodec.encode(timestamps: [1, 3, 5, 7], values: [1, 3, 5, 7])
        let newer = ChunkCodec.encode(timestamps: [3, 4, 7, 9], values: [30, 40, 70, StaleNaN.value])
        let merged = try ChunkCodec.merge(older + newer)
        #expect(merged.count == 1)
        let decoded = try ChunkCodec.decodeAll(merged[0])
        #expect(decoded.timestamps == [1, 3, 4, 5, 7, 9])
        #expect(bits(decoded.values) == bits([1, 30, 40, 5, 70, StaleNaN.value]))
        // Reversed input order: the other chunk is now the newer one.
        let reversed = try ChunkCodec.decodeAll(try ChunkCodec.merge(newer + older)[0])
        #expect(bits(reversed.values) == bits([1, 3, 40, 5, 7, StaleNaN.value]))
    }

    @Test func mergeMatchesReferenceModel() throws {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<200 {
            var chunks: [ChunkData] = []
            var model: [Int64: UInt64] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                let count = Int.random(in: 1...300, using: &rng)
                let start = Int64.random(in: 0...2000, using: &rng)
                var times = Set<Int64>()
                while times.count < count { times.insert(start + Int64.random(in: 0...600, using: &rng)) }
                let sorted = times.sorted()
                let values = sorted.map { _ in Double(Int.random(in: 0...5, using: &rng)) }
                for (t, v) in zip(sorted, values) { model[t] = v.bitPattern }  // later chunks overwrite
                chunks += ChunkCodec.encode(timestamps: sorted, values: values, samplesPerChunk: Int.random(in: 1...150, using: &rng))
            }
            let merged = try ChunkCodec.merge(chunks)
            var timestamps: [Int64] = []
            var values: [UInt64] = []
            var previousMax = Int64.min
            for chunk in merged {
                #expect(chunk.minTime > previousMax || previousMax == .min)
                previousMax = chunk.maxTime
                let decoded = try ChunkCodec.decodeAll(chunk)
                timestamps += decoded.timestamps
                values += bits(decoded.values)
            }
            let expected = model.keys.sorted()
            #expect(timestamps == expected)
            #expect(values == expected.compactMap { model[$0] })
        }
    }

    @Test func mergeDropsEmptyChunksAndReportsCorruption() throws {
        #expect(try ChunkCodec.merge([XORChunkEncoder().finish()]).isEmpty)
        var bad = ChunkCodec.encode(timestamps: [1, 2, 3], values: [1, 2, 3])[0]
        bad.bytes = Array(bad.bytes.prefix(3))
        let good = ChunkCodec.encode(timestamps: [2], values: [9])[0]
        #expect(throws: SightlineError.self) { try ChunkCodec.merge([bad, good]) }
    }
}

struct ChunkCodecCompactTests {
    @Test func adjacentSmallChunksBecomeFullOnes() throws {
        // 60 checkpoints' worth of 2-sample chunks, then one full chunk, then 3 more small ones.
        var chunks: [ChunkData] = []
        var t: Int64 = 0
        for _ in 0..<60 {
            chunks += ChunkCodec.encode(timestamps: [t, t + 15_000], values: [Double(t), Double(t + 1)])
            t += 30_000
        }
        let full = (0..<120).map { t + Int64($0) * 15_000 }
        chunks += ChunkCodec.encode(timestamps: full, values: full.map(Double.init))
        t += 120 * 15_000
        for _ in 0..<3 {
            chunks += ChunkCodec.encode(timestamps: [t], values: [1])
            t += 15_000
        }
        let compacted = try ChunkCodec.compact(chunks)
        // Integral values: one decimal chunk holds all 243 samples.
        #expect(compacted.map(\.sampleCount) == [243])
        #expect(compacted.allSatisfy { $0.encoding == .decimal })
        var before: [Int64] = []
        var after: [Int64] = []
        for chunk in chunks { before += try ChunkCodec.decodeAll(chunk).timestamps }
        for chunk in compacted { after += try ChunkCodec.decodeAll(chunk).timestamps }
        #expect(before == after)
        #expect(compacted.reduce(0) { $0 + $1.bytes.count } < chunks.reduce(0) { $0 + $1.bytes.count })
    }
}
