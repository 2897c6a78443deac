import ArgumentParser
import Foundation
import SightlineAlerting
import SightlineCore
import SightlineQuery
import SightlineServer

/// `sightline rules check FILE…`: validates Prometheus rule files as `promtool check rules` does, without a server.
struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Work with Prometheus rule files.",
        subcommands: [RulesCheckCommand.self]
    )
}

/// `sightline rules check FILE…`.
struct RulesCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check rule files: YAML, keys, expressions (PromQL, or LogQL for query_language: logql groups), templates.",
        discussion: """
            Prints SUCCESS with the rule count for each good file and FAILED with file:line:column: reason for each \
            problem of a bad one, and exits 1 when any file is bad. No server is needed.
            """
    )

    @Argument(help: ArgumentHelp("Rule files.", valueName: "file"))
    var files: [String]

    @Option(name: .customLong("enable-feature"), help: ArgumentHelp("PromQL features the expressions may use, as the server's --enable-feature.", valueName: "name"))
    var enableFeatures: [String] = []

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one rule file") }
    }

    func run() async throws {
        let parserOptions = try ServerCommand.promQLFeatures(enableFeatures, base: .default)
        var engineOptions = PromQLEngine.Options()
        engineOptions.parserOptions = parserOptions
        let promQL = PromQLRuleQueryEngine(engine: PromQLEngine(querier: NoSeries(), options: engineOptions))
        let (text, success) = RuleFiles.checkOutput(paths: files, checkers: RuleQueryEngines(promql: promQL, logql: LogQLRuleQueryEngine()))
        if success {
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        } else {
            FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
            throw ExitCode(1)
        }
    }
}

/// The options every alerting client command shares.
struct AlertingClientOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Base URL of the server; plain http only.", valueName: "url"))
    var server: String = "http://127.0.0.1:7600"

    @Option(name: .long, help: ArgumentHelp("Bearer token, when the server has tokens configured (or SIGHTLINE_TOKEN).", valueName: "token"))
    var token: String?

    func client(_ command: String) throws -> ServerClient {
        try ServerClient(server: server, token: token, userAgent: "sightline-\(command)")
    }
}

/// `sightline alerts`: the pending and firing alerts of the caller's tenant, from `/api/v1/alerts`.
struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "List the pending and firing alerts of a Sightline server.",
        discussion: "Firing alerts come first, then pending ones; each with its labels, since when it is active and its value."
    )

    @OptionGroup var options: AlertingClientOptions

    @Flag(name: .long, help: "Print the server's JSON response as it is.")
    var json = false

    func validate() throws { _ = try options.client("alerts") }

    func run() async throws {
        let answer: ServerClient.Answer
        do {
            answer = try await options.client("alerts").get("/api/v1/alerts", [])
        } catch let error as SightlineError {
            throw ServerClient.failure("alerts", error.message)
        }
        guard let object = answer.object, object["status"] as? String == "success" else {
            throw ServerClient.failure("alerts", answer.errorMessage)
        }
        if json {
            FileHandle.standardOutput.write(Data(answer.body) + Data("\n".utf8))
            return
        }
        let alerts = (object["data"] as? [String: Any])?["alerts"] as? [[String: Any]] ?? []
        guard !alerts.isEmpty else {
            ServerClient.printError("no pending or firing alerts")
            return
        }
        print(QueryCommand.align(Self.rows(alerts)), terminator: "")
    }

    /// STATE, ALERTNAME, LABELS (without alertname), ACTIVE SINCE, VALUE; firing first, then by name and labels.
    static func rows(_ alerts: [[String: Any]]) -> [[String]] {
        var rows: [[String]] = []
        for alert in alerts {
            let labels = alert["labels"] as? [String: Any] ?? [:]
            let name = labels["alertname"] as? String ?? ""
            let rest = labels.filter { $0.key != "alertname" }
            rows.append([
                alert["state"] as? String ?? "", name, QueryCommand.seriesText(rest), alert["activeAt"] as? String ?? "",
                alert["value"] as? String ?? "",
            ])
        }
        rows.sort { a, b in
            let rankA = a[0] == "firing" ? 0 : 1
            let rankB = b[0] == "firing" ? 0 : 1
            return rankA != rankB ? rankA < rankB : (a[1], a[2]) < (b[1], b[2])
        }
        return [["STATE", "ALERTNAME", "LABELS", "ACTIVE SINCE", "VALUE"]] + rows
    }
}

