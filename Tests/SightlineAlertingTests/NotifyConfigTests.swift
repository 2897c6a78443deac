import Foundation
import SightlineCore
import SightlineQuery
import SightlineTestSupport
import Testing

@testable import SightlineAlerting

/// A config with most features, used by several suites.
let sampleNotifyConfig = """
    global:
      resolve_timeout: 2m
      smtp_smarthost: 127.0.0.1:2525
      smtp_from: am@example.org
      smtp_require_tls: false
      slack_api_url: http://127.0.0.1:9/slack
    route:
      receiver: default
      group_by: [alertname]
      routes:
        - matchers: ['team="db"', 'severity=~"crit.*"']
          receiver: db-pager
          continue: true
        - match:
            team: db
          receiver: db-mail
          group_by: ['...']
          group_wait: 10s
          routes:
            - matchers: [env!="prod"]
              receiver: default
              mute_time_intervals: [weekends]
        - match_re:
            service: "api|web"
          receiver: frontend
          group_interval: 1m
          repeat_interval: 1h
          active_time_intervals: [office]
    inhibit_rules:
      - source_matchers: [severity="critical"]
        target_matchers: [severity="warning"]
        equal: [alertname, cluster]
    receivers:
      - name: default
        webhook_configs:
          - url: http://127.0.0.1:9/hook
            max_alerts: 2
            http_config:
              bearer_token: secret
          - url: http://127.0.0.1:9/basic
            http_config:
              basic_auth: {username: u, password: p}
      - name: db-pager
        pagerduty_configs:
          - routing_key: rk1
            url: http://127.0.0.1:9/pd
      - name: db-mail
        email_configs:
          - to: dba@example.org
            headers:
              x-team: db
      - name: chat
        discord_configs:
          - webhook_url: http://127.0.0.1:9/discord
            title: '{{ .CommonLabels.alertname }}'
        msteams_configs:
          - webhook_url: http://127.0.0.1:9/teams
            send_resolved: false
        msteamsv2_configs:
          - webhook_url: https://127.0.0.1:9/workflow
            title: '{{ .CommonLabels.alertname }}'
      - name: frontend
        slack_configs:
          - channel: '#fe'
            title: '{{ .Status | toUpper }} {{ .CommonLabels.alertname }}'
            send_resolved: true
    time_intervals:
      - name: weekends
        time_intervals:
          - weekdays: ['saturday', 'sunday']
      - name: office
        time_intervals:
          - times:
              - start_time: "09:00"
                end_time: "17:00"
            weekdays: ['monday:friday']
            location: UTC
    """

