import Foundation
package import SightlineCore
import SightlineQuery

/// A notification's content, shared by every integration: Alertmanager's template data for one group.
package struct NotificationData: Sendable {
    package var receiver: String
    package var status: String
    package var alerts: [StoredAlert]
    package var groupKey: String
    package var groupLabels: Labels
    package var commonLabels: Labels
    package var commonAnnotations: Labels
    package var externalURL: String
    /// When alert states were taken.
    package var nowMs: Int64
    /// The named templates the receiver's templates may call.
    package var templates: NotifyTemplateLibrary

    /// The data of a delivery.
    package init(_ delivery: Delivery, externalURL: String, templates: NotifyTemplateLibrary = .defaults) {
        self.templates = templates
        receiver = delivery.receiver
        alerts = delivery.alerts
        nowMs = delivery.flushedAtMs
        status = delivery.alerts.contains { !$0.isResolved(atMs: delivery.flushedAtMs) } ? "firing" : "resolved"
        groupKey = delivery.groupKey
        groupLabels = delivery.groupLabels
        commonLabels = Self.common(delivery.alerts.map(\.labels))
        commonAnnotations = Self.common(delivery.alerts.map(\.annotations))
        self.externalURL = externalURL
    }

    /// The labels every set has with the same value.
    static func common(_ sets: [Labels]) -> Labels {
        guard var result = sets.first?.labels else { return Labels([]) }
        for set in sets.dropFirst() { result = result.filter { set[$0.name] == $0.value } }
        return Labels(result)
    }

    /// The status of one alert: `firing` or `resolved`.
    func status(of alert: StoredAlert) -> String { alert.isResolved(atMs: nowMs) ? "resolved" : "firing" }

    /// The end Alertmanager exposes: none while firing.
    func exposedEnd(of alert: StoredAlert) -> Int64? { alert.isResolved(atMs: nowMs) ? alert.endsAtMs : nil }

    /// The template data (`.Status`, `.Alerts`, `.GroupLabels`, …).
    package var templateValue: NotifyTemplateValue {
        func kv(_ labels: Labels) -> NotifyTemplateValue { .kv(labels.labels.map { ($0.name, $0.value) }) }
        func list(_ alerts: [StoredAlert]) -> NotifyTemplateValue {
            let values = alerts.map { alert -> NotifyTemplateValue in
                .object([
                    "Status": .string(status(of: alert)),
                    "Labels": kv(alert.labels),
                    "Annotations": kv(alert.annotations),
                    "StartsAt": .time(GoTime.Instant(milliseconds: alert.startsAtMs), .utc),
                    "EndsAt": .time(exposedEnd(of: alert).map(GoTime.Instant.init(milliseconds:)) ?? .zero, .utc),
                    "GeneratorURL": .string(alert.generatorURL),
                    "Fingerprint": .string(AlertFingerprint.text(alert.fingerprint)),
                ])
            }
            return .list(values, fields: [:])
        }
        let firing = alerts.filter { !$0.isResolved(atMs: nowMs) }
        let resolved = alerts.filter { $0.isResolved(atMs: nowMs) }
        guard case .list(let all, _) = list(alerts) else { return .null }
        return .object([
            "Receiver": .string(receiver),
            "Status": .string(status),
            "Alerts": .list(all, fields: ["Firing": list(firing), "Resolved": list(resolved)]),
            "GroupLabels": kv(groupLabels),
            "CommonLabels": kv(commonLabels),
            "CommonAnnotations": kv(commonAnnotations),
            "ExternalURL": .string(externalURL),
        ])
    }

    /// Renders a configured template, naming the integration and field when it fails.
    func render(_ template: String, field: String, html: Bool = false) throws -> String {
        do { return try NotifyTemplate.render(template, templateValue, library: templates, now: GoTime.Instant(milliseconds: nowMs), html: html) } catch {
            throw SightlineError(.configuration, "template for \(field) of receiver \(receiver) failed: \(error)")
        }
    }
}

