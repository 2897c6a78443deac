import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineIngest

/// Builds `WriteRequest`s by hand, with the field numbers of Prometheus's `prompb`.
private struct WriteRequestBuilder {
    var writer = ProtobufWriter()

    var bytes: [UInt8] { writer.bytes }

    mutating func series(
        raw labels: [([UInt8], [UInt8])], samples: [(Int64, Double)] = [], histograms: Int = 0, exemplars: Int = 0
    ) {
        writer.writeMessage(1) { series in
            for (name, value) in labels {
                series.writeMessage(1) { label in
                    label.writeBytes(1, name)
                    label.writeBytes(2, value)
                }
            }
            for _ in 0..<exemplars {
                series.writeMessage(3) { exemplar in
                    exemplar.writeMessage(1) { label in
                        label.writeString(1, "trace_id")
                        label.writeString(2, "abc")
                    }
                    exemplar.writeDouble(2, 1)
                    exemplar.writeInt64(3, 5)
                }
            }
            for (timestamp, value) in samples {
                series.writeMessage(2) { sample in
                    sample.writeDouble(1, value)
                    sample.writeInt64(2, timestamp)
                }
            }
            for index in 0..<histograms {
                series.writeMessage(4) { histogram in
                    histogram.writeVarint(1, UInt64(index + 1))  // count_int
                    histogram.writeDouble(3, 1.5)  // sum
                    histogram.writeInt64(15, 1000)  // timestamp
                }
            }
        }
    }

    mutating func series(_ labels: [(String, String)], samples: [(Int64, Double)] = [], histograms: Int = 0, exemplars: Int = 0) {
        series(raw: labels.map { (Array($0.0.utf8), Array($0.1.utf8)) }, samples: samples, histograms: histograms, exemplars: exemplars)
    }

    mutating func metadata(type: UInt64, family: String, help: String = "", unit: String = "") {
        writer.writeMessage(3) { metadata in
            metadata.writeVarint(1, type)
            metadata.writeString(2, family)
            metadata.writeString(4, help)
            metadata.writeString(5, unit)
        }
    }
}

struct RemoteWriteTests {
    private func decode(_ bytes: [UInt8]) throws -> (MetricBatch, DecodedBatch) {
        let decoded = try RemoteWriteDecoder.decode(protobuf: bytes)
        guard case .metrics(let batch) = decoded.batch else {
            Issue.record("not a metrics batch")
            return (MetricBatch(), decoded)
        }
        return (batch, decoded)
    }

    private func decodeError(_ bytes: [UInt8]) -> SightlineError? {
        sightlineError { _ = try RemoteWriteDecoder.decode(protobuf: bytes) }
    }

