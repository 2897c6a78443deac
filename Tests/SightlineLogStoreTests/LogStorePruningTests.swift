@testable import SightlineLogStore
import SightlineCore
import SightlineTestSupport
import Testing

struct LogStorePruningTests {
    @Test func rareTermReadsOnlyItsBlock() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        var records = LogFixtures.generated(3000, seed: 11, service: "payments")
        records[1234].body = .string("ledger invariant violated: checksum mismatch in segment 42")
        try StoreHarness.apply(store, records, segment: 0)
        try store.persist(throughSegment: 0)
        let blocks = store.summary().blocks
        #expect(blocks >= 30)  // three hosts, so three streams of 100-record blocks

        let found = try StoreHarness.scan(store, lineContains: ["checksum mismatch"])
        #expect(found.map(\.line) == ["ledger invariant violated: checksum mismatch in segment 42"])
        #expect(store.blockCounters == (read: 1, skipped: blocks - 1))

        // Two needles must both be possible; the block of the needle is read, the others not.
        let both = try StoreHarness.scan(store, direction: .backward, lineContains: ["invariant", "segment 42"])
        #expect(both.count == 1)
        #expect(store.blockCounters == (read: 2, skipped: 2 * (blocks - 1)))

        // A term in no line reads nothing.
        #expect(try StoreHarness.scan(store, lineContains: ["zebra unicorn"]).isEmpty)
        #expect(store.blockCounters.read == 2)

        // A needle under 3 bytes cannot be pruned: every block is read (and nothing is found).
        #expect(try StoreHarness.scan(store, lineContains: ["Zq"]).isEmpty)
        #expect(store.blockCounters.read == 2 + blocks)
        // Longer needles prune, also when made of multibyte characters (each 3-byte needle alone would pass a
        // block's filter by chance about 15 % of the time; several trigrams make that negligible).
        #expect(try StoreHarness.scan(store, lineContains: ["Zqx-Zqx"]).isEmpty)
        #expect(try StoreHarness.scan(store, lineContains: ["€ für Größe"]).isEmpty)
        #expect(store.blockCounters.read == 2 + blocks)
        // An empty needle filters nothing and is not pruned on.
        #expect(try StoreHarness.scan(store, range: TimeRange(startNano: 0, endNano: records[10].effectiveTimeUnixNano), lineContains: [""]).count == 10)
    }

    @Test func substringSearchHasNoFalseNegatives() throws {
        let harness = try StoreHarness()
        defer { harness.directory.remove() }
        let store = try harness.open()
        var records = LogFixtures.generated(1000, seed: 5)
        let unicode = ["Grüße aus Köln — Straße", "支付失败 payment failed", "emoji 🚀 launch", "naïve café résumé"]
        for (offset, text) in unicode.enumerated() { records[offset * 211 + 17].body = .string(text) }
        records[900].body = .int(987_654_321)
        try StoreHarness.apply(store, Array(records[0..<800]), segment: 0)
        try StoreHarness.apply(store, Array(records[800...]), segment: 1)
        try store.persist(throughSegment: 0)

        var random = SplitMix64(seed: 99)
        var needles = ["ü", "Kö", "ß", "🚀", "失败", "é r", "87654", "0.", "a", "GET /api", "trace_id="]
        for _ in 0..<40 {
            let line = Array(records[Int.random(in: 0..<records.count, using: &random)].line.utf8)
            guard !line.isEmpty else { continue }
            let start = Int.random(in: 0..<line.count, using: &random)
            let end = min(line.count, start + Int.random(in: 1...12, using: &random))
            let slice = Array(line[start..<end])
            // Only whole characters: the filter is given Strings.
            if let text = String(validating: slice, as: UTF8.self) { needles.append(text) }
        }
        let labeled = StoreHarness.labeled(records).sorted { $0.effectiveTimeUnixNano < $1.effectiveTimeUnixNano }
        for needle in needles {
            let expected = labeled.filter { Array($0.line.utf8).firstRange(of: Array(needle.utf8)) != nil }
            let found = try StoreHarness.scan(store, lineContains: [needle])
            #expect(found == expected, "needle \(needle)")
        }
    }
}
