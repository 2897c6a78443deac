import Foundation
import SightlineCore
import Testing

@testable import SightlineAlerting

@Suite struct NotifyPayloadTests {
    func delivery(_ alerts: [StoredAlert], integration: NotifyIntegration, groupLabels: Labels = Labels(["alertname": "Disk"])) -> Delivery {
        Delivery(
            tenant: .default, groupID: "0:x", groupKey: #"{}:{alertname="Disk"}"#, groupLabels: groupLabels, receiver: "team",
            integration: integration, logKey: "k", alerts: alerts, firing: [], resolved: [], flushedAtMs: notifyT0 + 60_000,
            logOnly: false, flushID: 0, nextAttemptMs: 0, deadlineMs: 0)
    }

    func alert(_ instance: String, endsAt: Int64 = notifyT0 + 600_000) -> StoredAlert {
        StoredAlert(
            labels: Labels(["alertname": "Disk", "instance": instance]), annotations: Labels(["summary": "disk full"]),
            startsAtMs: notifyT0, endsAtMs: endsAt, generatorURL: "http://prom/graph", updatedAtMs: notifyT0, timeout: true)
    }

    @Test func webhookVersion4Shape() throws {
        var config = WebhookConfig(url: "http://h/hook")
        config.authorization = "Bearer tok"
        let a = alert("a")
        let post = NotifyPayloads.webhook(NotificationData(delivery([a], integration: NotifyIntegration(kind: .webhook(config), index: 0)), externalURL: "http://sightline"), config: config)
        let fingerprint = AlertFingerprint.text(a.fingerprint)
        let expected = #"{"receiver":"team","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Disk","instance":"a"},"annotations":{"summary":"disk full"},"startsAt":"2026-11-26T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom/graph","fingerprint":""#
            + fingerprint
            + #""}],"groupLabels":{"alertname":"Disk"},"commonLabels":{"alertname":"Disk","instance":"a"},"commonAnnotations":{"summary":"disk full"},"externalURL":"http://sightline","version":"4","groupKey":"{}:{alertname=\"Disk\"}","truncatedAlerts":0}"#
        #expect(String(decoding: post.body, as: UTF8.self) == expected)
        #expect(post.headers.contains { $0 == ("Authorization", "Bearer tok") })
        #expect(post.headers.contains { $0 == ("Content-Type", "application/json") })
    }

    @Test func webhookTruncatesAndMarksResolved() throws {
        var config = WebhookConfig(url: "http://h/hook")
        config.maxAlerts = 1
        let alerts = [alert("a", endsAt: notifyT0 + 30_000), alert("b")]
        let post = NotifyPayloads.webhook(NotificationData(delivery(alerts, integration: NotifyIntegration(kind: .webhook(config), index: 0)), externalURL: ""), config: config)
        let object = jsonObject(String(decoding: post.body, as: UTF8.self))
        #expect(object["truncatedAlerts"] as? Int == 1)
        let first = try #require((object["alerts"] as? [[String: Any]])?.first)
        #expect(first["status"] as? String == "resolved" && first["endsAt"] as? String == "2026-11-26T10:00:30Z")
        #expect(object["status"] as? String == "firing")
        #expect(object["commonLabels"] as? [String: String] == ["alertname": "Disk"])
    }

