import Glibc
import SightlineCore

/// One encoded block of a part: its columns, its trigram filter and what the part's index keeps about it.
struct EncodedBlock: Sendable {
    var data: [UInt8]
    var bloom: TrigramBloom
    var minTime: UInt64
    var maxTime: UInt64
    var count: Int
    /// Bytes of the lines (``LogRecord/line``), for stats.
    var lineBytes: Int
}

/// Which records a block decode keeps: those in the time range whose line contains every needle.
struct RecordFilter: Sendable {
    var range: TimeRange
    var needles: [[UInt8]]

    static let all = RecordFilter(range: .all, needles: [])

    init(range: TimeRange, needles: [[UInt8]]) {
        self.range = range
        self.needles = needles.filter { !$0.isEmpty }
    }

    /// Whether `needle` (not empty) occurs in `haystack`: `memchr` finds candidates for the first byte, `memcmp` checks them.
    static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= haystack.count, let base = haystack.baseAddress else { return false }
        let last = haystack.count - needle.count
        return needle.withUnsafeBytes { pattern in
            guard let patternBase = pattern.baseAddress else { return false }
            var start = 0
            while start <= last {
                guard let hit = memchr(base + start, Int32(first), last - start + 1) else { return false }
                let position = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(hit, patternBase, needle.count) == 0 { return true }
                start = position + 1
            }
            return false
        }
    }

    /// Whether row `index` of `batch` (a head record, not yet in a block) is in the range and its line holds every
    /// needle: read from the row and the batch's bytes, without making the record.
    func keeps(row index: Int, of batch: LogBatch) -> Bool {
        let row = batch.rows[index]
        guard range.contains(row.effectiveTimeUnixNano) else { return false }
        guard !needles.isEmpty else { return true }
        if case .string = row.body.kind {
            return batch.bytes.withUnsafeBytes { matches(line: UnsafeRawBufferPointer(rebasing: $0[row.body.byteRange])) }
        }
        var line = batch.attributeValue(row.body).text
        return line.withUTF8 { matches(line: UnsafeRawBufferPointer($0)) }
    }

    /// Whether every needle occurs in `line`.
    func matches(line: UnsafeRawBufferPointer) -> Bool {
        for needle in needles {
            guard needle.count <= line.count else { return false }
            if !Self.contains(line, needle) { return false }
        }
        return true
    }
}

/// The columnar block format of the log store: records of one stream, sorted by time, each field in its own column,
/// each column compressed with LZ4 (see ``ColumnSetWriter``).
///
/// Columns, in order (per record unless said otherwise):
///  0. effective time (``LogRecord/effectiveTimeUnixNano``) as varint deltas from the previous record (sorted, so ≥ 0)
///  1. a byte: 0 when the record has a time, 1 when only the observed time is set (the effective time is then it)
///  2. for records with a time: observed time − time, zigzag varint (0 for "same", small for "shortly after")
///  3. severity number, zigzag varint
///  4. severity text, dictionary (see below)
///  5. body kind byte: 0 empty, 1 string, 2 any other value
///  6. length of each string body, varint
///  7. the string bodies concatenated: the lines, one column, so LZ4 finds repeats across lines
///  8. other bodies, tagged values
///  9. attribute keys and shapes: the block's distinct keys, its distinct key sequences ("shapes"), and per record the
///     index of its shape. Records of one logger repeat one shape, so this costs about a byte a record.
/// 10. dropped attributes count, varint
/// 11. flags, varint
/// 12. trace ids: a presence byte per record, then 16 bytes per present id
/// 13. span ids: a presence byte per record, then 8 bytes per present id
/// 14. event name, dictionary
/// 15. resource attributes, dictionary of encoded lists (a stream's records share one or a few)
/// 16. instrumentation scope, dictionary of encoded scopes
/// 17. a byte: 1 when the sender named the stream (``LogRecord/stream``), 0 when it was derived from the resource
/// 18+. one column per attribute key, the values of that key in record order: a mode byte and a count, then
///     mode 0 tagged values, 1 a string dictionary, 2 length-prefixed strings, 3 lowercase hex strings stored as their
///     bytes (trace and request ids: half the size, and the compressor sees the entropy of the bytes, not of hex).
///
/// A dictionary column is the entry count, the entries (length-prefixed), then an index varint per record. Blocks
/// are written by ``LogBlockEncoder``; this type reads them.
enum LogBlockCodec {
    static let fixedColumns = 18

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// A selected record's line as the block holds it: no body, UTF-8 bytes (valid only during the visit), or a body
    /// of another kind (its line is ``AttributeValue/text``).
    enum SelectedLine {
        case empty
        case utf8(UnsafeRawBufferPointer)
        case other(AttributeValue)

