import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineAlerting

@Suite struct NotifyAPITests {
    let yaml = """
        route:
          receiver: hook
          group_by: [alertname]
          routes:
            - matchers: [team=db]
              receiver: db
        inhibit_rules:
          - source_matchers: [severity=critical]
            target_matchers: [severity=warning]
            equal: [alertname]
        receivers:
          - name: hook
            webhook_configs: [{url: "http://h/hook"}]
          - name: db
            webhook_configs: [{url: "http://h/db"}]
        """

    func array(_ response: AlertmanagerAPIResponse) -> [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [[String: Any]] ?? []
    }

    func post(_ api: AlertmanagerAPI, _ path: String, _ body: String, tenant: Tenant = .default) async -> AlertmanagerAPIResponse {
        await api.handle(method: "POST", path: path, query: [], body: Array(body.utf8), tenant: tenant)
    }

    func get(_ api: AlertmanagerAPI, _ path: String, _ query: [(String, String)] = [], tenant: Tenant = .default) async -> AlertmanagerAPIResponse {
        await api.handle(method: "GET", path: path, query: query, body: [], tenant: tenant)
    }

    @Test func postAndListAlerts() async throws {
        let h = try NotifyHarness(yaml)
        defer { h.directory.remove() }
        let api = AlertmanagerAPI(notifier: h.notifier)
        let body = """
            [{"labels":{"alertname":"Disk","team":"db","severity":"warning"},"annotations":{"summary":"s"},"startsAt":"2026-11-26T09:00:00Z","generatorURL":"http://prom/g"},
             {"labels":{"alertname":"Disk","severity":"critical"}},
             {"labels":{"alertname":"Old"},"startsAt":"2026-11-26T08:00:00Z","endsAt":"2026-11-26T09:00:00Z"}]
            """
        #expect(await post(api, "/alerts", body).status == 200)
        let all = array(await get(api, "/alerts"))
        // The resolved one is not listed.
        #expect(all.count == 2)
        let warning = try #require(all.first { ($0["labels"] as? [String: String])?["severity"] == "warning" })
        #expect((warning["receivers"] as? [[String: String]])?.first?["name"] == "db")
        let status = try #require(warning["status"] as? [String: Any])
        #expect(status["state"] as? String == "suppressed")
        #expect((status["inhibitedBy"] as? [String])?.count == 1)
        #expect(warning["startsAt"] as? String == "2026-11-26T09:00:00Z")
        #expect(warning["fingerprint"] as? String == AlertFingerprint.text(AlertFingerprint.of(Labels(["alertname": "Disk", "team": "db", "severity": "warning"]))))
        #expect(array(await get(api, "/alerts", [("inhibited", "false")])).count == 1)
        #expect(array(await get(api, "/alerts", [("filter", "severity=\"critical\"")])).count == 1)
        #expect(array(await get(api, "/alerts", [("receiver", "d.*")])).count == 1)
        #expect(array(await get(api, "/alerts", [("active", "false")])).count == 1)
        // Tenants do not see each other's alerts.
        #expect(array(await get(api, "/alerts", tenant: try Tenant("other"))).isEmpty)
        let groups = array(await get(api, "/alerts/groups"))
        #expect(groups.count == 2)
        #expect(Set(groups.compactMap { ($0["receiver"] as? [String: String])?["name"] }) == ["hook", "db"])
        #expect(groups.allSatisfy { ($0["labels"] as? [String: String]) == ["alertname": "Disk"] })
    }

    @Test func badRequestsSayWhy() async throws {
        let h = try NotifyHarness(yaml)
        defer { h.directory.remove() }
        let api = AlertmanagerAPI(notifier: h.notifier)
        let cases: [(String, String)] = [
            ("[{\"labels\":{}}]", "at least one label pair required"),
            ("[{\"labels\":{\"a\":\"b\"},\"startsAt\":\"2026-11-26T10:00:00Z\",\"endsAt\":\"2026-11-26T09:00:00Z\"}]", "start time must be before end time"),
            ("[{\"labels\":{\"a\":\"b\"},\"startsAt\":\"yesterday\"}]", "startsAt must be an RFC 3339 date-time"),
            ("[{\"labels\":{\"a-b\":\"c\"}}]", "invalid label set"),
            ("{", "not valid JSON"),
        ]
        for (body, message) in cases {
            let response = await post(api, "/alerts", body)
            #expect(response.status == 400)
            #expect(response.body.contains(message), "\(response.body)")
        }
        #expect(await get(api, "/alerts", [("filter", "=x")]).status == 400)
        #expect(await get(api, "/alerts", [("active", "maybe")]).body.contains("must be of type boolean"))
        #expect(await get(api, "/nope").status == 404)
        // A valid alert next to an invalid one is still taken.
        _ = await post(api, "/alerts", "[{\"labels\":{}},{\"labels\":{\"alertname\":\"Ok\"}}]")
        #expect(array(await get(api, "/alerts")).count == 1)
    }

