/// The binary form of a ``TenantBatch``: how the WAL and the interim record store keep batches.
///
/// Layout: a format version byte, the signal byte, the tenant, then the records of that signal. Version 2 added the
/// stream labels of log records; version 1 batches still decode (with empty stream labels). Version 3 front-codes
/// the labels of metric samples: a sample writes how many bytes of its label encoding (count, then names and values)
/// it shares with the previous sample's, then the rest, which cuts the record to a third on typical series (they come
/// grouped by metric and target) and with it the checksum and write work of the WAL. Integers are varints, doubles
/// and ids fixed-width little-endian; strings and byte arrays are length-prefixed.
///
/// Version 4 is the WAL writer's own form of a metrics batch whose series the store resolved
/// (``encode(into:scope:)``): a series' labels are written once per WAL segment with a number, and its later samples
/// name it by that number, so a sample costs ~11 bytes instead of its label set. Such a record can be read only in
/// order with the records before it in its segment (``init(decoding:seriesTable:)``).
///
/// Version 5 is the form of log batches: a record's stream labels are a byte, 0 when they are the previous record's
/// in the batch, else 1 and the labels (a Loki push sends its streams' records together, so the labels, a sixth of
/// a typical record, are written once per run).
///
/// Version 6 is version 3 followed by series deletions (``SeriesDeletion``): a count, then per deletion its matchers
/// (a count, then kind byte, name and value each) and its start and end as signed varints. Only metrics batches that
/// hold deletions are written in it, so every other batch keeps its older, shorter form.
///
/// Version 7 is version 5 followed by log deletions (``LogDeletion``): a count, then per deletion its request id,
/// query, creation time, matchers (as in version 6), line filters (a count, then kind byte and alternatives each) and
/// its start and end; only log batches that hold deletions are written in it.
///
/// Versions 8 and 9 carry exemplars (``MetricExemplar``): version 8 is version 6 (its deletions count always written)
/// followed by a count of exemplars, then per exemplar its series' labels, its own labels, its time as a signed varint
/// and its value's 8 bytes; version 9 is version 4 followed by the same exemplar list. Only batches with exemplars are
/// written in them.
extension TenantBatch {
    private static let formatVersion: UInt8 = 3
    private static let segmentScopedVersion: UInt8 = 4
    private static let logsVersion: UInt8 = 5
    private static let deletionsVersion: UInt8 = 6
    private static let logDeletionsVersion: UInt8 = 7
    private static let exemplarsVersion: UInt8 = 8
    private static let segmentScopedExemplarsVersion: UInt8 = 9
    /// The format versions ``init(decoding:seriesTable:)`` reads.
    package static let readableVersions: ClosedRange<UInt8> = 1...segmentScopedExemplarsVersion