        /// The bytes of the record's line (``LogRecord/line`` as UTF-8).
        var byteCount: Int {
            switch self {
            case .empty: 0
            case .utf8(let bytes): bytes.count
            case .other(let value): value.text.utf8.count
            }
        }
    }

    /// Reads the columns that select records — effective times, body kinds and lines — and calls `visit`, in record
    /// order, with each record that `filter` keeps: its index, effective time and line.
    /// - Throws: `dataCorrupted` when these columns are missing, cut or inconsistent.
    static func selectLines(
        _ columns: ColumnSetReader, count: Int, filter: RecordFilter, _ visit: (Int, UInt64, SelectedLine) throws -> Void
    ) throws {
        guard columns.count >= fixedColumns else { throw SightlineError(.dataCorrupted, "block has \(columns.count) columns, fewer than \(fixedColumns)") }
        // Every record has a body kind byte: checking that count first bounds every allocation below.
        let bodyKinds = try columns.column(5)
        guard bodyKinds.count == count else { throw SightlineError(.dataCorrupted, "body kind column has \(bodyKinds.count) entries for \(count) records") }
        var effective: [UInt64] = []
        effective.reserveCapacity(count)
        try read(columns.column(0)) { r in
            var previous: UInt64 = 0
            for _ in 0..<count {
                previous &+= try r.readVarint()
                effective.append(previous)
            }
        }
        let lineLengthColumn = try columns.column(6)
        let lines = try columns.column(7)
        try lineLengthColumn.withUnsafeBytes { lengthBytes in
            try lines.withUnsafeBytes { lineBytes in
                try columns.column(8).withUnsafeBytes { otherBytes in
                    var lengths = ByteReader(lengthBytes)
                    var others = ByteReader(otherBytes)
                    var offset = 0
                    for index in 0..<count {
                        let inRange = filter.range.contains(effective[index])
                        switch bodyKinds[index] {
                        case 0:
                            if inRange && filter.needles.isEmpty { try visit(index, effective[index], .empty) }
                        case 1:
                            let length = try lengths.readVarint()
                            guard length <= UInt64(lineBytes.count - offset) else {
                                throw SightlineError(.dataCorrupted, "line \(index) runs past the lines column")
                            }
                            let line = UnsafeRawBufferPointer(rebasing: lineBytes[offset..<(offset + Int(length))])
                            offset += Int(length)
                            if inRange && (filter.needles.isEmpty || filter.matches(line: line)) { try visit(index, effective[index], .utf8(line)) }
                        case 2:
                            let body = try others.readAttributeValue()
                            guard inRange else { continue }
                            if !filter.needles.isEmpty {
                                let text = Array(body.text.utf8)
                                guard text.withUnsafeBytes({ filter.matches(line: $0) }) else { continue }
                            }
                            try visit(index, effective[index], .other(body))
                        default:
                            throw SightlineError(.dataCorrupted, "unknown body kind \(bodyKinds[index])")
                        }
                    }
                }
            }
        }
    }

