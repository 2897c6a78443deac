import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineAlerting

/// A Jira server as a script: answers by method and path, records every request.
private actor JiraScript: NotificationTransport {
    var answers: [String: (Int, String)] = [:]
    private(set) var requests: [(method: String, path: String, body: String)] = []

    init(_ answers: [String: (Int, String)]) { self.answers = answers }

    func post(_ request: OutboundPost, timeoutMs: Int64) async throws -> NotifyHTTPClient.Response {
        let path = String(request.url.dropFirst("http://jira/rest/api/2/".count))
        requests.append((request.method.rawValue, path, String(decoding: request.body, as: UTF8.self)))
        let (status, body) = answers["\(request.method.rawValue) \(path)"] ?? (404, "{}")
        return NotifyHTTPClient.Response(status: status, body: Array(body.utf8))
    }

    func sendMail(_ message: EmailMessage, config: EmailConfig, timeoutMs: Int64) async throws {}

    var calls: [String] { requests.map { "\($0.method) \($0.path)" } }
}

@Suite struct NotifyJiraTests {
    private static let groupKey = #"{}:{alertname="Disk"}"#

    private func config() -> JiraConfig {
        var config = JiraConfig()
        config.apiURL = "http://jira/rest/api/2/"
        config.project = "OPS"
        config.issueType = "Bug"
        config.labels = ["sightline", "{{ .CommonLabels.alertname }}"]
        config.resolveTransition = "Done"
        config.reopenTransition = "Reopen"
        config.fields = [
            ("customfield_10001", .map([("value", .text("red"))])),
            // Templates, as Alertmanager renders them: a result that reads as YAML becomes that value.
            ("customfield_10002", .text("{{ .CommonLabels.alertname }}")),
            ("customfield_10003", .text("{{ len .Alerts }}")),
            ("customfield_10004", .text("{ team: {{ .CommonLabels.instance }}, ids: [1, two] }")),
            ("customfield_10005", .list([.text("{{ .Status }}"), .literal("7")])),
            ("customfield_10006", .text("{{ .CommonLabels.missing }}")),
            ("customfield_10007", .text("\"quoted\"")),
            ("customfield_10008", .map([("{{ .Status }}", .literal("true"))])),
        ]
        config.authorization = "Bearer pat"
        return config
    }

    private func delivery(resolved: Bool, severity: String = "warning", config: JiraConfig) throws -> JiraDelivery {
        let alert = StoredAlert(
            labels: Labels(["alertname": "Disk", "instance": "a", "severity": severity]), annotations: Labels(["summary": "disk full"]),
            startsAtMs: notifyT0, endsAtMs: resolved ? notifyT0 + 30_000 : notifyT0 + 600_000, generatorURL: "http://prom/graph",
            updatedAtMs: notifyT0, timeout: true)
        let delivery = Delivery(
            tenant: .default, groupID: "0:x", groupKey: Self.groupKey, groupLabels: Labels(["alertname": "Disk"]), receiver: "team",
            integration: NotifyIntegration(kind: .jira(config), index: 0), logKey: "k", alerts: [alert], firing: [], resolved: [],
            flushedAtMs: notifyT0 + 60_000, logOnly: false, flushID: 0, nextAttemptMs: 0, deadlineMs: 0)
        return try JiraDelivery(NotificationData(delivery, externalURL: "http://am"), config: config)
    }

    private static let label = "ALERT{\(SHA256.hex(groupKey))}"