    /// Encodes the batch.
    package func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: encodedCapacity)
        encode(into: &w)
        return w.bytes
    }

    /// What to reserve for the encoding: generous, since pages reserved and never written cost nothing, while
    /// growing copies everything written so far.
    package var encodedCapacity: Int {
        let perRecord = switch batch {
        case .logs: 1024
        case .traces: 512
        case .metrics: 128
        }
        return perRecord * max(batch.recordCount, 1)
    }

    /// Appends the encoding to `w`.
    package func encode(into w: inout ByteWriter) {
        let version = switch batch {
        case .logs(let records) where !records.deletions.isEmpty: Self.logDeletionsVersion
        case .logs: Self.logsVersion
        case .metrics(let metrics) where !metrics.exemplars.isEmpty: Self.exemplarsVersion
        case .metrics(let metrics) where !metrics.deletions.isEmpty: Self.deletionsVersion
        case .metrics, .traces: Self.formatVersion
        }
        writeHeader(version: version, into: &w)
        switch batch {
        case .logs(let records):
            w.writeVarint(UInt64(records.count))
            var previous: Labels?
            for record in records {
                withUnsafePointer(to: record) { w.write(logRecordAt: $0) }
                if let previous, previous == record.stream {
                    w.writeByte(0)
                } else {
                    w.writeByte(1)
                    w.writeLabels(record.stream)
                    previous = record.stream
                }
            }
            if !records.deletions.isEmpty { w.writeLogDeletions(records.deletions) }
        case .metrics(let metrics):
            w.writeVarint(UInt64(metrics.samples.count))
            // Each sample's labels are encoded into one of two reused buffers and front-coded against the other.
            var previous = ByteWriter(capacity: 256)
            var current = ByteWriter(capacity: 256)
            for sample in metrics.samples {
                current.removeAll()
                current.writeLabels(sample.labels)
                current.bytes.withUnsafeBytes { labels in previous.bytes.withUnsafeBytes { w.writeFrontCoded(labels, after: $0) } }
                swap(&previous, &current)
                w.writeSignedVarint(sample.timestampMs)
                w.writeDouble(sample.value)
            }
            w.writeMetadata(metrics.metadata)
            if version != Self.formatVersion { w.writeDeletions(metrics.deletions) }
            if version == Self.exemplarsVersion { w.writeExemplars(metrics.exemplars) }
        case .traces(let spans):
            w.writeVarint(UInt64(spans.count))
            for span in spans { w.write(span) }
        }
    }

    /// Decodes what ``encoded()`` wrote.
    /// - Throws: `dataCorrupted` when the bytes are not a complete batch of a known version, or are a WAL segment's
    ///   own record (version 4), which only ``init(decoding:seriesTable:)`` reads.
    package init(decoding bytes: UnsafeRawBufferPointer) throws {
        var none: WALSeriesTable?
        try self.init(decoding: bytes, seriesTable: &none)
    }

    /// Decodes what ``encoded()`` or ``encode(into:scope:)`` wrote; `seriesTable` holds the series the records before
    /// this one in its WAL segment defined (nil outside WAL replay) and learns the ones this record defines.
    /// - Throws: `dataCorrupted` when the bytes are not a complete batch of a known version, or name a series no
    ///   earlier record of the segment defined.
    package init(decoding bytes: UnsafeRawBufferPointer, seriesTable: inout WALSeriesTable?) throws {
        var r = ByteReader(bytes)
        let version = try r.readByte()
        guard Self.readableVersions.contains(version) else {
            throw SightlineError(.dataCorrupted, "unknown batch format version \(version)")
        }
        let signalByte = try r.readByte()
        guard let signal = Signal(rawValue: signalByte) else { throw SightlineError(.dataCorrupted, "unknown signal \(signalByte)") }
        guard version != Self.segmentScopedVersion || signal == .metrics else {
            throw SightlineError(.dataCorrupted, "a version 4 record holds \(signal), not metrics")
        }
        guard version < Self.exemplarsVersion || signal == .metrics else {
            throw SightlineError(.dataCorrupted, "a version \(version) record holds \(signal), not metrics")
        }
        guard version != Self.logsVersion || signal == .logs else {
            throw SightlineError(.dataCorrupted, "a version 5 record holds \(signal), not logs")
        }
        guard version != Self.deletionsVersion || signal == .metrics else {
            throw SightlineError(.dataCorrupted, "a version 6 record holds \(signal), not metrics")
        }
        guard version != Self.logDeletionsVersion || signal == .logs else {
            throw SightlineError(.dataCorrupted, "a version 7 record holds \(signal), not logs")
        }
        let tenant = Tenant(uncheckedID: try r.readString())
        switch signal {
        case .logs:
            let count = try r.readCount()
            var records = LogBatch()
            records.reserveCapacity(rows: count)
            var previous: Labels?
            for _ in 0..<count {
                var record = try r.readLogRecord(version: version)
                if version >= Self.logsVersion {
                    switch try r.readByte() {
                    case 0:
                        guard let previous else { throw SightlineError(.dataCorrupted, "the first log record of a batch names no stream") }
                        record.stream = previous
                    case 1:
                        record.stream = try r.readLabels()
                        previous = record.stream
                    case let flag:
                        throw SightlineError(.dataCorrupted, "unknown log stream flag \(flag)")
                    }
                }
                records.append(record)
            }
            if version == Self.logDeletionsVersion { records.deletions = try r.readLogDeletions() }
            self.init(tenant: tenant, batch: .logs(records))
        case .metrics:
            let count = try r.readCount()
            var samples: [MetricSample] = []
            samples.reserveCapacity(count)
            let segmentScoped = version == Self.segmentScopedVersion || version == Self.segmentScopedExemplarsVersion
            if segmentScoped {
                guard seriesTable != nil else {
                    throw SightlineError(
                        .dataCorrupted, "a WAL segment's own metrics record (version 4) can only be read in order with its segment")
                }
                try r.readSegmentScopedSamples(count: count, into: &samples, table: &seriesTable!)
            } else if version >= 3 {
                var previousBytes: [UInt8] = []
                var previous = Labels([])
                for _ in 0..<count {
                    if try r.readFrontCoded(into: &previousBytes) {
                        previous = try previousBytes.withUnsafeBytes { try ByteReader.labels(filling: $0) }
                    }
                    samples.append(MetricSample(labels: previous, timestampMs: try r.readSignedVarint(), value: try r.readDouble()))
                }
            } else {
                for _ in 0..<count {
                    samples.append(MetricSample(labels: try r.readLabels(), timestampMs: try r.readSignedVarint(), value: try r.readDouble()))
                }
            }
            let metadata = try r.readMetadata()
            let deletions = version == Self.deletionsVersion || version == Self.exemplarsVersion ? try r.readDeletions() : []
            let exemplars = version >= Self.exemplarsVersion ? try r.readExemplars() : []
            self.init(
                tenant: tenant, batch: .metrics(MetricBatch(samples: samples, metadata: metadata, exemplars: exemplars, deletions: deletions)))
        case .traces:
            let count = try r.readCount()
            var spans: [Span] = []
            spans.reserveCapacity(count)
            for _ in 0..<count { spans.append(try r.readSpan()) }
            self.init(tenant: tenant, batch: .traces(spans))
        }
        guard r.isAtEnd else { throw SightlineError(.dataCorrupted, "\(r.remaining) unexpected bytes after the batch") }
    }

    /// Decodes from an array.
    package init(decoding bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try TenantBatch(decoding: $0) }
    }

    /// The version byte, signal and tenant every encoding starts with.
    private func writeHeader(version: UInt8, into w: inout ByteWriter) {
        w.writeByte(version)
        w.writeByte(batch.signal.rawValue)
        w.writeString(tenant.id)
    }

    /// Appends the WAL writer's form of the batch for a record in the segment `scope` describes: version 4 for a
    /// metrics batch with resolved series numbers and no deletions, else the same bytes as ``encode(into:)``. Call only on the WAL
    /// writer thread: it numbers series in `scope`.
    ///
    /// A sample is `key | Δt | value`: `key` is a varint whose low two bits say how the series is named — 0: by a
    /// number defined earlier in the segment, 1: a new number followed by the series' labels (length-prefixed
    /// ``ByteWriter/writeLabels(_:)`` bytes), 2: by its labels only (a series the store does not hold yet) — and whose
    /// upper bits are, for 0 and 1, the zigzagged difference between the number and the previous sample's number + 1
    /// (0 when a request repeats the segment's series in order). `Δt` is the zigzagged difference from the previous
    /// sample's time (the first from 0); the value is its 8 bytes.
    package func encode(into w: inout ByteWriter, scope: WALSeriesScope) {
        guard case .metrics(let metrics) = batch, let refs = metrics.resolvedRefs, metrics.deletions.isEmpty else { return encode(into: &w) }
        writeHeader(version: metrics.exemplars.isEmpty ? Self.segmentScopedVersion : Self.segmentScopedExemplarsVersion, into: &w)
        w.writeVarint(UInt64(metrics.samples.count))
        var previousReference: UInt32 = .max
        var previousTime: Int64 = 0
        var labels = ByteWriter(capacity: 256)
        scope.withReferences(of: refs.owner) { references in
            for (sample, id) in zip(metrics.samples, refs.ids) {
                if id != 0 {
                    let index = Int(id)
                    if index >= references.count { references.append(contentsOf: repeatElement(0, count: index + 1 - references.count)) }
                    let defined = references[index] != 0
                    if !defined { references[index] = scope.takeReference() + 1 }
                    let reference = references[index] - 1
                    let step = Int64(reference) - WALSeriesScope.expectedReference(after: previousReference)
                    w.writeVarint(UInt64(bitPattern: (step << 1) ^ (step >> 63)) << 2 | (defined ? 0 : 1))
                    previousReference = reference
                    if defined {
                        w.writeSignedVarint(sample.timestampMs &- previousTime)
                        previousTime = sample.timestampMs
                        w.writeDouble(sample.value)
                        continue
                    }
                } else {
                    w.writeVarint(2)
                }
                labels.removeAll()
                labels.writeLabels(sample.labels)
                w.writeBytes(labels.bytes)
                w.writeSignedVarint(sample.timestampMs &- previousTime)
                previousTime = sample.timestampMs
                w.writeDouble(sample.value)
            }
        }
        w.writeMetadata(metrics.metadata)
        if !metrics.exemplars.isEmpty { w.writeExemplars(metrics.exemplars) }
    }
}