    @Test func silencesLifecycle() async throws {
        let h = try NotifyHarness(yaml)
        defer { h.directory.remove() }
        let api = AlertmanagerAPI(notifier: h.notifier)
        _ = await post(api, "/alerts", #"[{"labels":{"alertname":"Disk","instance":"a"}}]"#)
        let create = """
            {"matchers":[{"name":"alertname","value":"Disk","isRegex":false,"isEqual":true}],
             "startsAt":"2026-11-26T09:00:00Z","endsAt":"2026-11-26T12:00:00Z","createdBy":"me","comment":"fixing"}
            """
        let created = await post(api, "/silences", create)
        #expect(created.status == 200)
        let id = try #require(jsonObject(created.body)["silenceID"] as? String)
        let alert = try #require(array(await get(api, "/alerts")).first)
        #expect((alert["status"] as? [String: Any])?["silencedBy"] as? [String] == [id])
        let fetched = jsonObject(await get(api, "/silence/\(id)").body)
        #expect((fetched["status"] as? [String: String])?["state"] == "active")
        #expect(fetched["createdBy"] as? String == "me" && fetched["startsAt"] as? String == "2026-11-26T10:00:00Z")
        #expect(array(await get(api, "/silences", [("filter", "alertname=Disk")])).count == 1)
        #expect(array(await get(api, "/silences", [("filter", "alertname=Other")])).isEmpty)
        // Update in place: same matchers, same start, new end.
        let update = """
            {"id":"\(id)","matchers":[{"name":"alertname","value":"Disk","isRegex":false,"isEqual":true}],
             "startsAt":"2026-11-26T10:00:00Z","endsAt":"2026-11-26T13:00:00Z","createdBy":"me","comment":"longer"}
            """
        #expect(jsonObject(await post(api, "/silences", update).body)["silenceID"] as? String == id)
        #expect(await api.handle(method: "DELETE", path: "/silence/\(id)", query: [], body: [], tenant: .default).status == 200)
        #expect((jsonObject(await get(api, "/silence/\(id)").body)["status"] as? [String: String])?["state"] == "expired")
        #expect(await get(api, "/silence/unknown").status == 404)
        #expect(await api.handle(method: "DELETE", path: "/silence/unknown", query: [], body: [], tenant: .default).status == 404)
        let bad = await post(api, "/silences", #"{"matchers":[],"startsAt":"2026-11-26T09:00:00Z","endsAt":"2026-11-26T12:00:00Z","createdBy":"me","comment":""}"#)
        #expect(bad.status == 400 && bad.body.contains("at least one matcher required"))
        let missing = await post(api, "/silences", #"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2026-11-26T09:00:00Z","endsAt":"2026-11-26T12:00:00Z"}"#)
        #expect(missing.status == 400 && missing.body.contains("createdBy in body is required"))
    }

    @Test func statusAndReceivers() async throws {
        let h = try NotifyHarness(yaml)
        defer { h.directory.remove() }
        let api = AlertmanagerAPI(notifier: h.notifier)
        let status = jsonObject(await get(api, "/status").body)
        #expect((status["cluster"] as? [String: Any])?["status"] as? String == "disabled")
        #expect(((status["config"] as? [String: String])?["original"])?.contains("receivers:") == true)
        #expect(status["uptime"] as? String == "2026-11-26T10:00:00Z")
        #expect(array(await get(api, "/receivers")).compactMap { $0["name"] as? String } == ["hook", "db"])
    }

    @Test func forwarderPostsPrometheusShape() async throws {
        let transport = FakeTransport()
        let forwarder = AlertmanagerForwarder(baseURL: "http://am:9093/", transport: transport)
        await forwarder.send([firing(["alertname": "X"], endsAt: notifyT0 + 60_000)], tenant: try Tenant("acme"))
        let post = try #require(await transport.posts.first)
        #expect(post.url == "http://am:9093/api/v2/alerts")
        #expect(post.headers.contains { $0 == ("X-Scope-OrgID", "acme") })
        #expect(String(decoding: post.body, as: UTF8.self)
            == #"[{"labels":{"alertname":"X"},"annotations":{"summary":"something"},"startsAt":"2026-11-26T10:00:00Z","endsAt":"2026-11-26T10:01:00Z","generatorURL":"http://prom/graph"}]"#)
        // What the forwarder sends, Sightline's own API takes.
        let h = try NotifyHarness(yaml)
        defer { h.directory.remove() }
        #expect(await AlertmanagerAPI(notifier: h.notifier).handle(method: "POST", path: "/alerts", query: [], body: post.body, tenant: .default).status == 200)
    }
}