@Suite struct NotifyConfigTests {
    @Test func parsesEverySection() throws {
        let config = try NotifyConfigFile.parse(sampleNotifyConfig, path: "am.yml")
        #expect(config.global.resolveTimeoutMs == 120_000)
        #expect(config.route.receiver == "default")
        #expect(config.route.groupWaitMs == 30_000 && config.route.groupIntervalMs == 300_000 && config.route.repeatIntervalMs == 14_400_000)
        #expect(config.route.routes.count == 3)
        let db = config.route.routes[0]
        #expect(db.continue && db.receiver == "db-pager" && db.groupBy == ["alertname"])
        #expect(db.key == #"{}/{severity=~"crit.*",team="db"}"#)
        let mail = config.route.routes[1]
        #expect(mail.groupByAll && mail.groupWaitMs == 10_000)
        #expect(mail.routes[0].groupWaitMs == 10_000 && mail.routes[0].muteTimeIntervals == ["weekends"])
        #expect(config.route.routes[2].repeatIntervalMs == 3_600_000)
        #expect(config.inhibitRules.count == 1 && config.inhibitRules[0].equal == ["alertname", "cluster"])
        let webhook = try #require(config.receiver(named: "default")?.webhooks.first)
        #expect(webhook.maxAlerts == 2 && webhook.authorization == "Bearer secret" && webhook.sendResolved)
        #expect(config.receiver(named: "default")?.webhooks.last?.authorization == "Basic dTpw")
        let email = try #require(config.receiver(named: "db-mail")?.emails.first)
        #expect(email.smarthost == "127.0.0.1:2525" && email.from == "am@example.org" && !email.requireTLS)
        #expect(email.headers.first?.0 == "X-Team")
        let slack = try #require(config.receiver(named: "frontend")?.slacks.first)
        #expect(slack.apiURL == "http://127.0.0.1:9/slack" && slack.sendResolved)
        #expect(config.receiver(named: "db-pager")?.pagerDuties.first?.sendResolved == true)
        let chat = try #require(config.receiver(named: "chat"))
        #expect(chat.discords.first?.webhookURL == "http://127.0.0.1:9/discord" && chat.discords.first?.title == "{{ .CommonLabels.alertname }}")
        #expect(chat.discords.first?.sendResolved == true && chat.msTeams.first?.sendResolved == false)
        #expect(chat.integrations.map(\.name) == ["discord", "msteams", "msteamsv2"])
        #expect(chat.msTeamsV2.first?.webhookURL == "https://127.0.0.1:9/workflow" && chat.msTeamsV2.first?.title == "{{ .CommonLabels.alertname }}")
        #expect(chat.msTeamsV2.first?.sendResolved == true)
        #expect(config.timeIntervals["office"]?.first?.times == [NotifyIntRange(540, 1020)])
        #expect(config.timeIntervals["office"]?.first?.weekdays == [NotifyIntRange(1, 5)])
    }

