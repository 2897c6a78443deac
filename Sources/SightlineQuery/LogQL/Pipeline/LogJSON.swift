import SightlineCore

/// A small JSON reader for log lines: a tree whose objects and arrays remember their source text, which is what
/// `| json a="obj"` returns for a non-scalar value.
indirect enum LogJSONValue {
    case string(String)
    /// A number as written.
    case number(String)
    case bool(Bool)
    case null
    case object([(key: String, value: LogJSONValue)], raw: String)
    case array([LogJSONValue], raw: String)

    /// The value as a label value: strings unescaped, numbers as written, `true`/`false`, null as empty, objects and
    /// arrays as their JSON text.
    var labelValue: String {
        switch self {
        case .string(let text): text
        case .number(let text): text
        case .bool(let value): value ? "true" : "false"
        case .null: ""
        case .object(_, let raw), .array(_, let raw): raw
        }
    }
}

/// Parses JSON text. Errors name the byte offset, as jsonparser-style messages do.
struct LogJSONReader {
    private let bytes: [UInt8]
    private var position = 0

    /// Whether objects and arrays keep their source text (only `| json name="path"` needs it).
    private var keepRaw = true

    /// Parses `text` as one JSON value (surrounding whitespace allowed). Without `keepRaw`, objects and arrays carry
    /// an empty text, which saves a copy of the line per record.
    /// - Throws: `invalidArgument` with a message naming the offset.
    static func parse(_ text: String, keepRaw: Bool = true) throws(SightlineError) -> LogJSONValue {
        var reader = LogJSONReader(bytes: Array(text.utf8))
        reader.keepRaw = keepRaw
        reader.skipSpaces()
        let value = try reader.value(depth: 0)
        reader.skipSpaces()
        if reader.position != reader.bytes.count { throw reader.fail("unexpected data after the JSON value") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func fail(_ message: String) -> SightlineError {
        SightlineError(.invalidArgument, "\(message) at offset \(position)")
    }

    private mutating func skipSpaces() {
        while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x09 || bytes[position] == 0x0A || bytes[position] == 0x0D {
            position += 1
        }
    }

    /// One JSON value at the current position.
    private mutating func value(depth: Int) throws(SightlineError) -> LogJSONValue {
        guard depth < 200 else { throw fail("JSON nested too deeply") }
        guard position < bytes.count else { throw fail("unexpected end of JSON") }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            let start = position
            position += 1
            var members: [(String, LogJSONValue)] = []
            skipSpaces()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                position += 1
                return .object([], raw: raw(start))
            }
            while true {
                skipSpaces()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try string()
                skipSpaces()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                position += 1
                skipSpaces()
                members.append((key, try value(depth: depth + 1)))
                skipSpaces()
                guard position < bytes.count else { throw fail("unexpected end of JSON") }
                if bytes[position] == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                guard bytes[position] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
                position += 1
                return .object(members, raw: raw(start))
            }
        case UInt8(ascii: "["):
            let start = position
            position += 1
            var elements: [LogJSONValue] = []
            skipSpaces()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array([], raw: raw(start))
            }
            while true {
                skipSpaces()
                elements.append(try value(depth: depth + 1))
                skipSpaces()
                guard position < bytes.count else { throw fail("unexpected end of JSON") }
                if bytes[position] == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                guard bytes[position] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
                position += 1
                return .array(elements, raw: raw(start))
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            let start = position
            while position < bytes.count, Self.numberBytes.contains(bytes[position]) { position += 1 }
            guard position > start else { throw fail("unexpected character") }
            return .number(number(start))
        }
    }

    private static let numberBytes = Set("0123456789+-.eE".utf8)

    private func raw(_ start: Int) -> String { keepRaw ? String(decoding: bytes[start..<position], as: UTF8.self) : "" }

    private func number(_ start: Int) -> String { String(decoding: bytes[start..<position], as: UTF8.self) }

    private mutating func literal(_ word: String) throws(SightlineError) {
        let expected = Array(word.utf8)
        guard bytes.count - position >= expected.count, Array(bytes[position..<(position + expected.count)]) == expected else {
            throw fail("unexpected character")
        }
        position += expected.count
    }

    /// A JSON string at the current position (after its opening quote is seen), unescaped.
    private mutating func string() throws(SightlineError) -> String {
        var at = position
        do {
            let text = try bytes.withUnsafeBufferPointer { buffer throws(JSONStringDecoding.Failure) in try JSONStringDecoding.read(buffer, at: &at) }
            position = at
            return text
        } catch .unterminated {
            position = at
            throw fail("unterminated string")
        } catch {
            position = at
            throw fail("invalid unicode escape")
        }
    }
}

/// A path into a JSON document as `| json name="path"` takes it: `a.b`, `a[0]`, `a["key with.dots"]`, `.a`.
enum JSONPath {
    enum Component: Equatable {
        case key(String)
        case index(Int)
    }

    /// The components of `path`, or nil when it is malformed.
    static func parse(_ path: String) -> [Component]? {
        let scalars = Array(path.unicodeScalars)
        var out: [Component] = []
        var index = 0
        var current = ""
        func flush() {
            if !current.isEmpty { out.append(.key(current)) }
            current = ""
        }
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case ".":
                flush()
                index += 1
            case "[":
                flush()
                index += 1
                guard index < scalars.count else { return nil }
                if scalars[index] == "\"" || scalars[index] == "'" {
                    let quote = scalars[index]
                    index += 1
                    var key = ""
                    while index < scalars.count && scalars[index] != quote {
                        key.unicodeScalars.append(scalars[index])
                        index += 1
                    }
                    guard index + 1 < scalars.count, scalars[index + 1] == "]" else { return nil }
                    out.append(.key(key))
                    index += 2
                } else {
                    var digits = ""
                    while index < scalars.count && scalars[index] != "]" {
                        digits.unicodeScalars.append(scalars[index])
                        index += 1
                    }
                    guard index < scalars.count, let number = Int(digits), number >= 0 else { return nil }
                    out.append(.index(number))
                    index += 1
                }
            default:
                current.unicodeScalars.append(scalar)
                index += 1
            }
        }
        flush()
        return out.isEmpty ? nil : out
    }

    /// The value at `path` in `value`, or nil.
    static func lookup(_ path: [Component], in value: LogJSONValue) -> LogJSONValue? {
        var current = value
        for component in path {
            switch (component, current) {
            case (.key(let key), .object(let members, _)):
                guard let member = members.last(where: { $0.key == key }) else { return nil }
                current = member.value
            case (.index(let index), .array(let elements, _)):
                guard index < elements.count else { return nil }
                current = elements[index]
            default:
                return nil
            }
        }
        return current
    }
}
