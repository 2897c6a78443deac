import Foundation
import SightlineCore
package import Yams

/// A Jira delivery, rendered: the requests of the conversation Alertmanager's Jira integration has with Jira's REST
/// API, and what decides between them.
///
/// 1. `POST search` with JQL for the group's issue: labelled `ALERT{<group key hash>}` in the project, not done (or,
///    with a reopen transition and `reopen_duration`, resolved within it; never with the `wont_fix_resolution`).
/// 2. No issue and the group resolved: nothing to do. Otherwise `POST issue` (create) or `PUT issue/<key>` (update)
///    with the summary (at most 255 characters), description (at most 32,767; JSON, Atlassian's document format, when
///    the API URL ends in `/3`), labels (sorted, with the group's), priority, issue type and the other fields.
/// 3. An existing issue that is done while the group fires is moved by `reopen_transition`; one that is not done while
///    the group is resolved by `resolve_transition` (`GET issue/<key>/transitions` finds the transition's id by name).
///    A transition that is not configured is skipped.
///
/// 429 and 5xx answers are retried, other failures are not, as in Alertmanager.
struct JiraDelivery: Sendable {
    var apiURL: String
    var headers: [(String, String)]
    var tls: NotifyTLSOptions?
    var search: [UInt8]
    var issue: [UInt8]
    var firing: Bool
    var resolveTransition: String
    var reopenTransition: String

    static let maxSummaryLength = 255
    static let maxDescriptionLength = 32767