/// What the WAL writer keeps about the segment it writes, for ``TenantBatch/encode(into:scope:)``: the number each
/// series has in it so far, by the store that owns the series and the store's own number for it.
package final class WALSeriesScope {
    /// Per store (``SeriesRefs/owner``), by the store's series number: the segment's number for the series + 1, 0
    /// while it has none.
    private var references: [UInt64: [UInt32]] = [:]
    /// The next number to hand out in the segment.
    private var nextReference: UInt32 = 0

    package init() {}

    /// A new segment: every series is defined again, numbered from 0.
    package func startSegment() {
        references = [:]
        nextReference = 0
    }

    /// Records encoded since the last write never reached the segment (a failed write): the series they defined
    /// are defined again. Numbers go on from where they were, so none is reused within the segment.
    package func forgetUnwritten() {
        references = [:]
    }

    /// Runs `body` on the numbers of `owner`'s series, taken out of the table meanwhile so they change in place.
    fileprivate func withReferences(of owner: UInt64, _ body: (inout [UInt32]) -> Void) {
        var taken = references.removeValue(forKey: owner) ?? []
        body(&taken)
        references[owner] = taken
    }

    /// The number a sample is expected to name after one that named `previous` (`.max` before the first): the next.
    fileprivate static func expectedReference(after previous: UInt32) -> Int64 {
        Int64(previous &+ 1)
    }

    fileprivate func takeReference() -> UInt32 {
        defer { nextReference &+= 1 }
        return nextReference
    }
}