    /// The frames of a gen_metrics.py remote-write file: shard, sample count, payload.
    private func frames(_ file: [UInt8]) -> [(shard: UInt8, samples: Int, payload: [UInt8])] {
        var result: [(UInt8, Int, [UInt8])] = []
        var offset = 0
        func be32(_ at: Int) -> Int { file[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        while offset + 9 <= file.count {
            let count = be32(offset + 5)
            let end = offset + 9 + count
            guard end <= file.count else { break }
            result.append((file[offset], be32(offset + 1), Array(file[offset + 9..<end])))
            offset = end
        }
        #expect(offset == file.count, "trailing bytes in the frames file")
        return result
    }

    /// A value as gen_metrics.py writes it in CSV: integers without a fraction, others shortest round-trip.
    private func csvValue(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    // MARK: Generated dataset

    @Test func decodesEveryFrameOfTheGeneratedDataset() throws {
        let frames = frames(RemoteWriteFixtures.generatedFrames)
        #expect(frames.count == 32)
        #expect(Set(frames.map(\.shard)) == [0, 1])
        var samples: [MetricSample] = []
        for frame in frames {
            let decoded = try RemoteWriteDecoder.decode(snappyBody: frame.payload, maxDecompressed: 1 << 20)
            #expect(decoded.rejected == 0)
            #expect(decoded.batch.recordCount == frame.samples)
            // The uncompressed path gives the same samples.
            let protobuf = try Snappy.decompress(frame.payload, maxOutput: 1 << 20)
            let (raw, _) = try decode(protobuf)
            guard case .metrics(let batch) = decoded.batch else { continue }
            #expect(batch.samples == raw.samples)
            samples += batch.samples
        }
        #expect(samples.count == 400)
        #expect(Set(samples.map(\.labels)).count == 50)
        #expect(Set(samples.map(\.timestampMs)).count == 8)

        // Rebuild the CSV the generator printed for the same run (as Python's csv module reads it: no quotes)
        // and compare all of it.
        let lines = samples.map { sample in
            let labels = sample.labels.labels.filter { $0.name != Labels.metricName }.map { "\($0.name)=\($0.value)" }
            return "\(sample.timestampMs),\(sample.labels.metricName),\(labels.joined(separator: ";")),\(csvValue(sample.value))"
        }.sorted()
        #expect(lines.count == RemoteWriteFixtures.generatedCSVLines)
        #expect(CRC32.checksum(Array(lines.joined(separator: "\n").utf8)) == RemoteWriteFixtures.generatedCSVCRC32)

        let sum = samples.reduce(0.0) { $0 + $1.value }
        #expect(abs(sum - RemoteWriteFixtures.generatedValueSum) <= abs(RemoteWriteFixtures.generatedValueSum) * 1e-12)

        for (timestamp, metric, labelText, value) in RemoteWriteFixtures.generatedRows {
            var labels = [Label(Labels.metricName, metric)]
            for pair in labelText.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                labels.append(Label(String(parts[0]), String(parts[1])))
            }
            let expected = MetricSample(labels: Labels(labels), timestampMs: timestamp, value: value)
            #expect(samples.contains(expected), "missing \(expected)")
        }
    }

    // MARK: Hand-built requests

    @Test func decodesSamplesLabelsAndMetadata() throws {
        var request = WriteRequestBuilder()
        request.series([("__name__", "up"), ("instance", "a:9100"), ("job", "node")], samples: [(1000, 1), (2000, 0)], exemplars: 1)
        request.series([("__name__", "temp"), ("room", "")], samples: [(-5, -273.15)])
        for (type, family) in [
            (0, "u"), (1, "c"), (2, "g"), (3, "h"), (4, "gh"), (5, "s"), (6, "i"), (7, "ss"), (99, "future"), (1, ""),
        ] as [(UInt64, String)] {
            request.metadata(type: type, family: family, help: "help of \(family)", unit: type == 2 ? "celsius" : "")
        }
        let (batch, decoded) = try decode(request.bytes)
        #expect(decoded.rejected == 0)
        #expect(decoded.rejectionMessage == "")
        let up = Labels(["__name__": "up", "instance": "a:9100", "job": "node"])
        #expect(
            batch.samples == [
                MetricSample(labels: up, timestampMs: 1000, value: 1), MetricSample(labels: up, timestampMs: 2000, value: 0),
                MetricSample(labels: Labels(["__name__": "temp"]), timestampMs: -5, value: -273.15),
            ])
        let kinds: [MetricMetadata.Kind] = [.unknown, .counter, .gauge, .histogram, .gaugeHistogram, .summary, .info, .stateSet, .unknown]
        #expect(batch.metadata.map(\.kind) == kinds)
        #expect(batch.metadata.map(\.metricFamily) == ["u", "c", "g", "h", "gh", "s", "i", "ss", "future"])
        #expect(batch.metadata[2] == MetricMetadata(metricFamily: "g", kind: .gauge, help: "help of g", unit: "celsius"))
    }

    @Test func keepsExemplarsOfValidSeriesOnly() throws {
        var request = WriteRequestBuilder()
        request.series([("__name__", "rpc_total"), ("job", "api")], samples: [(1000, 3)], exemplars: 2)
        request.series([("job", "no_name")], samples: [(1000, 1)], exemplars: 1)
        request.series([("__name__", "only_exemplar")], exemplars: 1)
        let (batch, decoded) = try decode(request.bytes)
        #expect(decoded.rejected == 1)
        let exemplar = { (series: Labels) in MetricExemplar(series: series, labels: Labels(["trace_id": "abc"]), timestampMs: 5, value: 1) }
        let rpc = Labels(["__name__": "rpc_total", "job": "api"])
        #expect(batch.exemplars == [exemplar(rpc), exemplar(rpc), exemplar(Labels(["__name__": "only_exemplar"]))])
        // A malformed exemplar fails the request as a malformed sample does, naming where it is.
        var writer = ProtobufWriter()
        writer.writeMessage(1) { series in
            series.writeMessage(1) { label in
                label.writeString(1, "__name__")
                label.writeString(2, "m")
            }
            series.writeBytes(3, [0x11, 0x01])  // value: a fixed64 cut short
        }
        #expect(decodeError(writer.bytes)?.message.contains("timeseries[0].exemplars[0]") == true)
    }

    @Test func keepsStaleNaNAndOtherValueBitsExactly() throws {
        let otherNaN = Double(bitPattern: 0x7FF8_0000_0000_0001)
        var request = WriteRequestBuilder()
        request.series(
            [("__name__", "up")],
            samples: [(1, StaleNaN.value), (2, otherNaN), (3, -0.0), (4, .infinity), (5, -.infinity), (6, .leastNonzeroMagnitude)])
        let (batch, _) = try decode(request.bytes)
        #expect(
            batch.samples.map(\.value.bitPattern)
                == [StaleNaN.bitPattern, otherNaN.bitPattern, (-0.0).bitPattern, Double.infinity.bitPattern,
                    (-Double.infinity).bitPattern, Double.leastNonzeroMagnitude.bitPattern])
        #expect(StaleNaN.isStale(batch.samples[0].value))
        #expect(!StaleNaN.isStale(batch.samples[1].value))
    }

