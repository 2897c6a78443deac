import SightlineCore
import Testing
@testable import SightlineQuery

/// Bad inputs and the error Prometheus 3 reports for each: byte offset of the error and message (expectations taken
/// from Prometheus' `promql/parser/parse_test.go`), with Prometheus' default options unless noted.
@Suite struct PromQLParserErrorTests {
    static let defaultOptionCases: [(input: String, offset: Int, message: String)] = [
        ("", 0, "no expression found in input"),
        ("1+", 2, "unexpected end of input"),
        (".", 0, "unexpected character: '.'"),
        ("2.5.", 0, "bad number or duration syntax: \"2.5.\""),
        ("0deadbeef", 0, "bad number or duration syntax: \"0de\""),
        ("*1", 0, "unexpected <op:*>"),
        ("(1))", 4, "unexpected right parenthesis ')'"),
        ("((1)", 4, "unclosed left parenthesis"),
        ("1 and 1", 0, "set operator \"and\" not allowed in binary scalar expression"),
        ("1 == 1", 2, "comparisons between scalars must use BOOL modifier"),
        ("1 !~ 1", 2, "unexpected character after '!': '~'"),
        ("-\"string\"", 0, "unary expression only allowed on expressions of type scalar or instant vector, got \"string\""),
        ("-test[5m]", 0, "unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\""),
        ("1 offset 1d", 0, "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"),
        ("foo offset 1s offset 2s", 0, "offset may not be set multiple times"),
        ("a - on(b) ignoring(c) d", 10, "unexpected <ignoring>"),
        ("1 or on(bar) foo", 0, "vector matching only allowed between instant vectors"),
        ("foo + group_left(baz) bar", 6, "unexpected <group_left>"),
        ("foo and on(bar) group_left(baz) bar", 0, "no grouping allowed for \"and\" operation"),
        ("http_requests{group=\"production\"} + on(instance) group_left(job,instance) cpu_count{type=\"smp\"}", 34, "label \"instance\" must not occur in ON and GROUP clause at once"),
        ("foo + bool bar", 4, "bool modifier can only be used on comparison operators"),
        ("foo @ +Inf", 0, "timestamp out of bounds for @ modifier: +Inf"),
        ("some}", 4, "unexpected character: '}'"),
        ("some_metric{a=b}", 14, "unexpected identifier \"b\" in label matching, expected string"),
        ("foo{gibberish}", 13, "unexpected \"}\" in label matching, expected label matching operator"),
        ("{}", 0, "vector selector must contain at least one non-empty matcher"),
        ("foo{__name__=\"bar\"}", 0, "metric name must not be set twice: \"foo\" or \"bar\""),
        ("foo{,}", 4, "unexpected \",\" in label matching, expected identifier or \"}\""),
        ("foo{__name__=\"bar\" lol}", 19, "unexpected identifier \"lol\" in label matching, expected \",\" or \"}\""),
        ("foo[5mm]", 4, "bad number or duration syntax: \"5mm\""),
        ("foo[5y1hs]", 4, "unknown unit \"hs\" in duration \"5y1hs\""),
        ("foo[5m1h]", 4, "not a valid duration string: \"5m1h\""),
        ("foo[0m]", 4, "duration must be greater than 0"),
        ("foo[-1]", 4, "duration must be greater than 0"),
        ("some_metric OFFSET 1m[5m]", 21, "no offset modifiers allowed before range"),
        ("some_metric[5m] @", 17, "unexpected end of input in @, expected timestamp"),
        ("(foo + bar)[5m]", 11, "ranges only allowed for vector selectors"),
        ("sum by (\"foo)(some_metric{})", 8, "unterminated quoted string"),
        ("sum without(==)(some_metric)", 12, "unexpected <op:==> in grouping opts, expected label"),
        ("sum some_metric by (test)", 4, "unexpected identifier \"some_metric\""),
        ("sum (some_metric) by test", 21, "unexpected identifier \"test\" in grouping opts, expected \"(\""),
        ("sum () by (test)", 0, "no arguments for aggregate expression provided"),
        ("sum (some_metric) without (test) by (test)", 33, "unexpected <by>"),
        ("topk(some_metric)", 0, "wrong number of arguments for aggregate expression provided, expected 2, got 1"),
        ("topk(some_metric,)", 16, "trailing commas not allowed in function call args"),
        ("topk(some_metric, other_metric)", 5, "expected type scalar in aggregation parameter, got instant vector"),
        ("count_values(5, other_metric)", 13, "expected type string in aggregation parameter, got scalar"),
        ("rate(some_metric[5m]) @ 1234", 0, "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery"),
        ("floor()", 0, "expected 1 argument(s) in call to \"floor\", got 0"),
        ("floor(1)", 6, "expected type instant vector in call to function \"floor\", got scalar"),
        ("hour(some_metric, some_metric, some_metric)", 0, "expected at most 1 argument(s) in call to \"hour\", got 3"),
        ("non_existent_function_far_bar()", 0, "unknown function with name \"non_existent_function_far_bar\""),
        ("rate(some_metric)", 5, "expected type range vector in call to function \"rate\", got instant vector"),
        ("-=", 1, "unexpected \"=\""),
        ("`\\``", 3, "unterminated raw string"),
        ("\"\\c\"", 0, "unknown escape sequence U+0063 'c'"),
        ("test[5d] OFFSET 10s [10m:5s]", 0, "subquery is only allowed on instant vector, got matrix instead"),
        ("rate(food[1m])[1h] offset 1h", 14, "ranges only allowed for vector selectors"),
        ("sum(", 4, "unclosed left parenthesis"),
        ("foo[5s x 5s]", 7, "unexpected character: 'x', expected ':'"),
    ]

