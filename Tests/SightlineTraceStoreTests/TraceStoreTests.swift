import Foundation
import SightlineCore
import SightlineTestSupport
import Testing
@testable import SightlineTraceStore

struct TraceStoreTests {
    typealias F = SpanFixtures

    @Test func everySpanFieldSurvivesHeadPersistAndReopen() throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        let span = F.fullSpan(start: F.base)
        do {
            let store = try F.open(directory)
            try store.apply([span], segment: 0)
            #expect(try store.trace(tenant: F.tenant, id: span.traceID) == [span])
            try store.persist(throughSegment: 0)
            #expect(store.stats.parts == 1)
            #expect(store.stats.headSpans == 0)
            #expect(try store.trace(tenant: F.tenant, id: span.traceID) == [span])
        }
        let reopened = try F.open(directory)
        #expect(reopened.persistedSegment == 0)
        #expect(try reopened.trace(tenant: F.tenant, id: span.traceID) == [span])
        #expect(try reopened.spans(tenant: F.tenant, in: .all, limit: 10) == [span])
    }

    @Test func traceSpreadOverHeadAndSeveralPartsIsOneTrace() throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        // Spans of trace 1 arrive minutes apart, across a partition boundary, mixed with other traces.
        let first: UInt64 = F.base + F.hour - 120 * F.second
        let spans = (0..<6).map { (i: Int) -> Span in
            let start: UInt64 = first + UInt64(i) * 60 * F.second
            return F.span(trace: 1, span: UInt64(i + 1), parent: i == 0 ? nil : 1, start: start)
        }
        let noise = (0..<50).map { i in F.span(trace: 100 + UInt64(i), span: 1, start: F.base + UInt64(i) * F.second) }
        let store = try F.open(directory)
        for (segment, span) in spans.enumerated() {
            try store.apply([span] + noise.filter { $0.traceID.low % 6 == UInt64(segment) }, segment: segment)
        }
        try store.persist(throughSegment: 1)
        try store.persist(throughSegment: 3)
        #expect(store.stats.parts >= 3)
        #expect(store.stats.headSpans > 0)
        #expect(try store.trace(tenant: F.tenant, id: spans[0].traceID) == spans)
        try store.persist(throughSegment: 5)
        let reopened = try F.open(directory)
        #expect(try reopened.trace(tenant: F.tenant, id: spans[0].traceID) == spans)
        for span in noise { #expect(try reopened.trace(tenant: F.tenant, id: span.traceID) == [span]) }
        #expect(try reopened.trace(tenant: F.tenant, id: TraceID(high: 1, low: 1)).isEmpty)
    }

    @Test func missingParentsAndSkewedChildrenAreKeptAsSent() throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        let parent = F.span(trace: 7, span: 1, start: F.base + 10 * F.second)
        // The child starts before its parent (clock skew); another span names a parent that never arrives.
        let child = F.span(trace: 7, span: 2, parent: 1, service: "db", start: F.base + 9 * F.second)
        let orphan = F.span(trace: 7, span: 3, parent: 99, start: F.base + 11 * F.second)
        let store = try F.open(directory)
        try store.apply([orphan, parent], segment: 0)
        try store.apply([child], segment: 1)
        try store.persist(throughSegment: 1)
        #expect(try store.trace(tenant: F.tenant, id: parent.traceID) == [child, parent, orphan])
    }

    @Test func tenantsDoNotSeeEachOther() throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        let mine = F.span(trace: 1, span: 1, service: "mine", start: F.base)
        let theirs = F.span(trace: 1, span: 2, service: "theirs", start: F.base)
        let store = try F.open(directory)
        try store.apply([mine], segment: 0)
        try store.apply([theirs], segment: 0, tenant: F.other)
        for persisted in [false, true] {
            if persisted { try store.persist(throughSegment: 0) }
            #expect(try store.trace(tenant: F.tenant, id: mine.traceID) == [mine])
            #expect(try store.trace(tenant: F.other, id: mine.traceID) == [theirs])
            #expect(try store.services(tenant: F.tenant, range: .all) == ["mine"])
            #expect(try store.findTraces(TraceQuery(tenant: F.other, service: "mine")).isEmpty)
            #expect(try store.spans(tenant: F.other, in: .all, limit: 10) == [theirs])
        }
    }

    @Test func partWrittenWithoutCheckpointIsNeitherLostNorDuplicated() throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        let first = F.span(trace: 1, span: 1, start: F.base)
        let second = F.span(trace: 1, span: 2, parent: 1, start: F.base + 1)
        do {
            let store = try F.open(directory)
            try store.apply([first], segment: 0)
            try store.apply([second], segment: 1)
            try store.persist(throughSegment: 0)
        }
        // A crash after a part of segment 1 was written but before the manifest named it.
        let (orphanBytes, _) = PartWriter.build(tenant: F.tenant, partition: 0, spans: [second], blockSpans: 16)
        let orphanPath = directory.file("parts/" + TraceFileNames.partFile(999))
        try Data(orphanBytes).write(to: URL(fileURLWithPath: orphanPath))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: directory.file("parts/0000000000000abc.part.tmp")))

        let store = try F.open(directory)
        #expect(store.persistedSegment == 0)
        #expect(!FileManager.default.fileExists(atPath: orphanPath))
        #expect(try directory.entries().contains("parts"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("parts")).count == 1)
        // The WAL replays segment 1, the only one after the checkpoint.
        try store.apply([second], segment: 1)
        #expect(try store.trace(tenant: F.tenant, id: first.traceID) == [first, second])
        try store.persist(throughSegment: 1)
        let reopened = try F.open(directory)
        #expect(try reopened.trace(tenant: F.tenant, id: first.traceID) == [first, second])
    }

    @Test func persistKeepsLaterSegmentsInTheHead() throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        let store = try F.open(directory)
        try store.apply([F.span(trace: 1, span: 1, start: F.base)], segment: 3)
        try store.apply([F.span(trace: 2, span: 1, start: F.base)], segment: 4)
        try store.persist(throughSegment: 3)
        #expect(store.persistedSegment == 3)
        #expect(store.stats == (parts: 1, headSpans: 1))
        try store.persist(throughSegment: 2)
        #expect(store.persistedSegment == 3)
        let reopened = try F.open(directory)
        #expect(try reopened.trace(tenant: F.tenant, id: TraceID(high: 0xABCD, low: 2)).isEmpty)
        #expect(try reopened.trace(tenant: F.tenant, id: TraceID(high: 0xABCD, low: 1)).count == 1)
    }

    @Test func tenThousandSpanTraceOverManyBlocks() throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        var random = SplitMix64(seed: 42)
        var spans: [Span] = []
        for i in 0..<10_000 {
            let parent: UInt64? = i == 0 ? nil : UInt64.random(in: 1...UInt64(i), using: &random)
            let start: UInt64 = F.base + UInt64(i) * 1000
            let duration = UInt64.random(in: 1...1_000_000, using: &random)
            spans.append(
                F.span(
                    trace: 5, span: UInt64(i + 1), parent: parent, service: "svc\(i % 7)", name: "op\(i % 13)", start: start,
                    duration: duration, attributes: [Attribute("i", .int(Int64(i)))]))
        }
        let neighbours = (0..<2000).map { i in F.span(trace: UInt64(i < 1000 ? 4 : 6), span: UInt64(i + 1), start: F.base + UInt64(i)) }
        let store = try F.open(directory, options: TraceStoreOptions(blockSpans: 256))
        for (segment, chunk) in stride(from: 0, to: spans.count, by: 1000).enumerated() {
            try store.apply(Array(spans[chunk..<chunk + 1000]) + neighbours.filter { $0.spanID.value % 10 == UInt64(segment) }, segment: segment)
        }
        try store.persist(throughSegment: 4)
        #expect(try store.trace(tenant: F.tenant, id: spans[0].traceID) == spans)
        try store.persist(throughSegment: 9)
        try store.maintain(nowNano: F.base)
        #expect(store.stats.parts == 1)
        let reopened = try F.open(directory, options: TraceStoreOptions(blockSpans: 256))
        #expect(try reopened.trace(tenant: F.tenant, id: spans[0].traceID) == spans)
        #expect(try reopened.trace(tenant: F.tenant, id: neighbours[0].traceID).count == 1000)
    }

    @Test func retentionDropsOldPartsAndMergingKeepsTraces() throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        let options = TraceStoreOptions(retention: .seconds(86_400), tenantRetention: [F.other: .seconds(3600)])
        let store = try F.open(directory, options: options)
        let old = F.span(trace: 1, span: 1, start: F.base)
        let recent = (0..<4).map { i in F.span(trace: 2, span: UInt64(i + 1), start: F.base + 2 * 86_400 * F.second + UInt64(i)) }
        let otherRecent = F.span(trace: 3, span: 1, start: F.base + 2 * 86_400 * F.second - 2 * F.hour)
        try store.apply([old], segment: 0)
        for (i, span) in recent.enumerated() {
            try store.apply([span], segment: i + 1)
            try store.persist(throughSegment: i + 1)
        }
        try store.apply([otherRecent], segment: 9, tenant: F.other)
        try store.persist(throughSegment: 9)
        #expect(store.stats.parts == 6)

        let report = try store.maintain(nowNano: F.base + 2 * 86_400 * F.second + F.hour)
        #expect(report.partsExpired == 2)
        #expect(report.spansExpired == 2)
        #expect(report.partsMerged == 4)
        #expect(report.partsCreated == 1)
        #expect(store.stats.parts == 1)
        #expect(try store.trace(tenant: F.tenant, id: old.traceID).isEmpty)
        #expect(try store.trace(tenant: F.tenant, id: recent[0].traceID) == recent)
        #expect(try store.trace(tenant: F.other, id: otherRecent.traceID).isEmpty)
        let reopened = try F.open(directory, options: options)
        #expect(try reopened.trace(tenant: F.tenant, id: recent[0].traceID) == recent)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("parts")).count == 1)
        #expect(try reopened.maintain(nowNano: F.base + 2 * 86_400 * F.second + F.hour) == TraceMaintenanceReport())
    }

    @Test func damagedPartFailsToOpenWithDataCorrupted() throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        do {
            let store = try F.open(directory)
            try store.apply([F.span(trace: 1, span: 1, start: F.base)], segment: 0)
            try store.persist(throughSegment: 0)
        }
        let path = directory.file("parts/" + TraceFileNames.partFile(1))
        var bytes = try POSIXBytes.read(path)
        bytes[bytes.count - 20] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = sightlineError { _ = try F.open(directory) }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains("footer CRC mismatch") == true)

        try Data("nonsense\n".utf8).write(to: URL(fileURLWithPath: directory.file("manifest")))
        #expect(sightlineError { _ = try F.open(directory) }?.code == .dataCorrupted)
    }

    @Test func damagedBlockIsReportedWhenRead() throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        let span = F.span(trace: 1, span: 1, start: F.base)
        do {
            let store = try F.open(directory)
            try store.apply([span], segment: 0)
            try store.persist(throughSegment: 0)
        }
        let path = directory.file("parts/" + TraceFileNames.partFile(1))
        var bytes = try POSIXBytes.read(path)
        bytes[8] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let store = try F.open(directory)
        let error = sightlineError { _ = try store.trace(tenant: F.tenant, id: span.traceID) }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains("CRC mismatch in block 0") == true)
    }

    @Test func applyRefusesOtherSignals() throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        let store = try F.open(directory)
        let error = sightlineError { try store.apply(TenantBatch(tenant: F.tenant, batch: .logs([])), at: WALPosition(segment: 0, offset: 0)) }
        #expect(error?.code == .internal)
        #expect(store.signal == .traces)
    }
}

