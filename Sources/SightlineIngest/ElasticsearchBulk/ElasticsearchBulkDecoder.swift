import SightlineCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decodes Elasticsearch `_bulk` bodies (NDJSON) into log records, as log shippers (Filebeat, Logstash, Vector,
/// Fluent Bit) send them.
///
/// Each action line is a JSON object with one key, `index`, `create`, `update` or `delete`, whose object may name
/// `_index` (overriding the index of the request path) and `_id`. `index` and `create` are followed by the document
/// line and store it; `update` (whose document line is skipped) and `delete` are refused per item with status 400.
///
/// A document becomes a ``LogRecord``:
/// - `@timestamp` (epoch milliseconds or ISO 8601 text, see ``ElasticsearchTimestamp``) is the time; 0 when absent.
/// - The body is the top-level string field `message` (where Filebeat, Logstash, Vector and Fluent Bit's ES output
///   put the line); failing that a string `log` (Fluent Bit / Docker JSON logs), failing that a string `msg` (many
///   JSON loggers). The field used is not repeated in the attributes. Without any of them the body is empty.
/// - Every other field is an attribute: nested objects flattened with dots (`{"log":{"level":"x"}}` gives
///   `log.level`), arrays as their JSON text, integers as ints, other numbers as doubles; nulls are dropped.
/// - The index name is the stream label `index`.
/// - The severity comes from a string `level`, `severity` or `log.level` field (see ``LogSeverity``).
///
/// Documents that are not JSON objects, or whose `@timestamp` does not parse, are refused per item
/// (`mapper_parsing_exception`); the others are stored. A body that is not bulk NDJSON at all (an action line
/// that is not an action, a missing index, a missing document line) throws: Elasticsearch refuses the whole request.
package enum ElasticsearchBulkDecoder {
    /// Decodes a bulk body.
    /// - Parameters:
    ///   - body: The NDJSON text.
    ///   - defaultIndex: The index of the request path (`/{index}/_bulk`), or nil for `/_bulk`.
    /// - Throws: ``SightlineError`` `.invalidArgument` with an Elasticsearch-like reason, e.g.
    ///   `Malformed action/metadata line [3], expected field [create], [delete], [index] or [update] but found [message]`.
    package static func decode(_ body: UnsafeRawBufferPointer, defaultIndex: String?) throws -> ElasticsearchBulkRequest {
        var lines: [UnsafeRawBufferPointer] = []
        var start = 0
        while start < body.count, let base = body.baseAddress {
            // memchr: the newline search was most of the request loop's own time byte by byte.
            let end = memchr(base + start, 0x0A, body.count - start).map { UnsafeRawPointer($0) - base } ?? body.count
            lines.append(UnsafeRawBufferPointer(rebasing: body[start..<end]))
            start = end + 1
        }

        var request = ElasticsearchBulkRequest()
        request.records.reserveCapacity(rows: lines.count / 2, bytes: body.count, attributes: lines.count * 4)
        // The last index a document went to and its stream number in the batch (requests mostly name one).
        var stream: (index: String, number: UInt32)?
        var keys = KeyNumbersByPlace()
        var lineIndex = 0
        while lineIndex < lines.count {
            let actionLine = lines[lineIndex]
            let lineNumber = lineIndex + 1
            lineIndex += 1
            if isBlank(actionLine) { continue }
            let (action, metadata) = try parseAction(actionLine, lineNumber: lineNumber)
            let index = metadata?["_index"]?.stringValue ?? defaultIndex
            guard let index, !index.isEmpty else {
                throw SightlineError(.invalidArgument, "Validation Failed: 1: index is missing (action/metadata line [\(lineNumber)]);")
            }
            let id = metadata?["_id"].flatMap { $0.stringValue ?? ($0.int64Value.map { String($0) }) }
            var item = ElasticsearchBulkItem(action: action, index: index, id: id)
            if action == "delete" {
                item.reject("illegal_argument_exception", "the delete action is not supported: Sightline stores logs append-only")
                request.items.append(item)
                continue
            }
            guard lineIndex < lines.count else {
                throw SightlineError(.invalidArgument, "The bulk request must be terminated by a newline [\\n]: action/metadata line [\(lineNumber)] has no document line")
            }
            let documentLine = lines[lineIndex]
            lineIndex += 1
            if action == "update" {
                item.reject("illegal_argument_exception", "the update action is not supported: Sightline stores logs append-only")
                request.items.append(item)
                continue
            }
            if stream?.index != index { stream = (index, request.records.number(stream: Labels([Label("index", index)]))) }
            if let reason = document(documentLine, stream: stream?.number ?? 0, keys: &keys, into: &request.records) {
                item.reject("mapper_parsing_exception", reason.message)
            }
            request.items.append(item)
        }
        return request
    }

    /// Decodes a bulk body held in a byte array.
    package static func decode(_ body: [UInt8], defaultIndex: String?) throws -> ElasticsearchBulkRequest {
        try body.withUnsafeBytes { try decode($0, defaultIndex: defaultIndex) }
    }

    private static func isBlank(_ line: UnsafeRawBufferPointer) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }

    private static func parseAction(_ line: UnsafeRawBufferPointer, lineNumber: Int) throws -> (String, JSONObject?) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(line)
        } catch let error as SightlineError {
            throw SightlineError(.invalidArgument, "Malformed action/metadata line [\(lineNumber)]: \(error.message)")
        }
        guard let object = value.objectValue else {
            throw SightlineError(.invalidArgument, "Malformed action/metadata line [\(lineNumber)], expected START_OBJECT but found [\(value.typeName)]")
        }
        guard object.count == 1, let action = object.keys.first, ["index", "create", "update", "delete"].contains(action) else {
            let found = object.keys.first ?? ""
            throw SightlineError(
                .invalidArgument,
                "Malformed action/metadata line [\(lineNumber)], expected field [create], [delete], [index] or [update] but found [\(found)]"
            )
        }
        let metadata = object.values[0]
        if metadata == .null { return (action, nil) }
        guard let metadataObject = metadata.objectValue else {
            throw SightlineError(.invalidArgument, "Malformed action/metadata line [\(lineNumber)], expected START_OBJECT for [\(action)] but found [\(metadata.typeName)]")
        }
        return (action, metadataObject)
    }

    /// Why a document was refused.
    private struct DocumentError: Error {
        var message: String
    }

    /// What one document holds besides its attributes, gathered while they are read.
    private struct DocumentState {
        /// The attributes' flattened key, dot-separated, of the member being read.
        var key: [UInt8] = []
        /// How many attributes the document has so far.
        var attributeCount = 0
        /// The last top-level `@timestamp`.
        var timestamp: JSONValue?
        /// Per body key (`message`, `log`, `msg`): its last top-level value if a string, and the attributes each of
        /// its top-level members gave (removed for the key that becomes the body).
        var bodies: [LogBatch.Value?] = [nil, nil, nil]
        var bodyAttributes: [(rank: Int, attributes: Range<Int>)] = []
        /// Each attribute with a level key, in order: its position, the key's place in ``LogSeverity/levelKeys``
        /// and its value if a string.
        var levels: [(position: Int, rank: Int, text: String?)] = []
    }

    private static let bodyKeys = ["message", "log", "msg"].map { Array($0.utf8) }
    private static let timestampKey = Array("@timestamp".utf8)
    private static let levelKeys = LogSeverity.levelKeys.map { Array($0.utf8) }

    /// Decodes a document into a row of `batch` in stream number `stream`, reading it member by member into the
    /// batch (no JSON value is built but for numbers, arrays and the timestamp).
    /// - Returns: Why the document is refused (having added nothing), or nil when it was added.
    private static func document(
        _ line: UnsafeRawBufferPointer, stream: UInt32, keys: inout KeyNumbersByPlace, into batch: inout LogBatch
    ) -> DocumentError? {
        var parser = JSONParser(reading: line)
        guard parser.nextType() == "object" else { return refusal(line) }
        var state = DocumentState()
        let byteCount = batch.bytes.count
        do {
            try parser.beginObject()
            var members = 0
            while let rawKey = try parser.nextRawKey(&members) {
                state.key.removeAll(keepingCapacity: true)
                append(rawKey, to: &state.key)
                if state.key == timestampKey {
                    state.timestamp = try parser.readValue()
                    continue
                }
                let first = batch.attributes.count
                let rank = bodyKeys.firstIndex(of: state.key)
                let value = try member(&parser, &state, keys: &keys, into: &batch)
                if let rank {
                    state.bodies[rank] = value
                    state.bodyAttributes.append((rank, first..<batch.attributes.count))
                }
            }
            try parser.end()
        } catch {
            batch.discardPendingRecord(bytesFrom: byteCount)
            return refusal(line)
        }
        var row = LogBatch.Row(stream: stream)
        if let timestamp = state.timestamp, timestamp != .null {
            let parsed: UInt64?
            switch timestamp {
            case .string(let text): parsed = ElasticsearchTimestamp.parse(text)
            case .number(let text): parsed = ElasticsearchTimestamp.epochMillis(text)
            default: parsed = nil
            }
            guard let parsed else {
                batch.discardPendingRecord(bytesFrom: byteCount)
                return DocumentError(
                    message: "failed to parse field [@timestamp] of type [date]: \(timestamp.jsonText) is not an ISO 8601 date or epoch milliseconds"
                )
            }
            row.timeUnixNano = parsed
        }
        var removed: [Range<Int>] = []
        if let rank = state.bodies.firstIndex(where: { $0 != nil }), let body = state.bodies[rank] {
            row.body = body
            // The body's key is not repeated in the attributes: none of its members' (the last ones first).
            for (member, attributes) in state.bodyAttributes.reversed() where member == rank {
                batch.removeAttributes(attributes)
                removed.append(attributes)
            }
        }
        // Each level key's last value among the attributes kept, if it is a string.
        var levels = [String?](repeating: nil, count: LogSeverity.levelKeys.count)
        for level in state.levels where !removed.contains(where: { $0.contains(level.position) }) {
            levels[level.rank] = level.text
        }
        if let level = levels.first(where: { $0?.isEmpty == false }) ?? nil {
            row.severityText = batch.number(string: level)
            row.severityNumber = LogSeverity.number(forLevel: level)
        }
        batch.appendRow(row)
        return nil
    }

    /// Why a document that is not a JSON object, or not JSON, is refused: the parser's own words.
    private static func refusal(_ line: UnsafeRawBufferPointer) -> DocumentError {
        do {
            let document = try JSONParser.parse(line)
            return DocumentError(message: "failed to parse: the document must be a JSON object, not \(document.typeName)")
        } catch let error as SightlineError {
            return DocumentError(message: "failed to parse: \(error.message)")
        } catch {
            return DocumentError(message: "failed to parse: \(error)")
        }
    }

    private static func append(_ key: JSONParser.RawKey, to out: inout [UInt8]) {
        switch key {
        case .bytes(let bytes): bytes.withMemoryRebound(to: UInt8.self) { out.append(contentsOf: $0) }
        case .text(let text): out.append(contentsOf: text.utf8)
        }
    }

    /// Reads the value of the member whose flattened key is `state.key` as attributes: nested objects flattened with
    /// dots, arrays as their JSON text, integers as ints, other numbers as doubles; nulls dropped.
    /// - Returns: the value stored when it is a JSON string (a body candidate), else nil.
    private static func member(
        _ parser: inout JSONParser, _ state: inout DocumentState, keys: inout KeyNumbersByPlace, into batch: inout LogBatch
    ) throws -> LogBatch.Value? {
        let value: LogBatch.Value
        var isString = false
        switch parser.nextType() {
        case "null":
            _ = try parser.skipNull()
            return nil
        case "string":
            value = try batch.appendString { try parser.readString(appendingTo: &$0) }
            isString = true
        case "object":
            try parser.beginObject()
            let prefix = state.key.count
            var members = 0
            while let rawKey = try parser.nextRawKey(&members) {
                state.key.removeSubrange(prefix...)
                state.key.append(UInt8(ascii: "."))
                append(rawKey, to: &state.key)
                _ = try member(&parser, &state, keys: &keys, into: &batch)
            }
            state.key.removeSubrange(prefix...)
            return nil
        default:
            switch try parser.readValue() {
            case .bool(let flag):
                value = batch.store(.bool(flag))
            case .number(let text):
                if !text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }),
                    let integer = Int64(text)
                {
                    value = batch.store(.int(integer))
                } else if let double = Double(text) {
                    value = batch.store(.double(double))
                } else {
                    value = batch.store(.string(text))
                }
            case let array:
                value = batch.store(.string(array.jsonText))
            }
        }
        if let rank = levelKeys.firstIndex(of: state.key) {
            // Any string attribute counts, an array's JSON text too (as the attributes are what is read).
            state.levels.append((batch.attributes.count, rank, value.kind == .string ? batch.string(value) : nil))
        }
        let key = state.key.withUnsafeBytes { keys.number($0, at: state.attributeCount, in: &batch) }
        batch.appendAttribute(key: key, value: value)
        state.attributeCount += 1
        return isString ? value : nil
    }
}

extension ElasticsearchBulkItem {
    /// Marks the item refused with status 400.
    fileprivate mutating func reject(_ type: String, _ reason: String) {
        status = 400
        errorType = type
        errorReason = reason
    }
}
