package import SightlineCore

/// Decodes Prometheus remote write 1.0 requests (`prometheus.WriteRequest`, usually Snappy-compressed) into samples.
///
/// Message and field numbers, from Prometheus's `prompb/remote.proto` and `prompb/types.proto`:
/// - `WriteRequest`: `timeseries = 1` (repeated `TimeSeries`), `metadata = 3` (repeated `MetricMetadata`).
/// - `TimeSeries`: `labels = 1` (`Label`: `name = 1`, `value = 2`), `samples = 2` (`Sample`: `value = 1` double,
///   `timestamp = 2` int64 milliseconds), `exemplars = 3` (`Exemplar`: `labels = 1`, `value = 2` double,
///   `timestamp = 3` int64 ms), `histograms = 4` (native histograms, ``NativeHistogramSample``).
/// - `MetricMetadata`: `type = 1`, `metric_family_name = 2`, `help = 4`, `unit = 5`.
///
/// A malformed body (bad Snappy, truncated or invalid protobuf) throws: the whole request is rejected. A series
/// Prometheus itself would refuse (no `__name__`, an empty or non-UTF-8 label name or value, duplicate or unsorted
/// label names) is rejected alone: its samples are counted in ``DecodedBatch/rejected`` with a message naming it.
/// Native histograms become the classic `_bucket`/`_count`/`_sum` series of their metric (``NativeHistogramSample``);
/// one that cannot (a schema the protocol does not define, spans and counts that disagree) is rejected alone. Sample
/// values keep their exact bits, so staleness markers (``StaleNaN``) survive.
///
/// ```swift
/// let decoded = try body.withUnsafeBytes { try RemoteWriteDecoder.decode(snappyBody: $0, maxDecompressed: 32 << 20) }
/// ```
package enum RemoteWriteDecoder {

    /// Decompresses a Snappy-compressed `WriteRequest` and decodes it.
    /// - Parameters:
    ///   - snappyBody: The request body, a Snappy block.
    ///   - maxDecompressed: The most bytes the decompressed protobuf may have.
    /// - Returns: The samples and metadata of the valid series, and what was rejected.
    ///   - seriesCache: Label sets seen in earlier requests, reused when a series' label bytes are the same.
    /// - Throws: ``SightlineError`` `.tooLarge` when the body declares more than `maxDecompressed` bytes;
    ///   `.invalidArgument` when the Snappy block or the protobuf is malformed.
    package static func decode(
        snappyBody: UnsafeRawBufferPointer, maxDecompressed: Int, seriesCache: RemoteWriteSeriesCache? = nil
    ) throws -> DecodedBatch {
        let protobuf = try Snappy.decompress(snappyBody, maxOutput: maxDecompressed)
        return try protobuf.withUnsafeBytes { try decode(protobuf: $0, seriesCache: seriesCache) }
    }

    /// Decompresses and decodes a Snappy-compressed `WriteRequest` held in a byte array.
    package static func decode(snappyBody: [UInt8], maxDecompressed: Int) throws -> DecodedBatch {
        try snappyBody.withUnsafeBytes { try decode(snappyBody: $0, maxDecompressed: maxDecompressed) }
    }

    /// Decodes an uncompressed `WriteRequest`.
    /// - Parameters:
    ///   - protobuf: The serialized message.
    ///   - seriesCache: Label sets seen in earlier requests (see ``RemoteWriteSeriesCache``); nil decodes every
    ///     series' labels afresh.
    /// - Returns: The samples and metadata of the valid series, and what was rejected.
    /// - Throws: ``SightlineError`` `.invalidArgument` when the protobuf is malformed; the message names the field
    ///   path, e.g. `malformed protobuf in WriteRequest.timeseries[3].samples[0]: truncated fixed64`.
    package static func decode(protobuf: UnsafeRawBufferPointer, seriesCache: RemoteWriteSeriesCache? = nil) throws -> DecodedBatch {
        var state = RemoteWriteDecoding(expectedBytes: protobuf.count, seriesCache: seriesCache)
        do {
            var reader = ProtobufReader(protobuf)
            var seriesIndex = 0
            var metadataIndex = 0
            while let field = try reader.nextField() {
                switch field {
                case 1:
                    let series = try reader.readBytesSlice("timeseries", index: seriesIndex)
                    try withFieldPath(".timeseries[\(seriesIndex)]") { try state.decodeSeries(series) }
                    seriesIndex += 1
                case 3:
                    let metadata = try reader.readMessage("metadata", index: metadataIndex) { try Self.metadata(&$0) }
                    if let metadata { state.metadata.append(metadata) }
                    metadataIndex += 1
                default:
                    try reader.skipField()
                }
            }
        } catch let error as FieldPathError {
            throw error.sightlineError(prefix: "malformed protobuf in", root: "WriteRequest")
        }
        return DecodedBatch(
            .metrics(MetricBatch(samples: state.samples, metadata: state.metadata, exemplars: state.exemplars)),
            rejected: state.tally.count,
            rejectionMessage: state.tally.message)
    }

    /// Decodes an uncompressed `WriteRequest` held in a byte array.
    package static func decode(protobuf: [UInt8], seriesCache: RemoteWriteSeriesCache? = nil) throws -> DecodedBatch {
        try protobuf.withUnsafeBytes { try decode(protobuf: $0, seriesCache: seriesCache) }
    }

    /// An `Exemplar` message of `series`: labels 1 (`Label`: name 1, value 2), value 2, timestamp 3.
    /// - Throws: ``FieldPathError`` when the message is malformed.
    static func exemplar(_ buffer: UnsafeRawBufferPointer, series: Labels) throws -> MetricExemplar {
        var labels: [Label] = []
        var exemplar = MetricExemplar(series: series, labels: Labels([]), timestampMs: 0, value: 0)
        var r = ProtobufReader(buffer)
        while let field = try r.nextField() {
            switch field {
            case 1:
                let index = labels.count
                let message = try r.readBytesSlice("labels", index: index)
                let (name, value) = try withFieldPath(".labels[\(index)]") { try RemoteWriteDecoding.rawLabel(message) }
                labels.append(Label(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
            case 2: exemplar.value = try r.readDouble("value")
            case 3: exemplar.timestampMs = Int64(bitPattern: try r.readVarint("timestamp"))
            default: try r.skipField()
            }
        }
        exemplar.labels = Labels(labels)
        return exemplar
    }

    /// `MetricMetadata`: type 1, metric_family_name 2, help 4, unit 5. Nil when the family name is empty.
    private static func metadata(_ r: inout ProtobufReader) throws -> MetricMetadata? {
        var result = MetricMetadata(metricFamily: "", kind: .unknown)
        while let field = try r.nextField() {
            switch field {
            case 1: result.kind = MetricMetadata.Kind(rawValue: UInt8(clamping: try r.readVarint("type"))) ?? .unknown
            case 2: result.metricFamily = try r.readString("metric_family_name")
            case 4: result.help = try r.readString("help")
            case 5: result.unit = try r.readString("unit")
            default: try r.skipField()
            }
        }
        return result.metricFamily.isEmpty ? nil : result
    }
}

/// A label of the request, parsed and validated once per distinct `Label` message.
private struct InternedLabel {
    var label: Label
    /// The name's bytes in the request, for the order check.
    var name: UnsafeRawBufferPointer
    /// Whether this is `__name__` with a value.
    var isMetricName: Bool
}

/// The state of decoding one request: the output, the interned labels and scratch space reused by every series.
struct RemoteWriteDecoding {
    /// The name of the metric name label, as bytes.
    private static let metricNameBytes: [UInt8] = Array(Labels.metricName.utf8)
    /// Label descriptions in rejection messages are cut after this many characters.
    static let maxDescriptionLength = 256

    var samples: [MetricSample] = []
    var metadata: [MetricMetadata] = []
    var exemplars: [MetricExemplar] = []
    var tally = RejectionTally()

    /// Label messages (name and value bytes together) to their labels.
    private var labelTable = RemoteWriteInternTable<InternedLabel>()
    /// Label names and values to Strings, so equal strings of different labels share storage too.
    private var stringTable = RemoteWriteInternTable<String>()
    /// The label messages of the previous and the current series with their indexes in ``labelTable``, while
    /// every label so far was kept in the table.
    private var previousSeriesLabels: [(bytes: UnsafeRawBufferPointer, index: Int)] = []
    private var currentSeriesLabels: [(bytes: UnsafeRawBufferPointer, index: Int)] = []
    /// The current series' labels, in wire order.
    private var labelScratch: [Label] = []
    /// The current series' raw `Sample` and `Exemplar` messages.
    private var sampleMessages: [UnsafeRawBufferPointer] = []
    private var exemplarMessages: [UnsafeRawBufferPointer] = []
    /// The current series' raw native `Histogram` messages.
    private var histogramMessages: [UnsafeRawBufferPointer] = []
    /// The label fields of the previous valid series, when they were contiguous, and its labels: consecutive
    /// entries of one series then share one `Labels`.
    private var previousLabelBytes = UnsafeRawBufferPointer(start: nil, count: 0)
    private var previousLabels = Labels([])

    /// Label sets of earlier requests, by their bytes.
    private let seriesCache: RemoteWriteSeriesCache?
    /// What this request looks them up in.
    private let cacheReader: RemoteWriteSeriesCache.Reader?

    init(expectedBytes: Int, seriesCache: RemoteWriteSeriesCache?) {
        // A remote-write sample takes ~100-300 bytes with its labels; reserving for the dense end avoids regrowth.
        samples.reserveCapacity(min(expectedBytes / 96, 1 << 20))
        self.seriesCache = seriesCache
        self.cacheReader = seriesCache?.reader()
    }

    /// Decodes one `TimeSeries`; appends its samples or rejects it.
    mutating func decodeSeries(_ buffer: UnsafeRawBufferPointer) throws {
        if let cacheReader, try decodeCachedSeries(buffer, cacheReader) { return }
        labelScratch.removeAll(keepingCapacity: true)
        sampleMessages.removeAll(keepingCapacity: true)
        exemplarMessages.removeAll(keepingCapacity: true)
        currentSeriesLabels.removeAll(keepingCapacity: true)
        defer { swap(&previousSeriesLabels, &currentSeriesLabels) }
        histogramMessages.removeAll(keepingCapacity: true)
        // Where the label fields start and end, and whether nothing else lies between them.
        var labelStart = -1
        var labelEnd = -1
        var labelsContiguous = true
        var labelCount = 0
        // Why the series is rejected, if it is.
        var failure: String?
        var hasName = false
        var previousName = UnsafeRawBufferPointer(start: nil, count: 0)

        var offset = 0
        while offset < buffer.count {
            let fieldStart = offset
            // Fields as every encoder writes them take the fast path; anything else, and every error, goes through
            // ProtobufReader.
            let field: Int
            let body: UnsafeRawBufferPointer
            if let fast = Self.lengthDelimitedField(buffer, at: offset) {
                field = fast.field
                body = UnsafeRawBufferPointer(rebasing: buffer[fast.body])
                offset = fast.body.upperBound
            } else {
                var r = ProtobufReader(UnsafeRawBufferPointer(rebasing: buffer[offset...]))
                guard let number = try r.nextField() else { break }
                field = number
                switch number {
                case 1: body = try r.readBytesSlice("labels", index: labelCount)
                case 2: body = try r.readBytesSlice("samples", index: sampleMessages.count)
                case 3: body = try r.readBytesSlice("exemplars", index: exemplarMessages.count)
                case 4: body = try r.readBytesSlice("histograms", index: histogramMessages.count)
                default:
                    try r.skipField()
                    body = UnsafeRawBufferPointer(start: nil, count: 0)
                }
                offset += r.offset
            }
            switch field {
            case 1:
                let index = labelCount
                labelCount += 1
                let message = body
                if labelStart < 0 {
                    labelStart = fieldStart
                } else if labelEnd != fieldStart {
                    labelsContiguous = false
                }
                labelEnd = offset
                // Consecutive series mostly share labels at the same positions (one target's labels, one metric
                // name): compare with the previous series' label there before hashing.
                let interned: InternedLabel
                if index < previousSeriesLabels.count, Self.equal(previousSeriesLabels[index].bytes, message) {
                    interned = labelTable[previousSeriesLabels[index].index]
                    currentSeriesLabels.append(previousSeriesLabels[index])
                } else {
                    switch labelTable.lookup(message) {
                    case .found(let tableIndex):
                        interned = labelTable[tableIndex]
                        currentSeriesLabels.append((message, tableIndex))
                    case .missing(let slot):
                        let made = try withFieldPath(".labels[\(index)]") { try makeLabel(message) }
                        switch made {
                        case .success(let label):
                            if let tableIndex = labelTable.insert(label, for: message, at: slot) {
                                currentSeriesLabels.append((message, tableIndex))
                            }
                            interned = label
                        case .failure(let reason):
                            if failure == nil { failure = reason.message }
                            continue
                        }
                    }
                }
                guard failure == nil else { continue }
                if index > 0 {
                    let order = Self.compare(previousName, interned.name)
                    if order == 0 {
                        failure = "has duplicate label name \"\(interned.label.name)\""
                    } else if order > 0 {
                        failure = "has out of order labels (\"\(interned.label.name)\" after \"\(Self.lossy(previousName))\")"
                    }
                }
                previousName = interned.name
                hasName = hasName || interned.isMetricName
                labelScratch.append(interned.label)
            case 2:
                sampleMessages.append(body)
            case 3:
                exemplarMessages.append(body)
            case 4:
                histogramMessages.append(body)
            default:
                break
            }
        }
        if failure == nil && !hasName { failure = "has no metric name (label __name__)" }

        if let failure {
            // Check the samples' structure anyway: a malformed body fails as a whole whatever its labels.
            for (index, message) in sampleMessages.enumerated() {
                _ = try withFieldPath(".samples[\(index)]") { try Self.sample(message) }
            }
            for (index, message) in exemplarMessages.enumerated() {
                _ = try withFieldPath(".exemplars[\(index)]") { try RemoteWriteDecoder.exemplar(message, series: Labels([])) }
            }
            for (index, message) in histogramMessages.enumerated() {
                _ = try withFieldPath(".histograms[\(index)]") { try NativeHistogramSample.decode(message) }
            }
            let count = sampleMessages.count + histogramMessages.count
            if count > 0 { tally.reject(count, "series \(Self.describeSeries(buffer)) \(failure)") }
            return
        }

        // Reuse the previous series' labels when the label bytes are identical.
        let labels: Labels
        if labelsContiguous, let base = buffer.baseAddress, sameBytes(previousLabelBytes, base + labelStart, labelEnd - labelStart) {
            labels = previousLabels
        } else {
            labels = Labels(labelScratch)
            if labelsContiguous, let base = buffer.baseAddress {
                previousLabelBytes = UnsafeRawBufferPointer(start: base + labelStart, count: labelEnd - labelStart)
                previousLabels = labels
            } else {
                previousLabelBytes = UnsafeRawBufferPointer(start: nil, count: 0)
            }
        }
        // Labels that come first and together are the key decodeCachedSeries looks up.
        if labelsContiguous, labelStart == 0, let seriesCache {
            seriesCache.insert(labels, for: UnsafeRawBufferPointer(rebasing: buffer[0..<labelEnd]))
        }

        for (index, message) in sampleMessages.enumerated() {
            let (timestamp, value) = try withFieldPath(".samples[\(index)]") { try Self.sample(message) }
            samples.append(MetricSample(labels: labels, timestampMs: timestamp, value: value))
        }
        for (index, message) in exemplarMessages.enumerated() {
            exemplars.append(try withFieldPath(".exemplars[\(index)]") { try RemoteWriteDecoder.exemplar(message, series: labels) })
        }
        for (index, message) in histogramMessages.enumerated() {
            let histogram = try withFieldPath(".histograms[\(index)]") { try NativeHistogramSample.decode(message) }
            switch histogram.classicSamples(of: labels) {
            case .success(let classic): samples.append(contentsOf: classic)
            case .failure(let reason): tally.reject(1, "native histogram of series \(labels) at \(histogram.timestampMs): \(reason.reason)")
            }
        }
    }

    /// Decodes a series whose labels are in `cache`: every field is a label or a sample, the labels first. Returns
    /// false, having appended nothing, when the series does not have that shape or its labels are not cached.
    /// - Throws: ``FieldPathError`` when a sample is malformed.
    private mutating func decodeCachedSeries(_ buffer: UnsafeRawBufferPointer, _ cache: RemoteWriteSeriesCache.Reader) throws -> Bool {
        sampleMessages.removeAll(keepingCapacity: true)
        var offset = 0
        var labelsEnd = 0
        while offset < buffer.count {
            guard let field = Self.lengthDelimitedField(buffer, at: offset) else { return false }
            switch field.field {
            case 1:
                guard sampleMessages.isEmpty else { return false }
                labelsEnd = field.body.upperBound
            case 2:
                sampleMessages.append(UnsafeRawBufferPointer(rebasing: buffer[field.body]))
            default:
                return false  // exemplars, histograms: the full path
            }
            offset = field.body.upperBound
        }
        guard labelsEnd > 0, let labels = cache.labels(for: UnsafeRawBufferPointer(rebasing: buffer[0..<labelsEnd])) else {
            return false
        }
        if sampleMessages.count == 1 {
            // One sample (every scrape's shape): the labels move into it, one retain instead of two atomics.
            let (timestamp, value) = try withFieldPath(".samples[0]") { try Self.sample(sampleMessages[0]) }
            samples.append(MetricSample(labels: consume labels, timestampMs: timestamp, value: value))
            return true
        }
        for (index, message) in sampleMessages.enumerated() {
            let (timestamp, value) = try withFieldPath(".samples[\(index)]") { try Self.sample(message) }
            samples.append(MetricSample(labels: labels, timestampMs: timestamp, value: value))
        }
        return true
    }

    /// Why Prometheus would reject a label.
    private struct LabelFailure: Error {
        var message: String
    }

    /// Parses a `Label` message (name 1, value 2) seen for the first time and checks it.
    /// - Throws: ``FieldPathError`` when the message is malformed.
    private mutating func makeLabel(_ buffer: UnsafeRawBufferPointer) throws -> Result<InternedLabel, LabelFailure> {
        let (name, value) = try Self.rawLabel(buffer)
        guard name.count > 0 else { return .failure(LabelFailure(message: "has an empty label name")) }
        guard let nameString = string(name) else {
            return .failure(LabelFailure(message: "has a label name that is not valid UTF-8"))
        }
        guard let valueString = string(value) else {
            return .failure(LabelFailure(message: "has a value of label \"\(nameString)\" that is not valid UTF-8"))
        }
        let isMetricName = value.count > 0 && name.elementsEqual(Self.metricNameBytes)
        return .success(InternedLabel(label: Label(nameString, valueString), name: name, isMetricName: isMetricName))
    }

    /// The interned String of `bytes`, or nil when they are not valid UTF-8.
    private mutating func string(_ bytes: UnsafeRawBufferPointer) -> String? {
        switch stringTable.lookup(bytes) {
        case .found(let index): return stringTable[index]
        case .missing(let slot):
            guard let string = UTF8Text.string(validating: bytes) else { return nil }
            stringTable.insert(string, for: bytes, at: slot)
            return string
        }
    }

    /// The name and value bytes of a `Label` message.
    static func rawLabel(_ buffer: UnsafeRawBufferPointer) throws -> (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        var name = UnsafeRawBufferPointer(start: nil, count: 0)
        var value = UnsafeRawBufferPointer(start: nil, count: 0)
        var r = ProtobufReader(buffer)
        while let field = try r.nextField() {
            switch field {
            case 1: name = try r.readBytesSlice("name")
            case 2: value = try r.readBytesSlice("value")
            default: try r.skipField()
            }
        }
        return (name, value)
    }

    /// The field at `offset` when it is length-delimited with a 1-byte tag (fields 1 to 15) and a 1- or 2-byte
    /// length that fits in `buffer`; nil otherwise, for ``ProtobufReader`` to read or report.
    @inline(__always)
    private static func lengthDelimitedField(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> (field: Int, body: Range<Int>)? {
        let count = buffer.count
        guard count - offset >= 2 else { return nil }
        let tag = buffer[offset]
        guard tag & 0x87 == 2, tag >= 8 else { return nil }
        var length = Int(buffer[offset + 1])
        var start = offset + 2
        if length >= 0x80 {
            guard start < count, buffer[start] < 0x80 else { return nil }
            length = (length & 0x7F) | Int(buffer[start]) << 7
            start += 1
        }
        guard length <= count - start else { return nil }
        return (Int(tag >> 3), start..<start + length)
    }

    /// Reads a `Sample` message: value 1 (double), timestamp 2 (int64); the same message in 1.0 and 2.0.
    @inline(__always)
    static func sample(_ buffer: UnsafeRawBufferPointer) throws -> (timestamp: Int64, value: Double) {
        // Fast path for the layout every encoder writes: tag 0x09, 8 value bytes, tag 0x10, a varint of at most
        // 9 bytes ending the message.
        let count = buffer.count
        if count >= 11, buffer[0] == 0x09, buffer[9] == 0x10, count <= 19 {
            var timestamp: UInt64 = 0
            var shift: UInt64 = 0
            var i = 10
            while i < count {
                let byte = buffer[i]
                timestamp |= UInt64(byte & 0x7F) << shift
                i += 1
                if byte & 0x80 == 0 { break }
                shift += 7
            }
            if i == count && buffer[count - 1] & 0x80 == 0 {
                let bits = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 1, as: UInt64.self))
                return (Int64(bitPattern: timestamp), Double(bitPattern: bits))
            }
        }
        var value = 0.0
        var timestamp: Int64 = 0
        var r = ProtobufReader(buffer)
        while let field = try r.nextField() {
            switch field {
            case 1: value = try r.readDouble("value")
            case 2: timestamp = Int64(bitPattern: try r.readVarint("timestamp"))
            default: try r.skipField()
            }
        }
        return (timestamp, value)
    }

    /// The series in Prometheus notation, from its raw labels (invalid UTF-8 replaced), cut if very long.
    private static func describeSeries(_ buffer: UnsafeRawBufferPointer) -> String {
        var labels: [(name: String, value: String)] = []
        var r = ProtobufReader(buffer)
        while let field = try? r.nextField() {
            guard field == 1, let message = try? r.readBytesSlice("labels"), let (rawName, rawValue) = try? Self.rawLabel(message)
            else {
                guard (try? r.skipField()) != nil else { break }
                continue
            }
            labels.append((Self.lossy(rawName), Self.lossy(rawValue)))
        }
        return Self.describe(labels)
    }

    /// Labels in Prometheus notation for a rejection message (`name{label="value", …}`), cut if very long.
    static func describe(_ labels: [(name: String, value: String)]) -> String {
        var name = ""
        var rest: [String] = []
        for (label, value) in labels {
            if label == Labels.metricName && name.isEmpty {
                name = value
            } else {
                rest.append("\(label)=\"\(PromText.escapeLabelValue(value))\"")
            }
        }
        let text = rest.isEmpty && !name.isEmpty ? name : "\(name){\(rest.joined(separator: ", "))}"
        return text.count > Self.maxDescriptionLength ? String(text.prefix(Self.maxDescriptionLength)) + "…" : text
    }

    private static func lossy(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Byte-wise comparison, as Go compares label names: negative, zero or positive.
    @inline(__always)
    private static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let common = min(a.count, b.count)
        var i = 0
        while i < common {
            let x = a[i]
            let y = b[i]
            if x != y { return x < y ? -1 : 1 }
            i += 1
        }
        return a.count - b.count
    }

    /// Whether two byte ranges hold the same bytes; compares 8 bytes at a time.
    @inline(__always)
    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        let count = a.count
        guard count == b.count else { return false }
        guard let x = a.baseAddress, let y = b.baseAddress else { return count == 0 }
        var i = 0
        while i + 8 <= count {
            if x.loadUnaligned(fromByteOffset: i, as: UInt64.self) != y.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        if i < count && count >= 8 {
            return x.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == y.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        }
        while i < count {
            if x.load(fromByteOffset: i, as: UInt8.self) != y.load(fromByteOffset: i, as: UInt8.self) { return false }
            i += 1
        }
        return true
    }

    /// Whether `previous` holds the same `count` bytes as `start`.
    @inline(__always)
    private func sameBytes(_ previous: UnsafeRawBufferPointer, _ start: UnsafeRawPointer, _ count: Int) -> Bool {
        guard previous.count == count, count > 0, let other = previous.baseAddress else { return false }
        return other == start || Self.equal(UnsafeRawBufferPointer(start: start, count: count), previous)
    }
}
