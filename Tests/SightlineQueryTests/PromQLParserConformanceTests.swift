import Foundation
import Testing
@testable import SightlineQuery

/// Every `eval` expression of the shared Prometheus test scripts must parse with the options Prometheus runs them
/// with (all experimental features on), and print back to text that parses to the same tree.
@Suite struct PromQLParserConformanceTests {
    /// One `eval` command of a script.
    struct Evaluation: CustomStringConvertible {
        var file: String
        var line: Int
        var expression: String
        /// `eval_fail` or an `expect fail` line: the query must fail, at parse time or when it runs.
        var expectsFailure: Bool
        var failureMessage: String?

        var description: String { "\(file):\(line): \(expression)" }
    }

    /// Expressions Prometheus rejects while parsing; the scripts' other expected failures happen at run time.
    /// (Currently none: every `expect fail` in the scripts is an evaluation error.)
    static let expectedParseFailures: [String: String] = [:]

    /// Syntax Sightline's parser does not handle yet, with the reason. Keep this short.
    static let knownUnsupported: [String: String] = [:]

    static func evaluations() throws -> [Evaluation] {
        var result: [Evaluation] = []
        for (name, text) in try ConformanceFiles.promQLScripts() {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for (index, line) in lines.enumerated() {
                guard let evaluation = parseEvalLine(line, file: name, line: index + 1) else { continue }
                var current = evaluation
                var next = index + 1
                while next < lines.count, let first = lines[next].first, first == " " || first == "\t" {
                    let body = lines[next].trimmingCharacters(in: .whitespaces)
                    if body.hasPrefix("expect fail") {
                        current.expectsFailure = true
                        if let range = body.range(of: "msg:") {
                            current.failureMessage = body[range.upperBound...].trimmingCharacters(in: .whitespaces)
                        }
                    }
                    next += 1
                }
                result.append(current)
            }
        }
        return result
    }

    /// `eval[_fail|_ordered|_warn|_info] instant at <t> <expr>` or `… range from <a> to <b> step <s> <expr>`.
    static func parseEvalLine(_ line: String, file: String, line number: Int) -> Evaluation? {
        guard line.hasPrefix("eval") else { return nil }
        var words = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard words.count == 2 else { return nil }
        let command = String(words[0])
        guard ["eval", "eval_fail", "eval_ordered", "eval_warn", "eval_info"].contains(command) else { return nil }
        var rest = String(words[1])
        func take() -> String? {
            let trimmed = rest.drop(while: { $0 == " " || $0 == "\t" })
            words = trimmed.split(maxSplits: 1, omittingEmptySubsequences: true, whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first else { return nil }
            rest = words.count > 1 ? String(words[1]) : ""
            return String(first)
        }
        switch take() {
        case "instant":
            guard take() == "at", take() != nil else { return nil }
        case "range":
            guard take() == "from", take() != nil, take() == "to", take() != nil, take() == "step", take() != nil else { return nil }
        default:
            return nil
        }
        let expression = rest.trimmingCharacters(in: .whitespaces)
        return Evaluation(file: file, line: number, expression: expression, expectsFailure: command == "eval_fail")
    }

    @Test func everyEvalExpressionParses() throws {
        let evaluations = try Self.evaluations()
        #expect(evaluations.count > 2000)
        var parsed = 0
        var failedAsExpected = 0
        var unsupported = 0
        let runtimeFailures = evaluations.filter { $0.expectsFailure && Self.expectedParseFailures[$0.expression] == nil }.count
        for evaluation in evaluations {
            if Self.knownUnsupported[evaluation.expression] != nil {
                unsupported += 1
                continue
            }
            do {
                let expr = try PromQLParser.parse(evaluation.expression, options: .allFeatures)
                #expect(Self.expectedParseFailures[evaluation.expression] == nil, "\(evaluation) parsed but Prometheus rejects it")
                parsed += 1
                // The printed form parses back to the same tree (and prints the same).
                let printed = expr.description
                do {
                    let reparsed = try PromQLParser.parse(printed, options: .allFeatures)
                    #expect(reparsed.description == printed, "\(evaluation): printed \(printed), reprinted \(reparsed.description)")
                    if !printed.contains("NaN") { #expect(reparsed == expr, "\(evaluation): round trip through \(printed) changed the tree") }
                } catch {
                    Issue.record("\(evaluation): printed form \(printed) does not parse: \(error)")
                }
            } catch {
                if let message = Self.expectedParseFailures[evaluation.expression] {
                    #expect("\(error)".contains(message), "\(evaluation): \(error)")
                    failedAsExpected += 1
                } else {
                    Issue.record("\(evaluation) does not parse: \(error)")
                }
            }
        }
        print("PromQL conformance parse: \(evaluations.count) eval expressions, \(parsed) parsed, \(failedAsExpected) failed as expected, \(unsupported) known unsupported; \(runtimeFailures) of the parsed ones expect an evaluation failure")
    }

    @Test func seriesLinesParse() throws {
        var lines = 0
        var histograms = 0
        for (name, text) in try ConformanceFiles.promQLScripts() {
            var inLoad = false
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let isIndented = line.first == " " || line.first == "\t"
                if !isIndented {
                    inLoad = line.hasPrefix("load")
                    continue
                }
                let body = line.trimmingCharacters(in: .whitespaces)
                // `name@st …` lines carry start timestamps, which the script runner parses itself.
                guard inLoad, !body.isEmpty, !body.hasPrefix("#"), !body.contains("@st") else { continue }
                do {
                    _ = try PromQLParser.parseSeriesDescription(body)
                    lines += 1
                } catch {
                    if body.contains("{{") {
                        histograms += 1
                    } else {
                        Issue.record("\(name):\(index + 1): \(body): \(error)")
                    }
                }
            }
        }
        print("PromQL conformance series lines: \(lines) parsed, \(histograms) native-histogram lines reported unsupported")
        #expect(lines > 500)
    }
}