    @Test func defaultsMissingSampleFields() throws {
        var writer = ProtobufWriter()
        writer.writeMessage(1) { series in
            series.writeMessage(1) { label in
                label.writeString(1, "__name__")
                label.writeString(2, "x")
            }
            series.writeMessage(2) { _ in }
            series.writeMessage(2) { $0.writeInt64(2, Int64.min) }
        }
        let (batch, _) = try decode(writer.bytes)
        #expect(batch.samples.map(\.timestampMs) == [0, Int64.min])
        #expect(batch.samples.map(\.value) == [0, 0])
    }

    @Test func rejectsInvalidSeriesAloneWithAMessageNamingThem() throws {
        let good = [("__name__", "ok"), ("job", "j")]
        let cases: [(labels: [([UInt8], [UInt8])], message: String)] = [
            ([(Array("job".utf8), Array("a".utf8))], #"series {job="a"} has no metric name (label __name__)"#),
            ([(Array("__name__".utf8), []), (Array("job".utf8), Array("a".utf8))], "has no metric name"),
            ([(Array("__name__".utf8), Array("m".utf8)), ([], Array("v".utf8))], "has an empty label name"),
            (
                [(Array("__name__".utf8), Array("m".utf8)), (Array("job".utf8), Array("a".utf8)), (Array("job".utf8), Array("b".utf8))],
                #"series m{job="a", job="b"} has duplicate label name "job""#
            ),
            (
                [(Array("__name__".utf8), Array("m".utf8)), (Array("zone".utf8), Array("a".utf8)), (Array("job".utf8), Array("b".utf8))],
                #"series m{zone="a", job="b"} has out of order labels ("job" after "zone")"#
            ),
            ([(Array("job".utf8), Array("a".utf8)), (Array("__name__".utf8), Array("m".utf8))], "out of order labels"),
            ([(Array("__name__".utf8), Array("m".utf8)), ([0x61, 0xFF], Array("v".utf8))], "has a label name that is not valid UTF-8"),
            ([(Array("__name__".utf8), Array("m".utf8)), (Array("a".utf8), [0xC3])], #"has a value of label "a" that is not valid UTF-8"#),
        ]
        for (labels, message) in cases {
            var request = WriteRequestBuilder()
            request.series(good, samples: [(1, 1)])
            request.series(raw: labels, samples: [(1, 1), (2, 2), (3, 3)], histograms: 1)
            request.series(good, samples: [(2, 2)])
            let (batch, decoded) = try decode(request.bytes)
            #expect(batch.samples.count == 2, "\(message)")
            #expect(batch.samples.allSatisfy { $0.labels == Labels(["__name__": "ok", "job": "j"]) })
            #expect(decoded.rejected == 4, "\(message)")
            #expect(decoded.rejectionMessage.contains(message), "\(decoded.rejectionMessage) should contain \(message)")
        }
    }

    @Test func rejectionMessagesAreCapped() throws {
        var request = WriteRequestBuilder()
        for index in 0..<20 { request.series([("job", "j\(index)")], samples: [(1, 1)]) }
        let (batch, decoded) = try decode(request.bytes)
        #expect(batch.samples.isEmpty)
        #expect(decoded.rejected == 20)
        #expect(decoded.rejectionMessage.hasSuffix("; and 15 more"))
    }

    /// Native histograms (here without buckets: a count and a sum) become `_sum`, `_count` and `_bucket{le="+Inf"}`
    /// beside the series' float samples (NativeHistogramTests has the buckets).
    @Test func nativeHistogramsBecomeClassicSeries() throws {
        var request = WriteRequestBuilder()
        request.series([("__name__", "latency"), ("job", "api")], samples: [(1, 1), (2, 2)], histograms: 3)
        request.series([("__name__", "only_histograms")], histograms: 2)
        let (batch, decoded) = try decode(request.bytes)
        #expect(decoded.rejected == 0)
        #expect(batch.samples.count == 2 + 5 * 3)
        #expect(batch.samples.filter { $0.labels.metricName == "latency_count" }.map(\.value) == [1, 2, 3])
        #expect(batch.samples.filter { $0.labels.metricName == "only_histograms_sum" }.map(\.value) == [1.5, 1.5])
    }

    @Test func internsLabelStringsAcrossSeries() throws {
        let long = String(repeating: "instance-with-a-long-name-", count: 3)
        var request = WriteRequestBuilder()
        request.series([("__name__", "a"), ("instance", long)], samples: [(1, 1)])
        request.series([("__name__", "b"), ("instance", long)], samples: [(1, 1)])
        request.series([("__name__", "b"), ("instance", long)], samples: [(2, 1)])  // same series again
        let (batch, _) = try decode(request.bytes)
        let values = batch.samples.compactMap { $0.labels["instance"] }
        #expect(values == [long, long, long])
        let addresses = values.map { $0.utf8.withContiguousStorageIfAvailable { $0.baseAddress } }
        #expect(addresses[0] != nil)
        #expect(addresses[0] == addresses[1])
        #expect(addresses[1] == addresses[2])
    }

    @Test func manyDistinctLabelsGrowTheInternTables() throws {
        var request = WriteRequestBuilder()
        var expected: [MetricSample] = []
        for index in 0..<3000 {
            let labels = [("__name__", "m\(index % 7)"), ("id", "series-\(index)-" + String(repeating: "x", count: index % 40)), ("job", "j")]
            request.series(labels, samples: [(Int64(index), Double(index))])
            expected.append(MetricSample(labels: Labels(labels.map { Label($0.0, $0.1) }), timestampMs: Int64(index), value: Double(index)))
        }
        let (batch, decoded) = try decode(request.bytes)
        #expect(decoded.rejected == 0)
        #expect(batch.samples == expected)
    }

    /// Whether two label sets are the very same storage (what a cache hit hands out), not only equal.
    private static func sameStorage(_ a: Labels, _ b: Labels) -> Bool {
        a.labels.withUnsafeBufferPointer { $0.baseAddress } == b.labels.withUnsafeBufferPointer { $0.baseAddress }
    }

    @Test func seriesCacheReusesLabelsAcrossRequestsAndDecodesTheSame() throws {
        let cache = RemoteWriteSeriesCache()
        func request(_ step: Int64) -> [UInt8] {
            var request = WriteRequestBuilder()
            for index in 0..<50 {
                request.series([("__name__", "m"), ("id", "\(index)"), ("job", "j")], samples: [(step, Double(index)), (step + 1, 1)])
            }
            // Shapes the cache leaves to the full path: exemplars, labels after samples, invalid labels.
            request.series([("__name__", "with_exemplar")], samples: [(step, 1)], exemplars: 1)
            request.series([("job", "no_name")], samples: [(step, 1)])
            request.series([("__name__", "m"), ("id", "0"), ("job", "j")], samples: [(step + 2, 5)])
            return request.bytes
        }
        for step in [Int64(1000), 2000, 3000] {
            let bytes = request(step)
            let plain = try RemoteWriteDecoder.decode(protobuf: bytes)
            let cached = try RemoteWriteDecoder.decode(protobuf: bytes, seriesCache: cache)
            #expect(cached.batch == plain.batch)
            #expect(cached.rejected == plain.rejected && cached.rejected == 1)
            #expect(cached.rejectionMessage == plain.rejectionMessage)
        }
        #expect(cache.count == 51)
        guard case .metrics(let withExemplar) = try RemoteWriteDecoder.decode(protobuf: request(7), seriesCache: cache).batch else { return }
        #expect(withExemplar.exemplars.map(\.series) == [Labels(["__name__": "with_exemplar"])])
        // A hit hands out the labels made the first time: the same storage, so stores compare them by identity.
        let first = try RemoteWriteDecoder.decode(protobuf: request(1), seriesCache: cache)
        let second = try RemoteWriteDecoder.decode(protobuf: request(2), seriesCache: cache)
        guard case .metrics(let a) = first.batch, case .metrics(let b) = second.batch else {
            Issue.record("not metrics")
            return
        }
        #expect(Self.sameStorage(a.samples[0].labels, b.samples[0].labels))
    }

    @Test func seriesCacheFreezesWhatItLearnedAndStillFindsNewSeries() throws {
        let cache = RemoteWriteSeriesCache()
        func request(_ series: Range<Int>, _ step: Int64) -> [UInt8] {
            var request = WriteRequestBuilder()
            for index in series { request.series([("__name__", "m"), ("id", "\(index)")], samples: [(step, Double(index))]) }
            return request.bytes
        }
        // 200 new series, then the same with 50 more: the first 200 are frozen when the second request starts.
        let first = try RemoteWriteDecoder.decode(protobuf: request(0..<200, 1), seriesCache: cache)
        #expect(cache.count == 200)
        for (series, step) in [(0..<250, Int64(2)), (0..<250, 3), (100..<300, 4)] {
            let bytes = request(series, step)
            let cached = try RemoteWriteDecoder.decode(protobuf: bytes, seriesCache: cache)
            #expect(cached.batch == (try RemoteWriteDecoder.decode(protobuf: bytes)).batch)
        }
        #expect(cache.count == 300)
        let last = try RemoteWriteDecoder.decode(protobuf: request(0..<1, 5), seriesCache: cache)
        guard case .metrics(let a) = first.batch, case .metrics(let b) = last.batch else {
            Issue.record("not metrics")
            return
        }
        #expect(Self.sameStorage(a.samples[0].labels, b.samples[0].labels))
    }

    @Test func seriesCacheFreezesAFewNewSeriesOnceNoneCameFor10Milliseconds() async throws {
        let cache = RemoteWriteSeriesCache()
        func request(_ series: Range<Int>) -> [UInt8] {
            var request = WriteRequestBuilder()
            for index in series { request.series([("__name__", "m"), ("id", "\(index)")], samples: [(1, Double(index))]) }
            return request.bytes
        }
        _ = try RemoteWriteDecoder.decode(protobuf: request(0..<400), seriesCache: cache)
        _ = try RemoteWriteDecoder.decode(protobuf: request(0..<400), seriesCache: cache)
        #expect(cache.frozenCount == 400)
        // 40 more: under a quarter of the frozen ones, so the next request right away does not freeze them...
        _ = try RemoteWriteDecoder.decode(protobuf: request(400..<440), seriesCache: cache)
        _ = try RemoteWriteDecoder.decode(protobuf: request(0..<440), seriesCache: cache)
        #expect(cache.count == 440)
        // ...but once no new series came for 10 ms, a request's start freezes them: all lookups lock-free.
        try await Task.sleep(for: .milliseconds(30))
        _ = try RemoteWriteDecoder.decode(protobuf: request(0..<440), seriesCache: cache)
        #expect(cache.frozenCount == 440)
    }

    @Test func seriesCacheStartsOverPastItsBound() throws {
        let cache = RemoteWriteSeriesCache(maxBytes: 2000)
        var request = WriteRequestBuilder()
        for index in 0..<100 { request.series([("__name__", "m"), ("id", "\(index)")], samples: [(1, 1)]) }
        let decoded = try RemoteWriteDecoder.decode(protobuf: request.bytes, seriesCache: cache)
        #expect(decoded.batch.recordCount == 100)
        #expect(cache.count > 0 && cache.count < 100)
    }

    // MARK: Malformed bodies

    @Test func rejectsTruncatedAndMalformedProtobufWithAPath() {
        var request = WriteRequestBuilder()
        request.series([("__name__", "up")], samples: [(1, 1)])
        let bytes = request.bytes
        // Drop the last byte (inside the timestamp varint of the sample): the series length now runs past the end.
        #expect(decodeError(Array(bytes.dropLast()))?.code == .invalidArgument)

        // A sample whose value is cut short: a path down to the sample.
        var writer = ProtobufWriter()
        writer.writeMessage(1) { series in
            series.writeMessage(1) { label in
                label.writeString(1, "__name__")
                label.writeString(2, "up")
            }
            series.writeMessage(2) { $0.writeRaw([0x09, 1, 2, 3]) }
        }
        let error = decodeError(writer.bytes)
        #expect(error?.code == .invalidArgument)
        #expect(error?.message == "malformed protobuf in WriteRequest.timeseries[0].samples[0].value: truncated fixed64")

        // A label value with the wrong wire type.
        var wrongType = ProtobufWriter()
        wrongType.writeMessage(1) { series in series.writeMessage(1) { $0.writeVarint(2, 5) } }
        #expect(decodeError(wrongType.bytes)?.message.contains("WriteRequest.timeseries[0].labels[0]") == true)

        // Malformed samples fail the request even when the series' labels are invalid.
        var invalidSeries = ProtobufWriter()
        invalidSeries.writeMessage(1) { series in series.writeMessage(2) { $0.writeRaw([0x10]) } }
        #expect(decodeError(invalidSeries.bytes)?.code == .invalidArgument)
    }

    @Test func rejectsBadSnappyBodies() {
        var request = WriteRequestBuilder()
        request.series([("__name__", "up")], samples: [(1, 1)])
        let body = Snappy.compress(request.bytes)
        #expect(throws: Never.self) { try RemoteWriteDecoder.decode(snappyBody: body, maxDecompressed: 1000) }
        #expect(performing: { try RemoteWriteDecoder.decode(snappyBody: body, maxDecompressed: 10) }, throws: { error in
            (error as? SightlineError)?.code == .tooLarge
        })
        #expect(performing: { try RemoteWriteDecoder.decode(snappyBody: Array(body.dropLast()), maxDecompressed: 1000) }, throws: { error in
            (error as? SightlineError)?.code == .invalidArgument
        })
        // An uncompressed protobuf sent as snappy: its first byte (0x0A) reads as a length of 10.
        #expect(performing: { try RemoteWriteDecoder.decode(snappyBody: request.bytes, maxDecompressed: 1000) }, throws: { error in
            (error as? SightlineError)?.code == .invalidArgument
        })
    }

    @Test func corruptBodiesNeverTrap() throws {
        let payload = try Snappy.decompress(frames(RemoteWriteFixtures.generatedFrames)[0].payload, maxOutput: 1 << 20)
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        for round in 0..<500 {
            var input = payload
            if round % 2 == 0 {
                input = Array(input[..<(next() % input.count)])
            } else {
                for _ in 0...(next() % 3) { input[next() % input.count] = UInt8(truncatingIfNeeded: next()) }
            }
            expectDecodesOrFails(with: .invalidArgument) { _ = try RemoteWriteDecoder.decode(protobuf: input) }
        }
    }

    // MARK: Encoder

    @Test func encoderRoundTripsThroughTheDecoder() throws {
        let a = Labels(["__name__": "up", "job": "node", "instance": "a"])
        let b = Labels(["__name__": "requests_total", "code": "200"])
        let samples = [
            MetricSample(labels: a, timestampMs: 1000, value: 1), MetricSample(labels: b, timestampMs: 1000, value: 5),
            MetricSample(labels: a, timestampMs: 2000, value: StaleNaN.value), MetricSample(labels: b, timestampMs: 2000, value: 0),
            MetricSample(labels: a, timestampMs: 0, value: -0.0),
        ]
        let metadata = [
            MetricMetadata(metricFamily: "requests", kind: .counter, help: "Requests.", unit: ""),
            MetricMetadata(metricFamily: "up", kind: .unknown),
        ]
        let encoded = RemoteWriteEncoder.encode(samples, metadata: metadata)
        let (batch, decoded) = try decode(encoded)
        #expect(decoded.rejected == 0)
        // Grouped by series in order of first appearance, each series' samples in input order.
        #expect(batch.samples == [samples[0], samples[2], samples[4], samples[1], samples[3]])
        #expect(batch.metadata == metadata)

        let snappy = RemoteWriteEncoder.encodeSnappy(samples, metadata: metadata)
        #expect(try Snappy.decompress(snappy, maxOutput: 1 << 20) == encoded)
        let fromSnappy = try RemoteWriteDecoder.decode(snappyBody: snappy, maxDecompressed: 1 << 20)
        #expect(fromSnappy.batch == decoded.batch)
    }

    @Test func encoderWritesExemplarsInTheirSeries() throws {
        let a = Labels(["__name__": "rpc_bucket", "le": "1"])
        let samples = [MetricSample(labels: a, timestampMs: 1000, value: 3)]
        let exemplars = [
            MetricExemplar(series: Labels(["__name__": "alone"]), labels: Labels([]), timestampMs: 0, value: 0),
            MetricExemplar(series: a, labels: Labels(["span_id": "s", "trace_id": "t"]), timestampMs: 990, value: 0.5),
        ]
        let (batch, decoded) = try decode(RemoteWriteEncoder.encode(samples, metadata: [], exemplars: exemplars))
        #expect(decoded.rejected == 0)
        #expect(batch.samples == samples)
        // The series with samples comes first; a series with exemplars only gets a series of its own.
        #expect(batch.exemplars == [exemplars[1], exemplars[0]])
    }

    @Test func encoderReencodesTheGeneratedDataset() throws {
        for frame in frames(RemoteWriteFixtures.generatedFrames).prefix(4) {
            let decoded = try RemoteWriteDecoder.decode(snappyBody: frame.payload, maxDecompressed: 1 << 20)
            guard case .metrics(let batch) = decoded.batch else { continue }
            let again = try RemoteWriteDecoder.decode(snappyBody: RemoteWriteEncoder.encodeSnappy(batch.samples, metadata: []), maxDecompressed: 1 << 20)
            #expect(again.batch == decoded.batch)
            // One sample per series, labels sorted: the same bytes the generator wrote (which, unlike proto3 and
            // this encoder, also writes zero values).
            guard batch.samples.allSatisfy({ $0.value.bitPattern != 0 && $0.timestampMs != 0 }) else { continue }
            #expect(RemoteWriteEncoder.encode(batch.samples, metadata: []) == (try Snappy.decompress(frame.payload, maxOutput: 1 << 20)))
        }
    }
}

