/// The binary form of a ``TenantBatch``: how the WAL and the interim record store keep batches.
///
/// Layout: a format version byte, the signal byte, the tenant, then the records of that signal. Version 2 added the
/// stream labels of log records; version 1 batches still decode (with empty stream labels). Version 3 front-codes
/// the labels of metric samples: a sample writes how many bytes of its label encoding (count, then names and values)
/// it shares with the previous sample's, then the rest, which cuts the record to a third on typical series (they come
/// grouped by metric and target) and with it the checksum and write work of the WAL. Integers are varints, doubles
/// and ids fixed-width little-endian; strings and byte arrays are length-prefixed.
extension TenantBatch {
    private static let formatVersion: UInt8 = 3

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
        w.writeByte(Self.formatVersion)
        w.writeByte(batch.signal.rawValue)
        w.writeString(tenant.id)
        switch batch {
        case .logs(let records):
            w.writeVarint(UInt64(records.count))
            for record in records { w.write(record) }
        case .metrics(let metrics):
            w.writeVarint(UInt64(metrics.samples.count))
            // The labels of series the store holds were encoded once, when it created them; the batch keeps the
            // handles alive, so they are read unretained (a retain per sample was a contended atomic).
            let handles = metrics.resolvedHandles ?? []
            var previousHandle: Unmanaged<SeriesHandle>?
            var previousWritten: [UInt8] = []
            func withPrevious(_ body: (UnsafeRawBufferPointer) -> Void) {
                if let previousHandle {
                    previousHandle._withUnsafeGuaranteedRef { $0.encodedLabels.withUnsafeBytes(body) }
                } else {
                    previousWritten.withUnsafeBytes(body)
                }
            }
            metrics.samples.withUnsafeBufferPointer { samples in
                handles.withUnsafeBufferPointer { handles in
                    for index in samples.indices {
                        if let handle = handles.isEmpty ? nil : handles[index].map(Unmanaged.passUnretained) {
                            handle._withUnsafeGuaranteedRef { handle in
                                handle.encodedLabels.withUnsafeBytes { labels in withPrevious { w.writeFrontCoded(labels, after: $0) } }
                            }
                            previousHandle = handle
                        } else {
                            var scratch = ByteWriter(capacity: 256)
                            scratch.writeLabels(samples[index].labels)
                            scratch.bytes.withUnsafeBytes { labels in withPrevious { w.writeFrontCoded(labels, after: $0) } }
                            previousWritten = scratch.bytes
                            previousHandle = nil
                        }
                        w.writeSignedVarint(samples[index].timestampMs)
                        w.writeDouble(samples[index].value)
                    }
                }
            }
            w.writeVarint(UInt64(metrics.metadata.count))
            for meta in metrics.metadata {
                w.writeString(meta.metricFamily)
                w.writeByte(meta.kind.rawValue)
                w.writeString(meta.help)
                w.writeString(meta.unit)
            }
        case .traces(let spans):
            w.writeVarint(UInt64(spans.count))
            for span in spans { w.write(span) }
        }
    }

    /// Decodes what ``encoded()`` wrote.
    /// - Throws: `dataCorrupted` when the bytes are not a complete batch of a known version.
    package init(decoding bytes: UnsafeRawBufferPointer) throws {
        var r = ByteReader(bytes)
        let version = try r.readByte()
        guard (1...Self.formatVersion).contains(version) else {
            throw SightlineError(.dataCorrupted, "unknown batch format version \(version)")
        }
        let signalByte = try r.readByte()
        guard let signal = Signal(rawValue: signalByte) else { throw SightlineError(.dataCorrupted, "unknown signal \(signalByte)") }
        let tenant = Tenant(uncheckedID: try r.readString())
        switch signal {
        case .logs:
            let count = try r.readCount()
            var records: [LogRecord] = []
            records.reserveCapacity(count)
            for _ in 0..<count { records.append(try r.readLogRecord(version: version)) }
            self.init(tenant: tenant, batch: .logs(records))
        case .metrics:
            let count = try r.readCount()
            var samples: [MetricSample] = []
            samples.reserveCapacity(count)
            if version >= 3 {
                var previousBytes: [UInt8] = []
                var previous = Labels([])
                for _ in 0..<count {
                    if try r.readFrontCoded(into: &previousBytes) {
                        previous = try previousBytes.withUnsafeBytes { bytes in
                            var labels = ByteReader(bytes)
                            let decoded = try labels.readLabels()
                            guard labels.isAtEnd else { throw SightlineError(.dataCorrupted, "metric sample labels end early") }
                            return decoded
                        }
                    }
                    samples.append(MetricSample(labels: previous, timestampMs: try r.readSignedVarint(), value: try r.readDouble()))
                }
            } else {
                for _ in 0..<count {
                    samples.append(MetricSample(labels: try r.readLabels(), timestampMs: try r.readSignedVarint(), value: try r.readDouble()))
                }
            }
            let metaCount = try r.readCount()
            var metadata: [MetricMetadata] = []
            for _ in 0..<metaCount {
                let family = try r.readString()
                let kind = MetricMetadata.Kind(rawValue: try r.readByte()) ?? .unknown
                metadata.append(MetricMetadata(metricFamily: family, kind: kind, help: try r.readString(), unit: try r.readString()))
            }
            self.init(tenant: tenant, batch: .metrics(MetricBatch(samples: samples, metadata: metadata)))
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

    fileprivate mutating func write(_ record: LogRecord) {
        writeVarint(record.timeUnixNano)
        writeVarint(record.observedTimeUnixNano)
        writeSignedVarint(Int64(record.severityNumber))
        writeString(record.severityText)
        writeAttributeValue(record.body)
        writeAttributes(record.attributes)
        writeVarint(UInt64(record.droppedAttributesCount))
        writeVarint(UInt64(record.flags))
        write(record.traceID)
        write(record.spanID)
        writeString(record.eventName)
        writeAttributes(record.resource)
        writeScope(record.scope)
        writeLabels(record.stream)
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
        if version >= 2 { record.stream = try readLabels() }
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

/// How many leading bytes `a` and `b` have in common, compared eight at a time.
private func commonPrefixLength(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let count = min(a.count, b.count)
    guard count > 0, let x = a.baseAddress, let y = b.baseAddress else { return 0 }
    var i = 0
    while i + 8 <= count {
        let difference = x.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ y.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        if difference != 0 { return i + UInt64(littleEndian: difference).trailingZeroBitCount / 8 }
        i += 8
    }
    while i < count && x.load(fromByteOffset: i, as: UInt8.self) == y.load(fromByteOffset: i, as: UInt8.self) { i += 1 }
    return i
}