    @Test func rendersTheSearchAndTheIssueAsAlertmanagerDoes() throws {
        var config = config()
        config.wontFixResolution = "Won't Do"
        config.reopenDurationMs = 3_600_000
        let firing = try delivery(resolved: false, severity: "critical", config: config)
        let search = jsonObject(String(decoding: firing.search, as: UTF8.self))
        #expect(search["jql"] as? String
            == #"resolution != "Won't Do" and (resolutiondate is EMPTY OR resolutiondate >= -60m) and project="OPS" and labels=""# + Self.label
            + #"" order by status ASC,resolutiondate DESC"#)
        #expect(search["maxResults"] as? Int == 2 && search["fields"] as? [String] == ["status"])
        let fields = try #require(jsonObject(String(decoding: firing.issue, as: UTF8.self))["fields"] as? [String: Any])
        #expect(fields["summary"] as? String == "[FIRING:1] Disk (a critical)")
        #expect((fields["description"] as? String)?.hasPrefix("# Alerts Firing:\n") == true)
        #expect(fields["labels"] as? [String] == [Self.label, "Disk", "sightline"])
        #expect((fields["priority"] as? [String: String]) == ["name": "High"])
        #expect((fields["project"] as? [String: String]) == ["key": "OPS"] && (fields["issuetype"] as? [String: String]) == ["name": "Bug"])
        #expect((fields["customfield_10001"] as? [String: String]) == ["value": "red"])
        #expect(fields["customfield_10002"] as? String == "Disk" && fields["customfield_10003"] as? Int == 1)
        let structured = try #require(fields["customfield_10004"] as? [String: Any])
        #expect(structured["team"] as? String == "a" && (structured["ids"] as? [Any]).map { "\($0)" } == #"[1, "two"]"#)
        #expect((fields["customfield_10005"] as? [Any]).map { "\($0)" } == #"["firing", 7]"#)
        #expect(fields["customfield_10006"] is NSNull && fields["customfield_10007"] as? String == #""quoted""#)
        #expect((fields["customfield_10008"] as? [String: Bool]) == ["firing": true])
        #expect(firing.headers.contains { $0 == ("Authorization", "Bearer pat") })
        // Resolved groups look for open issues only; the priority follows the resolved alerts' severity then.
        let resolved = try delivery(resolved: true, severity: "info", config: config)
        #expect((jsonObject(String(decoding: resolved.search, as: UTF8.self))["jql"] as? String)?.hasPrefix(#"resolution != "Won't Do" and statusCategory != Done and "#) == true)
        #expect((jsonObject(String(decoding: resolved.issue, as: UTF8.self))["fields"] as? [String: Any])?["priority"] as? [String: String] == ["name": "Low"])
        // API version 3 takes the description as a JSON document.
        config.apiURL = "http://jira/rest/api/3/"
        #expect(throws: SightlineError.self) { _ = try self.delivery(resolved: false, config: config) }
        config.description = #"{"type":"doc","version":1,"content":[]}"#
        let v3 = try delivery(resolved: false, config: config)
        #expect((jsonObject(String(decoding: v3.issue, as: UTF8.self))["fields"] as? [String: Any])?["description"] as? [String: Any] != nil)
    }

