import SightlineCore
import Testing

@testable import SightlineIngest

struct RemoteReadCodecTests {
    /// A `ReadRequest` as Prometheus writes it: queries of (start, end, [(type, name, value)]), response types packed.
    private func request(_ queries: [(Int64, Int64, [(UInt64, String, String)])], accepted: [UInt64] = [1, 0], packed: Bool = true) -> [UInt8] {
        var writer = ProtobufWriter()
        for (start, end, matchers) in queries {
            writer.writeMessage(1) { query in
                query.writeInt64(1, start)
                query.writeInt64(2, end)
                for (type, name, value) in matchers {
                    query.writeMessage(3) { matcher in
                        if type != 0 { matcher.writeVarint(1, type) }
                        matcher.writeString(2, name)
                        matcher.writeString(3, value)
                    }
                }
                query.writeMessage(4) { hints in hints.writeInt64(1, 15_000) }
            }
        }
        if packed {
            var types = ProtobufWriter()
            for type in accepted { types.writeRawVarint(type) }
            writer.writeBytes(2, types.bytes)
        } else {
            for type in accepted { writer.writeVarint(2, type) }
        }
        return writer.bytes
    }

    private func decode(_ plain: [UInt8]) throws -> RemoteReadCodec.Request {
        let compressed = plain.withUnsafeBytes { Snappy.compress($0) }
        return try compressed.withUnsafeBytes { try RemoteReadCodec.decodeRequest(snappyBody: $0, maxDecompressed: 1 << 20) }
    }

    @Test func queriesDecodeWithTheirMatchers() throws {
        let decoded = try decode(request([
            (1_000, 2_000, [(0, "__name__", "up"), (1, "job", "a"), (2, "instance", "h.*"), (3, "env", "dev|test")]),
            (-5, 0, [(0, "__name__", "x")]),
        ]))
        #expect(decoded.queries.count == 2)
        #expect(decoded.queries[0].startMs == 1_000 && decoded.queries[0].endMs == 2_000)
        #expect(decoded.queries[0].matchers.map(\.description) == [#"__name__="up""#, #"job!="a""#, #"instance=~"h.*""#, #"env!~"dev|test""#])
        #expect(decoded.queries[1].startMs == -5)
        #expect(decoded.acceptedResponseTypes == [1, 0])
        #expect(decoded.acceptsSamples)
        // Unpacked types, and none at all (0.1.0 clients): both take SAMPLES; chunks only do not.
        #expect(try decode(request([(0, 1, [(0, "a", "b")])], accepted: [0], packed: false)).acceptsSamples)
        #expect(try decode(request([(0, 1, [(0, "a", "b")])], accepted: [])).acceptsSamples)
        #expect(try !decode(request([(0, 1, [(0, "a", "b")])], accepted: [1])).acceptsSamples)
    }

    @Test func badRequestsNameWhatIsWrong() throws {
        func message(_ body: [UInt8]) -> String {
            do {
                _ = try decode(body)
                return "decoded"
            } catch {
                return "\(error)"
            }
        }
        #expect(message(request([(0, 1, [(7, "a", "b")])])).contains("remote read query 0: unknown label matcher type 7"))
        #expect(message(request([(0, 1, [(0, "a", "b")]), (0, 1, [])])).contains("remote read query 1 has no label matchers"))
        #expect(message(request([(0, 1, [(2, "a", "(")])])).contains("("))
        let whole = request([(0, 1, [(0, "a", "b")])])
        #expect(message(Array(whole.dropLast(3))).contains("malformed protobuf in ReadRequest"))
        let notSnappy: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        #expect(throws: SightlineError.self) {
            try notSnappy.withUnsafeBytes { try RemoteReadCodec.decodeRequest(snappyBody: $0, maxDecompressed: 1 << 20) }
        }
    }

    @Test func theResponseCarriesEverySeriesAndSample() throws {
        let stale = Double(bitPattern: StaleNaN.bitPattern)
        let results: [[SeriesSamples]] = [
            [
                SeriesSamples(labels: Labels([Label("__name__", "up"), Label("job", "a")]), timestampsMs: [0, 1_000, 2_000], values: [1, 0, stale]),
                SeriesSamples(labels: Labels([Label("__name__", "up"), Label("job", "b")]), timestampsMs: [-1_000], values: [-2.5]),
            ],
            [],
        ]
        let compressed = RemoteReadCodec.encodeSnappyResponse(results)
        let plain = try compressed.withUnsafeBytes { try Snappy.decompress($0, maxOutput: 1 << 20) }
        // Read it back field by field: results → timeseries → labels and samples.
        var decoded: [[(labels: [String], samples: [(Int64, UInt64)])]] = []
        try plain.withUnsafeBytes { raw in
            var reader = ProtobufReader(raw)
            while let field = try reader.nextField() {
                #expect(field == 1)
                var result = try reader.readMessage("results")
                var series: [(labels: [String], samples: [(Int64, UInt64)])] = []
                while try result.nextField() != nil {
                    var timeSeries = try result.readMessage("timeseries")
                    var one: (labels: [String], samples: [(Int64, UInt64)]) = ([], [])
                    while let field = try timeSeries.nextField() {
                        var message = try timeSeries.readMessage("element")
                        var (name, value, time, bits): (String, String, Int64, UInt64) = ("", "", 0, 0)
                        while let inner = try message.nextField() {
                            switch (field, inner) {
                            case (1, 1): name = try message.readString("name")
                            case (1, 2): value = try message.readString("value")
                            case (2, 1): bits = try message.readFixed64("value")
                            case (2, 2): time = Int64(bitPattern: try message.readVarint("timestamp"))
                            default: try message.skipField()
                            }
                        }
                        if field == 1 { one.labels.append("\(name)=\(value)") } else { one.samples.append((time, bits)) }
                    }
                    series.append(one)
                }
                decoded.append(series)
            }
        }
        #expect(decoded.count == 2)
        #expect(decoded[1].isEmpty)
        #expect(decoded[0].map(\.labels) == [["__name__=up", "job=a"], ["__name__=up", "job=b"]])
        #expect(decoded[0][0].samples.map(\.0) == [0, 1_000, 2_000])
        #expect(decoded[0][0].samples.map(\.1) == [Double(1).bitPattern, 0, StaleNaN.bitPattern])
        #expect(decoded[0][1].samples.map(\.0) == [-1_000])
        #expect(decoded[0][1].samples.map(\.1) == [(-2.5).bitPattern])
    }
}