    /// Renders the requests for `data`.
    /// - Throws: `configuration` when a template fails or an API version 3 description is not JSON.
    init(_ data: NotificationData, config: JiraConfig) throws {
        func text(_ template: String, _ field: String) throws -> String { try data.render(template, field: "jira \(field)") }
        let label = "ALERT{\(SHA256.hex(data.groupKey))}"
        let project = try text(config.project, "project")
        firing = data.status == "firing"
        var jql = ""
        if !config.wontFixResolution.isEmpty { jql += "resolution != \(Self.goQuoted(config.wontFixResolution)) and " }
        let reopenMinutes = config.reopenDurationMs / 60_000
        if firing && !config.reopenTransition.isEmpty && reopenMinutes > 0 {
            jql += "(resolutiondate is EMPTY OR resolutiondate >= -\(reopenMinutes)m) and "
        } else {
            jql += "statusCategory != Done and "
        }
        jql += "project=\(Self.goQuoted(project)) and labels=\(Self.goQuoted(label)) order by status ASC,resolutiondate DESC"
        search = Array(("{\"jql\":" + JSONText.quoted(jql) + ",\"maxResults\":2,\"fields\":[\"status\"],\"expand\":[]}\n").utf8)

        // API version 3 takes the description as a JSON document (Atlassian's format), version 2 as text.
        var description = NotifyPayloads.truncated(try text(config.description, "description"), to: Self.maxDescriptionLength)
        if config.apiURL.hasSuffix("/3/") {
            guard (try? JSONSerialization.jsonObject(with: Data(description.utf8), options: [.fragmentsAllowed])) != nil else {
                throw SightlineError(.configuration, "jira description: API version 3 takes a JSON document (Atlassian's format), got \"\(description.prefix(64))\"")
            }
        } else {
            description = JSONText.quoted(description)
        }
        let labels = try (config.labels.enumerated().map { try text($0.element, "labels[\($0.offset)]") } + [label]).sorted()
        var fields: [(String, String)] = [
            ("project", "{\"key\":" + JSONText.quoted(project) + "}"),
            ("issuetype", "{\"name\":" + JSONText.quoted(try text(config.issueType, "issue_type")) + "}"),
            ("summary", JSONText.quoted(NotifyPayloads.truncated(try text(config.summary, "summary"), to: Self.maxSummaryLength))),
            ("description", description),
            ("labels", "[" + labels.map(JSONText.quoted).joined(separator: ",") + "]"),
        ]
        let priority = try text(config.priority, "priority")
        if !priority.isEmpty { fields.append(("priority", "{\"name\":" + JSONText.quoted(priority) + "}")) }
        for (name, value) in config.fields where !fields.contains(where: { $0.0 == name }) {
            fields.append((name, try value.json { try text($0, "fields.\(name)") }))
        }
        issue = Array(("{\"fields\":{" + fields.map { JSONText.quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}}\n").utf8)

        apiURL = config.apiURL
        headers = [("Content-Type", "application/json"), ("Accept-Language", "en")]
        if let authorization = config.authorization { headers.append(("Authorization", authorization)) }
        tls = config.tls
        resolveTransition = config.resolveTransition
        reopenTransition = config.reopenTransition
    }

    /// A string as Go's `%q` writes it for plain text: in double quotes, `"` and `\` escaped.
    static func goQuoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Holds the conversation.
    func perform(transport: any NotificationTransport, timeoutMs: Int64) async -> NotifyOutcome {
        func request(_ method: OutboundPost.Method, _ path: String, _ body: [UInt8]) -> OutboundPost {
            OutboundPost(url: apiURL + path, headers: headers, body: body, tls: tls, method: method)
        }
        let found: [UInt8]
        switch await NotifyAttempt.exchange(request(.post, "search", search), transport: transport, timeoutMs: timeoutMs) {
        case .success(let body): found = body
        case .failure(let outcome): return outcome
        }
        guard let result = try? JSONSerialization.jsonObject(with: Data(found)) as? [String: Any] else {
            return .failed("jira: the search answer is not a JSON object")
        }
        let issues = result["issues"] as? [[String: Any]] ?? []
        let existing = (result["total"] as? Int ?? issues.count) > 0 ? issues.first : nil
        let key = existing?["key"] as? String
        if existing == nil && !firing { return .delivered }
        let write = key.map { request(.put, "issue/\($0)", issue) } ?? request(.post, "issue", issue)
        if case .failure(let outcome) = await NotifyAttempt.exchange(write, transport: transport, timeoutMs: timeoutMs) { return outcome }
        guard let key, let existing else { return .delivered }

        let fields = existing["fields"] as? [String: Any]
        let status = fields?["status"] as? [String: Any]
        let category = (status?["statusCategory"] as? [String: Any])?["key"] as? String
        guard status != nil else { return .delivered }
        let done = category == "done"
        let transition = firing ? (done ? reopenTransition : "") : (done ? "" : resolveTransition)
        guard !transition.isEmpty else { return .delivered }
        let listed: [UInt8]
        switch await NotifyAttempt.exchange(request(.get, "issue/\(key)/transitions", []), transport: transport, timeoutMs: timeoutMs) {
        case .success(let body): listed = body
        case .failure(let outcome): return outcome
        }
        let transitions = (try? JSONSerialization.jsonObject(with: Data(listed)) as? [String: Any])?["transitions"] as? [[String: Any]] ?? []
        guard let id = transitions.first(where: { $0["name"] as? String == transition })?["id"] as? String else {
            return .failed("jira: can't find transition \(transition) for issue \(key)")
        }
        let body = Array(("{\"transition\":{\"id\":" + JSONText.quoted(id) + "}}\n").utf8)
        if case .failure(let outcome) = await NotifyAttempt.exchange(request(.post, "issue/\(key)/transitions", body), transport: transport, timeoutMs: timeoutMs) {
            return outcome
        }
        return .delivered
    }
}

/// A value of a Jira receiver's `fields`, rendered at each delivery as Alertmanager renders it: every string (map keys
/// too) is a template; a rendered string that reads as YAML other than a string (a number, a boolean, a list, a map,
/// null — an empty result is null) becomes that value, its strings rendered in turn; other scalars stay as written.
package indirect enum JiraFieldValue: Sendable, Equatable {
    case text(String)
    /// A number, boolean or null, as its JSON.
    case literal(String)
    case list([JiraFieldValue])
    case map([(String, JiraFieldValue)])

    package static func == (lhs: JiraFieldValue, rhs: JiraFieldValue) -> Bool {
        switch (lhs, rhs) {
        case (.text(let a), .text(let b)), (.literal(let a), .literal(let b)): a == b
        case (.list(let a), .list(let b)): a == b
        case (.map(let a), .map(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// The value a YAML node holds; nil for a node that is no value (an alias or an empty document).
    package init(_ node: Node) {
        switch node {
        case .scalar(let scalar):
            guard scalar.style == .plain else {
                self = .text(scalar.string)
                return
            }
            if let flag = node.bool {
                self = .literal(flag ? "true" : "false")
            } else if let integer = node.int {
                self = .literal(String(integer))
            } else if let number = node.float, number.isFinite {
                self = .literal("\(number)")
            } else if node.null != nil {
                self = .literal("null")
            } else {
                self = .text(scalar.string)
            }
        case .mapping(let mapping):
            self = .map(mapping.compactMap { key, value in key.string.map { ($0, JiraFieldValue(value)) } })
        case .sequence(let sequence):
            self = .list(sequence.map(JiraFieldValue.init))
        default:
            self = .literal("null")
        }
    }

    /// The JSON of the value with its strings rendered by `render`.
    func json(_ render: (String) throws -> String) throws -> String {
        switch self {
        case .literal(let json):
            return json
        case .list(let items):
            return "[" + (try items.map { try $0.json(render) }).joined(separator: ",") + "]"
        case .map(let members):
            return "{" + (try members.map { JSONText.quoted(try render($0.0)) + ":" + (try $0.1.json(render)) }).joined(separator: ",") + "}"
        case .text(let template):
            let rendered = try render(template)
            let node: Node?
            do {
                node = try Yams.compose(yaml: rendered)
            } catch {
                return JSONText.quoted(rendered)  // not YAML: the text as rendered
            }
            guard let node else { return "null" }  // nothing (empty, blank, comments only)
            let value = JiraFieldValue(node)
            if case .text = value { return JSONText.quoted(rendered) }
            return try value.json(render)
        }
    }
}