/// The series the records of one WAL segment have defined so far, as replay reads them in order
/// (``TenantBatch/init(decoding:seriesTable:)``). Start a new table for each segment.
package struct WALSeriesTable {
    /// By number; nil for numbers whose definition never reached the segment.
    fileprivate var labels: [Labels?] = []

    package init() {}
}

extension ByteReader {
    /// Reads `count` samples of a version 4 record, resolving series numbers through `table`.
    fileprivate mutating func readSegmentScopedSamples(count: Int, into samples: inout [MetricSample], table: inout WALSeriesTable) throws {
        var previousReference: UInt32 = .max
        var previousTime: Int64 = 0
        for _ in 0..<count {
            let key = try readVarint()
            let labels: Labels
            switch key & 3 {
            case 0, 1:
                let zigzag = key >> 2
                let step = Int64(bitPattern: (zigzag >> 1) ^ (0 &- (zigzag & 1)))
                let (reference, overflow) = WALSeriesScope.expectedReference(after: previousReference).addingReportingOverflow(step)
                guard !overflow, (0...Int64(UInt32.max)).contains(reference) else {
                    throw SightlineError(.dataCorrupted, "series number out of range in a WAL metrics record")
                }
                let number = Int(reference)
                if key & 3 == 1 {
                    // Numbers are handed out one after another; a gap is only what a failed write left.
                    guard number < table.labels.count + (1 << 24) else {
                        throw SightlineError(.dataCorrupted, "series number \(number) far past the \(table.labels.count) defined in its WAL segment")
                    }
                    let defined = try Self.labels(filling: try readBytesInPlace())
                    if number >= table.labels.count { table.labels.append(contentsOf: repeatElement(nil, count: number + 1 - table.labels.count)) }
                    table.labels[number] = defined
                    labels = defined
                } else {
                    guard number < table.labels.count, let known = table.labels[number] else {
                        throw SightlineError(.dataCorrupted, "WAL metrics record names series \(number), which its segment does not define before it")
                    }
                    labels = known
                }
                previousReference = UInt32(number)
            case 2:
                labels = try Self.labels(filling: try readBytesInPlace())
            default:
                throw SightlineError(.dataCorrupted, "unknown series key kind \(key & 3) in a WAL metrics record")
            }
            let time = previousTime &+ (try readSignedVarint())
            previousTime = time
            samples.append(MetricSample(labels: labels, timestampMs: time, value: try readDouble()))
        }
    }