/// `sightline silences`: the silences of the caller's tenant, from Alertmanager's `/api/v2/silences`.
struct SilencesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silences",
        abstract: "List the active and pending silences of a Sightline server (--all adds expired ones).",
        discussion: "Use `sightline silence add` and `sightline silence expire` to change them."
    )

    @OptionGroup var options: AlertingClientOptions

    @Flag(name: .long, help: "Also list expired silences.")
    var all = false

    @Flag(name: .long, help: "Print the server's JSON response as it is.")
    var json = false

    func validate() throws { _ = try options.client("silences") }

    func run() async throws {
        let answer: ServerClient.Answer
        do {
            answer = try await options.client("silences").get("/api/v2/silences", [])
        } catch let error as SightlineError {
            throw ServerClient.failure("silences", error.message)
        }
        guard answer.status == 200, let silences = answer.json as? [[String: Any]] else {
            throw ServerClient.failure("silences", SilenceCommand.message(answer))
        }
        if json {
            FileHandle.standardOutput.write(Data(answer.body) + Data("\n".utf8))
            return
        }
        var rows: [[String]] = []
        for silence in silences {
            let state = (silence["status"] as? [String: Any])?["state"] as? String ?? ""
            if !all && state == "expired" { continue }
            let matchers = (silence["matchers"] as? [[String: Any]] ?? []).map(SilenceCommand.matcherText).joined(separator: ",")
            rows.append([
                silence["id"] as? String ?? "", state, "{" + matchers + "}", silence["startsAt"] as? String ?? "",
                silence["endsAt"] as? String ?? "", silence["createdBy"] as? String ?? "", silence["comment"] as? String ?? "",
            ])
        }
        guard !rows.isEmpty else {
            ServerClient.printError(all ? "no silences" : "no active or pending silences")
            return
        }
        rows.sort { ($0[1], $0[4]) < ($1[1], $1[4]) }
        print(QueryCommand.align([["ID", "STATE", "MATCHERS", "STARTS", "ENDS", "CREATED BY", "COMMENT"]] + rows), terminator: "")
    }
}

/// `sightline silence add|expire`.
struct SilenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silence",
        abstract: "Create or expire a silence on a Sightline server.",
        subcommands: [SilenceAddCommand.self, SilenceExpireCommand.self]
    )

    /// `name="value"`, `name=~"re"`, … from an Alertmanager matcher object.
    static func matcherText(_ matcher: [String: Any]) -> String {
        let isRegex = matcher["isRegex"] as? Bool ?? false
        let isEqual = matcher["isEqual"] as? Bool ?? true
        let op = isEqual ? (isRegex ? "=~" : "=") : (isRegex ? "!~" : "!=")
        return (matcher["name"] as? String ?? "") + op + JSONText.quoted(matcher["value"] as? String ?? "")
    }

    /// The error in an Alertmanager answer (a JSON string, or text).
    static func message(_ answer: ServerClient.Answer) -> String {
        if let text = answer.json as? String { return "HTTP \(answer.status): \(text)" }
        return answer.errorMessage
    }
}

