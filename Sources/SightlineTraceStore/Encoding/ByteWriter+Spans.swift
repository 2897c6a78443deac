import SightlineCore

/// Binary forms of the span fields a part keeps in its detail column and dictionaries: attributes, events, links,
/// scopes. The layout is the trace store's own (documented in ``PartFormat``), so it may evolve with its version byte.
extension ByteWriter {
    /// The fields of a span that have no column of their own.
    mutating func writeSpanDetails(_ span: Span) {
        writeString(span.traceState)
        writeVarint(UInt64(span.flags))
        writeString(span.statusMessage)
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
            writeUInt64LE(link.traceID.high)
            writeUInt64LE(link.traceID.low)
            writeUInt64LE(link.spanID.value)
            writeString(link.traceState)
            writeAttributes(link.attributes)
            writeVarint(UInt64(link.droppedAttributesCount))
            writeVarint(UInt64(link.flags))
        }
        writeVarint(UInt64(span.droppedLinksCount))
    }
}

/// The detail fields ``ByteWriter/writeSpanDetails(_:)`` writes, read back.
struct SpanDetails {
    var traceState: String
    var flags: UInt32
    var statusMessage: String
    var attributes: [Attribute]
    var droppedAttributesCount: UInt32
    var events: [Span.Event]
    var droppedEventsCount: UInt32
    var links: [Span.Link]
    var droppedLinksCount: UInt32
}

extension ByteReader {
    mutating func readUInt32Varint() throws -> UInt32 {
        let value = try readVarint()
        guard value <= UInt64(UInt32.max) else { throw SightlineError(.dataCorrupted, "count \(value) does not fit 32 bits") }
        return UInt32(value)
    }

    mutating func readSpanDetails() throws -> SpanDetails {
        let traceState = try readString()
        let flags = try readUInt32Varint()
        let statusMessage = try readString()
        let attributes = try readAttributes()
        let droppedAttributes = try readUInt32Varint()
        let eventCount = try readCount()
        var events: [Span.Event] = []
        events.reserveCapacity(eventCount)
        for _ in 0..<eventCount {
            events.append(
                Span.Event(
                    timeUnixNano: try readVarint(), name: try readString(), attributes: try readAttributes(),
                    droppedAttributesCount: try readUInt32Varint()))
        }
        let droppedEvents = try readUInt32Varint()
        let linkCount = try readCount()
        var links: [Span.Link] = []
        links.reserveCapacity(linkCount)
        for _ in 0..<linkCount {
            let trace = TraceID(high: try readUInt64LE(), low: try readUInt64LE())
            let span = SpanID(try readUInt64LE())
            links.append(
                Span.Link(
                    traceID: trace, spanID: span, traceState: try readString(), attributes: try readAttributes(),
                    droppedAttributesCount: try readUInt32Varint(), flags: try readUInt32Varint()))
        }
        let droppedLinks = try readUInt32Varint()
        return SpanDetails(
            traceState: traceState, flags: flags, statusMessage: statusMessage, attributes: attributes,
            droppedAttributesCount: droppedAttributes, events: events, droppedEventsCount: droppedEvents, links: links,
            droppedLinksCount: droppedLinks)
    }
}
