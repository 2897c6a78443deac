import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineAlerting

/// A WeChat Work API as a script: answers by method and path (without the query), records every URL and body.
private actor WeChatScript: NotificationTransport {
    var answers: [String: (Int, String)]
    private(set) var requests: [(url: String, body: String)] = []

    init(_ answers: [String: (Int, String)]) { self.answers = answers }

    func answer(_ key: String, _ value: (Int, String)) { answers[key] = value }

    func post(_ request: OutboundPost, timeoutMs: Int64) async throws -> NotifyHTTPClient.Response {
        requests.append((request.url, String(decoding: request.body, as: UTF8.self)))
        let path = request.url.split(separator: "?").first.map { String($0.dropFirst("http://wx/cgi-bin/".count)) } ?? ""
        let (status, body) = answers["\(request.method.rawValue) \(path)"] ?? (404, "{}")
        return NotifyHTTPClient.Response(status: status, body: Array(body.utf8))
    }

    func sendMail(_ message: EmailMessage, config: EmailConfig, timeoutMs: Int64) async throws {}
}

@Suite struct NotifyWeChatTests {
    private func delivery(_ config: WeChatConfig) throws -> WeChatDelivery {
        let alert = StoredAlert(
            labels: Labels(["alertname": "Disk", "instance": "a"]), annotations: Labels(["summary": "disk full"]), startsAtMs: notifyT0,
            endsAtMs: notifyT0 + 600_000, generatorURL: "http://prom/graph", updatedAtMs: notifyT0, timeout: true)
        let delivery = Delivery(
            tenant: .default, groupID: "0:x", groupKey: #"{}:{alertname="Disk"}"#, groupLabels: Labels(["alertname": "Disk"]), receiver: "team",
            integration: NotifyIntegration(kind: .weChat(config), index: 0), logKey: "k", alerts: [alert], firing: [], resolved: [],
            flushedAtMs: notifyT0 + 60_000, logOnly: false, flushID: 0, nextAttemptMs: 0, deadlineMs: 0)
        return try WeChatDelivery(NotificationData(delivery, externalURL: "http://am"), config: config)
    }

    private func config(secret: String) -> WeChatConfig {
        var config = WeChatConfig()
        config.apiURL = "http://wx/cgi-bin/"
        config.corpID = "corp 1"
        config.apiSecret = secret
        config.toUser = "@all"
        config.agentID = "1000002"
        return config
    }

