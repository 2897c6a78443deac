/// One lexical item of PromQL (or of a series description), with its byte offset in the input.
struct PromQLToken: Sendable {
    var kind: PromQLTokenKind
    /// Byte offset of the first character.
    var start: Int
    /// The text as written; for `.error` tokens, the lexer's error message.
    var text: String

    /// How Prometheus names the item in "unexpected …" messages (`Item.desc()`): `identifier "foo"`, `<op:+>`,
    /// `<by>`, `"("`, `end of input`.
    var errorDescription: String {
        switch kind {
        case .eof: return "end of input"
        case .identifier: return "identifier \(GoText.quote(text))"
        case .metricIdentifier: return "metric identifier \(GoText.quote(text))"
        case .number: return "number \(shortQuoted)"
        case .duration: return "duration \(shortQuoted)"
        case .string: return "string \(shortQuoted)"
        case .comment: return "comment \(shortQuoted)"
        case .error: return text
        case .keyword: return "<\(text)>"
        case .binaryOperator, .regexMatch, .regexNoMatch, .at: return "<op:\(text)>"
        case .aggregator: return "<aggr:\(text)>"
        default: return shortQuoted
        }
    }

    /// Go's `Item.String()` fallback: `%q`, cut to ten runes (`%.10q...`) when longer than ten bytes.
    private var shortQuoted: String {
        text.utf8.count > 10 ? GoText.quotePrefix(text, runes: 10) + "..." : GoText.quote(text)
    }
}

/// The kinds of ``PromQLToken``.
enum PromQLTokenKind: Hashable, Sendable {
    case eof, error, comment
    case identifier
    /// An identifier containing a colon (only valid as a metric name).
    case metricIdentifier
    case number, duration, string
    case leftParen, rightParen, leftBrace, rightBrace, leftBracket, rightBracket
    case comma, colon
    /// `=` (a label matcher or label set item, not the `==` operator).
    case assign
    /// Series descriptions only: a space, `_`, `x`, `{{`, `}}`.
    case space, blank, times, openHistogram, closeHistogram
    case binaryOperator(BinaryOperator)
    case regexMatch, regexNoMatch, at
    case aggregator(AggregateOperator)
    case keyword(PromQLKeyword)
    /// `start`, `end`, `step`, `range`, `max_of`, `min_of`: words that are function names or duration keywords.
    case preprocessor(PromQLPreprocessor)
}

/// Modifier keywords.
enum PromQLKeyword: String, Hashable, Sendable, CaseIterable {
    case bool, by, offset, smoothed, anchored, on, without, ignoring, fill
    case groupLeft = "group_left"
    case groupRight = "group_right"
    case fillLeft = "fill_left"
    case fillRight = "fill_right"
}

/// Words that start `@ start()`/`@ end()` or duration expressions.
enum PromQLPreprocessor: String, Hashable, Sendable, CaseIterable {
    case start, end, step, range
    case maxOf = "max_of"
    case minOf = "min_of"
}