    @Test func slackDefaultsAndTemplates() throws {
        var config = SlackConfig()
        config.apiURL = "http://h/slack"
        config.channel = "#ops"
        var post = try NotifyPayloads.slack(NotificationData(delivery([alert("a"), alert("b")], integration: NotifyIntegration(kind: .slack(config), index: 0)), externalURL: "http://am"), config: config)
        var object = jsonObject(String(decoding: post.body, as: UTF8.self))
        #expect(object["channel"] as? String == "#ops")
        #expect(object["username"] as? String == "Alertmanager")
        var attachment = try #require((object["attachments"] as? [[String: Any]])?.first)
        #expect(attachment["title"] as? String == "[FIRING:2] Disk ")
        #expect(attachment["title_link"] as? String == "http://am/#/alerts?receiver=team")
        #expect(attachment["color"] as? String == "danger")
        config.title = "{{ .Status | toUpper }} {{ .CommonLabels.alertname }}"
        config.text = "{{ range .Alerts }}{{ .Labels.instance }}: {{ .Annotations.summary }}\n{{ end }}"
        post = try NotifyPayloads.slack(NotificationData(delivery([alert("a", endsAt: notifyT0)], integration: NotifyIntegration(kind: .slack(config), index: 0)), externalURL: ""), config: config)
        object = jsonObject(String(decoding: post.body, as: UTF8.self))
        attachment = try #require((object["attachments"] as? [[String: Any]])?.first)
        #expect(attachment["title"] as? String == "RESOLVED Disk")
        #expect(attachment["text"] as? String == "a: disk full\n")
        #expect(attachment["color"] as? String == "good")
        config.text = "{{ .Nope }}"
        #expect(throws: SightlineError.self) {
            _ = try NotifyPayloads.slack(NotificationData(delivery([alert("a")], integration: NotifyIntegration(kind: .slack(config), index: 0)), externalURL: ""), config: config)
        }
    }

    @Test func discordEmbedAndTeamsMessageCard() throws {
        var discord = DiscordConfig()
        discord.webhookURL = "http://h/discord"
        discord.username = "am"
        let firing = NotificationData(delivery([alert("a"), alert("b")], integration: NotifyIntegration(kind: .discord(discord), index: 0)), externalURL: "http://am")
        var post = try NotifyPayloads.discord(firing, config: discord)
        #expect(post.url == "http://h/discord")
        var object = jsonObject(String(decoding: post.body, as: UTF8.self))
        #expect(object["content"] as? String == "" && object["username"] as? String == "am" && object["avatar_url"] == nil)
        let embed = try #require((object["embeds"] as? [[String: Any]])?.first)
        #expect(embed["title"] as? String == "[FIRING:2] Disk ")
        #expect(embed["color"] as? Int == 0x992D22)
        let description = try #require(embed["description"] as? String)
        #expect(description.hasPrefix("Alerts Firing:\nLabels:\n - alertname = Disk\n - instance = a\n"), "\(description)")
        #expect(description.contains("Source: http://prom/graph") && !description.contains("Resolved"))
        discord.title = String(repeating: "é", count: 300)
        post = try NotifyPayloads.discord(firing, config: discord)
        object = jsonObject(String(decoding: post.body, as: UTF8.self))
        let long = try #require(((object["embeds"] as? [[String: Any]])?.first?["title"]) as? String)
        #expect(long.unicodeScalars.count == 256 && long.hasSuffix("é…"))

        var teams = MSTeamsConfig()
        teams.webhookURL = "https://h/teams"
        let resolved = NotificationData(
            delivery([alert("a", endsAt: notifyT0)], integration: NotifyIntegration(kind: .msTeams(teams), index: 0)), externalURL: "")
        post = try NotifyPayloads.msTeams(resolved, config: teams)
        object = jsonObject(String(decoding: post.body, as: UTF8.self))
        #expect(object["@context"] as? String == "http://schema.org/extensions" && object["type"] as? String == "MessageCard")
        #expect(object["title"] as? String == "[RESOLVED] Disk (a)" && object["summary"] as? String == "[RESOLVED] Disk (a)")
        #expect(object["themeColor"] as? String == "2DC72D")
        let text = try #require(object["text"] as? String)
        #expect(text.hasPrefix("# Alerts Resolved:\n\nLabels:\n  - alertname = Disk\n  - instance = a\n"), "\(text)")
    }

    /// Teams workflows take an Adaptive Card: the title as a red heading while firing, green once resolved.
    @Test func teamsWorkflowAdaptiveCard() throws {
        var config = MSTeamsV2Config()
        config.webhookURL = "https://h/workflow"
        for (alerts, color, status) in [([alert("a"), alert("b")], "Attention", "FIRING:2"), ([alert("a", endsAt: notifyT0)], "Good", "RESOLVED")] {
            let data = NotificationData(delivery(alerts, integration: NotifyIntegration(kind: .msTeamsV2(config), index: 0)), externalURL: "")
            let post = try NotifyPayloads.msTeamsV2(data, config: config)
            #expect(post.url == "https://h/workflow")
            let object = jsonObject(String(decoding: post.body, as: UTF8.self))
            #expect(object["type"] as? String == "message")
            let attachment = try #require((object["attachments"] as? [[String: Any]])?.first)
            #expect(attachment["contentType"] as? String == "application/vnd.microsoft.card.adaptive" && attachment["contentUrl"] is NSNull)
            let card = try #require(attachment["content"] as? [String: Any])
            #expect(card["type"] as? String == "AdaptiveCard" && card["version"] as? String == "1.2")
            #expect((card["msteams"] as? [String: String]) == ["width": "full"])
            let body = try #require(card["body"] as? [[String: Any]])
            #expect(body.count == 2)
            #expect((body[0]["text"] as? String)?.hasPrefix("[\(status)] Disk") == true, "\(body[0])")
            #expect(body[0]["color"] as? String == color && body[0]["style"] as? String == "heading" && body[0]["weight"] as? String == "Bolder")
            #expect((body[1]["text"] as? String)?.contains("Labels:\n  - alertname = Disk\n") == true)
            #expect(body[1]["wrap"] as? Bool == true)
        }
        config.text = "{{ .Nope"
        let data = NotificationData(delivery([alert("a")], integration: NotifyIntegration(kind: .msTeamsV2(config), index: 0)), externalURL: "")
        #expect(throws: SightlineError.self) { try NotifyPayloads.msTeamsV2(data, config: config) }
    }

    /// The query string of a Pushover request, decoded: name → value.
    private func pushoverParameters(_ post: OutboundPost) throws -> [String: String] {
        let query = try #require(URLComponents(string: post.url)?.percentEncodedQuery)
        var parameters: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            parameters[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return parameters
    }

    @Test func pushoverSendsEveryParameterInTheQueryString() throws {
        var config = PushoverConfig()
        config.apiURL = "http://h/1/messages.json"
        config.userKey = "user-{{ .Receiver }}"
        config.token = "app&token"
        config.ttlMs = 90_000
        config.sound = "siren"
        let firing = alert("a")
        let data = NotificationData(
            delivery([firing], integration: NotifyIntegration(kind: .pushover(config), index: 0)), externalURL: "http://sightline")
        let post = try NotifyPayloads.pushover(data, config: config)
        #expect(post.url.hasPrefix("http://h/1/messages.json?") && post.body.isEmpty)
        let parameters = try pushoverParameters(post)
        #expect(parameters["token"] == "app&token" && parameters["user"] == "user-team")
        #expect(parameters["title"] == "[FIRING:1] Disk (a)")
        #expect(parameters["message"]?.hasPrefix("disk full\n\nAlerts Firing:\nLabels:\n - alertname = Disk") == true, "\(parameters["message"] ?? "")")
        #expect(parameters["url"] == "http://sightline/#/alerts?receiver=team" && parameters["url_title"] == "")
        #expect(parameters["priority"] == "2" && parameters["retry"] == "60" && parameters["expire"] == "3600" && parameters["ttl"] == "90")
        #expect(parameters["sound"] == "siren" && parameters["device"] == "" && parameters["html"] == nil && parameters["monospace"] == nil)
        // Parameters come sorted by name, as Go encodes them.
        let names = post.url.split(separator: "?")[1].split(separator: "&").map { String($0.split(separator: "=")[0]) }
        #expect(names == names.sorted())

        // Resolved: normal priority. HTML: values escaped, flag sent. Long texts cut; an empty message is replaced.
        config.html = true
        config.message = "<b>{{ (index .Alerts 0).Annotations.summary }}</b>" + String(repeating: "x", count: 2000)
        config.title = String(repeating: "t", count: 300)
        var resolved = alert("a", endsAt: notifyT0 + 30_000)
        resolved.annotations = Labels(["summary": "a < b"])
        let resolvedData = NotificationData(
            delivery([resolved], integration: NotifyIntegration(kind: .pushover(config), index: 0)), externalURL: "")
        let html = try pushoverParameters(try NotifyPayloads.pushover(resolvedData, config: config))
        #expect(html["priority"] == "0" && html["html"] == "1")
        #expect(html["message"]?.hasPrefix("<b>a &lt; b</b>xx") == true && html["message"]?.unicodeScalars.count == 1024)
        #expect(html["title"]?.unicodeScalars.count == 250 && html["title"]?.hasSuffix("…") == true)
        config.html = false
        config.message = "  {{ if false }}x{{ end }} "
        #expect(try pushoverParameters(try NotifyPayloads.pushover(resolvedData, config: config))["message"] == "(no details)")
        config.priority = "{{ .Nope"
        #expect(throws: SightlineError.self) { try NotifyPayloads.pushover(resolvedData, config: config) }
    }

    @Test func rocketChatPostMessageHasAlertmanagersShape() throws {
        var config = RocketChatConfig()
        config.apiURL = "http://chat.example/"
        config.token = "tok"
        config.tokenID = "uid"
        config.channel = "#ops"
        var field = RocketChatConfig.Field()
        field.title = "instance"
        field.value = "{{ (index .Alerts 0).Labels.instance }}"
        var action = RocketChatConfig.Action()
        action.text = "Runbook"
        action.url = "http://runbook/{{ .GroupLabels.alertname }}"
        config.fields = [field]
        config.actions = [action]
        let data = NotificationData(
            delivery([alert("a")], integration: NotifyIntegration(kind: .rocketChat(config), index: 0)), externalURL: "http://sightline")
        let post = try NotifyPayloads.rocketChat(data, config: config)
        #expect(post.url == "http://chat.example/api/v1/chat.postMessage")
        #expect(post.headers.contains { $0 == ("X-Auth-Token", "tok") } && post.headers.contains { $0 == ("X-User-Id", "uid") })
        let expected = ##"{"channel":"#ops","attachments":[{"title":"[FIRING:1] Disk (a)","title_link":"http://sightline/#/alerts?receiver=team","##
            + ##""color":"red","fields":[{"short":false,"title":"instance","value":"a"}],"actions":[{"type":"button","text":"Runbook","##
            + ##""url":"http://runbook/Disk","is_webview":false,"msg_in_chat_window":false}]}]}"## + "\n"
        #expect(String(decoding: post.body, as: UTF8.self) == expected)
        // Resolved, no channel, no fields: green, and the empty members left out.
        config = RocketChatConfig()
        config.token = "t"
        config.tokenID = "u"
        config.emoji = ":fire:"
        let resolved = NotificationData(
            delivery([alert("a", endsAt: notifyT0 + 30_000)], integration: NotifyIntegration(kind: .rocketChat(config), index: 0)), externalURL: "")
        let body = String(decoding: try NotifyPayloads.rocketChat(resolved, config: config).body, as: UTF8.self)
        #expect(body == ##"{"emoji":":fire:","attachments":[{"title":"[RESOLVED] Disk (a)","title_link":"/#/alerts?receiver=team","color":"green"}]}"## + "\n")
    }

    /// Slack's Web API and Rocket.Chat report errors with a 200: the body decides, as Alertmanager reads it.
    @Test func answersOfA200AreCheckedWhereServicesPutErrorsInThem() throws {
        func problem(_ check: OutboundPost.AnswerCheck, _ body: String) -> (message: String, retry: Bool)? {
            check.problem(in: Array(body.utf8))
        }
        #expect(problem(.slack, "ok") == nil && problem(.slack, #"{"ok":true}"#) == nil && problem(.slack, "") == nil)
        let slack = try #require(problem(.slack, #"{"ok":false,"error":"channel_not_found"}"#))
        #expect(slack.message == "error response from Slack: channel_not_found" && !slack.retry)
        #expect(problem(.rocketChat, #"{"success":true}"#) == nil)
        let refused = try #require(problem(.rocketChat, #"{"success":false,"error":"error-not-allowed"}"#))
        #expect(refused.message == "error response from Rocket.Chat: error-not-allowed" && !refused.retry)
        #expect(problem(.rocketChat, "<html>maintenance</html>")?.retry == true)
        #expect(problem(.status, #"{"ok":false}"#) == nil)
    }

    /// AWS's own worked example of Signature Version 4 (IAM `ListUsers`, 2015-08-30T12:36:00Z, the documentation's
    /// example keys) gives AWS's signature.
    @Test func signatureV4MatchesAWSsExample() {
        let headers = AWSSignatureV4.headers(
            method: "GET", path: "/", query: "Version=2010-05-08&Action=ListUsers",
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Host", "iam.amazonaws.com")], body: [],
            credentials: AWSSignatureV4.Credentials(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "iam", nowMs: 1_440_938_160_000)
        #expect(headers.first { $0.0 == "X-Amz-Date" }?.1 == "20150830T123600Z")
        #expect(
            headers.first { $0.0 == "Authorization" }?.1
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, "
                + "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
        // RFC 4231's first HMAC-SHA256 case.
        #expect(
            Hex.encode(AWSSignatureV4.hmac(key: [UInt8](repeating: 0x0B, count: 20), Array("Hi There".utf8)))
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test func snsPublishIsFormEncodedAndSigned() throws {
        var config = SNSConfig()
        config.region = "eu-west-1"
        config.credentials = AWSSignatureV4.Credentials(accessKey: "AKID", secretKey: "secret", sessionToken: "session")
        config.topicARN = "arn:aws:sns:eu-west-1:123456789012:alerts.fifo"
        config.attributes = [("severity", "{{ .CommonLabels.alertname }}")]
        let data = NotificationData(delivery([alert("a")], integration: NotifyIntegration(kind: .sns(config), index: 0)), externalURL: "")
        let post = try NotifyPayloads.sns(data, config: config, nowMs: 1_795_687_200_000)
        #expect(post.url == "https://sns.eu-west-1.amazonaws.com/")
        var form: [String: String] = [:]
        for pair in String(decoding: post.body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            form[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        #expect(form["Action"] == "Publish" && form["Version"] == "2010-03-31" && form["TopicArn"] == config.topicARN)
        #expect(form["Subject"] == "[FIRING:1] Disk (a)" && form["Message"]?.hasPrefix("disk full\n\nAlerts Firing:") == true)
        #expect(form["MessageDeduplicationId"] == SHA256.hex(data.groupKey) && form["MessageGroupId"] == SHA256.hex(data.groupKey))
        #expect(form["MessageAttributes.entry.1.Name"] == "severity" && form["MessageAttributes.entry.1.Value.StringValue"] == "Disk")
        #expect(form["MessageAttributes.entry.1.Value.DataType"] == "String")
        #expect(post.headers.contains { $0 == ("X-Amz-Date", "20261126T100000Z") } && post.headers.contains { $0 == ("X-Amz-Security-Token", "session") })
        let authorization = try #require(post.headers.first { $0.0 == "Authorization" }?.1)
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKID/20261126/eu-west-1/sns/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="))

        // An SMS is cut at 1,600 bytes on a character boundary and says so in an attribute; no FIFO ids elsewhere.
        config.topicARN = ""
        config.phoneNumber = "+15555550100"
        config.attributes = []
        config.message = String(repeating: "é", count: 1000)
        config.apiURL = "http://127.0.0.1:4566/"
        let sms = try NotifyPayloads.sns(data, config: config, nowMs: 1_795_687_200_000)
        let smsForm = String(decoding: sms.body, as: UTF8.self)
        #expect(sms.url == "http://127.0.0.1:4566/" && smsForm.contains("PhoneNumber=%2B15555550100") && !smsForm.contains("MessageGroupId"))
        #expect(smsForm.contains("MessageAttributes.entry.1.Name=truncated"))
        let message = try #require(smsForm.split(separator: "&").first { $0.hasPrefix("Message=") }?.dropFirst(8))
        #expect(String(message).removingPercentEncoding == String(repeating: "é", count: 800))
    }

    @Test func telegramSendMessageEscapesValuesInHTMLMode() throws {
        var config = TelegramConfig()
        config.apiURL = "http://h/tg/"
        config.botToken = "123:abc"
        config.chatID = -1001
        config.message = #"<b>{{ .Status }}</b> {{ (index .Alerts 0).Annotations.summary }} {{ safeHtml "<i>x</i>" }}"#
        var risky = alert("a")
        risky.annotations = Labels(["summary": "disk <95% & rising + \"fast\""])
        let data = NotificationData(delivery([risky], integration: NotifyIntegration(kind: .telegram(config), index: 0)), externalURL: "")
        var post = try NotifyPayloads.telegram(data, config: config)
        #expect(post.url == "http://h/tg/bot123:abc/sendMessage")
        var object = jsonObject(String(decoding: post.body, as: UTF8.self))
        #expect(object["chat_id"] as? Int == -1001 && object["parse_mode"] as? String == "HTML")
        #expect(object["disable_notification"] as? Bool == false && object["disable_web_page_preview"] as? Bool == true)
        #expect(object["text"] as? String == "<b>firing</b> disk &lt;95% &amp; rising &#43; &#34;fast&#34; <i>x</i>")
        config.parseMode = "MarkdownV2"
        config.messageThreadID = 7
        post = try NotifyPayloads.telegram(data, config: config)
        object = jsonObject(String(decoding: post.body, as: UTF8.self))
        #expect(object["text"] as? String == #"<b>firing</b> disk <95% & rising + "fast" <i>x</i>"#)
        #expect(object["parse_mode"] as? String == "MarkdownV2" && object["message_thread_id"] as? Int == 7)
        config = TelegramConfig()
        config.botToken = "t"
        config.chatID = 5
        post = try NotifyPayloads.telegram(data, config: config)
        object = jsonObject(String(decoding: post.body, as: UTF8.self))
        #expect(post.url == "https://api.telegram.org/bott/sendMessage")
        #expect((object["text"] as? String)?.hasPrefix("Alerts Firing:\nLabels:\n - alertname = Disk\n") == true)
    }

    @Test func pagerDutySummaryIsCutAt1024Characters() throws {
        var config = PagerDutyConfig()
        config.routingKey = "rk"
        config.url = "http://h/pd"
        config.description = String(repeating: "é", count: 2000)
        let data = NotificationData(delivery([alert("a")], integration: NotifyIntegration(kind: .pagerDuty(config), index: 0)), externalURL: "")
        let object = jsonObject(String(decoding: try NotifyPayloads.pagerDuty(data, config: config).body, as: UTF8.self))
        let summary = try #require((object["payload"] as? [String: Any])?["summary"] as? String)
        #expect(summary.unicodeScalars.count == 1024 && summary.hasSuffix("é…"))
    }

    @Test func pagerDutyEventsV2() throws {
        var config = PagerDutyConfig()
        config.routingKey = "rk"
        config.url = "http://h/pd"
        let firingPost = try NotifyPayloads.pagerDuty(NotificationData(delivery([alert("a")], integration: NotifyIntegration(kind: .pagerDuty(config), index: 0)), externalURL: "http://am"), config: config)
        let object = jsonObject(String(decoding: firingPost.body, as: UTF8.self))
        #expect(object["routing_key"] as? String == "rk")
        #expect(object["event_action"] as? String == "trigger")
        #expect(object["dedup_key"] as? String == SHA256.hex(#"{}:{alertname="Disk"}"#))
        #expect(object["client"] as? String == "Alertmanager")
        let payload = try #require(object["payload"] as? [String: Any])
        #expect(payload["summary"] as? String == "[FIRING:1] Disk (a)")
        #expect(payload["source"] as? String == "Alertmanager")
        #expect(payload["severity"] as? String == "error")
        let details = try #require(payload["custom_details"] as? [String: String])
        #expect(details["num_firing"] == "1" && details["num_resolved"] == "0")
        #expect(details["firing"]?.contains(" - instance = a") == true)
        let resolvedPost = try NotifyPayloads.pagerDuty(NotificationData(delivery([alert("a", endsAt: notifyT0)], integration: NotifyIntegration(kind: .pagerDuty(config), index: 0)), externalURL: ""), config: config)
        let resolved = jsonObject(String(decoding: resolvedPost.body, as: UTF8.self))
        #expect(resolved["event_action"] as? String == "resolve")
        #expect(resolved["dedup_key"] as? String == object["dedup_key"] as? String)
    }

    @Test func opsGenieCreatesWhileFiringAndClosesOnceResolved() throws {
        var config = OpsGenieConfig()
        config.apiKey = "key-1"
        config.apiURL = "http://og/"
        config.details = [("runbook", "https://runbooks/{{ .CommonLabels.alertname }}"), ("alertname", "overridden")]
        config.responders = [
            { var r = OpsGenieConfig.Responder(); r.name = "ops, dba"; r.type = "teams"; return r }(),
            { var r = OpsGenieConfig.Responder(); r.username = "{{ .CommonLabels.owner }}"; r.type = "user"; return r }(),
            { var r = OpsGenieConfig.Responder(); r.id = "{{ .CommonLabels.nobody }}"; return r }(),
        ]
        config.tags = "disk, {{ .CommonLabels.alertname }},"
        config.priority = "P2"
        config.note = "<b>note</b>"
        let integration = NotifyIntegration(kind: .opsGenie(config), index: 0)
        let firingRequests = try NotifyPayloads.opsGenie(
            NotificationData(delivery([alert("a"), alert("b")], integration: integration), externalURL: "http://am"), config: config)
        #expect(firingRequests.count == 1)
        let firing = firingRequests[0]
        let alias = SHA256.hex(#"{}:{alertname="Disk"}"#)
        #expect(firing.url == "http://og/v2/alerts")
        #expect(firing.headers.contains { $0 == ("Authorization", "GenieKey key-1") })
        let text = String(decoding: firing.body, as: UTF8.self)
        #expect(text.hasPrefix(#"{"alias":"\#(alias)","message":"[FIRING:2] Disk ","description":"disk full\nAlerts Firing:\nLabels:\n - alertname = Disk\n"#))
        #expect(text.hasSuffix("\n"))
        #expect(text.contains(#""note":"\u003cb\u003enote\u003c/b\u003e""#))  // HTML-safe, as Go's encoder writes it
        let object = jsonObject(text)
        #expect(object["details"] as? [String: String] == ["alertname": "overridden", "runbook": "https://runbooks/Disk"])
        #expect(object["source"] as? String == "http://am/#/alerts?receiver=team")
        #expect(object["tags"] as? [String] == ["disk", " Disk"])
        #expect(object["priority"] as? String == "P2")
        // The teams entry became one responder per team; the one whose fields all rendered empty was left out.
        let responders = try #require(object["responders"] as? [[String: String]])
        #expect(responders == [["name": "ops", "type": "team"], ["name": " dba", "type": "team"], ["type": "user"]])
        #expect(object["visibleTo"] == nil && object["entity"] == nil && object["actions"] == nil)

        let resolved = try NotifyPayloads.opsGenie(
            NotificationData(delivery([alert("a", endsAt: notifyT0)], integration: integration), externalURL: "http://am"), config: config)
        #expect(resolved.map(\.url) == ["http://og/v2/alerts/\(alias)/close?identifierType=alias"])
        #expect(String(decoding: resolved[0].body, as: UTF8.self) == #"{"source":"http://am/#/alerts?receiver=team"}"# + "\n")
    }

    @Test func opsGenieUpdateAlertsPutsTheMessageAndDescriptionAfterTheCreate() throws {
        var config = OpsGenieConfig()
        config.apiKey = "k"
        config.apiURL = "http://og/"
        config.updateAlerts = true
        config.description = ""
        let integration = NotifyIntegration(kind: .opsGenie(config), index: 0)
        let requests = try NotifyPayloads.opsGenie(NotificationData(delivery([alert("a")], integration: integration), externalURL: ""), config: config)
        let alias = SHA256.hex(#"{}:{alertname="Disk"}"#)
        #expect(requests.map(\.url) == [
            "http://og/v2/alerts", "http://og/v2/alerts/\(alias)/message?identifierType=alias",
            "http://og/v2/alerts/\(alias)/description?identifierType=alias",
        ])
        #expect(requests.map(\.method) == [.post, .put, .put])
        #expect(requests.dropFirst().map { String(decoding: $0.body, as: UTF8.self) } == [#"{"message":"[FIRING:1] Disk (a)"}"# + "\n", "{}\n"])
        #expect(requests.allSatisfy { $0.headers.contains { $0 == ("Authorization", "GenieKey k") } })
        // Resolved: only the close.
        let resolved = try NotifyPayloads.opsGenie(
            NotificationData(delivery([alert("a", endsAt: notifyT0)], integration: integration), externalURL: ""), config: config)
        #expect(resolved.count == 1)
    }

    @Test func opsGenieMessageIsCutAt130Characters() throws {
        var config = OpsGenieConfig()
        config.apiKey = "k"
        config.message = String(repeating: "é", count: 200)
        let data = NotificationData(delivery([alert("a")], integration: NotifyIntegration(kind: .opsGenie(config), index: 0)), externalURL: "")
        let message = try #require(jsonObject(String(decoding: try NotifyPayloads.opsGenie(data, config: config)[0].body, as: UTF8.self))["message"] as? String)
        #expect(message.unicodeScalars.count == 130 && message.hasSuffix("é…"))
    }

    @Test func victorOpsEventWithSortedFieldsAndRecovery() throws {
        var config = VictorOpsConfig()
        config.apiKey = "api-1"
        config.apiURL = "http://vo/alert/"
        config.routingKey = "team-{{ .CommonLabels.alertname }}"
        config.messageType = "{{ .CommonLabels.severity }}"
        config.customFields = [("runbook", "http://rb/{{ .CommonLabels.alertname }}")]
        let integration = NotifyIntegration(kind: .victorOps(config), index: 0)
        let firing = try NotifyPayloads.victorOps(
            NotificationData(delivery([alert("a")], integration: integration), externalURL: "http://am"), config: config)
        #expect(firing.url == "http://vo/alert/api-1/team-Disk")
        let text = String(decoding: firing.body, as: UTF8.self)
        let entity = SHA256.hex(#"{}:{alertname="Disk"}"#)
        // No severity label: the message type renders empty and is sent as CRITICAL. Keys sorted, as Go writes a map.
        #expect(text.hasPrefix(#"{"entity_display_name":"[FIRING:1] Disk (a)","entity_id":"\#(entity)","message_type":"CRITICAL","monitoring_tool":"Alertmanager","runbook":"http://rb/Disk","state_message":"disk full\nAlerts Firing:\n"#))
        #expect(text.hasSuffix("}\n"))
        let resolved = try NotifyPayloads.victorOps(
            NotificationData(delivery([alert("a", endsAt: notifyT0)], integration: integration), externalURL: "http://am"), config: config)
        let object = jsonObject(String(decoding: resolved.body, as: UTF8.self))
        #expect(object["message_type"] as? String == "RECOVERY" && object["entity_id"] as? String == entity)
        #expect((object["state_message"] as? String)?.contains("Alerts Resolved:") == true)
    }

    @Test func webexMarkdownToARoomCutAtItsByteLimit() throws {
        var config = WebexConfig()
        config.apiURL = "http://wx/v1/messages"
        config.roomID = "room-{{ .CommonLabels.alertname }}"
        config.authorization = "Bearer bot-token"
        let integration = NotifyIntegration(kind: .webex(config), index: 0)
        let post = try NotifyPayloads.webex(NotificationData(delivery([alert("a")], integration: integration), externalURL: ""), config: config)
        #expect(post.url == "http://wx/v1/messages")
        #expect(post.headers.contains { $0 == ("Authorization", "Bearer bot-token") })
        let object = jsonObject(String(decoding: post.body, as: UTF8.self))
        #expect(object["roomId"] as? String == "room-Disk")
        #expect((object["markdown"] as? String)?.hasPrefix("disk full\n\nAlerts Firing:\nLabels:\n") == true)

        config.message = String(repeating: "é", count: 5000)  // 10,000 bytes
        let long = try NotifyPayloads.webex(NotificationData(delivery([alert("a")], integration: integration), externalURL: ""), config: config)
        let markdown = try #require(jsonObject(String(decoding: long.body, as: UTF8.self))["markdown"] as? String)
        #expect(markdown.utf8.count == 7439 && markdown.hasSuffix("é…"))  // 3,718 whole é (7,436 bytes) and the marker
    }

    @Test func emailHeadersAndParts() throws {
        var config = EmailConfig()
        config.to = "Ops <ops@example.org>, dba@example.org"
        config.from = "am@example.org"
        config.smarthost = "127.0.0.1:25"
        config.text = "{{ range .Alerts }}{{ .Labels.instance }} {{ end }}"
        config.headers = [("Subject", "Alarm: {{ .CommonLabels.alertname }} ✓")]
        let data = NotificationData(delivery([alert("a")], integration: NotifyIntegration(kind: .email(config), index: 0)), externalURL: "http://am")
        let message = try NotifyEmail.message(data, config: config, nowMs: notifyT0, messageID: "1.2@sightline")
        #expect(message.from == "am@example.org")
        #expect(message.recipients == ["ops@example.org", "dba@example.org"])
        #expect(message.data.contains("To: Ops <ops@example.org>, dba@example.org\r\n"))
        #expect(message.data.contains("Subject: =?UTF-8?b?\(Base64.encode(Array("Alarm: Disk ✓".utf8)))?=\r\n"))
        #expect(message.data.contains("Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"))
        #expect(message.data.contains("Message-Id: <1.2@sightline>\r\n"))
        #expect(message.data.contains("Content-Type: multipart/alternative; boundary="))
        #expect(message.data.contains("Content-Type: text/plain; charset=UTF-8"))
        #expect(message.data.contains("Content-Type: text/html; charset=UTF-8"))
        #expect(message.data.contains(Base64.encode(Array("a ".utf8))))
    }

    /// The HTML body is rendered as Alertmanager renders it, with html/template: values escaped once (also where the
    /// template already pipes them to `html`), the template's own markup kept.
    @Test func emailHTMLEscapesValuesOnce() throws {
        var config = EmailConfig()
        config.to = "ops@example.org"
        config.from = "am@example.org"
        config.smarthost = "127.0.0.1:25"
        var risky = alert("<b>a</b>")
        risky.annotations = Labels(["summary": "x & y"])
        let data = NotificationData(delivery([risky], integration: NotifyIntegration(kind: .email(config), index: 0)), externalURL: "http://am")
        func body(_ message: EmailMessage) -> String {
            let parts = message.data.components(separatedBy: "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
            let encoded = parts.last?.components(separatedBy: "\r\n--").first?.replacingOccurrences(of: "\r\n", with: "") ?? ""
            return String(decoding: Base64.decode(encoded) ?? [], as: UTF8.self)
        }
        let html = body(try NotifyEmail.message(data, config: config, nowMs: notifyT0, messageID: "1@s"))
        #expect(html.contains("instance = &lt;b&gt;a&lt;/b&gt;<br>"), "\(html)")
        #expect(html.contains("summary = x &amp; y<br>") && html.contains("<h2>[1] Firing</h2>"))
        config.html = "<p>{{ (index .Alerts 0).Labels.instance }} {{ (index .Alerts 0).Annotations.summary | html }} {{ safeHtml \"<i>ok</i>\" }}</p>"
        #expect(body(try NotifyEmail.message(data, config: config, nowMs: notifyT0, messageID: "1@s"))
            == "<p>&lt;b&gt;a&lt;/b&gt; x &amp; y <i>ok</i></p>")
    }
}
