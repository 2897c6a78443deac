import SightlineCore

/// Renders records as the JSON of the debug records endpoint: OTLP/JSON field names, ids in hex, 64-bit times as
/// decimal strings, attributes as plain JSON objects.
enum RecordJSON {
    static func append(_ record: LogRecord, to out: inout String) {
        out += "{\"timeUnixNano\":\"\(record.timeUnixNano)\",\"observedTimeUnixNano\":\"\(record.observedTimeUnixNano)\""
        out += ",\"severityNumber\":\(record.severityNumber),\"severityText\":"
        JSONText.appendString(record.severityText, to: &out)
        out += ",\"body\":"
        JSONText.append(record.body, to: &out)
        out += ",\"attributes\":"
        JSONText.appendObject(record.attributes, to: &out)
        out += ",\"resource\":"
        JSONText.appendObject(record.resource, to: &out)
        out += ",\"scope\":"
        appendScope(record.scope, to: &out)
        if let traceID = record.traceID { out += ",\"traceId\":\"\(traceID)\"" }
        if let spanID = record.spanID { out += ",\"spanId\":\"\(spanID)\"" }
        out += ",\"eventName\":"
        JSONText.appendString(record.eventName, to: &out)
        if !record.stream.labels.isEmpty {
            out += ",\"stream\":"
            JSONText.appendLabels(record.stream, to: &out)
        }
        out += "}"
    }

    static func append(_ span: Span, to out: inout String) {
        out += "{\"traceId\":\"\(span.traceID)\",\"spanId\":\"\(span.spanID)\""
        if let parent = span.parentSpanID { out += ",\"parentSpanId\":\"\(parent)\"" }
        out += ",\"name\":"
        JSONText.appendString(span.name, to: &out)
        out += ",\"kind\":\(span.kind.rawValue),\"startTimeUnixNano\":\"\(span.startTimeUnixNano)\",\"endTimeUnixNano\":\"\(span.endTimeUnixNano)\""
        out += ",\"attributes\":"
        JSONText.appendObject(span.attributes, to: &out)
        out += ",\"resource\":"
        JSONText.appendObject(span.resource, to: &out)
        out += ",\"scope\":"
        appendScope(span.scope, to: &out)
        out += ",\"status\":{\"code\":\(span.statusCode.rawValue),\"message\":"
        JSONText.appendString(span.statusMessage, to: &out)
        out += "},\"events\":["
        for (index, event) in span.events.enumerated() {
            if index > 0 { out += "," }
            out += "{\"timeUnixNano\":\"\(event.timeUnixNano)\",\"name\":"
            JSONText.appendString(event.name, to: &out)
            out += ",\"attributes\":"
            JSONText.appendObject(event.attributes, to: &out)
            out += "}"
        }
        out += "],\"links\":["
        for (index, link) in span.links.enumerated() {
            if index > 0 { out += "," }
            out += "{\"traceId\":\"\(link.traceID)\",\"spanId\":\"\(link.spanID)\",\"attributes\":"
            JSONText.appendObject(link.attributes, to: &out)
            out += "}"
        }
        out += "]}"
    }

    /// One sample: `{"labels":{…},"timestampMs":…,"value":…}`.
    static func appendSample(labels: Labels, timestampMs: Int64, value: Double, to out: inout String) {
        out += "{\"labels\":"
        JSONText.appendLabels(labels, to: &out)
        out += ",\"timestampMs\":\(timestampMs),\"value\":\(JSONText.number(value))}"
    }

    private static func appendScope(_ scope: InstrumentationScope, to out: inout String) {
        out += "{\"name\":"
        JSONText.appendString(scope.name, to: &out)
        out += ",\"version\":"
        JSONText.appendString(scope.version, to: &out)
        out += "}"
    }
}
