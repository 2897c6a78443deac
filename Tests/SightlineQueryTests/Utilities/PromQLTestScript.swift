import Foundation
import SightlineCore
@testable import SightlineQuery

/// A Prometheus `promqltest` script (`load`, `clear`, `eval …` with expected results), parsed as
/// `promql/promqltest/test.go` parses it, and a runner that checks ``PromQLEngine`` against it.
struct PromQLTestScript {
    /// One series line of a `load` block or an expected result.
    struct SeriesLine {
        var labels: Labels
        var values: [SeriesValue]
    }

    /// A `load <step>` block.
    struct Load {
        var line: Int
        var stepMs: Int64
        var series: [SeriesLine] = []
        /// Labels of series that could not be loaded (native histogram values, start timestamps).
        var unsupportedSeries: [Labels] = []
        var unsupportedReason: String?
    }

    /// An `eval` command with its expectations.
    struct Eval {
        var line: Int
        var expr: String
        var isRange: Bool
        var startMs: Int64
        var endMs: Int64
        var stepMs: Int64
        var fail = false
        var failMessage: String?
        var failRegex: String?
        var ordered = false
        var expectWarn = false
        var expectNoWarn = false
        var expectInfo = false
        var expectNoInfo = false
        var expectScalar: Double?
        var expected: [SeriesLine] = []
        var expectedString: String?
        var excludeFromRangeQuery = false
        /// Why the expectations cannot be checked (native histogram values), if so.
        var skipReason: String?
    }

    enum Command {
        case load(Load)
        case clear
        case eval(Eval)
    }

    var commands: [Command] = []

    /// Parses a script. Malformed commands throw.
    init(_ text: String) throws {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { raw -> String in
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("#") ? "" : trimmed
        }
        var index = 0
        while index < lines.count {
            let line = lines[index]
            if line.isEmpty {
                index += 1
                continue
            }
            let word = String(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "").lowercased()
            if word == "clear" {
                commands.append(.clear)
                index += 1
            } else if word.hasPrefix("load") {
                let (load, next) = try Self.parseLoad(lines, index)
                commands.append(.load(load))
                index = next
            } else if word.hasPrefix("eval") {
                let (eval, next) = try Self.parseEval(lines, index)
                commands.append(.eval(eval))
                index = next
            } else {
                throw ScriptError("line \(index + 1): invalid command \(line)")
            }
        }
    }

    struct ScriptError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func duration(_ text: String) throws -> Int64 {
        do {
            return try PromQLParser.parseDuration(text)
        } catch {
            throw ScriptError("invalid duration \(text)")
        }
    }

    private static func words(_ line: String) -> [String] {
        line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }

    private static func parseLoad(_ lines: [String], _ start: Int) throws -> (Load, Int) {
        let parts = words(lines[start])
        guard parts.count == 2 else { throw ScriptError("line \(start + 1): invalid load command") }
        var load = Load(line: start + 1, stepMs: try duration(parts[1]))
        if parts[0] == "load_with_nhcb" { load.unsupportedReason = "native histograms (load_with_nhcb)" }
        var index = start + 1
        while index < lines.count, !lines[index].isEmpty {
            let line = lines[index]
            index += 1
            let firstWord = words(line).first ?? ""
            if firstWord.hasSuffix("@st") {
                load.unsupportedReason = "start timestamps"
                if let labels = seriesLabels(String(firstWord.dropLast(3))) { load.unsupportedSeries.append(labels) }
                continue
            }
            do {
                let (labels, values) = try PromQLParser.parseSeriesDescription(line)
                load.series.append(SeriesLine(labels: labels, values: values))
            } catch {
                if let labels = seriesLabels(line) { load.unsupportedSeries.append(labels) }
                if load.unsupportedReason == nil { load.unsupportedReason = "native histograms" }
            }
        }
        return (load, index)
    }

