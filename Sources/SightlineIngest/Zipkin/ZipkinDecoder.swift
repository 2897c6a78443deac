package import SightlineCore

/// Decodes Zipkin v2 JSON (`POST /api/v2/spans`, a JSON array of spans) into OpenTelemetry spans.
///
/// The mapping follows the OpenTelemetry collector's Zipkin receiver:
/// - `traceId` (16 or 32 hex digits; 16 fill the low half), `id`, `parentId` (1–16 hex digits, left-padded; a parent
///   equal to the span's own id is dropped), `name`;
/// - `kind` `CLIENT`/`SERVER`/`PRODUCER`/`CONSUMER` → the span kind; absent → unspecified, or internal when the tag
///   `span.kind` is `internal`;
/// - `timestamp` and `duration` in microseconds → start and end in nanoseconds; an absent timestamp starts the span at
///   0 and adds the attribute `otel.zipkin.absentField.startTime=true`;
/// - `localEndpoint.serviceName` → the resource attribute `service.name` (absent: no resource attribute);
///   `localEndpoint.ipv4`/`ipv6` → `net.host.ip`, `port` → `net.host.port`;
/// - `remoteEndpoint.serviceName` → `peer.service`, `ipv4`/`ipv6` → `net.peer.ip`, `port` → `net.peer.port`;
/// - `tags` → string attributes, except: `error` sets the status to error (a value other than `true` or empty is the
///   status message); `otel.status_code` (`OK`/`ERROR`, or `STATUS_CODE_*`) and `otel.status_description` set the status;
///   `otel.scope.name`/`otel.library.name` and their `.version` set the instrumentation scope; `w3c.tracestate` sets
///   the trace state;
/// - `annotations` → events (`value` the name, `timestamp` in microseconds);
/// - `debug` and `shared` are read and checked but not kept, as the collector does.
///
/// A malformed body or span throws, naming the field: Zipkin refuses the whole request too.
package enum ZipkinDecoder {
    /// Decodes a JSON array of Zipkin v2 spans.
    /// - Throws: ``SightlineError`` `.invalidArgument`, e.g.
    ///   `malformed Zipkin v2 JSON at spans[3].traceId: expected 16 or 32 hex digits, got "xyz"`.
    package static func decode(json: UnsafeRawBufferPointer) throws -> DecodedBatch {
        let document = try JSONParser.parse(json)
        var spans: [Span] = []
        do {
            guard let array = document.arrayValue else { throw FieldPathError("the body must be a JSON array of spans, not \(document.typeName)") }
            spans.reserveCapacity(array.count)
            for (index, value) in array.enumerated() {
                try withFieldPath("spans[\(index)]") { spans.append(try span(value)) }
            }
        } catch let error as FieldPathError {
            throw SightlineError(.invalidArgument, "malformed Zipkin v2 JSON\(error.path.isEmpty ? "" : " at \(error.path)"): \(error.reason)")
        }
        return DecodedBatch(.traces(spans))
    }

    /// Decodes a JSON body held in a byte array.
    package static func decode(json: [UInt8]) throws -> DecodedBatch {
        try json.withUnsafeBytes { try decode(json: $0) }
    }

    private static func span(_ value: JSONValue) throws -> Span {
        guard let object = value.objectValue else { throw FieldPathError("a span must be an object, not \(value.typeName)") }
        let traceID = try withFieldPath(".traceId") { try traceIdentifier(object["traceId"]) }
        let spanID = try withFieldPath(".id") { try spanIdentifier(object["id"]) }
        guard let spanID else { throw FieldPathError("missing id").at(".id") }
        var parentID = try withFieldPath(".parentId") { try spanIdentifier(object["parentId"]) }
        if parentID == spanID { parentID = nil }
        let name = try withFieldPath(".name") { try optionalString(object["name"]) } ?? ""
        let timestamp = try withFieldPath(".timestamp") { try microseconds(object["timestamp"]) }
        let duration = try withFieldPath(".duration") { try microseconds(object["duration"]) } ?? 0
        var tags = try withFieldPath(".tags") { try self.tags(object["tags"]) }
        let kind = try withFieldPath(".kind") { try self.kind(object["kind"], tags: &tags) }
        let local = try withFieldPath(".localEndpoint") { try endpoint(object["localEndpoint"]) }
        let remote = try withFieldPath(".remoteEndpoint") { try endpoint(object["remoteEndpoint"]) }
        for flag in ["debug", "shared"] {
            try withFieldPath(".\(flag)") {
                guard let value = object[flag], value != .null else { return }
                guard case .bool = value else { throw FieldPathError("expected true or false, not \(value.typeName)") }
            }
        }
        var events: [Span.Event] = []
        if let annotations = object["annotations"], annotations != .null {
            guard let array = annotations.arrayValue else { throw FieldPathError("expected an array, not \(annotations.typeName)").at(".annotations") }
            for (index, annotation) in array.enumerated() {
                try withFieldPath(".annotations[\(index)]") { events.append(try event(annotation)) }
            }
        }

        let startNano = (timestamp ?? 0).multipliedReportingOverflow(by: 1000)
        let durationNano = duration.multipliedReportingOverflow(by: 1000)
        guard !startNano.overflow else { throw FieldPathError("\(timestamp ?? 0) µs is out of range").at(".timestamp") }
        guard !durationNano.overflow, !startNano.partialValue.addingReportingOverflow(durationNano.partialValue).overflow else {
            throw FieldPathError("\(duration) µs is out of range").at(".duration")
        }
        var span = Span(
            traceID: traceID, spanID: spanID, parentSpanID: parentID, name: name, kind: kind, startTimeUnixNano: startNano.partialValue,
            endTimeUnixNano: startNano.partialValue + durationNano.partialValue, events: events)
        if let service = local?.serviceName, !service.isEmpty { span.resource = [Attribute("service.name", .string(service))] }
        applySpecialTags(&tags, to: &span)
        span.attributes = tags.map { Attribute($0.key, .string($0.value)) }
        if let local {
            if let ip = local.ipv4 ?? local.ipv6 { span.attributes.append(Attribute("net.host.ip", .string(ip))) }
            if let port = local.port { span.attributes.append(Attribute("net.host.port", .int(port))) }
        }
        if let remote {
            if let service = remote.serviceName, !service.isEmpty { span.attributes.append(Attribute("peer.service", .string(service))) }
            if let ip = remote.ipv4 ?? remote.ipv6 { span.attributes.append(Attribute("net.peer.ip", .string(ip))) }
            if let port = remote.port { span.attributes.append(Attribute("net.peer.port", .int(port))) }
        }
        if timestamp == nil { span.attributes.append(Attribute("otel.zipkin.absentField.startTime", .bool(true))) }
        return span
    }

    /// Moves the tags that carry span fields (status, scope, trace state) out of `tags` into `span`.
    private static func applySpecialTags(_ tags: inout [(key: String, value: String)], to span: inout Span) {
        func take(_ key: String) -> String? {
            guard let index = tags.firstIndex(where: { $0.key == key }) else { return nil }
            return tags.remove(at: index).value
        }
        if let code = take("otel.status_code") {
            switch code.uppercased() {
            case "ERROR", "STATUS_CODE_ERROR": span.statusCode = .error
            case "OK", "STATUS_CODE_OK": span.statusCode = .ok
            default: span.statusCode = .unset
            }
            if let description = take("otel.status_description") { span.statusMessage = description }
        }
        if let error = take("error") {
            span.statusCode = .error
            if error != "true", !error.isEmpty, span.statusMessage.isEmpty { span.statusMessage = error }
        }
        if let name = take("otel.scope.name") ?? take("otel.library.name") { span.scope.name = name }
        if let version = take("otel.scope.version") ?? take("otel.library.version") { span.scope.version = version }
        if let state = take("w3c.tracestate") { span.traceState = state }
    }

    /// A trace id of 16 or 32 hex digits (16 fill the low half); not all zero.
    private static func traceIdentifier(_ value: JSONValue?) throws -> TraceID {
        guard let value, value != .null else { throw FieldPathError("missing") }
        guard let text = value.stringValue else { throw FieldPathError("expected a hex string, not \(value.typeName)") }
        let id: TraceID?
        switch text.utf8.count {
        case 16: id = SpanID(hex: text).map { TraceID(high: 0, low: $0.value) }
        case 32: id = TraceID(hex: text)
        default: id = nil
        }
        guard let id else { throw FieldPathError("expected 16 or 32 hex digits, got \"\(text.prefix(64))\"") }
        guard !id.isZero else { throw FieldPathError("the trace id is all zeros") }
        return id
    }

    /// A span id of 1–16 hex digits, left-padded; nil when absent. Not all zero.
    private static func spanIdentifier(_ value: JSONValue?) throws -> SpanID? {
        guard let value, value != .null else { return nil }
        guard let text = value.stringValue else { throw FieldPathError("expected a hex string, not \(value.typeName)") }
        let count = text.utf8.count
        guard (1...16).contains(count), let id = SpanID(hex: String(repeating: "0", count: 16 - count) + text) else {
            throw FieldPathError("expected 1 to 16 hex digits, got \"\(text.prefix(64))\"")
        }
        guard !id.isZero else { throw FieldPathError("the span id is all zeros") }
        return id
    }

    private static func optionalString(_ value: JSONValue?) throws -> String? {
        guard let value, value != .null else { return nil }
        guard let text = value.stringValue else { throw FieldPathError("expected a string, not \(value.typeName)") }
        return text
    }

    /// A non-negative integer of microseconds; nil when absent.
    private static func microseconds(_ value: JSONValue?) throws -> UInt64? {
        guard let value, value != .null else { return nil }
        guard let number = value.uint64Value else {
            if case .number(let text) = value { throw FieldPathError("expected a non-negative integer of microseconds, got \(text)") }
            throw FieldPathError("expected a number of microseconds, not \(value.typeName)")
        }
        return number
    }

    /// The tags in document order. Zipkin sends strings; numbers and booleans are taken as their literal text.
    private static func tags(_ value: JSONValue?) throws -> [(key: String, value: String)] {
        guard let value, value != .null else { return [] }
        guard let object = value.objectValue else { throw FieldPathError("expected an object of strings, not \(value.typeName)") }
        var tags: [(key: String, value: String)] = []
        tags.reserveCapacity(object.count)
        for (key, tag) in zip(object.keys, object.values) {
            let text: String
            switch tag {
            case .string(let string): text = string
            case .number(let literal): text = literal
            case .bool(let flag): text = flag ? "true" : "false"
            default: throw FieldPathError("expected a string, not \(tag.typeName)").at(".\(key)")
            }
            if let index = tags.firstIndex(where: { $0.key == key }) { tags[index].value = text } else { tags.append((key, text)) }
        }
        return tags
    }

    private static func kind(_ value: JSONValue?, tags: inout [(key: String, value: String)]) throws -> Span.Kind {
        guard let text = try optionalString(value) else {
            if let index = tags.firstIndex(where: { $0.key == "span.kind" }), tags[index].value == "internal" {
                tags.remove(at: index)
                return .internal
            }
            return .unspecified
        }
        switch text {
        case "CLIENT": return .client
        case "SERVER": return .server
        case "PRODUCER": return .producer
        case "CONSUMER": return .consumer
        default: throw FieldPathError("expected CLIENT, SERVER, PRODUCER or CONSUMER, got \"\(text.prefix(64))\"")
        }
    }

    /// The parts of an endpoint the mapping uses.
    private struct Endpoint {
        var serviceName: String?
        var ipv4: String?
        var ipv6: String?
        var port: Int64?
    }

    private static func endpoint(_ value: JSONValue?) throws -> Endpoint? {
        guard let value, value != .null else { return nil }
        guard let object = value.objectValue else { throw FieldPathError("expected an object, not \(value.typeName)") }
        var endpoint = Endpoint()
        endpoint.serviceName = try withFieldPath(".serviceName") { try optionalString(object["serviceName"]) }
        endpoint.ipv4 = try withFieldPath(".ipv4") { try optionalString(object["ipv4"]) }.flatMap { $0.isEmpty ? nil : $0 }
        endpoint.ipv6 = try withFieldPath(".ipv6") { try optionalString(object["ipv6"]) }.flatMap { $0.isEmpty ? nil : $0 }
        if let port = object["port"], port != .null {
            guard let number = port.int64Value, (0...65_535).contains(number) else {
                throw FieldPathError("expected a port number from 0 to 65535").at(".port")
            }
            endpoint.port = number > 0 ? number : nil
        }
        return endpoint
    }

    private static func event(_ value: JSONValue) throws -> Span.Event {
        guard let object = value.objectValue else { throw FieldPathError("an annotation must be an object, not \(value.typeName)") }
        let time = try withFieldPath(".timestamp") { try microseconds(object["timestamp"]) }
        guard let time else { throw FieldPathError("missing").at(".timestamp") }
        let (nano, overflow) = time.multipliedReportingOverflow(by: 1000)
        guard !overflow else { throw FieldPathError("\(time) µs is out of range").at(".timestamp") }
        let name = try withFieldPath(".value") { try optionalString(object["value"]) } ?? ""
        return Span.Event(timeUnixNano: nano, name: name)
    }
}

extension FieldPathError {
    /// The error with `component` added as its innermost path component.
    fileprivate func at(_ component: String) -> FieldPathError {
        var error = self
        error.reversedPath.insert(component, at: 0)
        return error
    }
}
