package import SightlineCore

/// Decodes Loki push requests (`POST /loki/api/v1/push`) into log records.
///
/// Two body formats, as Loki accepts them:
/// - JSON: `{"streams":[{"stream":{"app":"api"},"values":[["<ns>","line"],["<ns>","line",{"trace_id":"…"}]]}]}`.
///   Timestamps are strings of nanoseconds since the epoch (a bare integer is accepted too).
/// - Snappy-compressed protobuf, `logproto.PushRequest` from grafana/loki `pkg/push/push.proto`:
///   `PushRequest.streams = 1` (repeated `StreamAdapter`); `StreamAdapter`: `labels = 1` (the selector text
///   `{app="api"}`), `entries = 2` (repeated `EntryAdapter`), `hash = 3` (ignored); `EntryAdapter`: `timestamp = 1`
///   (`google.protobuf.Timestamp`: `seconds = 1`, `nanos = 2`), `line = 2`, `structuredMetadata = 3` (repeated
///   `LabelPairAdapter`: `name = 1`, `value = 2`).
///
/// Stream labels become ``LogRecord/stream`` (with a `service_name` as Loki 3 discovers it, see ``LokiServiceName``),
/// the line the string body, structured metadata string attributes.
/// The severity comes from a `level`, `severity` or `log.level` structured metadata entry, or else from a `level` or
/// `severity` stream label (see ``LogSeverity``); it stays 0 otherwise.
///
/// Malformed bodies and invalid stream labels throw (Loki refuses the whole request too); an entry with a
/// negative timestamp is rejected alone and counted in ``DecodedBatch/rejected``.
package enum LokiPushDecoder {
    /// Decodes a JSON push body.
    /// - Throws: ``SightlineError`` `.invalidArgument` naming the offending path, e.g.
    ///   `malformed Loki push JSON at streams[0].values[2][0]: the timestamp must be a string of nanoseconds`.
    package static func decode(json: UnsafeRawBufferPointer) throws -> DecodedBatch {
        // Read value by value: a JSONValue tree cost several allocations per entry, only to be walked once.
        var parser = JSONParser(reading: json)
        var entries = EntryWriter()
        // The strings' bytes are at most the body's (each comes from at least as many bytes of it), so that much room
        // never regrows; rows and attributes are guessed from entries of a few hundred bytes with a few metadata pairs.
        entries.batch.reserveCapacity(rows: json.count / 256, bytes: json.count, attributes: json.count / 48)
        do {
            guard let type = parser.nextType() else { _ = try parser.readValue(); return DecodedBatch(.logs([])) }
            guard type == "object" else { throw FieldPathError("the body must be a JSON object, not \(type)") }
            try parser.beginObject()
            var members = 0
            while let key = try parser.nextKey(&members) {
                guard key == "streams" else {
                    _ = try parser.readValue()
                    continue
                }
                if try parser.skipNull() { continue }
                guard parser.nextType() == "array" else { throw FieldPathError("streams must be an array") }
                try parser.beginArray()
                var streams = 0
                while try parser.nextElement(&streams) {
                    try withFieldPath("streams[\(streams - 1)]") {
                        try decodeJSONStream(&parser, into: &entries)
                    }
                }
            }
            try parser.end()
        } catch let error as FieldPathError {
            throw SightlineError(.invalidArgument, "malformed Loki push JSON\(error.path.isEmpty ? "" : " at \(error.path)"): \(error.reason)")
        }
        return entries.decoded()
    }

    /// Decodes a JSON push body held in a byte array.
    package static func decode(json: [UInt8]) throws -> DecodedBatch {
        try json.withUnsafeBytes { try decode(json: $0) }
    }

    /// Decompresses a Snappy-compressed `PushRequest` and decodes it.
    /// - Throws: ``SightlineError`` `.tooLarge` when it declares more than `maxDecompressed` bytes; `.invalidArgument`
    ///   for a malformed Snappy block, protobuf or stream selector.
    package static func decode(snappyProtobuf: UnsafeRawBufferPointer, maxDecompressed: Int) throws -> DecodedBatch {
        let protobuf = try Snappy.decompress(snappyProtobuf, maxOutput: maxDecompressed)
        return try protobuf.withUnsafeBytes { try decode(protobuf: $0) }
    }

    /// Decompresses and decodes a Snappy-compressed `PushRequest` held in a byte array.
    package static func decode(snappyProtobuf: [UInt8], maxDecompressed: Int) throws -> DecodedBatch {
        try snappyProtobuf.withUnsafeBytes { try decode(snappyProtobuf: $0, maxDecompressed: maxDecompressed) }
    }

    /// Decodes an uncompressed `PushRequest`.
    /// - Throws: ``SightlineError`` `.invalidArgument`, e.g. `malformed protobuf in PushRequest.streams[0]: truncated varint`.
    package static func decode(protobuf: UnsafeRawBufferPointer) throws -> DecodedBatch {
        var entries = EntryWriter()
        do {
            var reader = ProtobufReader(protobuf)
            var streamIndex = 0
            while let field = try reader.nextField() {
                if field == 1 {
                    try reader.readMessage("streams", index: streamIndex) { try decodeStream(&$0, into: &entries) }
                    streamIndex += 1
                } else {
                    try reader.skipField()
                }
            }
        } catch let error as FieldPathError {
            throw error.sightlineError(prefix: "malformed protobuf in", root: "PushRequest")
        }
        return entries.decoded()
    }

    /// Decodes an uncompressed `PushRequest` held in a byte array.
    package static func decode(protobuf: [UInt8]) throws -> DecodedBatch {
        try protobuf.withUnsafeBytes { try decode(protobuf: $0) }
    }

    // MARK: - JSON

    /// Reads one stream object. Its `values` may come before its `stream` labels; such entries get them when they come.
    private static func decodeJSONStream(_ parser: inout JSONParser, into entries: inout EntryWriter) throws {
        let type = parser.nextType() ?? "nothing"
        guard type == "object" else { throw FieldPathError("a stream must be an object, not \(type)") }
        try parser.beginObject()
        entries.beginStream()
        var members = 0
        var sawStream = false
        while let key = try parser.nextKey(&members) {
            switch key {
            case "stream":
                guard !sawStream else { throw FieldPathError("stream appears twice in one stream object") }
                sawStream = true
                var labels: [Label] = []
                if try !parser.skipNull() {
                    guard parser.nextType() == "object" else { throw FieldPathError("stream must be an object of label values") }
                    try parser.beginObject()
                    var count = 0
                    while let name = try parser.nextKey(&count) {
                        guard parser.nextType() == "string" else {
                            throw withPath(FieldPathError("label values must be strings, not \(parser.nextType() ?? "nothing")"), ".stream.\(name)")
                        }
                        labels.append(Label(name, try parser.readString()))
                    }
                }
                entries.setStream(try LokiLabelSelector.validated(labels))
            case "values":
                if try parser.skipNull() { continue }
                guard parser.nextType() == "array" else { throw withPath(FieldPathError("values must be an array"), ".values") }
                try parser.beginArray()
                var count = 0
                while try parser.nextElement(&count) {
                    try withFieldPath(".values[\(count - 1)]") { try decodeJSONEntry(&parser, into: &entries) }
                }
            default:
                _ = try parser.readValue()
            }
        }
        if !sawStream { entries.setStream(try LokiLabelSelector.validated([])) }
    }

    /// Reads `[timestamp, line]` or `[timestamp, line, structured metadata]` into the batch.
    private static func decodeJSONEntry(_ parser: inout JSONParser, into entries: inout EntryWriter) throws {
        let shape = FieldPathError("an entry must be an array of [timestamp, line] or [timestamp, line, structured metadata]")
        guard parser.nextType() == "array" else { throw shape }
        try parser.beginArray()
        var count = 0
        guard try parser.nextElement(&count) else { throw shape }
        let time = try readTimestamp(&parser)
        guard try parser.nextElement(&count) else { throw shape }
        guard parser.nextType() == "string" else {
            throw withPath(FieldPathError("the line must be a string, not \(parser.nextType() ?? "nothing")"), "[1]")
        }
        let line = try entries.batch.appendString { try parser.readString(appendingTo: &$0) }
        if try parser.nextElement(&count) {
            if try !parser.skipNull() {
                guard parser.nextType() == "object" else {
                    throw withPath(FieldPathError("structured metadata must be an object of strings"), "[2]")
                }
                try parser.beginObject()
                var members = 0
                while let key = try parser.nextRawKey(&members) {
                    guard parser.nextType() == "string" else {
                        throw withPath(
                            FieldPathError("structured metadata values must be strings, not \(parser.nextType() ?? "nothing")"), "[2].\(key.text)")
                    }
                    let value = try entries.batch.appendString { try parser.readString(appendingTo: &$0) }
                    entries.appendMetadata(key, value)
                }
            }
            guard try !parser.nextElement(&count) else { throw shape }
        }
        entries.finishEntry(time: time, line: line)
    }

    /// Reads an entry's timestamp: a string of nanoseconds, or a bare integer.
    private static func readTimestamp(_ parser: inout JSONParser) throws -> Int64 {
        switch parser.nextType() {
        case "string":
            let text: String
            if let digits = try parser.readUnescapedStringBytes() {
                if let time = integer(digits) { return time }
                text = String(decoding: digits, as: UTF8.self)
            } else {
                text = try parser.readString()  // escapes (or non-ASCII): read as text
                if let time = Int64(text) { return time }
            }
            throw withPath(FieldPathError("the timestamp \"\(text)\" is not an integer of nanoseconds"), "[0]")
        case "number":
            guard let time = try parser.readValue().int64Value else {
                throw withPath(FieldPathError("the timestamp is not an integer of nanoseconds"), "[0]")
            }
            return time
        case let type:
            throw withPath(FieldPathError("the timestamp must be a string of nanoseconds, not \(type ?? "nothing")"), "[0]")
        }
    }

    /// The decimal integer `bytes` spell (an optional sign, then digits), as `Int64(_:)` reads it; nil otherwise.
    private static func integer(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        var index = 0
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            index = 1
        }
        guard index < bytes.count else { return nil }
        var value: Int64 = 0
        while index < bytes.count {
            let digit = Int64(bytes[index]) - Int64(UInt8(ascii: "0"))
            guard (0...9).contains(digit) else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflow && !overflow2 else { return nil }
            value = next
            index += 1
        }
        return value
    }

    private static func withPath(_ error: FieldPathError, _ component: String) -> FieldPathError {
        var error = error
        error.reversedPath.append(component)
        return error
    }

    // MARK: - Protobuf

    private static func decodeStream(_ reader: inout ProtobufReader, into entries: inout EntryWriter) throws {
        var selector = ""
        var entryIndex = 0
        entries.beginStream()
        while let field = try reader.nextField() {
            switch field {
            case 1:
                selector = try reader.readString("labels")
            case 2:
                try reader.readMessage("entries", index: entryIndex) { try decodeEntry(&$0, into: &entries) }
                entryIndex += 1
            default:
                try reader.skipField()
            }
        }
        entries.setStream(try LokiLabelSelector.parse(selector))
    }

    private static func decodeEntry(_ reader: inout ProtobufReader, into entries: inout EntryWriter) throws {
        var seconds: Int64 = 0
        var nanos: Int64 = 0
        var line = LogBatch.Value(kind: .string, length: 0, payload: 0)
        var metadataIndex = 0
        while let field = try reader.nextField() {
            switch field {
            case 1:
                try reader.readMessage("timestamp") { timestamp in
                    while let field = try timestamp.nextField() {
                        switch field {
                        case 1: seconds = Int64(bitPattern: try timestamp.readVarint("seconds"))
                        case 2: nanos = Int64(try timestamp.readInt32("nanos"))
                        default: try timestamp.skipField()
                        }
                    }
                }
            case 2:
                line = entries.batch.store(.string(try reader.readString("line")))
            case 3:
                let (name, value) = try reader.readMessage("structuredMetadata", index: metadataIndex) { pair -> (String, String) in
                    var name = ""
                    var value = ""
                    while let field = try pair.nextField() {
                        switch field {
                        case 1: name = try pair.readString("name")
                        case 2: value = try pair.readString("value")
                        default: try pair.skipField()
                        }
                    }
                    return (name, value)
                }
                entries.appendMetadata(.text(name), entries.batch.store(.string(value)))
                metadataIndex += 1
            default:
                try reader.skipField()
            }
        }
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (time, overflow2) = product.addingReportingOverflow(nanos)
        entries.finishEntry(time: overflow || overflow2 ? -1 : time, line: line)
    }

    // MARK: - Records

    /// Writes entries into a log batch as the decoders read them: a row per entry, its line and structured metadata
    /// in the batch's bytes, its stream and severity set once its stream's labels are known (JSON may give them
    /// after the entries). The severity comes from the entry's metadata (``LogSeverity/levelKeys``, the first key
    /// whose last value is not empty), else from the stream's labels.
    private struct EntryWriter {
        var batch = LogBatch()
        var tally = RejectionTally()
        /// Rows of the current stream: their stream labels and (for those whose metadata names no level) severity
        /// are set by ``setStream(_:)``.
        private var streamRows: Range<Int> = 0..<0
        private var rowsWithoutLevel: [Int] = []
        /// The metadata keys' numbers in the batch, by place (entries mostly repeat their keys), and how many keys
        /// the current entry has so far.
        private var keys = KeyNumbersByPlace()
        private var keyCount = 0
        /// For each string number of the batch: its place in ``LogSeverity/levelKeys`` as a key, -1 when it is none
        /// of them, -2 until looked up.
        private var levelRanks: [Int] = []
        /// The current entry's last value of each of ``LogSeverity/levelKeys`` (empty when none).
        private var levels: [LogBatch.Value] = Array(repeating: .empty, count: LogSeverity.levelKeys.count)

        /// The current stream's number in the batch and the severity its labels give, once its labels are known.
        private var stream: (labels: Labels, number: UInt32, level: (number: Int32, text: UInt32)?)?
        /// Entries of the current stream rejected before its labels were known.
        private var rejectedBeforeLabels = 0

        mutating func beginStream() {
            stream = nil
            streamRows = batch.count..<batch.count
            rowsWithoutLevel.removeAll(keepingCapacity: true)
        }

        /// Adds a metadata pair of the current entry.
        mutating func appendMetadata(_ key: JSONParser.RawKey, _ value: LogBatch.Value) {
            let number = switch key {
            case .bytes(let bytes): keys.number(bytes, at: keyCount, in: &batch)
            case .text(let text): keys.number(text, at: keyCount, in: &batch)
            }
            keyCount += 1
            batch.appendAttribute(key: number, value: value)
            while levelRanks.count <= Int(number) { levelRanks.append(-2) }
            if levelRanks[Int(number)] == -2 {
                levelRanks[Int(number)] = LogSeverity.levelKeys.firstIndex(of: batch.strings[Int(number)]) ?? -1
            }
            let rank = levelRanks[Int(number)]
            if rank >= 0 { levels[rank] = value }
        }

        /// Ends the current entry: a row of `line` at `time`, or a rejection when the time is negative.
        mutating func finishEntry(time: Int64, line: LogBatch.Value) {
            keyCount = 0
            var severity: (number: Int32, text: UInt32)?
            if let level = levels.first(where: { $0.length > 0 }) {
                let text = batch.string(level)
                severity = (LogSeverity.number(forLevel: text), batch.number(string: text))
            }
            for index in levels.indices { levels[index] = .empty }
            guard time >= 0 else {
                batch.discardPendingAttributes()
                if let stream { reject(1, labels: stream.labels) } else { rejectedBeforeLabels += 1 }
                return
            }
            if severity == nil {
                if let stream { severity = stream.level } else { rowsWithoutLevel.append(batch.count) }
            }
            batch.appendRow(
                LogBatch.Row(
                    timeUnixNano: UInt64(time), severityNumber: severity?.number ?? 0, severityText: severity?.text ?? 0, body: line,
                    stream: stream?.number ?? 0))
            if stream == nil { streamRows = streamRows.lowerBound..<batch.count }
        }

        /// Sets the current stream's labels (with a discovered `service_name`, see ``LokiServiceName``): the rows read
        /// before them get them now, and those without a level of their own the one the labels give.
        mutating func setStream(_ sent: Labels) {
            let labels = LokiServiceName.discovered(sent)
            let number = batch.number(stream: labels)
            var level: (number: Int32, text: UInt32)?
            if let text = LogSeverity.levelKeys.lazy.compactMap({ labels[$0] }).first(where: { !$0.isEmpty }) {
                level = (LogSeverity.number(forLevel: text), batch.number(string: text))
            }
            for index in streamRows { batch.modifyRow(index) { $0.stream = number } }
            if let level {
                for index in rowsWithoutLevel {
                    batch.modifyRow(index) { row in
                        row.severityNumber = level.number
                        row.severityText = level.text
                    }
                }
            }
            if rejectedBeforeLabels > 0 { reject(rejectedBeforeLabels, labels: labels) }
            rejectedBeforeLabels = 0
            rowsWithoutLevel.removeAll(keepingCapacity: true)
            stream = (labels, number, level)
        }

        private mutating func reject(_ count: Int, labels: Labels) {
            tally.reject(count, "an entry of stream \(labels) has a timestamp before 1970 or out of range")
        }

        /// The batch and its rejections.
        func decoded() -> DecodedBatch {
            DecodedBatch(.logs(batch), rejected: tally.count, rejectionMessage: tally.message)
        }
    }
}
