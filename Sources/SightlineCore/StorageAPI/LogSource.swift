/// What a log query asks a log store for: the streams, the time range, the order, and the substrings every line must
/// contain, so the store can skip blocks by its token index before reading them.
package struct LogScan: Sendable {
    /// The order records reach the visitor in.
    package enum Direction: String, Sendable {
        /// Oldest first.
        case forward
        /// Newest first.
        case backward
    }

    package var tenant: Tenant
    /// Conditions on the stream labels (``LogRecord/streamLabels``); every one must hold.
    package var matchers: [LabelMatcher]
    /// The records whose ``LogRecord/effectiveTimeUnixNano`` falls in the range.
    package var range: TimeRange
    package var direction: Direction
    /// Substrings the line (``LogRecord/line``) must contain, case-sensitive. A store may use them to skip blocks and
    /// records; the caller checks its own filters again, so a store that ignores them is still correct.
    package var lineContains: [String]

    package init(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange, direction: Direction = .backward, lineContains: [String] = []) {
        self.tenant = tenant
        self.matchers = matchers
        self.range = range
        self.direction = direction
        self.lineContains = lineContains
    }
}

/// Counts of what a log query would read, as Loki's `/index/stats` reports them.
package struct LogStats: Hashable, Sendable {
    package var streams: Int
    /// The stored blocks (Loki calls them chunks) that hold matching records.
    package var chunks: Int
    package var entries: Int
    /// Bytes of the lines.
    package var bytes: Int

    package init(streams: Int = 0, chunks: Int = 0, entries: Int = 0, bytes: Int = 0) {
        self.streams = streams
        self.chunks = chunks
        self.entries = entries
        self.bytes = bytes
    }
}