/// An HTTP POST a receiver makes.
package struct OutboundPost: Sendable {
    package var url: String
    package var headers: [(String, String)]
    package var body: [UInt8]
    /// The receiver's `tls_config`, for https.
    package var tls: NotifyTLSOptions?
    /// The HTTP method: `POST`, or `PUT` (Opsgenie's and Jira's updates) or `GET` (Jira's transitions).
    package var method = Method.post
    /// What else than a 2xx status the answer must say for the notification to count as delivered.
    package var answer = AnswerCheck.status
    package init(
        url: String, headers: [(String, String)], body: [UInt8], tls: NotifyTLSOptions? = nil, method: Method = .post, answer: AnswerCheck = .status
    ) {
        self.url = url
        self.headers = headers
        self.body = body
        self.tls = tls
        self.method = method
        self.answer = answer
    }

    package enum Method: String, Sendable {
        case post = "POST", put = "PUT", get = "GET"
    }

    /// How a 2xx answer's body is read, for services that report errors with a 200.
    package enum AnswerCheck: Sendable {
        /// The status says it all.
        case status
        /// Slack's Web API: a JSON body with `"ok": false` is an error, named by its `error` (webhooks answer `ok`).
        case slack
        /// Rocket.Chat: the JSON body must say `"success": true`; one that is not JSON is retried.
        case rocketChat

        /// The failure a 2xx `body` reports, if any, and whether to retry it.
        package func problem(in body: [UInt8]) -> (message: String, retry: Bool)? {
            switch self {
            case .status:
                return nil
            case .slack:
                guard body.first == UInt8(ascii: "{"),
                    let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], object["ok"] as? Bool == false
                else { return nil }
                return ("error response from Slack: \(object["error"] as? String ?? "")", false)
            case .rocketChat:
                guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
                    return ("could not read Rocket.Chat's answer as JSON: \(String(decoding: body.prefix(200), as: UTF8.self))", true)
                }
                guard object["success"] as? Bool == true else {
                    return ("error response from Rocket.Chat: \(object["error"] as? String ?? "")", false)
                }
                return nil
            }
        }
    }
}

