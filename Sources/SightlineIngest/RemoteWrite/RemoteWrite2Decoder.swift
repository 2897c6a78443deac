package import SightlineCore

/// Decodes Prometheus remote write 2.0 requests (`io.prometheus.write.v2.Request`, after Snappy) into samples.
///
/// Message and field numbers, from the 2.0 specification's `io/prometheus/write/v2/types.proto`:
/// - `Request`: `symbols = 4` (repeated string; the first is ""), `timeseries = 5` (repeated `TimeSeries`).
/// - `TimeSeries`: `labels_refs = 1` (packed uint32, name and value references into `symbols`, in pairs),
///   `samples = 2` (`Sample`: `value = 1` double, `timestamp = 2` int64 ms), `histograms = 3`, `exemplars = 4`
///   (`labels_refs = 1`, `value = 2`, `timestamp = 3`), `metadata = 5` (`type = 1`, `help_ref = 3`, `unit_ref = 4`), `created_timestamp = 6`.
///
/// A malformed body (invalid protobuf, a symbol that is not UTF-8, a first symbol that is not empty) throws. A series
/// Prometheus would refuse — a reference outside `symbols`, an odd number of references, no `__name__`, an empty,
/// duplicate or unsorted label name — is rejected alone, its samples counted in ``DecodedBatch/rejected`` with a
/// message naming it; native histograms become classic series as in 1.0. Exemplars are kept; created timestamps are not
/// stored.
package enum RemoteWrite2Decoder {
    /// Decodes an uncompressed `Request`.
    /// - Throws: ``SightlineError`` `.invalidArgument` naming the field path of what is malformed.
    package static func decode(protobuf: UnsafeRawBufferPointer) throws -> DecodedBatch {
        try decodeCounting(protobuf: protobuf).batch
    }

    /// Decodes an uncompressed `Request`; also says how many native histograms became classic series and how many
    /// samples they made, for the `X-Prometheus-Remote-Write-{Histograms,Samples}-Written` answers.
    /// - Throws: ``SightlineError`` `.invalidArgument` naming the field path of what is malformed.
    package static func decodeCounting(protobuf: UnsafeRawBufferPointer) throws -> (batch: DecodedBatch, histograms: Int, histogramSamples: Int) {
        var symbols: [String] = []
        var series: [UnsafeRawBufferPointer] = []
        var decoding = Decoding()
        do {
            // Symbols may follow the series that use them: collect both first.
            var reader = ProtobufReader(protobuf)
            while let field = try reader.nextField() {
                switch field {
                case 4:
                    let bytes = try reader.readBytesSlice("symbols", index: symbols.count)
                    guard let symbol = UTF8Text.string(validating: bytes) else {
                        throw FieldPathError("symbol \(symbols.count) is not valid UTF-8")
                    }
                    symbols.append(symbol)
                case 5: series.append(try reader.readBytesSlice("timeseries", index: series.count))
                default: try reader.skipField()
                }
            }
            if let first = symbols.first, !first.isEmpty {
                throw FieldPathError("symbols[0] must be the empty string, not \"\(first.prefix(64))\"")
            }
            for (index, buffer) in series.enumerated() {
                try withFieldPath(".timeseries[\(index)]") { try decoding.decodeSeries(buffer, symbols: symbols) }
            }
        } catch let error as FieldPathError {
            throw error.sightlineError(prefix: "malformed protobuf in", root: "Request")
        }
        let batch = DecodedBatch(
            .metrics(MetricBatch(samples: decoding.samples, metadata: decoding.metadata, exemplars: decoding.exemplars)),
            rejected: decoding.tally.count, rejectionMessage: decoding.tally.message)
        return (batch, decoding.histogramsWritten, decoding.histogramSamples)
    }

    /// Decodes an uncompressed `Request` held in a byte array.
    package static func decode(protobuf: [UInt8]) throws -> DecodedBatch {
        try protobuf.withUnsafeBytes { try decode(protobuf: $0) }
    }

    private struct Decoding {
        var samples: [MetricSample] = []
        var metadata: [MetricMetadata] = []
        var exemplars: [MetricExemplar] = []
        /// Native histograms turned into classic series, and the samples they made.
        var histogramsWritten = 0
        var histogramSamples = 0
        var tally = RejectionTally()
        private var families: Set<String> = []
        /// Label sets by their references, so the series of one request that repeat them share one `Labels`.
        private var labelSets: [[UInt32]: Labels] = [:]

        mutating func decodeSeries(_ buffer: UnsafeRawBufferPointer, symbols: [String]) throws {
            var refs: [UInt32] = []
            var points: [(timestamp: Int64, value: Double)] = []
            var histograms: [NativeHistogramSample] = []
            var exemplarPoints: [(refs: [UInt32], timestamp: Int64, value: Double)] = []
            var kind = MetricMetadata.Kind.unknown
            var helpRef: UInt32 = 0
            var unitRef: UInt32 = 0
            var r = ProtobufReader(buffer)
            while let field = try r.nextField() {
                switch field {
                case 1:
                    var values: [UInt64] = []
                    try r.appendVarints("labels_refs", to: &values)
                    refs.append(contentsOf: values.map { UInt32(truncatingIfNeeded: $0) })
                case 2:
                    let message = try r.readBytesSlice("samples", index: points.count)
                    points.append(try withFieldPath(".samples[\(points.count)]") { try RemoteWriteDecoding.sample(message) })
                case 3:
                    let message = try r.readBytesSlice("histograms", index: histograms.count)
                    histograms.append(try withFieldPath(".histograms[\(histograms.count)]") { try NativeHistogramSample.decode(message) })
                case 4:
                    exemplarPoints.append(try r.readMessage("exemplars", index: exemplarPoints.count) { m in
                        var point: (refs: [UInt32], timestamp: Int64, value: Double) = ([], 0, 0)
                        while let field = try m.nextField() {
                            switch field {
                            case 1:
                                var values: [UInt64] = []
                                try m.appendVarints("labels_refs", to: &values)
                                point.refs.append(contentsOf: values.map { UInt32(truncatingIfNeeded: $0) })
                            case 2: point.value = try m.readDouble("value")
                            case 3: point.timestamp = Int64(bitPattern: try m.readVarint("timestamp"))
                            default: try m.skipField()
                            }
                        }
                        guard point.refs.count % 2 == 0 else {
                            throw FieldPathError("labels_refs has an odd number of references (\(point.refs.count))")
                        }
                        if let bad = point.refs.first(where: { Int($0) >= symbols.count }) {
                            throw FieldPathError("labels_refs refers to symbol \(bad), beyond the request's \(symbols.count) symbols")
                        }
                        return point
                    })
                case 5:
                    try r.readMessage("metadata") { m in
                        while let field = try m.nextField() {
                            switch field {
                            case 1: kind = MetricMetadata.Kind(rawValue: UInt8(clamping: try m.readVarint("type"))) ?? .unknown
                            case 3: helpRef = try m.readUInt32("help_ref")
                            case 4: unitRef = try m.readUInt32("unit_ref")
                            default: try m.skipField()
                            }
                        }
                    }
                default: try r.skipField()
                }
            }
            let labels: Labels
            switch Self.labels(refs, symbols: symbols, cache: &labelSets) {
            case .success(let made): labels = made
            case .failure(let failure):
                let count = points.count + histograms.count
                if count > 0 { tally.reject(count, "series \(Self.describe(refs, symbols: symbols)) \(failure.message)") }
                return
            }
            for point in points {
                samples.append(MetricSample(labels: labels, timestampMs: point.timestamp, value: point.value))
            }
            for point in exemplarPoints {
                let own = stride(from: 0, to: point.refs.count, by: 2).map { Label(symbols[Int(point.refs[$0])], symbols[Int(point.refs[$0 + 1])]) }
                exemplars.append(MetricExemplar(series: labels, labels: Labels(own), timestampMs: point.timestamp, value: point.value))
            }
            for histogram in histograms {
                switch histogram.classicSamples(of: labels) {
                case .success(let classic):
                    samples.append(contentsOf: classic)
                    histogramsWritten += 1
                    histogramSamples += classic.count
                case .failure(let reason): tally.reject(1, "native histogram of series \(labels) at \(histogram.timestampMs): \(reason.reason)")
                }
            }
            let help = Int(helpRef) < symbols.count ? symbols[Int(helpRef)] : ""
            let unit = Int(unitRef) < symbols.count ? symbols[Int(unitRef)] : ""
            if kind != .unknown || !help.isEmpty || !unit.isEmpty, let name = labels[Labels.metricName] {
                let family = Self.family(of: name, kind)
                if families.insert(family).inserted {
                    metadata.append(MetricMetadata(metricFamily: family, kind: kind, help: help, unit: unit))
                }
            }
        }

        private struct Failure: Error {
            var message: String
        }

        /// The labels `refs` name, checked as Prometheus checks them.
        private static func labels(_ refs: [UInt32], symbols: [String], cache: inout [[UInt32]: Labels]) -> Result<Labels, Failure> {
            if let known = cache[refs] { return .success(known) }
            guard refs.count % 2 == 0 else { return .failure(Failure(message: "has an odd number of label references (\(refs.count))")) }
            if let bad = refs.first(where: { Int($0) >= symbols.count }) {
                return .failure(Failure(message: "refers to symbol \(bad), beyond the request's \(symbols.count) symbols"))
            }
            var list: [Label] = []
            list.reserveCapacity(refs.count / 2)
            var hasName = false
            for pair in stride(from: 0, to: refs.count, by: 2) {
                let name = symbols[Int(refs[pair])]
                let value = symbols[Int(refs[pair + 1])]
                guard !name.isEmpty else { return .failure(Failure(message: "has an empty label name")) }
                if let previous = list.last?.name {
                    // Byte-wise order, as Go compares strings.
                    if previous == name { return .failure(Failure(message: "has duplicate label name \"\(name)\"")) }
                    if !previous.utf8.lexicographicallyPrecedes(name.utf8) {
                        return .failure(Failure(message: "has out of order labels (\"\(name)\" after \"\(previous)\")"))
                    }
                }
                hasName = hasName || (name == Labels.metricName && !value.isEmpty)
                list.append(Label(name, value))
            }
            guard hasName else { return .failure(Failure(message: "has no metric name (label __name__)")) }
            let labels = Labels(list)
            cache[refs] = labels
            return .success(labels)
        }

        /// The series in Prometheus notation as far as its references resolve, for rejection messages.
        private static func describe(_ refs: [UInt32], symbols: [String]) -> String {
            func symbol(_ ref: UInt32) -> String { Int(ref) < symbols.count ? symbols[Int(ref)] : "?\(ref)" }
            let pairs = stride(from: 0, to: refs.count - 1, by: 2).map { (name: symbol(refs[$0]), value: symbol(refs[$0 + 1])) }
            return RemoteWriteDecoding.describe(pairs)
        }

        /// The family a series' metadata describes: histogram and summary series without their suffix.
        private static func family(of name: String, _ kind: MetricMetadata.Kind) -> String {
            guard kind == .histogram || kind == .gaugeHistogram || kind == .summary else { return name }
            for suffix in ["_bucket", "_sum", "_count", "_created"] where name.hasSuffix(suffix) {
                return String(name.dropLast(suffix.count))
            }
            return name
        }
    }
}
