import SightlineCore

/// How Loki's pattern detection cuts a line into tokens, by the format of a stream's first line: JSON lines by their
/// message field, logfmt lines by their pairs, any other line at spaces and punctuation.
enum LogPatternTokenizer: Equatable {
    /// `{…}`: the first top-level string among ``messageFields``, cut as ``punctuation`` cuts.
    case json
    /// `key=value` pairs, tokens alternating key and value; time and trace id values are placeholders already.
    case logfmt
    /// Words, each punctuation mark a token of its own, spaces remembered for joining.
    case punctuation

    /// The placeholder a varying token becomes.
    static let placeholder = "<_>"
    /// Longer lines are passed by.
    static let maxLineBytes = 3000
    /// A line is cut into at most this many tokens (the last one holds the rest).
    static let maxTokens = 128
    /// The JSON fields a message is looked for in, in order (Loki's `pattern_ingester_tokenizable_json_fields`).
    static let messageFields = ["log", "message", "msg", "msg_", "_msg", "content"]
    /// logfmt keys whose values always vary.
    private static let variableKeys: Set<String> = ["ts", "time", "timestamp", "traceid"]

    /// The tokens of a line and, for punctuation cutting, the token indices a space follows (once per space).
    struct Tokens {
        var tokens: [String]
        var spaces: [Int]
    }

    /// The tokenizer for a stream whose first line is `line` (at most ``maxLineBytes`` long: longer lines are passed
    /// by before this, and the logfmt check takes time quadratic in the length).
    static func detect(_ line: String) -> LogPatternTokenizer {
        let bytes = Array(line.utf8)
        guard bytes.count <= maxLineBytes else { return .punctuation }
        if bytes.count >= 2 && bytes.first == UInt8(ascii: "{") && bytes.last == UInt8(ascii: "}") { return .json }
        var shape = LogfmtShape(bytes)
        return shape.matches() ? .logfmt : .punctuation
    }

    /// The tokens of `line`, or nil when the line is passed by (too long, not decodable, no message).
    func tokenize(_ line: String) -> Tokens? {
        guard line.utf8.count <= Self.maxLineBytes else { return nil }
        switch self {
        case .punctuation: return Self.punctuationTokens(Substring(line))
        case .json:
            guard let message = Self.jsonMessage(Array(line.utf8)) else { return nil }
            return Self.punctuationTokens(Substring(message))
        case .logfmt: return Self.logfmtTokens(line)
        }
    }

    /// The text of a pattern's tokens.
    func join(_ tokens: [String], spaces: [Int]) -> String {
        let text: String
        switch self {
        case .punctuation: text = Self.joinPunctuation(tokens, spaces: spaces)
        case .json: text = Self.placeholder + Self.joinPunctuation(tokens, spaces: spaces) + Self.placeholder
        case .logfmt: text = Self.joinLogfmt(tokens)
        }
        return Self.collapsingPlaceholders(text)
    }

    // MARK: Punctuation

    /// Letters, digits and `_ - . : /` make words; a space ends a word; `=` and other punctuation are tokens of
    /// their own; symbols and control characters belong to the word they are in. A token is a run of the line's
    /// bytes, so the line is read byte by byte; only non-ASCII characters are looked up in Unicode's categories.
    static func punctuationTokens(_ line: Substring) -> Tokens {
        var text = line
        return text.withUTF8 { punctuationTokens($0) }
    }