    @Test func createsUpdatesResolvesAndReopens() async throws {
        let none = #"{"total":0,"issues":[]}"#
        let open = #"{"total":1,"issues":[{"key":"OPS-7","fields":{"status":{"statusCategory":{"key":"indeterminate"}}}}]}"#
        let done = #"{"total":1,"issues":[{"key":"OPS-7","fields":{"status":{"statusCategory":{"key":"done"}}}}]}"#
        let transitions = #"{"transitions":[{"id":"21","name":"Reopen"},{"id":"31","name":"Done"}]}"#
        /// The outcome, the requests made (`METHOD path`) and the last request's body.
        func run(_ resolved: Bool, _ answers: [String: (Int, String)]) async throws -> (outcome: NotifyOutcome, calls: [String], last: String) {
            let script = JiraScript(answers)
            let outcome = await try delivery(resolved: resolved, config: config()).perform(transport: script, timeoutMs: 1000)
            return (outcome, await script.calls, await script.requests.last?.body ?? "")
        }
        // A firing group without an issue creates one.
        var result = try await run(false, ["POST search": (200, none), "POST issue": (201, #"{"key":"OPS-8"}"#)])
        #expect(result.outcome.isDelivered && result.calls == ["POST search", "POST issue"])
        // An open issue is updated while firing, updated and resolved when the group resolves.
        result = try await run(false, ["POST search": (200, open), "PUT issue/OPS-7": (204, "")])
        #expect(result.outcome.isDelivered && result.calls == ["POST search", "PUT issue/OPS-7"])
        result = try await run(true, [
            "POST search": (200, open), "PUT issue/OPS-7": (204, ""), "GET issue/OPS-7/transitions": (200, transitions),
            "POST issue/OPS-7/transitions": (204, ""),
        ])
        #expect(result.outcome.isDelivered)
        #expect(result.calls == ["POST search", "PUT issue/OPS-7", "GET issue/OPS-7/transitions", "POST issue/OPS-7/transitions"])
        #expect(result.last == #"{"transition":{"id":"31"}}"# + "\n")
        // A done issue is reopened when the group fires again; a resolved group with no open issue needs nothing.
        result = try await run(false, [
            "POST search": (200, done), "PUT issue/OPS-7": (204, ""), "GET issue/OPS-7/transitions": (200, transitions),
            "POST issue/OPS-7/transitions": (204, ""),
        ])
        #expect(result.outcome.isDelivered && result.last == #"{"transition":{"id":"21"}}"# + "\n")
        result = try await run(true, ["POST search": (200, none)])
        #expect(result.outcome.isDelivered && result.calls == ["POST search"])
        // Failures: a missing transition and a refused request fail, a 503 and a 429 are retried.
        result = try await run(true, ["POST search": (200, open), "PUT issue/OPS-7": (204, ""), "GET issue/OPS-7/transitions": (200, #"{"transitions":[]}"#)])
        #expect(result.outcome.failure == "jira: can't find transition Done for issue OPS-7")
        result = try await run(false, ["POST search": (200, none), "POST issue": (400, #"{"errors":{"summary":"required"}}"#)])
        #expect(result.outcome.failure?.hasPrefix("unexpected status code 400") == true)
        result = try await run(false, ["POST search": (503, "")])
        #expect(result.outcome.retried)
        result = try await run(false, ["POST search": (200, none), "POST issue": (429, "")])
        #expect(result.outcome.retried)
        result = try await run(false, ["POST search": (200, "not json")])
        #expect(result.outcome.failure == "jira: the search answer is not a JSON object")
    }

    @Test func configKeysGlobalsAndRefusals() throws {
        let yaml = """
            global:
              jira_api_url: https://example.atlassian.net/rest/api/2
            route: {receiver: jira}
            receivers:
              - name: jira
                jira_configs:
                  - project: OPS
                    issue_type: Bug
                    labels: [a, b]
                    priority: Low
                    reopen_transition: Reopen
                    reopen_duration: 1h
                    wont_fix_resolution: "Won't Do"
                    send_resolved: false
                    fields:
                      customfield_1: {value: red}
                      customfield_2: [1, "two", true]
                      customfield_3: 2.5
                    http_config:
                      basic_auth: {username: me@example.com, password: pat}
            """
        let receiver = try #require(try NotifyConfigFile.parse(yaml, path: "am.yml").receiver(named: "jira"))
        let jira = try #require(receiver.jiras.first)
        #expect(jira.apiURL == "https://example.atlassian.net/rest/api/2/" && jira.project == "OPS" && jira.issueType == "Bug")
        #expect(jira.labels == ["a", "b"] && jira.priority == "Low" && jira.reopenDurationMs == 3_600_000 && !jira.sendResolved)
        #expect(jira.fields.map(\.0) == ["customfield_1", "customfield_2", "customfield_3"])
        #expect(jira.fields.map(\.1) == [.map([("value", .text("red"))]), .list([.literal("1"), .text("two"), .literal("true")]), .literal("2.5")])
        #expect(jira.authorization == "Basic " + Base64.encode(Array("me@example.com:pat".utf8)))
        #expect(receiver.integrations.map(\.name) == ["jira"])
        for (missing, message) in [
            ("project: OPS", "missing project in jira_config"), ("issue_type: Bug", "missing issue_type in jira_config"),
        ] {
            let text = "route: {receiver: j}\nreceivers:\n  - name: j\n    jira_configs:\n      - api_url: http://jira/\n        project: OPS\n        issue_type: Bug\n"
                .replacingOccurrences(of: "        " + missing + "\n", with: "")
            let error = sightlineError { _ = try NotifyConfigFile.parse(text, path: "am.yml") }
            #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        }
        let noURL = sightlineError {
            _ = try NotifyConfigFile.parse("route: {receiver: j}\nreceivers:\n  - name: j\n    jira_configs: [{project: A, issue_type: Bug}]\n", path: "am.yml")
        }
        #expect(noURL?.message.contains("no global Jira API URL set") == true)
    }
}

extension NotifyOutcome {
    var isDelivered: Bool { if case .delivered = self { true } else { false } }
    var retried: Bool { if case .retry = self { true } else { false } }
    var failure: String? { if case .failed(let message) = self { message } else { nil } }
}
