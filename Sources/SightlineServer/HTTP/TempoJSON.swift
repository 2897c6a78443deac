import SightlineCore
import SightlineIngest
import SightlineQuery

/// The JSON of Tempo's API: search hits, and traces in OTLP/JSON (ids in hex, 64-bit numbers as strings, enums as
/// numbers, as the OTLP/JSON encoding has them).
enum TempoJSON {
    static func strings(_ values: [String]) -> String {
        "[" + values.map(JSONText.quoted).joined(separator: ",") + "]"
    }

    /// One trace of `/api/search`: its summary and up to `spansPerSet` of the matched spans, with the attributes the
    /// query read (`shown`) that each span has.
    static func appendSearchHit(
        id: TraceID, summary: TraceSummary, matched: [Span], spansPerSet: Int, to out: inout String, shown: (Span) -> [Attribute]
    ) {
        out += "{\"traceID\":" + JSONText.quoted(id.description)
        out += ",\"rootServiceName\":" + JSONText.quoted(summary.rootService)
        out += ",\"rootTraceName\":" + JSONText.quoted(summary.rootName)
        out += ",\"startTimeUnixNano\":\"\(summary.startNano)\""
        out += ",\"durationMs\":\(summary.durationNano / 1_000_000)"
        var set = "{\"spans\":["
        for (index, span) in matched.prefix(spansPerSet).enumerated() {
            if index > 0 { set += "," }
            set += "{\"spanID\":" + JSONText.quoted(span.spanID.description) + ",\"name\":" + JSONText.quoted(span.name)
            set += ",\"startTimeUnixNano\":\"\(span.startTimeUnixNano)\",\"durationNanos\":\"\(span.durationNano)\""
            let attributes = shown(span)
            if !attributes.isEmpty {
                set += ",\"attributes\":"
                appendAttributes(attributes, to: &set)
            }
            set += "}"
        }
        set += "],\"matched\":\(matched.count)}"
        out += ",\"spanSet\":" + set + ",\"spanSets\":[" + set + "]}"
    }

    /// A trace as OTLP/JSON: `{"resourceSpans": […]}`, spans grouped by resource and scope in order of appearance.
    static func appendTrace(_ spans: [Span], to out: inout String) {
        out += "{\"resourceSpans\":["
        for (r, group) in OTLPEncoder.groups(of: spans).enumerated() {
            if r > 0 { out += "," }
            out += "{\"resource\":{\"attributes\":"
            appendAttributes(group.resource, to: &out)
            out += "},\"scopeSpans\":["
            for (s, scopeGroup) in group.scopes.enumerated() {
                if s > 0 { out += "," }
                let scope = scopeGroup.scope
                out += "{\"scope\":{\"name\":" + JSONText.quoted(scope.name) + ",\"version\":" + JSONText.quoted(scope.version) + "},\"spans\":["
                for (position, index) in scopeGroup.items.enumerated() {
                    if position > 0 { out += "," }
                    appendSpan(spans[index], to: &out)
                }
                out += "]}"
            }
            out += "]}"
        }
        out += "]}"
    }

    private static func appendSpan(_ span: Span, to out: inout String) {
        out += "{\"traceId\":" + JSONText.quoted(span.traceID.description) + ",\"spanId\":" + JSONText.quoted(span.spanID.description)
        if let parent = span.parentSpanID, !parent.isZero { out += ",\"parentSpanId\":" + JSONText.quoted(parent.description) }
        if !span.traceState.isEmpty { out += ",\"traceState\":" + JSONText.quoted(span.traceState) }
        out += ",\"name\":" + JSONText.quoted(span.name) + ",\"kind\":\(span.kind.rawValue)"
        out += ",\"startTimeUnixNano\":\"\(span.startTimeUnixNano)\",\"endTimeUnixNano\":\"\(span.endTimeUnixNano)\",\"attributes\":"
        appendAttributes(span.attributes, to: &out)
        if !span.events.isEmpty {
            out += ",\"events\":["
            for (index, event) in span.events.enumerated() {
                if index > 0 { out += "," }
                out += "{\"timeUnixNano\":\"\(event.timeUnixNano)\",\"name\":" + JSONText.quoted(event.name) + ",\"attributes\":"
                appendAttributes(event.attributes, to: &out)
                out += "}"
            }
            out += "]"
        }
        if !span.links.isEmpty {
            out += ",\"links\":["
            for (index, link) in span.links.enumerated() {
                if index > 0 { out += "," }
                out += "{\"traceId\":" + JSONText.quoted(link.traceID.description) + ",\"spanId\":" + JSONText.quoted(link.spanID.description)
                out += ",\"attributes\":"
                appendAttributes(link.attributes, to: &out)
                out += "}"
            }
            out += "]"
        }
        out += ",\"status\":{"
        if span.statusCode != .unset { out += "\"code\":\(span.statusCode.rawValue)" }
        if !span.statusMessage.isEmpty { out += (span.statusCode != .unset ? "," : "") + "\"message\":" + JSONText.quoted(span.statusMessage) }
        out += "}}"
    }

    static func appendAttributes(_ attributes: [Attribute], to out: inout String) {
        out += "["
        for (index, attribute) in attributes.enumerated() {
            if index > 0 { out += "," }
            out += "{\"key\":" + JSONText.quoted(attribute.key) + ",\"value\":"
            appendValue(attribute.value, to: &out)
            out += "}"
        }
        out += "]"
    }

    /// OTLP/JSON's `AnyValue`.
    static func appendValue(_ value: AttributeValue, to out: inout String) {
        switch value {
        case .empty: out += "{}"
        case .string(let text): out += "{\"stringValue\":" + JSONText.quoted(text) + "}"
        case .bool(let flag): out += "{\"boolValue\":\(flag)}"
        case .int(let number): out += "{\"intValue\":\"\(number)\"}"
        case .double(let number):
            out += "{\"doubleValue\":"
            out += number.isFinite ? "\(number)" : JSONText.quoted(number.isNaN ? "NaN" : (number < 0 ? "-Infinity" : "Infinity"))
            out += "}"
        case .bytes(let bytes): out += "{\"bytesValue\":" + JSONText.quoted(Base64.encode(bytes)) + "}"
        case .array(let values):
            out += "{\"arrayValue\":{\"values\":["
            for (index, item) in values.enumerated() {
                if index > 0 { out += "," }
                appendValue(item, to: &out)
            }
            out += "]}}"
        case .keyValueList(let attributes):
            out += "{\"kvlistValue\":{\"values\":"
            appendAttributes(attributes, to: &out)
            out += "}}"
        }
    }
}
