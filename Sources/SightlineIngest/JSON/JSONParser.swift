import SightlineCore

/// A recursive-descent JSON parser (RFC 8259) over UTF-8 bytes.
///
/// Errors are `.invalidArgument` ``SightlineError``s naming the byte offset: "invalid JSON at byte 12: expected ':'".
/// Nesting is limited (``defaultMaxDepth``) so hostile input cannot overflow the stack.
///
/// ```swift
/// let value = try JSONParser.parse(Array(#"{"a": [1, 2]}"#.utf8))
/// ```
package struct JSONParser {
    /// The default limit on nested arrays and objects.
    package static let defaultMaxDepth = 256

    private let bytes: UnsafeRawBufferPointer
    private var offset = 0
    private let maxDepth: Int
    private var depth = 0
    /// Where a string with escapes is unescaped, kept from string to string (its storage allocated once).
    private var unescaped: [UInt8] = []

    private init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Parses one JSON document; whitespace may surround it, nothing else may follow it. A UTF-8 BOM is skipped.
    /// - Parameters:
    ///   - bytes: UTF-8 text.
    ///   - maxDepth: The most arrays and objects that may be nested.
    /// - Returns: The document's value.
    /// - Throws: ``SightlineError`` `.invalidArgument` with the byte offset of the problem.
    package static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        var parser = JSONParser(bytes, maxDepth: maxDepth)
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { parser.offset = 3 }
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.offset == bytes.count else { throw parser.error("unexpected characters after the document") }
        return value
    }

    /// Parses one JSON document from a byte array.
    package static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        try bytes.withUnsafeBytes { try parse($0, maxDepth: maxDepth) }
    }

    /// Parses one JSON document from a string.
    package static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    // MARK: Values

    private func error(_ message: String, at position: Int? = nil) -> SightlineError {
        SightlineError(.invalidArgument, "invalid JSON at byte \(position ?? offset): \(message)")
    }

    private mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws -> JSONValue {
        guard offset < bytes.count else { throw error("unexpected end of input, expected a value") }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character \(describe(bytes[offset])), expected a value")
        }
    }

    private func describe(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "0x\(String(byte, radix: 16))"
    }

    private mutating func expectLiteral(_ literal: StaticString) throws {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - offset >= count else { throw error("invalid literal, expected '\(literal)'") }
        let matches = literal.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[offset + $0] == expected[$0] }
        }
        guard matches else { throw error("invalid literal, expected '\(literal)'") }
        offset += count
    }

    private mutating func enter() throws {
        depth += 1
        guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
    }

    private mutating func parseObject() throws -> JSONValue {
        try enter()
        offset += 1  // {
        var object = JSONObject()
        skipWhitespace()
        if offset < bytes.count && bytes[offset] == UInt8(ascii: "}") {
            offset += 1
            depth -= 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw error("expected ':'") }
            offset += 1
            skipWhitespace()
            let value = try parseValue()
            object.keys.append(key)
            object.values.append(value)
            skipWhitespace()
            guard offset < bytes.count else { throw error("unexpected end of input, expected ',' or '}'") }
            if bytes[offset] == UInt8(ascii: ",") {
                offset += 1
            } else if bytes[offset] == UInt8(ascii: "}") {
                offset += 1
                depth -= 1
                return .object(object)
            } else {
                throw error("expected ',' or '}'")
            }
        }
    }

    private mutating func parseArray() throws -> JSONValue {
        try enter()
        offset += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if offset < bytes.count && bytes[offset] == UInt8(ascii: "]") {
            offset += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard offset < bytes.count else { throw error("unexpected end of input, expected ',' or ']'") }
            if bytes[offset] == UInt8(ascii: ",") {
                offset += 1
            } else if bytes[offset] == UInt8(ascii: "]") {
                offset += 1
                depth -= 1
                return .array(elements)
            } else {
                throw error("expected ',' or ']'")
            }
        }
    }

    // MARK: Numbers

    private func isDigit(_ index: Int) -> Bool {
        index < bytes.count && bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9")
    }

    private mutating func parseNumber() throws -> JSONValue {
        let start = offset
        if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        guard isDigit(offset) else { throw error("invalid number: expected a digit") }
        if bytes[offset] == UInt8(ascii: "0") {
            offset += 1
            if isDigit(offset) { throw error("invalid number: leading zero") }
        } else {
            while isDigit(offset) { offset += 1 }
        }
        if offset < bytes.count && bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            guard isDigit(offset) else { throw error("invalid number: expected a digit after '.'") }
            while isDigit(offset) { offset += 1 }
        }
        if offset < bytes.count && (bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E")) {
            offset += 1
            if offset < bytes.count && (bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-")) { offset += 1 }
            guard isDigit(offset) else { throw error("invalid number: expected a digit in the exponent") }
            while isDigit(offset) { offset += 1 }
        }
        return .number(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self))
    }

    // MARK: Strings

    /// Parses a string literal starting at the opening quote. Runs of plain bytes are found eight at a time and
    /// taken whole: as they are when the string has no escape, else copied run by run around the escapes.
    private mutating func parseString() throws -> String {
        let quote = offset
        offset += 1
        let start = offset
        var runStart = start
        var escaped = false
        var seen: UInt64 = 0
        while true {
            offset = Self.specialByte(in: bytes, from: offset, seen: &seen)
            guard offset < bytes.count else { throw error("unterminated string", at: quote) }
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                let run = UnsafeRawBufferPointer(rebasing: bytes[runStart..<offset])
                offset += 1
                let string: String?
                if escaped {
                    // Escapes always give valid UTF-8, so the runs between them decide.
                    unescaped.append(contentsOf: run)
                    string = Self.allASCII(seen) ? String(decoding: unescaped, as: UTF8.self) : UTF8Text.string(validating: unescaped)
                } else if Self.allASCII(seen) {
                    string = String(decoding: run, as: UTF8.self)
                } else {
                    string = UTF8Text.string(validating: run)
                }
                guard let string else { throw error("invalid UTF-8 in string", at: start) }
                return string
            }
            guard byte == UInt8(ascii: "\\") else { throw error("unescaped control character in string") }
            if !escaped {
                escaped = true
                unescaped.removeAll(keepingCapacity: true)
            }
            unescaped.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<offset]))
            // Taken out while the escape is read (the parser changes too); its storage comes back with it.
            var buffer: [UInt8] = []
            swap(&buffer, &unescaped)
            defer { swap(&buffer, &unescaped) }
            try parseEscape(into: &buffer)
            runStart = offset
        }
    }

    /// The offset of the first quote, backslash or control character at or after `offset` in `bytes`, or the
    /// count when there is none: eight bytes a step, by the usual "which byte is zero" arithmetic on words. ORs every
    /// byte it reads into `seen` (and some after the one found), so that a caller knows text without a byte ≥ 0x80 is
    /// ASCII, valid UTF-8, without reading it again.
    private static func specialByte(in bytes: UnsafeRawBufferPointer, from offset: Int, seen: inout UInt64) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var at = offset
        if let base = bytes.baseAddress {
            while at + 8 <= bytes.count {
                let word = base.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                seen |= word
                let quotes = word ^ (ones &* 0x22)
                let backslashes = word ^ (ones &* 0x5C)
                // A zero byte of either comparison borrows, and so does a byte below 0x20; bytes ≥ 0x80 (UTF-8
                // sequences) are masked out. Only bytes above a true match can borrow falsely, so the lowest
                // flagged byte is the first special one.
                let found = ((quotes &- ones) & ~quotes | (backslashes &- ones) & ~backslashes | (word &- ones &* 0x20) & ~word) & highs
                if found != 0 { return at + found.trailingZeroBitCount / 8 }
                at += 8
            }
        }
        while at < bytes.count {
            let byte = bytes[at]
            seen |= UInt64(byte)
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { return at }
            at += 1
        }
        return at
    }

    /// Whether bytes ORed together (see ``specialByte(in:from:seen:)``) were all ASCII.
    private static func allASCII(_ seen: UInt64) -> Bool { seen & 0x8080_8080_8080_8080 == 0 }

    private mutating func parseEscape(into buffer: inout [UInt8]) throws {
        offset += 1  // backslash
        guard offset < bytes.count else { throw error("unterminated escape sequence") }
        let c = bytes[offset]
        offset += 1
        switch c {
        case UInt8(ascii: "\""): buffer.append(0x22)
        case UInt8(ascii: "\\"): buffer.append(0x5C)
        case UInt8(ascii: "/"): buffer.append(0x2F)
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try parseHex4())
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by an escaped low surrogate.
                if bytes.count - offset >= 6 && bytes[offset] == UInt8(ascii: "\\") && bytes[offset + 1] == UInt8(ascii: "u") {
                    let save = offset
                    offset += 2
                    let low = UInt32(try parseHex4())
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        offset = save
                        scalar = 0xFFFD
                    }
                } else {
                    scalar = 0xFFFD
                }
            } else if (0xDC00..<0xE000).contains(scalar) {
                scalar = 0xFFFD
            }
            let unicodeScalar = Unicode.Scalar(scalar) ?? "\u{FFFD}"
            UTF8.encode(unicodeScalar) { buffer.append($0) }
        default:
            throw error("invalid escape sequence '\\\(Character(Unicode.Scalar(c)))'", at: offset - 2)
        }
    }

    private mutating func parseHex4() throws -> UInt16 {
        guard bytes.count - offset >= 4 else { throw error("truncated \\u escape") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let c = bytes[offset]
            let digit: UInt16
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt16(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt16(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt16(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            offset += 1
        }
        return value
    }
}

// MARK: - Reading piece by piece

/// Reading a document value by value, for decoders that know its shape and would otherwise build a ``JSONValue``
/// tree only to walk it once. The same grammar, limits and error messages as ``JSONParser/parse(_:maxDepth:)``.
///
/// ```swift
/// var parser = JSONParser(reading: bytes)
/// try parser.beginObject()
/// var members = 0
/// while let key = try parser.nextKey(&members) { key == "a" ? use(try parser.readString()) : try parser.skipValue() }
/// try parser.end()
/// ```
extension JSONParser {
    /// A parser at the start of `bytes` (past a UTF-8 BOM).
    package init(reading bytes: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth) {
        self.init(bytes, maxDepth: maxDepth)
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { offset = 3 }
    }

    /// The type of the next value, by its first byte (after whitespace): `object`, `array`, `string`, `number`,
    /// `boolean` or `null` as ``JSONValue/typeName`` names them; nil at the end of the input or before a byte that
    /// starts no value.
    package mutating func nextType() -> String? {
        skipWhitespace()
        guard offset < bytes.count else { return nil }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return "object"
        case UInt8(ascii: "["): return "array"
        case UInt8(ascii: "\""): return "string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "boolean"
        case UInt8(ascii: "n"): return "null"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return "number"
        default: return nil
        }
    }

    /// Consumes a `null` if one comes next.
    package mutating func skipNull() throws -> Bool {
        guard nextType() == "null" else { return false }
        try expectLiteral("null")
        return true
    }

    /// Consumes the `{` of an object; then ``nextKey(_:)`` until it returns nil.
    package mutating func beginObject() throws {
        try begin(UInt8(ascii: "{"))
    }

    /// A member's key as ``nextRawKey(_:)`` reads it.
    package enum RawKey {
        /// A key without escapes: its bytes between the quotes (valid UTF-8), pointing into the input.
        case bytes(UnsafeRawBufferPointer)
        /// A key with escapes, unescaped.
        case text(String)

        package var text: String {
            switch self {
            case .bytes(let bytes): String(decoding: bytes, as: UTF8.self)
            case .text(let text): text
            }
        }
    }

    /// ``nextKey(_:)`` for callers that compare keys by their bytes: a key without escapes is not made into a
    /// string.
    package mutating func nextRawKey(_ members: inout Int) throws -> RawKey? {
        guard try next(close: UInt8(ascii: "}"), count: &members) else { return nil }
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a string key") }
        var seen: UInt64 = 0
        let end = Self.specialByte(in: bytes, from: offset + 1, seen: &seen)
        let key: RawKey
        if end < bytes.count, bytes[end] == UInt8(ascii: "\""), Self.allASCII(seen) {
            key = .bytes(UnsafeRawBufferPointer(rebasing: bytes[(offset + 1)..<end]))
            offset = end + 1
        } else {
            key = .text(try parseString())
        }
        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw error("expected ':'") }
        offset += 1
        return key
    }

    /// The next member's key, its `:` consumed (read or skip its value next), or nil at the object's `}`, which is
    /// consumed. `members` counts the members read so far: start it at 0 for each object.
    package mutating func nextKey(_ members: inout Int) throws -> String? {
        guard try next(close: UInt8(ascii: "}"), count: &members) else { return nil }
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a string key") }
        let key = try parseString()
        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw error("expected ':'") }
        offset += 1
        return key
    }

    /// Consumes the `[` of an array; then ``nextElement(_:)`` before each element.
    package mutating func beginArray() throws {
        try begin(UInt8(ascii: "["))
    }

    /// Whether another element follows (read or skip it next); false at the array's `]`, which is consumed.
    /// `elements` counts the elements so far: start it at 0 for each array.
    package mutating func nextElement(_ elements: inout Int) throws -> Bool {
        try next(close: UInt8(ascii: "]"), count: &elements)
    }

    /// Consumes a container's opening byte.
    private mutating func begin(_ open: UInt8) throws {
        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == open else {
            throw error("expected '\(Character(Unicode.Scalar(open)))'")
        }
        try enter()
        offset += 1
    }

    /// False at the container's `close` byte (consumed); else true, past the `,` that must come before every item
    /// but the first, having counted the item.
    private mutating func next(close: UInt8, count: inout Int) throws -> Bool {
        skipWhitespace()
        func expected() -> String { "',' or '\(Character(Unicode.Scalar(close)))'" }
        guard offset < bytes.count else { throw error("unexpected end of input, expected \(expected())") }
        if bytes[offset] == close {
            offset += 1
            depth -= 1
            return false
        }
        if count > 0 {
            guard bytes[offset] == UInt8(ascii: ",") else { throw error("expected \(expected())") }
            offset += 1
            skipWhitespace()
        }
        count += 1
        return true
    }

    /// Reads a string value.
    package mutating func readString() throws -> String {
        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a string") }
        return try parseString()
    }

    /// Reads a string value, appending its UTF-8 (escapes resolved, checked to be valid) to `out`: for callers that
    /// keep text in a byte buffer, no `String` is made.
    package mutating func readString(appendingTo out: inout [UInt8]) throws {
        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a string") }
        let quote = offset
        offset += 1
        let start = out.count
        var runStart = offset
        var seen: UInt64 = 0
        while true {
            offset = Self.specialByte(in: bytes, from: offset, seen: &seen)
            guard offset < bytes.count else { throw error("unterminated string", at: quote) }
            // As typed bytes: the array's contiguous fast path (a raw buffer is appended element by element).
            UnsafeRawBufferPointer(rebasing: bytes[runStart..<offset]).withMemoryRebound(to: UInt8.self) { out.append(contentsOf: $0) }
            if bytes[offset] == UInt8(ascii: "\"") {
                offset += 1
                // Escapes always give valid UTF-8, so the runs between them decide.
                if Self.allASCII(seen) { return }
                let valid = out.withUnsafeBytes { UTF8Text.isValid(UnsafeRawBufferPointer(rebasing: $0[start...])) }
                guard valid else { throw error("invalid UTF-8 in string", at: quote + 1) }
                return
            }
            guard bytes[offset] == UInt8(ascii: "\\") else { throw error("unescaped control character in string") }
            try parseEscape(into: &out)
            runStart = offset
        }
    }

    /// Reads a string value without escapes as the bytes between its quotes, or nil (having read nothing) when it
    /// has escapes, for callers that parse the text themselves.
    package mutating func readUnescapedStringBytes() throws -> UnsafeRawBufferPointer? {
        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a string") }
        var end = offset + 1
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") {
                let text = UnsafeRawBufferPointer(rebasing: bytes[(offset + 1)..<end])
                offset = end + 1
                return text
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80 { return nil }
            end += 1
        }
        return nil
    }

    /// Reads the next value whole, whatever it is.
    package mutating func readValue() throws -> JSONValue {
        skipWhitespace()
        return try parseValue()
    }

    /// Checks that nothing but whitespace follows.
    package mutating func end() throws {
        skipWhitespace()
        guard offset == bytes.count else { throw error("unexpected characters after the document") }
    }
}
