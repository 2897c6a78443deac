import Foundation
import Logging
import SightlineCore
import SightlineTestSupport
import Synchronization
import Testing

@testable import SightlineStorageCore

/// A `Mutex` in a class, so `@Sendable` closures can share it.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout sending Value) -> sending R) -> R { mutex.withLock(body) }
}

struct WriteAheadLogTests {
    private let logger = Logger(label: "test.wal")

    private func payload(_ index: Int, size: Int = 40) -> [UInt8] {
        var bytes = Array("record-\(index)-".utf8)
        while bytes.count < size { bytes.append(UInt8(truncatingIfNeeded: index &* 7 &+ bytes.count)) }
        return bytes
    }

    private func replayAll(_ wal: WriteAheadLog, after: Int = 0) throws -> [(WALPosition, [UInt8])] {
        var out: [(WALPosition, [UInt8])] = []
        let count = try wal.replay(afterSegment: after) { position, bytes in out.append((position, Array(bytes))) }
        #expect(count == out.count)
        return out
    }

    private func segmentFiles(_ dir: TemporaryDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".wal") }.sorted()
    }

    private func overwrite(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    private func appendSequentially(_ wal: WriteAheadLog, _ range: Range<Int>, size: Int = 40) async throws -> [WALPosition] {
        var positions: [WALPosition] = []
        for index in range { positions.append(try await wal.append(payload(index, size: size)) { _ in }) }
        return positions
    }

    @Test func concurrentAppendsRoundTrip() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        let wal = try WriteAheadLog(directory: dir.path, options: WALOptions(segmentSize: 16 << 10), logger: logger)
        let writers = 32
        let perWriter = 25
        let appended = try await withThrowingTaskGroup(of: [(Int, WALPosition)].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var out: [(Int, WALPosition)] = []
                    for n in 0..<perWriter {
                        let index = writer * perWriter + n
                        out.append((index, try await wal.append(self.payload(index)) { _ in }))
                    }
                    return out
                }
            }
            var all: [Int: WALPosition] = [:]
            for try await part in group { for (index, position) in part { all[index] = position } }
            return all
        }
        #expect(appended.count == writers * perWriter)
        #expect(Set(appended.values).count == writers * perWriter)
        try await wal.close()

        let reopened = try WriteAheadLog(directory: dir.path, logger: logger)
        #expect(reopened.recoveryReport.records == writers * perWriter)
        #expect(reopened.recoveryReport.droppedBytes == 0)
        let records = try replayAll(reopened)
        #expect(records.count == writers * perWriter)
        #expect(zip(records, records.dropFirst()).allSatisfy { $0.0 < $1.0 })
        var seen = Set<Int>()
        for (position, bytes) in records {
            guard let index = (0..<writers * perWriter).first(where: { payload($0) == bytes }) else {
                Issue.record("unknown payload at \(position)")
                continue
            }
            #expect(seen.insert(index).inserted)
            #expect(appended[index] == position)
        }
        #expect(seen.count == writers * perWriter)
        try await reopened.close()
    }

    @Test(arguments: [(cut: 5, garbage: 0), (cut: 0, garbage: 13), (cut: 30, garbage: 3)])
    func tornTailIsCutOffTheLastSegment(cut: Int, garbage: Int) async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        let wal = try WriteAheadLog(directory: dir.path, logger: logger)
        let positions = try await appendSequentially(wal, 0..<10)
        try await wal.close()

        let path = dir.file("00000001.wal")
        var bytes = try POSIXFile.readAll(path)
        let originalSize = bytes.count
        bytes.removeLast(cut)
        bytes += (0..<garbage).map { UInt8(0xA0 + $0) }
        try overwrite(path, bytes)

        let (capturing, store) = CapturingLogHandler.logger()
        let reopened = try WriteAheadLog(directory: dir.path, logger: capturing)
        let intact = cut == 0 ? 10 : 9
        let validEnd = cut == 0 ? originalSize : Int(positions[9].offset)
        #expect(reopened.recoveryReport == WALRecoveryReport(segments: 1, records: intact, droppedBytes: Int64(bytes.count - validEnd), droppedInSegment: 1))
        #expect(try POSIXFile.readAll(path).count == validEnd)
        let warnings = store.entries.withLock { $0.filter { $0.level == .warning } }
        #expect(warnings.count == 1)
        #expect(warnings.first?.metadata["wal.dropped_bytes"] == "\(bytes.count - validEnd)")

        #expect(reopened.currentSegment == 2)
        let fresh = try await reopened.append(payload(100)) { _ in }
        #expect(fresh == WALPosition(segment: 2, offset: 8))
        try await reopened.close()

        let third = try WriteAheadLog(directory: dir.path, logger: logger)
        #expect(third.recoveryReport.droppedBytes == 0)
        let records = try replayAll(third)
        #expect(records.map(\.1) == (0..<intact).map { payload($0) } + [payload(100)])
        #expect(Array(records.map(\.0).prefix(intact)) == Array(positions.prefix(intact)))
        try await third.close()
    }

    @Test func checksumMismatchInASealedSegmentRefusesToOpen() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        let wal = try WriteAheadLog(directory: dir.path, logger: logger)
        let first = try await appendSequentially(wal, 0..<5)
        #expect(try await wal.rotate() == 1)
        _ = try await appendSequentially(wal, 5..<10)
        try await wal.close()

        let path = dir.file("00000001.wal")
        var bytes = try POSIXFile.readAll(path)
        let damaged = first[3]
        bytes[Int(damaged.offset) + 8 + 2] ^= 0x01
        try overwrite(path, bytes)

        do {
            _ = try WriteAheadLog(directory: dir.path, logger: logger)
            Issue.record("opening a WAL with a damaged sealed segment succeeded")
        } catch let error as SightlineError {
            #expect(error.code == .dataCorrupted)
            #expect(error.message.contains("00000001.wal"))
            #expect(error.message.contains("byte offset \(damaged.offset)"))
        }
        // Nothing was repaired or created.
        #expect(try POSIXFile.readAll(path) == bytes)
        #expect(try segmentFiles(dir) == ["00000001.wal", "00000002.wal"])
    }

    @Test func damagedLengthInASealedSegmentRefusesToOpen() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        let wal = try WriteAheadLog(directory: dir.path, logger: logger)
        let first = try await appendSequentially(wal, 0..<3)
        _ = try await wal.rotate()
        try await wal.close()
        let path = dir.file("00000001.wal")
        var bytes = try POSIXFile.readAll(path)
        bytes[Int(first[1].offset) + 3] = 0x7F  // length now far beyond the file
        try overwrite(path, bytes)
        #expect {
            _ = try WriteAheadLog(directory: dir.path, logger: logger)
        } throws: { error in
            guard let error = error as? SightlineError else { return false }
            return error.code == .dataCorrupted && error.message.contains("00000001.wal") && error.message.contains("byte offset \(first[1].offset)")
        }
    }

    @Test func checksumMismatchInTheLastSegmentTruncatesFromThatRecord() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        let wal = try WriteAheadLog(directory: dir.path, logger: logger)
        _ = try await appendSequentially(wal, 0..<5)
        _ = try await wal.rotate()
        let second = try await appendSequentially(wal, 5..<10)
        try await wal.close()

        let path = dir.file("00000002.wal")
        var bytes = try POSIXFile.readAll(path)
        bytes[Int(second[2].offset) + 8 + 5] ^= 0x80
        try overwrite(path, bytes)

        let reopened = try WriteAheadLog(directory: dir.path, logger: logger)
        #expect(
            reopened.recoveryReport
                == WALRecoveryReport(segments: 2, records: 7, droppedBytes: Int64(bytes.count) - second[2].offset, droppedInSegment: 2)
        )
        #expect(try replayAll(reopened).map(\.1) == (0..<7).map { payload($0) })
        #expect(reopened.currentSegment == 3)
        try await reopened.close()
    }

    @Test func replayAfterRestartSkipsPersistedSegments() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        var wal = try WriteAheadLog(directory: dir.path, logger: logger)
        _ = try await appendSequentially(wal, 0..<3)  // segment 1
        #expect(try await wal.rotate() == 1)
        _ = try await appendSequentially(wal, 3..<6)  // segment 2
        try await wal.close()

        wal = try WriteAheadLog(directory: dir.path, logger: logger)  // writes segment 3
        #expect(wal.recoveryReport == WALRecoveryReport(segments: 2, records: 6, droppedBytes: 0, droppedInSegment: nil))
        #expect(try replayAll(wal, after: 0).map(\.1) == (0..<6).map { payload($0) })
        #expect(try replayAll(wal, after: 1).map(\.1) == (3..<6).map { payload($0) })
        #expect(try replayAll(wal, after: 1).allSatisfy { $0.0.segment == 2 })
        #expect(try replayAll(wal, after: 2).isEmpty)
        #expect(try replayAll(wal, after: -1).count == 6)
        _ = try await appendSequentially(wal, 6..<8)
        try await wal.close()

        wal = try WriteAheadLog(directory: dir.path, logger: logger)
        #expect(try replayAll(wal, after: 2).map(\.1) == (6..<8).map { payload($0) })
        #expect(try replayAll(wal, after: 2).allSatisfy { $0.0.segment == 3 })
        try await wal.close()
    }

    @Test func restartsWithoutAppendsLeaveNoEmptySegmentsBehind() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        var wal = try WriteAheadLog(directory: dir.path, logger: logger)
        _ = try await appendSequentially(wal, 0..<2)  // segment 1
        try await wal.close()
        for _ in 0..<3 {
            wal = try WriteAheadLog(directory: dir.path, logger: logger)
            try await wal.close()
        }
        // Segment 1 keeps its records; of the empty ones only the newest (still the open one when it closed) is left.
        #expect(try segmentFiles(dir) == ["00000001.wal", "00000004.wal"])
        wal = try WriteAheadLog(directory: dir.path, logger: logger)
        #expect(try replayAll(wal, after: 0).map(\.1) == (0..<2).map { payload($0) })
        _ = try await appendSequentially(wal, 2..<3)
        #expect(wal.currentSegment == 5)
        try await wal.close()
    }

    @Test func replayAfterAnAppendIsRefused() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        let wal = try WriteAheadLog(directory: dir.path, logger: logger)
        _ = try await wal.append(payload(0)) { _ in }
        #expect(throws: SightlineError.self) { try wal.replay(afterSegment: 0) { _, _ in } }
        try await wal.close()
    }

    @Test func segmentsRollOverBySizeAndOnRotate() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        // Room for exactly three 100-byte records per segment.
        let wal = try WriteAheadLog(directory: dir.path, options: WALOptions(segmentSize: 8 + 3 * 108), logger: logger)
        let positions = try await appendSequentially(wal, 0..<7, size: 100)
        #expect(positions.map(\.segment) == [1, 1, 1, 2, 2, 2, 3])
        #expect(positions.map(\.offset) == [8, 116, 224, 8, 116, 224, 8])
        #expect(wal.currentSegment == 3)

        // A record larger than a segment goes alone into its own.
        let big = try await wal.append(payload(7, size: 1000)) { _ in }
        #expect(big == WALPosition(segment: 4, offset: 8))
        let after = try await wal.append(payload(8, size: 100)) { _ in }
        #expect(after == WALPosition(segment: 5, offset: 8))

        #expect(try await wal.rotate() == 5)
        #expect(wal.currentSegment == 6)
        #expect(try await wal.rotate() == 6)  // an empty segment is closed too
        let last = try await wal.append(payload(9, size: 100)) { _ in }
        #expect(last == WALPosition(segment: 7, offset: 8))
        let expectedBytes: Int64 = 2 * 332 + (8 + 108) + (8 + 1008) + (8 + 108) + 8 + (8 + 108)
        #expect(wal.totalBytes == expectedBytes)
        try await wal.close()

        let files = try segmentFiles(dir)
        #expect(files == (1...7).map { FileNames.segment($0) })
        var size: Int64 = 0
        for file in files { size += Int64(try POSIXFile.readAll(dir.file(file)).count) }
        #expect(size == wal.totalBytes)

        let reopened = try WriteAheadLog(directory: dir.path, logger: logger)
        let records = try replayAll(reopened)
        #expect(records.map(\.1) == (0..<7).map { payload($0, size: 100) } + [payload(7, size: 1000), payload(8, size: 100), payload(9, size: 100)])
        try await reopened.close()
    }

    @Test func removeSegmentsDeletesFilesAndReplaySkipsThem() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        var wal = try WriteAheadLog(directory: dir.path, logger: logger)
        for segment in 1...3 {
            _ = try await appendSequentially(wal, (segment * 10)..<(segment * 10 + 2))
            _ = try await wal.rotate()
        }
        #expect(wal.currentSegment == 4)
        let before = wal.totalBytes
        try wal.removeSegments(through: 2)
        #expect(try segmentFiles(dir) == ["00000003.wal", "00000004.wal"])
        #expect(wal.totalBytes < before)
        // The open segment is never removed.
        try wal.removeSegments(through: 100)
        #expect(try segmentFiles(dir) == ["00000004.wal"])
        _ = try await appendSequentially(wal, 40..<42)
        try await wal.close()

        wal = try WriteAheadLog(directory: dir.path, logger: logger)
        #expect(wal.recoveryReport.segments == 1)
        #expect(try replayAll(wal).map(\.1) == (40..<42).map { payload($0) })
        try await wal.close()
    }

    @Test func onDurableRunsInPositionOrder() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        let wal = try WriteAheadLog(directory: dir.path, options: WALOptions(segmentSize: 4 << 10), logger: logger)
        let order = Locked<[WALPosition]>([])
        let returned = try await withThrowingTaskGroup(of: WALPosition.self) { group in
            for index in 0..<400 {
                group.addTask { try await wal.append(self.payload(index)) { position in order.withLock { $0.append(position) } } }
            }
            var all: [WALPosition] = []
            for try await position in group { all.append(position) }
            return all
        }
        let seen = order.withLock { $0 }
        #expect(seen.count == 400)
        #expect(seen == seen.sorted())
        #expect(Set(seen) == Set(returned))
        #expect(seen.last.map { $0.segment > 1 } == true)
        try await wal.close()
    }

    @Test func aThrowingOnDurableFailsTheAppendButKeepsTheRecord() async throws {
        struct ApplyFailed: Error {}
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        let wal = try WriteAheadLog(directory: dir.path, logger: logger)
        await #expect(throws: ApplyFailed.self) { try await wal.append(payload(0)) { _ in throw ApplyFailed() } }
        _ = try await wal.append(payload(1)) { _ in }
        try await wal.close()
        let reopened = try WriteAheadLog(directory: dir.path, logger: logger)
        #expect(try replayAll(reopened).map(\.1) == [payload(0), payload(1)])
        try await reopened.close()
    }

    @Test func appendAfterCloseIsUnavailable() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        let wal = try WriteAheadLog(directory: dir.path, logger: logger)
        _ = try await wal.append(payload(0)) { _ in }
        try await wal.close()
        try await wal.close()  // idempotent
        await #expect {
            _ = try await wal.append(payload(1)) { _ in }
        } throws: { ($0 as? SightlineError)?.code == .unavailable }
        await #expect {
            _ = try await wal.rotate()
        } throws: { ($0 as? SightlineError)?.code == .unavailable }
    }

    @Test func closeWaitsForQueuedAppends() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        let wal = try WriteAheadLog(directory: dir.path, logger: logger)
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<50 {
                group.addTask { (try? await wal.append(self.payload(index)) { _ in }) != nil }
            }
            group.addTask {
                try? await wal.close()
                return true
            }
            var results: [Bool] = []
            for await ok in group { results.append(ok) }
            return results
        }
        let accepted = results.filter { $0 }.count - 1
        let reopened = try WriteAheadLog(directory: dir.path, logger: logger)
        #expect(try replayAll(reopened).count == accepted)
        try await reopened.close()
    }

    @Test func recordsEncodedByTheWriterAreEncodedAgainForTheNextSegment() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        // Metrics records whose series are named by number after their segment's first record: with small segments
        // records keep not fitting, are encoded again for the next segment, and must define their series there.
        let tenant = Tenant(uncheckedID: "t")
        let series = (0..<30).map { Labels(["__name__": "m\($0 % 4)", "instance": "host-\($0)"]) }
        let wal = try WriteAheadLog(directory: dir.path, options: WALOptions(segmentSize: 1 << 10), logger: logger)
        var expected: [MetricSample] = []
        var positions: [WALPosition] = []
        for round in 0..<40 {
            let picked = (0..<(5 + round % 7)).map { (round * 7 + $0 * 3) % series.count }
            let samples = picked.map { MetricSample(labels: series[$0], timestampMs: Int64(round * 1000 + $0), value: Double(round)) }
            let batch = TenantBatch(tenant: tenant, batch: .metrics(MetricBatch(samples: samples, seriesRefs: SeriesRefs(owner: 1, ids: picked.map { UInt32($0 + 1) }))))
            expected += samples
            positions.append(try await wal.append(encodedBy: { writer, scope in batch.encode(into: &writer, scope: scope) }) { _ in })
        }
        #expect(positions.map(\.segment).max()! >= 3)
        try await wal.close()

        let reopened = try WriteAheadLog(directory: dir.path, logger: logger)
        var decoded: [MetricSample] = []
        var table: WALSeriesTable?
        var tableSegment = -1
        var replayedPositions: [WALPosition] = []
        _ = try reopened.replay(afterSegment: 0) { position, payload in
            if position.segment != tableSegment { (table, tableSegment) = (WALSeriesTable(), position.segment) }
            guard case .metrics(let metrics) = try TenantBatch(decoding: payload, seriesTable: &table).batch else { return }
            decoded += metrics.samples
            replayedPositions.append(position)
        }
        #expect(replayedPositions == positions)
        #expect(decoded == expected)
        try await reopened.close()
    }

    @Test func emptyPayloadIsRejected() async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        let wal = try WriteAheadLog(directory: dir.path, logger: logger)
        await #expect {
            _ = try await wal.append([]) { _ in }
        } throws: { ($0 as? SightlineError)?.code == .invalidArgument }
        try await wal.close()
    }

    @Test(arguments: [FsyncPolicy.interval(.milliseconds(20)), .never, .always])
    func fsyncPolicies(policy: FsyncPolicy) async throws {
        let dir = try TemporaryDirectory(prefix: "sightline-wal")
        defer { dir.remove() }
        let commits = Locked<(batches: Int, records: Int, bytes: Int, fsyncs: Int)>((0, 0, 0, 0))
        let options = WALOptions(segmentSize: 8 << 10, fsync: policy) { records, bytes, _, fsyncSeconds in
            commits.withLock {
                $0.batches += 1
                $0.records += records
                $0.bytes += bytes
                if fsyncSeconds > 0 { $0.fsyncs += 1 }
            }
        }
        let wal = try WriteAheadLog(directory: dir.path, options: options, logger: logger)
        #expect(wal.onCommit != nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask { _ = try await self.appendSequentially(wal, (writer * 50)..<(writer * 50 + 50)) }
            }
            try await group.waitForAll()
        }
        if case .interval = policy { try await Task.sleep(for: .milliseconds(60)) }  // let the background fsync run
        try await wal.close()
        let seen = commits.withLock { $0 }
        #expect(seen.records == 400)
        #expect(seen.bytes == 400 * 48)
        switch policy {
        case .always: #expect(seen.fsyncs == seen.batches)
        case .never: #expect(seen.fsyncs == 0)
        case .interval: #expect(seen.fsyncs < seen.batches || seen.batches == 1)
        }
        let reopened = try WriteAheadLog(directory: dir.path, logger: logger)
        let records = try replayAll(reopened)
        #expect(Set(records.map(\.1)) == Set((0..<400).map { payload($0) }))
        try await reopened.close()
    }

    @Test func scannerStopsAtZeroFill() throws {
        var bytes = WALSegmentFormat.header
        WALSegmentFormat.appendFrame(Array("hello".utf8), to: &bytes)
        let end = bytes.count
        bytes += [UInt8](repeating: 0, count: 64)
        let result = bytes.withUnsafeBytes { WALSegmentFormat.scan($0) { _, _ in } }
        #expect(result.records == 1)
        #expect(result.validEnd == end)
        #expect(result.damage?.isTornTail == true)

        #expect([UInt8]().withUnsafeBytes { WALSegmentFormat.scan($0) { _, _ in } } == .init(records: 0, validEnd: 0, damage: nil))
        #expect(Array("SWA".utf8).withUnsafeBytes { WALSegmentFormat.scan($0) { _, _ in } }.damage == .incompleteHeader(bytes: 3))
        #expect(Array("NOPE\u{1}\0\0\0".utf8).withUnsafeBytes { WALSegmentFormat.scan($0) { _, _ in } }.damage == .foreignHeader)
    }

    @Test func segmentFileNames() {
        #expect(FileNames.segment(1) == "00000001.wal")
        #expect(FileNames.segment(123_456_789) == "123456789.wal")
        #expect(FileNames.segmentNumber(fileName: "00000042.wal") == 42)
        #expect(FileNames.segmentNumber(fileName: "42.wal") == nil)
        #expect(FileNames.segmentNumber(fileName: "00000042.wal.tmp") == nil)
        #expect(FileNames.segmentNumber(fileName: "0000004a.wal") == nil)
    }
}