    @Test(arguments: [
        ("route:\n  receiver: nobody\nreceivers:\n  - name: a\n", "undefined receiver \"nobody\"", 2),
        ("route:\n  receiver: a\n  group_wait: soon\nreceivers:\n  - name: a\n", "key 'route.group_wait' (line 3)", 3),
        ("route:\n  receiver: a\n  matchers: ['x=\"y\"']\nreceivers:\n  - name: a\n", "root route must not have any matchers", 2),
        ("route:\n  receiver: a\n  routes:\n    - matchers: ['x~~y']\nreceivers:\n  - name: a\n", "bad matcher format", 4),
        ("route:\n  receiver: a\n  group_by: ['...', job]\nreceivers:\n  - name: a\n", "wildcard group_by", 3),
        ("route:\n  receiver: a\n  routes:\n    - mute_time_intervals: [nope]\nreceivers:\n  - name: a\n", "undefined time interval \"nope\"", 4),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    webhook_configs:\n      - url: ftp://x\n", "expected an http:// or https:// URL", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    slack_configs:\n      - channel: x\n", "no global Slack API URL", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n  - name: a\n", "defined twice", 5),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    discord_configs:\n      - title: x\n", "one of webhook_url or webhook_url_file must be configured", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    msteams_configs:\n      - webhook_url: ftp://x\n", "expected an http:// or https:// URL", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    incidentio_configs: []\n", "receiver types other than webhook, slack, pagerduty, email, discord, msteams, msteamsv2, telegram, opsgenie, victorops, webex, pushover, rocketchat, sns, jira and wechat", 5),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    sns_configs:\n      - sigv4: {region: r, access_key: k, secret_key: s}\n", "must provide either a Target ARN, Topic ARN, or Phone Number", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    sns_configs:\n      - {topic_arn: t, phone_number: p, sigv4: {region: r, access_key: k, secret_key: s}}\n", "must provide either a Target ARN, Topic ARN, or Phone Number", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    sns_configs:\n      - {topic_arn: t, sigv4: {region: r, role_arn: x}}\n", "assumed roles are not supported", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    rocketchat_configs:\n      - token: t\n", "no global Rocketchat TokenID set either inline or in a file", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    rocketchat_configs:\n      - token_id: u\n", "no global Rocketchat Token set either inline or in a file", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    rocketchat_configs:\n      - {token: t, token_id: u, actions: [{type: menu}]}\n", "only actions of type button", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    pushover_configs:\n      - token: t\n", "one of user_key or user_key_file must be configured", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    pushover_configs:\n      - user_key: u\n", "one of token or token_file must be configured", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    pushover_configs:\n      - {user_key: u, token: t, html: true, monospace: true}\n", "at most one of monospace & html must be configured", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    pushover_configs:\n      - {user_key: u, token: t, retry: soon}\n", "expected a positive duration", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    webex_configs:\n      - room_id: r\n", "missing webex_configs.http_config.authorization", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    webex_configs:\n      - http_config: {authorization: {credentials: t}}\n", "missing room_id on webex_config", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    victorops_configs:\n      - routing_key: r\n", "no global VictorOps API Key set", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    victorops_configs:\n      - api_key: k\n", "missing Routing key in VictorOps config", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    victorops_configs:\n      - {api_key: k, routing_key: r, custom_fields: {entity_id: x}}\n", "custom field entity_id which cannot be used", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    opsgenie_configs:\n      - message: x\n", "no global OpsGenie API Key set", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    opsgenie_configs:\n      - api_key: k\n        responders: [{type: team}]\n", "at least one of id, username or name", 7),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    opsgenie_configs:\n      - api_key: k\n        responders: [{name: x, type: crew}]\n", "type \"crew\" does not match valid options", 7),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    telegram_configs:\n      - bot_token: t\n", "missing chat_id or chat_id_file", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    telegram_configs:\n      - {bot_token: t, chat_id: 1, parse_mode: BBCode}\n", "unknown parse_mode \"BBCode\"", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    telegram_configs:\n      - {bot_token: t, chat_id: me}\n", "expected a chat id", 6),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\n    bogus: 1\n", "key 'receivers[0].bogus' (line 5): unknown key", 5),
        ("receivers:\n  - name: a\n", "no route provided", 0),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\ntime_intervals:\n  - name: t\n    time_intervals:\n      - weekdays: [funday]\n", "invalid weekday range \"funday\"", 8),
        ("route:\n  receiver: a\nreceivers:\n  - name: a\ntime_intervals:\n  - name: t\n    time_intervals:\n      - location: Mars/Olympus\n", "unknown time zone Mars/Olympus", 8),
    ])
    func reportsErrorsWithKeyAndLine(text: String, expected: String, line: Int) {
        let error = sightlineError { _ = try NotifyConfigFile.parse(text, path: "am.yml") }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
        #expect(error?.message.contains("am.yml") == true)
        if line > 0 { #expect(error?.message.contains("line \(line)") == true, "\(error?.message ?? "")") }
    }

    @Test func templateFilesAddAndReplaceNamedTemplates() throws {
        let directory = try TemporaryDirectory(prefix: "am-templates")
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.file("templates"), withIntermediateDirectories: true)
        try #"{{ define "team.text" }}{{ .Alerts | len }} for {{ .CommonLabels.team }}{{ end }}ignored text"#
            .write(toFile: directory.file("templates/a.tmpl"), atomically: true, encoding: .utf8)
        try #"{{ define "__subject" }}[{{ .Status }}] custom{{ end }}"#.write(toFile: directory.file("templates/b.tmpl"), atomically: true, encoding: .utf8)
        let yaml = "templates: ['templates/*.tmpl', 'none/*.tmpl']\nroute: {receiver: a}\nreceivers: [{name: a}]\n"
        try yaml.write(toFile: directory.file("am.yml"), atomically: true, encoding: .utf8)
        let config = try NotifyConfigFile.load(path: directory.file("am.yml"))
        #expect(config.templates.defines("team.text") && config.templates.defines("slack.default.title"))
        let data: NotifyTemplateValue = .object([
            "Status": .string("firing"), "Alerts": .list([.null, .null], fields: [:]), "CommonLabels": .kv([("team", "db")]),
        ])
        let now = GoTime.Instant(seconds: 0, nanosecond: 0)
        #expect(try NotifyTemplate.render(#"{{ template "team.text" . }}"#, data, library: config.templates, now: now) == "2 for db")
        // A file's definition replaces the default of the same name, which other defaults call.
        #expect(try NotifyTemplate.render(#"{{ template "slack.default.title" . }}"#, data, library: config.templates, now: now) == "[firing] custom")
        #expect(try NotifyConfigFile.parse(yaml, path: "elsewhere/am.yml").templates.count == NotifyTemplateLibrary.defaults.count)

        try #"{{ define "broken" }}{{ nosuch . }}{{ end }}"#.write(toFile: directory.file("templates/c.tmpl"), atomically: true, encoding: .utf8)
        let error = sightlineError { _ = try NotifyConfigFile.load(path: directory.file("am.yml")) }
        #expect(error?.message.contains("key 'templates[0]' (line 1): template file \(directory.file("templates/c.tmpl"))") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(#"template: c.tmpl:1: function "nosuch" not defined"#) == true, "\(error?.message ?? "")")
    }

    @Test func webhookURLFilesAndSecretsFromFiles() throws {
        let directory = try TemporaryDirectory(prefix: "am-secrets")
        defer { directory.remove() }
        try "https://discord.example/api/webhooks/1\n".write(toFile: directory.file("discord"), atomically: true, encoding: .utf8)
        try "42:secret\n".write(toFile: directory.file("token"), atomically: true, encoding: .utf8)
        try "-100123\n".write(toFile: directory.file("chat"), atomically: true, encoding: .utf8)
        let yaml = """
            route: {receiver: a}
            receivers:
              - name: a
                discord_configs: [{webhook_url_file: \(directory.file("discord"))}]
                telegram_configs: [{bot_token_file: \(directory.file("token")), chat_id_file: \(directory.file("chat"))}]
            """
        let receiver = try #require(try NotifyConfigFile.parse(yaml, path: "am.yml").receiver(named: "a"))
        #expect(receiver.discords.first?.webhookURL == "https://discord.example/api/webhooks/1")
        #expect(receiver.telegrams.first?.botToken == "42:secret" && receiver.telegrams.first?.chatID == -100_123)
        let both = "route: {receiver: a}\nreceivers:\n  - name: a\n    msteams_configs: [{webhook_url: 'http://teams.example/hook', webhook_url_file: \(directory.file("discord"))}]\n"
        #expect(sightlineError { _ = try NotifyConfigFile.parse(both, path: "am.yml") }?.message.contains("at most one of webhook_url & webhook_url_file") == true)
    }

    @Test func pushoverKeysAndSecretsFromFiles() throws {
        let directory = try TemporaryDirectory(prefix: "am-pushover")
        defer { directory.remove() }
        try "app-token\n".write(toFile: directory.file("token"), atomically: true, encoding: .utf8)
        let yaml = """
            route: {receiver: a}
            receivers:
              - name: a
                pushover_configs:
                  - {user_key: user-1, token_file: \(directory.file("token")), retry: 30s, expire: 2h, ttl: 1d, sound: siren, html: true}
                  - {user_key: user-2, token: t, priority: '1', send_resolved: false}
            """
        let receiver = try #require(try NotifyConfigFile.parse(yaml, path: "am.yml").receiver(named: "a"))
        let first = try #require(receiver.pushovers.first)
        #expect(first.userKey == "user-1" && first.token == "app-token" && first.sound == "siren" && first.html)
        #expect(first.retryMs == 30_000 && first.expireMs == 7_200_000 && first.ttlMs == 86_400_000 && first.sendResolved)
        #expect(receiver.pushovers[1].priority == "1" && !receiver.pushovers[1].sendResolved && receiver.pushovers[1].retryMs == 60_000)
        #expect(receiver.integrations.map(\.name) == ["pushover", "pushover"])
        let both = "route: {receiver: a}\nreceivers:\n  - name: a\n    pushover_configs: [{user_key: u, token: t, token_file: \(directory.file("token"))}]\n"
        #expect(sightlineError { _ = try NotifyConfigFile.parse(both, path: "am.yml") }?.message.contains("at most one of token & token_file") == true)
    }

    @Test func rocketChatTakesTheGlobalTokensAndURL() throws {
        let directory = try TemporaryDirectory(prefix: "am-rocketchat")
        defer { directory.remove() }
        try "file-token\n".write(toFile: directory.file("token"), atomically: true, encoding: .utf8)
        let yaml = """
            global: {rocketchat_api_url: 'http://chat.example/rc', rocketchat_token_file: \(directory.file("token")), rocketchat_token_id: user-1}
            route: {receiver: a}
            receivers:
              - name: a
                rocketchat_configs:
                  - {channel: '#ops', fields: [{title: t, value: v, short: true}, {title: u, value: w}], short_fields: false,
                     actions: [{type: button, text: Runbook, url: 'http://runbook'}], send_resolved: true}
                  - {token: own, token_id: other, api_url: 'http://other.example/'}
            """
        let receiver = try #require(try NotifyConfigFile.parse(yaml, path: "am.yml").receiver(named: "a"))
        let first = try #require(receiver.rocketChats.first)
        #expect(first.apiURL == "http://chat.example/rc/" && first.token == "file-token" && first.tokenID == "user-1" && first.sendResolved)
        #expect(first.channel == "#ops" && first.fields.count == 2 && first.fields[0].short == true && first.fields[1].short == nil)
        #expect(first.actions.first?.text == "Runbook")
        let second = receiver.rocketChats[1]
        #expect(second.token == "own" && second.tokenID == "other" && second.apiURL == "http://other.example/" && !second.sendResolved)
    }

    @Test func snsTakesStaticKeysRegionAndAttributes() throws {
        let yaml = """
            route: {receiver: a}
            receivers:
              - name: a
                sns_configs:
                  - topic_arn: 'arn:aws:sns:us-east-2:1:t'
                    sigv4: {region: us-east-2, access_key: AKID, secret_key: s3cr3t}
                    attributes: {team: ops, env: prod}
                    api_url: 'http://127.0.0.1:4566/'
            """
        let receiver = try #require(try NotifyConfigFile.parse(yaml, path: "am.yml").receiver(named: "a"))
        let sns = try #require(receiver.snses.first)
        #expect(sns.region == "us-east-2" && sns.credentials == AWSSignatureV4.Credentials(accessKey: "AKID", secretKey: "s3cr3t"))
        #expect(sns.attributes.map(\.0) == ["team", "env"] && sns.endpoint == "http://127.0.0.1:4566/" && sns.sendResolved)
    }

    @Test func opsGenieAndVictorOpsTakeTheGlobalKeyAndURL() throws {
        let yaml = """
            global: {opsgenie_api_key: global-key, opsgenie_api_url: 'http://og.example/api'}
            route: {receiver: a}
            receivers:
              - name: a
                opsgenie_configs:
                  - responders: [{name: ops, type: Team}, {username: '{{ .CommonLabels.owner }}', type: '{{ .CommonLabels.kind }}'}]
                    details: {runbook: 'http://rb'}
                    send_resolved: false
                  - {api_key: own-key, update_alerts: true}
            """
        let receiver = try #require(try NotifyConfigFile.parse(yaml, path: "am.yml").receiver(named: "a"))
        #expect(receiver.opsGenies.map(\.apiKey) == ["global-key", "own-key"])
        #expect(receiver.opsGenies.map(\.updateAlerts) == [false, true])
        #expect(receiver.opsGenies.map(\.apiURL) == ["http://og.example/api/", "http://og.example/api/"])
        #expect(receiver.opsGenies.first?.responders.map(\.type) == ["team", "{{ .CommonLabels.kind }}"])
        #expect(receiver.opsGenies.first?.details.map(\.0) == ["runbook"])
        #expect(receiver.integrations.map(\.sendResolved) == [false, true])
        #expect(receiver.integrations.map(\.name) == ["opsgenie", "opsgenie"])

        let victorOps = """
            global: {victorops_api_key: vo-key}
            route: {receiver: a}
            receivers: [{name: a, victorops_configs: [{routing_key: ops, api_url: 'http://vo.example/alert'}, {routing_key: db}]}]
            """
        let configs = try #require(try NotifyConfigFile.parse(victorOps, path: "am.yml").receiver(named: "a")).victorOps
        #expect(configs.map(\.apiKey) == ["vo-key", "vo-key"])
        #expect(configs.map(\.apiURL) == ["http://vo.example/alert/", "https://alert.victorops.com/integrations/generic/20131114/alert/"])
    }

    @Test func parsesMatcherSyntax() throws {
        let list = try MatcherText.parseList(#"{alertname="Disk, full", severity=~"crit|warn", env!=prod ,team!~"a.*"}"#)
        #expect(list.map(\.name) == ["alertname", "severity", "env", "team"])
        #expect(list.map(\.kind) == [.equal, .regexMatch, .notEqual, .regexNoMatch])
        #expect(list[0].value == "Disk, full" && list[2].value == "prod")
        #expect(sightlineError { _ = try MatcherText.parse("=x") }?.code == .invalidArgument)
        #expect(sightlineError { _ = try MatcherText.parse(#"a="unclosed"#) }?.code == .invalidArgument)
        #expect(sightlineError { _ = try MatcherText.parse(#"a=~"(""#) }?.code == .invalidArgument)
    }

    @Test func durationsRoundTrip() {
        #expect(NotifyDuration.parseMs("1h30m") == 5_400_000)
        #expect(NotifyDuration.parseMs("500ms") == 500)
        #expect(NotifyDuration.parseMs("5x") == nil)
        #expect(NotifyDuration.format(ms: 5_400_000) == "1h30m")
    }
}

