import Dispatch
@testable import SightlineLogStore
import SightlineCore
import SightlineTestSupport
import Synchronization
import Testing

struct LogStoreConcurrencyTests {
    @Test func headChunksSplitAndDropByCount() {
        var stream = LogStore.Stream()
        let records = (0..<3000).map { LogFixtures.record("r\($0)", at: UInt64($0)) }
        let batch = LogBatch(records)
        stream.appendHead(batch, ranges: [0..<1000, 1000..<1500], segment: 0)
        stream.appendHead(batch, ranges: [1500..<2000, 2000..<2000], segment: 1)
        stream.appendHead(LogBatch(records[2000...]), ranges: [0..<1000], segment: 1)
        #expect(stream.headCount == 3000)
        #expect(stream.head.count == 4)
        #expect(stream.headChunks(through: 0).flatMap(\.records) == Array(records[0..<1500]))
        #expect(stream.headChunks(through: 1).flatMap(\.records) == records)
        stream.dropHead(1700)
        #expect(stream.headCount == 1300)
        #expect(stream.head.flatMap(\.records) == Array(records[1700...]))
        stream.dropHead(1300)
        #expect(stream.head.isEmpty)
    }

    /// Small runs (one line at a time) share chunks of copies instead of leaving a chunk each; large runs stay
    /// slices of their batch; a chunk holds one segment's records.
    @Test func smallRunsJoinAChunkAndLargeOnesAreSlices() {
        var stream = LogStore.Stream()
        let records = (0..<2300).map { LogFixtures.record("r\($0)", at: UInt64($0)) }
        let batch = LogBatch(records)
        for index in 0..<100 { stream.appendHead(batch, ranges: [index..<(index + 1)], segment: 0) }
        #expect(stream.head.count == 1)
        stream.appendHead(batch, ranges: [100..<200], segment: 0)
        stream.appendHead(batch, ranges: [200..<205, 205..<210], segment: 0)
        stream.appendHead(batch, ranges: [210..<215], segment: 1)
        #expect(stream.head.map(\.records.count) == [100, 100, 10, 5])
        #expect(stream.head.map(\.joinable) == [true, false, true, true])
        for start in stride(from: 215, to: 2300, by: 5) { stream.appendHead(batch, ranges: [start..<(start + 5)], segment: 1) }
        #expect(stream.head.map(\.records.count) == [100, 100, 10, 1025, 1025, 40])
        #expect(stream.headChunks(through: 1).flatMap(\.records) == records)
        // A joinable chunk dropped in part keeps its remaining records when more join it.
        stream.dropHead(2290)
        stream.appendHead(batch, ranges: [0..<2], segment: 1)
        #expect(stream.head.flatMap(\.records).map(\.line) == records[2290...].map(\.line) + ["r0", "r1"])
        stream.dropHead(12)
        #expect(stream.head.isEmpty && stream.headCount == 0)
    }

