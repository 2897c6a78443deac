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
/// Stream labels become ``LogRecord/stream``, the line the string body, structured metadata string attributes.
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
        var records: [LogRecord] = []
        var tally = RejectionTally()
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
                        try decodeJSONStream(&parser, into: &records, tally: &tally)
                    }
                }
            }
            try parser.end()
        } catch let error as FieldPathError {
            throw SightlineError(.invalidArgument, "malformed Loki push JSON\(error.path.isEmpty ? "" : " at \(error.path)"): \(error.reason)")
        }
        return DecodedBatch(.logs(records), rejected: tally.count, rejectionMessage: tally.message)
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
        var records: [LogRecord] = []
        var tally = RejectionTally()
        do {
            var reader = ProtobufReader(protobuf)
            var streamIndex = 0
            while let field = try reader.nextField() {
                if field == 1 {
                    try reader.readMessage("streams", index: streamIndex) { try decodeStream(&$0, into: &records, tally: &tally) }
                    streamIndex += 1
                } else {
                    try reader.skipField()
                }
            }
        } catch let error as FieldPathError {
            throw error.sightlineError(prefix: "malformed protobuf in", root: "PushRequest")
        }
        return DecodedBatch(.logs(records), rejected: tally.count, rejectionMessage: tally.message)
    }

    /// Decodes an uncompressed `PushRequest` held in a byte array.
    package static func decode(protobuf: [UInt8]) throws -> DecodedBatch {
        try protobuf.withUnsafeBytes { try decode(protobuf: $0) }
    }

    // MARK: - JSON

    /// Reads one stream object. Its `values` may come before its `stream` labels; such entries wait for them.
    private static func decodeJSONStream(_ parser: inout JSONParser, into records: inout [LogRecord], tally: inout RejectionTally) throws {
        let type = parser.nextType() ?? "nothing"
        guard type == "object" else { throw FieldPathError("a stream must be an object, not \(type)") }
        try parser.beginObject()
        // Senders put "stream" before "values", so entries become records as they are read; entries that come
        // before their stream's labels wait for them.
        var stream: Stream?
        var waiting: [(time: Int64, line: String, metadata: [Attribute])] = []
        var members = 0
        while let key = try parser.nextKey(&members) {
            switch key {
            case "stream":
                guard stream == nil else { throw FieldPathError("stream appears twice in one stream object") }
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
                let validated = Stream(try LokiLabelSelector.validated(labels))
                stream = validated
                for entry in waiting {
                    append(time: entry.time, line: entry.line, metadata: entry.metadata, stream: validated, into: &records, tally: &tally)
                }
                waiting = []
            case "values":
                if try parser.skipNull() { continue }
                guard parser.nextType() == "array" else { throw withPath(FieldPathError("values must be an array"), ".values") }
                try parser.beginArray()
                var count = 0
                // The previous entry's metadata: entries of a stream mostly repeat its keys and many of its values.
                var previous: [Attribute] = []
                while try parser.nextElement(&count) {
                    let entry = try withFieldPath(".values[\(count - 1)]") { try decodeJSONEntry(&parser, previous: previous) }
                    previous = entry.metadata
                    if let stream {
                        append(time: entry.time, line: entry.line, metadata: entry.metadata, stream: stream, into: &records, tally: &tally)
                    } else {
                        waiting.append(entry)
                    }
                }
            default:
                _ = try parser.readValue()
            }
        }
        if stream == nil {
            let validated = Stream(try LokiLabelSelector.validated([]))
            for entry in waiting {
                append(time: entry.time, line: entry.line, metadata: entry.metadata, stream: validated, into: &records, tally: &tally)
            }
        }
    }

    /// Reads `[timestamp, line]` or `[timestamp, line, structured metadata]`. A metadata key or string value that
    /// spells the one at the same place in `previous` is that string, not a new one.
    private static func decodeJSONEntry(
        _ parser: inout JSONParser, previous: [Attribute]
    ) throws -> (time: Int64, line: String, metadata: [Attribute]) {
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
        let line = try parser.readString()
        var metadata: [Attribute] = []
        if try parser.nextElement(&count) {
            if try !parser.skipNull() {
                guard parser.nextType() == "object" else {
                    throw withPath(FieldPathError("structured metadata must be an object of strings"), "[2]")
                }
                try parser.beginObject()
                // Room for as many pairs as the previous entry had (entries of a stream mostly carry the same keys):
                // one allocation that fits, not several growing to it or one too large held until persisted.
                metadata.reserveCapacity(max(previous.count, 1))
                var members = 0
                while let name = try parser.nextKey(&members, reusing: members < previous.count ? previous[members].key : nil) {
                    guard parser.nextType() == "string" else {
                        throw withPath(
                            FieldPathError("structured metadata values must be strings, not \(parser.nextType() ?? "nothing")"), "[2].\(name)")
                    }
                    var candidate: String?
                    if members <= previous.count, case .string(let value) = previous[members - 1].value, previous[members - 1].key == name {
                        candidate = value
                    }
                    metadata.append(Attribute(name, .string(try parser.readString(reusing: candidate))))
                }
            }
            guard try !parser.nextElement(&count) else { throw shape }
        }
        return (time, line, metadata)
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

    private static func decodeStream(_ reader: inout ProtobufReader, into records: inout [LogRecord], tally: inout RejectionTally) throws {
        var selector = ""
        var entries: [(time: Int64, line: String, metadata: [Attribute])] = []
        var entryIndex = 0
        while let field = try reader.nextField() {
            switch field {
            case 1:
                selector = try reader.readString("labels")
            case 2:
                entries.append(try reader.readMessage("entries", index: entryIndex) { try decodeEntry(&$0) })
                entryIndex += 1
            default:
                try reader.skipField()
            }
        }
        let stream = Stream(try LokiLabelSelector.parse(selector))
        for entry in entries {
            append(time: entry.time, line: entry.line, metadata: entry.metadata, stream: stream, into: &records, tally: &tally)
        }
    }

    private static func decodeEntry(_ reader: inout ProtobufReader) throws -> (time: Int64, line: String, metadata: [Attribute]) {
        var seconds: Int64 = 0
        var nanos: Int64 = 0
        var line = ""
        var metadata: [Attribute] = []
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
                line = try reader.readString("line")
            case 3:
                let pair = try reader.readMessage("structuredMetadata", index: metadataIndex) { pair -> Attribute in
                    var name = ""
                    var value = ""
                    while let field = try pair.nextField() {
                        switch field {
                        case 1: name = try pair.readString("name")
                        case 2: value = try pair.readString("value")
                        default: try pair.skipField()
                        }
                    }
                    return Attribute(name, .string(value))
                }
                metadata.append(pair)
                metadataIndex += 1
            default:
                try reader.skipField()
            }
        }
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (time, overflow2) = product.addingReportingOverflow(nanos)
        return (overflow || overflow2 ? -1 : time, line, metadata)
    }

    // MARK: - Records

    /// A stream's labels and the level they give its records (for records whose metadata names none), found once
    /// per stream rather than once per record.
    private struct Stream {
        var labels: Labels
        var level: (text: String, number: Int32)?

        init(_ labels: Labels) {
            self.labels = labels
            level = LogSeverity.levelKeys.lazy.compactMap { labels[$0] }.first { !$0.isEmpty }
                .map { ($0, LogSeverity.number(forLevel: $0)) }
        }
    }

    private static func append(
        time: Int64, line: String, metadata: [Attribute], stream: Stream, into records: inout [LogRecord], tally: inout RejectionTally
    ) {
        guard time >= 0 else {
            tally.reject(1, "an entry of stream \(stream.labels) has a timestamp before 1970 or out of range")
            return
        }
        var severity: (text: String, number: Int32) = ("", 0)
        if let level = level(metadata: metadata) {
            severity = (level, LogSeverity.number(forLevel: level))
        } else if let level = stream.level {
            severity = (level.text, level.number)
        }
        // Made in place: a record built in a variable and then appended was copied (every reference it holds retained,
        // then released with the variable).
        records.append(
            LogRecord(
                timeUnixNano: UInt64(time), severityNumber: severity.number, severityText: severity.text, body: .string(line),
                attributes: metadata, stream: stream.labels))
    }

    /// The level `metadata` names: for the first of ``LogSeverity/levelKeys`` whose last value is a non-empty
    /// string, that value.
    private static func level(metadata: [Attribute]) -> String? {
        guard !metadata.isEmpty else { return nil }
        for key in LogSeverity.levelKeys {
            guard let index = metadata.lastIndex(where: { $0.key == key }) else { continue }
            if case .string(let text) = metadata[index].value, !text.isEmpty { return text }
        }
        return nil
    }
}
