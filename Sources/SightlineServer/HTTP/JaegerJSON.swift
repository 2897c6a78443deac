package import SightlineCore

/// Writes the JSON of Jaeger's HTTP query API (`/api/traces`, `/api/services`, `/api/operations`,
/// `/api/dependencies`), what the Jaeger UI and Grafana's Jaeger data source read.
///
/// Every response is the same envelope: `{"data":…,"total":n,"limit":0,"offset":0,"errors":null}`.
///
/// OpenTelemetry spans are shown the way Jaeger shows OTLP spans:
/// - attributes become typed tags (`string`, `bool`, `int64`, `float64`, `binary` as base64; arrays and maps as a JSON
///   string);
/// - the scope adds `otel.scope.name` and `otel.scope.version`; the kind `span.kind`; the status `otel.status_code`
///   (`OK`/`ERROR`), `error=true` (bool) and `otel.status_description`; a trace state `w3c.tracestate`;
/// - the parent becomes a `CHILD_OF` reference, links `FOLLOWS_FROM` references; events become logs whose first field
///   is `event` (the name);
/// - the resource becomes a process (`serviceName` from `service.name`, other attributes as tags), one per distinct
///   resource in the trace, keyed `p1`, `p2`, … in order of first use.
///
/// Pure functions over values: no HTTP types, so it is tested without a server.
package enum JaegerJSON {
    /// `{"data":[trace, …],…}` for traces, each a list of spans of one trace.
    package static func traces(_ traces: [[Span]]) -> String {
        var out = "{\"data\":["
        for (index, spans) in traces.enumerated() {
            if index > 0 { out += "," }
            appendTrace(spans, to: &out)
        }
        out += "],"
        appendEnvelopeTail(total: traces.count, to: &out)
        return out
    }

    /// `{"data":["a","b"],…}`: the services, or the operation names of the legacy `/api/services/{service}/operations`.
    package static func strings(_ values: [String]) -> String {
        var out = "{\"data\":["
        for (index, value) in values.enumerated() {
            if index > 0 { out += "," }
            JSONText.appendString(value, to: &out)
        }
        out += "],"
        appendEnvelopeTail(total: values.count, to: &out)
        return out
    }

    /// `{"data":[{"name":"GET /","spanKind":"server"},…],…}` for `/api/operations`; an unspecified kind is `""`.
    package static func operations(_ operations: [TraceOperation]) -> String {
        var out = "{\"data\":["
        for (index, operation) in operations.enumerated() {
            if index > 0 { out += "," }
            out += "{\"name\":"
            JSONText.appendString(operation.name, to: &out)
            out += ",\"spanKind\":"
            JSONText.appendString(operation.kind.jaegerName ?? "", to: &out)
            out += "}"
        }
        out += "],"
        appendEnvelopeTail(total: operations.count, to: &out)
        return out
    }

    /// `{"data":[{"parent":"a","child":"b","callCount":3},…],…}` for `/api/dependencies`.
    package static func dependencies(_ links: [DependencyLink]) -> String {
        var out = "{\"data\":["
        for (index, link) in links.enumerated() {
            if index > 0 { out += "," }
            out += "{\"parent\":"
            JSONText.appendString(link.parent, to: &out)
            out += ",\"child\":"
            JSONText.appendString(link.child, to: &out)
            out += ",\"callCount\":\(link.callCount)}"
        }
        out += "],"
        appendEnvelopeTail(total: links.count, to: &out)
        return out
    }

    /// `{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":400,"msg":"…"}]}`, as Jaeger reports failures.
    /// - Parameters:
    ///   - code: The HTTP status code, repeated in the body.
    ///   - message: What went wrong, for the user.
    package static func error(code: Int, message: String) -> String {
        var out = "{\"data\":null,\"total\":0,\"limit\":0,\"offset\":0,\"errors\":[{\"code\":\(code),\"msg\":"
        JSONText.appendString(message, to: &out)
        out += "}]}"
        return out
    }

    /// The trace id as Jaeger writes it: 16 hex digits when the high half is zero, else 32.
    package static func traceID(_ id: TraceID) -> String {
        id.high == 0 ? SpanID(id.low).description : id.description
    }

    /// Parses a trace id as the Jaeger API accepts it: 1 to 32 hex digits, left-padded with zeros.
    package static func parseTraceID(_ text: some StringProtocol) -> TraceID? {
        let count = text.utf8.count
        guard (1...32).contains(count) else { return nil }
        return TraceID(hex: String(repeating: "0", count: 32 - count) + text)
    }

    private static func appendEnvelopeTail(total: Int, to out: inout String) {
        out += "\"total\":\(total),\"limit\":0,\"offset\":0,\"errors\":null}"
    }

    /// One trace object: `{"traceID":…,"spans":[…],"processes":{…},"warnings":null}`.
    private static func appendTrace(_ spans: [Span], to out: inout String) {
        var processes: [[Attribute]] = []
        var processIndex: [[Attribute]: Int] = [:]
        out += "{\"traceID\":"
        JSONText.appendString(spans.first.map { traceID($0.traceID) } ?? "", to: &out)
        out += ",\"spans\":["
        for (index, span) in spans.enumerated() {
            if index > 0 { out += "," }
            let process: Int
            if let known = processIndex[span.resource] {
                process = known
            } else {
                process = processes.count
                processes.append(span.resource)
                processIndex[span.resource] = process
            }
            appendSpan(span, processID: "p\(process + 1)", to: &out)
        }
        out += "],\"processes\":{"
        for (index, resource) in processes.enumerated() {
            if index > 0 { out += "," }
            out += "\"p\(index + 1)\":{\"serviceName\":"
            let service = resource[key: "service.name"]?.text ?? Span.unknownService
            JSONText.appendString(service, to: &out)
            out += ",\"tags\":["
            var first = true
            for attribute in resource where attribute.key != "service.name" {
                if !first { out += "," }
                first = false
                appendTag(attribute.key, attribute.value, to: &out)
            }
            out += "]}"
        }
        out += "},\"warnings\":null}"
    }

    private static func appendSpan(_ span: Span, processID: String, to out: inout String) {
        out += "{\"traceID\":"
        JSONText.appendString(traceID(span.traceID), to: &out)
        out += ",\"spanID\":"
        JSONText.appendString(span.spanID.description, to: &out)
        out += ",\"flags\":\(span.flags),\"operationName\":"
        JSONText.appendString(span.name, to: &out)
        out += ",\"references\":["
        var first = true
        if let parent = span.parentSpanID, !parent.isZero {
            appendReference("CHILD_OF", trace: span.traceID, span: parent, to: &out)
            first = false
        }
        for link in span.links {
            if !first { out += "," }
            first = false
            appendReference("FOLLOWS_FROM", trace: link.traceID, span: link.spanID, to: &out)
        }
        out += "],\"startTime\":\(span.startTimeUnixNano / 1000),\"duration\":\(span.durationNano / 1000),\"tags\":["
        first = true
        func tag(_ key: String, _ value: AttributeValue) {
            if !first { out += "," }
            first = false
            appendTag(key, value, to: &out)
        }
        if !span.scope.name.isEmpty { tag("otel.scope.name", .string(span.scope.name)) }
        if !span.scope.version.isEmpty { tag("otel.scope.version", .string(span.scope.version)) }
        for attribute in span.attributes { tag(attribute.key, attribute.value) }
        if let kind = span.kind.jaegerName { tag("span.kind", .string(kind)) }
        if let status = span.statusCode.jaegerName { tag("otel.status_code", .string(status)) }
        if span.statusCode == .error {
            tag("error", .bool(true))
            if !span.statusMessage.isEmpty { tag("otel.status_description", .string(span.statusMessage)) }
        }
        if !span.traceState.isEmpty { tag("w3c.tracestate", .string(span.traceState)) }
        out += "],\"logs\":["
        for (index, event) in span.events.enumerated() {
            if index > 0 { out += "," }
            out += "{\"timestamp\":\(event.timeUnixNano / 1000),\"fields\":["
            appendTag("event", .string(event.name), to: &out)
            for attribute in event.attributes {
                out += ","
                appendTag(attribute.key, attribute.value, to: &out)
            }
            out += "]}"
        }
        out += "],\"processID\":\"\(processID)\",\"warnings\":null}"
    }

    private static func appendReference(_ type: String, trace: TraceID, span: SpanID, to out: inout String) {
        out += "{\"refType\":\"\(type)\",\"traceID\":"
        JSONText.appendString(traceID(trace), to: &out)
        out += ",\"spanID\":"
        JSONText.appendString(span.description, to: &out)
        out += "}"
    }

    /// `{"key":…,"type":…,"value":…}` with Jaeger's value types.
    private static func appendTag(_ key: String, _ value: AttributeValue, to out: inout String) {
        out += "{\"key\":"
        JSONText.appendString(key, to: &out)
        switch value {
        case .bool(let flag): out += ",\"type\":\"bool\",\"value\":\(flag ? "true" : "false")}"
        case .int(let number): out += ",\"type\":\"int64\",\"value\":\(number)}"
        case .double(let number):
            out += ",\"type\":\"float64\",\"value\":"
            out += number.isFinite ? "\(number)" : JSONText.quoted(value.text)
            out += "}"
        case .bytes(let bytes):
            out += ",\"type\":\"binary\",\"value\":"
            JSONText.appendString(Base64.encode(bytes), to: &out)
            out += "}"
        case .string, .empty, .array, .keyValueList:
            out += ",\"type\":\"string\",\"value\":"
            JSONText.appendString(value.text, to: &out)
            out += "}"
        }
    }
}
