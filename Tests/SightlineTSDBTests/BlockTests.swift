import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineTSDB

@Suite struct BlockTests {
    /// Writes the matcher fixture and reopens it.
    private func writeFixture(_ directory: TemporaryDirectory, seed: UInt64 = 1) throws -> (written: [SeriesChunks], block: Block) {
        var rng = SplitMix64(seed: seed)
        let series = BlockFixtures.matcherSeries(rng: &rng)
        let meta = try #require(try BlockWriter.write(series.shuffled(using: &rng), level: 0, sources: [], into: directory.path))
        return (series, try Block(directory: BlockFixtures.blockPath(directory, meta)))
    }

    @Test func writeThenReopenRoundTripsMetaAndFiles() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (series, block) = try writeFixture(directory)
        #expect(try directory.entries() == [block.meta.id])
        #expect(BlockID.isValid(block.meta.id))
        #expect(block.meta.version == BlockMeta.currentVersion)
        #expect(block.meta.level == 0)
        #expect(block.meta.sources == [])
        #expect(block.meta.minTime == 1000)
        #expect(block.meta.maxTime == 3999)
        #expect(block.meta.stats.series == Int64(series.count))
        #expect(block.meta.stats.chunks == Int64(series.count * 3))
        #expect(block.meta.stats.samples == Int64(series.count * (10 + 11 + 12)))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.file(block.meta.id)).sorted()
        #expect(files == ["chunks", "index", "meta.json", "times"])
        let index = try BlockFiles.size(directory.file(block.meta.id + "/index"))
        let chunks = try BlockFiles.size(directory.file(block.meta.id + "/chunks"))
        let times = try BlockFiles.size(directory.file(block.meta.id + "/times"))
        #expect(block.meta.stats.bytes == index + chunks + times)
        #expect(block.sizeBytes == index + chunks + times + (try BlockFiles.size(directory.file(block.meta.id + "/meta.json"))))
    }

    @Test func selectAllReturnsEverySeriesSortedAndByteIdentical() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (series, block) = try writeFixture(directory)
        let all = try block.select([], minTime: .min, maxTime: .max)
        #expect(all == series.sorted { $0.labels < $1.labels })
    }

    /// Past ``Block/parallelReadSeries`` selected series the block reads them on every core, joined in order.
    @Test func selectOfManySeriesIsReadInParallelAndInOrder() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        var rng = SplitMix64(seed: 5)
        let count = Block.parallelReadSeries * 2 + 7
        let series = (0..<count).map { i in
            SeriesChunks(
                labels: BlockFixtures.labels(["__name__": "many", "i": String(i)]),
                chunks: [BlockFixtures.chunk(1000, 1999, samples: 5, size: 16 + i % 9, rng: &rng)])
        }
        let meta = try #require(try BlockWriter.write(series.shuffled(using: &rng), level: 0, sources: [], into: directory.path))
        let block = try Block(directory: BlockFixtures.blockPath(directory, meta))
        #expect(try block.select([try LabelMatcher("__name__", .equal, "many")], minTime: .min, maxTime: .max) == series.sorted { $0.labels < $1.labels })
    }

    @Test(arguments: [
        // (matchers, expected series indexes in BlockFixtures.matcherSeries)
        ([("job", "=", "api")], [0, 1, 3, 4]),
        ([("job", "!=", "api")], [2, 5]),  // node_cpu has no job: "" != "api"
        ([("job", "=~", "a.*")], [0, 1, 3, 4]),
        ([("job", "=~", "p")], []),  // anchored: "api" contains p but is not p
        ([("job", "=~", "ap")], []),
        ([("job", "=~", "api|db")], [0, 1, 2, 3, 4]),
        ([("job", "!~", "a.*")], [2, 5]),
        ([("env", "=", "")], [1, 5]),  // only the series lacking env
        ([("env", "!=", "")], [0, 2, 3, 4]),
        ([("env", "=~", "prod|")], [0, 1, 3, 4, 5]),
        ([("env", "=~", ".*")], [0, 1, 2, 3, 4, 5]),
        ([("env", "=~", ".+")], [0, 2, 3, 4]),
        ([("env", "!~", "prod")], [1, 2, 5]),
        ([("env", "!~", "")], [0, 2, 3, 4]),
        ([("missing", "=", "x")], []),
        ([("missing", "=", "")], [0, 1, 2, 3, 4, 5]),
        ([("missing", "!=", "x")], [0, 1, 2, 3, 4, 5]),
        ([("missing", "=~", "x|")], [0, 1, 2, 3, 4, 5]),
        ([("__name__", "=", "up"), ("env", "=", "")], [1]),
        ([("__name__", "=", "http_requests_total"), ("code", "=~", "5..")], [4]),
        ([("instance", "=", "a:1"), ("code", "!=", "200")], [0, 4]),
        ([("job", "=", "api"), ("job", "=", "db")], []),
    ] as [([(String, String, String)], [Int])])
    func selectWithMatchers(_ spec: [(String, String, String)], _ expected: [Int]) throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (series, block) = try writeFixture(directory)
        let matchers = try spec.map { name, op, value in try LabelMatcher(name, try #require(LabelMatcher.Kind(rawValue: op)), value) }
        let got = try block.select(matchers, minTime: .min, maxTime: .max)
        let want = expected.map { series[$0] }.sorted { $0.labels < $1.labels }
        #expect(got == want, "\(matchers)")
        // The same as evaluating the matchers on each series' labels.
        let bruteForce = series.filter { s in matchers.allSatisfy { $0.matches(s.labels) } }.sorted { $0.labels < $1.labels }
        #expect(got == bruteForce)
    }

    @Test func selectKeepsOnlyChunksOverlappingTheRangeInclusive() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (series, block) = try writeFixture(directory)
        let up = try LabelMatcher("__name__", .equal, "up")
        // Chunks are [1000+i, 1999], [2000+i, 2999], [3000+i, 3999] for series i.
        let middle = try block.select([up], minTime: 2500, maxTime: 2600)
        for result in middle {
            let original = try #require(series.first { $0.labels == result.labels })
            #expect(result.chunks == [original.chunks[1]])
        }
        #expect(middle.count == 3)
        // Inclusive bounds: 2999 is the last ms of chunk 1, 3000 the first of chunk 2 for series 0.
        let edge = try block.select([up, try LabelMatcher("instance", .equal, "a:1")], minTime: 2999, maxTime: 3000)
        #expect(edge.count == 1)
        #expect(edge.first?.chunks == [series[0].chunks[1], series[0].chunks[2]])
        // Series 2 starts its first chunk at 1002: a query ending at 1001 sees only series 0 and 1.
        #expect(try block.select([up], minTime: 0, maxTime: 1001).count == 2)
        // Outside the block.
        #expect(try block.select([], minTime: 4000, maxTime: 9000).isEmpty)
        #expect(try block.select([], minTime: 0, maxTime: 999).isEmpty)
    }

    @Test func labelNamesAndValues() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (_, block) = try writeFixture(directory)
        #expect(try block.labelNames([]) == ["__name__", "code", "env", "instance", "job", "mode"])
        #expect(try block.labelNames([try LabelMatcher("__name__", .equal, "up")]) == ["__name__", "env", "instance", "job"])
        #expect(try block.labelNames([try LabelMatcher("env", .equal, "")]) == ["__name__", "instance", "job", "mode"])
        #expect(try block.labelValues("job", []) == ["api", "db"])
        #expect(try block.labelValues("instance", []) == ["a:1", "b:1", "c:1", "n1"])
        #expect(try block.labelValues("instance", [try LabelMatcher("job", .equal, "api")]) == ["a:1", "b:1"])
        #expect(try block.labelValues("env", [try LabelMatcher("job", .regexMatch, "api")]) == ["prod"])
        #expect(try block.labelValues("missing", []) == [])
        #expect(try block.labelValues("missing", [try LabelMatcher("job", .equal, "api")]) == [])
    }

    @Test func emptyInputWritesNoBlock() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        #expect(try BlockWriter.write([], level: 0, sources: [], into: directory.path) == nil)
        let labels = BlockFixtures.labels(["__name__": "x"])
        #expect(try BlockWriter.write([SeriesChunks(labels: labels, chunks: [])], level: 0, sources: [], into: directory.path) == nil)
        #expect(try directory.entries().isEmpty)
    }

    @Test func duplicateSeriesAreMergedAndChunksSortedByMinTime() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        var rng = SplitMix64(seed: 3)
        let labels = BlockFixtures.labels(["__name__": "x", "a": "1"])
        let late = BlockFixtures.chunk(500, 600, rng: &rng)
        let early = BlockFixtures.chunk(100, 200, rng: &rng)
        let meta = try #require(try BlockWriter.write(
            [SeriesChunks(labels: labels, chunks: [late]), SeriesChunks(labels: labels, chunks: [early])],
            level: 0, sources: [], into: directory.path))
        let block = try Block(directory: BlockFixtures.blockPath(directory, meta))
        #expect(try block.select([], minTime: .min, maxTime: .max) == [SeriesChunks(labels: labels, chunks: [early, late])])
    }

    @Test func invalidChunkTimesAreRejectedAndLeaveNothing() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        var rng = SplitMix64(seed: 4)
        let bad = BlockFixtures.chunk(500, 400, rng: &rng)
        #expect(throws: SightlineError.self) {
            try BlockWriter.write([SeriesChunks(labels: BlockFixtures.labels(["__name__": "x"]), chunks: [bad])], level: 0, sources: [], into: directory.path)
        }
        #expect(try directory.entries().isEmpty)
    }

    @Test func indexCorruptionIsReportedWithFileAndOffset() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (_, block) = try writeFixture(directory)
        let indexPath = directory.file(block.meta.id + "/index")
        var bytes = try BlockFixtures.read(indexPath)
        // Byte 7 lies in the symbols section, which starts right after the 5-byte header.
        bytes[7] ^= 0x40
        try BlockFiles.writeFile(indexPath, bytes)
        let error = #expect(throws: SightlineError.self) { try Block(directory: directory.file(block.meta.id)) }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains(indexPath) == true)
        #expect(error?.message.contains("symbols section at offset 5") == true, "\(error?.message ?? "")")

        // A flipped bit in the table of contents.
        bytes[7] ^= 0x40
        bytes[bytes.count - 10] ^= 0x01
        try BlockFiles.writeFile(indexPath, bytes)
        let tocError = #expect(throws: SightlineError.self) { try Block(directory: directory.file(block.meta.id)) }
        #expect(tocError?.code == .dataCorrupted)
        #expect(tocError?.message.contains("table of contents at offset \(bytes.count - BlockFormat.tableOfContentsLength)") == true)

        // A truncated index.
        try BlockFiles.writeFile(indexPath, Array(bytes[0..<20]))
        let shortError = #expect(throws: SightlineError.self) { try Block(directory: directory.file(block.meta.id)) }
        #expect(shortError?.code == .dataCorrupted)
    }

    @Test func chunkCorruptionIsReportedWithFileAndOffset() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (_, block) = try writeFixture(directory)
        let chunksPath = directory.file(block.meta.id + "/chunks")
        // The first series in label order is http_requests_total{code="200"}: its first record starts at offset 5.
        let firstRecord = try #require(block.index.chunks(ofSeries: 0).first.map { block.index.chunk($0) })
        #expect(firstRecord.offset == 5)
        let secondRecord = block.index.chunk(1)
        var bytes = try BlockFixtures.read(chunksPath)
        bytes[Int(secondRecord.offset) + 6] ^= 0xFF
        try BlockFiles.writeFile(chunksPath, bytes)
        // Opening does not read chunks; reading the damaged one fails, naming the file and the record's offset.
        let reopened = try Block(directory: directory.file(block.meta.id))
        let error = #expect(throws: SightlineError.self) { try reopened.select([], minTime: .min, maxTime: .max) }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains(chunksPath) == true)
        #expect(error?.message.contains("CRC mismatch in chunk record at offset \(secondRecord.offset)") == true, "\(error?.message ?? "")")
        // Chunks that are intact still read: the first chunk of that series alone.
        let first = try reopened.select(
            [try LabelMatcher("code", .equal, "200")], minTime: firstRecord.minTime, maxTime: firstRecord.minTime)
        #expect(first.first?.chunks.count == 1)
    }

    @Test func truncatedChunksFileIsCorruption() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (_, block) = try writeFixture(directory)
        let chunksPath = directory.file(block.meta.id + "/chunks")
        let bytes = try BlockFixtures.read(chunksPath)
        try BlockFiles.writeFile(chunksPath, Array(bytes[0..<(bytes.count - 3)]))
        let reopened = try Block(directory: directory.file(block.meta.id))
        let error = #expect(throws: SightlineError.self) { try reopened.select([], minTime: .min, maxTime: .max) }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains(chunksPath) == true)
    }

    @Test func badMetaIsCorruption() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (_, block) = try writeFixture(directory)
        let metaPath = directory.file(block.meta.id + "/meta.json")
        try BlockFiles.writeFile(metaPath, Array("{\"version\": 1".utf8))
        let error = #expect(throws: SightlineError.self) { try Block(directory: directory.file(block.meta.id)) }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains(metaPath) == true)
    }

    @Test func openBlockKeepsServingAfterItsDirectoryIsDeleted() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        let (series, block) = try writeFixture(directory)
        try FileManager.default.removeItem(atPath: directory.file(block.meta.id))
        #expect(try block.select([], minTime: .min, maxTime: .max) == series.sorted { $0.labels < $1.labels })
    }

    /// Index version 2 writes each series' labels as those it shares with the previous series plus the rest; a
    /// version-1 index (every label written) reads the same, and the new one is smaller.
    @Test func frontCodedLabelsReadLikeEveryLabelWritten() throws {
        var rng = SplitMix64(seed: 12)
        var series: [BlockIndexEncoder.Series] = []
        for name in ["a", "b_total", "c"] {
            for instance in 0..<7 {
                for mode in ["idle", "user", ""] where !(name == "c" && mode.isEmpty) {
                    var pairs = ["__name__": name, "instance": "host-\(instance)", "job": instance % 2 == 0 ? "node" : "app"]
                    if !mode.isEmpty { pairs["mode"] = mode }
                    let chunk = BlockChunkRef(offset: 0, length: UInt32.random(in: 20...90, using: &rng), minTime: 1000, maxTime: 2000)
                    series.append(.init(labels: Labels(pairs.map { Label($0.key, $0.value) }), chunks: [chunk]))
                }
            }
        }
        var sorted = series.sorted { $0.labels < $1.labels }
        var offset = UInt64(BlockFormat.headerLength)
        for i in sorted.indices {  // records in series order
            sorted[i].chunks[0].offset = offset
            offset += UInt64(sorted[i].chunks[0].length)
        }
        let old = try BlockIndexEncoder.encode(sorted, version: 1)
        let new = try BlockIndexEncoder.encode(sorted)
        #expect(old[4] == 1 && new[4] == 2)
        #expect(new.count < old.count)
        for bytes in [old, new] {
            let index = try BlockIndex(bytes: bytes, path: "index")
            #expect(index.seriesCount == sorted.count)
            for (ref, entry) in sorted.enumerated() {
                #expect(index.labels(ofSeries: ref) == entry.labels)
                #expect(index.chunks(ofSeries: ref).map { index.chunk($0) } == entry.chunks)
            }
            #expect(try index.series(matching: [try LabelMatcher("mode", .equal, "idle")]).members.count == 21)
        }
        var unsupported = new
        unsupported[4] = 3
        let error = #expect(throws: SightlineError.self) { try BlockIndex(bytes: unsupported, path: "index") }
        #expect(error?.message.contains("unsupported version 3") == true)
    }

    @Test func formatOverheadIsSmall() throws {
        // 500 series × 5 labels, 12 chunks of 120 samples scraped every 15 s (one 6 h range), ~130-byte payloads.
        let directory = try TemporaryDirectory(prefix: "sightline-block")
        defer { directory.remove() }
        var rng = SplitMix64(seed: 9)
        let start: Int64 = 1_760_000_000_000
        var series: [SeriesChunks] = []
        for i in 0..<500 {
            let labels = BlockFixtures.labels([
                "__name__": "metric_\(i % 10)", "job": "job-\(i % 5)", "instance": "host-\(i).example:9100",
                "region": "eu-\(i % 3)", "shard": "\(i % 50)",
            ])
            series.append(SeriesChunks(labels: labels, chunks: BlockFixtures.chunks(start: start + Int64(i), count: 12, size: 130, rng: &rng)))
        }
        let meta = try #require(try BlockWriter.write(series, level: 0, sources: [], into: directory.path))
        let block = try Block(directory: BlockFixtures.blockPath(directory, meta))
        let indexBytes = try BlockFiles.size(directory.file(meta.id + "/index"))
        let chunksBytes = try BlockFiles.size(directory.file(meta.id + "/chunks"))
        let payload = Int64(series.reduce(0) { $0 + $1.chunks.reduce(0) { $0 + $1.bytes.count } })
        let symbols = Set(series.flatMap { $0.labels.labels.flatMap { [$0.name, $0.value] } })
        let symbolBytes = Int64(symbols.reduce(0) { $0 + $1.utf8.count + 2 })
        let chunkCount = Int64(meta.stats.chunks)
        let overhead = indexBytes + chunksBytes - payload - symbolBytes
        let perChunk = Double(overhead) / Double(chunkCount)
        print("block format: \(chunkCount) chunks, \(series.count) series, overhead \(overhead) B = \(perChunk) B/chunk (all-in, incl. series + postings)")
        // Per chunk: chunks file 8 B (encoding, count, length, CRC) + index ≈ 8 B (minTime, duration, record length).
        #expect(chunksBytes - payload == 5 + chunkCount * 8)
        // All-in, including per-series labels, postings and section framing: ≤ 16 B per chunk + 24 B per series.
        #expect(overhead <= 16 * chunkCount + 24 * Int64(series.count))
        #expect(try block.select([], minTime: .min, maxTime: .max).count == 500)
    }
}