    /// Calls `visit` with the effective time and line bytes of each record that `filter` keeps, in record order, as
    /// ``selectLines(_:count:filter:_:)`` would, for counts. Without needles to look for, a string line's length
    /// (column 6) is all a count needs, so the lines themselves (column 7, by far the largest) are not decompressed;
    /// the lengths are checked against its length in the column directory instead.
    /// - Throws: `dataCorrupted` when these columns are missing, cut or inconsistent.
    static func selectLineLengths(_ columns: ColumnSetReader, count: Int, filter: RecordFilter, _ visit: (UInt64, Int) throws -> Void) throws {
        guard filter.needles.isEmpty else {
            try selectLines(columns, count: count, filter: filter) { _, time, line in try visit(time, line.byteCount) }
            return
        }
        guard columns.count >= fixedColumns else { throw SightlineError(.dataCorrupted, "block has \(columns.count) columns, fewer than \(fixedColumns)") }
        let bodyKinds = try columns.column(5)
        guard bodyKinds.count == count else { throw SightlineError(.dataCorrupted, "body kind column has \(bodyKinds.count) entries for \(count) records") }
        let linesLength = try columns.rawLength(7)
        // Other bodies are rare: their column is read only when a record has one.
        let others = bodyKinds.contains(2) ? try columns.column(8) : []
        try read(columns.column(0)) { times in
            try read(columns.column(6)) { lengths in
                try others.withUnsafeBytes { otherBytes in
                    var otherReader = ByteReader(otherBytes)
                    var time: UInt64 = 0
                    var offset = 0
                    for index in 0..<count {
                        time &+= try times.readVarint()
                        let inRange = filter.range.contains(time)
                        switch bodyKinds[index] {
                        case 0:
                            if inRange { try visit(time, 0) }
                        case 1:
                            let length = try lengths.readVarint()
                            guard length <= UInt64(linesLength - offset) else {
                                throw SightlineError(.dataCorrupted, "line \(index) runs past the lines column")
                            }
                            offset += Int(length)
                            if inRange { try visit(time, Int(length)) }
                        case 2:
                            let body = try otherReader.readAttributeValue()
                            if inRange { try visit(time, body.text.utf8.count) }
                        default:
                            throw SightlineError(.dataCorrupted, "unknown body kind \(bodyKinds[index])")
                        }
                    }
                }
            }
        }
    }

    /// Calls `visit` with the effective time, line bytes and group of each record of a block of the stream
    /// `streamLabels` that `filter` keeps, for counts per group of `groupBy` (see ``LogRecord/groupingValue(_:)``).
    ///
    /// The group is nil when it is the stream's own: when no record of the block can have structured metadata named
    /// like a grouping label (``mayHaveMetadata(named:_:count:)``). Then only the columns that select records are read
    /// and no record is built; and when `whole` is given (every record is kept and they share one bucket), not even
    /// those: `visit` gets the block's first time, record count and line bytes once. Otherwise the block is decoded
    /// and each record's group computed as a scan hands the record, with ``LogRecord/stream`` set to `streamLabels`.
    /// - Throws: `dataCorrupted` when a column is missing, cut or inconsistent.
    static func countLines(
        _ data: [UInt8], count: Int, filter: RecordFilter, groupBy: [String], streamLabels: Labels,
        whole: (time: UInt64, lineBytes: Int)?, _ visit: (_ time: UInt64, _ records: Int, _ bytes: Int, _ group: [String]?) -> Void
    ) throws {
        try countLines(ColumnSetReader(data), count: count, filter: filter, groupBy: groupBy, streamLabels: streamLabels, whole: whole, visit)
    }

    /// ``countLines(_:count:filter:groupBy:streamLabels:whole:_:)`` over a block whose column directory is read: only
    /// the columns it needs are decompressed (and, from a part, read).
    static func countLines(
        _ columns: ColumnSetReader, count: Int, filter: RecordFilter, groupBy: [String], streamLabels: Labels,
        whole: (time: UInt64, lineBytes: Int)?, _ visit: (_ time: UInt64, _ records: Int, _ bytes: Int, _ group: [String]?) -> Void
    ) throws {
        // A stream without labels takes its labels from each record's resource, so only records can say.
        let ownGroup = try groupBy.isEmpty || (!streamLabels.labels.isEmpty && !mayHaveMetadata(named: groupBy, columns, count: count))
        if ownGroup {
            if let whole {
                visit(whole.time, count, whole.lineBytes, nil)
                return
            }
            try selectLineLengths(columns, count: count, filter: filter) { time, bytes in visit(time, 1, bytes, nil) }
            return
        }
        for record in try decode(columns, count: count, streamLabels: streamLabels, filter: filter) {
            visit(record.effectiveTimeUnixNano, 1, record.line.utf8.count, record.group(groupBy, inStream: streamLabels))
        }
    }