@Suite struct NotifyRoutingTests {
    let config: NotifyConfig
    init() throws { config = try NotifyConfigFile.parse(sampleNotifyConfig, path: "am.yml") }

    func receivers(_ pairs: KeyValuePairs<String, String>) -> [String] {
        config.route.match(Labels(pairs)).map(\.receiver)
    }

    @Test func firstMatchingChildUnlessContinue() {
        // team=db & critical matches the first route, which continues to the second (team=db, env=prod stays there).
        #expect(receivers(["alertname": "X", "team": "db", "severity": "critical", "env": "prod"]) == ["db-pager", "db-mail"])
        // Nested: env!=prod goes one level deeper.
        #expect(receivers(["alertname": "X", "team": "db", "env": "dev"]) == ["default"])
        #expect(config.route.match(Labels(["team": "db", "env": "dev"])).first?.key == #"{}/{team="db"}/{env!="prod"}"#)
        // Regex alternatives are anchored: "apiserver" does not match api|web.
        #expect(receivers(["service": "web"]) == ["frontend"])
        #expect(receivers(["service": "apiserver"]) == ["default"])
        #expect(receivers([:]) == ["default"])
    }

    @Test func groupLabelsFollowGroupBy() {
        let labels = Labels(["alertname": "A", "team": "db", "instance": "i1"])
        let routes = config.route.match(labels)
        // The nested route (env!="prod" holds for a missing env) inherits group_by: ['...'].
        #expect(routes.map(\.receiver) == ["default"])
        #expect(routes[0].groupLabels(of: labels) == labels)
        #expect(config.route.groupLabels(of: labels) == Labels(["alertname": "A"]))
        #expect(config.route.routes[1].groupLabels(of: labels) == labels)
    }
}