/// `sightline silence add --matcher 'alertname=X' --duration 2h --comment '…'`.
struct SilenceAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Silence the alerts matching every --matcher for --duration; prints the silence id.",
        discussion: """
            Matchers are Alertmanager's: name=value, name!=value, name=~regex, name!~regex (values may be quoted). \
            The silence starts now, or at --start.
            """
    )

    @OptionGroup var options: AlertingClientOptions

    @Option(name: .long, help: ArgumentHelp("A label matcher, e.g. alertname=HighLatency or 'severity=~\"warn|info\"'; repeatable.", valueName: "matcher"))
    var matcher: [String] = []

    @Option(name: .long, help: ArgumentHelp("How long the silence lasts, e.g. 30m, 2h.", valueName: "duration"))
    var duration: String = "1h"

    @Option(name: .long, help: ArgumentHelp("When it starts (RFC 3339 or Unix seconds). (default: now)", valueName: "time"))
    var start: String?

    @Option(name: .long, help: ArgumentHelp("Why the alerts are silenced.", valueName: "text"))
    var comment: String

    @Option(name: .long, help: ArgumentHelp("Who silences them. (default: $USER)", valueName: "name"))
    var author: String?

    func validate() throws {
        if matcher.isEmpty { throw ValidationError("give at least one --matcher") }
        for text in matcher {
            do { _ = try MatcherText.parse(text) } catch { throw ValidationError("--matcher \"\(text)\": \(error)") }
        }
        guard let ms = try? PrometheusAPIParameters.parseDuration(duration), ms > 0 else {
            throw ValidationError("--duration: cannot parse \"\(duration)\" as a positive duration such as 30m or 2h")
        }
        if let start, PrometheusAPITime.parse(start) == nil {
            throw ValidationError("--start: cannot parse \"\(start)\" as RFC 3339 or Unix seconds")
        }
        if comment.isEmpty { throw ValidationError("--comment must not be empty") }
        _ = try options.client("silence")
    }

    func run() async throws {
        let startMs = start.flatMap(PrometheusAPITime.parse) ?? Int64((Date().timeIntervalSince1970 * 1000).rounded())
        let endMs = startMs + (try PrometheusAPIParameters.parseDuration(duration))
        var body = "{\"matchers\":["
        for (index, text) in matcher.enumerated() {
            let parsed = try MatcherText.parse(text)
            if index > 0 { body += "," }
            let isRegex = parsed.kind == .regexMatch || parsed.kind == .regexNoMatch
            let isEqual = parsed.kind == .equal || parsed.kind == .regexMatch
            body += "{\"name\":" + JSONText.quoted(parsed.name) + ",\"value\":" + JSONText.quoted(parsed.value)
            body += ",\"isRegex\":\(isRegex),\"isEqual\":\(isEqual)}"
        }
        let who = author ?? ProcessInfo.processInfo.environment["USER"] ?? "sightline"
        body += "],\"startsAt\":" + JSONText.quoted(PrometheusAPITime.rfc3339(startMs))
        body += ",\"endsAt\":" + JSONText.quoted(PrometheusAPITime.rfc3339(endMs))
        body += ",\"createdBy\":" + JSONText.quoted(who) + ",\"comment\":" + JSONText.quoted(comment) + "}"
        let answer: ServerClient.Answer
        do {
            answer = try await options.client("silence").send("POST", "/api/v2/silences", body: Array(body.utf8))
        } catch let error as SightlineError {
            throw ServerClient.failure("silence add", error.message)
        }
        guard answer.status == 200, let id = answer.object?["silenceID"] as? String else {
            throw ServerClient.failure("silence add", SilenceCommand.message(answer))
        }
        print(id)
    }
}

/// `sightline silence expire ID…`.
struct SilenceExpireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expire",
        abstract: "Expire silences by id, so the alerts they muted notify again."
    )

    @OptionGroup var options: AlertingClientOptions

    @Argument(help: ArgumentHelp("Silence ids, as `sightline silences` lists them.", valueName: "id"))
    var ids: [String]

    func validate() throws {
        if ids.isEmpty { throw ValidationError("name at least one silence id") }
        _ = try options.client("silence")
    }

    func run() async throws {
        let client = try options.client("silence")
        var failed = false
        for id in ids {
            let answer: ServerClient.Answer
            do {
                answer = try await client.send("DELETE", "/api/v2/silence/" + ServerClient.encodeForm([("", id)]).dropFirst())
            } catch let error as SightlineError {
                throw ServerClient.failure("silence expire", error.message)
            }
            if answer.status == 200 {
                print("expired \(id)")
            } else {
                ServerClient.printError("sightline silence expire: \(id): \(SilenceCommand.message(answer))")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}