/// The read side of a log store: what LogQL and the Loki API query. The embedded log engine implements it and so will
/// the ClickHouse backend, so it hands out values, never files.
package protocol LogSource: Sendable {
    /// The label sets of the streams of the scan's tenant that match its matchers and have records in its range.
    func streams(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> [Labels]

    /// Calls `visit` with every record the scan selects, in the scan's direction across all streams (ties in any
    /// order), each with ``LogRecord/stream`` set to its stream labels. Stops early when `visit` returns false.
    func scan(_ scan: LogScan, _ visit: (LogRecord) throws -> Bool) throws

    /// What the scan would read.
    func stats(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> LogStats
}

/// A log source that can fold a scan's records part by part on several threads, for aggregations whose result does
/// not depend on the order records come in.
package protocol LogPartitionedScanning: LogSource {
    /// Folds every record the scan selects (with ``LogRecord/stream`` set): the data is cut into parts, each folded,
    /// in no particular order, into a fresh value from `start`, on one of several threads at once — so `start` and
    /// `fold` must be safe to call concurrently. Returns the parts' values.
    func fold<Partial>(_ scan: LogScan, start: () -> Partial, _ fold: (inout Partial, LogRecord) throws -> Void) throws -> [Partial]
}

extension LogRecord {
    /// The time logs are ordered, windowed and selected by: the record's time, or its observed time when the sender
    /// left the time unset (as OpenTelemetry advises readers).
    package var effectiveTimeUnixNano: UInt64 { Self.effectiveTime(timeUnixNano, observed: observedTimeUnixNano) }

    /// ``effectiveTimeUnixNano`` of a record with these times.
    @inline(__always) package static func effectiveTime(_ time: UInt64, observed: UInt64) -> UInt64 { time != 0 ? time : observed }

    /// The text a log query filters: a string body as it is, any other body as ``AttributeValue/text``.
    package var line: String { body.text }

    /// The labels of the stream the record belongs to: ``stream`` when the sender named one, else the labels Loki
    /// derives from an OpenTelemetry resource — `service_name` (`unknown_service` when absent) and the other
    /// resource attributes of ``LogRecord/resourceStreamAttributes``, with `.` and `-` written as `_`.
    package var streamLabels: Labels {
        stream.labels.isEmpty ? Self.streamLabels(resource: resource) : stream
    }

    /// The stream labels of a record of `resource` without sender-named ones (see ``streamLabels``).
    package static func streamLabels(resource: [Attribute]) -> Labels {
        var labels: [Label] = []
        var service = "unknown_service"
        for attribute in resource {
            if attribute.key == "service.name" {
                service = attribute.value.text
            } else if Self.resourceStreamAttributes.contains(attribute.key) {
                labels.append(Label(Self.labelName(attribute.key), attribute.value.text))
            }
        }
        labels.append(Label("service_name", service))
        return Labels(labels)
    }

    /// Resource attributes besides `service.name` that make stream labels, as Loki's OTLP ingestion picks them.
    package static let resourceStreamAttributes: Set<String> = [
        "service.namespace", "service.instance.id", "deployment.environment", "deployment.environment.name",
        "cloud.region", "cloud.availability_zone", "k8s.cluster.name", "k8s.namespace.name", "k8s.pod.name",
        "k8s.container.name", "container.name", "k8s.deployment.name", "k8s.statefulset.name", "k8s.daemonset.name",
        "k8s.cronjob.name", "k8s.job.name", "host.name",
    ]

    /// The record's structured metadata as LogQL sees it, besides the stream labels: the attributes, `trace_id` and
    /// `span_id`, and for records without sender-named streams (OpenTelemetry's, as Loki's OTLP ingestion keeps them)
    /// the resource attributes that are not stream labels and `severity_text`; names written with `_` for `.` and
    /// `-`. (A Loki push has no severity text of its own: the one Sightline reads off its `level` is not metadata.)
    package var structuredMetadata: [Label] {
        var labels: [Label] = []
        labels.reserveCapacity(attributes.count + 3)
        for attribute in attributes {
            let name = Self.labelName(attribute.key)
            labels.append(Label(name, Self.metadataText(attribute.value, name: name)))
        }
        if stream.labels.isEmpty {
            for attribute in resource where attribute.key != "service.name" && !Self.resourceStreamAttributes.contains(attribute.key) {
                labels.append(Label(Self.labelName(attribute.key), attribute.value.text))
            }
        }
        if let traceID { labels.append(Label("trace_id", traceID.description)) }
        if let spanID { labels.append(Label("span_id", spanID.description)) }
        if stream.labels.isEmpty && !severityText.isEmpty { labels.append(Label("severity_text", severityText)) }
        return labels
    }

    /// The value of one ``structuredMetadata`` label, found without building the others, or ``detectedLevel`` for
    /// `detected_level` (which Loki keeps as structured metadata and Sightline derives when asked); nil when there is
    /// none.
    package func structuredMetadataValue(_ name: String) -> String? {
        name == LogLevelDetection.label ? detectedLevel : storedMetadataValue(name)
    }

    /// Loki's `detected_level` of the record (see ``LogLevelDetection``).
    package var detectedLevel: String { detectedLevel(streamLabels: streamLabels) }

    /// ``detectedLevel`` when the caller has the record's ``streamLabels`` already.
    package func detectedLevel(streamLabels stream: Labels) -> String {
        LogLevelDetection.level(streamValue: { stream[$0] }, metadataValue: { storedMetadataValue($0) }, severityNumber: severityNumber, line: line)
    }

    /// ``structuredMetadataValue(_:)`` without the derived level.
    private func storedMetadataValue(_ name: String) -> String? {
        // Later entries win, as when the labels are built in order.
        var found: String?
        for attribute in attributes where Self.isLabelName(name, of: attribute.key) { found = Self.metadataText(attribute.value, name: name) }
        if stream.labels.isEmpty {
            for attribute in resource where Self.isLabelName(name, of: attribute.key) && attribute.key != "service.name"
                && !Self.resourceStreamAttributes.contains(attribute.key)
            {
                found = attribute.value.text
            }
        }
        switch name {
        case "trace_id": if let traceID { found = traceID.description }
        case "span_id": if let spanID { found = spanID.description }
        case "severity_text": if stream.labels.isEmpty && !severityText.isEmpty { found = severityText }
        default: break
        }
        return found
    }

    /// An attribute's value as structured metadata `name`: its text, a sender's `detected_level` normalised as Loki
    /// normalises it (`ERR` is `error`).
    private static func metadataText(_ value: AttributeValue, name: String) -> String {
        let text = value.text
        return name == LogLevelDetection.label ? LogLevelDetection.normalised(text) ?? text : text
    }

    /// Whether ``labelName(_:)`` of `key` is `name`, without building it.
    package static func isLabelName(_ name: String, of key: String) -> Bool {
        var nameBytes = name.utf8.makeIterator()
        for (index, byte) in key.utf8.enumerated() {
            guard let expected = nameBytes.next(), expected == (isLabelByte(byte, at: index) ? byte : 0x5F) else { return false }
        }
        return nameBytes.next() == nil
    }

    /// An attribute key as a label name: `.`, `-` and other characters outside `[A-Za-z0-9_]` become `_`. A key that
    /// is a label name already (the usual case, once per attribute of every record a query reads) is returned as it is,
    /// without building anything.
    package static func labelName(_ key: String) -> String {
        var index = 0
        for byte in key.utf8 {
            guard isLabelByte(byte, at: index) else {
                return String(decoding: key.utf8.enumerated().map { isLabelByte($1, at: $0) ? $1 : 0x5F }, as: UTF8.self)
            }
            index += 1
        }
        return key
    }

    /// Whether `byte` may stand at `index` of a label name: `[A-Za-z_]`, and digits after the first byte.
    @inline(__always) private static func isLabelByte(_ byte: UInt8, at index: Int) -> Bool {
        (byte >= 0x30 && byte <= 0x39 && index > 0) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
    }
}

/// The records and line bytes a scan selects in one time bucket (see ``LogBucketCounting``).
package struct LogBucketCount: Sendable, Equatable {
    /// The bucket's end, inclusive: the bucket is `(endNano - width, endNano]`.
    package var endNano: Int64
    package var records: Int
    /// Bytes of the lines (``LogRecord/line`` as UTF-8).
    package var bytes: Int

    package init(endNano: Int64, records: Int, bytes: Int) {
        self.endNano = endNano
        self.records = records
        self.bytes = bytes
    }

    /// The end of the bucket `(origin + (j-1)·width, origin + j·width]` that holds `time`: `origin + ⌈(time - origin) /
    /// width⌉·width` (wrapping: only absurd times overflow, and they must not trap).
    package static func bucketEnd(of time: Int64, originNano: Int64, widthNano: Int64) -> Int64 {
        let delta = time &- originNano
        let bucket = delta >= 0 ? (delta / widthNano) + (delta % widthNano == 0 ? 0 : 1) : -((-delta) / widthNano)
        return originNano &+ bucket &* widthNano
    }
}

/// The counts per bucket of the records of one group (see ``LogBucketCounting``).
package struct LogGroupCount: Sendable, Equatable {
    /// The group: for each grouping label, in the order asked, the value its records have
    /// (``LogRecord/groupingValue(_:)``), "" where they have none.
    package var values: [String]
    /// The group's non-empty buckets, ascending.
    package var buckets: [LogBucketCount]

    package init(values: [String], buckets: [LogBucketCount]) {
        self.values = values
        self.buckets = buckets
    }
}

/// A log store that can count what a scan selects where the records are, without handing them out: LogQL's
/// `sum by (…) (count_over_time(…))` and `sum by (…) (bytes_over_time(…))` over plain `|=` filters need only these
/// counts.
package protocol LogBucketCounting: LogSource {
    /// The records of `scan` (its matchers, range and every ``LogScan/lineContains`` substring, byte-wise) counted per
    /// group of `groupBy` and per bucket `(originNano + (j-1)·widthNano, originNano + j·widthNano]`, identical records
    /// once, as ``scan(_:_:)`` hands them. A record's group is ``LogRecord/groupingValue(_:)`` of each name of
    /// `groupBy`, the record as ``scan(_:_:)`` hands it (so with no names every record is in the one group `[]`).
    /// Groups without records are left out, the rest ascend by their values; so do their buckets. Nil when the
    /// store cannot count this scan exactly; the caller then scans.
    func countBuckets(_ scan: LogScan, originNano: Int64, widthNano: Int64, groupBy: [String]) throws -> [LogGroupCount]?
}

extension LogRecord {
    /// The value LogQL's `by (name)` groups the record under: its structured metadata called `name`
    /// (``structuredMetadataValue(_:)``), which wins over its stream label of that name, else that stream label,
    /// else "".
    package func groupingValue(_ name: String) -> String {
        structuredMetadataValue(name) ?? streamLabels[name] ?? ""
    }
}

extension UnsafePointer<LogRecord> {
    /// ``LogRecord/effectiveTimeUnixNano`` of the record here, read field by field: calling a record's getter
    /// through a pointer or an array makes the caller copy the whole record first.
    package var effectiveTimeUnixNano: UInt64 { LogRecord.effectiveTime(pointee.timeUnixNano, observed: pointee.observedTimeUnixNano) }
}
