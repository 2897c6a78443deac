import Foundation
@testable import SightlineLogStore
import SightlineCore
import SightlineStorageCore
import SightlineTestSupport
import Testing

struct LogStoreDurabilityTests {
    /// Segment `segment`'s records: 50 per segment, times unique.
    private func segmentRecords(_ segment: Int) -> [LogRecord] {
        (0..<50).map { index in
            LogFixtures.record("segment \(segment) record \(index)", at: UInt64(segment * 50 + index) * 1_000, service: index % 2 == 0 ? "a" : "b")
        }
    }

    private func expected(_ segments: ClosedRange<Int>) -> [LogRecord] {
        StoreHarness.labeled(segments.flatMap(segmentRecords)).sorted { $0.effectiveTimeUnixNano < $1.effectiveTimeUnixNano }
    }

    @Test func persistReopenAndReplayKeepEveryRecordOnce() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        do {
            let store = try harness.open()
            #expect(store.persistedSegment == -1)
            for segment in 0...3 { try StoreHarness.apply(store, segmentRecords(segment), segment: segment) }
            try store.persist(throughSegment: 1)
            #expect(store.persistedSegment == 1)
            #expect(store.summary().headRecords == 100)
            // A persist with nothing new still moves the checkpoint; an older one is a no-op.
            try store.persist(throughSegment: 1)
            try store.persist(throughSegment: 0)
            #expect(store.persistedSegment == 1)
            #expect(try StoreHarness.scan(store) == expected(0...3))
        }
        // Restart: the parts come back, the server replays segments 2 and 3 from the WAL.
        let reopened = try harness.open()
        #expect(reopened.persistedSegment == 1)
        #expect(try StoreHarness.scan(reopened) == expected(0...1))
        for segment in 2...3 { try StoreHarness.apply(reopened, segmentRecords(segment), segment: segment) }
        #expect(try StoreHarness.scan(reopened) == expected(0...3))
        try reopened.persist(throughSegment: 3)
        #expect(reopened.summary().headRecords == 0)
        let third = try harness.open()
        #expect(third.persistedSegment == 3)
        #expect(try StoreHarness.scan(third) == expected(0...3))
        // A persist of a segment with no records moves the checkpoint too.
        try third.persist(throughSegment: 7)
        #expect(try harness.open().persistedSegment == 7)
    }

    @Test func crashBeforeTheManifestLosesAndDuplicatesNothing() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let manifest = harness.directory.file("manifest")
        do {
            let store = try harness.open()
            for segment in 0...3 { try StoreHarness.apply(store, segmentRecords(segment), segment: segment) }
            try store.persist(throughSegment: 1)
            let committed = try POSIXFile.readAll(manifest)
            try store.persist(throughSegment: 3)
            // The crash: part files of segments 2 and 3 are on disk, the manifest naming them never landed, and a
            // half-written part was left behind.
            try POSIXFile.writeAtomically(committed, to: manifest)
            try POSIXFile.writeAtomically([1, 2, 3], to: harness.directory.file("parts/00000000000000ff.part.tmp.x"))
            _ = FileManager.default.createFile(atPath: harness.directory.file("parts/00000000000000fe.part.tmp"), contents: Data([1, 2]))
        }
        let partsBefore = try FileManager.default.contentsOfDirectory(atPath: harness.directory.file("parts")).filter { $0.hasSuffix(".part") }.count
        let store = try harness.open()
        #expect(store.persistedSegment == 1)
        let partsAfter = try FileManager.default.contentsOfDirectory(atPath: harness.directory.file("parts"))
        #expect(partsAfter.filter { $0.hasSuffix(".part") }.count == partsBefore - 2)
        #expect(!partsAfter.contains("00000000000000fe.part.tmp"))
        #expect(try StoreHarness.scan(store) == expected(0...1))
        for segment in 2...3 { try StoreHarness.apply(store, segmentRecords(segment), segment: segment) }
        try store.persist(throughSegment: 3)
        #expect(try StoreHarness.scan(try harness.open()) == expected(0...3))
    }

    /// A block's first read checks it whole; later reads take only the columns they need: scans and counts give the
    /// same answers on every read.
    @Test func laterReadsOfAVerifiedBlockReadItsColumnsAlone() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let records = LogFixtures.generated(1_200, seed: 5, service: "one") + LogFixtures.generated(800, seed: 6, service: "two")
        do {
            let store = try harness.open()
            try StoreHarness.apply(store, records, segment: 0)
            try store.persist(throughSegment: 0)
        }
        let store = try harness.open()
        let scan = LogScan(tenant: StoreHarness.tenant, matchers: [], range: .all, direction: .forward)
        let counts = { try store.countBuckets(scan, originNano: 0, widthNano: 60_000_000_000, groupBy: ["service_name"]) }
        let firstScan = try StoreHarness.scan(store)
        let firstCounts = try counts()
        #expect(firstScan.count == records.count)
        for _ in 0..<2 {
            #expect(try StoreHarness.scan(store) == firstScan)
            #expect(try counts() == firstCounts)
        }
    }

    @Test func damagedPartFilesNameTheFile() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        do {
            let store = try harness.open()
            try StoreHarness.apply(store, LogFixtures.generated(500, seed: 3, service: "one"), segment: 0)
            try store.persist(throughSegment: 0)
        }
        let parts = try FileManager.default.contentsOfDirectory(atPath: harness.directory.file("parts")).filter { $0.hasSuffix(".part") }.sorted()
        let path = harness.directory.file("parts/" + parts[0])
        let original = try POSIXFile.readAll(path)

        // A flipped byte inside a block: opening works, reading the block says which file and block.
        let block = try LogPart.open(path: path, id: 1).blocks[0]
        var damaged = original
        damaged[block.offset + block.bloomLength + 5] ^= 0x5A
        try POSIXFile.writeAtomically(damaged, to: path)
        let store = try harness.open()
        let error = sightlineError { _ = try StoreHarness.scan(store) }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains(path) == true)
        #expect(error?.message.contains("block") == true)

        // A cut file: opening fails and names it.
        try POSIXFile.writeAtomically(Array(original.prefix(original.count - 7)), to: path)
        let cut = sightlineError { _ = try harness.open() }
        #expect(cut?.code == .dataCorrupted)
        #expect(cut?.message.contains(path) == true)

        // A missing part the manifest names.
        try POSIXFile.remove(path)
        let missing = sightlineError { _ = try harness.open() }
        #expect(missing?.code == .dataCorrupted)
        #expect(missing?.message.contains(path) == true)

        // A damaged manifest.
        try POSIXFile.writeAtomically(original, to: path)
        var manifest = try POSIXFile.readAll(harness.directory.file("manifest"))
        manifest[6] ^= 1
        try POSIXFile.writeAtomically(manifest, to: harness.directory.file("manifest"))
        let badManifest = sightlineError { _ = try harness.open() }
        #expect(badManifest?.code == .dataCorrupted)
        #expect(badManifest?.message.contains("manifest") == true)
    }

    @Test func randomDamageNeverTraps() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        do {
            let store = try harness.open()
            try StoreHarness.apply(store, LogFixtures.varied() + LogFixtures.generated(300, seed: 4, service: "one"), segment: 0)
            try store.persist(throughSegment: 0)
        }
        let parts = try FileManager.default.contentsOfDirectory(atPath: harness.directory.file("parts")).filter { $0.hasSuffix(".part") }
        var random = SplitMix64(seed: 12)
        for name in parts {
            let path = harness.directory.file("parts/" + name)
            let original = try POSIXFile.readAll(path)
            for _ in 0..<30 {
                var damaged = original
                damaged[Int.random(in: 0..<damaged.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
                try POSIXFile.writeAtomically(damaged, to: path)
                expectDecodesOrFails(with: .dataCorrupted) { _ = try StoreHarness.scan(try harness.open()) }
            }
            try POSIXFile.writeAtomically(original, to: path)
        }
    }
}
