package import SightlineCore

/// The notifier's configuration: Alertmanager's `alertmanager.yml`, the subset people use (see ``NotifyConfigFile``).
package struct NotifyConfig: Sendable {
    /// Settings receivers fall back to.
    package struct Global: Sendable {
        /// How long an alert without `endsAt` stays firing without an update.
        package var resolveTimeoutMs: Int64 = 300_000
        package var smtpFrom = ""
        package var smtpSmarthost = ""
        package var smtpHello = "localhost"
        package var smtpAuthUsername = ""
        package var smtpAuthPassword = ""
        package var smtpRequireTLS = true
        package var slackAPIURL = ""
        package var pagerdutyURL = "https://events.pagerduty.com/v2/enqueue"
        package var opsgenieAPIURL = "https://api.opsgenie.com/"
        package var opsgenieAPIKey = ""
        package var victoropsAPIURL = "https://alert.victorops.com/integrations/generic/20131114/alert/"
        package var victoropsAPIKey = ""
        package var webexAPIURL = "https://webexapis.com/v1/messages"
        package var rocketChatAPIURL = "https://open.rocket.chat/"
        package var rocketChatToken = ""
        package var rocketChatTokenID = ""
        package var jiraAPIURL = ""
        package var weChatAPIURL = "https://qyapi.weixin.qq.com/cgi-bin/"
        package var weChatAPISecret = ""
        package var weChatCorpID = ""
        package init() {}
    }

    package var global = Global()
    /// The root of the routing tree, with inherited settings filled in.
    package var route: NotifyRoute
    package var inhibitRules: [InhibitRule] = []
    package var receivers: [NotifyReceiver] = []
    /// Named time intervals (`time_intervals` and the older `mute_time_intervals`).
    package var timeIntervals: [String: [TimeIntervalSpec]] = [:]
    /// The config file's text, which `GET /api/v2/status` shows.
    package var original = ""
    /// The named templates notifications may use: Sightline's defaults and those of the `templates:` files.
    package var templates: NotifyTemplateLibrary = .defaults

    package init(route: NotifyRoute) { self.route = route }

    /// The receiver called `name`.
    package func receiver(named name: String) -> NotifyReceiver? { receivers.first { $0.name == name } }
}

/// One node of the routing tree, in Alertmanager's semantics: an alert goes to the first child that matches
/// (and on to later ones while matching children say `continue`), or to this node when no child matches.
package struct NotifyRoute: Sendable {
    package var receiver: String
    /// Labels that make up a group; ignored when ``groupByAll``.
    package var groupBy: [String]
    /// `group_by: ['...']`: every label of an alert is a group label.
    package var groupByAll: Bool
    package var groupWaitMs: Int64
    package var groupIntervalMs: Int64
    package var repeatIntervalMs: Int64
    package var matchers: [LabelMatcher]
    package var `continue`: Bool
    package var muteTimeIntervals: [String]
    package var activeTimeIntervals: [String]
    package var routes: [NotifyRoute]
    /// Alertmanager's route key: the parent's key, `/`, and this route's matchers, e.g. `{}/{team="db"}`.
    package var key: String
    /// A number unique within the tree (preorder), naming the route in group ids.
    package var index: Int

    /// The routes an alert with `labels` goes to, in tree order.
    package func match(_ labels: Labels) -> [NotifyRoute] {
        guard LabelMatcher.notifyAll(matchers, match: labels) else { return [] }
        var found: [NotifyRoute] = []
        for child in routes {
            let matched = child.match(labels)
            found.append(contentsOf: matched)
            if !matched.isEmpty && !child.continue { break }
        }
        return found.isEmpty ? [self] : found
    }

    /// Every route of the tree, preorder.
    package var all: [NotifyRoute] { [self] + routes.flatMap(\.all) }

    /// The group labels of an alert on this route.
    package func groupLabels(of labels: Labels) -> Labels {
        if groupByAll { return labels }
        return Labels(groupBy.compactMap { name in labels[name].map { Label(name, $0) } })
    }
}

/// `inhibit_rules`: a firing source alert mutes target alerts that have the same values for the `equal` labels.
package struct InhibitRule: Sendable {
    package var sourceMatchers: [LabelMatcher]
    package var targetMatchers: [LabelMatcher]
    package var equal: [String]
    package init(sourceMatchers: [LabelMatcher], targetMatchers: [LabelMatcher], equal: [String]) {
        self.sourceMatchers = sourceMatchers
        self.targetMatchers = targetMatchers
        self.equal = equal
    }
}

