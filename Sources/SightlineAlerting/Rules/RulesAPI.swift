package import SightlineCore
import SightlineQuery

/// The bodies of Prometheus' `/api/v1/rules` and `/api/v1/alerts`, byte for byte in Prometheus' shape, from
/// ``RuleManager/status(tenant:)`` snapshots. The server mounts the routes and maps thrown errors to `400 bad_data`.
///
/// ```swift
/// let filter = try RulesAPI.Filter(type: query["type"], ruleNames: query.all("rule_name[]"), …)
/// let body = RulesAPI.rulesJSON(await manager.status(tenant: tenant), filter: filter)
/// ```
package enum RulesAPI {
    /// The query parameters of `/api/v1/rules`.
    package struct Filter: Sendable {
        /// `type=alert|record`; nil returns both.
        package var kind: RuleDefinition.Kind?
        /// `rule_name[]`: only rules with one of these names (all when empty).
        package var ruleNames: Set<String>
        /// `rule_group[]`: only groups with one of these names.
        package var ruleGroups: Set<String>
        /// `file[]`: only groups from one of these files.
        package var files: Set<String>
        /// `exclude_alerts=true`: alerting rules without their `alerts` list.
        package var excludeAlerts: Bool
        /// `match[]`: only rules whose labels match every matcher of at least one selector (all when empty).
        package var matcherSets: [[LabelMatcher]]

        /// Builds the filter from the raw parameters.
        /// - Throws: `invalidArgument` with Prometheus' message for an unknown `type`, a bad `exclude_alerts` or a
        ///   `match[]` selector that does not parse.
        package init(
            type: String? = nil, ruleNames: [String] = [], ruleGroups: [String] = [], files: [String] = [], excludeAlerts: String? = nil,
            match: [String] = []
        ) throws {
            switch type?.lowercased() ?? "" {
            case "": kind = nil
            case "alert": kind = .alerting
            case "record": kind = .recording
            default: throw SightlineError(.invalidArgument, "invalid query parameter type: not supported value \(GoText.quote(type ?? ""))")
            }
            self.ruleNames = Set(ruleNames)
            self.ruleGroups = Set(ruleGroups)
            self.files = Set(files)
            switch excludeAlerts?.lowercased() ?? "" {
            case "", "false", "0", "f": self.excludeAlerts = false
            case "true", "1", "t": self.excludeAlerts = true
            default:
                throw SightlineError(.invalidArgument, "parsing exclude_alerts: strconv.ParseBool: parsing \(GoText.quote(excludeAlerts ?? "")): invalid syntax")
            }
            matcherSets = try match.map { try PromQLParser.parseMetricSelector($0) }
        }
    }

    /// `{"status":"success","data":{"groups":[…]}}`; groups left without rules by a filter are omitted.
    package static func rulesJSON(_ groups: [RuleGroupStatus], filter: Filter) -> String {
        var out = "{\"status\":\"success\",\"data\":{\"groups\":["
        var firstGroup = true
        for group in groups {
            if !filter.ruleGroups.isEmpty && !filter.ruleGroups.contains(group.name) { continue }
            if !filter.files.isEmpty && !filter.files.contains(group.file) { continue }
            var rules: [String] = []
            for rule in group.rules {
                if !filter.ruleNames.isEmpty && !filter.ruleNames.contains(rule.name) { continue }
                if let kind = filter.kind, kind != rule.kind { continue }
                if !filter.matcherSets.isEmpty {
                    let labels = Labels(rule.labels)
                    guard filter.matcherSets.contains(where: { set in set.allSatisfy { $0.matches(labels) } }) else { continue }
                }
                rules.append(ruleJSON(rule, excludeAlerts: filter.excludeAlerts))
            }
            if rules.isEmpty { continue }
            if !firstGroup { out += "," }
            firstGroup = false
            out += "{\"name\":" + JSONText.quoted(group.name) + ",\"file\":" + JSONText.quoted(group.file)
            out += ",\"rules\":[" + rules.joined(separator: ",") + "]"
            out += ",\"interval\":" + goJSONNumber(Double(group.intervalMs) / 1000)
            out += ",\"limit\":\(group.limit)"
            out += ",\"evaluationTime\":" + goJSONNumber(group.evaluationSeconds)
            out += ",\"lastEvaluation\":" + JSONText.quoted(goTime(group.lastEvaluationMs)) + "}"
        }
        return out + "]}}"
    }

    /// `{"status":"success","data":{"alerts":[…]}}`: every pending and firing alert.
    package static func alertsJSON(_ groups: [RuleGroupStatus]) -> String {
        var alerts: [String] = []
        for group in groups {
            for rule in group.rules where rule.kind == .alerting {
                for alert in rule.alerts where alert.state != .inactive { alerts.append(alertJSON(alert)) }
            }
        }
        return "{\"status\":\"success\",\"data\":{\"alerts\":[" + alerts.joined(separator: ",") + "]}}"
    }

    private static func ruleJSON(_ rule: RuleStatus, excludeAlerts: Bool) -> String {
        var out = "{"
        switch rule.kind {
        case .alerting:
            out += "\"state\":" + JSONText.quoted(rule.state.rawValue)
            out += ",\"name\":" + JSONText.quoted(rule.name)
            out += ",\"query\":" + JSONText.quoted(rule.query)
            out += ",\"duration\":" + goJSONNumber(Double(rule.forMs) / 1000)
            out += ",\"keepFiringFor\":" + goJSONNumber(Double(rule.keepFiringForMs) / 1000)
            out += ",\"labels\":" + labelsJSON(rule.labels.filter { !$0.value.isEmpty })
            out += ",\"annotations\":" + labelsJSON(rule.annotations.filter { !$0.value.isEmpty })
            if !excludeAlerts {
                out += ",\"alerts\":[" + rule.alerts.filter { $0.state != .inactive }.map(alertJSON).joined(separator: ",") + "]"
            }
        case .recording:
            out += "\"name\":" + JSONText.quoted(rule.name)
            out += ",\"query\":" + JSONText.quoted(rule.query)
            let labels = rule.labels.filter { !$0.value.isEmpty }
            if !labels.isEmpty { out += ",\"labels\":" + labelsJSON(labels) }
        }
        out += ",\"health\":" + JSONText.quoted(rule.health.rawValue)
        if let error = rule.lastError, !error.isEmpty { out += ",\"lastError\":" + JSONText.quoted(error) }
        out += ",\"evaluationTime\":" + goJSONNumber(rule.evaluationSeconds)
        out += ",\"lastEvaluation\":" + JSONText.quoted(goTime(rule.lastEvaluationMs))
        out += ",\"type\":" + (rule.kind == .alerting ? "\"alerting\"" : "\"recording\"") + "}"
        return out
    }

    private static func alertJSON(_ alert: ActiveAlert) -> String {
        var out = "{\"labels\":" + labelsJSON(alert.labels.labels) + ",\"annotations\":" + labelsJSON(alert.annotations.labels)
        out += ",\"state\":" + JSONText.quoted(alert.state.rawValue)
        out += ",\"activeAt\":" + JSONText.quoted(goTime(alert.activeAtMs))
        if let since = alert.keepFiringSinceMs { out += ",\"keepFiringSince\":" + JSONText.quoted(goTime(since)) }
        out += ",\"value\":" + JSONText.quoted(formatExponent(alert.value)) + "}"
        return out
    }

    private static func labelsJSON(_ labels: [Label]) -> String {
        "{" + labels.sorted { $0.name < $1.name }.map { JSONText.quoted($0.name) + ":" + JSONText.quoted($0.value) }.joined(separator: ",") + "}"
    }

    /// Go's `encoding/json` float: `'f'` between 1e-6 and 1e21, otherwise `'e'` with a one-digit negative exponent.
    static func goJSONNumber(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        var text = PromQLFloat.formatAPI(value)
        if let e = text.firstIndex(of: "e") {
            let exponent = text[text.index(after: e)...]
            if exponent.hasPrefix("-0") { text = String(text[...e]) + "-" + String(exponent.dropFirst(2)) }
        }
        return text
    }

    /// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `1e+00`, `1.5e+02`, `NaN`, `+Inf`.
    static func formatExponent(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == 0 { return value.sign == .minus ? "-0e+00" : "0e+00" }
        // PromQLFloat.formatG switches to the exponent form outside 1e-4…1e6; force it by scaling the text ourselves.
        let text = "\(value.magnitude)"
        var mantissa = text
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = String(text[..<e])
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var integer = mantissa
        var fraction = ""
        if let dot = mantissa.firstIndex(of: ".") {
            integer = String(mantissa[..<dot])
            fraction = String(mantissa[mantissa.index(after: dot)...])
        }
        var digits = Array(integer + fraction)
        var point = integer.count + exponent
        while digits.count > 1, digits.first == "0" {
            digits.removeFirst()
            point -= 1
        }
        while digits.count > 1, digits.last == "0" { digits.removeLast() }
        let e = point - 1
        var out = value < 0 ? "-" : ""
        out.append(digits[0])
        if digits.count > 1 { out += "." + String(digits[1...]) }
        let magnitude = String(abs(e))
        out += "e" + (e < 0 ? "-" : "+") + (magnitude.count < 2 ? "0" : "") + magnitude
        return out
    }

    /// Go's `time.Time` JSON (RFC 3339 with trimmed nanoseconds, UTC); nil is Go's zero time.
    static func goTime(_ milliseconds: Int64?) -> String { NotifyRFC3339.format(optionalMs: milliseconds) }
}
