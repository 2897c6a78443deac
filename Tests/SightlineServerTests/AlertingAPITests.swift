import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SightlineAlerting
import SightlineTestSupport
import Testing

@testable import SightlineCore
@testable import SightlineServer

/// The JSON object of a response body; empty when it is not one.
private func object(_ buffer: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] ?? [:]
}

/// A harness with the alerting runtime over its stores, the rule file `rules.yml` in its directory.
private func alertingHarness(rules: String, tokens: [TokenGrant] = []) throws -> (ServerHarness, AlertingRuntime) {
    var harness = try ServerHarness(tokens: tokens)
    let rulesPath = harness.temporary.path + "/rules.yml"
    try Data(rules.utf8).write(to: URL(fileURLWithPath: rulesPath))
    var configuration = ServerConfiguration()
    configuration.dataDirectory = harness.temporary.path
    configuration.rules.files = [.default: [rulesPath]]
    let runtime = try AlertingRuntime(
        configuration: configuration, pipeline: harness.api.pipeline, samples: harness.api.samples, logs: harness.api.logs,
        logger: Logger(label: "test"))
    harness.api.alerting = runtime
    return (harness, runtime)
}

private let highValueRules = """
    groups:
      - name: g
        rules:
          - record: value:doubled
            expr: value * 2
          - alert: HighValue
            expr: value:doubled > 10
            labels: {severity: page}
            annotations: {summary: "{{ $labels.host }} at {{ $value }}"}
      - name: logs
        query_language: logql
        rules:
          - record: app:lines:rate5m
            expr: sum by (app) (rate({app=~".+"}[5m]))
    """

struct AlertingConfigTests {
    @Test func readsRulesAndAlertingKeys() throws {
        let config = try ConfigFile.parse(
            """
            rules:
              files: [rules/*.yml, /abs/x.yml]
              tenants:
                acme: [acme.yml]
            alerting:
              alertmanager_config: am.yml
              external_url: http://sightline:7600
              evaluation_interval: 15s
              resend_delay: 30s
              external_labels: {cluster: eu1}
              forward_to: [http://am:9093]
            """, path: "/etc/sightline/sightline.yaml")
        #expect(config.rules.files[.default] == ["/etc/sightline/rules/*.yml", "/abs/x.yml"])
        #expect(config.rules.files[Tenant(uncheckedID: "acme")] == ["/etc/sightline/acme.yml"])
        #expect(config.alerting.alertmanagerConfig == "/etc/sightline/am.yml")
        #expect(config.alerting.externalURL == "http://sightline:7600")
        #expect(config.alerting.evaluationInterval == .seconds(15))
        #expect(config.alerting.resendDelay == .seconds(30))
        #expect(config.alerting.externalLabels == ["cluster": "eu1"])
        #expect(config.alerting.forwardTo == ["http://am:9093"])
    }