@Suite struct NotifyTimeIntervalTests {
    let config: NotifyConfig
    init() throws { config = try NotifyConfigFile.parse(sampleNotifyConfig, path: "am.yml") }

    func ms(_ text: String) -> Int64 { NotifyRFC3339.parse(text) ?? 0 }

    @Test func officeHoursAndWeekends() throws {
        let office = try #require(config.timeIntervals["office"]?.first)
        #expect(office.contains(ms: ms("2026-11-26T09:00:00Z")))  // Thursday
        #expect(!office.contains(ms: ms("2026-11-26T17:00:00Z")))  // end is exclusive
        #expect(!office.contains(ms: ms("2026-11-28T10:00:00Z")))  // Saturday
        let weekends = try #require(config.timeIntervals["weekends"]?.first)
        #expect(weekends.contains(ms: ms("2026-11-29T23:59:00Z")))  // Sunday
        #expect(!weekends.contains(ms: ms("2026-11-30T00:00:00Z")))
    }

    @Test func locationsReadTheFieldsInTheirZone() throws {
        let text = "route:\n  receiver: a\nreceivers:\n  - name: a\ntime_intervals:\n  - name: paris\n    time_intervals:\n"
            + "      - times: [{start_time: '09:00', end_time: '17:00'}]\n        weekdays: [monday]\n        location: Europe/Paris\n"
        let paris = try #require(try NotifyConfigFile.parse(text, path: "am.yml").timeIntervals["paris"]?.first)
        #expect(paris.contains(ms: ms("2026-07-06T07:00:00Z")))  // 09:00 CEST
        #expect(!paris.contains(ms: ms("2026-07-06T15:00:00Z")))  // 17:00 CEST
        #expect(paris.contains(ms: ms("2026-01-05T15:59:00Z")))  // 16:59 CET
        #expect(!paris.contains(ms: ms("2026-01-05T07:59:00Z")))  // 08:59 CET
        #expect(!paris.contains(ms: ms("2026-07-05T22:30:00Z")))  // Monday 00:30 in Paris, Sunday in UTC: outside the hours
    }