    /// The labels ``ByteWriter/writeLabels(_:)`` wrote into exactly `bytes`.
    fileprivate static func labels(filling bytes: UnsafeRawBufferPointer) throws -> Labels {
        var reader = ByteReader(bytes)
        let labels = try reader.readLabels()
        guard reader.isAtEnd else { throw SightlineError(.dataCorrupted, "metric sample labels end early") }
        return labels
    }

    fileprivate mutating func readMetadata() throws -> [MetricMetadata] {
        let count = try readCount()
        var metadata: [MetricMetadata] = []
        for _ in 0..<count {
            let family = try readString()
            let kind = MetricMetadata.Kind(rawValue: try readByte()) ?? .unknown
            metadata.append(MetricMetadata(metricFamily: family, kind: kind, help: try readString(), unit: try readString()))
        }
        return metadata
    }

    fileprivate mutating func readDeletions() throws -> [SeriesDeletion] {
        let count = try readCount()
        var deletions: [SeriesDeletion] = []
        for _ in 0..<count {
            let matchers = try readMatchers()
            deletions.append(SeriesDeletion(matchers: matchers, startMs: try readSignedVarint(), endMs: try readSignedVarint()))
        }
        return deletions
    }

    fileprivate mutating func readExemplars() throws -> [MetricExemplar] {
        let count = try readCount()
        var exemplars: [MetricExemplar] = []
        exemplars.reserveCapacity(count)
        for _ in 0..<count {
            exemplars.append(
                MetricExemplar(series: try readLabels(), labels: try readLabels(), timestampMs: try readSignedVarint(), value: try readDouble()))
        }
        return exemplars
    }

    fileprivate mutating func readLogDeletions() throws -> [LogDeletion] {
        let count = try readCount()
        var deletions: [LogDeletion] = []
        for _ in 0..<count {
            let requestID = try readString()
            let query = try readString()
            let createdAtMs = try readSignedVarint()
            let matchers = try readMatchers()
            var filters: [LogDeletion.LineFilter] = []
            for _ in 0..<(try readCount()) {
                let code = try readByte()
                guard let kind = LogDeletion.LineFilter.Kind(rawValue: code) else {
                    throw SightlineError(.dataCorrupted, "unknown line filter kind \(code) in a log deletion")
                }
                var values: [String] = []
                for _ in 0..<(try readCount()) { values.append(try readString()) }
                do {
                    filters.append(try LogDeletion.LineFilter(kind, values))
                } catch {
                    throw SightlineError(.dataCorrupted, "log deletion with a line filter that does not compile", cause: error)
                }
            }
            deletions.append(
                LogDeletion(
                    requestID: requestID, query: query, matchers: matchers, lineFilters: filters, startNano: try readVarint(),
                    endNano: try readVarint(), createdAtMs: createdAtMs))
        }
        return deletions
    }

    /// Label matchers as ``ByteWriter/writeMatchers(_:)`` wrote them, compiled again.
    private mutating func readMatchers() throws -> [LabelMatcher] {
        var matchers: [LabelMatcher] = []
        for _ in 0..<(try readCount()) {
            let code = try readByte()
            guard let kind = LabelMatcher.Kind.allCases.first(where: { ByteWriter.code(of: $0) == code }) else {
                throw SightlineError(.dataCorrupted, "unknown label matcher kind \(code) in a deletion")
            }
            let name = try readString()
            let value = try readString()
            do {
                matchers.append(try LabelMatcher(name, kind, value))
            } catch {
                throw SightlineError(.dataCorrupted, "deletion with a matcher that does not compile", cause: error)
            }
        }
        return matchers
    }
}

extension ByteWriter {
    fileprivate mutating func writeMetadata(_ metadata: [MetricMetadata]) {
        writeVarint(UInt64(metadata.count))
        for meta in metadata {
            writeString(meta.metricFamily)
            writeByte(meta.kind.rawValue)
            writeString(meta.help)
            writeString(meta.unit)
        }
    }

    fileprivate mutating func writeDeletions(_ deletions: [SeriesDeletion]) {
        writeVarint(UInt64(deletions.count))
        for deletion in deletions {
            writeMatchers(deletion.matchers)
            writeSignedVarint(deletion.startMs)
            writeSignedVarint(deletion.endMs)
        }
    }

    fileprivate mutating func writeExemplars(_ exemplars: [MetricExemplar]) {
        writeVarint(UInt64(exemplars.count))
        for exemplar in exemplars {
            writeLabels(exemplar.series)
            writeLabels(exemplar.labels)
            writeSignedVarint(exemplar.timestampMs)
            writeDouble(exemplar.value)
        }
    }