    @Test(arguments: [
        ("rules:\n  file: [x]\n", ["rules.file", "unknown key"]),
        ("rules:\n  tenants:\n    \"a b\": [x]\n", ["rules.tenants.a b", "tenant"]),
        ("alerting:\n  evaluation_interval: often\n", ["alerting.evaluation_interval", "duration"]),
        ("alerting:\n  external_labels: {\"1x\": y}\n", ["alerting.external_labels", "1x"]),
        ("alerting:\n  forward_to: [am:9093]\n", ["alerting.forward_to", "am:9093"]),
        ("alerting:\n  colour: red\n", ["alerting.colour", "unknown key"]),
    ])
    func badAlertingKeysAreNamed(text: String, expected: [String]) {
        do {
            _ = try ConfigFile.parse(text, path: "bad.yaml")
            Issue.record("accepted: \(text)")
        } catch let error as SightlineError {
            #expect(error.code == .configuration)
            for fragment in expected { #expect(error.message.contains(fragment), "\(error.message) lacks \(fragment)") }
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func globsExpandSortedAndPlainPathsStay() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-glob")
        defer { directory.remove() }
        for name in ["b.yml", "a.yml", "c.txt"] {
            try Data().write(to: URL(fileURLWithPath: directory.path + "/" + name))
        }
        #expect(
            AlertingRuntime.expand([directory.path + "/*.yml", directory.path + "/missing.yml"])
                == [directory.path + "/a.yml", directory.path + "/b.yml", directory.path + "/missing.yml"])
        #expect(AlertingRuntime.expand([directory.path + "/none-*.yml"]).isEmpty)
    }

    @Test func badRuleFileStopsTheStartWithItsLine() throws {
        do {
            _ = try alertingHarness(rules: "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: 'sum(('\n")
            Issue.record("a bad rule file was accepted")
        } catch let error as SightlineError {
            #expect(error.code == .configuration)
            #expect(error.message.contains("rules.yml: 5:"), "\(error.message)")
        }
    }

    @Test func logQLRulesNeedAMetricQuery() throws {
        let engine = LogQLRuleQueryEngine()
        try engine.check("sum(count_over_time({app=\"x\"}[5m]))")
        #expect(throws: SightlineError.self) { try engine.check("{app=\"x\"}") }
        #expect(throws: SightlineError.self) { try engine.check("sum(") }
        #expect(throws: SightlineError.self) { _ = try engine.instant("vector(1)", tenant: .default, timeMs: 0) }
    }
}

struct AlertingAPITests {
    @Test func rulesEvaluateIntoTheStoreAndTheAPIs() async throws {
        let (harness, runtime) = try alertingHarness(rules: highValueRules)
        do {
            try await runtime.loadRules()
            // The notifier runs on the wall clock: alerts from another time would have ended already.
            let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
            _ = try await harness.api.pipeline.ingest(
                DecodedBatch(.metrics(MetricBatch(samples: [
                    MetricSample(labels: Labels([Label("__name__", "value"), Label("host", "a")]), timestampMs: nowMs - 1000, value: 21)
                ]))), tenant: .default, protocol: "test", bytes: 0)
            await runtime.rules.evaluate(tenant: .default, atMs: nowMs)
            let client = harness.client()
            try await client.execute("/api/v1/alerts", method: .get).check { response in
                #expect(response.status == .ok)
                let alerts = (object(response.body)["data"] as? [String: Any])?["alerts"] as? [[String: Any]] ?? []
                #expect(alerts.count == 1)
                #expect(alerts.first?["state"] as? String == "firing")
                #expect((alerts.first?["annotations"] as? [String: Any])?["summary"] as? String == "a at 42")
            }
            try await client.execute("/api/v1/rules?type=record", method: .get).check { response in
                let groups = (object(response.body)["data"] as? [String: Any])?["groups"] as? [[String: Any]] ?? []
                let rules = groups.first?["rules"] as? [[String: Any]] ?? []
                #expect(rules.map { $0["name"] as? String } == ["value:doubled"])
                #expect(rules.first?["health"] as? String == "ok")
            }
            try await client.execute("/api/v1/rules?type=bogus", method: .get).check { #expect($0.status == .badRequest) }
            // Loki's ruler routes show the LogQL groups only.
            try await client.execute("/prometheus/api/v1/rules", method: .get).check { response in
                let groups = (object(response.body)["data"] as? [String: Any])?["groups"] as? [[String: Any]] ?? []
                #expect(groups.map { $0["name"] as? String } == ["logs"])
            }
            try await client.execute("/prometheus/api/v1/alerts", method: .get).check { response in
                #expect(response.status == .ok)
                #expect(((object(response.body)["data"] as? [String: Any])?["alerts"] as? [Any])?.isEmpty == true)
            }
            try await client.execute("/api/v1/rules", method: .get).check { response in
                let groups = (object(response.body)["data"] as? [String: Any])?["groups"] as? [[String: Any]] ?? []
                #expect(groups.map { $0["name"] as? String } == ["g", "logs"])
            }
            // Recorded series and ALERTS are in the store.
            try await client.execute("/api/v1/query?query=ALERTS&time=\(String(format: "%.3f", Double(nowMs) / 1000))", method: .get).check { response in
                let result = (object(response.body)["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
                #expect((result.first?["metric"] as? [String: Any])?["alertstate"] as? String == "firing")
            }
            // The notifier got the alert: the v2 API lists it.
            try await client.execute("/api/v2/alerts", method: .get).check { response in
                #expect(response.status == .ok)
                let alerts = (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [[String: Any]] ?? []
                #expect(alerts.compactMap { ($0["labels"] as? [String: Any])?["alertname"] as? String } == ["HighValue"])
            }
        }
        await harness.cleanUp()
    }

    @Test func rolesGuardTheRoutes() async throws {
        let acme = Tenant(uncheckedID: "acme")
        let (harness, _) = try alertingHarness(rules: highValueRules, tokens: [
            TokenGrant(token: "send", tenant: acme, roles: [.ingest]),
            TokenGrant(token: "read", tenant: acme, roles: [.query]),
            TokenGrant(token: "ops", tenant: acme, roles: [.admin]),
        ])
        do {
            let client = harness.client()
            func call(_ path: String, _ method: HTTPRequest.Method, _ token: String?, _ body: String = "") async throws -> HTTPResponse.Status {
                var headers: HTTPFields = [.contentType: "application/json"]
                if let token { headers[.authorization] = "Bearer \(token)" }
                return try await client.execute(path, method: method, headers: headers, body: ByteBuffer(string: body)).status
            }
            let silence = #"{"matchers":[{"name":"alertname","value":"X","isRegex":false}],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-01T01:00:00Z","createdBy":"t","comment":"c"}"#
            let alert = #"[{"labels":{"alertname":"External"}}]"#
            #expect(try await call("/api/v1/alerts", .get, nil) == .unauthorized)
            #expect(try await call("/api/v1/alerts", .get, "send") == .forbidden)
            #expect(try await call("/api/v1/rules", .get, "read") == .ok)
            #expect(try await call("/api/v2/alerts", .post, "read", alert) == .forbidden)
            #expect(try await call("/api/v2/alerts", .post, "send", alert) == .ok)
            #expect(try await call("/api/v2/silences", .post, "send", silence) == .forbidden)
            #expect(try await call("/api/v2/silences", .post, "read", silence) == .ok)
            #expect(try await call("/api/v2/silences", .post, "ops", silence) == .ok)
            #expect(try await call("/api/v2/silences", .get, "read") == .ok)
            #expect(try await call("/api/v2/silence/nope", .delete, "read") == .notFound)
            #expect(try await call("/api/v2/status", .get, "read") == .ok)
            #expect(try await call("/api/v2/receivers", .get, "read") == .ok)
            #expect(try await call("/-/reload", .post, "read") == .forbidden)
            #expect(try await call("/-/reload", .post, "ops") == .ok)
            // The alert posted by acme is acme's.
            try await client.execute("/api/v2/alerts", method: .get, headers: [.authorization: "Bearer read"]).check { response in
                #expect(String(buffer: response.body).contains("External"))
            }
        }
        await harness.cleanUp()
    }

    @Test func withoutAlertingTheRoutesAnswerUnavailable() async throws {
        let harness = try ServerHarness()
        do {
            try await harness.client().execute("/api/v1/rules", method: .get).check { #expect($0.status == .serviceUnavailable) }
        }
        await harness.cleanUp()
    }
}
