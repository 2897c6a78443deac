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
        let document = try JSONParser.parse(json)
        var records: [LogRecord] = []
        var tally = RejectionTally()
        do {
            guard let root = document.objectValue else { throw FieldPathError("the body must be a JSON object, not \(document.typeName)") }
            guard let streamsValue = root["streams"] else { return DecodedBatch(.logs([])) }
            if streamsValue == .null { return DecodedBatch(.logs([])) }
            guard let streams = streamsValue.arrayValue else { throw FieldPathError("streams must be an array") }
            for (streamIndex, streamValue) in streams.enumerated() {
                try withFieldPath("streams[\(streamIndex)]") {
                    try decodeJSONStream(streamValue, into: &records, tally: &tally)
                }
            }
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

    private static func decodeJSONStream(_ value: JSONValue, into records: inout [LogRecord], tally: inout RejectionTally) throws {
        guard let stream = value.objectValue else { throw FieldPathError("a stream must be an object, not \(value.typeName)") }
        var labels: [Label] = []
        if let labelsValue = stream["stream"], labelsValue != .null {
            guard let object = labelsValue.objectValue else { throw FieldPathError("stream must be an object of label values") }
            for (name, labelValue) in zip(object.keys, object.values) {
                guard let text = labelValue.stringValue else {
                    throw withPath(FieldPathError("label values must be strings, not \(labelValue.typeName)"), ".stream.\(name)")
                }
                labels.append(Label(name, text))
            }
        }
        let streamLabels = try LokiLabelSelector.validated(labels)
        guard let valuesValue = stream["values"], valuesValue != .null else { return }
        guard let values = valuesValue.arrayValue else { throw withPath(FieldPathError("values must be an array"), ".values") }
        for (index, entryValue) in values.enumerated() {
            try withFieldPath(".values[\(index)]") {
                guard let entry = entryValue.arrayValue, entry.count == 2 || entry.count == 3 else {
                    throw FieldPathError("an entry must be an array of [timestamp, line] or [timestamp, line, structured metadata]")
                }
                let time: Int64
                switch entry[0] {
                case .string(let text):
                    guard let parsed = Int64(text) else {
                        throw withPath(FieldPathError("the timestamp \"\(text)\" is not an integer of nanoseconds"), "[0]")
                    }
                    time = parsed
                case .number:
                    guard let parsed = entry[0].int64Value else {
                        throw withPath(FieldPathError("the timestamp is not an integer of nanoseconds"), "[0]")
                    }
                    time = parsed
                default:
                    throw withPath(FieldPathError("the timestamp must be a string of nanoseconds, not \(entry[0].typeName)"), "[0]")
                }
                guard let line = entry[1].stringValue else {
                    throw withPath(FieldPathError("the line must be a string, not \(entry[1].typeName)"), "[1]")
                }
                var metadata: [Attribute] = []
                if entry.count == 3, entry[2] != .null {
                    guard let object = entry[2].objectValue else {
                        throw withPath(FieldPathError("structured metadata must be an object of strings"), "[2]")
                    }
                    for (name, metadataValue) in zip(object.keys, object.values) {
                        guard let text = metadataValue.stringValue else {
                            throw withPath(FieldPathError("structured metadata values must be strings, not \(metadataValue.typeName)"), "[2].\(name)")
                        }
                        metadata.append(Attribute(name, .string(text)))
                    }
                }
                append(time: time, line: line, metadata: metadata, stream: streamLabels, into: &records, tally: &tally)
            }
        }
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
        let labels = try LokiLabelSelector.parse(selector)
        for entry in entries {
            append(time: entry.time, line: entry.line, metadata: entry.metadata, stream: labels, into: &records, tally: &tally)
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

    private static func append(
        time: Int64, line: String, metadata: [Attribute], stream: Labels, into records: inout [LogRecord], tally: inout RejectionTally
    ) {
        guard time >= 0 else {
            tally.reject(1, "an entry of stream \(stream) has a timestamp before 1970 or out of range")
            return
        }
        var record = LogRecord(timeUnixNano: UInt64(time), body: .string(line), attributes: metadata, stream: stream)
        if let level = level(metadata: metadata, stream: stream) { LogSeverity.apply(level: level, to: &record) }
        records.append(record)
    }

    private static func level(metadata: [Attribute], stream: Labels) -> String? {
        for key in LogSeverity.levelKeys {
            if let attribute = metadata.last(where: { $0.key == key }), case .string(let text) = attribute.value, !text.isEmpty {
                return text
            }
        }
        for key in LogSeverity.levelKeys {
            if let value = stream[key], !value.isEmpty { return value }
        }
        return nil
    }
}
