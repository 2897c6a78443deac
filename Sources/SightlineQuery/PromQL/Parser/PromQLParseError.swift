/// A PromQL parse error with its position, shaped like Prometheus' `ParseErr`.
///
/// `description` is what Prometheus 3 returns in the API's `error` field: `1:9: parse error: unexpected end of input`
/// (line and 1-based column of the first byte the error is about). Prometheus 2 printed the older
/// `parse error at char 9: …`; ``legacyDescription`` gives that form for callers that need it.
package struct PromQLParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Why parsing failed.
    package enum Kind: Sendable, Equatable {
        /// The input is not valid PromQL (or not a valid series description).
        case syntax
        /// Valid input that Sightline does not support (native histogram values in a series description).
        case unsupported
    }

    /// Whether the input is invalid or merely unsupported.
    package var kind: Kind
    /// Byte offsets of the part of the input the error is about.
    package var start: Int
    /// End of the range (exclusive).
    package var end: Int
    /// The message without position, e.g. `unexpected end of input`.
    package var message: String
    /// The text that was parsed.
    package var query: String

    /// Creates an error.
    package init(kind: Kind = .syntax, start: Int, end: Int, message: String, query: String) {
        self.kind = kind
        self.start = start
        self.end = end
        self.message = message
        self.query = query
    }

    /// `line:column` of ``start`` as Prometheus computes it (bytes, 1-based column).
    package var position: String {
        if query.isEmpty { return "unknown position" }
        let bytes = Array(query.utf8)
        guard start >= 0, start <= bytes.count else { return "invalid position" }
        var line = 1
        var lastLineBreak = -1
        for index in 0..<start where bytes[index] == UInt8(ascii: "\n") {
            line += 1
            lastLineBreak = index
        }
        return "\(line):\(start - lastLineBreak)"
    }

    /// `1:9: parse error: unexpected end of input`, as Prometheus 3 prints it.
    package var description: String { "\(position): parse error: \(message)" }

    /// The Prometheus 2 form: `parse error at char 9: unexpected end of input` (1-based byte offset).
    package var legacyDescription: String { "parse error at char \(start + 1): \(message)" }
}
