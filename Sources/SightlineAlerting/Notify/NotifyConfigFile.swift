import Foundation
import SightlineCore
import SightlineStorageCore
import Yams

/// Reads Alertmanager's configuration file (`alertmanager.yml`), the subset Sightline's notifier implements:
///
/// ```yaml
/// global: {resolve_timeout: 5m, smtp_from, smtp_smarthost, smtp_hello, smtp_auth_username, smtp_auth_password,
///          smtp_require_tls, slack_api_url, pagerduty_url, opsgenie_api_url, opsgenie_api_key(_file), victorops_api_url,
///          victorops_api_key(_file), webex_api_url, rocketchat_api_url, rocketchat_token(_file), rocketchat_token_id(_file),
///          jira_api_url, wechat_api_url, wechat_api_secret, wechat_api_corp_id}
/// route:                 # receiver, group_by (['...'] = all labels), group_wait 30s, group_interval 5m,
///   receiver: team       # repeat_interval 4h, matchers / match / match_re, continue, mute_time_intervals,
///   routes: [...]        # active_time_intervals, routes
/// inhibit_rules: [{source_matchers, target_matchers, equal}]   # (and legacy source_match(_re), target_match(_re))
/// receivers: [{name, webhook_configs, slack_configs, pagerduty_configs, email_configs, discord_configs, msteams_configs, msteamsv2_configs,
///              telegram_configs, opsgenie_configs, victorops_configs, webex_configs, pushover_configs, rocketchat_configs,
///              sns_configs, jira_configs, wechat_configs}]
/// time_intervals: [{name, time_intervals: [{times, weekdays, days_of_month, months, years, location}]}]
/// templates: [templates/*.tmpl]   # files of {{ define }}s, relative to the config file; globs may match nothing
/// ```
/// Unknown keys and bad values fail with a message naming the file, the key and its line; so does a route that names
/// a receiver or time interval that does not exist.
package enum NotifyConfigFile {
    /// Loads and parses `path`.
    /// - Throws: `configuration` naming the file, key and line.
    package static func load(path: String) throws -> NotifyConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SightlineError(.configuration, "alertmanager config file \(path): cannot be read")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    /// Parses YAML text; `path` only names the source in messages.
    package static func parse(_ text: String, path: String) throws -> NotifyConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw SightlineError(.configuration, "alertmanager config file \(path): not valid YAML: \(error)")
        }
        guard let root else { throw SightlineError(.configuration, "alertmanager config file \(path): is empty; a route and receivers are needed") }
        let reader = Reader(path: path)
        var global = NotifyConfig.Global()
        var routeNode: Node?
        var inhibitRules: [InhibitRule] = []
        var receivers: [(NotifyReceiver, Node)] = []
        var intervals: [String: [TimeIntervalSpec]] = [:]
        var templates = NotifyTemplateLibrary.defaults
        try reader.mapping(root, at: "") { key, node in
            switch key {
            case "global": global = try reader.global(node)
            case "route": routeNode = node
            case "inhibit_rules": inhibitRules = try reader.list(node, at: key).enumerated().map { try reader.inhibitRule($0.element, at: "\(key)[\($0.offset)]") }
            case "receivers": receivers = try reader.list(node, at: key).enumerated().map { (try reader.receiver($0.element, at: "\(key)[\($0.offset)]", global: global), $0.element) }
            case "time_intervals", "mute_time_intervals":
                for (index, item) in try reader.list(node, at: key).enumerated() {
                    let (name, specs) = try reader.timeInterval(item, at: "\(key)[\(index)]")
                    guard intervals[name] == nil else { throw reader.error("\(key)[\(index)].name", item, "time interval \"\(name)\" is defined twice") }
                    intervals[name] = specs
                }
            case "templates": templates = try reader.templates(node, at: key)
            default: throw reader.error(key, node, "unknown key")
            }
        }
        // Receivers read before `global` was seen would miss its defaults; read them again now that it is known.
        if root.mapping?.keys.firstIndex(where: { $0.string == "global" }) != nil {
            receivers = try receivers.enumerated().map { (try reader.receiver($0.element.1, at: "receivers[\($0.offset)]", global: global), $0.element.1) }
        }
        var seen: Set<String> = []
        for (receiver, node) in receivers {
            guard seen.insert(receiver.name).inserted else { throw reader.error("receivers", node, "receiver \"\(receiver.name)\" is defined twice") }
        }
        guard let routeNode else { throw SightlineError(.configuration, "alertmanager config file \(path): no route provided in config") }
        var nextIndex = 0
        let route = try reader.route(
            routeNode, at: "route", parent: nil, index: &nextIndex, receivers: seen, intervals: Set(intervals.keys))
        var config = NotifyConfig(route: route)
        config.global = global
        config.inhibitRules = inhibitRules
        config.receivers = receivers.map(\.0)
        config.timeIntervals = intervals
        config.original = text
        config.templates = templates
        return config
    }

    private struct Reader {
        let path: String

        func error(_ key: String, _ node: Node, _ message: String) -> SightlineError {
            let line = node.mark.map { " (line \($0.line))" } ?? ""
            return SightlineError(.configuration, "alertmanager config file \(path): key '\(key)'\(line): \(message)")
        }

        func mapping(_ node: Node, at prefix: String, _ body: (String, Node) throws -> Void) throws {
            guard let mapping = node.mapping else {
                throw error(prefix.isEmpty ? "(top level)" : prefix, node, "expected a mapping of keys to values")
            }
            for (keyNode, value) in mapping {
                guard let key = keyNode.string else { throw error(prefix, keyNode, "keys must be strings") }
                try body(prefix.isEmpty ? key : "\(prefix).\(key)", value)
            }
        }

        /// The default templates plus those defined in the files the `templates:` globs match, in order.
        func templates(_ node: Node, at key: String) throws -> NotifyTemplateLibrary {
            let directory = (path as NSString).deletingLastPathComponent
            var library = NotifyTemplateLibrary.defaults
            for (index, item) in try list(node, at: key).enumerated() {
                let pattern = try string(item, at: "\(key)[\(index)]")
                let resolved = pattern.hasPrefix("/") || directory.isEmpty ? pattern : directory + "/" + pattern
                for file in FileGlob.paths([resolved]) {
                    guard let data = FileManager.default.contents(atPath: file) else {
                        throw error("\(key)[\(index)]", item, "template file \(file) cannot be read")
                    }
                    do {
                        library = try library.adding(file: (file as NSString).lastPathComponent, text: String(decoding: data, as: UTF8.self))
                    } catch {
                        throw self.error("\(key)[\(index)]", item, "template file \(file): \(error)")
                    }
                }
            }
            return library
        }

        func list(_ node: Node, at key: String) throws -> [Node] {
            if let scalar = node.scalar, ["", "~", "null"].contains(scalar.string) { return [] }
            guard let sequence = node.sequence else { throw error(key, node, "expected a list") }
            return Array(sequence)
        }

        func string(_ node: Node, at key: String) throws -> String {
            guard let scalar = node.scalar else { throw error(key, node, "expected a string") }
            return scalar.string
        }

        func strings(_ node: Node, at key: String) throws -> [String] {
            try list(node, at: key).map { try string($0, at: key) }
        }

        func bool(_ node: Node, at key: String) throws -> Bool {
            switch try string(node, at: key).lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: throw error(key, node, "expected true or false, got \"\(node.scalar?.string ?? "")\"")
            }
        }

        func integer(_ node: Node, at key: String) throws -> Int {
            guard let value = Int(try string(node, at: key)), value >= 0 else {
                throw error(key, node, "expected an integer ≥ 0, got \"\(node.scalar?.string ?? "")\"")
            }
            return value
        }

        func duration(_ node: Node, at key: String, positive: Bool = true) throws -> Int64 {
            let text = try string(node, at: key)
            guard let ms = NotifyDuration.parseMs(text), !positive || ms > 0 else {
                throw error(key, node, "expected a positive duration like 30s, 5m or 4h, got \"\(text)\"")
            }
            return ms
        }

        func url(_ node: Node, at key: String) throws -> String {
            let text = try string(node, at: key)
            guard text.hasPrefix("http://") || text.hasPrefix("https://"), text.count > 8 else {
                throw error(key, node, "expected an http:// or https:// URL, got \"\(text)\"")
            }
            return text
        }

        func stringMap(_ node: Node, at key: String) throws -> [(String, String)] {
            var pairs: [(String, String)] = []
            try mapping(node, at: key) { name, value in pairs.append((String(name.dropFirst(key.count + 1)), try string(value, at: name))) }
            return pairs
        }

        func matchers(_ node: Node, at key: String) throws -> [LabelMatcher] {
            try list(node, at: key).map { item in
                let text = try string(item, at: key)
                do { return try MatcherText.parseList(text) } catch let failure as SightlineError {
                    throw error(key, item, failure.message)
                }
            }.flatMap { $0 }
        }

        func legacyMatchers(_ node: Node, at key: String, regex: Bool) throws -> [LabelMatcher] {
            try stringMap(node, at: key).map { name, value in
                guard name.first.map({ $0.isNotifyLabelNameCharacter(first: true) }) ?? false, name.allSatisfy({ $0.isNotifyLabelNameCharacter(first: false) }) else {
                    throw error("\(key).\(name)", node, "invalid label name \"\(name)\"")
                }
                do { return try LabelMatcher(name, regex ? .regexMatch : .equal, value) } catch let failure as SightlineError {
                    throw error("\(key).\(name)", node, failure.message)
                }
            }
        }

        func global(_ node: Node) throws -> NotifyConfig.Global {
            var global = NotifyConfig.Global()
            try mapping(node, at: "global") { key, value in
                switch key {
                case "global.resolve_timeout": global.resolveTimeoutMs = try duration(value, at: key)
                case "global.smtp_from": global.smtpFrom = try string(value, at: key)
                case "global.smtp_smarthost": global.smtpSmarthost = try hostPort(value, at: key)
                case "global.smtp_hello": global.smtpHello = try string(value, at: key)
                case "global.smtp_auth_username": global.smtpAuthUsername = try string(value, at: key)
                case "global.smtp_auth_password": global.smtpAuthPassword = try string(value, at: key)
                case "global.smtp_require_tls": global.smtpRequireTLS = try bool(value, at: key)
                case "global.slack_api_url": global.slackAPIURL = try url(value, at: key)
                case "global.pagerduty_url": global.pagerdutyURL = try url(value, at: key)
                case "global.opsgenie_api_url": global.opsgenieAPIURL = try url(value, at: key)
                case "global.opsgenie_api_key": global.opsgenieAPIKey = try string(value, at: key)
                case "global.opsgenie_api_key_file": global.opsgenieAPIKey = try secretFile(try string(value, at: key), value, at: key)
                case "global.victorops_api_url": global.victoropsAPIURL = try url(value, at: key)
                case "global.victorops_api_key": global.victoropsAPIKey = try string(value, at: key)
                case "global.victorops_api_key_file": global.victoropsAPIKey = try secretFile(try string(value, at: key), value, at: key)
                case "global.webex_api_url": global.webexAPIURL = try url(value, at: key)
                case "global.rocketchat_api_url": global.rocketChatAPIURL = try url(value, at: key)
                case "global.jira_api_url": global.jiraAPIURL = try url(value, at: key)
                case "global.wechat_api_url": global.weChatAPIURL = try url(value, at: key)
                case "global.wechat_api_secret": global.weChatAPISecret = try string(value, at: key)
                case "global.wechat_api_corp_id": global.weChatCorpID = try string(value, at: key)
                case "global.rocketchat_token": global.rocketChatToken = try string(value, at: key)
                case "global.rocketchat_token_file": global.rocketChatToken = try secretFile(try string(value, at: key), value, at: key)
                case "global.rocketchat_token_id": global.rocketChatTokenID = try string(value, at: key)
                case "global.rocketchat_token_id_file": global.rocketChatTokenID = try secretFile(try string(value, at: key), value, at: key)
                case "global.http_config", "global.smtp_auth_identity", "global.smtp_auth_secret", "global.telegram_api_url":
                    break
                default: throw error(key, value, "unknown key")
                }
            }
            return global
        }

        func hostPort(_ node: Node, at key: String) throws -> String {
            let text = try string(node, at: key)
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].isEmpty, Int(text[text.index(after: colon)...]) != nil else {
                throw error(key, node, "expected host:port, got \"\(text)\"")
            }
            return text
        }

        func route(
            _ node: Node, at prefix: String, parent: NotifyRoute?, index: inout Int, receivers: Set<String>, intervals: Set<String>
        ) throws -> NotifyRoute {
            var receiver: String?
            var groupBy: [String]?
            var groupByAll = false
            var groupWait: Int64?
            var groupInterval: Int64?
            var repeatInterval: Int64?
            var matchers: [LabelMatcher] = []
            var continues = false
            var mute: [String] = []
            var active: [String] = []
            var childNodes: [(Node, String)] = []
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "receiver":
                    let name = try string(value, at: key)
                    guard receivers.contains(name) else { throw error(key, value, "undefined receiver \"\(name)\" used in route") }
                    receiver = name
                case "group_by":
                    let names = try strings(value, at: key)
                    if names.contains("...") {
                        guard names.count == 1 else { throw error(key, value, "cannot have wildcard group_by (`...`) and other labels at the same time") }
                        groupByAll = true
                        groupBy = []
                    } else {
                        var seen: Set<String> = []
                        for name in names {
                            guard !name.isEmpty, name.first?.isNotifyLabelNameCharacter(first: true) == true,
                                name.allSatisfy({ $0.isNotifyLabelNameCharacter(first: false) })
                            else { throw error(key, value, "invalid label name \"\(name)\" in group_by list") }
                            guard seen.insert(name).inserted else { throw error(key, value, "duplicated label \"\(name)\" in group_by") }
                        }
                        groupBy = names
                    }
                case "group_wait": groupWait = try duration(value, at: key, positive: false)
                case "group_interval": groupInterval = try duration(value, at: key)
                case "repeat_interval": repeatInterval = try duration(value, at: key)
                case "matchers": matchers += try self.matchers(value, at: key)
                case "match": matchers += try legacyMatchers(value, at: key, regex: false)
                case "match_re": matchers += try legacyMatchers(value, at: key, regex: true)
                case "continue": continues = try bool(value, at: key)
                case "mute_time_intervals", "active_time_intervals":
                    let names = try strings(value, at: key)
                    for name in names where !intervals.contains(name) {
                        throw error(key, value, "undefined time interval \"\(name)\" used in route")
                    }
                    if key.hasSuffix("mute_time_intervals") { mute = names } else { active = names }
                case "routes":
                    childNodes = try list(value, at: key).enumerated().map { ($0.element, "\(key)[\($0.offset)]") }
                default: throw error(key, value, "unknown key")
                }
            }
            if parent == nil {
                guard receiver != nil else { throw error(prefix, node, "root route must specify a default receiver") }
                guard matchers.isEmpty else { throw error(prefix, node, "root route must not have any matchers") }
                guard !continues else { throw error(prefix, node, "cannot have continue in root route") }
                guard mute.isEmpty else { throw error(prefix, node, "root route must not have any mute time intervals") }
                guard active.isEmpty else { throw error(prefix, node, "root route must not have any active time intervals") }
            }
            // Alertmanager's order for route keys: name, then value, then type (=, !=, =~, !~).
            let typeOrder: [LabelMatcher.Kind: Int] = [.equal: 0, .notEqual: 1, .regexMatch: 2, .regexNoMatch: 3]
            matchers.sort { ($0.name, $0.value, typeOrder[$0.kind] ?? 0) < ($1.name, $1.value, typeOrder[$1.kind] ?? 0) }
            let matchersText = MatcherText.format(matchers)
            var route = NotifyRoute(
                receiver: receiver ?? parent?.receiver ?? "",
                groupBy: groupBy ?? parent?.groupBy ?? [],
                groupByAll: groupBy == nil ? parent?.groupByAll ?? false : groupByAll,
                groupWaitMs: groupWait ?? parent?.groupWaitMs ?? 30_000,
                groupIntervalMs: groupInterval ?? parent?.groupIntervalMs ?? 300_000,
                repeatIntervalMs: repeatInterval ?? parent?.repeatIntervalMs ?? 14_400_000,
                matchers: matchers,
                continue: continues,
                muteTimeIntervals: mute,
                activeTimeIntervals: active,
                routes: [],
                key: parent.map { "\($0.key)/\(matchersText)" } ?? matchersText,
                index: index)
            index += 1
            var children: [NotifyRoute] = []
            for (child, key) in childNodes {
                children.append(try self.route(child, at: key, parent: route, index: &index, receivers: receivers, intervals: intervals))
            }
            route.routes = children
            return route
        }

        func inhibitRule(_ node: Node, at prefix: String) throws -> InhibitRule {
            var rule = InhibitRule(sourceMatchers: [], targetMatchers: [], equal: [])
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "source_matchers": rule.sourceMatchers += try matchers(value, at: key)
                case "target_matchers": rule.targetMatchers += try matchers(value, at: key)
                case "source_match": rule.sourceMatchers += try legacyMatchers(value, at: key, regex: false)
                case "source_match_re": rule.sourceMatchers += try legacyMatchers(value, at: key, regex: true)
                case "target_match": rule.targetMatchers += try legacyMatchers(value, at: key, regex: false)
                case "target_match_re": rule.targetMatchers += try legacyMatchers(value, at: key, regex: true)
                case "equal": rule.equal = try strings(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            return rule
        }

        func receiver(_ node: Node, at prefix: String, global: NotifyConfig.Global) throws -> NotifyReceiver {
            var receiver = NotifyReceiver(name: "")
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "name": receiver.name = try string(value, at: key)
                case "webhook_configs":
                    receiver.webhooks = try list(value, at: key).enumerated().map { try webhook($0.element, at: "\(key)[\($0.offset)]") }
                case "slack_configs":
                    receiver.slacks = try list(value, at: key).enumerated().map { try slack($0.element, at: "\(key)[\($0.offset)]", global: global) }
                case "pagerduty_configs":
                    receiver.pagerDuties = try list(value, at: key).enumerated().map { try pagerDuty($0.element, at: "\(key)[\($0.offset)]", global: global) }
                case "email_configs":
                    receiver.emails = try list(value, at: key).enumerated().map { try email($0.element, at: "\(key)[\($0.offset)]", global: global) }
                case "discord_configs":
                    receiver.discords = try list(value, at: key).enumerated().map { try discord($0.element, at: "\(key)[\($0.offset)]") }
                case "msteams_configs":
                    receiver.msTeams = try list(value, at: key).enumerated().map { try msTeams($0.element, at: "\(key)[\($0.offset)]") }
                case "msteamsv2_configs":
                    receiver.msTeamsV2 = try list(value, at: key).enumerated().map { try msTeamsV2($0.element, at: "\(key)[\($0.offset)]") }
                case "telegram_configs":
                    receiver.telegrams = try list(value, at: key).enumerated().map { try telegram($0.element, at: "\(key)[\($0.offset)]") }
                case "opsgenie_configs":
                    receiver.opsGenies = try list(value, at: key).enumerated().map { try opsGenie($0.element, at: "\(key)[\($0.offset)]", global: global) }
                case "victorops_configs":
                    receiver.victorOps = try list(value, at: key).enumerated().map { try victorOps($0.element, at: "\(key)[\($0.offset)]", global: global) }
                case "webex_configs":
                    receiver.webexes = try list(value, at: key).enumerated().map { try webex($0.element, at: "\(key)[\($0.offset)]", global: global) }
                case "pushover_configs":
                    receiver.pushovers = try list(value, at: key).enumerated().map { try pushover($0.element, at: "\(key)[\($0.offset)]") }
                case "wechat_configs":
                    receiver.weChats = try list(value, at: key).enumerated().map { try weChat($0.element, at: "\(key)[\($0.offset)]", global: global) }
                case "jira_configs":
                    receiver.jiras = try list(value, at: key).enumerated().map { try jira($0.element, at: "\(key)[\($0.offset)]", global: global) }
                case "rocketchat_configs":
                    receiver.rocketChats = try list(value, at: key).enumerated().map {
                        try rocketChat($0.element, at: "\(key)[\($0.offset)]", global: global)
                    }
                case "sns_configs":
                    receiver.snses = try list(value, at: key).enumerated().map { try sns($0.element, at: "\(key)[\($0.offset)]") }
                default:
                    throw error(
                        key, value,
                        "unknown key (receiver types other than webhook, slack, pagerduty, email, discord, msteams, msteamsv2, telegram, opsgenie, victorops, webex, pushover, rocketchat, sns, jira and wechat are not supported)")
                }
            }
            guard !receiver.name.isEmpty else { throw error(prefix, node, "missing name in receiver") }
            return receiver
        }

        func webhook(_ node: Node, at prefix: String) throws -> WebhookConfig {
            var config = WebhookConfig(url: "")
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "url": config.url = try url(value, at: key)
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                case "max_alerts": config.maxAlerts = try integer(value, at: key)
                case "http_config": (config.authorization, config.tls) = try httpConfig(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            guard !config.url.isEmpty else { throw error(prefix, node, "one of url or url_file must be configured") }
            return config
        }

        /// The text of a secret's file (`…_file` keys), without surrounding whitespace.
        func secretFile(_ path: String, _ node: Node, at key: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: path) else { throw error(key, node, "cannot read \(path)") }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// `own` (the value of `key`), or the secret in the file `key_file` names when that is set; at most one of
        /// the two may be.
        func secret(_ own: String, file: String?, key: String, _ node: Node, at prefix: String) throws -> String {
            guard let file else { return own }
            guard own.isEmpty else { throw error(prefix, node, "at most one of \(key) & \(key)_file must be configured") }
            return try secretFile(file, node, at: "\(prefix).\(key)_file")
        }

        /// `http_config`: the Authorization header value it asks for (Bearer or Basic), and its `tls_config`.
        func httpConfig(_ node: Node, at prefix: String) throws -> (authorization: String?, tls: NotifyTLSOptions?) {
            var header: String?
            var tls: NotifyTLSOptions?
            func file(_ value: Node, at key: String) throws -> String { try secretFile(try string(value, at: key), value, at: key) }
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "bearer_token": header = "Bearer " + (try string(value, at: key))
                case "bearer_token_file": header = "Bearer " + (try file(value, at: key))
                case "authorization":
                    var type = "Bearer"
                    var credentials = ""
                    try mapping(value, at: key) { inner, innerValue in
                        switch String(inner.dropFirst(key.count + 1)) {
                        case "type": type = try string(innerValue, at: inner)
                        case "credentials": credentials = try string(innerValue, at: inner)
                        case "credentials_file": credentials = try file(innerValue, at: inner)
                        default: throw error(inner, innerValue, "unknown key")
                        }
                    }
                    guard type.lowercased() != "basic" else { throw error(key, value, "use basic_auth for Basic authorization") }
                    header = "\(type) \(credentials)"
                case "basic_auth":
                    var username = ""
                    var password = ""
                    try mapping(value, at: key) { inner, innerValue in
                        switch String(inner.dropFirst(key.count + 1)) {
                        case "username": username = try string(innerValue, at: inner)
                        case "password": password = try string(innerValue, at: inner)
                        case "password_file": password = try file(innerValue, at: inner)
                        default: throw error(inner, innerValue, "unknown key")
                        }
                    }
                    header = "Basic " + Base64.encode(Array("\(username):\(password)".utf8))
                case "tls_config": tls = try tlsConfig(value, at: key)
                case "follow_redirects", "enable_http2": _ = try bool(value, at: key)
                default: throw error(key, value, "unknown key (supported: bearer_token(_file), authorization, basic_auth, tls_config)")
                }
            }
            return (header, tls)
        }

        /// `tls_config`: CA, client certificate, server name, verification; the files must be readable now.
        func tlsConfig(_ node: Node, at prefix: String) throws -> NotifyTLSOptions {
            var options = NotifyTLSOptions()
            func file(_ value: Node, at key: String) throws -> String {
                let path = try string(value, at: key)
                guard FileManager.default.isReadableFile(atPath: path) else { throw error(key, value, "cannot read \(path)") }
                return path
            }
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "ca_file": options.caFile = try file(value, at: key)
                case "cert_file": options.certFile = try file(value, at: key)
                case "key_file": options.keyFile = try file(value, at: key)
                case "server_name": options.serverName = try string(value, at: key)
                case "insecure_skip_verify": options.insecureSkipVerify = try bool(value, at: key)
                default: throw error(key, value, "unknown key (supported: ca_file, cert_file, key_file, server_name, insecure_skip_verify)")
                }
            }
            guard (options.certFile == nil) == (options.keyFile == nil) else {
                throw error(prefix, node, "cert_file and key_file must be given together")
            }
            return options
        }

        /// A receiver posted to a webhook (Discord, Teams): `webhook_url` or the URL in the file `webhook_url_file`
        /// names (exactly one of them), `http_config`'s TLS, `send_resolved`, and its text fields by key.
        func webhookReceiver<Config>(
            _ node: Node, at prefix: String, _ defaults: Config, urlPath: WritableKeyPath<Config, String>,
            tlsPath: WritableKeyPath<Config, NotifyTLSOptions?>, sendResolvedPath: WritableKeyPath<Config, Bool>,
            texts: [String: WritableKeyPath<Config, String>]
        ) throws -> Config {
            var config = defaults
            var file: String?
            try mapping(node, at: prefix) { key, value in
                let name = String(key.dropFirst(prefix.count + 1))
                switch name {
                case "webhook_url": config[keyPath: urlPath] = try url(value, at: key)
                case "webhook_url_file": file = try string(value, at: key)
                case "http_config": config[keyPath: tlsPath] = try httpConfig(value, at: key).tls
                case "send_resolved": config[keyPath: sendResolvedPath] = try bool(value, at: key)
                default:
                    guard let path = texts[name] else { throw error(key, value, "unknown key") }
                    config[keyPath: path] = try string(value, at: key)
                }
            }
            if let file {
                let text = try secret(config[keyPath: urlPath], file: file, key: "webhook_url", node, at: prefix)
                guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                    throw error("\(prefix).webhook_url_file", node, "expected an http:// or https:// URL in \(file)")
                }
                config[keyPath: urlPath] = text
            }
            guard !config[keyPath: urlPath].isEmpty else { throw error(prefix, node, "one of webhook_url or webhook_url_file must be configured") }
            return config
        }

        func discord(_ node: Node, at prefix: String) throws -> DiscordConfig {
            try webhookReceiver(
                node, at: prefix, DiscordConfig(), urlPath: \.webhookURL, tlsPath: \.tls, sendResolvedPath: \.sendResolved,
                texts: ["title": \.title, "message": \.message, "content": \.content, "username": \.username, "avatar_url": \.avatarURL])
        }

        func msTeams(_ node: Node, at prefix: String) throws -> MSTeamsConfig {
            try webhookReceiver(
                node, at: prefix, MSTeamsConfig(), urlPath: \.webhookURL, tlsPath: \.tls, sendResolvedPath: \.sendResolved,
                texts: ["title": \.title, "summary": \.summary, "text": \.text])
        }

        func msTeamsV2(_ node: Node, at prefix: String) throws -> MSTeamsV2Config {
            try webhookReceiver(
                node, at: prefix, MSTeamsV2Config(), urlPath: \.webhookURL, tlsPath: \.tls, sendResolvedPath: \.sendResolved,
                texts: ["title": \.title, "text": \.text])
        }

        func telegram(_ node: Node, at prefix: String) throws -> TelegramConfig {
            var config = TelegramConfig()
            var tokenFile: String?
            var chatFile: String?
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "api_url": config.apiURL = try url(value, at: key)
                case "bot_token": config.botToken = try string(value, at: key)
                case "bot_token_file": tokenFile = try string(value, at: key)
                case "chat_id":
                    let text = try string(value, at: key)
                    guard let id = Int64(text) else { throw error(key, value, "expected a chat id (an integer), got \"\(text)\"") }
                    config.chatID = id
                case "chat_id_file": chatFile = try string(value, at: key)
                case "message_thread_id": config.messageThreadID = Int64(try integer(value, at: key))
                case "message": config.message = try string(value, at: key)
                case "disable_notifications": config.disableNotifications = try bool(value, at: key)
                case "parse_mode":
                    let mode = try string(value, at: key)
                    guard ["", "Markdown", "MarkdownV2", "HTML"].contains(mode) else {
                        throw error(key, value, "unknown parse_mode \"\(mode)\", must be Markdown, MarkdownV2, HTML or empty string")
                    }
                    config.parseMode = mode
                case "http_config": config.tls = try httpConfig(value, at: key).tls
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            config.botToken = try secret(config.botToken, file: tokenFile, key: "bot_token", node, at: prefix)
            if let chatFile {
                guard config.chatID == 0 else { throw error(prefix, node, "at most one of chat_id & chat_id_file must be configured") }
                let text = try secretFile(chatFile, node, at: "\(prefix).chat_id_file")
                guard let id = Int64(text) else { throw error("\(prefix).chat_id_file", node, "expected a chat id in \(chatFile), got \"\(text)\"") }
                config.chatID = id
            }
            guard config.chatID != 0 else { throw error(prefix, node, "missing chat_id or chat_id_file on telegram_config") }
            guard !config.botToken.isEmpty else { throw error(prefix, node, "missing bot_token or bot_token_file on telegram_config") }
            return config
        }

        func pushover(_ node: Node, at prefix: String) throws -> PushoverConfig {
            var config = PushoverConfig()
            var userKeyFile: String?
            var tokenFile: String?
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "user_key": config.userKey = try string(value, at: key)
                case "user_key_file": userKeyFile = try string(value, at: key)
                case "token": config.token = try string(value, at: key)
                case "token_file": tokenFile = try string(value, at: key)
                case "title": config.title = try string(value, at: key)
                case "message": config.message = try string(value, at: key)
                case "url": config.url = try string(value, at: key)
                case "url_title": config.urlTitle = try string(value, at: key)
                case "device": config.device = try string(value, at: key)
                case "sound": config.sound = try string(value, at: key)
                case "priority": config.priority = try string(value, at: key)
                case "retry": config.retryMs = try duration(value, at: key, positive: false)
                case "expire": config.expireMs = try duration(value, at: key, positive: false)
                case "ttl": config.ttlMs = try duration(value, at: key, positive: false)
                case "html": config.html = try bool(value, at: key)
                case "monospace": config.monospace = try bool(value, at: key)
                case "http_config": config.tls = try httpConfig(value, at: key).tls
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            config.userKey = try secret(config.userKey, file: userKeyFile, key: "user_key", node, at: prefix)
            config.token = try secret(config.token, file: tokenFile, key: "token", node, at: prefix)
            guard !config.userKey.isEmpty else { throw error(prefix, node, "one of user_key or user_key_file must be configured") }
            guard !config.token.isEmpty else { throw error(prefix, node, "one of token or token_file must be configured") }
            guard !(config.html && config.monospace) else { throw error(prefix, node, "at most one of monospace & html must be configured") }
            return config
        }

        func rocketChat(_ node: Node, at prefix: String, global: NotifyConfig.Global) throws -> RocketChatConfig {
            var config = RocketChatConfig()
            config.apiURL = global.rocketChatAPIURL
            var ownToken: String?
            var ownTokenID: String?
            var tokenFile: String?
            var tokenIDFile: String?
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "api_url": config.apiURL = try url(value, at: key)
                case "token": ownToken = try string(value, at: key)
                case "token_file": tokenFile = try string(value, at: key)
                case "token_id": ownTokenID = try string(value, at: key)
                case "token_id_file": tokenIDFile = try string(value, at: key)
                case "channel": config.channel = try string(value, at: key)
                case "color": config.color = try string(value, at: key)
                case "title": config.title = try string(value, at: key)
                case "title_link": config.titleLink = try string(value, at: key)
                case "text": config.text = try string(value, at: key)
                case "emoji": config.emoji = try string(value, at: key)
                case "icon_url": config.iconURL = try string(value, at: key)
                case "image_url": config.imageURL = try string(value, at: key)
                case "thumb_url": config.thumbURL = try string(value, at: key)
                case "short_fields": config.shortFields = try bool(value, at: key)
                case "link_names": _ = try bool(value, at: key)  // Alertmanager reads it and sends nothing for it
                case "fields":
                    config.fields = try list(value, at: key).enumerated().map { index, item in
                        var field = RocketChatConfig.Field()
                        try mapping(item, at: "\(key)[\(index)]") { fieldKey, fieldValue in
                            switch String(fieldKey.dropFirst("\(key)[\(index)]".count + 1)) {
                            case "title": field.title = try string(fieldValue, at: fieldKey)
                            case "value": field.value = try string(fieldValue, at: fieldKey)
                            case "short": field.short = try bool(fieldValue, at: fieldKey)
                            default: throw error(fieldKey, fieldValue, "unknown key")
                            }
                        }
                        return field
                    }
                case "actions":
                    config.actions = try list(value, at: key).enumerated().map { index, item in
                        var action = RocketChatConfig.Action()
                        try mapping(item, at: "\(key)[\(index)]") { actionKey, actionValue in
                            switch String(actionKey.dropFirst("\(key)[\(index)]".count + 1)) {
                            case "type":
                                let type = try string(actionValue, at: actionKey)
                                guard type == "button" else { throw error(actionKey, actionValue, "only actions of type button are supported") }
                            case "text": action.text = try string(actionValue, at: actionKey)
                            case "url": action.url = try string(actionValue, at: actionKey)
                            case "msg": action.msg = try string(actionValue, at: actionKey)
                            default: throw error(actionKey, actionValue, "unknown key")
                            }
                        }
                        return action
                    }
                case "http_config": config.tls = try httpConfig(value, at: key).tls
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            config.tokenID = try secretOrGlobal(
                own: ownTokenID, file: tokenIDFile, global: global.rocketChatTokenID, key: "token_id", node, at: prefix,
                missing: "no global Rocketchat TokenID set either inline or in a file")
            config.token = try secretOrGlobal(
                own: ownToken, file: tokenFile, global: global.rocketChatToken, key: "token", node, at: prefix,
                missing: "no global Rocketchat Token set either inline or in a file")
            if !config.apiURL.hasSuffix("/") { config.apiURL += "/" }
            return config
        }

        func weChat(_ node: Node, at prefix: String, global: NotifyConfig.Global) throws -> WeChatConfig {
            var config = WeChatConfig()
            config.apiURL = global.weChatAPIURL
            config.apiSecret = global.weChatAPISecret
            config.corpID = global.weChatCorpID
            var (ownSecret, secretFile) = ("", String?.none)
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "api_url": config.apiURL = try url(value, at: key)
                case "api_secret": ownSecret = try string(value, at: key)
                case "api_secret_file": secretFile = try string(value, at: key)
                case "corp_id": config.corpID = try string(value, at: key)
                case "message": config.message = try string(value, at: key)
                case "message_type":
                    config.messageType = try string(value, at: key)
                    guard config.messageType == "text" || config.messageType == "markdown" else {
                        throw error(key, value, "weChat message type \"\(config.messageType)\" does not match valid options text or markdown")
                    }
                case "agent_id": config.agentID = try string(value, at: key)
                case "to_user": config.toUser = try string(value, at: key)
                case "to_party": config.toParty = try string(value, at: key)
                case "to_tag": config.toTag = try string(value, at: key)
                case "http_config": config.tls = try httpConfig(value, at: key).tls
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            let secret = try self.secret(ownSecret, file: secretFile, key: "api_secret", node, at: prefix)
            if !secret.isEmpty { config.apiSecret = secret }
            guard !config.apiSecret.isEmpty else { throw error(prefix, node, "no global Wechat ApiSecret set") }
            guard !config.corpID.isEmpty else { throw error(prefix, node, "no global Wechat CorpID set") }
            if !config.apiURL.hasSuffix("/") { config.apiURL += "/" }
            return config
        }

        func jira(_ node: Node, at prefix: String, global: NotifyConfig.Global) throws -> JiraConfig {
            var config = JiraConfig()
            config.apiURL = global.jiraAPIURL
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "api_url": config.apiURL = try url(value, at: key)
                case "project": config.project = try string(value, at: key)
                case "summary": config.summary = try string(value, at: key)
                case "description": config.description = try string(value, at: key)
                case "labels": config.labels = try list(value, at: key).enumerated().map { try string($0.element, at: "\(key)[\($0.offset)]") }
                case "priority": config.priority = try string(value, at: key)
                case "issue_type": config.issueType = try string(value, at: key)
                case "resolve_transition": config.resolveTransition = try string(value, at: key)
                case "reopen_transition": config.reopenTransition = try string(value, at: key)
                case "wont_fix_resolution": config.wontFixResolution = try string(value, at: key)
                case "reopen_duration": config.reopenDurationMs = try duration(value, at: key, positive: false)
                case "fields":
                    guard case .mapping(let fields) = value else { throw error(key, value, "expected a mapping of field names to values") }
                    config.fields = fields.map { (($0.key.string ?? ""), JiraFieldValue($0.value)) }
                case "http_config":
                    let http = try httpConfig(value, at: key)
                    config.authorization = http.authorization
                    config.tls = http.tls
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            guard !config.apiURL.isEmpty else { throw error(prefix, node, "no global Jira API URL set") }
            guard !config.project.isEmpty else { throw error(prefix, node, "missing project in jira_config") }
            guard !config.issueType.isEmpty else { throw error(prefix, node, "missing issue_type in jira_config") }
            if !config.apiURL.hasSuffix("/") { config.apiURL += "/" }
            return config
        }

        func sns(_ node: Node, at prefix: String) throws -> SNSConfig {
            var config = SNSConfig()
            let environment = ProcessInfo.processInfo.environment
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "api_url": config.apiURL = try url(value, at: key)
                case "topic_arn": config.topicARN = try string(value, at: key)
                case "phone_number": config.phoneNumber = try string(value, at: key)
                case "target_arn": config.targetARN = try string(value, at: key)
                case "subject": config.subject = try string(value, at: key)
                case "message": config.message = try string(value, at: key)
                case "attributes": config.attributes = try stringMap(value, at: key)
                case "sigv4":
                    try mapping(value, at: key) { sigKey, sigValue in
                        switch String(sigKey.dropFirst(key.count + 1)) {
                        case "region": config.region = try string(sigValue, at: sigKey)
                        case "access_key": config.credentials.accessKey = try string(sigValue, at: sigKey)
                        case "secret_key": config.credentials.secretKey = try string(sigValue, at: sigKey)
                        case "profile", "role_arn":
                            throw error(
                                sigKey, sigValue,
                                "AWS profiles and assumed roles are not supported: give access_key and secret_key, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
                        default: throw error(sigKey, sigValue, "unknown key")
                        }
                    }
                case "http_config": config.tls = try httpConfig(value, at: key).tls
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            let destinations = [config.topicARN, config.phoneNumber, config.targetARN].filter { !$0.isEmpty }.count
            guard destinations == 1 else {
                throw error(prefix, node, "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config")
            }
            // As the AWS SDK's default chain does for static credentials: the environment when the file gives none.
            if config.credentials.accessKey.isEmpty && config.credentials.secretKey.isEmpty {
                config.credentials = AWSSignatureV4.Credentials(
                    accessKey: environment["AWS_ACCESS_KEY_ID"] ?? "", secretKey: environment["AWS_SECRET_ACCESS_KEY"] ?? "",
                    sessionToken: environment["AWS_SESSION_TOKEN"] ?? "")
            }
            guard !config.credentials.accessKey.isEmpty, !config.credentials.secretKey.isEmpty else {
                throw error(prefix, node, "missing sigv4.access_key and sigv4.secret_key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
            }
            if config.region.isEmpty { config.region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "" }
            guard !config.region.isEmpty else { throw error(prefix, node, "region not configured in sns.sigv4.region or in default credentials chain") }
            return config
        }

        func slack(_ node: Node, at prefix: String, global: NotifyConfig.Global) throws -> SlackConfig {
            var config = SlackConfig()
            config.apiURL = global.slackAPIURL
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "api_url": config.apiURL = try url(value, at: key)
                case "channel": config.channel = try string(value, at: key)
                case "username": config.username = try string(value, at: key)
                case "title": config.title = try string(value, at: key)
                case "title_link": config.titleLink = try string(value, at: key)
                case "text": config.text = try string(value, at: key)
                case "color": config.color = try string(value, at: key)
                case "http_config": config.tls = try httpConfig(value, at: key).tls
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            guard !config.apiURL.isEmpty else { throw error(prefix, node, "no global Slack API URL set either inline or in a file") }
            return config
        }

        func pagerDuty(_ node: Node, at prefix: String, global: NotifyConfig.Global) throws -> PagerDutyConfig {
            var config = PagerDutyConfig()
            config.url = global.pagerdutyURL
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "routing_key": config.routingKey = try string(value, at: key)
                case "url": config.url = try url(value, at: key)
                case "client": config.client = try string(value, at: key)
                case "client_url": config.clientURL = try string(value, at: key)
                case "description", "summary": config.description = try string(value, at: key)
                case "severity": config.severity = try string(value, at: key)
                case "source": config.source = try string(value, at: key)
                case "http_config": config.tls = try httpConfig(value, at: key).tls
                case "details":
                    for (name, text) in try stringMap(value, at: key) {
                        if let index = config.details.firstIndex(where: { $0.0 == name }) { config.details[index].1 = text } else { config.details.append((name, text)) }
                    }
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            guard !config.routingKey.isEmpty else { throw error(prefix, node, "missing routing_key in PagerDuty config (service_key, Events API v1, is not supported)") }
            return config
        }

        func opsGenie(_ node: Node, at prefix: String, global: NotifyConfig.Global) throws -> OpsGenieConfig {
            var config = OpsGenieConfig()
            config.apiURL = global.opsgenieAPIURL
            var keyFile: String?
            var ownKey: String?
            func people(_ value: Node, at key: String) throws -> [OpsGenieConfig.Responder] {
                try list(value, at: key).enumerated().map { offset, item in
                    let at = "\(key)[\(offset)]"
                    var entry = OpsGenieConfig.Responder()
                    try mapping(item, at: at) { field, value in
                        switch String(field.dropFirst(at.count + 1)) {
                        case "id": entry.id = try string(value, at: field)
                        case "name": entry.name = try string(value, at: field)
                        case "username": entry.username = try string(value, at: field)
                        case "type": entry.type = try string(value, at: field)
                        default: throw error(field, value, "unknown key")
                        }
                    }
                    guard !(entry.id.isEmpty && entry.name.isEmpty && entry.username.isEmpty) else {
                        throw error(at, item, "an Opsgenie responder has to have at least one of id, username or name specified")
                    }
                    let type = entry.type.lowercased()
                    if !entry.type.contains("{{") {
                        guard ["team", "teams", "user", "escalation", "schedule"].contains(type) else {
                            throw error(at, item, "Opsgenie responder type \"\(entry.type)\" does not match valid options team,teams,user,escalation,schedule")
                        }
                        entry.type = type
                    }
                    if entry.type == "teams", entry.name.isEmpty {
                        throw error(at, item, "an Opsgenie responder of type teams needs the team names in name")
                    }
                    return entry
                }
            }
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "api_key": ownKey = try string(value, at: key)
                case "api_key_file": keyFile = try string(value, at: key)
                case "api_url": config.apiURL = try url(value, at: key)
                case "message": config.message = try string(value, at: key)
                case "description": config.description = try string(value, at: key)
                case "source": config.source = try string(value, at: key)
                case "details": config.details = try stringMap(value, at: key)
                case "responders": config.responders = try people(value, at: key)
                case "visible_to": config.visibleTo = try people(value, at: key)
                case "tags": config.tags = try string(value, at: key)
                case "note": config.note = try string(value, at: key)
                case "priority": config.priority = try string(value, at: key)
                case "entity": config.entity = try string(value, at: key)
                case "actions": config.actions = try string(value, at: key)
                case "update_alerts": config.updateAlerts = try bool(value, at: key)
                case "http_config": config.tls = try httpConfig(value, at: key).tls
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            config.apiKey = try secretOrGlobal(
                own: ownKey, file: keyFile, global: global.opsgenieAPIKey, key: "api_key", node, at: prefix,
                missing: "no global OpsGenie API Key set either inline or in a file")
            if !config.apiURL.hasSuffix("/") { config.apiURL += "/" }
            return config
        }

        /// A receiver's secret `key` (an API key, a token): its own value, else the contents of its `<key>_file` (not
        /// both), else the global one; `missing` when there is none.
        func secretOrGlobal(
            own: String?, file: String?, global: String, key: String, _ node: Node, at prefix: String, missing: String
        ) throws -> String {
            var value = own ?? global
            if let file {
                guard own == nil else { throw error(prefix, node, "at most one of \(key) & \(key)_file must be configured") }
                value = try secretFile(file, node, at: "\(prefix).\(key)_file")
            }
            guard !value.isEmpty else { throw error(prefix, node, missing) }
            return value
        }

        func victorOps(_ node: Node, at prefix: String, global: NotifyConfig.Global) throws -> VictorOpsConfig {
            var config = VictorOpsConfig()
            config.apiURL = global.victoropsAPIURL
            var keyFile: String?
            var ownKey: String?
            let reserved: Set<String> = ["routing_key", "message_type", "state_message", "entity_display_name", "monitoring_tool", "entity_id", "entity_state"]
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "api_key": ownKey = try string(value, at: key)
                case "api_key_file": keyFile = try string(value, at: key)
                case "api_url": config.apiURL = try url(value, at: key)
                case "routing_key": config.routingKey = try string(value, at: key)
                case "message_type": config.messageType = try string(value, at: key)
                case "entity_display_name": config.entityDisplayName = try string(value, at: key)
                case "state_message": config.stateMessage = try string(value, at: key)
                case "monitoring_tool": config.monitoringTool = try string(value, at: key)
                case "custom_fields":
                    config.customFields = try stringMap(value, at: key)
                    if let clash = config.customFields.first(where: { reserved.contains($0.0) }) {
                        throw error(key, value, "victorOps config contains custom field \(clash.0) which cannot be used as it conflicts with the fixed/static fields")
                    }
                case "http_config": config.tls = try httpConfig(value, at: key).tls
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            config.apiKey = try secretOrGlobal(own: ownKey, file: keyFile, global: global.victoropsAPIKey, key: "api_key", node, at: prefix, missing: "no global VictorOps API Key set")
            guard !config.routingKey.isEmpty else { throw error(prefix, node, "missing Routing key in VictorOps config") }
            if !config.apiURL.hasSuffix("/") { config.apiURL += "/" }
            return config
        }

        func webex(_ node: Node, at prefix: String, global: NotifyConfig.Global) throws -> WebexConfig {
            var config = WebexConfig()
            config.apiURL = global.webexAPIURL
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "api_url": config.apiURL = try url(value, at: key)
                case "room_id": config.roomID = try string(value, at: key)
                case "message": config.message = try string(value, at: key)
                case "http_config":
                    let http = try httpConfig(value, at: key)
                    config.authorization = http.authorization ?? ""
                    config.tls = http.tls
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            guard !config.roomID.isEmpty else { throw error(prefix, node, "missing room_id on webex_config") }
            guard !config.authorization.isEmpty else { throw error(prefix, node, "missing webex_configs.http_config.authorization") }
            return config
        }

        func email(_ node: Node, at prefix: String, global: NotifyConfig.Global) throws -> EmailConfig {
            var config = EmailConfig()
            config.from = global.smtpFrom
            config.smarthost = global.smtpSmarthost
            config.hello = global.smtpHello
            config.authUsername = global.smtpAuthUsername
            config.authPassword = global.smtpAuthPassword
            config.requireTLS = global.smtpRequireTLS
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "to": config.to = try string(value, at: key)
                case "from": config.from = try string(value, at: key)
                case "hello": config.hello = try string(value, at: key)
                case "smarthost": config.smarthost = try hostPort(value, at: key)
                case "auth_username": config.authUsername = try string(value, at: key)
                case "auth_password": config.authPassword = try string(value, at: key)
                case "require_tls": config.requireTLS = try bool(value, at: key)
                case "tls_config": config.tls = try tlsConfig(value, at: key)
                case "headers":
                    config.headers = try stringMap(value, at: key).map { (Self.canonicalHeader($0.0), $0.1) }
                case "html": config.html = try string(value, at: key)
                case "text": config.text = try string(value, at: key)
                case "send_resolved": config.sendResolved = try bool(value, at: key)
                default: throw error(key, value, "unknown key")
                }
            }
            guard !config.to.isEmpty else { throw error(prefix, node, "missing to address in email config") }
            guard !config.smarthost.isEmpty else { throw error(prefix, node, "no global SMTP smarthost set") }
            guard !config.from.isEmpty else { throw error(prefix, node, "no global SMTP from set") }
            return config
        }

        /// `x-priority` → `X-Priority`, as Go's textproto canonicalizes header names.
        static func canonicalHeader(_ name: String) -> String {
            name.split(separator: "-", omittingEmptySubsequences: false).map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined(separator: "-")
        }

        func timeInterval(_ node: Node, at prefix: String) throws -> (String, [TimeIntervalSpec]) {
            var name = ""
            var specs: [TimeIntervalSpec] = []
            try mapping(node, at: prefix) { key, value in
                switch String(key.dropFirst(prefix.count + 1)) {
                case "name": name = try string(value, at: key)
                case "time_intervals":
                    specs = try list(value, at: key).enumerated().map { try spec($0.element, at: "\(key)[\($0.offset)]") }
                default: throw error(key, value, "unknown key")
                }
            }
            guard !name.isEmpty else { throw error(prefix, node, "missing name in time interval") }
            return (name, specs)
        }

        func spec(_ node: Node, at prefix: String) throws -> TimeIntervalSpec {
            var spec = TimeIntervalSpec()
            try mapping(node, at: prefix) { key, value in
                let field = String(key.dropFirst(prefix.count + 1))
                func ranges(names: [String], base: Int, negative: Bool, bounds: ClosedRange<Int>, what: String) throws -> [NotifyIntRange] {
                    try strings(value, at: key).map { text in
                        guard let range = TimeIntervalSpec.range(text, names: names, base: base, allowNegative: negative, bounds: bounds) else {
                            throw error(key, value, "invalid \(what) range \"\(text)\"")
                        }
                        return range
                    }
                }
                switch field {
                case "times":
                    spec.times = try list(value, at: key).map { item in
                        var start: Int?
                        var end: Int?
                        try mapping(item, at: key) { inner, innerValue in
                            let text = try string(innerValue, at: inner)
                            guard let minutes = TimeIntervalSpec.minutes(text) else { throw error(inner, innerValue, "invalid time \"\(text)\", expected HH:MM") }
                            switch String(inner.dropFirst(key.count + 1)) {
                            case "start_time": start = minutes
                            case "end_time": end = minutes
                            default: throw error(inner, innerValue, "unknown key")
                            }
                        }
                        guard let start, let end, start < end else { throw error(key, item, "start_time must be before end_time") }
                        return NotifyIntRange(start, end)
                    }
                case "weekdays": spec.weekdays = try ranges(names: TimeIntervalSpec.weekdayNames, base: 0, negative: false, bounds: 0...6, what: "weekday")
                case "days_of_month": spec.daysOfMonth = try ranges(names: [], base: 1, negative: true, bounds: 1...31, what: "day of month")
                case "months": spec.months = try ranges(names: TimeIntervalSpec.monthNames, base: 1, negative: false, bounds: 1...12, what: "month")
                case "years": spec.years = try ranges(names: [], base: 0, negative: false, bounds: 1...9999, what: "year")
                case "location":
                    let name = try string(value, at: key)
                    do throws(GoLocationError) {
                        spec.location = try GoLocation.load(name)
                    } catch let failure {
                        throw error(key, value, failure.message)
                    }
                default: throw error(key, value, "unknown key")
                }
            }
            return spec
        }
    }
}