    @Test func fetchesATokenOnceAndSendsTheMessage() async throws {
        let token = #"{"errcode":0,"access_token":"T1"}"#
        let script = WeChatScript(["GET gettoken": (200, token), "POST message/send": (200, #"{"errcode":0,"errmsg":"ok"}"#)])
        // A secret of this test's own: the token cache is per API URL, corp id and secret.
        let delivery = try delivery(config(secret: "s\(UUID().uuidString)"))
        #expect(try #require(String(bytes: delivery.message, encoding: .utf8)).hasPrefix(#"{"text":{"content":"[FIRING:1] Disk (a)"#))
        let body = jsonObject(String(decoding: delivery.message, as: UTF8.self))
        #expect(body["touser"] as? String == "@all" && body["agentid"] as? String == "1000002" && body["safe"] as? String == "0")
        #expect(body["msgtype"] as? String == "text" && body["toparty"] == nil && (body["markdown"] as? [String: String]) == ["content": ""])
        #expect(((body["text"] as? [String: String])?["content"])?.contains("AlertmanagerUrl:\nhttp://am/#/alerts?receiver=team") == true)
        #expect(await delivery.perform(transport: script, timeoutMs: 1000, nowMs: notifyT0).isDelivered)
        #expect(await delivery.perform(transport: script, timeoutMs: 1000, nowMs: notifyT0 + 60_000).isDelivered)
        var requests = await script.requests
        #expect(requests.map(\.url) == [
            "http://wx/cgi-bin/gettoken?corpid=corp+1&corpsecret=" + delivery.secret, "http://wx/cgi-bin/message/send?access_token=T1",
            "http://wx/cgi-bin/message/send?access_token=T1",
        ])
        // An expired token (errcode 42001) is forgotten and retried; two hours on, a new one is fetched anyway.
        await script.answer("POST message/send", (200, #"{"errcode":42001,"errmsg":"access_token expired"}"#))
        #expect(await delivery.perform(transport: script, timeoutMs: 1000, nowMs: notifyT0 + 120_000).retried)
        await script.answer("POST message/send", (200, #"{"errcode":0,"errmsg":"ok"}"#))
        #expect(await delivery.perform(transport: script, timeoutMs: 1000, nowMs: notifyT0 + 180_000).isDelivered)
        requests = await script.requests
        #expect(requests.filter { $0.url.contains("gettoken") }.count == 2)
        _ = await delivery.perform(transport: script, timeoutMs: 1000, nowMs: notifyT0 + 180_000 + WeChatDelivery.tokenLifetimeMs)
        requests = await script.requests
        #expect(requests.filter { $0.url.contains("gettoken") }.count == 3)
    }

    @Test func answersDecideTheOutcome() async throws {
        func run(_ answers: [String: (Int, String)], markdown: Bool = false) async throws -> NotifyOutcome {
            var config = config(secret: "s\(UUID().uuidString)")
            if markdown { config.messageType = "markdown" }
            return await try delivery(config).perform(transport: WeChatScript(answers), timeoutMs: 1000)
        }
        let token = (200, #"{"access_token":"T"}"#)
        #expect(try await run(["GET gettoken": (200, #"{"errcode":40001,"errmsg":"invalid credential"}"#)]).failure
            == "invalid APISecret for CorpID: corp 1")
        #expect(try await run(["GET gettoken": token, "POST message/send": (200, #"{"errcode":60020,"errmsg":"not allow to access"}"#)]).failure
            == "wechat: not allow to access (errcode 60020)")
        #expect(try await run(["GET gettoken": token, "POST message/send": (200, "<html>")]).retried)
        #expect(try await run(["GET gettoken": (503, "")]).retried)
        #expect(try await run(["GET gettoken": token, "POST message/send": (200, #"{"errcode":0}"#)], markdown: true).isDelivered)
        var markdown = config(secret: "x")
        markdown.messageType = "markdown"
        let body = jsonObject(String(decoding: try delivery(markdown).message, as: UTF8.self))
        #expect((body["text"] as? [String: String]) == ["content": ""] && (body["markdown"] as? [String: String])?["content"]?.isEmpty == false)
    }

    @Test func configKeysGlobalsAndRefusals() throws {
        let yaml = """
            global: {wechat_api_secret: shh, wechat_api_corp_id: corp, wechat_api_url: "http://wx/cgi-bin"}
            route: {receiver: wx}
            receivers:
              - name: wx
                wechat_configs: [{to_party: "2", agent_id: "1000002", message_type: markdown, send_resolved: true}]
            """
        let config = try #require(try NotifyConfigFile.parse(yaml, path: "am.yml").receiver(named: "wx")?.weChats.first)
        #expect(config.apiURL == "http://wx/cgi-bin/" && config.apiSecret == "shh" && config.corpID == "corp" && config.sendResolved)
        #expect(config.toParty == "2" && config.messageType == "markdown")
        // The secret in a file (trailing newline dropped), which then wins over the global one.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wechat-secret-\(UInt64.random(in: 1...UInt64.max))").path
        try "from-file\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let fromFile = try NotifyConfigFile.parse(
            yaml.replacingOccurrences(of: "{to_party", with: "{api_secret_file: \(file), to_party"), path: "am.yml"
        ).receiver(named: "wx")?.weChats.first
        #expect(fromFile?.apiSecret == "from-file")
        for (text, message) in [
            ("wechat_configs: [{corp_id: c}]", "no global Wechat ApiSecret set"), ("wechat_configs: [{api_secret: s}]", "no global Wechat CorpID set"),
            ("wechat_configs: [{api_secret: s, api_secret_file: \(file), corp_id: c}]", "at most one of api_secret & api_secret_file must be configured"),
            ("wechat_configs: [{api_secret_file: /nonexistent/secret, corp_id: c}]", "cannot read /nonexistent/secret"),
            ("wechat_configs: [{api_secret: s, corp_id: c, message_type: html}]", #"weChat message type "html" does not match valid options"#),
        ] {
            let error = sightlineError { _ = try NotifyConfigFile.parse("route: {receiver: wx}\nreceivers:\n  - name: wx\n    \(text)\n", path: "am.yml") }
            #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        }
    }
}