    @Test func daysOfMonthCountFromTheEnd() throws {
        var spec = TimeIntervalSpec()
        spec.daysOfMonth = [NotifyIntRange(-2, -1)]
        spec.months = [NotifyIntRange(2, 2)]
        #expect(spec.contains(ms: ms("2024-02-28T12:00:00Z")))
        #expect(spec.contains(ms: ms("2024-02-29T12:00:00Z")))
        #expect(!spec.contains(ms: ms("2024-02-27T12:00:00Z")))
        #expect(!spec.contains(ms: ms("2024-03-31T12:00:00Z")))
        spec.daysOfMonth = [NotifyIntRange(1, -1)]
        spec.years = [NotifyIntRange(2025, 2026)]
        #expect(spec.contains(ms: ms("2026-02-15T00:00:00Z")))
        #expect(!spec.contains(ms: ms("2024-02-15T00:00:00Z")))
    }

    @Test func rfc3339RoundTrips() {
        #expect(NotifyRFC3339.format(ms: 0) == "1970-01-01T00:00:00Z")
        #expect(NotifyRFC3339.format(ms: 1_764_151_200_120) == "2025-11-26T10:00:00.12Z")
        #expect(NotifyRFC3339.parse("2025-11-26T10:00:00.12Z") == 1_764_151_200_120)
        #expect(NotifyRFC3339.parse("2025-11-26T12:00:00+02:00") == 1_764_151_200_000)
        #expect(NotifyRFC3339.parse("2025-11-26 bad") == nil)
        #expect(NotifyRFC3339.parse("0001-01-01T00:00:00Z").map(NotifyRFC3339.isZero) == true)
    }
}
