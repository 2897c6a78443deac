/// Splits PromQL text into tokens, one at a time, with the same states and error messages as Prometheus' lexer
/// (`promql/parser/lex.go`): normal text, the inside of `{…}`, the inside of `[…]` (duration expressions), and the
/// value part of a series description.
///
/// Errors come back as a `.error` token whose text is the message and whose start is where Prometheus reports it;
/// after an error or the end of input, every further token is `.eof`.
struct PromQLLexer {
    private enum State {
        case statements, insideBraces, durationExpression, valueSequence, done
    }

    private static let keywords: [String: PromQLTokenKind] = {
        var map: [String: PromQLTokenKind] = [
            "and": .binaryOperator(.and), "or": .binaryOperator(.or), "unless": .binaryOperator(.unless),
            "atan2": .binaryOperator(.atan2), "inf": .number, "nan": .number,
        ]
        for op in AggregateOperator.allCases { map[op.rawValue] = .aggregator(op) }
        for keyword in PromQLKeyword.allCases { map[keyword.rawValue] = .keyword(keyword) }
        for word in PromQLPreprocessor.allCases { map[word.rawValue] = .preprocessor(word) }
        return map
    }()

    private static let durationKeywords: [String: PromQLPreprocessor] = [
        "step": .step, "range": .range, "max_of": .maxOf, "min_of": .minOf,
    ]

    private let input: [UInt8]
    private let seriesDescription: Bool
    private var state = State.statements
    /// Current byte offset.
    private var pos = 0
    /// Start of the token being scanned.
    private var start = 0
    /// Width of the last scalar read by `next()`, so that `backup()` can undo it (0 at the end of input).
    private var width = 0
    private var pending: PromQLToken?

    private var parenDepth = 0
    private var braceOpen = false
    private var bracketOpen = false
    private var gotColon = false
    private var gotDuration = false
    private var stringQuote: Unicode.Scalar = "\""

    init(_ input: String, seriesDescription: Bool = false) {
        self.input = Array(input.utf8)
        self.seriesDescription = seriesDescription
    }

    /// The next token, comments included.
    mutating func nextToken() -> PromQLToken {
        pending = nil
        while pending == nil {
            switch state {
            case .statements: lexStatements()
            case .insideBraces: lexInsideBraces()
            case .durationExpression: lexDurationExpression()
            case .valueSequence: lexValueSequence()
            case .done: emit(.eof)
            }
        }
        return pending ?? PromQLToken(kind: .eof, start: pos, text: "")
    }

    // MARK: - Reading

    private static let replacement: Unicode.Scalar = "\u{FFFD}"

    /// Reads one scalar; nil at the end of input. Invalid UTF-8 reads as U+FFFD, one byte wide, as in Go.
    private mutating func next() -> Unicode.Scalar? {
        guard pos < input.count else {
            width = 0
            return nil
        }
        let first = input[pos]
        if first < 0x80 {
            width = 1
            pos += 1
            return Unicode.Scalar(first)
        }
        let length = first >= 0xF0 ? 4 : first >= 0xE0 ? 3 : first >= 0xC0 ? 2 : 1
        var value = UInt32(first) & (length == 4 ? 0x07 : length == 3 ? 0x0F : 0x1F)
        var valid = length > 1 && pos + length <= input.count
        if valid {
            for offset in 1..<length {
                let byte = input[pos + offset]
                if byte & 0xC0 != 0x80 {
                    valid = false
                    break
                }
                value = value << 6 | UInt32(byte & 0x3F)
            }
        }
        let minimum: UInt32 = length == 4 ? 0x10000 : length == 3 ? 0x800 : 0x80
        if valid, value >= minimum, let scalar = Unicode.Scalar(value) {
            width = length
            pos += length
            return scalar
        }
        width = 1
        pos += 1
        return Self.replacement
    }

    private mutating func peek() -> Unicode.Scalar? {
        let scalar = next()
        backup()
        return scalar
    }

    private mutating func backup() { pos -= width }

    private mutating func accept(_ valid: String) -> Bool {
        if let scalar = next(), valid.unicodeScalars.contains(scalar) { return true }
        backup()
        return false
    }

    private mutating func acceptRun(_ valid: String) {
        while let scalar = next(), valid.unicodeScalars.contains(scalar) {}
        backup()
    }

    private mutating func isNext(_ valid: String) -> Bool {
        guard let scalar = peek() else { return false }
        return valid.unicodeScalars.contains(scalar)
    }

    private var currentText: String { String(decoding: input[start..<pos], as: UTF8.self) }

    private mutating func emit(_ kind: PromQLTokenKind) {
        pending = PromQLToken(kind: kind, start: start, text: currentText)
        start = pos
    }