/// The request bodies of the HTTP receivers, as Alertmanager 0.25 writes them.
package enum NotifyPayloads {
    /// Webhook JSON version 4; with `max_alerts`, the rest are counted in `truncatedAlerts`.
    package static func webhook(_ data: NotificationData, config: WebhookConfig) -> OutboundPost {
        var alerts = data.alerts
        var truncated = 0
        if config.maxAlerts > 0, alerts.count > config.maxAlerts {
            truncated = alerts.count - config.maxAlerts
            alerts = Array(alerts.prefix(config.maxAlerts))
        }
        var out = "{\"receiver\":" + JSONText.quoted(data.receiver) + ",\"status\":" + JSONText.quoted(data.status) + ",\"alerts\":["
        for (index, alert) in alerts.enumerated() {
            if index > 0 { out += "," }
            out += "{\"status\":" + JSONText.quoted(data.status(of: alert)) + ",\"labels\":"
            JSONText.appendLabels(alert.labels, to: &out)
            out += ",\"annotations\":"
            JSONText.appendLabels(alert.annotations, to: &out)
            out += ",\"startsAt\":" + JSONText.quoted(NotifyRFC3339.format(ms: alert.startsAtMs))
            out += ",\"endsAt\":" + JSONText.quoted(NotifyRFC3339.format(optionalMs: data.exposedEnd(of: alert)))
            out += ",\"generatorURL\":" + JSONText.quoted(alert.generatorURL)
            out += ",\"fingerprint\":" + JSONText.quoted(AlertFingerprint.text(alert.fingerprint)) + "}"
        }
        out += "],\"groupLabels\":"
        JSONText.appendLabels(data.groupLabels, to: &out)
        out += ",\"commonLabels\":"
        JSONText.appendLabels(data.commonLabels, to: &out)
        out += ",\"commonAnnotations\":"
        JSONText.appendLabels(data.commonAnnotations, to: &out)
        out += ",\"externalURL\":" + JSONText.quoted(data.externalURL)
        out += ",\"version\":\"4\",\"groupKey\":" + JSONText.quoted(data.groupKey) + ",\"truncatedAlerts\":\(truncated)}"
        var headers = [("Content-Type", "application/json"), ("User-Agent", "Alertmanager/0.25.0")]
        if let authorization = config.authorization { headers.append(("Authorization", authorization)) }
        return OutboundPost(url: config.url, headers: headers, body: Array(out.utf8), tls: config.tls)
    }

    /// A Slack incoming-webhook message with one attachment.
    /// - Throws: `configuration` when a template fails.
    package static func slack(_ data: NotificationData, config: SlackConfig) throws -> OutboundPost {
        let title = try data.render(config.title, field: "slack title")
        let titleLink = try data.render(config.titleLink, field: "slack title_link")
        let fallback = try data.render(#"{{ template "slack.default.fallback" . }}"#, field: "slack fallback")
        var out = "{"
        if !config.channel.isEmpty { out += "\"channel\":" + JSONText.quoted(try data.render(config.channel, field: "slack channel")) + "," }
        out += "\"username\":" + JSONText.quoted(try data.render(config.username, field: "slack username"))
        out += ",\"attachments\":[{\"title\":" + JSONText.quoted(title)
        out += ",\"title_link\":" + JSONText.quoted(titleLink)
        out += ",\"text\":" + JSONText.quoted(try data.render(config.text, field: "slack text"))
        out += ",\"fallback\":" + JSONText.quoted(fallback)
        out += ",\"color\":" + JSONText.quoted(try data.render(config.color, field: "slack color"))
        out += ",\"mrkdwn_in\":[\"fallback\",\"pretext\",\"text\"]}]}"
        return OutboundPost(
            url: config.apiURL, headers: [("Content-Type", "application/json")], body: Array(out.utf8), tls: config.tls, answer: .slack)
    }

    /// A Discord webhook message: one embed with the title (at most 256 characters), the message (4,096) and
    /// Discord's red or green; `content` (2,000) above it. Longer texts end in `…`.
    /// - Throws: `configuration` when a template fails.
    package static func discord(_ data: NotificationData, config: DiscordConfig) throws -> OutboundPost {
        let title = truncated(try data.render(config.title, field: "discord title"), to: 256)
        let description = truncated(try data.render(config.message, field: "discord message"), to: 4096)
        let content = truncated(try data.render(config.content, field: "discord content"), to: 2000)
        var out = "{\"content\":" + JSONText.quoted(content)
        out += ",\"embeds\":[{\"title\":" + JSONText.quoted(title) + ",\"description\":" + JSONText.quoted(description)
        out += ",\"color\":\(data.status == "firing" ? 0x992D22 : 0x2ECC71)}]"
        if !config.username.isEmpty { out += ",\"username\":" + JSONText.quoted(config.username) }
        if !config.avatarURL.isEmpty { out += ",\"avatar_url\":" + JSONText.quoted(config.avatarURL) }
        out += "}"
        return OutboundPost(url: config.webhookURL, headers: [("Content-Type", "application/json")], body: Array(out.utf8), tls: config.tls)
    }

    /// A Microsoft Teams connector `MessageCard`: title, summary, Markdown text, and red or green as the theme.
    /// - Throws: `configuration` when a template fails.
    package static func msTeams(_ data: NotificationData, config: MSTeamsConfig) throws -> OutboundPost {
        var out = "{\"@context\":\"http://schema.org/extensions\",\"type\":\"MessageCard\""
        out += ",\"title\":" + JSONText.quoted(try data.render(config.title, field: "msteams title"))
        out += ",\"summary\":" + JSONText.quoted(try data.render(config.summary, field: "msteams summary"))
        out += ",\"text\":" + JSONText.quoted(try data.render(config.text, field: "msteams text"))
        out += ",\"themeColor\":" + JSONText.quoted(data.status == "firing" ? "8C1A1A" : "2DC72D") + "}"
        return OutboundPost(url: config.webhookURL, headers: [("Content-Type", "application/json")], body: Array(out.utf8), tls: config.tls)
    }

    /// A Microsoft Teams workflow message: one Adaptive Card (1.2, full width) with the title as a heading, red
    /// (`Attention`) while an alert fires and green (`Good`) once all are resolved, and the Markdown text below it.
    /// - Throws: `configuration` when a template fails.
    package static func msTeamsV2(_ data: NotificationData, config: MSTeamsV2Config) throws -> OutboundPost {
        let title = try data.render(config.title, field: "msteamsv2 title")
        let text = try data.render(config.text, field: "msteamsv2 text")
        var out = "{\"type\":\"message\",\"attachments\":[{\"contentType\":\"application/vnd.microsoft.card.adaptive\",\"contentUrl\":null"
        out += ",\"content\":{\"$schema\":\"http://adaptivecards.io/schemas/adaptive-card.json\",\"type\":\"AdaptiveCard\",\"version\":\"1.2\""
        out += ",\"body\":[{\"type\":\"TextBlock\",\"text\":" + JSONText.quoted(title)
        out += ",\"weight\":\"Bolder\",\"size\":\"Medium\",\"wrap\":true,\"style\":\"heading\",\"color\":"
        out += data.status == "firing" ? "\"Attention\"" : "\"Good\""
        out += "},{\"type\":\"TextBlock\",\"text\":" + JSONText.quoted(text) + ",\"wrap\":true}],\"msteams\":{\"width\":\"full\"}}}]}"
        return OutboundPost(url: config.webhookURL, headers: [("Content-Type", "application/json")], body: Array(out.utf8), tls: config.tls)
    }

    /// A Telegram bot's `sendMessage` to the chat: the message (at most 4,096 characters) in the parse mode, without
    /// a link preview. In HTML mode values are escaped as html/template escapes them, as Alertmanager renders it.
    /// - Throws: `configuration` when a template fails.
    package static func telegram(_ data: NotificationData, config: TelegramConfig) throws -> OutboundPost {
        let text = truncated(try data.render(config.message, field: "telegram message", html: config.parseMode == "HTML"), to: 4096)
        var out = "{\"chat_id\":\(config.chatID),\"text\":" + JSONText.quoted(text)
        if !config.parseMode.isEmpty { out += ",\"parse_mode\":" + JSONText.quoted(config.parseMode) }
        out += ",\"disable_notification\":\(config.disableNotifications),\"disable_web_page_preview\":true"
        if config.messageThreadID != 0 { out += ",\"message_thread_id\":\(config.messageThreadID)" }
        out += "}"
        let base = config.apiURL.hasSuffix("/") ? String(config.apiURL.dropLast()) : config.apiURL
        return OutboundPost(
            url: base + "/bot" + config.botToken + "/sendMessage", headers: [("Content-Type", "application/json")], body: Array(out.utf8),
            tls: config.tls)
    }

    /// A Pushover message, as Alertmanager sends it: every parameter in the query string of an empty `POST` — token,
    /// user, title (at most 250 characters), message (at most 1,024, trimmed, `(no details)` when empty; HTML-escaped
    /// values with `html`), supplementary url (at most 512) and its title, priority, retry and expire (seconds),
    /// device, sound, ttl when set, and `html=1` or `monospace=1`.
    /// - Throws: `configuration` when a template fails.
    package static func pushover(_ data: NotificationData, config: PushoverConfig) throws -> OutboundPost {
        func text(_ template: String, _ field: String) throws -> String { try data.render(template, field: "pushover \(field)") }
        var parameters: [(String, String)] = [
            ("token", try text(config.token, "token")), ("user", try text(config.userKey, "user_key")),
            ("title", truncated(try text(config.title, "title"), to: 250)),
        ]
        if config.html { parameters.append(("html", "1")) }
        if config.monospace { parameters.append(("monospace", "1")) }
        var message = truncated(try data.render(config.message, field: "pushover message", html: config.html), to: 1024)
        message = message.trimmingCharacters(in: .whitespacesAndNewlines)
        parameters.append(("message", message.isEmpty ? "(no details)" : message))
        parameters += [
            ("url", truncated(try text(config.url, "url"), to: 512)), ("url_title", try text(config.urlTitle, "url_title")),
            ("priority", try text(config.priority, "priority")), ("retry", String(config.retryMs / 1000)),
            ("expire", String(config.expireMs / 1000)), ("device", try text(config.device, "device")),
            ("sound", try text(config.sound, "sound")),
        ]
        if config.ttlMs >= 1000 { parameters.append(("ttl", String(config.ttlMs / 1000))) }
        // Sorted by name, as Go's url.Values encodes them.
        let query = PercentEncoding.form(parameters.sorted { $0.0 < $1.0 }, spaceAsPlus: true)
        return OutboundPost(url: config.apiURL + "?" + query, headers: [("Content-Type", "text/plain")], body: [], tls: config.tls)
    }

    /// A Rocket.Chat `chat.postMessage`, as Alertmanager sends it: the channel, emoji and avatar, and one attachment
    /// with the title (at most 1,024 characters), its link, the text, image and thumbnail URLs, the color, the fields
    /// and the buttons; empty texts left out as Go leaves out empty fields. The token and user id go in
    /// `X-Auth-Token` and `X-User-Id`.
    /// - Throws: `configuration` when a template fails.
    package static func rocketChat(_ data: NotificationData, config: RocketChatConfig) throws -> OutboundPost {
        func text(_ template: String, _ field: String) throws -> String { try data.render(template, field: "rocketchat \(field)") }
        /// `{…}` of the members whose value is not empty (a value is written JSON, a string's quoted).
        func object(_ members: [(String, String?)]) -> String {
            "{" + members.compactMap { name, json in json.map { JSONText.quoted(name) + ":" + $0 } }.joined(separator: ",") + "}"
        }
        func string(_ value: String) -> String? { value.isEmpty ? nil : JSONText.quoted(value) }
        let fields = try config.fields.map { field in
            object([
                ("short", String(field.short ?? config.shortFields)), ("title", string(try text(field.title, "field title"))),
                ("value", string(try text(field.value, "field value"))),
            ])
        }
        let actions = try config.actions.map { action in
            object([
                ("type", "\"button\""), ("text", string(try text(action.text, "action text"))), ("url", string(try text(action.url, "action url"))),
                ("is_webview", "false"), ("msg", string(try text(action.msg, "action msg"))), ("msg_in_chat_window", "false"),
            ])
        }
        let attachment = object([
            ("title", string(truncated(try text(config.title, "title"), to: 1024))), ("title_link", string(try text(config.titleLink, "title_link"))),
            ("text", string(try text(config.text, "text"))), ("image_url", string(try text(config.imageURL, "image_url"))),
            ("thumb_url", string(try text(config.thumbURL, "thumb_url"))), ("color", string(try text(config.color, "color"))),
            ("fields", fields.isEmpty ? nil : "[" + fields.joined(separator: ",") + "]"),
            ("actions", actions.isEmpty ? nil : "[" + actions.joined(separator: ",") + "]"),
        ])
        let message = object([
            ("channel", string(try text(config.channel, "channel"))), ("emoji", string(try text(config.emoji, "emoji"))),
            ("avatar", string(try text(config.iconURL, "icon_url"))), ("attachments", "[" + attachment + "]"),
        ])
        return OutboundPost(
            url: config.apiURL + "api/v1/chat.postMessage",
            headers: [("Content-Type", "application/json"), ("X-Auth-Token", config.token), ("X-User-Id", config.tokenID)],
            body: Array((message + "\n").utf8), tls: config.tls, answer: .rocketChat)
    }

    /// An Amazon SNS `Publish` (the query protocol, form-encoded), as Alertmanager's SDK call makes it: the topic,
    /// phone number or target, the message (cut at 256 KiB, or 1,600 bytes for an SMS, with a `truncated` attribute
    /// then), the subject, the message attributes as Strings, and for a FIFO topic (`….fifo`) the group key's SHA-256
    /// as deduplication id and group id. Signed with Signature Version 4 at `nowMs`.
    /// - Throws: `configuration` when a template fails or the endpoint is not a URL.
    package static func sns(_ data: NotificationData, config: SNSConfig, nowMs: Int64) throws -> OutboundPost {
        func text(_ template: String, _ field: String) throws -> String { try data.render(template, field: "sns \(field)") }
        var parameters: [(String, String)] = [("Action", "Publish"), ("Version", "2010-03-31")]
        var limit = 256 * 1024
        if !config.topicARN.isEmpty {
            let topic = try text(config.topicARN, "topic_arn")
            parameters.append(("TopicArn", topic))
            if topic.hasSuffix(".fifo") {
                parameters += [("MessageDeduplicationId", SHA256.hex(data.groupKey)), ("MessageGroupId", SHA256.hex(data.groupKey))]
            }
        }
        if !config.phoneNumber.isEmpty {
            parameters.append(("PhoneNumber", try text(config.phoneNumber, "phone_number")))
            limit = 1600
        }
        if !config.targetARN.isEmpty { parameters.append(("TargetArn", try text(config.targetARN, "target_arn"))) }
        var attributes = try config.attributes.map { (try text($0.0, "attribute name"), try text($0.1, "attribute value")) }
        var message = Array(try text(config.message, "message").utf8)
        if message.count > limit {
            // Cut before the character the limit falls in (Alertmanager cuts the bytes; SNS wants UTF-8).
            var end = limit
            while end > 0 && message[end] & 0xC0 == 0x80 { end -= 1 }
            message = Array(message[..<end])
            attributes.append(("truncated", "true"))
        }
        parameters.append(("Message", String(decoding: message, as: UTF8.self)))
        if !config.subject.isEmpty { parameters.append(("Subject", try text(config.subject, "subject"))) }
        for (index, attribute) in attributes.enumerated() {
            let entry = "MessageAttributes.entry.\(index + 1)."
            parameters += [(entry + "Name", attribute.0), (entry + "Value.DataType", "String"), (entry + "Value.StringValue", attribute.1)]
        }
        let body = Array(PercentEncoding.form(parameters).utf8)
        let target: NotifyHTTPClient.Target
        do {
            target = try NotifyHTTPClient.Target(url: config.endpoint)
        } catch {
            throw SightlineError(.configuration, "sns endpoint \(config.endpoint) is not a URL", cause: error)
        }
        let path = String(target.pathAndQuery.prefix { $0 != "?" })
        let query = target.pathAndQuery.contains("?") ? String(target.pathAndQuery.drop { $0 != "?" }.dropFirst()) : ""
        let contentType = ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        let signature = AWSSignatureV4.headers(
            method: "POST", path: path, query: query, headers: [contentType, ("Host", target.hostHeader)], body: body,
            credentials: config.credentials, region: config.region, service: "sns", nowMs: nowMs)
        return OutboundPost(url: config.endpoint, headers: [contentType] + signature, body: body, tls: config.tls)
    }

    /// `text` cut to at most `limit` characters, the last one `…` when cut (Alertmanager's `TruncateInRunes`).
    static func truncated(_ text: String, to limit: Int) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return text }
        return String(String.UnicodeScalarView(scalars.prefix(limit - 1))) + "…"
    }

    /// An Opsgenie Alert API v2 request, as Alertmanager sends it: while anything fires, `POST v2/alerts` creating (or,
    /// Opsgenie folding by alias, repeating) the group's alert — message (at most 130 characters), description,
    /// details (the common labels, then `details`), source, responders (a `teams` entry split into one per team),
    /// visible-to, tags and actions (comma-separated), note, priority, entity; once everything resolved,
    /// `POST v2/alerts/<alias>/close?identifierType=alias`. With `update_alerts`, the create is followed by
    /// `PUT v2/alerts/<alias>/message` and `…/description` (`identifierType=alias`), so an alert Opsgenie already has
    /// shows the group as it is now. The alias is the SHA-256 of the group key; the key goes in
    /// `Authorization: GenieKey <key>`.
    /// - Throws: `configuration` when a template fails.
    package static func opsGenie(_ data: NotificationData, config: OpsGenieConfig) throws -> [OutboundPost] {
        let alias = SHA256.hex(data.groupKey)
        let source = try data.render(config.source, field: "opsgenie source")
        let headers = [
            ("Content-Type", "application/json"),
            ("Authorization", "GenieKey " + (try data.render(config.apiKey, field: "opsgenie api_key")).trimmingCharacters(in: .whitespacesAndNewlines)),
        ]
        // Go's encoder: HTML-safe strings, a newline after the value.
        func quoted(_ text: String) -> String { JSONText.quoted(text, htmlSafe: true) }
        if data.status != "firing" {
            let body = "{\"source\":" + quoted(source) + "}\n"
            return [
                OutboundPost(
                    url: config.apiURL + "v2/alerts/\(alias)/close?identifierType=alias", headers: headers, body: Array(body.utf8), tls: config.tls)
            ]
        }
        var details: [String: String] = [:]
        for label in data.commonLabels.labels { details[label.name] = label.value }
        for (name, template) in config.details { details[name] = try data.render(template, field: "opsgenie details.\(name)") }
        func list(_ template: String, _ field: String) throws -> [String] {
            try data.render(template, field: field).trimmingCharacters(in: .whitespaces).split(separator: ",", omittingEmptySubsequences: true).map(String.init)
        }
        func people(_ entries: [OpsGenieConfig.Responder], _ field: String) throws -> [OpsGenieConfig.Responder] {
            var result: [OpsGenieConfig.Responder] = []
            for entry in entries {
                var one = OpsGenieConfig.Responder()
                one.id = try data.render(entry.id, field: "opsgenie \(field).id")
                one.name = try data.render(entry.name, field: "opsgenie \(field).name")
                one.username = try data.render(entry.username, field: "opsgenie \(field).username")
                one.type = try data.render(entry.type, field: "opsgenie \(field).type")
                if one.id.isEmpty && one.name.isEmpty && one.username.isEmpty && one.type.isEmpty { continue }
                if one.type == "teams" {
                    for team in one.name.trimmingCharacters(in: .whitespaces).split(separator: ",") {
                        var member = OpsGenieConfig.Responder()
                        member.name = String(team)
                        member.type = "team"
                        result.append(member)
                    }
                    continue
                }
                result.append(one)
            }
            return result
        }
        func append(_ entries: [OpsGenieConfig.Responder], _ key: String, to out: inout String) {
            guard !entries.isEmpty else { return }
            out += ",\"\(key)\":["
            for (index, entry) in entries.enumerated() {
                if index > 0 { out += "," }
                out += "{"
                if !entry.id.isEmpty { out += "\"id\":" + quoted(entry.id) + "," }
                if !entry.name.isEmpty { out += "\"name\":" + quoted(entry.name) + "," }
                if !entry.username.isEmpty { out += "\"username\":" + quoted(entry.username) + "," }
                out += "\"type\":" + quoted(entry.type) + "}"
            }
            out += "]"
        }
        func appendList(_ values: [String], _ key: String, to out: inout String) {
            guard !values.isEmpty else { return }
            out += ",\"\(key)\":[" + values.map(quoted).joined(separator: ",") + "]"
        }
        func appendText(_ value: String, _ key: String, to out: inout String) {
            if !value.isEmpty { out += ",\"\(key)\":" + quoted(value) }
        }
        let message = truncated(try data.render(config.message, field: "opsgenie message"), to: 130)
        let description = try data.render(config.description, field: "opsgenie description")
        var out = "{\"alias\":" + quoted(alias)
        out += ",\"message\":" + quoted(message)
        appendText(description, "description", to: &out)
        out += ",\"details\":{" + details.sorted { $0.key < $1.key }.map { quoted($0.key) + ":" + quoted($0.value) }.joined(separator: ",") + "}"
        out += ",\"source\":" + quoted(source)
        append(try people(config.responders, "responders"), "responders", to: &out)
        append(try people(config.visibleTo, "visible_to"), "visibleTo", to: &out)
        appendList(try list(config.tags, "opsgenie tags"), "tags", to: &out)
        appendText(try data.render(config.note, field: "opsgenie note"), "note", to: &out)
        appendText(try data.render(config.priority, field: "opsgenie priority"), "priority", to: &out)
        appendText(try data.render(config.entity, field: "opsgenie entity"), "entity", to: &out)
        appendList(try list(config.actions, "opsgenie actions"), "actions", to: &out)
        out += "}\n"
        var requests = [OutboundPost(url: config.apiURL + "v2/alerts", headers: headers, body: Array(out.utf8), tls: config.tls)]
        if config.updateAlerts {
            for (field, value) in [("message", message), ("description", description)] {
                let body = value.isEmpty ? "{}\n" : "{\"\(field)\":" + quoted(value) + "}\n"
                requests.append(OutboundPost(
                    url: config.apiURL + "v2/alerts/\(alias)/\(field)?identifierType=alias", headers: headers, body: Array(body.utf8), tls: config.tls,
                    method: .put))
            }
        }
        return requests
    }

    /// A Webex message: `{"markdown": …, "roomId": …}` (the message cut to 7,439 bytes, as Webex allows), with the
    /// configured `Authorization`.
    /// - Throws: `configuration` when a template fails.
    package static func webex(_ data: NotificationData, config: WebexConfig) throws -> OutboundPost {
        let message = truncated(try data.render(config.message, field: "webex message"), toBytes: 7439)
        let roomID = try data.render(config.roomID, field: "webex room_id")
        var body = "{\"markdown\":" + JSONText.quoted(message, htmlSafe: true)
        if !roomID.isEmpty { body += ",\"roomId\":" + JSONText.quoted(roomID, htmlSafe: true) }
        body += "}\n"
        return OutboundPost(
            url: config.apiURL, headers: [("Content-Type", "application/json"), ("Authorization", config.authorization)], body: Array(body.utf8),
            tls: config.tls)
    }

    /// `text` in at most `limit` UTF-8 bytes: whole characters, then `…` when something was cut.
    static func truncated(_ text: String, toBytes limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        guard limit > 3 else { return limit == 3 ? "…" : String(repeating: ".", count: max(0, limit)) }
        var kept = String.UnicodeScalarView()
        var bytes = 0
        for scalar in text.unicodeScalars {
            let size = String(scalar).utf8.count
            guard bytes + size <= limit - 3 else { break }
            kept.append(scalar)
            bytes += size
        }
        return String(kept) + "…"
    }

    /// A Splunk On-Call (VictorOps) REST event, as Alertmanager sends it: one JSON object of strings, keys sorted —
    /// `message_type` (the configured one while firing, `CRITICAL` unless it is `WARNING` or `INFO`; `RECOVERY` once
    /// resolved), `entity_id` (the SHA-256 of the group key), `entity_display_name`, `state_message` (at most 20,480
    /// characters), `monitoring_tool` and the custom fields — to `<api_url><api_key>/<routing_key>`.
    /// - Throws: `configuration` when a template fails.
    package static func victorOps(_ data: NotificationData, config: VictorOpsConfig) throws -> OutboundPost {
        var messageType = try data.render(config.messageType, field: "victorops message_type")
        if data.status != "firing" {
            messageType = "RECOVERY"
        } else if !["INFO", "WARNING", "CRITICAL"].contains(messageType) {
            messageType = "CRITICAL"
        }
        var fields: [String: String] = [
            "message_type": messageType,
            "entity_id": SHA256.hex(data.groupKey),
            "entity_display_name": try data.render(config.entityDisplayName, field: "victorops entity_display_name"),
            "state_message": truncated(try data.render(config.stateMessage, field: "victorops state_message"), to: 20_480),
            "monitoring_tool": try data.render(config.monitoringTool, field: "victorops monitoring_tool"),
        ]
        for (name, template) in config.customFields { fields[name] = try data.render(template, field: "victorops custom_fields.\(name)") }
        let body = "{" + fields.sorted { $0.key < $1.key }.map {
            JSONText.quoted($0.key, htmlSafe: true) + ":" + JSONText.quoted($0.value, htmlSafe: true)
        }.joined(separator: ",") + "}\n"
        let routingKey = try data.render(config.routingKey, field: "victorops routing_key")
        return OutboundPost(
            url: config.apiURL + config.apiKey + "/" + routingKey, headers: [("Content-Type", "application/json")], body: Array(body.utf8),
            tls: config.tls)
    }

    /// A PagerDuty Events API v2 event: `trigger` while anything fires, `resolve` after; `dedup_key` is the SHA-256
    /// of the group key, so PagerDuty folds every notification of a group into one incident.
    /// - Throws: `configuration` when a template fails.
    package static func pagerDuty(_ data: NotificationData, config: PagerDutyConfig) throws -> OutboundPost {
        let summary = truncated(try data.render(config.description, field: "pagerduty description"), to: 1024)
        let client = try data.render(config.client, field: "pagerduty client")
        let source = config.source.isEmpty ? client : try data.render(config.source, field: "pagerduty source")
        var out = "{\"routing_key\":" + JSONText.quoted(config.routingKey)
        out += ",\"event_action\":" + JSONText.quoted(data.status == "firing" ? "trigger" : "resolve")
        out += ",\"dedup_key\":" + JSONText.quoted(SHA256.hex(data.groupKey))
        out += ",\"client\":" + JSONText.quoted(client)
        out += ",\"client_url\":" + JSONText.quoted(try data.render(config.clientURL, field: "pagerduty client_url"))
        out += ",\"payload\":{\"summary\":" + JSONText.quoted(summary)
        out += ",\"source\":" + JSONText.quoted(source)
        out += ",\"severity\":" + JSONText.quoted(try data.render(config.severity, field: "pagerduty severity"))
        out += ",\"custom_details\":{"
        for (index, (name, template)) in config.details.enumerated() {
            if index > 0 { out += "," }
            out += JSONText.quoted(name) + ":" + JSONText.quoted(try data.render(template, field: "pagerduty details.\(name)"))
        }
        out += "}}}"
        return OutboundPost(url: config.url, headers: [("Content-Type", "application/json")], body: Array(out.utf8), tls: config.tls)
    }
}
