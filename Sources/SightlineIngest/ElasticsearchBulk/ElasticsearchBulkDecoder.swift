import SightlineCore

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
        for offset in 0..<body.count where body[offset] == 0x0A {
            lines.append(UnsafeRawBufferPointer(rebasing: body[start..<offset]))
            start = offset + 1
        }
        if start < body.count { lines.append(UnsafeRawBufferPointer(rebasing: body[start..<body.count])) }

        var request = ElasticsearchBulkRequest()
        request.records.reserveCapacity(rows: lines.count / 2, bytes: body.count, attributes: lines.count * 4)
        // The last index a document went to and its stream number in the batch (requests mostly name one).
        var stream: (index: String, number: UInt32)?
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
            if let reason = document(documentLine, stream: stream?.number ?? 0, into: &request.records) {
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

    /// Decodes a document into a row of `batch` in stream number `stream`.
    /// - Returns: Why the document is refused (having added nothing), or nil when it was added.
    private static func document(_ line: UnsafeRawBufferPointer, stream: UInt32, into batch: inout LogBatch) -> DocumentError? {
        let document: JSONValue
        do {
            document = try JSONParser.parse(line)
        } catch let error as SightlineError {
            return DocumentError(message: "failed to parse: \(error.message)")
        } catch {
            return DocumentError(message: "failed to parse: \(error)")
        }
        guard let object = document.objectValue else {
            return DocumentError(message: "failed to parse: the document must be a JSON object, not \(document.typeName)")
        }
        var row = LogBatch.Row(stream: stream)
        if let timestamp = object["@timestamp"], timestamp != .null {
            let parsed: UInt64?
            switch timestamp {
            case .string(let text): parsed = ElasticsearchTimestamp.parse(text)
            case .number(let text): parsed = ElasticsearchTimestamp.epochMillis(text)
            default: parsed = nil
            }
            guard let parsed else {
                return DocumentError(
                    message: "failed to parse field [@timestamp] of type [date]: \(timestamp.jsonText) is not an ISO 8601 date or epoch milliseconds"
                )
            }
            row.timeUnixNano = parsed
        }
        var bodyKey: String?
        for key in ["message", "log", "msg"] {
            if case .string(let text) = object[key] {
                row.body = batch.store(.string(text))
                bodyKey = key
                break
            }
        }
        // Each level key's last value if it is a string (nil otherwise), as attributes are flattened.
        var levels = [String?](repeating: nil, count: LogSeverity.levelKeys.count)
        for (key, value) in zip(object.keys, object.values) where key != "@timestamp" && key != bodyKey {
            flatten(value, key: key) { key, value in
                if let rank = LogSeverity.levelKeys.firstIndex(of: key) {
                    if case .string(let text) = value { levels[rank] = text } else { levels[rank] = nil }
                }
                batch.appendAttribute(key: batch.number(string: key), value: batch.store(value))
            }
        }
        if let level = levels.first(where: { $0?.isEmpty == false }) ?? nil {
            row.severityText = batch.number(string: level)
            row.severityNumber = LogSeverity.number(forLevel: level)
        }
        batch.appendRow(row)
        return nil
    }

    /// Hands `value` to `attribute` as attributes: nested objects flattened with dots, arrays as their JSON text,
    /// integers as ints, other numbers as doubles; nulls dropped.
    private static func flatten(_ value: JSONValue, key: String, _ attribute: (String, AttributeValue) -> Void) {
        switch value {
        case .null:
            return
        case .bool(let flag):
            attribute(key, .bool(flag))
        case .number(let text):
            if !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let integer = Int64(text) {
                attribute(key, .int(integer))
            } else if let double = Double(text) {
                attribute(key, .double(double))
            } else {
                attribute(key, .string(text))
            }
        case .string(let text):
            attribute(key, .string(text))
        case .array:
            attribute(key, .string(value.jsonText))
        case .object(let object):
            for (name, member) in zip(object.keys, object.values) {
                flatten(member, key: key + "." + name, attribute)
            }
        }
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
