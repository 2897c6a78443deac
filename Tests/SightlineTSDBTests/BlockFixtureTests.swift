import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineTSDB

/// Builders of synthetic series with fake (random) chunk bytes.
enum BlockFixtures {
    /// Labels from pairs.
    static func labels(_ pairs: KeyValuePairs<String, String>) -> Labels { Labels(pairs) }

    /// A chunk over `minTime...maxTime` with `samples` samples and `size` random bytes.
    static func chunk(_ minTime: Int64, _ maxTime: Int64, samples: Int = 120, size: Int = 64, rng: inout SplitMix64) -> ChunkData {
        ChunkData(
            minTime: minTime, maxTime: maxTime, sampleCount: samples, encoding: .xor,
            bytes: (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    /// `count` consecutive chunks of `samples` samples `interval` ms apart, the first starting at `start`.
    static func chunks(start: Int64, count: Int, samples: Int = 120, interval: Int64 = 15_000, size: Int = 64, rng: inout SplitMix64) -> [ChunkData] {
        (0..<count).map { i in
            let minTime = start + Int64(i * samples) * interval
            return chunk(minTime, minTime + Int64(samples - 1) * interval, samples: samples, size: size, rng: &rng)
        }
    }

    /// The series the matcher tests use: some lack `env`, one lacks `job`.
    static func matcherSeries(rng: inout SplitMix64) -> [SeriesChunks] {
        let sets: [Labels] = [
            labels(["__name__": "up", "job": "api", "instance": "a:1", "env": "prod"]),
            labels(["__name__": "up", "job": "api", "instance": "b:1"]),
            labels(["__name__": "up", "job": "db", "instance": "c:1", "env": "dev"]),
            labels(["__name__": "http_requests_total", "job": "api", "instance": "a:1", "env": "prod", "code": "200"]),
            labels(["__name__": "http_requests_total", "job": "api", "instance": "a:1", "env": "prod", "code": "500"]),
            labels(["__name__": "node_cpu", "instance": "n1", "mode": "idle"]),
        ]
        return sets.enumerated().map { i, labels in
            // Three chunks: [1000, 1999], [2000, 2999], [3000, 3999], shifted by i ms.
            let shift = Int64(i)
            return SeriesChunks(labels: labels, chunks: (0..<3).map { k in
                let start = 1000 * Int64(k + 1) + shift
                return chunk(start, start + 999 - shift, samples: 10 + k, size: 20 + 7 * i + k, rng: &rng)
            })
        }
    }

    /// A merge closure for tests: concatenates the chunks' bytes into one chunk (in the given minTime order).
    static func concatenate(_ chunks: [ChunkData]) -> [ChunkData] {
        guard let first = chunks.first else { return [] }
        return [ChunkData(
            minTime: first.minTime, maxTime: chunks.map(\.maxTime).max() ?? first.maxTime,
            sampleCount: chunks.reduce(0) { $0 + $1.sampleCount }, encoding: .xor, bytes: chunks.flatMap(\.bytes))]
    }

    /// The bytes of the file at `path`.
    static func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// The path of the single block directory `meta` describes in `directory`.
    static func blockPath(_ directory: TemporaryDirectory, _ meta: BlockMeta) -> String { directory.file(meta.id) }
}

@Suite struct BlockFixtureTests {
    @Test func seededGeneratorIsDeterministic() {
        var a = SplitMix64(seed: 7)
        var b = SplitMix64(seed: 7)
        #expect((0..<4).map { _ in a.next() } == (0..<4).map { _ in b.next() })
    }
}