    /// Whether a record of a block of a stream with labels can have structured metadata
    /// (``LogRecord/structuredMetadataValue(_:)``) named like one of `names`: an attribute whose key becomes one of the
    /// names, or a trace id or span id when `trace_id` or `span_id` is one; always when `detected_level` is one.
    /// (Resource attributes and severity texts are structured metadata only of records without stream labels.) Reads
    /// only the columns these are in.
    /// - Throws: `dataCorrupted` when one of them is missing or cut.
    static func mayHaveMetadata(named names: [String], _ columns: ColumnSetReader, count: Int) throws -> Bool {
        var found = false
        try read(columns.column(9)) { r in
            let keyCount = try r.readCount()
            for _ in 0..<keyCount {
                let key = try r.readString()
                if names.contains(where: { LogRecord.isLabelName($0, of: key) }) {
                    found = true
                    return
                }
            }
        }
        // Every record has a level (derived from the record when it has none of its own).
        if found || names.contains(LogLevelDetection.label) { return true }
        /// Whether a presence column (a byte per record, then the ids) marks an id present.
        func anyPresent(_ column: Int) throws -> Bool {
            let bytes = try columns.column(column)
            guard bytes.count >= count else { throw SightlineError(.dataCorrupted, "id column \(column) has fewer than \(count) presence bytes") }
            return bytes[0..<count].contains { $0 != 0 }
        }
        if names.contains("trace_id"), try anyPresent(12) { return true }
        if names.contains("span_id"), try anyPresent(13) { return true }
        return false
    }

    // MARK: Decoding

    /// Decodes the records of a block that `filter` keeps, in time order, with ``LogRecord/stream`` set to
    /// `streamLabels` for records whose sender named the stream (as they were ingested).
    /// - Throws: `dataCorrupted` when a column is missing, cut or inconsistent.
    static func decode(_ data: [UInt8], count: Int, streamLabels: Labels, filter: RecordFilter) throws -> [LogRecord] {
        try decode(ColumnSetReader(data), count: count, streamLabels: streamLabels, filter: filter)
    }

