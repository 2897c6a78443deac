package import SightlineCore

/// Parses the stream label text of a Loki protobuf push, `{app="api", env="prod"}`, as Loki does with its
/// PromQL-style label parser.
///
/// Values are double-quoted (with Go escapes: `\"`, `\\`, `\n`, `\t`, `\r`, `\uXXXX`), single-quoted or back-quoted
/// (raw). Names must match `[a-zA-Z_][a-zA-Z0-9_]*`. At least one label is required and names may not repeat.
package enum LokiLabelSelector {
    /// The labels of `text`.
    /// - Throws: ``SightlineError`` `.invalidArgument`: `error parsing labels '{foo=bar}': expected a quoted value at
    ///   column 6`, like Loki's message.
    package static func parse(_ text: String) throws -> Labels {
        var parser = Parser(scalars: Array(text.unicodeScalars))
        do {
            let labels = try parser.parse()
            try validate(labels)
            return Labels(labels)
        } catch let error as LokiSelectorError {
            throw SightlineError(.invalidArgument, "error parsing labels '\(text)': \(error.reason)")
        }
    }

    /// Checks the labels of a JSON push's `stream` object the way the selector text is checked.
    /// - Throws: ``SightlineError`` `.invalidArgument` naming the stream.
    package static func validated(_ labels: [Label]) throws -> Labels {
        do {
            for label in labels where !isValidName(label.name) {
                throw LokiSelectorError(reason: "invalid label name \"\(label.name)\"")
            }
            try validate(labels)
        } catch let error as LokiSelectorError {
            let text = "{" + labels.map { "\($0.name)=\(JSONText.quoted($0.value))" }.joined(separator: ", ") + "}"
            throw SightlineError(.invalidArgument, "error parsing labels '\(text)': \(error.reason)")
        }
        return Labels(labels)
    }

    /// Whether `name` is a valid Prometheus/Loki label name.
    package static func isValidName(_ name: String) -> Bool {
        var first = true
        for scalar in name.unicodeScalars {
            let isLetter = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || scalar == "_"
            let isDigit = scalar >= "0" && scalar <= "9"
            guard isLetter || (!first && isDigit) else { return false }
            first = false
        }
        return !first
    }

    private static func validate(_ labels: [Label]) throws {
        guard !labels.isEmpty else { throw LokiSelectorError(reason: "at least one label pair is required per stream") }
        var seen = Set<String>()
        for label in labels where !seen.insert(label.name).inserted {
            throw LokiSelectorError(reason: "duplicate label name \"\(label.name)\"")
        }
    }

    /// A hand-written scanner over the selector's scalars.
    private struct Parser {
        let scalars: [Unicode.Scalar]
        var position = 0

        mutating func parse() throws -> [Label] {
            var labels: [Label] = []
            skipSpaces()
            try expect("{")
            skipSpaces()
            if peek == "}" {
                position += 1
            } else {
                while true {
                    skipSpaces()
                    let name = try readName()
                    skipSpaces()
                    try expect("=")
                    skipSpaces()
                    let value = try readQuoted()
                    labels.append(Label(name, value))
                    skipSpaces()
                    if peek == "," {
                        position += 1
                        skipSpaces()
                        if peek == "}" { position += 1; break }
                        continue
                    }
                    try expect("}")
                    break
                }
            }
            skipSpaces()
            guard position == scalars.count else { throw failure("unexpected text after '}'") }
            return labels
        }

        var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

        func failure(_ reason: String) -> LokiSelectorError {
            LokiSelectorError(reason: "\(reason) at column \(position + 1)")
        }

        mutating func skipSpaces() {
            while let scalar = peek, scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" { position += 1 }
        }

        mutating func expect(_ scalar: Unicode.Scalar) throws {
            guard peek == scalar else {
                throw failure(peek.map { "expected '\(scalar)', found '\($0)'" } ?? "expected '\(scalar)', found the end")
            }
            position += 1
        }

        mutating func readName() throws -> String {
            let start = position
            while let scalar = peek,
                (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || scalar == "_"
                    || (position > start && scalar >= "0" && scalar <= "9")
            {
                position += 1
            }
            guard position > start else { throw failure("expected a label name") }
            var name = String.UnicodeScalarView()
            name.append(contentsOf: scalars[start..<position])
            return String(name)
        }

        mutating func readQuoted() throws -> String {
            guard let quote = peek, quote == "\"" || quote == "'" || quote == "`" else {
                throw failure("expected a quoted label value")
            }
            position += 1
            var value = String.UnicodeScalarView()
            while let scalar = peek {
                position += 1
                if scalar == quote { return String(value) }
                guard scalar == "\\", quote != "`" else {
                    value.append(scalar)
                    continue
                }
                guard let escaped = peek else { break }
                position += 1
                switch escaped {
                case "n": value.append("\n")
                case "t": value.append("\t")
                case "r": value.append("\r")
                case "\\", "\"", "'": value.append(escaped)
                case "u":
                    guard position + 4 <= scalars.count else { throw failure("truncated \\u escape") }
                    var text = String.UnicodeScalarView()
                    text.append(contentsOf: scalars[position..<position + 4])
                    guard let code = UInt32(String(text), radix: 16), let decoded = Unicode.Scalar(code) else {
                        throw failure("invalid \\u escape")
                    }
                    position += 4
                    value.append(decoded)
                default:
                    throw failure("unknown escape '\\\(escaped)'")
                }
            }
            throw failure("unterminated quoted label value")
        }
    }
}
