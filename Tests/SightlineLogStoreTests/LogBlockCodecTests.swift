@testable import SightlineLogStore
import SightlineCore
import SightlineTestSupport
import Testing

struct LogBlockCodecTests {
    private let labels = Labels(["service_name": "payments"])

    /// One block of `records` (sorted by effective time), as a part writer builds it.
    private func encode(_ records: ArraySlice<LogRecord>) -> EncodedBlock {
        var encoder = LogBlockEncoder()
        let batch = LogBatch(records)
        LogBatchColumns.read(batch) { columns in
            encoder.begin(batch)
            for index in batch.indices { encoder.add(index, of: columns) }
        }
        return encoder.finish(bitsPerTrigram: 4)
    }

    /// The word-at-a-time hex check agrees with a byte-by-byte one at every length and for every byte value.
    @Test func hexCheckMatchesTheByteRule() {
        func reference(_ bytes: [UInt8]) -> Bool {
            bytes.count % 2 == 0 && bytes.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        }
        var random = SplitMix64(seed: 3)
        let digits = Array("0123456789abcdef".utf8)
        for length in 0..<40 {
            var bytes = (0..<length).map { _ in digits[Int(random.next() % 16)] }
            for position in 0..<length {
                let saved = bytes[position]
                for value in 0...255 {
                    bytes[position] = UInt8(value)
                    let checked = bytes.withUnsafeBytes { AttributeValueColumn.isLowercaseHex($0) }
                    #expect(checked == reference(bytes), "\(bytes)")
                }
                bytes[position] = saved
            }
        }
    }

    @Test func everyFieldRoundTrips() throws {
        let records = LogFixtures.varied().sorted { $0.effectiveTimeUnixNano < $1.effectiveTimeUnixNano }
        let block = encode(records[...])
        #expect(block.count == records.count)
        #expect(block.minTime == LogFixtures.base)
        #expect(block.maxTime == LogFixtures.base + 7)
        let decoded = try LogBlockCodec.decode(block.data, count: block.count, streamLabels: labels, filter: .all)
        var expected = records
        // The decoder knows only the part's labels; a record that named its stream gets them back.
        for index in expected.indices where !expected[index].stream.labels.isEmpty { expected[index].stream = labels }
        #expect(decoded == expected)
    }

    @Test func generatedLinesRoundTripAndCompress() throws {
        let records = LogFixtures.generated(3000, seed: 1)
        let block = encode(records[...])
        let decoded = try LogBlockCodec.decode(block.data, count: block.count, streamLabels: labels, filter: .all)
        #expect(decoded == records)
        let rawLines = records.reduce(0) { $0 + $1.line.utf8.count }
        #expect(block.lineBytes == rawLines)
        // Lines and attributes together (random trace ids included) take less than the lines alone.
        #expect(block.data.count < rawLines)
    }

    @Test func filterKeepsRangeAndNeedles() throws {
        let records = LogFixtures.generated(500, seed: 2)
        let block = encode(records[...])
        let range = TimeRange(startNano: records[100].effectiveTimeUnixNano, endNano: records[400].effectiveTimeUnixNano)
        let filter = RecordFilter(range: range, needles: [Array("order placed".utf8)])
        let decoded = try LogBlockCodec.decode(block.data, count: block.count, streamLabels: labels, filter: filter)
        let expected = records[100..<400].filter { $0.line.contains("order placed") }
        #expect(decoded == Array(expected))
        #expect(!decoded.isEmpty)
    }

    /// What ``LogBlockCodec/countLines(_:count:filter:groupBy:streamLabels:whole:_:)`` visits, with the stream's own
    /// group written out.
    private func counted(_ block: EncodedBlock, filter: RecordFilter, groupBy: [String], whole: Bool = false) throws -> [String] {
        var out: [String] = []
        try LogBlockCodec.countLines(
            block.data, count: block.count, filter: filter, groupBy: groupBy, streamLabels: labels,
            whole: whole ? (block.minTime, block.lineBytes) : nil
        ) { time, records, bytes, group in
            out.append("\(time) \(records) \(bytes) \(group ?? groupBy.map { labels[$0] ?? "" })")
        }
        return out
    }

    @Test func countsSeeWhatDecodingKeepsGroupedAsAScanHandsIt() throws {
        let varied = LogFixtures.varied().sorted { $0.effectiveTimeUnixNano < $1.effectiveTimeUnixNano }
        var generated = LogFixtures.generated(400, seed: 3)
        for index in generated.indices where index % 3 == 0 { generated[index].traceID = TraceID(high: 7, low: UInt64(index)) }
        for records in [varied, generated, LogFixtures.generated(300, seed: 4)] {
            let block = encode(records[...])
            let middle = records[records.count / 2].effectiveTimeUnixNano
            let filters = [
                RecordFilter.all, RecordFilter(range: TimeRange(startNano: LogFixtures.base + 2, endNano: middle), needles: []),
                RecordFilter(range: .all, needles: [Array("order".utf8)]), RecordFilter(range: .all, needles: [Array("ü".utf8)]),
            ]
            let groupings = [[], ["service_name"], ["trace_id"], ["count"], ["span_id", "severity_text"], ["nowhere"], ["logger", "service_name"]]
            for filter in filters {
                let decoded = try LogBlockCodec.decode(block.data, count: block.count, streamLabels: labels, filter: filter)
                for groupBy in groupings {
                    let expected = decoded.map { record in
                        var handed = record
                        handed.stream = labels
                        return "\(record.effectiveTimeUnixNano) 1 \(record.line.utf8.count) \(groupBy.map { handed.groupingValue($0) })"
                    }
                    #expect(try counted(block, filter: filter, groupBy: groupBy) == expected, "\(groupBy) \(filter.needles)")
                }
            }
        }
        // A block whose records have no metadata named like the grouping is counted whole when asked.
        let plain = LogFixtures.generated(50, seed: 5)
        let block = encode(plain[...])
        #expect(try counted(block, filter: .all, groupBy: ["service_name"], whole: true) == ["\(block.minTime) 50 \(block.lineBytes) [\"payments\"]"])
        #expect(try counted(block, filter: .all, groupBy: [], whole: true) == ["\(block.minTime) 50 \(block.lineBytes) []"])
        #expect(try counted(block, filter: .all, groupBy: ["logger"], whole: true).count == 50)
    }

