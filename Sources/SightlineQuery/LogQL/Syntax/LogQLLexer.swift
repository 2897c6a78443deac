/// A LogQL parse error with its position, printed as Loki prints it: `parse error at line 1, col 12: syntax error:
/// unexpected IDENTIFIER, expecting STRING`, or `parse error : …` for errors found after parsing (validation).
package struct LogQLParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message without the position, e.g. `syntax error: unexpected $end`.
    package var message: String
    /// 1-based line, 0 when the error has no position.
    package var line: Int
    /// 1-based column (in Unicode scalars), 0 when the error has no position.
    package var column: Int

    package init(_ message: String, line: Int = 0, column: Int = 0) {
        self.message = message
        self.line = line
        self.column = column
    }

    package var description: String {
        if line == 0 && column == 0 { return "parse error : \(message)" }
        return "parse error at line \(line), col \(column): \(message)"
    }
}

/// The kinds of LogQL tokens. The raw value is the name Loki's grammar gives the token, used in error messages.
enum LogQLTokenKind: String, Sendable {
    case identifier = "IDENTIFIER", string = "STRING", number = "NUMBER", duration = "DURATION", bytes = "BYTES"
    case flag = "FUNCTION_FLAG"
    case openBrace = "{", closeBrace = "}", openParen = "(", closeParen = ")", openBracket = "[", closeBracket = "]"
    case comma = ","
    case pipe = "|", pipeExact = "|=", pipeMatch = "|~", pipePattern = "|>"
    case notEqual = "!=", notRegex = "!~", notPattern = "!>"
    case equal = "=", regex = "=~", compareEqual = "=="
    case greater = ">", greaterOrEqual = ">=", less = "<", lessOrEqual = "<="
    case add = "+", sub = "-", mul = "*", div = "/", mod = "%", pow = "^"
    case end = "$end"
}

/// One token: its kind, its text (unquoted for strings) and the byte offset where it starts.
struct LogQLToken: Sendable {
    var kind: LogQLTokenKind
    var text: String
    var offset: Int

    /// The text in lower case, for keywords and function names, which Loki matches case-insensitively.
    var word: String { text.lowercased() }

    /// The name Loki's parser gives the token in `unexpected …` messages: punctuation and keywords as written (`)`,
    /// `|=`, `bool`, `json`), a range `[…]` as `RANGE`, functions followed by `(` by their upper-case name (`RATE`,
    /// `SUM`), other words as `IDENTIFIER`. `next` is the token after this one.
    func displayName(next: LogQLToken?) -> String {
        switch kind {
        case .identifier:
            let lower = text.lowercased()
            if next?.kind == .openParen, LogQLToken.functions.contains(lower) { return lower.uppercased() }
            if LogQLToken.keywords.contains(lower) { return lower }
            return "IDENTIFIER"
        case .openBracket: return "RANGE"
        default: return kind.rawValue
        }
    }

    /// Function names Loki lexes as their own tokens when a `(` follows.
    static let functions: Set<String> = Set(RangeAggregationOp.allCases.map(\.rawValue) + VectorAggregationOp.allCases.map(\.rawValue))
        .union(["vector", "bytes", "duration", "duration_seconds"])

    /// Words with a meaning of their own in Loki's grammar.
    static let keywords: Set<String> = [
        "by", "without", "bool", "on", "ignoring", "group_left", "group_right", "offset", "or", "and", "unless",
        "json", "logfmt", "regexp", "pattern", "unpack", "line_format", "label_format", "drop", "keep", "decolorize",
        "unwrap", "ip", "label_replace",
    ]
}

/// Splits a LogQL query into tokens. Numbers, durations (`5m`, `1h30m`, `250ms`) and byte sizes (`10KB`) are told
/// apart by their suffix; strings are `"…"` with Go escapes or raw `` `…` ``.
struct LogQLLexer {
    private let bytes: [UInt8]
    private let query: String
    private var position = 0

    init(_ query: String) {
        self.query = query
        self.bytes = Array(query.utf8)
    }