    private static func punctuationTokens(_ bytes: UnsafeBufferPointer<UInt8>) -> Tokens {
        var tokens: [String] = []
        var spaces: [Int] = []
        var start = 0
        var index = 0
        func flush(upTo end: Int) {
            if end > start { tokens.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)) }
        }
        while index < bytes.count {
            if tokens.count >= maxTokens - 1 {
                // The rest of the line is the last token.
                index = bytes.count
                break
            }
            let byte = bytes[index]
            let kind: ByteKind
            let width: Int
            if byte < 0x80 {
                kind = asciiKinds[Int(byte)]
                width = 1
            } else {
                width = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
                let end = min(bytes.count, index + width)
                let scalar = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self).unicodeScalars.first
                kind = scalar.map(kind(of:)) ?? .inWord
            }
            switch kind {
            case .inWord:
                index += width
            case .space:
                flush(upTo: index)
                spaces.append(tokens.count - 1)
                index += width
                start = index
            case .separator:
                flush(upTo: index)
                let end = min(bytes.count, index + width)
                tokens.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self))
                index = end
                start = index
            }
        }
        flush(upTo: min(index, bytes.count))
        return Tokens(tokens: tokens, spaces: spaces)
    }

    /// What a character is to the punctuation tokenizer.
    private enum ByteKind {
        /// Part of the word it is in: letters, digits, `_ - . : /`, symbols, controls.
        case inWord
        case space
        /// A token of its own: `=` and punctuation.
        case separator
    }

    private static let asciiKinds: [ByteKind] = (0..<128).map { kind(of: Unicode.Scalar(UInt8($0))) }

    private static func kind(of scalar: Unicode.Scalar) -> ByteKind {
        switch scalar {
        case " ": return .space
        case "_", "-", ".", ":", "/": return .inWord
        case "=": return .separator
        default: break
        }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation,
            .otherPunctuation:
            return .separator
        default: return .inWord
        }
    }

    /// The tokens run together, a space after each token the first line had one after.
    private static func joinPunctuation(_ tokens: [String], spaces: [Int]) -> String {
        var after = [Int](repeating: 0, count: tokens.count)
        for index in spaces where index >= 0 && index < tokens.count { after[index] += 1 }
        var out = ""
        for (index, token) in tokens.enumerated() {
            out += token
            if after[index] > 0 { out += String(repeating: " ", count: after[index]) }
        }
        return out
    }

    // MARK: JSON

    /// The first top-level member among ``messageFields`` with a string value, as written (escapes kept).
    static func jsonMessage(_ bytes: [UInt8]) -> String? {
        var members: [String: String] = [:]
        var index = 1
        var depth = 1
        var expectingKey = true
        var key: String?
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let start = index + 1
                index += 1
                while index < bytes.count && bytes[index] != UInt8(ascii: "\"") { index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1 }
                guard index < bytes.count else { return nil }
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                if depth == 1 {
                    if expectingKey {
                        key = text
                    } else if let name = key {
                        if members[name] == nil { members[name] = text }
                        key = nil
                    }
                }
            } else if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                depth += 1
            } else if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                depth -= 1
            } else if depth == 1 && byte == UInt8(ascii: ":") {
                expectingKey = false
            } else if depth == 1 && byte == UInt8(ascii: ",") {
                expectingKey = true
                key = nil
            }
            index += 1
        }
        for field in messageFields {
            if let message = members[field] { return message.utf8.count <= maxLineBytes ? message : nil }
        }
        return nil
    }

    // MARK: logfmt

    /// Keys and values in turn (a key without a value gets an empty one); nil when the line does not decode.
    static func logfmtTokens(_ line: String) -> Tokens? {
        var tokens: [String] = []
        var decodes = true
        var text = line
        text.withUTF8 { bytes in
            LogfmtPairs.scan(bytes) { pair in
                tokens.append(pair.key)
                tokens.append(variableKeys.contains(pair.key.lowercased()) || pair.key == "t" ? placeholder : pair.value)
                return true
            } malformed: { _ in
                decodes = false
                return false
            }
        }
        return decodes ? Tokens(tokens: tokens, spaces: []) : nil
    }

    /// `key=value` pairs joined by spaces, values quoted when they hold spaces, `=`, quotes or control characters
    /// (go-logfmt quotes them as Go's JSON encoder does, without its HTML escapes).
    private static func joinLogfmt(_ tokens: [String]) -> String {
        var pairs: [String] = []
        var index = 0
        while index < tokens.count {
            let key = String(String.UnicodeScalarView(tokens[index].unicodeScalars.filter { $0.value > 0x20 && $0 != "=" && $0 != "\"" && $0.value != 0x7F }))
            guard !key.isEmpty else { return "" }
            let value = index + 1 < tokens.count ? tokens[index + 1] : ""
            let needsQuotes = value.unicodeScalars.contains { $0.value <= 0x20 || $0 == "=" || $0 == "\"" || $0.value == 0x7F || $0 == "\u{FFFD}" }
            pairs.append(key + "=" + (needsQuotes ? JSONText.quoted(value) : value))
            index += 2
        }
        return pairs.joined(separator: " ")
    }

    /// Runs of placeholders written together (`<_><_>`) as one.
    static func collapsingPlaceholders(_ text: String) -> String {
        let mark = Array(placeholder.utf8)
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index...].starts(with: mark) {
                if !out.suffix(mark.count).elementsEqual(mark) { out.append(contentsOf: mark) }
                index += mark.count
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Whether a whole line is logfmt as Loki's format check has it: `key=value` pairs (keys of ASCII letters, digits and
/// `_`; a value bare, starting with anything but a quote, or quoted), separated by single spaces, the last ones
/// possibly run together.
private struct LogfmtShape {
    let bytes: [UInt8]
    /// Per position and whether spaces may still separate pairs: unknown (nil), or whether the rest matches.
    private var memo: [[Bool?]]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        memo = [[Bool?]](repeating: [nil, nil], count: bytes.count + 1)
    }

    mutating func matches() -> Bool {
        !bytes.isEmpty && rest(from: 0, spacesAllowed: true)
    }

    private mutating func rest(from start: Int, spacesAllowed: Bool) -> Bool {
        if let known = memo[start][spacesAllowed ? 1 : 0] { return known }
        var result = false
        for end in pairEnds(from: start) {
            if end == bytes.count
                || (spacesAllowed && bytes[end] == 0x20 && end + 1 < bytes.count && rest(from: end + 1, spacesAllowed: true))
                || rest(from: end, spacesAllowed: false)
            {
                result = true
                break
            }
        }
        memo[start][spacesAllowed ? 1 : 0] = result
        return result
    }

    /// The positions a `key=value` pair starting at `start` may end at.
    private func pairEnds(from start: Int) -> [Int] {
        var index = start
        while index < bytes.count && Self.isWordByte(bytes[index]) { index += 1 }
        guard index > start, index < bytes.count, bytes[index] == UInt8(ascii: "=") else { return [] }
        let value = index + 1
        guard value < bytes.count else { return [] }
        var ends: [Int] = []
        if bytes[value] == UInt8(ascii: "\"") {
            // `".+?"`: at least one character (not a newline) inside.
            var close = value + 2
            while close < bytes.count && bytes[close - 1] != 0x0A {
                if bytes[close] == UInt8(ascii: "\"") { ends.append(close + 1) }
                if bytes[close] == 0x0A { break }
                close += 1
            }
        } else {
            // `[^"]\S*?`.
            var end = value + 1
            ends.append(end)
            while end < bytes.count && !Self.isSpace(bytes[end]) {
                end += 1
                ends.append(end)
            }
        }
        return ends
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0C || byte == 0x0D }
}