    /// ``decode(_:count:streamLabels:filter:)`` over a block whose column directory is read.
    static func decode(_ columns: ColumnSetReader, count: Int, streamLabels: Labels, filter: RecordFilter) throws -> [LogRecord] {
        // Times and lines first: they decide which records are kept.
        var keep = [Bool](repeating: false, count: count)
        var records: [LogRecord] = []
        try selectLines(columns, count: count, filter: filter) { index, time, line in
            keep[index] = true
            let body: AttributeValue
            switch line {
            case .empty: body = .empty
            case .utf8(let bytes): body = .string(String(decoding: bytes, as: UTF8.self))
            case .other(let value): body = value
            }
            var record = LogRecord(timeUnixNano: time, body: body)
            record.observedTimeUnixNano = time
            records.append(record)
        }
        guard !records.isEmpty else { return [] }

        /// Calls `body` with the index of each record and the index of the kept record, or nil.
        func forEach(_ body: (Int, Int?) throws -> Void) rethrows {
            var out = 0
            for index in 0..<count {
                if keep[index] {
                    try body(index, out)
                    out += 1
                } else {
                    try body(index, nil)
                }
            }
        }

        let timeKinds = try columns.column(1)
        guard timeKinds.count == count else { throw SightlineError(.dataCorrupted, "time kind column has \(timeKinds.count) entries for \(count) records") }
        try read(columns.column(2)) { r in
            try forEach { index, out in
                if timeKinds[index] == 0 {
                    let delta = try r.readSignedVarint()
                    if let out { records[out].observedTimeUnixNano = records[out].timeUnixNano &+ UInt64(bitPattern: delta) }
                } else if let out {
                    records[out].timeUnixNano = 0
                }
            }
        }
        try read(columns.column(3)) { r in
            try forEach { _, out in
                let value = try r.readSignedVarint()
                if let out { records[out].severityNumber = Int32(truncatingIfNeeded: value) }
            }
        }
        let severityTexts = try DictionaryColumn.decodeStrings(columns.column(4), count: count, "severity text")
        let eventNames = try DictionaryColumn.decodeStrings(columns.column(14), count: count, "event name")
        let resources = try DictionaryColumn.decode(columns.column(15), count: count, "resource") { r in try r.readAttributes() }
        let scopes = try DictionaryColumn.decode(columns.column(16), count: count, "scope") { r in try r.readScope() }
        let explicit = try columns.column(17)
        guard explicit.count == count else { throw SightlineError(.dataCorrupted, "stream column has \(explicit.count) entries for \(count) records") }
        forEach { index, out in
            guard let out else { return }
            records[out].severityText = severityTexts[index]
            records[out].eventName = eventNames[index]
            records[out].resource = resources[index]
            records[out].scope = scopes[index]
            if explicit[index] != 0 { records[out].stream = streamLabels }
        }
        try read(columns.column(10)) { r in
            try forEach { _, out in
                let value = try r.readVarint()
                if let out { records[out].droppedAttributesCount = UInt32(truncatingIfNeeded: value) }
            }
        }
        try read(columns.column(11)) { r in
            try forEach { _, out in
                let value = try r.readVarint()
                if let out { records[out].flags = UInt32(truncatingIfNeeded: value) }
            }
        }
        try read(columns.column(12)) { r in
            var presence: [UInt8] = []
            presence.reserveCapacity(count)
            for _ in 0..<count { presence.append(try r.readByte()) }
            try forEach { index, out in
                guard presence[index] != 0 else { return }
                let id = TraceID(high: try r.readUInt64LE(), low: try r.readUInt64LE())
                if let out { records[out].traceID = id }
            }
        }
        try read(columns.column(13)) { r in
            var presence: [UInt8] = []
            presence.reserveCapacity(count)
            for _ in 0..<count { presence.append(try r.readByte()) }
            try forEach { index, out in
                guard presence[index] != 0 else { return }
                let id = SpanID(try r.readUInt64LE())
                if let out { records[out].spanID = id }
            }
        }

        // Attributes: keys and shapes, then one value column per key.
        var keyList: [String] = []
        var shapeList: [[Int]] = []
        var recordShapes: [Int] = []
        recordShapes.reserveCapacity(count)
        try read(columns.column(9)) { r in
            let keyCount = try r.readCount()
            for _ in 0..<keyCount { keyList.append(try r.readString()) }
            let shapeCount = try r.readCount()
            for _ in 0..<shapeCount {
                let length = try r.readCount()
                var shape: [Int] = []
                shape.reserveCapacity(length)
                for _ in 0..<length { shape.append(try r.readIndex(below: keyCount, "attribute key")) }
                shapeList.append(shape)
            }
            for _ in 0..<count { recordShapes.append(try r.readIndex(below: shapeCount, "attribute shape")) }
        }
        guard columns.count == fixedColumns + keyList.count else {
            throw SightlineError(.dataCorrupted, "block has \(columns.count) columns for \(keyList.count) attribute keys")
        }
        var keyValues: [[AttributeValue]] = []
        keyValues.reserveCapacity(keyList.count)
        for key in keyList.indices { keyValues.append(try decodeValues(columns.column(fixedColumns + key))) }
        var cursors = [Int](repeating: 0, count: keyList.count)
        try forEach { index, out in
            let shape = shapeList[recordShapes[index]]
            var attributes: [Attribute] = []
            if out != nil { attributes.reserveCapacity(shape.count) }
            for key in shape {
                guard cursors[key] < keyValues[key].count else {
                    throw SightlineError(.dataCorrupted, "attribute \(keyList[key]) has fewer values than its records")
                }
                if out != nil { attributes.append(Attribute(keyList[key], keyValues[key][cursors[key]])) }
                cursors[key] += 1
            }
            if let out { records[out].attributes = attributes }
        }
        return records
    }

    /// Reads the values of one attribute key.
    private static func decodeValues(_ column: [UInt8]) throws -> [AttributeValue] {
        try column.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            let mode = try r.readByte()
            let count = try r.readCount()
            var values: [AttributeValue] = []
            values.reserveCapacity(count)
            switch mode {
            case 0:
                for _ in 0..<count { values.append(try r.readAttributeValue()) }
            case 1:
                let strings = try DictionaryColumn.decodeStrings(Array(UnsafeRawBufferPointer(rebasing: raw[r.offset...])), count: count, "attribute value")
                return strings.map { .string($0) }
            case 2:
                for _ in 0..<count { values.append(.string(try r.readString())) }
            case 3:
                for _ in 0..<count {
                    let length = try r.readLength()
                    var text = [UInt8]()
                    text.reserveCapacity(length * 2)
                    for _ in 0..<length {
                        let byte = try r.readByte()
                        text.append(hexDigits[Int(byte >> 4)])
                        text.append(hexDigits[Int(byte & 0x0F)])
                    }
                    values.append(.string(String(decoding: text, as: UTF8.self)))
                }
            default:
                throw SightlineError(.dataCorrupted, "unknown attribute column mode \(mode)")
            }
            return values
        }
    }

    /// Runs `body` with a reader over `column`.
    private static func read(_ column: [UInt8], _ body: (inout ByteReader) throws -> Void) throws {
        try column.withUnsafeBytes { raw in
            var reader = ByteReader(raw)
            try body(&reader)
        }
    }
}

