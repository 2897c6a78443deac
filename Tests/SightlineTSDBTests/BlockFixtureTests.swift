import Foundation
import SightlineCore
import Testing

@testable import SightlineTSDB

/// A fresh directory under the system temporary directory, removed when the value goes away.
final class BlockTestDirectory {
    /// The directory's path.
    let path: String

    /// Creates `…/sightline-block-<random>/`.
    init() throws {
        path = NSTemporaryDirectory() + "sightline-block-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `path/name`.
    func join(_ name: String) -> String { path + "/" + name }

    /// The directory's entries, sorted.
    func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
}

/// A deterministic random generator (SplitMix64), so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    /// Starts from `seed`.
    init(seed: UInt64) { state = seed }
    /// The next 64 random bits.
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Builders of synthetic series with fake (random) chunk bytes.
enum BlockFixtures {
    /// Labels from pairs.
    static func labels(_ pairs: KeyValuePairs<String, String>) -> Labels { Labels(pairs) }

    /// A chunk over `minTime...maxTime` with `samples` samples and `size` random bytes.
    static func chunk(_ minTime: Int64, _ maxTime: Int64, samples: Int = 120, size: Int = 64, rng: inout SeededGenerator) -> ChunkData {
        ChunkData(
            minTime: minTime, maxTime: maxTime, sampleCount: samples, encoding: .xor,
            bytes: (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    /// `count` consecutive chunks of `samples` samples `interval` ms apart, the first starting at `start`.
    static func chunks(start: Int64, count: Int, samples: Int = 120, interval: Int64 = 15_000, size: Int = 64, rng: inout SeededGenerator) -> [ChunkData] {
        (0..<count).map { i in
            let minTime = start + Int64(i * samples) * interval
            return chunk(minTime, minTime + Int64(samples - 1) * interval, samples: samples, size: size, rng: &rng)
        }
    }

    /// The series the matcher tests use: some lack `env`, one lacks `job`.
    static func matcherSeries(rng: inout SeededGenerator) -> [SeriesChunks] {
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
    static func blockPath(_ directory: BlockTestDirectory, _ meta: BlockMeta) -> String { directory.join(meta.id) }
}

@Suite struct BlockFixtureTests {
    @Test func seededGeneratorIsDeterministic() {
        var a = SeededGenerator(seed: 7)
        var b = SeededGenerator(seed: 7)
        #expect((0..<4).map { _ in a.next() } == (0..<4).map { _ in b.next() })
    }
}