    /// Cases that need Prometheus' experimental features (`promqltest` runs with all of them on).
    static let allFeatureCases: [(input: String, offset: Int, message: String)] = [
        ("foo[]", 4, "unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()"),
        ("some_metric[5m] OFFSET", 22, "unexpected end of input in offset, expected number, duration, step(), or range()"),
        ("foo[step]", 8, "unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()"),
        ("foo[step()/0d]", 10, "division by zero"),
        ("foo offset 9.5e10", 11, "duration out of range"),
        ("foo[5m] smoothed anchored", 0, "anchored and smoothed modifiers cannot be used together"),
        ("foo[5m:1m] anchored", 0, "anchored modifier is not supported for subqueries"),
        ("foo and on(a) fill(0) bar", 0, "filling in missing series not allowed for set operators"),
        ("1 + fill(0) foo", 0, "filling in missing series only allowed between instant vectors"),
    ]

    /// What Prometheus 3 rejects when its feature flags are off (its defaults).
    static let disabledFeatureCases: [(input: String, offset: Int, message: String)] = [
        (#"info(up, {job="a"})"#, 0, #"function "info" is not enabled"#),
        ("sort_by_label(up, \"job\")", 0, #"function "sort_by_label" is not enabled"#),
        ("limitk(2, up)", 0, "limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions"),
        ("foo[5m+1m]", 4, "experimental duration expression is not enabled"),
        ("foo[step()]", 4, "experimental duration expression is not enabled"),
        ("foo offset (1m)", 12, "experimental duration expression is not enabled"),
        ("foo[5m] anchored", 0, "anchored modifier is experimental and not enabled"),
        ("foo smoothed", 0, "smoothed modifier is experimental and not enabled"),
        ("a + fill(1) b", 0, "binop fill modifiers are experimental and not enabled"),
        ("holt_winters(foo[5m], 0.5, 0.5)", 0, #"unknown function with name "holt_winters""#),
    ]

    static func parseError(_ input: String, options: PromQLParser.Options) -> PromQLParseError? {
        do {
            _ = try PromQLParser.parse(input, options: options)
            return nil
        } catch let error as SightlineError {
            #expect(error.code == .invalidArgument)
            let cause = error.cause as? PromQLParseError
            #expect(cause.map { error.message == $0.description } == true)
            return cause
        } catch {
            return nil
        }
    }

    @Test(arguments: defaultOptionCases.indices)
    func defaultOptions(index: Int) {
        let (input, offset, message) = Self.defaultOptionCases[index]
        let error = Self.parseError(input, options: .default)
        #expect(error?.message == message, "\(input)")
        #expect(error?.start == offset, "\(input)")
    }

    @Test(arguments: allFeatureCases.indices)
    func allFeatures(index: Int) {
        let (input, offset, message) = Self.allFeatureCases[index]
        let error = Self.parseError(input, options: .allFeatures)
        #expect(error?.message == message, "\(input)")
        #expect(error?.start == offset, "\(input)")
    }

    @Test(arguments: disabledFeatureCases.indices)
    func disabledFeatures(index: Int) throws {
        let (input, offset, message) = Self.disabledFeatureCases[index]
        let error = Self.parseError(input, options: .default)
        #expect(error?.message == message, "\(input)")
        #expect(error?.start == offset, "\(input)")
        if !input.hasPrefix("holt_winters") { _ = try PromQLParser.parse(input, options: .allFeatures) }
    }

    @Test func messageFormatIsPrometheus3() {
        #expect(throws: SightlineError.self) { try PromQLParser.parse("sum(rate(x[5m])") }
        do {
            _ = try PromQLParser.parse("rate(foo[5m]) +")
        } catch let error as SightlineError {
            #expect(error.message == "1:16: parse error: unexpected end of input")
            #expect((error.cause as? PromQLParseError)?.legacyDescription == "parse error at char 16: unexpected end of input")
        } catch {
            Issue.record("unexpected error \(error)")
        }
        // Lines and columns count from 1; columns restart after a newline.
        let multiLine = Self.parseError("sum(\n  rate(foo[5m])\n  +)", options: .default)
        #expect(multiLine?.description == "3:4: parse error: unexpected \")\" in aggregation")
        #expect(Self.parseError("", options: .default)?.description == "unknown position: parse error: no expression found in input")
    }

    @Test func contextOfUnexpectedTokens() {
        let cases: [(String, String)] = [
            ("sum(foo bar)", #"1:9: parse error: unexpected identifier "bar" in aggregation"#),
            ("foo{a=\"b\" c=\"d\"}", #"1:11: parse error: unexpected identifier "c" in label matching, expected "," or "}""#),
            ("sum by (a b) (x)", #"1:11: parse error: unexpected identifier "b" in grouping opts, expected "," or ")""#),
            ("foo[5m 1m]", #"1:8: parse error: unexpected duration "1m" in subquery or range, expected ":" or "]""#),
            ("foo @ bar", #"1:7: parse error: unexpected identifier "bar" in @, expected timestamp"#),
            ("rate(foo[5m] bar)", #"1:14: parse error: unexpected identifier "bar""#),
            ("foo + on bar", #"1:10: parse error: unexpected identifier "bar" in grouping opts, expected "(""#),
            ("\"a very long string\" x", #"1:22: parse error: unexpected identifier "x""#),
            ("1 \"a very long string\"", #"1:3: parse error: unexpected string "\"a very lo"..."#),
        ]
        for (input, message) in cases {
            #expect(Self.parseError(input, options: .default)?.description == message, "\(input)")
        }
    }
}

extension PromQLParserErrorTests {
    @Test func deepNestingIsAnErrorNotACrash() throws {
        let nested = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        #expect(throws: SightlineError.self) { try PromQLParser.parse(nested) }
        #expect(throws: SightlineError.self) { try PromQLParser.parse(String(repeating: "-", count: 5000) + "1") }
        #expect(throws: SightlineError.self) { try PromQLParser.parse("2" + String(repeating: " ^ 2", count: 5000)) }
        let reasonable = String(repeating: "(", count: 100) + "1" + String(repeating: ")", count: 100)
        #expect(try PromQLParser.parse(reasonable).type == .scalar)
        // Long chains of binary operators nest too (the tree is left-deep).
        #expect(try PromQLParser.parse(Array(repeating: "x", count: 150).joined(separator: " + ")).type == .vector)
        #expect(throws: SightlineError.self) { try PromQLParser.parse(Array(repeating: "x", count: 5000).joined(separator: " or ")) }
    }
}