    private static func parseEval(_ lines: [String], _ start: Int) throws -> (Eval, Int) {
        let line = lines[start]
        var parts = words(line)
        let command = parts.removeFirst()
        let modifier = command.hasPrefix("eval_") ? String(command.dropFirst(5)) : ""
        guard let kind = parts.first else { throw ScriptError("line \(start + 1): invalid eval") }
        var eval: Eval
        func rest(after count: Int) -> String {
            // The expression is everything after the first `count` words of the line, spacing preserved.
            var remaining = Substring(line)
            for _ in 0..<count {
                remaining = remaining.drop(while: { $0 == " " || $0 == "\t" })
                remaining = remaining.drop(while: { $0 != " " && $0 != "\t" })
            }
            return remaining.trimmingCharacters(in: .whitespaces)
        }
        if kind == "instant" {
            guard parts.count >= 4, parts[1] == "at" else { throw ScriptError("line \(start + 1): invalid eval instant") }
            let t = try duration(parts[2])
            eval = Eval(line: start + 1, expr: rest(after: 4), isRange: false, startMs: t, endMs: t, stepMs: 0)
        } else if kind == "range" {
            guard parts.count >= 8, parts[1] == "from", parts[3] == "to", parts[5] == "step" else {
                throw ScriptError("line \(start + 1): invalid eval range")
            }
            eval = Eval(
                line: start + 1, expr: rest(after: 8), isRange: true, startMs: try duration(parts[2]), endMs: try duration(parts[4]),
                stepMs: try duration(parts[6]))
        } else {
            throw ScriptError("line \(start + 1): invalid eval")
        }
        switch modifier {
        case "fail": eval.fail = true
        case "warn": eval.expectWarn = true
        case "info": eval.expectInfo = true
        case "ordered": eval.ordered = true
        default: break
        }
        var index = start + 1
        while index < lines.count, !lines[index].isEmpty {
            let body = lines[index]
            index += 1
            if eval.fail && body.hasPrefix("expected_fail_message") {
                eval.failMessage = body.dropFirst("expected_fail_message".count).trimmingCharacters(in: .whitespaces)
                break
            }
            if eval.fail && body.hasPrefix("expected_fail_regexp") {
                eval.failRegex = body.dropFirst("expected_fail_regexp".count).trimmingCharacters(in: .whitespaces)
                break
            }
            if body.hasPrefix("expect range vector") {
                let p = words(body)
                guard p.count == 9 else { throw ScriptError("line \(index): invalid expect range vector") }
                eval.startMs = try duration(p[4])
                eval.endMs = try duration(p[6])
                eval.stepMs = try duration(p[8])
                eval.excludeFromRangeQuery = true
                continue
            }
            if body.hasPrefix("expect string") {
                eval.expectedString = unquote(body.dropFirst("expect string".count).trimmingCharacters(in: .whitespaces))
                eval.excludeFromRangeQuery = true
                continue
            }
            if words(body).first == "expect" {
                let p = words(body)
                let type = p.count > 1 ? p[1] : ""
                var argument: String?
                var isRegex = false
                if p.count > 2 {
                    let tail = remainder(of: body, after: 2)
                    if tail.hasPrefix("msg:") {
                        argument = tail.dropFirst(4).trimmingCharacters(in: .whitespaces)
                    } else if tail.hasPrefix("regex:") {
                        argument = tail.dropFirst(6).trimmingCharacters(in: .whitespaces)
                        isRegex = true
                    }
                }
                switch type {
                case "fail":
                    eval.fail = true
                    if let argument {
                        if isRegex { eval.failRegex = argument } else { eval.failMessage = argument }
                    }
                case "ordered": eval.ordered = true
                case "warn": eval.expectWarn = true
                case "no_warn": eval.expectNoWarn = true
                case "info": eval.expectInfo = true
                case "no_info": eval.expectNoInfo = true
                default: throw ScriptError("line \(index): invalid expect \(body)")
                }
                continue
            }
            if let number = parseNumber(body) {
                eval.expectScalar = number
                break
            }
            if body.contains("{{") {
                eval.skipReason = "native histograms"
                continue
            }
            do {
                let (labels, values) = try PromQLParser.parseSeriesDescription(body)
                eval.expected.append(SeriesLine(labels: labels, values: values))
            } catch {
                eval.skipReason = "native histograms"
            }
        }
        // Skip to the end of the block.
        while index < lines.count, !lines[index].isEmpty { index += 1 }
        return (eval, index)
    }

    /// The labels of a series line whose values cannot be parsed: the metric name and braces, quotes respected.
    static func seriesLabels(_ line: String) -> Labels? {
        var end = line.startIndex
        var depth = 0
        var quoted = false
        var escaped = false
        while end < line.endIndex {
            let character = line[end]
            if quoted {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { quoted = false }
            } else if character == "\"" {
                quoted = true
            } else if character == "{" {
                depth += 1
            } else if character == "}" {
                depth -= 1
                if depth == 0 {
                    end = line.index(after: end)
                    break
                }
            } else if depth == 0 && (character == " " || character == "\t") {
                break
            }
            end = line.index(after: end)
        }
        return try? PromQLParser.parseSeriesDescription(String(line[..<end]) + " 1").labels
    }

    private static func remainder(of line: String, after count: Int) -> String {
        var remaining = Substring(line)
        for _ in 0..<count {
            remaining = remaining.drop(while: { $0 == " " || $0 == "\t" })
            remaining = remaining.drop(while: { $0 != " " && $0 != "\t" })
        }
        return remaining.trimmingCharacters(in: .whitespaces)
    }

    /// Go's `strconv.ParseInt(s, 0, 64)` then `ParseFloat`: a bare number line is a scalar expectation.
    static func parseNumber(_ text: String) -> Double? {
        if text.isEmpty || text.contains(" ") || text.contains("{") { return nil }
        if let value = Int64(text) { return Double(value) }
        let lower = text.lowercased()
        if lower.hasPrefix("0x"), let value = Int64(text.dropFirst(2), radix: 16) { return Double(value) }
        switch lower {
        case "inf", "+inf": return .infinity
        case "-inf": return -.infinity
        case "nan": return .nan
        default: break
        }
        guard text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }) else { return nil }
        return Double(text)
    }

    /// Go's `strconv.Unquote` for the quoted strings of `expect string`.
    static func unquote(_ text: String) -> String {
        guard text.count >= 2, let first = text.first, first == text.last, first == "\"" || first == "`" else { return text }
        let inner = text.dropFirst().dropLast()
        if first == "`" { return String(inner) }
        var out = ""
        var escaping = false
        for character in inner {
            if escaping {
                switch character {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                default: out.append(character)
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                out.append(character)
            }
        }
        return out
    }
}