    fileprivate mutating func writeLogDeletions(_ deletions: [LogDeletion]) {
        writeVarint(UInt64(deletions.count))
        for deletion in deletions {
            writeString(deletion.requestID)
            writeString(deletion.query)
            writeSignedVarint(deletion.createdAtMs)
            writeMatchers(deletion.matchers)
            writeVarint(UInt64(deletion.lineFilters.count))
            for filter in deletion.lineFilters {
                writeByte(filter.kind.rawValue)
                writeVarint(UInt64(filter.values.count))
                for value in filter.values { writeString(value) }
            }
            writeVarint(deletion.startNano)
            writeVarint(deletion.endNano)
        }
    }

    private mutating func writeMatchers(_ matchers: [LabelMatcher]) {
        writeVarint(UInt64(matchers.count))
        for matcher in matchers {
            writeByte(Self.code(of: matcher.kind))
            writeString(matcher.name)
            writeString(matcher.value)
        }
    }

    /// A matcher kind's byte in the batch format (part of the format: never change one).
    fileprivate static func code(of kind: LabelMatcher.Kind) -> UInt8 {
        switch kind {
        case .equal: 0
        case .notEqual: 1
        case .regexMatch: 2
        case .regexNoMatch: 3
        }
    }
}

extension ByteWriter {
    fileprivate mutating func write(_ id: TraceID?) {
        guard let id else { return writeByte(0) }
        writeByte(1)
        writeUInt64LE(id.high)
        writeUInt64LE(id.low)
    }

    fileprivate mutating func write(_ id: SpanID?) {
        guard let id else { return writeByte(0) }
        writeByte(1)
        writeUInt64LE(id.value)
    }

    /// A log record but its stream labels (which the batch writes, see version 5), read in place.
    fileprivate mutating func write(logRecordAt record: UnsafePointer<LogRecord>) {
        writeVarint(record.pointee.timeUnixNano)
        writeVarint(record.pointee.observedTimeUnixNano)
        writeSignedVarint(Int64(record.pointee.severityNumber))
        writeString(record.pointee.severityText)
        writeAttributeValue(record.pointee.body)
        writeAttributes(record.pointee.attributes)
        writeVarint(UInt64(record.pointee.droppedAttributesCount))
        writeVarint(UInt64(record.pointee.flags))
        write(record.pointee.traceID)
        write(record.pointee.spanID)
        writeString(record.pointee.eventName)
        writeAttributes(record.pointee.resource)
        writeScope(record.pointee.scope)
    }

    fileprivate mutating func write(_ span: Span) {
        write(Optional(span.traceID))
        write(Optional(span.spanID))
        write(span.parentSpanID)
        writeString(span.traceState)
        writeVarint(UInt64(span.flags))
        writeString(span.name)
        writeSignedVarint(Int64(span.kind.rawValue))
        writeVarint(span.startTimeUnixNano)
        writeVarint(span.endTimeUnixNano)
        writeAttributes(span.attributes)
        writeVarint(UInt64(span.droppedAttributesCount))
        writeVarint(UInt64(span.events.count))
        for event in span.events {
            writeVarint(event.timeUnixNano)
            writeString(event.name)
            writeAttributes(event.attributes)
            writeVarint(UInt64(event.droppedAttributesCount))
        }
        writeVarint(UInt64(span.droppedEventsCount))
        writeVarint(UInt64(span.links.count))
        for link in span.links {
            write(Optional(link.traceID))
            write(Optional(link.spanID))
            writeString(link.traceState)
            writeAttributes(link.attributes)
            writeVarint(UInt64(link.droppedAttributesCount))
            writeVarint(UInt64(link.flags))
        }
        writeVarint(UInt64(span.droppedLinksCount))
        writeSignedVarint(Int64(span.statusCode.rawValue))
        writeString(span.statusMessage)
        writeAttributes(span.resource)
        writeScope(span.scope)
    }
}

extension ByteReader {
    fileprivate mutating func readTraceID() throws -> TraceID? {
        guard try readByte() == 1 else { return nil }
        return TraceID(high: try readUInt64LE(), low: try readUInt64LE())
    }