    /// Every token of the query, ending with `$end`.
    /// - Throws: ``LogQLParseError`` for an unterminated string, an invalid escape or an unexpected character.
    static func tokens(_ query: String) throws(LogQLParseError) -> [LogQLToken] {
        var lexer = LogQLLexer(query)
        var out: [LogQLToken] = []
        while true {
            let token = try lexer.next()
            out.append(token)
            if token.kind == .end { return out }
        }
    }

    /// Line and column (1-based, columns in Unicode scalars) of a byte offset in `query`.
    static func lineAndColumn(_ query: String, offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        var index = 0
        for scalar in query.unicodeScalars {
            if index >= offset { break }
            index += String(scalar).utf8.count
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    private func error(_ message: String, at offset: Int) -> LogQLParseError {
        let (line, column) = Self.lineAndColumn(query, offset: offset)
        return LogQLParseError(message, line: line, column: column)
    }

    private mutating func next() throws(LogQLParseError) -> LogQLToken {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        // `#` starts a comment to the end of the line.
        if position < bytes.count, bytes[position] == UInt8(ascii: "#") {
            while position < bytes.count, bytes[position] != 0x0A { position += 1 }
            return try next()
        }
        let start = position
        guard position < bytes.count else { return LogQLToken(kind: .end, text: "", offset: start) }
        let byte = bytes[position]
        let nextByte: UInt8 = position + 1 < bytes.count ? bytes[position + 1] : 0

        func punct(_ kind: LogQLTokenKind, _ length: Int) -> LogQLToken {
            position += length
            return LogQLToken(kind: kind, text: kind.rawValue, offset: start)
        }

        switch byte {
        case UInt8(ascii: "{"): return punct(.openBrace, 1)
        case UInt8(ascii: "}"): return punct(.closeBrace, 1)
        case UInt8(ascii: "("): return punct(.openParen, 1)
        case UInt8(ascii: ")"): return punct(.closeParen, 1)
        case UInt8(ascii: "["): return punct(.openBracket, 1)
        case UInt8(ascii: "]"): return punct(.closeBracket, 1)
        case UInt8(ascii: ","): return punct(.comma, 1)
        case UInt8(ascii: "+"): return punct(.add, 1)
        case UInt8(ascii: "*"): return punct(.mul, 1)
        case UInt8(ascii: "/"): return punct(.div, 1)
        case UInt8(ascii: "%"): return punct(.mod, 1)
        case UInt8(ascii: "^"): return punct(.pow, 1)
        case UInt8(ascii: "|"):
            switch nextByte {
            case UInt8(ascii: "="): return punct(.pipeExact, 2)
            case UInt8(ascii: "~"): return punct(.pipeMatch, 2)
            case UInt8(ascii: ">"): return punct(.pipePattern, 2)
            default: return punct(.pipe, 1)
            }
        case UInt8(ascii: "!"):
            switch nextByte {
            case UInt8(ascii: "="): return punct(.notEqual, 2)
            case UInt8(ascii: "~"): return punct(.notRegex, 2)
            case UInt8(ascii: ">"): return punct(.notPattern, 2)
            default: throw error("syntax error: unexpected character '!'", at: start)
            }
        case UInt8(ascii: "="):
            switch nextByte {
            case UInt8(ascii: "~"): return punct(.regex, 2)
            case UInt8(ascii: "="): return punct(.compareEqual, 2)
            default: return punct(.equal, 1)
            }
        case UInt8(ascii: ">"): return nextByte == UInt8(ascii: "=") ? punct(.greaterOrEqual, 2) : punct(.greater, 1)
        case UInt8(ascii: "<"): return nextByte == UInt8(ascii: "=") ? punct(.lessOrEqual, 2) : punct(.less, 1)
        case UInt8(ascii: "-"):
            if nextByte == UInt8(ascii: "-") && position + 2 < bytes.count && Self.isIdentifierByte(bytes[position + 2]) {
                position += 2
                while position < bytes.count, Self.isIdentifierByte(bytes[position]) || bytes[position] == UInt8(ascii: "-") {
                    position += 1
                }
                return LogQLToken(kind: .flag, text: text(start, position), offset: start)
            }
            return punct(.sub, 1)
        case UInt8(ascii: "\""), UInt8(ascii: "`"):
            return LogQLToken(kind: .string, text: try lexString(), offset: start)
        default:
            break
        }
        if Self.isDigit(byte) || (byte == UInt8(ascii: ".") && Self.isDigit(nextByte)) {
            return try lexNumeric()
        }
        if Self.isIdentifierStart(byte) {
            while position < bytes.count, Self.isIdentifierByte(bytes[position]) { position += 1 }
            return LogQLToken(kind: .identifier, text: text(start, position), offset: start)
        }
        let scalar = String(decoding: bytes[start...].prefix(4), as: UTF8.self).unicodeScalars.first.map(String.init) ?? "?"
        throw error("syntax error: unexpected character '\(scalar)'", at: start)
    }

    private func text(_ from: Int, _ to: Int) -> String { String(decoding: bytes[from..<to], as: UTF8.self) }

    /// A quoted string, unquoted.
    private mutating func lexString() throws(LogQLParseError) -> String {
        let start = position
        let quote = bytes[position]
        position += 1
        while position < bytes.count {
            let byte = bytes[position]
            if byte == quote {
                position += 1
                return PromQLLiteral.unquote(text(start, position))
            }
            if quote == UInt8(ascii: "\"") {
                if byte == UInt8(ascii: "\\") {
                    guard position + 1 < bytes.count else { break }
                    let escape = bytes[position + 1]
                    // Go's text/scanner words, at the start of the string, as Loki reports them.
                    guard Self.validEscapes.contains(escape) else { throw error("invalid char escape", at: start) }
                    position += 2
                    continue
                }
                if byte == 0x0A { throw error("literal not terminated", at: start) }
            }
            position += 1
        }
        throw error("literal not terminated", at: start)
    }

    private static let validEscapes: Set<UInt8> = Set("abfnrtv\\\"'xuU01234567".utf8)

    /// A number, a duration or a byte size: a run of digits, dots and letters classified by what it parses as.
    private mutating func lexNumeric() throws(LogQLParseError) -> LogQLToken {
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if Self.isDigit(byte) || byte == UInt8(ascii: ".") || Self.isLetter(byte) || byte == 0xC2 || byte == 0xB5 {
                position += 1
            } else if (byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")) && position > start
                && (bytes[position - 1] == UInt8(ascii: "e") || bytes[position - 1] == UInt8(ascii: "E"))
                && position + 1 < bytes.count && Self.isDigit(bytes[position + 1]) && Self.isPlainNumberPrefix(bytes[start..<position - 1])
            {
                position += 1
            } else {
                break
            }
        }
        let word = text(start, position)
        if LogQLUnits.number(word) != nil && word.utf8.allSatisfy({ Self.isDigit($0) || $0 == UInt8(ascii: ".") }) {
            return LogQLToken(kind: .number, text: word, offset: start)
        }
        if LogQLUnits.durationNanoseconds(word) != nil { return LogQLToken(kind: .duration, text: word, offset: start) }
        if LogQLUnits.number(word) != nil { return LogQLToken(kind: .number, text: word, offset: start) }
        if LogQLUnits.bytes(word) != nil { return LogQLToken(kind: .bytes, text: word, offset: start) }
        throw error("syntax error: invalid number, duration or byte size \(GoText.quote(word))", at: start)
    }

    private static func isPlainNumberPrefix(_ slice: ArraySlice<UInt8>) -> Bool {
        !slice.isEmpty && slice.allSatisfy { isDigit($0) || $0 == UInt8(ascii: ".") }
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    static func isLetter(_ byte: UInt8) -> Bool { (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) }
    static func isIdentifierStart(_ byte: UInt8) -> Bool { isLetter(byte) || byte == UInt8(ascii: "_") }
    static func isIdentifierByte(_ byte: UInt8) -> Bool { isIdentifierStart(byte) || isDigit(byte) }
}