/// A named receiver and its integrations.
package struct NotifyReceiver: Sendable {
    package var name: String
    package var webhooks: [WebhookConfig] = []
    package var slacks: [SlackConfig] = []
    package var pagerDuties: [PagerDutyConfig] = []
    package var emails: [EmailConfig] = []
    package var discords: [DiscordConfig] = []
    package var msTeams: [MSTeamsConfig] = []
    package var msTeamsV2: [MSTeamsV2Config] = []
    package var telegrams: [TelegramConfig] = []
    package var opsGenies: [OpsGenieConfig] = []
    package var victorOps: [VictorOpsConfig] = []
    package var webexes: [WebexConfig] = []
    package var pushovers: [PushoverConfig] = []
    package var rocketChats: [RocketChatConfig] = []
    package var snses: [SNSConfig] = []
    package var jiras: [JiraConfig] = []
    package var weChats: [WeChatConfig] = []
    package init(name: String) { self.name = name }

    /// The integrations in a fixed order; their position names them in the notification log.
    package var integrations: [NotifyIntegration] {
        webhooks.enumerated().map { NotifyIntegration(kind: .webhook($0.element), index: $0.offset) }
            + slacks.enumerated().map { NotifyIntegration(kind: .slack($0.element), index: $0.offset) }
            + pagerDuties.enumerated().map { NotifyIntegration(kind: .pagerDuty($0.element), index: $0.offset) }
            + emails.enumerated().map { NotifyIntegration(kind: .email($0.element), index: $0.offset) }
            + discords.enumerated().map { NotifyIntegration(kind: .discord($0.element), index: $0.offset) }
            + msTeams.enumerated().map { NotifyIntegration(kind: .msTeams($0.element), index: $0.offset) }
            + msTeamsV2.enumerated().map { NotifyIntegration(kind: .msTeamsV2($0.element), index: $0.offset) }
            + telegrams.enumerated().map { NotifyIntegration(kind: .telegram($0.element), index: $0.offset) }
            + opsGenies.enumerated().map { NotifyIntegration(kind: .opsGenie($0.element), index: $0.offset) }
            + victorOps.enumerated().map { NotifyIntegration(kind: .victorOps($0.element), index: $0.offset) }
            + webexes.enumerated().map { NotifyIntegration(kind: .webex($0.element), index: $0.offset) }
            + pushovers.enumerated().map { NotifyIntegration(kind: .pushover($0.element), index: $0.offset) }
            + rocketChats.enumerated().map { NotifyIntegration(kind: .rocketChat($0.element), index: $0.offset) }
            + snses.enumerated().map { NotifyIntegration(kind: .sns($0.element), index: $0.offset) }
            + jiras.enumerated().map { NotifyIntegration(kind: .jira($0.element), index: $0.offset) }
            + weChats.enumerated().map { NotifyIntegration(kind: .weChat($0.element), index: $0.offset) }
    }
}

/// One configured destination of a receiver.
package struct NotifyIntegration: Sendable {
    package enum Kind: Sendable {
        case webhook(WebhookConfig), slack(SlackConfig), pagerDuty(PagerDutyConfig), email(EmailConfig)
        case discord(DiscordConfig), msTeams(MSTeamsConfig), msTeamsV2(MSTeamsV2Config), telegram(TelegramConfig)
        case opsGenie(OpsGenieConfig), victorOps(VictorOpsConfig), webex(WebexConfig), pushover(PushoverConfig)
        case rocketChat(RocketChatConfig), sns(SNSConfig), jira(JiraConfig), weChat(WeChatConfig)
    }
    package var kind: Kind
    package var index: Int

    /// `webhook`, `slack`, `pagerduty`, `email`, `discord`, `msteams`, `msteamsv2`, `telegram`, `opsgenie`,
    /// `victorops`, `webex`, `pushover`, `rocketchat`, `sns`, `jira` or `wechat`.
    package var name: String {
        switch kind {
        case .webhook: "webhook"
        case .slack: "slack"
        case .pagerDuty: "pagerduty"
        case .email: "email"
        case .discord: "discord"
        case .msTeams: "msteams"
        case .msTeamsV2: "msteamsv2"
        case .telegram: "telegram"
        case .opsGenie: "opsgenie"
        case .victorOps: "victorops"
        case .webex: "webex"
        case .pushover: "pushover"
        case .rocketChat: "rocketchat"
        case .sns: "sns"
        case .jira: "jira"
        case .weChat: "wechat"
        }
    }

    /// Whether resolved alerts are sent.
    package var sendResolved: Bool {
        switch kind {
        case .webhook(let c): c.sendResolved
        case .slack(let c): c.sendResolved
        case .pagerDuty(let c): c.sendResolved
        case .email(let c): c.sendResolved
        case .discord(let c): c.sendResolved
        case .msTeams(let c): c.sendResolved
        case .msTeamsV2(let c): c.sendResolved
        case .telegram(let c): c.sendResolved
        case .opsGenie(let c): c.sendResolved
        case .victorOps(let c): c.sendResolved
        case .webex(let c): c.sendResolved
        case .pushover(let c): c.sendResolved
        case .rocketChat(let c): c.sendResolved
        case .sns(let c): c.sendResolved
        case .jira(let c): c.sendResolved
        case .weChat(let c): c.sendResolved
        }
    }
}

