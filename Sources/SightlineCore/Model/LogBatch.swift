/// Log records held column by column: a fixed-size row per record, the bytes of every string in one buffer, the
/// attributes of every record in one array, and the values records share (attribute keys, severity texts, resources,
/// scopes, stream labels) once per batch.
///
/// This is how logs travel from a decoder to the store: a Loki push of 10,000 lines is a handful of arrays, not
/// 10,000 records of a dozen references each (a `String` per line, an array and strings per record's attributes),
/// which had cost more to allocate, retain, release and free than to decode and store. The store encodes blocks
/// from the rows and bytes as they lie. Code that wants records reads them as a collection of ``LogRecord``s, each
/// made on access.
///
/// Decoders fill a batch row by row: values first (``store(_:)``, ``appendString(_:)``, ``appendAttribute(key:value:)``),
/// then ``appendRow(_:)``, which takes the attributes appended since the previous row as the new row's.
///
/// ```swift
/// var batch = LogBatch()
/// let stream = batch.number(stream: Labels([Label("app", "api")]))
/// batch.appendAttribute(key: batch.number(string: "trace_id"), value: batch.store(.string("4bf9…")))
/// batch.appendRow(LogBatch.Row(timeUnixNano: now, body: batch.store(.string("GET /")), stream: stream))
/// ```
package struct LogBatch: Sendable {
    /// What a ``Value`` holds.
    package enum Kind: UInt8, Sendable {
        case empty, string, bool, int, double, bytes, array, keyValueList
    }

    /// A body or attribute value: a scalar in ``payload`` (a Boolean as 0 or 1, an integer's or a double's bits), or
    /// ``length`` bytes at offset ``payload`` of ``bytes``: a string's UTF-8, a byte string, or an array or key-value
    /// list in the tagged layout of ``ByteWriter/writeAttributeValue(_:)``.
    package struct Value: Sendable, Equatable {
        package var kind: Kind
        package var length: UInt32
        package var payload: UInt64

        package static let empty = Value(kind: .empty, length: 0, payload: 0)

        package init(kind: Kind, length: UInt32, payload: UInt64) {
            self.kind = kind
            self.length = length
            self.payload = payload
        }

        /// Where a byte-backed value lies in ``LogBatch/bytes``.
        package var byteRange: Range<Int> { Int(payload)..<(Int(payload) + Int(length)) }
    }

    /// One record's fixed-size fields; its strings and attributes are in the batch's other arrays.
    package struct Row: Sendable, Equatable {
        package var timeUnixNano: UInt64
        package var observedTimeUnixNano: UInt64
        package var traceIDHigh: UInt64
        package var traceIDLow: UInt64
        package var spanID: UInt64
        package var body: Value
        /// The record's attributes: ``attributeCount`` entries of ``LogBatch/attributes`` from this one.
        package var firstAttribute: UInt32
        package var attributeCount: UInt32
        package var severityNumber: Int32
        /// Numbers in ``LogBatch/strings``.
        package var severityText: UInt32
        package var eventName: UInt32
        /// Numbers in ``LogBatch/resources``, ``LogBatch/scopes`` and ``LogBatch/streams``.
        package var resource: UInt32
        package var scope: UInt32
        package var stream: UInt32
        package var droppedAttributesCount: UInt32
        package var flags: UInt32
        package var hasTraceID: Bool
        package var hasSpanID: Bool

        package init(
            timeUnixNano: UInt64 = 0, observedTimeUnixNano: UInt64 = 0, severityNumber: Int32 = 0, severityText: UInt32 = 0,
            body: Value = .empty, droppedAttributesCount: UInt32 = 0, flags: UInt32 = 0, traceID: TraceID? = nil,
            spanID: SpanID? = nil, eventName: UInt32 = 0, resource: UInt32 = 0, scope: UInt32 = 0, stream: UInt32 = 0
        ) {
            self.timeUnixNano = timeUnixNano
            self.observedTimeUnixNano = observedTimeUnixNano
            self.traceIDHigh = traceID?.high ?? 0
            self.traceIDLow = traceID?.low ?? 0
            self.spanID = spanID?.value ?? 0
            self.body = body
            self.firstAttribute = 0
            self.attributeCount = 0
            self.severityNumber = severityNumber
            self.severityText = severityText
            self.eventName = eventName
            self.resource = resource
            self.scope = scope
            self.stream = stream
            self.droppedAttributesCount = droppedAttributesCount
            self.flags = flags
            self.hasTraceID = traceID != nil
            self.hasSpanID = spanID != nil
        }

        /// ``LogRecord/effectiveTimeUnixNano`` of the row's record.
        package var effectiveTimeUnixNano: UInt64 { LogRecord.effectiveTime(timeUnixNano, observed: observedTimeUnixNano) }

        package var traceID: TraceID? { hasTraceID ? TraceID(high: traceIDHigh, low: traceIDLow) : nil }
        package var spanIDValue: SpanID? { hasSpanID ? SpanID(spanID) : nil }

        package mutating func setTraceID(_ id: TraceID) {
            (traceIDHigh, traceIDLow, hasTraceID) = (id.high, id.low, true)
        }

        package mutating func setSpanID(_ id: SpanID) {
            (spanID, hasSpanID) = (id.value, true)
        }
    }

    /// One attribute of a record: its key's number in ``LogBatch/strings`` and its value.
    package struct AttributeEntry: Sendable, Equatable {
        package var key: UInt32
        package var value: Value

        package init(key: UInt32, value: Value) {
            self.key = key
            self.value = value
        }
    }

    package private(set) var rows: [Row] = []
    /// The bytes of the byte-backed values.
    package private(set) var bytes: [UInt8] = []
    package private(set) var attributes: [AttributeEntry] = []
    private var stringNumbers = FirstSeenNumbering<String>()
    package private(set) var resources: [[Attribute]] = [[]]
    package private(set) var scopes: [InstrumentationScope] = [InstrumentationScope()]
    package private(set) var streams: [Labels] = [Labels([])]
    /// Where the attributes appended since the last row start.
    private var pendingAttributes = 0
    /// Delete requests to apply after the batch's records (a batch holding them comes from the delete API alone).
    package var deletions: [LogDeletion] = []

    /// An empty batch: its tables hold only their "none" entries (number 0 of each: the empty string, resource,
    /// scope and stream labels).
    package init() {
        _ = stringNumbers.number("")
    }

    /// A batch of `records`, in their order.
    package init(_ records: some Sequence<LogRecord>) {
        self.init()
        for record in records { append(record) }
    }

    /// Attribute keys, severity texts and event names, by number; number 0 is the empty string.
    package var strings: [String] { stringNumbers.values }

    /// Reserves room for `rows` more rows holding `bytes` bytes and `attributes` attributes.
    package mutating func reserveCapacity(rows: Int, bytes: Int = 0, attributes: Int = 0) {
        self.rows.reserveCapacity(self.rows.count + rows)
        self.bytes.reserveCapacity(self.bytes.count + bytes)
        self.attributes.reserveCapacity(self.attributes.count + attributes)
    }

    // MARK: Filling

    /// The number of `string` in ``strings``, adding it if new.
    package mutating func number(string: String) -> UInt32 {
        UInt32(stringNumbers.number(string).number)
    }

    /// The number of `resource` in ``resources``: the previous resource's when it is the same (records of one
    /// resource share it), else a new number.
    package mutating func number(resource: [Attribute]) -> UInt32 {
        if resource.isEmpty { return 0 }
        if resources.count > 1, resources[resources.count - 1] == resource { return UInt32(resources.count - 1) }
        resources.append(resource)
        return UInt32(resources.count - 1)
    }

    /// The number of `scope` in ``scopes``, found as ``number(resource:)`` finds a resource's.
    package mutating func number(scope: InstrumentationScope) -> UInt32 {
        if scope == scopes[0] { return 0 }
        if scopes.count > 1, scopes[scopes.count - 1] == scope { return UInt32(scopes.count - 1) }
        scopes.append(scope)
        return UInt32(scopes.count - 1)
    }

    /// The number of `labels` in ``streams``, found as ``number(resource:)`` finds a resource's.
    package mutating func number(stream labels: Labels) -> UInt32 {
        if labels.labels.isEmpty { return 0 }
        if streams.count > 1, streams[streams.count - 1] == labels { return UInt32(streams.count - 1) }
        streams.append(labels)
        return UInt32(streams.count - 1)
    }

    /// Stores `value` (its bytes, if it has any) for a row or attribute appended next.
    package mutating func store(_ value: AttributeValue) -> Value {
        switch value {
        case .empty: return .empty
        case .bool(let flag): return Value(kind: .bool, length: 0, payload: flag ? 1 : 0)
        case .int(let integer): return Value(kind: .int, length: 0, payload: UInt64(bitPattern: integer))
        case .double(let number): return Value(kind: .double, length: 0, payload: number.bitPattern)
        case .string(var string): return string.withUTF8 { store(string: UnsafeRawBufferPointer($0)) }
        case .bytes(let data):
            let start = bytes.count
            bytes.append(contentsOf: data)
            return Value(kind: .bytes, length: UInt32(data.count), payload: UInt64(start))
        case .array, .keyValueList:
            var writer = ByteWriter(capacity: 64)
            writer.writeAttributeValue(value)
            let start = bytes.count
            bytes.append(contentsOf: writer.bytes)
            return Value(kind: value.isArray ? .array : .keyValueList, length: UInt32(writer.bytes.count), payload: UInt64(start))
        }
    }

    /// Stores a string given as its UTF-8 bytes (valid UTF-8: the caller checked).
    package mutating func store(string utf8: UnsafeRawBufferPointer) -> Value {
        let start = bytes.count
        bytes.append(contentsOf: utf8)
        return Value(kind: .string, length: UInt32(utf8.count), payload: UInt64(start))
    }

    /// Stores a string that `write` appends to the batch's bytes (valid UTF-8: `write` checks), as a decoder reads
    /// one straight into place.
    package mutating func appendString(_ write: (inout [UInt8]) throws -> Void) rethrows -> Value {
        let start = bytes.count
        try write(&bytes)
        return Value(kind: .string, length: UInt32(bytes.count - start), payload: UInt64(start))
    }

    /// Appends an attribute of the next row.
    package mutating func appendAttribute(key: UInt32, value: Value) {
        attributes.append(AttributeEntry(key: key, value: value))
    }

    /// The attributes appended since the last row (those the next row gets).
    package var pendingAttributeEntries: ArraySlice<AttributeEntry> { attributes[pendingAttributes...] }

    /// Drops the attributes appended since the last row, for a record that is not kept after all.
    package mutating func discardPendingAttributes() {
        attributes.removeSubrange(pendingAttributes...)
    }

    /// ``discardPendingAttributes()``, and drops the bytes from `byteCount` on (``bytes``' count when the record
    /// began), for a decoder whose record stored values no other row refers to.
    package mutating func discardPendingRecord(bytesFrom byteCount: Int) {
        discardPendingAttributes()
        precondition(byteCount <= bytes.count, "bytes past the batch's end")
        bytes.removeSubrange(byteCount...)
    }

    /// Drops the attributes at `positions` (of ``attributes``), which must be among those appended since the last
    /// row: for a decoder that learns only at a record's end that a member it stored is not an attribute.
    package mutating func removeAttributes(_ positions: Range<Int>) {
        precondition(positions.lowerBound >= pendingAttributes && positions.upperBound <= attributes.count, "not pending attributes")
        attributes.removeSubrange(positions)
    }

    /// Appends a row whose attributes are those appended since the previous row.
    package mutating func appendRow(_ row: Row) {
        var row = row
        row.firstAttribute = UInt32(pendingAttributes)
        row.attributeCount = UInt32(attributes.count - pendingAttributes)
        rows.append(row)
        pendingAttributes = attributes.count
    }

    /// Appends `record`.
    package mutating func append(_ record: LogRecord) {
        for attribute in record.attributes {
            appendAttribute(key: number(string: attribute.key), value: store(attribute.value))
        }
        appendRow(
            Row(
                timeUnixNano: record.timeUnixNano, observedTimeUnixNano: record.observedTimeUnixNano,
                severityNumber: record.severityNumber, severityText: number(string: record.severityText),
                body: store(record.body), droppedAttributesCount: record.droppedAttributesCount, flags: record.flags,
                traceID: record.traceID, spanID: record.spanID, eventName: number(string: record.eventName),
                resource: number(resource: record.resource), scope: number(scope: record.scope),
                stream: number(stream: record.stream)))
    }

    /// Appends the records of `other`'s `rows`, row by row: their bytes copied, their table entries numbered in
    /// this batch's tables (no record is made).
    package mutating func append(contentsOf other: LogBatch, rows range: Range<Int>) {
        // This batch's number of each of `other`'s strings, found when first needed.
        var strings = [UInt32?](repeating: nil, count: other.stringNumbers.values.count)
        func string(_ number: UInt32) -> UInt32 {
            if let known = strings[Int(number)] { return known }
            let mapped = self.number(string: other.stringNumbers.values[Int(number)])
            strings[Int(number)] = mapped
            return mapped
        }
        for index in range {
            var row = other.rows[index]
            for entry in other.attributes(of: row) {
                appendAttribute(key: string(entry.key), value: copy(entry.value, from: other))
            }
            row.body = copy(row.body, from: other)
            row.severityText = string(row.severityText)
            row.eventName = string(row.eventName)
            row.resource = number(resource: other.resources[Int(row.resource)])
            row.scope = number(scope: other.scopes[Int(row.scope)])
            row.stream = number(stream: other.streams[Int(row.stream)])
            appendRow(row)
        }
    }

    /// `value` of `other`, its bytes (if it has any) copied into this batch.
    private mutating func copy(_ value: Value, from other: LogBatch) -> Value {
        switch value.kind {
        case .empty, .bool, .int, .double: return value
        case .string, .bytes, .array, .keyValueList:
            var copied = value
            copied.payload = UInt64(bytes.count)
            bytes.append(contentsOf: other.bytes[value.byteRange])
            return copied
        }
    }

    /// Changes row `index`'s fixed-size fields (its attribute range stays as it is).
    package mutating func modifyRow(_ index: Int, _ change: (inout Row) -> Void) {
        let (first, count) = (rows[index].firstAttribute, rows[index].attributeCount)
        change(&rows[index])
        rows[index].firstAttribute = first
        rows[index].attributeCount = count
    }

    /// Sets every record's observed time.
    package mutating func setObservedTime(_ time: UInt64) {
        for index in rows.indices { rows[index].observedTimeUnixNano = time }
    }

    // MARK: Reading

    /// The string a ``Kind/string`` value holds.
    package func string(_ value: Value) -> String {
        bytes.withUnsafeBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[value.byteRange]), as: UTF8.self) }
    }

    /// The value `value` stands for.
    package func attributeValue(_ value: Value) -> AttributeValue {
        switch value.kind {
        case .empty: return .empty
        case .bool: return .bool(value.payload != 0)
        case .int: return .int(Int64(bitPattern: value.payload))
        case .double: return .double(Double(bitPattern: value.payload))
        case .string: return .string(string(value))
        case .bytes: return .bytes(Array(bytes[value.byteRange]))
        case .array, .keyValueList:
            return bytes.withUnsafeBytes { raw in
                var reader = ByteReader(UnsafeRawBufferPointer(rebasing: raw[value.byteRange]))
                guard let decoded = try? reader.readAttributeValue() else {
                    preconditionFailure("a log batch holds a nested value it did not write")
                }
                return decoded
            }
        }
    }

    /// The attributes of `row`.
    package func attributes(of row: Row) -> ArraySlice<AttributeEntry> {
        attributes[Int(row.firstAttribute)..<(Int(row.firstAttribute) + Int(row.attributeCount))]
    }

    /// The record of row `index`, made from the batch's columns.
    package func record(at index: Int) -> LogRecord {
        let row = rows[index]
        let strings = stringNumbers.values
        var attributes: [Attribute] = []
        attributes.reserveCapacity(Int(row.attributeCount))
        for entry in self.attributes(of: row) { attributes.append(Attribute(strings[Int(entry.key)], attributeValue(entry.value))) }
        return LogRecord(
            timeUnixNano: row.timeUnixNano, observedTimeUnixNano: row.observedTimeUnixNano,
            severityNumber: row.severityNumber, severityText: strings[Int(row.severityText)], body: attributeValue(row.body),
            attributes: attributes, droppedAttributesCount: row.droppedAttributesCount, flags: row.flags,
            traceID: row.traceID, spanID: row.spanIDValue, eventName: strings[Int(row.eventName)],
            resource: resources[Int(row.resource)], scope: scopes[Int(row.scope)], stream: streams[Int(row.stream)])
    }
}

extension LogBatch: RandomAccessCollection {
    package var startIndex: Int { 0 }
    package var endIndex: Int { rows.count }
    package subscript(position: Int) -> LogRecord { record(at: position) }
}

extension LogBatch: ExpressibleByArrayLiteral {
    package init(arrayLiteral records: LogRecord...) {
        self.init(records)
    }
}

extension LogBatch: Hashable {
    /// Batches are equal when they hold equal records in the same order, however their columns are laid out, and
    /// equal deletions.
    package static func == (lhs: LogBatch, rhs: LogBatch) -> Bool {
        lhs.count == rhs.count && lhs.elementsEqual(rhs) && lhs.deletions == rhs.deletions
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        for record in self { hasher.combine(record) }
        hasher.combine(deletions)
    }
}

extension AttributeValue {
    fileprivate var isArray: Bool {
        if case .array = self { return true }
        return false
    }
}