    /// Reports an error at the start of the current token and stops lexing.
    private mutating func fail(_ message: String) {
        pending = PromQLToken(kind: .error, start: start, text: message)
        state = .done
    }

    private mutating func skipSpaces() {
        while let scalar = peek(), Self.isSpace(scalar) { _ = next() }
        start = pos
    }

    private func hasPrefix(_ prefix: UInt8) -> Bool { pos < input.count && input[pos] == prefix }

    static func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" }
    static func isAlpha(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }
    static func isDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }
    static func isAlphaNumeric(_ scalar: Unicode.Scalar?) -> Bool {
        guard let scalar else { return false }
        return isAlpha(scalar) || isDigit(scalar)
    }

    private static func quoted(_ scalar: Unicode.Scalar?) -> String { GoText.quoteRune(scalar ?? replacement) }

    // MARK: - States

    private mutating func lexStatements() {
        if braceOpen {
            state = .insideBraces
            return
        }
        if hasPrefix(UInt8(ascii: "#")) {
            lexLineComment()
            return
        }
        guard let scalar = next() else {
            if parenDepth != 0 {
                fail("unclosed left parenthesis")
            } else if bracketOpen {
                fail("unclosed left bracket")
            } else {
                emit(.eof)
                state = .done
            }
            return
        }
        switch scalar {
        case ",": emit(.comma)
        case " ", "\t", "\n", "\r": skipSpaces()
        case "*": emit(.binaryOperator(.mul))
        case "/": emit(.binaryOperator(.div))
        case "%": emit(.binaryOperator(.mod))
        case "+": emit(.binaryOperator(.add))
        case "-": emit(.binaryOperator(.sub))
        case "^": emit(.binaryOperator(.pow))
        case "=":
            let following = peek()
            if following == "=" {
                _ = next()
                emit(.binaryOperator(.eql))
            } else if following == "~" {
                fail("unexpected character after '=': \(Self.quoted(following))")
            } else {
                emit(.assign)
            }
        case "!":
            let following = next()
            guard following == "=" else {
                fail("unexpected character after '!': \(Self.quoted(following))")
                return
            }
            emit(.binaryOperator(.neq))
        case "<":
            if peek() == "=" {
                _ = next()
                emit(.binaryOperator(.lte))
            } else if peek() == "/" {
                _ = next()
                emit(.binaryOperator(.trimUpper))
            } else {
                emit(.binaryOperator(.lss))
            }
        case ">":
            if peek() == "=" {
                _ = next()
                emit(.binaryOperator(.gte))
            } else if peek() == "/" {
                _ = next()
                emit(.binaryOperator(.trimLower))
            } else {
                emit(.binaryOperator(.gtr))
            }
        case "\"", "'":
            stringQuote = scalar
            lexString()
        case "`":
            stringQuote = scalar
            lexRawString()
        case "(":
            emit(.leftParen)
            parenDepth += 1
        case ")":
            emit(.rightParen)
            parenDepth -= 1
            if parenDepth < 0 { fail("unexpected right parenthesis ')'") }
        case "{":
            emit(.leftBrace)
            braceOpen = true
            state = .insideBraces
        case "[":
            if bracketOpen {
                fail("unexpected left bracket '['")
                return
            }
            gotColon = false
            emit(.leftBracket)
            skipSpaces()
            bracketOpen = true
            state = .durationExpression
        case "]":
            if !bracketOpen {
                fail("unexpected right bracket ']'")
                return
            }
            emit(.rightBracket)
            bracketOpen = false
        case "@":
            emit(.at)
        default:
            if Self.isDigit(scalar) || (scalar == "." && peek().map(Self.isDigit) == true) {
                backup()
                lexNumberOrDuration()
            } else if Self.isAlpha(scalar) || scalar == ":" {
                if !bracketOpen {
                    backup()
                    lexKeywordOrIdentifier()
                } else if scalar == ":" {
                    if gotColon {
                        fail("unexpected colon ':'")
                        return
                    }
                    emit(.colon)
                    gotColon = true
                } else if !(Self.isDurationKeywordStart(scalar) && scanDurationKeyword()) {
                    fail("unexpected character: \(Self.quoted(scalar)), expected ':'")
                }
            } else {
                fail("unexpected character: \(Self.quoted(scalar))")
            }
        }
    }

    private mutating func lexLineComment() {
        pos += 1
        while let scalar = next(), scalar != "\n", scalar != "\r" {}
        backup()
        emit(.comment)
    }

    private mutating func lexInsideBraces() {
        if hasPrefix(UInt8(ascii: "#")) {
            lexLineComment()
            return
        }
        guard let scalar = next() else {
            fail("unexpected end of input inside braces")
            return
        }
        switch scalar {
        case " ", "\t", "\n", "\r": skipSpaces()
        case ",": emit(.comma)
        case "\"", "'":
            stringQuote = scalar
            lexString()
        case "`":
            stringQuote = scalar
            lexRawString()
        case "=":
            if next() == "~" {
                emit(.regexMatch)
            } else {
                backup()
                emit(.assign)
            }
        case "!":
            let following = next()
            if following == "~" {
                emit(.regexNoMatch)
            } else if following == "=" {
                emit(.binaryOperator(.neq))
            } else {
                fail("unexpected character after '!' inside braces: \(Self.quoted(following))")
            }
        case "{": fail("unexpected left brace '{'")
        case "}":
            emit(.rightBrace)
            braceOpen = false
            state = seriesDescription ? .valueSequence : .statements
        default:
            if Self.isAlpha(scalar) {
                while Self.isAlphaNumeric(next()) {}
                backup()
                emit(.identifier)
            } else {
                fail("unexpected character inside braces: \(Self.quoted(scalar))")
            }
        }
    }

    private mutating func lexDurationExpression() {
        guard let scalar = next() else {
            fail("unexpected end of input in duration expression")
            return
        }
        switch scalar {
        case "]":
            emit(.rightBracket)
            bracketOpen = false
            gotColon = false
            state = .statements
        case ":":
            emit(.colon)
            if !gotDuration {
                fail("unexpected colon before duration in duration expression")
            } else if gotColon {
                fail("unexpected repeated colon in duration expression")
            } else {
                gotColon = true
            }
        case "(":
            emit(.leftParen)
            parenDepth += 1
        case ")":
            emit(.rightParen)
            parenDepth -= 1
            if parenDepth < 0 { fail("unexpected right parenthesis ')'") }
        case " ", "\t", "\n", "\r": skipSpaces()
        case "+": emit(.binaryOperator(.add))
        case "-": emit(.binaryOperator(.sub))
        case "*": emit(.binaryOperator(.mul))
        case "/": emit(.binaryOperator(.div))
        case "%": emit(.binaryOperator(.mod))
        case "^": emit(.binaryOperator(.pow))
        case ",": emit(.comma)
        default:
            if Self.isDurationKeywordStart(scalar) {
                if !scanDurationKeyword() { fail("unexpected character in duration expression: \(Self.quoted(scalar))") }
            } else if Self.isDigit(scalar) || (scalar == "." && peek().map(Self.isDigit) == true) {
                backup()
                gotDuration = true
                state = .statements
                lexNumberOrDuration()
            } else {
                fail("unexpected character in duration expression: \(Self.quoted(scalar))")
            }
        }
    }

    private mutating func lexValueSequence() {
        guard let scalar = next() else {
            state = .statements
            return
        }
        switch scalar {
        case "{" where peek() == "{":
            _ = next()
            emit(.openHistogram)
        case " ", "\t", "\n", "\r":
            emit(.space)
            skipSpaces()
        case "+": emit(.binaryOperator(.add))
        case "-": emit(.binaryOperator(.sub))
        case "x": emit(.times)
        case "_": emit(.blank)
        default:
            if Self.isDigit(scalar) || (scalar == "." && peek().map(Self.isDigit) == true) {
                backup()
                if scanNumber() {
                    emit(.number)
                } else {
                    fail("bad number syntax: \(GoText.quote(currentText))")
                }
            } else if Self.isAlpha(scalar) {
                backup()
                lexKeywordOrIdentifier()
            } else {
                fail("unexpected character in series sequence: \(Self.quoted(scalar))")
            }
        }
    }

    // MARK: - Pieces

    private static func isDurationKeywordStart(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "s", "S", "r", "R", "m", "M": true
        default: false
        }
    }

    private mutating func scanDurationKeyword() -> Bool {
        while let scalar = next(), Self.isAlpha(scalar) {}
        backup()
        guard let word = Self.durationKeywords[currentText.lowercased()] else { return false }
        emit(.preprocessor(word))
        return true
    }

    private mutating func lexString() {
        while true {
            switch next() {
            case "\\":
                if !lexEscape() { return }
            case Self.replacement:
                fail("invalid UTF-8 rune")
                return
            case nil, "\n":
                fail("unterminated quoted string")
                return
            case let scalar? where scalar == stringQuote:
                emit(.string)
                return
            default:
                continue
            }
        }
    }

    /// Checks one escape sequence after a backslash; false after reporting an error.
    private mutating func lexEscape() -> Bool {
        var scalar = next()
        var count: Int
        var base: UInt32
        var maximum: UInt32
        switch scalar {
        case "a", "b", "f", "n", "r", "t", "v", "\\": return true
        case let quote? where quote == stringQuote: return true
        case "0", "1", "2", "3", "4", "5", "6", "7": (count, base, maximum) = (3, 8, 255)
        case "x":
            scalar = next()
            (count, base, maximum) = (2, 16, 255)
        case "u":
            scalar = next()
            (count, base, maximum) = (4, 16, 0x10FFFF)
        case "U":
            scalar = next()
            (count, base, maximum) = (8, 16, 0x10FFFF)
        case nil:
            fail("escape sequence not terminated")
            return false
        case let other?:
            fail("unknown escape sequence \(GoText.unicodeName(other))")
            return false
        }
        var value: UInt32 = 0
        while count > 0 {
            let digit = Self.digitValue(scalar)
            if digit >= base {
                if let scalar {
                    fail("illegal character \(GoText.unicodeName(scalar)) in escape sequence")
                } else {
                    fail("escape sequence not terminated")
                }
                return false
            }
            value = value &* base &+ digit
            count -= 1
            if count > 0 { scalar = next() }
        }
        if value > maximum || (0xD800..<0xE000).contains(value) {
            fail("escape sequence is an invalid Unicode code point")
            return false
        }
        return true
    }

    private static func digitValue(_ scalar: Unicode.Scalar?) -> UInt32 {
        guard let scalar else { return 16 }
        switch scalar {
        case "0"..."9": return scalar.value - 48
        case "a"..."f": return scalar.value - 97 + 10
        case "A"..."F": return scalar.value - 65 + 10
        default: return 16
        }
    }

    private mutating func lexRawString() {
        while true {
            switch next() {
            case Self.replacement:
                fail("invalid UTF-8 rune")
                return
            case nil:
                fail("unterminated raw string")
                return
            case let scalar? where scalar == stringQuote:
                emit(.string)
                return
            default:
                continue
            }
        }
    }

    private mutating func lexNumberOrDuration() {
        if scanNumber() {
            emit(.number)
            return
        }
        if acceptRemainingDuration() {
            backup()
            emit(.duration)
            return
        }
        fail("bad number or duration syntax: \(GoText.quote(currentText))")
    }

    /// After the digits of a duration: a unit, then more number-unit pairs, then no letter or digit.
    private mutating func acceptRemainingDuration() -> Bool {
        guard accept("smhdwy") else { return false }
        _ = accept("s")
        while accept("0123456789") {
            while accept("0123456789") {}
            guard accept("smhdw") else { return false }
            _ = accept("s")
        }
        return !Self.isAlphaNumeric(next())
    }

    /// Scans a decimal, hexadecimal or floating-point number (with `_` separators); the text is not necessarily
    /// valid, which the parser catches.
    private mutating func scanNumber() -> Bool {
        let initial = pos
        var digits = "0123456789"
        if !seriesDescription && accept("0") && accept("xX") {
            _ = accept("_")
            digits = "0123456789abcdefABCDEF"
        }
        let isHex = digits.count > 10
        _ = accept(".")
        _ = accept(digits)
        var sawDot = false
        var sawExponent = false
        while isNext(digits + "._eE") {
            if isNext("."), sawDot {
                _ = accept(".")
                return false
            }
            if isNext("eE"), sawExponent {
                _ = accept("eE")
                return false
            }
            if accept(".") {
                sawDot = true
                if accept("_.") { return false }
                if isHex { return false }
                continue
            }
            if accept("eE") {
                sawExponent = true
                _ = accept("+-")
                if accept("._eE") || peek() == nil { return false }
                continue
            }
            if accept("_") {
                if accept("._eE") || peek() == nil { return false }
                continue
            }
            acceptRun(digits)
        }
        if pos == initial { return false }
        let following = peek()
        return (seriesDescription && following == "x") || !Self.isAlphaNumeric(following)
    }

    private mutating func lexKeywordOrIdentifier() {
        while let scalar = next(), Self.isAlphaNumeric(scalar) || scalar == ":" {}
        backup()
        let word = currentText
        if let kind = Self.keywords[word.lowercased()] {
            switch kind {
            case .keyword(.fill), .keyword(.fillLeft), .keyword(.fillRight):
                emit(followedByLeftParen() ? kind : .identifier)
            default:
                emit(kind)
            }
        } else {
            emit(word.contains(":") ? .metricIdentifier : .identifier)
        }
        state = seriesDescription && peek() != "{" ? .valueSequence : .statements
    }

    private func followedByLeftParen() -> Bool {
        var index = pos
        while index < input.count {
            switch input[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
            case UInt8(ascii: "("): return true
            default: return false
            }
        }
        return false
    }
}