/// `jira_configs`: an issue per alert group in a Jira project, found again by its `ALERT{<group key hash>}` label,
/// updated while the group fires and moved through the configured workflow transitions when it resolves or fires again.
package struct JiraConfig: Sendable {
    /// The REST API's base (`https://example.atlassian.net/rest/api/2/`), ending in `/`.
    package var apiURL = ""
    package var project = ""
    package var summary = #"{{ template "jira.default.summary" . }}"#
    package var description = #"{{ template "jira.default.description" . }}"#
    package var labels: [String] = []
    package var priority = #"{{ template "jira.default.priority" . }}"#
    package var issueType = ""
    package var resolveTransition = ""
    package var reopenTransition = ""
    package var wontFixResolution = ""
    /// How long after its resolution an issue is reopened rather than a new one created (with a reopen transition).
    package var reopenDurationMs: Int64 = 0
    /// Other issue fields (`fields`), each a member name and its value, templated.
    package var fields: [(String, JiraFieldValue)] = []
    package var sendResolved = true
    /// The `Authorization` header from `http_config`.
    package var authorization: String?
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `wechat_configs`: a WeChat Work application message (`message/send`) with an access token fetched for the corp id
/// and application secret (`gettoken`) and kept for two hours.
package struct WeChatConfig: Sendable {
    /// The API's base, ending in `/`.
    package var apiURL = "https://qyapi.weixin.qq.com/cgi-bin/"
    package var apiSecret = ""
    package var corpID = ""
    package var message = #"{{ template "wechat.default.message" . }}"#
    /// `text` or `markdown`.
    package var messageType = "text"
    package var agentID = #"{{ template "wechat.default.agent_id" . }}"#
    package var toUser = #"{{ template "wechat.default.to_user" . }}"#
    package var toParty = #"{{ template "wechat.default.to_party" . }}"#
    package var toTag = #"{{ template "wechat.default.to_tag" . }}"#
    package var sendResolved = false
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `webhook_configs`.
package struct WebhookConfig: Sendable {
    package var url: String
    package var sendResolved = true
    /// The most alerts in one payload; 0 means all.
    package var maxAlerts = 0
    /// The `Authorization` header from `http_config` (`Bearer …` or `Basic …`).
    package var authorization: String?
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init(url: String) { self.url = url }
}

/// `slack_configs`: an incoming webhook.
package struct SlackConfig: Sendable {
    package var apiURL = ""
    package var channel = ""
    package var username = #"{{ template "slack.default.username" . }}"#
    package var title = #"{{ template "slack.default.title" . }}"#
    package var titleLink = #"{{ template "slack.default.titlelink" . }}"#
    package var text = #"{{ template "slack.default.text" . }}"#
    package var color = #"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#
    package var sendResolved = false
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `pagerduty_configs`: Events API v2.
package struct PagerDutyConfig: Sendable {
    package var routingKey = ""
    package var url = ""
    package var client = #"{{ template "pagerduty.default.client" . }}"#
    package var clientURL = #"{{ template "pagerduty.default.clientURL" . }}"#
    package var description = #"{{ template "pagerduty.default.description" . }}"#
    package var severity = "error"
    package var source = ""
    /// `details`, values are templates; the defaults are Alertmanager's firing/resolved/num_firing/num_resolved.
    package var details: [(String, String)] = [
        ("firing", #"{{ template "pagerduty.default.instances" .Alerts.Firing }}"#),
        ("num_firing", "{{ .Alerts.Firing | len }}"),
        ("num_resolved", "{{ .Alerts.Resolved | len }}"),
        ("resolved", #"{{ template "pagerduty.default.instances" .Alerts.Resolved }}"#),
    ]
    package var sendResolved = true
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `opsgenie_configs`: one Opsgenie alert per group (its alias the SHA-256 of the group key), created while anything
/// fires and closed once everything resolved. Values are templates, as in Alertmanager.
package struct OpsGenieConfig: Sendable {
    /// A responder or `visible_to` entry: `type` is `team`, `teams` (a comma-separated list of team names), `user`,
    /// `escalation` or `schedule`.
    package struct Responder: Sendable {
        package var id = ""
        package var name = ""
        package var username = ""
        package var type = ""
        package init() {}
    }

    package var apiKey = ""
    /// Ends in `/`; the API's paths (`v2/alerts`) are appended.
    package var apiURL = "https://api.opsgenie.com/"
    package var message = #"{{ template "opsgenie.default.message" . }}"#
    package var description = #"{{ template "opsgenie.default.description" . }}"#
    package var source = #"{{ template "opsgenie.default.source" . }}"#
    /// Added to the group's common labels in `details` (and replacing those of the same name).
    package var details: [(String, String)] = []
    package var responders: [Responder] = []
    package var visibleTo: [Responder] = []
    /// Comma-separated.
    package var tags = ""
    package var note = ""
    package var priority = ""
    package var entity = ""
    /// Comma-separated.
    package var actions = ""
    /// Whether each notification also updates the message and description of the alert Opsgenie has.
    package var updateAlerts = false
    package var sendResolved = true
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `victorops_configs`: a Splunk On-Call (VictorOps) REST event per notification, to `<api_url><api_key>/<routing_key>`;
/// the entity id is the SHA-256 of the group key. Values are templates, as in Alertmanager.
package struct VictorOpsConfig: Sendable {
    package var apiKey = ""
    /// Ends in `/`.
    package var apiURL = "https://alert.victorops.com/integrations/generic/20131114/alert/"
    package var routingKey = ""
    /// `CRITICAL`, `WARNING` or `INFO` while firing (anything else is sent as `CRITICAL`); `RECOVERY` once resolved.
    package var messageType = "CRITICAL"
    package var entityDisplayName = #"{{ template "victorops.default.entity_display_name" . }}"#
    package var stateMessage = #"{{ template "victorops.default.state_message" . }}"#
    package var monitoringTool = #"{{ template "victorops.default.monitoring_tool" . }}"#
    package var customFields: [(String, String)] = []
    package var sendResolved = true
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `webex_configs`: a Webex message (Markdown) to a room, with the bot's token from `http_config.authorization`.
package struct WebexConfig: Sendable {
    package var apiURL = "https://webexapis.com/v1/messages"
    package var roomID = ""
    package var message = #"{{ template "webex.default.message" . }}"#
    /// The `Authorization` header, from `http_config`.
    package var authorization = ""
    package var sendResolved = true
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `discord_configs`: a Discord webhook, one embed per notification.
package struct DiscordConfig: Sendable {
    package var webhookURL = ""
    package var title = #"{{ template "discord.default.title" . }}"#
    package var message = #"{{ template "discord.default.message" . }}"#
    package var content = ""
    package var username = ""
    package var avatarURL = ""
    package var sendResolved = true
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `msteams_configs`: a Microsoft Teams incoming webhook (connector `MessageCard`).
package struct MSTeamsConfig: Sendable {
    package var webhookURL = ""
    package var title = #"{{ template "msteams.default.title" . }}"#
    package var summary = #"{{ template "msteams.default.summary" . }}"#
    package var text = #"{{ template "msteams.default.text" . }}"#
    package var sendResolved = true
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `msteamsv2_configs`: a Microsoft Teams workflow (Power Automate) webhook, which takes an Adaptive Card.
package struct MSTeamsV2Config: Sendable {
    package var webhookURL = ""
    package var title = #"{{ template "msteamsv2.default.title" . }}"#
    package var text = #"{{ template "msteamsv2.default.text" . }}"#
    package var sendResolved = true
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `telegram_configs`: a bot's `sendMessage`.
package struct TelegramConfig: Sendable {
    package var apiURL = "https://api.telegram.org"
    package var botToken = ""
    package var chatID: Int64 = 0
    package var messageThreadID: Int64 = 0
    package var message = #"{{ template "telegram.default.message" . }}"#
    package var disableNotifications = false
    /// `HTML` (the default: values are escaped as html/template escapes them), `Markdown`, `MarkdownV2` or empty.
    package var parseMode = "HTML"
    package var sendResolved = true
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `pushover_configs`: a message through Pushover's API. Every text field is a template (`token` and `user_key`
/// too, as in Alertmanager); `retry`, `expire` and `ttl` are in milliseconds here and seconds on the wire.
package struct PushoverConfig: Sendable {
    /// Pushover's message endpoint (not configurable in Alertmanager; tests point it elsewhere).
    package var apiURL = "https://api.pushover.net/1/messages.json"
    package var userKey = ""
    package var token = ""
    package var title = #"{{ template "pushover.default.title" . }}"#
    package var message = #"{{ template "pushover.default.message" . }}"#
    package var url = #"{{ template "pushover.default.url" . }}"#
    package var urlTitle = ""
    package var device = ""
    package var sound = ""
    /// 2 (emergency: repeated until acknowledged) while firing, 0 once resolved.
    package var priority = #"{{ if eq .Status "firing" }}2{{ else }}0{{ end }}"#
    package var retryMs: Int64 = 60_000
    package var expireMs: Int64 = 3_600_000
    /// 0: none.
    package var ttlMs: Int64 = 0
    package var html = false
    package var monospace = false
    package var sendResolved = true
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `rocketchat_configs`: a message with one attachment through Rocket.Chat's `chat.postMessage`, authenticated by a
/// personal access token (`token`) and its user's id (`token_id`). Text fields are templates.
package struct RocketChatConfig: Sendable {
    /// An attachment field; `short` nil takes ``shortFields``.
    package struct Field: Sendable {
        package var title = ""
        package var value = ""
        package var short: Bool?
        package init() {}
    }

    /// A button of the attachment.
    package struct Action: Sendable {
        package var text = ""
        package var url = ""
        package var msg = ""
        package init() {}
    }

    package var apiURL = "https://open.rocket.chat/"
    package var token = ""
    package var tokenID = ""
    package var channel = ""
    package var color = #"{{ if eq .Status "firing" }}red{{ else }}green{{ end }}"#
    package var emoji = #"{{ template "rocketchat.default.emoji" . }}"#
    package var iconURL = #"{{ template "rocketchat.default.iconurl" . }}"#
    package var text = #"{{ template "rocketchat.default.text" . }}"#
    package var title = #"{{ template "rocketchat.default.title" . }}"#
    package var titleLink = #"{{ template "rocketchat.default.titlelink" . }}"#
    package var imageURL = ""
    package var thumbURL = ""
    package var fields: [Field] = []
    package var shortFields = false
    package var actions: [Action] = []
    package var sendResolved = false
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}
}

/// `sns_configs`: an Amazon SNS `Publish` to a topic, a phone number (SMS) or a target (an endpoint ARN), signed
/// with AWS Signature Version 4 from static credentials.
package struct SNSConfig: Sendable {
    /// The endpoint; empty means `https://sns.<region>.amazonaws.com/`.
    package var apiURL = ""
    package var region = ""
    package var credentials = AWSSignatureV4.Credentials(accessKey: "", secretKey: "")
    package var topicARN = ""
    package var phoneNumber = ""
    package var targetARN = ""
    package var subject = #"{{ template "sns.default.subject" . }}"#
    package var message = #"{{ template "sns.default.message" . }}"#
    /// Message attributes (String values), in the order given; names and values are templates.
    package var attributes: [(String, String)] = []
    package var sendResolved = true
    /// `http_config.tls_config`.
    package var tls: NotifyTLSOptions?
    package init() {}

    /// Where the request goes.
    package var endpoint: String { apiURL.isEmpty ? "https://sns.\(region).amazonaws.com/" : apiURL }
}

/// `email_configs`.
package struct EmailConfig: Sendable {
    package var to = ""
    package var from = ""
    package var hello = "localhost"
    /// `host:port` of the SMTP server.
    package var smarthost = ""
    package var authUsername = ""
    package var authPassword = ""
    package var requireTLS = true
    /// Header templates; `Subject`, `To` and `From` default to Alertmanager's.
    package var headers: [(String, String)] = []
    package var html = #"{{ template "email.default.html" . }}"#
    package var text = ""
    package var sendResolved = false
    /// `tls_config` for STARTTLS and port 465.
    package var tls: NotifyTLSOptions?
    package init() {}
}
