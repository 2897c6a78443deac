import Foundation
import SightlineCore
import SightlineQuery
import SightlineTestSupport
import Testing

@testable import SightlineAlerting

/// Rule file parsing and `promtool check rules`-style validation.
struct RulesFileTests {
    private func diagnostics(_ yaml: String) -> [String] {
        switch RuleFiles.parse(yaml, file: "r.yml") {
        case .success: return []
        case .failure(let errors): return errors.diagnostics.map(\.description)
        }
    }

    @Test func validFileParses() throws {
        let yaml = """
            groups:
              - name: api
                interval: 30s
                limit: 10
                query_offset: 1m
                labels: {team: web}
                rules:
                  - alert: HighLatency
                    expr: histogram_quantile(0.99, rate(http_duration_seconds_bucket[5m])) > 0.5
                    for: 10m
                    keep_firing_for: 5m
                    labels: {severity: page}
                    annotations:
                      summary: "p99 is {{ $value | humanizeDuration }} on {{ $labels.instance }}"
                  - record: job:http_requests:rate5m
                    expr: sum by (job) (rate(http_requests_total[5m]))
              - name: logs
                query_language: logql
                rules:
                  - alert: Errors
                    expr: 'sum(rate({app="api"} |= "error" [5m])) > 0'
            """
        let groups = try RuleFiles.parse(yaml, file: "r.yml").get()
        #expect(groups.count == 2)
        let api = groups[0]
        #expect(api.intervalMs == 30_000 && api.limit == 10 && api.queryOffsetMs == 60_000)
        #expect(api.labels == [Label("team", "web")])
        #expect(api.rules[0].kind == .alerting && api.rules[0].forMs == 600_000 && api.rules[0].keepFiringForMs == 300_000)
        #expect(api.rules[0].line == 8)
        #expect(api.rules[1].kind == .recording && api.rules[1].name == "job:http_requests:rate5m")
        #expect(groups[1].language == .logql)
        #expect(try RuleFiles.parse("", file: "empty.yml").get().isEmpty)
    }

    @Test func expressionsAreCheckedWithTheEnginesParserFeatures() throws {
        let yaml = "groups:\n  - name: a\n    rules:\n      - record: enriched\n        expr: info(up)\n"
        #expect(diagnostics(yaml) == [#"r.yml: 5:15: group "a", rule 1, "enriched": could not parse expression: 1:1: parse error: function "info" is not enabled"#])
        var options = PromQLEngine.Options()
        options.parserOptions.enableExperimentalFunctions = true
        let engines = RuleQueryEngines(promql: PromQLRuleQueryEngine(engine: PromQLEngine(querier: NoSeries(), options: options)))
        #expect(try RuleFiles.parse(yaml, file: "r.yml", checkers: engines).get().first?.rules.first?.expr == "info(up)")
    }

    @Test func errorsNameFileLineAndReason() {
        let yaml = """
            groups:
              - name: a
                rules:
                  - alert: X
                    record: y
                    expr: up
                  - record: "bad name"
                    expr: up
                  - alert: NoExpr
                  - alert: BadExpr
                    expr: sum(up
                  - alert: BadTemplate
                    expr: up
                    annotations:
                      summary: "{{ humanise $value }}"
                  - alert: BadLabel
                    expr: up
                    labels: {__name__: x}
                    unknown_key: 1
                  - record: r
                    expr: up
                    for: 5m
                  - alert: BadFor
                    expr: up
                    for: 5 minutes
              - name: a
                rules: []
            """
        let found = diagnostics(yaml)
        let expected = [
            "r.yml: 5:17: group \"a\", rule 1, \"X\": only one of 'record' and 'alert' must be set",
            "r.yml: 7:17: group \"a\", rule 2, \"bad name\": invalid recording rule name: bad name",
            "r.yml: 9:9: group \"a\", rule 3, \"NoExpr\": field 'expr' must be set in rule",
            "r.yml: 11:15: group \"a\", rule 4, \"BadExpr\": could not parse expression: 1:7: parse error: unclosed left parenthesis",
            "r.yml: 15:20: group \"a\", rule 5, \"BadTemplate\": error parsing template __alert_BadTemplate: template: __alert_BadTemplate:1: function \"humanise\" not defined",
            "r.yml: 19:9: group \"a\", rule 6, \"BadLabel\": field unknown_key not found in type rulefmt.RuleNode",
            "r.yml: 18:18: group \"a\", rule 6, \"BadLabel\": invalid label name: __name__",
            "r.yml: 20:17: group \"a\", rule 7, \"r\": invalid field 'for' in recording rule",
            "r.yml: 25:14: group \"a\", rule 8, \"BadFor\": for: not a valid duration string: \"5 minutes\"",
            "r.yml: 26:5: groupname: \"a\" is repeated in the same file",
        ]
        for line in expected { #expect(found.contains(line), "missing: \(line)\nfound:\n\(found.joined(separator: "\n"))") }
        #expect(found.count == expected.count, "\(found.joined(separator: "\n"))")
    }

    @Test func structuralErrors() {
        #expect(diagnostics("groups:\n  - name: a\n    rules:\n      - expr: up\n") == [
            "r.yml: 4:9: group \"a\", rule 1: one of 'record' or 'alert' must be set"
        ])
        #expect(diagnostics("groups:\n  - rules: []\n") == ["r.yml: 2:5: Groupname must not be empty"])
        #expect(diagnostics("group:\n  - name: a\n") == ["r.yml: 1:1: field group not found in type rulefmt.RuleGroups"])
        #expect(diagnostics("groups:\n  - name: a\n    interval: often\n") == [
            "r.yml: 3:15: group \"a\": interval: not a valid duration string: \"often\""
        ])
        #expect(diagnostics("groups: [\n").first?.hasPrefix("r.yml: ") == true)
    }

    @Test func checkPrintsLikePromtool() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-rules-check")
        defer { directory.remove() }
        let good = directory.file("good.yml")
        let bad = directory.file("bad.yml")
        try "groups:\n  - name: a\n    rules:\n      - record: a:b\n        expr: up\n      - alert: A\n        expr: up == 0\n"
            .write(toFile: good, atomically: true, encoding: .utf8)
        try "groups:\n  - name: a\n    rules:\n      - record: a:b\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let reports = RuleFiles.check(paths: [good, bad, directory.file("missing.yml")])
        #expect(reports[0].text == "Checking \(good)\n  SUCCESS: 2 rules found\n\n")
        #expect(reports[1].text == "Checking \(bad)\n  FAILED:\n\(bad): 4:9: group \"a\", rule 1, \"a:b\": field 'expr' must be set in rule\n\n")
        #expect(!reports[2].isValid)
        #expect(reports[2].text.contains("cannot read the file"))
    }

    @Test func durationsFollowPrometheus() {
        #expect(RuleDuration.parse("1h30m") == 5_400_000)
        #expect(RuleDuration.parse("0") == 0)
        #expect(RuleDuration.parse("1d2h") == 93_600_000)
        #expect(RuleDuration.parse("500ms") == 500)
        #expect(RuleDuration.parse("1m1h") == nil)
        #expect(RuleDuration.parse("1.5h") == nil)
        #expect(RuleDuration.parse("") == nil)
        #expect(RuleDuration.format(5_400_000) == "1h30m")
    }
}
