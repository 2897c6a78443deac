import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineAlerting

/// `/api/v1/rules` and `/api/v1/alerts` bodies in Prometheus' shape.
struct RulesAPITests {
    private static let yaml = """
        groups:
          - name: heat
            interval: 30s
            rules:
              - alert: TooHot
                expr: temperature>10
                for: 1m
                keep_firing_for: 30s
                labels: {severity: page}
                annotations: {summary: "{{ $labels.instance }} is hot"}
              - record: temperature:max
                expr: max(temperature)
          - name: other
            rules:
              - record: one
                expr: vector(1)
        """

    private func harness() async throws -> RulesHarness {
        let h = try RulesHarness(Self.yaml)
        try await h.load()
        h.store.add(Labels(["__name__": "temperature", "instance": "a"]), [(1_700_000_000_000, 20)])
        await h.manager.evaluate(tenant: .default, atMs: 1_700_000_000_000)
        return h
    }

    @Test func rulesBody() async throws {
        let h = try await harness()
        defer { h.directory.remove() }
        let file = h.directory.file("rules.yml")
        var groups = await h.manager.status(tenant: .default)
        // Evaluation durations vary from run to run; pin them.
        for g in groups.indices {
            groups[g].evaluationSeconds = 0.000123
            for r in groups[g].rules.indices { groups[g].rules[r].evaluationSeconds = 0.5 }
        }
        let body = RulesAPI.rulesJSON(groups, filter: try RulesAPI.Filter(ruleGroups: ["heat"]))
        let expected =
            #"{"status":"success","data":{"groups":[{"name":"heat","file":"\#(file)","rules":["#
            + #"{"state":"pending","name":"TooHot","query":"temperature > 10","duration":60,"keepFiringFor":30,"labels":{"severity":"page"},"annotations":{"summary":"{{ $labels.instance }} is hot"},"#
            + #""alerts":[{"labels":{"alertname":"TooHot","instance":"a","severity":"page"},"annotations":{"summary":"a is hot"},"state":"pending","activeAt":"2023-11-14T22:13:20Z","value":"2e+01"}],"#
            + #""health":"ok","evaluationTime":0.5,"lastEvaluation":"2023-11-14T22:13:20Z","type":"alerting"},"#
            + #"{"name":"temperature:max","query":"max(temperature)","health":"ok","evaluationTime":0.5,"lastEvaluation":"2023-11-14T22:13:20Z","type":"recording"}],"#
            + #""interval":30,"limit":0,"evaluationTime":0.000123,"lastEvaluation":"2023-11-14T22:13:20Z"}]}}"#
        #expect(body == expected)
    }

    @Test func rulesFilters() async throws {
        let h = try await harness()
        defer { h.directory.remove() }
        let groups = await h.manager.status(tenant: .default)
        let records = RulesAPI.rulesJSON(groups, filter: try RulesAPI.Filter(type: "record"))
        #expect(records.contains("\"name\":\"temperature:max\"") && records.contains("\"name\":\"one\"") && !records.contains("TooHot"))
        let alerts = RulesAPI.rulesJSON(groups, filter: try RulesAPI.Filter(type: "alert", excludeAlerts: "true"))
        #expect(alerts.contains("TooHot") && !alerts.contains("\"alerts\"") && !alerts.contains("\"other\""))
        let named = RulesAPI.rulesJSON(groups, filter: try RulesAPI.Filter(ruleNames: ["one"], files: [h.directory.file("rules.yml")]))
        #expect(named.contains("\"name\":\"other\"") && !named.contains("\"name\":\"heat\""))
        let none = RulesAPI.rulesJSON(groups, filter: try RulesAPI.Filter(files: ["elsewhere.yml"]))
        #expect(none == #"{"status":"success","data":{"groups":[]}}"#)
        #expect(throws: SightlineError.self) { try RulesAPI.Filter(type: "alerts") }
        let matched = RulesAPI.rulesJSON(groups, filter: try RulesAPI.Filter(match: ["{severity=\"page\"}"]))
        #expect(matched.contains("TooHot") && !matched.contains("temperature:max"))
        #expect(throws: SightlineError.self) { try RulesAPI.Filter(match: ["{severity="]) }
    }

    @Test func alertsBody() async throws {
        let h = try await harness()
        defer { h.directory.remove() }
        let body = RulesAPI.alertsJSON(await h.manager.status(tenant: .default))
        #expect(
            body == #"{"status":"success","data":{"alerts":[{"labels":{"alertname":"TooHot","instance":"a","severity":"page"},"annotations":{"summary":"a is hot"},"state":"pending","activeAt":"2023-11-14T22:13:20Z","value":"2e+01"}]}}"#
        )
        #expect(RulesAPI.alertsJSON([]) == #"{"status":"success","data":{"alerts":[]}}"#)
    }

    @Test func goNumberFormats() {
        #expect(RulesAPI.formatExponent(1) == "1e+00")
        #expect(RulesAPI.formatExponent(123.5) == "1.235e+02")
        #expect(RulesAPI.formatExponent(0.00012) == "1.2e-04")
        #expect(RulesAPI.formatExponent(.nan) == "NaN")
        #expect(RulesAPI.goJSONNumber(1e-7) == "1e-7")
        #expect(RulesAPI.goJSONNumber(0.25) == "0.25")
        #expect(RulesAPI.goTime(nil) == "0001-01-01T00:00:00Z")
        #expect(RulesAPI.goTime(1_700_000_000_123) == "2023-11-14T22:13:20.123Z")
    }
}