    /// Applies, persists and maintenance on one thread while others scan: every scan sees records in order, and
    /// at the end every record is there once.
    @Test func scansRunWhileWritersPersistAndMerge() throws {
        var options = StoreHarness.smallBlocks
        options.mergeMinParts = 2
        let harness = try StoreHarness(options: options)
        defer { harness.directory.remove() }
        let store = try harness.open()
        let services = ["a", "b", "c", "d"]
        let failures = Mutex<[String]>([])
        let clock = harness.clock
        DispatchQueue.concurrentPerform(iterations: 3) { worker in
            do {
                if worker == 0 {
                    for segment in 0..<40 {
                        let records = (0..<50).map { index in
                            LogFixtures.record("s\(segment) i\(index)", at: UInt64(segment * 50 + index) * 10, service: services[index % 4])
                        }
                        try StoreHarness.apply(store, records, segment: segment)
                        if segment % 3 == 2 { try store.persist(throughSegment: segment - 1) }
                        if segment % 7 == 6 { try store.maintain(now: clock.nano) }
                    }
                } else {
                    for round in 0..<30 {
                        let direction: LogScan.Direction = round % 2 == 0 ? .forward : .backward
                        let records = try StoreHarness.scan(store, direction: direction)
                        let times = records.map(\.effectiveTimeUnixNano)
                        let ordered = direction == .forward ? times == times.sorted() : times == times.sorted(by: >)
                        if !ordered { failures.withLock { $0.append("scan \(round) out of order") } }
                        if Set(records.map(\.line)).count != records.count { failures.withLock { $0.append("scan \(round) has duplicates") } }
                    }
                }
            } catch {
                failures.withLock { $0.append("worker \(worker): \(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        try store.persist(throughSegment: 39)
        try store.maintain(now: clock.nano)
        let all = try StoreHarness.scan(store)
        #expect(all.count == 2000)
        #expect(Set(all.map(\.line)).count == 2000)
        #expect(try StoreHarness.scan(try harness.open()).count == 2000)
    }
}

/// Persisting writes a stream's head chunks as they are when they are in time order, else in the order of their times.
struct LogStoreHeadOrderTests {
    @Test func chunksInTimeOrderAreKeptAndOthersAreReadInTimeOrder() throws {
        let a = (0..<5).map { LogFixtures.record("a\($0)", at: UInt64($0) * 10) }
        let b = (5..<9).map { LogFixtures.record("b\($0)", at: UInt64($0) * 10) }
        #expect(LogStore.timeOrder([LogStore.HeadChunk(a), LogStore.HeadChunk(b)]) == nil)
        // Chunks are row ranges of applied batches: places are rows of the chunk's batch.
        let batch = LogBatch(b + a)
        let slices = [LogStore.HeadChunk(segment: 0, batch: batch, rows: 0..<4), LogStore.HeadChunk(segment: 0, batch: batch, rows: 4..<9)]
        let places = try #require(LogStore.timeOrder(slices))
        #expect(places.prefix(2) == [LogStore.RecordLocation(chunk: 1, index: 4), LogStore.RecordLocation(chunk: 1, index: 5)])
        #expect(places.map { slices[$0.chunk].batch[$0.index].line } == (a + b).map(\.line))
        // A record of the second chunk older than the first's last: sorted, equal times in arrival order.
        let late = [LogFixtures.record("late", at: 25), LogFixtures.record("tie", at: 40)]
        let joined = inTimeOrder([a, late])
        let base = a[0].effectiveTimeUnixNano
        #expect(joined.map { $0.effectiveTimeUnixNano - base } == [0, 10, 20, 25, 30, 40, 40])
        #expect(joined.map(\.line)[5...] == ["a4", "tie"])
        // Four interleaved chunks (two requests' worth each, as two connections deliver them), one of them empty.
        var chunks: [[LogRecord]] = []
        for chunk in 0..<4 {
            var records: [LogRecord] = []
            for index in 0..<(chunk == 2 ? 0 : 50) {
                let time = UInt64(index * 4 + chunk % 2) * 10
                records.append(LogFixtures.record("c\(chunk)-\(index)", at: time))
            }
            chunks.append(records)
        }
        let merged = inTimeOrder(chunks)
        let arrived: [LogRecord] = Array(chunks.joined())
        let order = arrived.indices.sorted { (x: Int, y: Int) -> Bool in
            let (a, b) = (arrived[x].effectiveTimeUnixNano, arrived[y].effectiveTimeUnixNano)
            return a != b ? a < b : x < y
        }
        #expect(merged.map(\.line) == order.map { arrived[$0].line })
    }

    /// The records of `chunks` in ``LogStore/timeOrder(_:)``'s order (the chunks joined when it says they are in order).
    private func inTimeOrder(_ chunks: [[LogRecord]]) -> [LogRecord] {
        guard let order = LogStore.timeOrder(chunks.map { LogStore.HeadChunk($0) }) else { return Array(chunks.joined()) }
        return order.map { chunks[$0.chunk][$0.index] }
    }
}

/// Batches that mix streams go to each stream's head in their order, across chunks and segments, before and after
/// persisting.
struct LogStoreMixedBatchTests {
    @Test func interleavedStreamsLandInEachStreamInOrder() throws {
        let harness = try StoreHarness()
        let store = try harness.open()
        var expected: [String: [String]] = [:]
        var time: UInt64 = 0
        // Three streams interleaved in runs of 1–3 records; batches in segments 1, 1, 2 (the second continues the
        // first's chunks, the third starts new ones), one stream also alone in a batch.
        for (batch, segment) in [(0, 1), (1, 1), (2, 2), (3, 2)] {
            var records: [LogRecord] = []
            for run in 0..<(batch == 3 ? 1 : 40) {
                let service = batch == 3 ? "solo" : ["a", "b", "c"][run % 3]
                for _ in 0..<(1 + run % 3) {
                    time += 1
                    let line = "\(service)-\(time)"
                    records.append(LogFixtures.record(line, at: time * 1000, service: service))
                    expected[service, default: []].append(line)
                }
            }
            try StoreHarness.apply(store, records, segment: segment)
        }
        func check(_ store: LogStore) throws {
            for (service, lines) in expected {
                let got = try StoreHarness.scan(store, matchers: [try LabelMatcher("service_name", .equal, service)])
                #expect(got.map(\.line) == lines, "\(service)")
            }
        }
        try check(store)
        try store.persist(throughSegment: 1)
        try check(store)
        try store.persist(throughSegment: 2)
        try check(try harness.open())
    }
}