/// A dictionary-encoded column: distinct entries once, then an index per record.
struct DictionaryColumn {
    private var lookup: [[UInt8]: Int] = [:]
    private var stringLookup: [String: Int] = [:]
    private var entries = ByteWriter(capacity: 64)
    private(set) var entryCount = 0
    private var indexes = ByteWriter(capacity: 64)
    private var lastString: String?
    private var lastIndex = 0

    /// Appends a string, adding it to the dictionary when new; returns its index.
    @discardableResult
    mutating func append(_ value: String) -> Int {
        if let lastString, lastString == value {
            indexes.writeVarint(UInt64(lastIndex))
            return lastIndex
        }
        let index: Int
        if let known = stringLookup[value] {
            index = known
        } else {
            index = entryCount
            entryCount += 1
            stringLookup[value] = index
            entries.writeString(value)
        }
        lastString = value
        lastIndex = index
        indexes.writeVarint(UInt64(index))
        return index
    }

    /// Appends an encoded value, adding it to the dictionary when new; returns its index.
    @discardableResult
    mutating func append(_ value: [UInt8]) -> Int {
        let index: Int
        if let known = lookup[value] {
            index = known
        } else {
            index = entryCount
            entryCount += 1
            lookup[value] = index
            entries.writeBytes(value)
        }
        indexes.writeVarint(UInt64(index))
        return index
    }

    /// Appends the index of an entry already added.
    mutating func appendIndex(_ index: Int) { indexes.writeVarint(UInt64(index)) }

    /// The column: entry count, entries, indexes.
    func encoded() -> [UInt8] {
        var out = ByteWriter(capacity: entries.bytes.count + indexes.bytes.count + 8)
        out.writeVarint(UInt64(entryCount))
        out.writeRaw(entries.bytes)
        out.writeRaw(indexes.bytes)
        return out.bytes
    }

    /// Decodes `count` values, each entry decoded once by `entry`.
    static func decode<T>(_ column: [UInt8], count: Int, _ what: String, entry: (inout ByteReader) throws -> T) throws -> [T] {
        try column.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            let entryCount = try r.readCount()
            var values: [T] = []
            values.reserveCapacity(entryCount)
            for _ in 0..<entryCount {
                let bytes = try r.readBytes()
                try bytes.withUnsafeBytes { entryBytes in
                    var inner = ByteReader(entryBytes)
                    values.append(try entry(&inner))
                    guard inner.isAtEnd else { throw SightlineError(.dataCorrupted, "\(what) dictionary entry has trailing bytes") }
                }
            }
            var result: [T] = []
            result.reserveCapacity(count)
            for _ in 0..<count { result.append(values[try r.readIndex(below: entryCount, what)]) }
            return result
        }
    }

    /// Decodes `count` strings.
    static func decodeStrings(_ column: [UInt8], count: Int, _ what: String) throws -> [String] {
        try column.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            let entryCount = try r.readCount()
            var values: [String] = []
            values.reserveCapacity(entryCount)
            for _ in 0..<entryCount { values.append(try r.readString()) }
            var result: [String] = []
            result.reserveCapacity(count)
            for _ in 0..<count { result.append(values[try r.readIndex(below: entryCount, what)]) }
            return result
        }
    }
}

extension LogRecord {
    /// The group of `names` (``groupingValue(_:)`` of each) of this record of the stream `streamLabels`, as a scan
    /// hands it: with ``stream`` set to the stream's labels.
    func group(_ names: [String], inStream streamLabels: Labels) -> [String] {
        var handed = self
        handed.stream = streamLabels
        return names.map { handed.groupingValue($0) }
    }
}