    /// Attribute columns take each value mode (a dictionary, hex ids as bytes, plain strings, tagged values once a
    /// key has a non-string), keys change their order and set from record to record, and one encoder builds block
    /// after block exactly as fresh ones do.
    @Test func attributeColumnsOfEveryModeRoundTripThroughAReusedEncoder() throws {
        var random = SplitMix64(seed: 11)
        var records: [LogRecord] = []
        for index in 0..<96 {
            var record = LogFixtures.record("line \(index) of many", at: UInt64(index))
            // 1 to 12 bytes: the hex packing's eight-digit steps and its tail.
            let id = (0..<(1 + index % 12)).map { _ in String(UInt16.random(in: 0...255, using: &random) | 0x100, radix: 16).dropFirst() }.joined()
            var attributes = [
                Attribute("level", .string(index % 3 == 0 ? "warn" : "info")), Attribute("trace", .string(id)),
                Attribute("path", .string("/api/v1/items/\(index)")), Attribute("mixed", index == 50 ? .int(7) : .string("m\(index % 2)")),
            ]
            if index % 5 == 0 { attributes.reverse() }
            if index % 7 == 0 { attributes.append(Attribute("rare", .string(index % 14 == 0 ? "" : "ABC"))) }
            // Past 16 keys and 16 shapes, keys and shapes are found by hashing.
            if index % 3 == 1 { attributes += (0..<(index % 20)).map { Attribute("k\($0)", .string("v\(index % 4)")) } }
            record.attributes = attributes
            records.append(record)
        }
        // One batch read across the blocks: its key numbers are looked up again for each block.
        var encoder = LogBlockEncoder()
        let batch = LogBatch(records)
        for chunk in [records[0..<40], records[40..<41], records[41...]] {
            LogBatchColumns.read(batch) { columns in
                if chunk.startIndex == 0 { encoder.begin(batch) }
                for index in chunk.indices { encoder.add(index, of: columns) }
            }
            let block = encoder.finish(bitsPerTrigram: 4)
            #expect(block.data == encode(chunk).data)
            #expect(block.bloom.bytes == encode(chunk).bloom.bytes)
            #expect(try LogBlockCodec.decode(block.data, count: block.count, streamLabels: labels, filter: .all) == Array(chunk))
        }
    }

    @Test func emptyBlockRoundTrips() throws {
        let block = encode([])
        #expect(try LogBlockCodec.decode(block.data, count: 0, streamLabels: labels, filter: .all).isEmpty)
    }

    @Test func damagedBlocksThrowDataCorrupted() throws {
        let records = LogFixtures.varied()
        let block = encode(records[...])
        var random = SplitMix64(seed: 9)
        for _ in 0..<300 {
            var damaged = block.data
            damaged[Int.random(in: 0..<damaged.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
            expectDecodesOrFails(with: .dataCorrupted) { _ = try LogBlockCodec.decode(damaged, count: block.count, streamLabels: labels, filter: .all) }
        }
        for cut in [0, 1, block.data.count / 2] {
            #expect(sightlineError { _ = try LogBlockCodec.decode(Array(block.data.prefix(cut)), count: block.count, streamLabels: labels, filter: .all) }?.code == .dataCorrupted)
        }
        // Counting reads fewer columns, and must fail as clearly.
        for groupBy in [[], ["trace_id"], ["service_name"], ["severity_text"]] {
            func count(_ data: [UInt8]) throws {
                try LogBlockCodec.countLines(data, count: block.count, filter: .all, groupBy: groupBy, streamLabels: labels, whole: nil) { _, _, _, _ in }
            }
            for _ in 0..<100 {
                var damaged = block.data
                damaged[Int.random(in: 0..<damaged.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
                expectDecodesOrFails(with: .dataCorrupted) { try count(damaged) }
            }
            #expect(sightlineError { try count(Array(block.data.prefix(block.data.count / 2))) }?.code == .dataCorrupted)
        }
    }

    @Test func bloomHasNoFalseNegatives() throws {
        let lines = ["ledger invariant violated: checksum mismatch", "Grüße aus Köln 🚀", "ab"].map { Array($0.utf8) }
        let bloom = TrigramBloom.build(lines: lines, bitsPerTrigram: 4)
        for line in lines {
            for start in 0..<line.count {
                for end in (start + 1)...line.count { #expect(bloom.mayContain(needle: Array(line[start..<end]))) }
            }
        }
        #expect(!bloom.mayContain(needle: Array("zzzqqq".utf8)))
    }
}