    fileprivate mutating func readSpanID() throws -> SpanID? {
        guard try readByte() == 1 else { return nil }
        return SpanID(try readUInt64LE())
    }

    private mutating func readUInt32Varint() throws -> UInt32 { UInt32(truncatingIfNeeded: try readVarint()) }
    private mutating func readInt32Varint() throws -> Int32 { Int32(truncatingIfNeeded: try readSignedVarint()) }

    fileprivate mutating func readLogRecord(version: UInt8) throws -> LogRecord {
        var record = LogRecord(
            timeUnixNano: try readVarint(), observedTimeUnixNano: try readVarint(), severityNumber: try readInt32Varint(),
            severityText: try readString(), body: try readAttributeValue(), attributes: try readAttributes(),
            droppedAttributesCount: try readUInt32Varint(), flags: try readUInt32Varint(), traceID: try readTraceID(),
            spanID: try readSpanID(), eventName: try readString(), resource: try readAttributes(), scope: try readScope()
        )
        // Version 5 batches write the labels themselves, per run of records.
        if (2...4).contains(version) { record.stream = try readLabels() }
        return record
    }

    fileprivate mutating func readSpan() throws -> Span {
        guard let traceID = try readTraceID(), let spanID = try readSpanID() else {
            throw SightlineError(.dataCorrupted, "span without trace or span id")
        }
        let parent = try readSpanID()
        let traceState = try readString()
        let flags = try readUInt32Varint()
        let name = try readString()
        let kind = Span.Kind(rawValue: try readInt32Varint()) ?? .unspecified
        let start = try readVarint()
        let end = try readVarint()
        let attributes = try readAttributes()
        let droppedAttributes = try readUInt32Varint()
        var events: [Span.Event] = []
        for _ in 0..<(try readCount()) {
            events.append(
                Span.Event(timeUnixNano: try readVarint(), name: try readString(), attributes: try readAttributes(), droppedAttributesCount: try readUInt32Varint())
            )
        }
        let droppedEvents = try readUInt32Varint()
        var links: [Span.Link] = []
        for _ in 0..<(try readCount()) {
            guard let linkTrace = try readTraceID(), let linkSpan = try readSpanID() else {
                throw SightlineError(.dataCorrupted, "span link without trace or span id")
            }
            links.append(
                Span.Link(
                    traceID: linkTrace, spanID: linkSpan, traceState: try readString(), attributes: try readAttributes(),
                    droppedAttributesCount: try readUInt32Varint(), flags: try readUInt32Varint()
                )
            )
        }
        let droppedLinks = try readUInt32Varint()
        let status = Span.StatusCode(rawValue: try readInt32Varint()) ?? .unset
        return Span(
            traceID: traceID, spanID: spanID, parentSpanID: parent, traceState: traceState, flags: flags, name: name, kind: kind,
            startTimeUnixNano: start, endTimeUnixNano: end, attributes: attributes, droppedAttributesCount: droppedAttributes,
            events: events, droppedEventsCount: droppedEvents, links: links, droppedLinksCount: droppedLinks, statusCode: status,
            statusMessage: try readString(), resource: try readAttributes(), scope: try readScope()
        )
    }
}

extension ByteWriter {
    /// Writes `bytes` as the length of the prefix they share with `previous` and the rest, length-prefixed.
    fileprivate mutating func writeFrontCoded(_ bytes: UnsafeRawBufferPointer, after previous: UnsafeRawBufferPointer) {
        let shared = commonPrefixLength(bytes, previous)
        writeVarint(UInt64(shared))
        writeBytes(UnsafeRawBufferPointer(rebasing: bytes[shared...]))
    }
}

extension ByteReader {
    /// Reads what ``ByteWriter/writeFrontCoded(_:after:)`` wrote into `bytes`, which holds the previous value.
    /// Returns false when the value is the previous one unchanged.
    fileprivate mutating func readFrontCoded(into bytes: inout [UInt8]) throws -> Bool {
        let shared = try readVarint()
        guard shared <= UInt64(bytes.count) else {
            throw SightlineError(.dataCorrupted, "front-coded value shares \(shared) bytes with a previous value of \(bytes.count)")
        }
        let rest = try readBytes()
        if Int(shared) == bytes.count && rest.isEmpty && !bytes.isEmpty { return false }
        bytes.removeSubrange(Int(shared)...)
        bytes.append(contentsOf: rest)
        return true
    }
}
