import SightlineCore
import Testing
@testable import SightlineTraceStore

struct TraceHeadTests {
    typealias F = SpanFixtures

    @Test func chunkedBatchesKeepOrderAndIndexAcrossRemovals() {
        var head = TraceHead()
        // More batches than several chunks; trace t gets one span per batch whose number ≡ t (mod 7).
        for number in 0..<1000 {
            head.append(tenant: F.tenant, segment: number / 10, spans: [F.span(trace: UInt64(number % 7), span: UInt64(number + 1), start: F.base)])
        }
        let snapshot = head.batches
        #expect(head.batches.count == 1000)
        #expect(head.batches.map { $0.spans[0].spanID.value } == (1...1000).map(UInt64.init))
        #expect(head.prefixCount(throughSegment: 29) == 300)
        head.removeFirst(300)
        #expect(head.batches.count == 700)
        #expect(head.spanCount == 700)
        #expect(head.batches.first?.segment == 30)
        #expect(head.spans(tenant: F.tenant, id: TraceID(high: 0xABCD, low: 3)).map(\.spanID.value) == stride(from: 305, through: 1000, by: 7).map(UInt64.init))
        head.append(tenant: F.other, segment: 100, spans: [F.span(trace: 3, span: 5000, start: F.base)])
        #expect(head.spans(tenant: F.other, id: TraceID(high: 0xABCD, low: 3)).map(\.spanID.value) == [5000])
        #expect(head.spans(tenant: F.tenant, id: TraceID(high: 0xABCD, low: 3)).count == 100)
        // A snapshot taken earlier is unchanged by later appends and removals.
        #expect(snapshot.count == 1000)
        #expect(snapshot[999].spans[0].spanID.value == 1000)
        head.removeFirst(701)
        #expect(head.batches.isEmpty)
        #expect(head.spanCount == 0)
        #expect(head.spans(tenant: F.tenant, id: TraceID(high: 0xABCD, low: 3)).isEmpty)
    }
}