/// Reads a whole file for damage tests.
enum POSIXBytes {
    static func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
}

struct TraceStoreConcurrencyTests {
    typealias F = SpanFixtures

    /// Queries and persists run while batches are applied; afterwards every span is found exactly once.
    @Test func queriesAndPersistsDuringApplySeeEverySpanOnce() async throws {
        let directory = try TemporaryDirectory(prefix: "traces")
        defer { directory.remove() }
        let store = try F.open(directory, options: TraceStoreOptions(blockSpans: 64))
        let segments = 40
        let tracesPerSegment = 25
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for segment in 0..<segments {
                    let spans = (0..<tracesPerSegment).flatMap { t in
                        (0..<4).map { s in
                            F.span(trace: UInt64(t), span: UInt64(segment * 4 + s + 1), start: F.base + UInt64(segment) * F.second)
                        }
                    }
                    try? store.apply(spans, segment: segment)
                    if segment % 5 == 4 { try? store.persist(throughSegment: segment - 1) }
                }
            }
            for _ in 0..<2 {
                group.addTask {
                    for t in 0..<200 {
                        let spans = (try? store.trace(tenant: F.tenant, id: TraceID(high: 0xABCD, low: UInt64(t % tracesPerSegment)))) ?? []
                        // Never a span twice, whatever moved between head and parts meanwhile.
                        #expect(Set(spans.map(\.spanID)).count == spans.count)
                    }
                }
            }
        }
        try store.persist(throughSegment: segments - 1)
        try store.maintain(nowNano: F.base)
        for t in 0..<tracesPerSegment {
            let spans = try store.trace(tenant: F.tenant, id: TraceID(high: 0xABCD, low: UInt64(t)))
            #expect(spans.count == segments * 4)
            #expect(Set(spans.map(\.spanID)).count == segments * 4)
        }
        #expect(try store.findTraces(TraceQuery(tenant: F.tenant, limit: 1000)).count == tracesPerSegment)
    }
}
