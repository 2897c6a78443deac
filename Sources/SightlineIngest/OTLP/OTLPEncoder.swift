package import SightlineCore

/// Encodes Sightline's model as OTLP protobuf export requests, for relaying (the agent) and tests.
///
/// Logs and spans are grouped into one `Resource*` per distinct resource and one `Scope*` per distinct scope
/// within it, in order of first appearance, so decoding the result with ``OTLPDecoder`` gives back the same records.
/// Proto3 default values are omitted.
package enum OTLPEncoder {
    /// Encodes log records as an `ExportLogsServiceRequest`.
    /// - Parameter records: The records; their resources and scopes become the grouping.
    /// - Returns: The protobuf bytes.
    package static func encodeLogs(_ records: [LogRecord]) -> [UInt8] {
        encodeRecords(records, capacity: 256 + records.count * 128) { writeLogRecord($0, into: &$1) }
    }

    /// Encodes spans as an `ExportTraceServiceRequest`.
    /// - Parameter spans: The spans; their resources and scopes become the grouping.
    /// - Returns: The protobuf bytes.
    package static func encodeTraces(_ spans: [Span]) -> [UInt8] {
        encodeRecords(spans, capacity: 256 + spans.count * 160) { writeSpan($0, into: &$1) }
    }

    /// Encodes log records or spans grouped by resource and scope: `resource_* = 1` messages of `resource = 1` and
    /// `scope_* = 2`, each scope message of `scope = 1` and records `= 2`.
    /// - Parameters:
    ///   - records: The records, in order; their resources and scopes become the grouping.
    ///   - capacity: The writer's initial capacity in bytes.
    ///   - write: Writes one record's fields.
    /// - Returns: The protobuf bytes.
    private static func encodeRecords<Record: OTLPScopedRecord>(
        _ records: [Record], capacity: Int, _ write: (Record, inout ProtobufWriter) -> Void
    ) -> [UInt8] {
        var writer = ProtobufWriter(capacity: capacity)
        for group in groups(records) {
            writer.writeMessage(1) { resourceMessage in
                writeResource(group.resource, field: 1, into: &resourceMessage)
                for scopeGroup in group.scopes {
                    resourceMessage.writeMessage(2) { scopeMessage in
                        writeScope(scopeGroup.scope, field: 1, into: &scopeMessage)
                        for index in scopeGroup.items {
                            scopeMessage.writeMessage(2) { write(records[index], &$0) }
                        }
                    }
                }
            }
        }
        return writer.bytes
    }

    /// Encodes Prometheus samples as an `ExportMetricsServiceRequest`, one gauge per metric name.
    ///
    /// This is lossy and meant for relaying and tests: every series becomes a `Gauge` data point named by its
    /// `__name__`, with the other labels as string attributes, the timestamp in ms scaled to ns, no unit, no
    /// description, no resource, and counters and histogram series lose their types. A staleness marker is sent as
    /// a point flagged `NO_RECORDED_VALUE`. Decoding the result gives back the same samples (for names and labels
    /// that are already valid Prometheus names), but not the original OTLP metrics.
    /// - Parameter samples: The samples.
    /// - Returns: The protobuf bytes.
    package static func encodeMetrics(_ samples: [MetricSample]) -> [UInt8] {
        var order: [String] = []
        var byName: [String: [MetricSample]] = [:]
        for sample in samples {
            let name = sample.labels.metricName
            if byName[name] == nil { order.append(name) }
            byName[name, default: []].append(sample)
        }
        var writer = ProtobufWriter(capacity: 256 + samples.count * 64)
        writer.writeMessage(1) { resourceMetrics in
            resourceMetrics.writeMessage(2) { scopeMetrics in
                for name in order {
                    scopeMetrics.writeMessage(2) { metric in
                        metric.writeString(1, name)
                        metric.writeMessage(5) { gauge in
                            for sample in byName[name] ?? [] {
                                gauge.writeMessage(1) { point in
                                    for label in sample.labels.labels where label.name != Labels.metricName {
                                        point.writeMessage(7) { writeKeyValue(Attribute(label.name, .string(label.value)), into: &$0) }
                                    }
                                    point.writeFixed64(3, UInt64(clamping: sample.timestampMs) &* 1_000_000)
                                    if sample.value.bitPattern == OTLPPrometheusTranslator.staleNaN.bitPattern {
                                        point.writeDouble(4, .nan)
                                        point.writeVarint(8, UInt64(otlpNoRecordedValueFlag))
                                    } else {
                                        point.writeDouble(4, sample.value)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return writer.bytes
    }

    // MARK: Grouping

    /// One scope of a resource and the indexes of its records.
    /// One scope of a resource group, with the indexes of its records.
    package struct ScopeGroup {
        package var scope: InstrumentationScope
        package var items: [Int]
    }

    /// One resource, with its scopes in order of first appearance.
    package struct ResourceGroup {
        package var resource: [Attribute]
        package var scopes: [ScopeGroup]
    }

    /// The spans' resources and scopes as OTLP nests them (``groups(_:)``), for encoders of other formats.
    package static func groups(of spans: [Span]) -> [ResourceGroup] { groups(spans) }

    /// The records' resources and their scopes, in order of first appearance, with the indexes of their records.
    ///
    /// Consecutive records usually share their resource and scope (often the very same arrays: the decoders and the
    /// agent's tailer hand them out so), so each record is first compared with the previous one's group, which for
    /// shared arrays is an identity check, and hashed only when it differs.
    private static func groups<Record: OTLPScopedRecord>(_ records: [Record]) -> [ResourceGroup] {
        var result: [ResourceGroup] = []
        var resourceIndex: [[Attribute]: Int] = [:]
        var scopeIndex: [Int: [InstrumentationScope: Int]] = [:]
        var last: (resource: Int, scope: Int)?
        for (index, record) in records.enumerated() {
            if let (r, s) = last, result[r].resource == record.resource, result[r].scopes[s].scope == record.scope {
                result[r].scopes[s].items.append(index)
                continue
            }
            let r: Int
            if let existing = resourceIndex[record.resource] {
                r = existing
            } else {
                r = result.count
                resourceIndex[record.resource] = r
                result.append(ResourceGroup(resource: record.resource, scopes: []))
            }
            let s: Int
            if let existing = scopeIndex[r]?[record.scope] {
                s = existing
                result[r].scopes[s].items.append(index)
            } else {
                s = result[r].scopes.count
                scopeIndex[r, default: [:]][record.scope] = s
                result[r].scopes.append(ScopeGroup(scope: record.scope, items: [index]))
            }
            last = (r, s)
        }
        return result
    }

    // MARK: Messages

    private static func writeResource(_ attributes: [Attribute], field: Int, into writer: inout ProtobufWriter) {
        guard !attributes.isEmpty else { return }
        writer.writeMessage(field) { resource in
            for attribute in attributes { resource.writeMessage(1) { writeKeyValue(attribute, into: &$0) } }
        }
    }

    private static func writeScope(_ scope: InstrumentationScope, field: Int, into writer: inout ProtobufWriter) {
        guard scope != InstrumentationScope() else { return }
        writer.writeMessage(field) { message in
            if !scope.name.isEmpty { message.writeString(1, scope.name) }
            if !scope.version.isEmpty { message.writeString(2, scope.version) }
            for attribute in scope.attributes { message.writeMessage(3) { writeKeyValue(attribute, into: &$0) } }
        }
    }

    private static func writeKeyValue(_ attribute: Attribute, into writer: inout ProtobufWriter) {
        writer.writeString(1, attribute.key)
        writer.writeMessage(2) { writeAnyValue(attribute.value, into: &$0) }
    }

    private static func writeAnyValue(_ value: AttributeValue, into writer: inout ProtobufWriter) {
        switch value {
        case .empty: break
        case .string(let s): writer.writeString(1, s)
        case .bool(let b): writer.writeBool(2, b)
        case .int(let i): writer.writeInt64(3, i)
        case .double(let d): writer.writeDouble(4, d)
        case .array(let values):
            writer.writeMessage(5) { array in
                for element in values { array.writeMessage(1) { writeAnyValue(element, into: &$0) } }
            }
        case .keyValueList(let attributes):
            writer.writeMessage(6) { list in
                for attribute in attributes { list.writeMessage(1) { writeKeyValue(attribute, into: &$0) } }
            }
        case .bytes(let bytes): writer.writeBytes(7, bytes)
        }
    }

    private static func writeLogRecord(_ record: LogRecord, into writer: inout ProtobufWriter) {
        if record.timeUnixNano != 0 { writer.writeFixed64(1, record.timeUnixNano) }
        if record.severityNumber != 0 { writer.writeInt64(2, Int64(record.severityNumber)) }
        if !record.severityText.isEmpty { writer.writeString(3, record.severityText) }
        if record.body != .empty { writer.writeMessage(5) { writeAnyValue(record.body, into: &$0) } }
        for attribute in record.attributes { writer.writeMessage(6) { writeKeyValue(attribute, into: &$0) } }
        if record.droppedAttributesCount != 0 { writer.writeVarint(7, UInt64(record.droppedAttributesCount)) }
        if record.flags != 0 { writer.writeFixed32(8, record.flags) }
        if let traceID = record.traceID { writer.writeBytes(9, traceID.bytes) }
        if let spanID = record.spanID { writer.writeBytes(10, spanID.bytes) }
        if record.observedTimeUnixNano != 0 { writer.writeFixed64(11, record.observedTimeUnixNano) }
        if !record.eventName.isEmpty { writer.writeString(12, record.eventName) }
    }

    private static func writeSpan(_ span: Span, into writer: inout ProtobufWriter) {
        writer.writeBytes(1, span.traceID.bytes)
        writer.writeBytes(2, span.spanID.bytes)
        if !span.traceState.isEmpty { writer.writeString(3, span.traceState) }
        if let parent = span.parentSpanID { writer.writeBytes(4, parent.bytes) }
        if !span.name.isEmpty { writer.writeString(5, span.name) }
        if span.kind != .unspecified { writer.writeInt64(6, Int64(span.kind.rawValue)) }
        if span.startTimeUnixNano != 0 { writer.writeFixed64(7, span.startTimeUnixNano) }
        if span.endTimeUnixNano != 0 { writer.writeFixed64(8, span.endTimeUnixNano) }
        for attribute in span.attributes { writer.writeMessage(9) { writeKeyValue(attribute, into: &$0) } }
        if span.droppedAttributesCount != 0 { writer.writeVarint(10, UInt64(span.droppedAttributesCount)) }
        for event in span.events {
            writer.writeMessage(11) { message in
                if event.timeUnixNano != 0 { message.writeFixed64(1, event.timeUnixNano) }
                if !event.name.isEmpty { message.writeString(2, event.name) }
                for attribute in event.attributes { message.writeMessage(3) { writeKeyValue(attribute, into: &$0) } }
                if event.droppedAttributesCount != 0 { message.writeVarint(4, UInt64(event.droppedAttributesCount)) }
            }
        }
        if span.droppedEventsCount != 0 { writer.writeVarint(12, UInt64(span.droppedEventsCount)) }
        for link in span.links {
            writer.writeMessage(13) { message in
                message.writeBytes(1, link.traceID.bytes)
                message.writeBytes(2, link.spanID.bytes)
                if !link.traceState.isEmpty { message.writeString(3, link.traceState) }
                for attribute in link.attributes { message.writeMessage(4) { writeKeyValue(attribute, into: &$0) } }
                if link.droppedAttributesCount != 0 { message.writeVarint(5, UInt64(link.droppedAttributesCount)) }
                if link.flags != 0 { message.writeFixed32(6, link.flags) }
            }
        }
        if span.droppedLinksCount != 0 { writer.writeVarint(14, UInt64(span.droppedLinksCount)) }
        if span.statusCode != .unset || !span.statusMessage.isEmpty {
            writer.writeMessage(15) { status in
                if !span.statusMessage.isEmpty { status.writeString(2, span.statusMessage) }
                if span.statusCode != .unset { status.writeInt64(3, Int64(span.statusCode.rawValue)) }
            }
        }
        if span.flags != 0 { writer.writeFixed32(16, span.flags) }
    }
}
