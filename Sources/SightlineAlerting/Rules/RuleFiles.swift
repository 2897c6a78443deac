import Foundation
package import SightlineCore
import SightlineQuery
import Yams

/// One problem found in a rule file: where it is and what is wrong.
package struct RuleFileDiagnostic: Sendable, Hashable, CustomStringConvertible {
    /// The file as it was named to the loader.
    package var file: String
    /// The 1-based line and column of the offending YAML node, 0 when unknown.
    package var line: Int
    package var column: Int
    /// The group's name, when the problem is inside a group.
    package var group: String?
    /// The 1-based index of the rule in its group, when the problem is inside a rule.
    package var ruleIndex: Int?
    /// The rule's alert or record name, when known.
    package var ruleName: String?
    /// What is wrong.
    package var message: String

    package init(
        file: String, line: Int, column: Int, group: String? = nil, ruleIndex: Int? = nil, ruleName: String? = nil,
        message: String
    ) {
        self.file = file
        self.line = line
        self.column = column
        self.group = group
        self.ruleIndex = ruleIndex
        self.ruleName = ruleName
        self.message = message
    }

    /// promtool's layout: `rules.yml: 12:11: group "api", rule 2, "HighLatency": could not parse expression: …`.
    package var description: String {
        var out = "\(file): "
        if line > 0 { out += "\(line):\(column): " }
        if let group {
            out += "group \(GoText.quote(group))"
            if let ruleIndex { out += ", rule \(ruleIndex)" }
            if let ruleName { out += ", \(GoText.quote(ruleName))" }
            out += ": "
        }
        return out + message
    }
}

/// The result of checking one rule file, as `sightline rules check` prints it.
package struct RuleFileReport: Sendable {
    package var file: String
    /// The number of rules found (meaningful when there are no errors).
    package var ruleCount: Int
    package var diagnostics: [RuleFileDiagnostic]
    /// Non-fatal findings (duplicate rules), printed as promtool's lint warnings.
    package var warnings: [String]

    /// Whether the file is valid.
    package var isValid: Bool { diagnostics.isEmpty }

    /// The report in promtool's format:
    /// ```
    /// Checking rules.yml
    ///   SUCCESS: 3 rules found
    ///
    /// ```
    /// or `  FAILED:` followed by one line per diagnostic.
    package var text: String {
        var out = "Checking \(file)\n"
        if diagnostics.isEmpty {
            for warning in warnings { out += "  WARNING: \(warning)\n" }
            out += "  SUCCESS: \(ruleCount) rules found\n"
        } else {
            out += "  FAILED:\n"
            for diagnostic in diagnostics { out += diagnostic.description + "\n" }
        }
        return out + "\n"
    }
}

/// Reads and validates rule files in Prometheus' format, with the checks `promtool check rules` makes.
///
/// ```yaml
/// groups:
///   - name: api                 # unique within the file
///     interval: 30s             # default: the manager's evaluation interval (1m)
///     limit: 0                  # most alerts/series per rule; 0 = no limit
///     query_offset: 0s          # evaluate queries this far in the past
///     labels: {team: web}       # added to every rule of the group
///     query_language: promql    # Sightline's key: promql (default) or logql
///     rules:
///       - alert: HighLatency
///         expr: histogram_quantile(0.99, rate(http_duration_seconds_bucket[5m])) > 0.5
///         for: 10m
///         keep_firing_for: 5m
///         labels: {severity: page}
///         annotations: {summary: "p99 is {{ $value | humanizeDuration }} on {{ $labels.instance }}"}
///       - record: job:http_requests:rate5m
///         expr: sum by (job) (rate(http_requests_total[5m]))
/// ```
package enum RuleFiles {
    /// Parses and validates one file's text; `file` names it in diagnostics.
    /// - Parameter checkers: check the expressions, each with its language's engine (PromQL with the engine's parser
    ///   features); without them PromQL is parsed with Prometheus' defaults and LogQL is not checked.
    /// - Returns: the groups when there are no diagnostics, otherwise every diagnostic found (as many as possible).
    package static func parse(
        _ text: String, file: String, checkers: RuleQueryEngines? = nil
    ) -> Result<[RuleGroupDefinition], RuleFileErrors> {
        var reader = RuleFileReader(file: file, checkers: checkers)
        let groups = reader.read(text)
        return reader.diagnostics.isEmpty ? .success(groups) : .failure(RuleFileErrors(diagnostics: reader.diagnostics))
    }

    /// Reads and validates the files at `paths`.
    /// - Returns: every group of every file, or every diagnostic of every file when any is invalid.
    package static func load(
        paths: [String], checkers: RuleQueryEngines? = nil
    ) -> Result<[RuleGroupDefinition], RuleFileErrors> {
        var groups: [RuleGroupDefinition] = []
        var diagnostics: [RuleFileDiagnostic] = []
        for path in paths {
            switch loadFile(path, checkers: checkers) {
            case .success(let fileGroups): groups += fileGroups
            case .failure(let errors): diagnostics += errors.diagnostics
            }
        }
        return diagnostics.isEmpty ? .success(groups) : .failure(RuleFileErrors(diagnostics: diagnostics))
    }

    /// Checks each file as `promtool check rules` does; print ``RuleFileReport/text`` of each in order.
    package static func check(paths: [String], checkers: RuleQueryEngines? = nil) -> [RuleFileReport] {
        paths.map { path in
            switch loadFile(path, checkers: checkers) {
            case .success(let groups):
                return RuleFileReport(
                    file: path, ruleCount: groups.reduce(0) { $0 + $1.rules.count }, diagnostics: [],
                    warnings: duplicateRuleWarnings(groups))
            case .failure(let errors):
                return RuleFileReport(file: path, ruleCount: 0, diagnostics: errors.diagnostics, warnings: [])
            }
        }
    }

    /// Checks the files and renders every report as `sightline rules check` prints it.
    /// - Returns: the text to print, and whether every file is valid (exit status 0).
    package static func checkOutput(paths: [String], checkers: RuleQueryEngines? = nil) -> (text: String, success: Bool) {
        let reports = check(paths: paths, checkers: checkers)
        return (reports.map(\.text).joined(), reports.allSatisfy(\.isValid))
    }

    private static func loadFile(_ path: String, checkers: RuleQueryEngines?) -> Result<[RuleGroupDefinition], RuleFileErrors> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(RuleFileErrors(diagnostics: [RuleFileDiagnostic(file: path, line: 0, column: 0, message: "cannot read the file")]))
        }
        return parse(String(decoding: data, as: UTF8.self), file: path, checkers: checkers)
    }

    /// promtool's `duplicate-rules` lint: rules with the same name, labels and expression in one file.
    private static func duplicateRuleWarnings(_ groups: [RuleGroupDefinition]) -> [String] {
        var seen: Set<String> = []
        var duplicates = 0
        for group in groups {
            for rule in group.rules {
                let key = "\(rule.kind)\u{0}\(rule.name)\u{0}\(rule.expr)\u{0}\(group.effectiveLabels(of: rule))"
                if !seen.insert(key).inserted { duplicates += 1 }
            }
        }
        return duplicates == 0 ? [] : ["\(duplicates) duplicate rule(s) found."]
    }
}

/// Every diagnostic of a failed load.
package struct RuleFileErrors: Error, Sendable, CustomStringConvertible {
    package var diagnostics: [RuleFileDiagnostic]

    package var description: String { diagnostics.map(\.description).joined(separator: "\n") }

    /// The errors as one ``SightlineError`` with code `configuration`.
    package var sightlineError: SightlineError { SightlineError(.configuration, description) }
}

/// Walks the YAML node tree of one file, collecting groups and diagnostics.
private struct RuleFileReader {
    let file: String
    let checkers: RuleQueryEngines?
    var diagnostics: [RuleFileDiagnostic] = []

    init(file: String, checkers: RuleQueryEngines?) {
        self.file = file
        self.checkers = checkers
    }

    private static let groupKeys: Set<String> = ["name", "interval", "limit", "query_offset", "labels", "rules", "query_language"]
    private static let ruleKeys: Set<String> = ["record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"]

    private mutating func report(
        _ node: Node?, _ message: String, group: String? = nil, ruleIndex: Int? = nil, ruleName: String? = nil
    ) {
        diagnostics.append(
            RuleFileDiagnostic(
                file: file, line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, group: group, ruleIndex: ruleIndex,
                ruleName: ruleName, message: message))
    }

    private static func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node { return scalar.tag == Tag(.null) || (scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)) }
        return false
    }

    /// The key/value pairs of a mapping node, reporting non-string and duplicate keys.
    private mutating func pairs(_ node: Node, what: String, group: String? = nil, ruleIndex: Int? = nil) -> [(String, Node, Node)]? {
        guard let mapping = node.mapping else {
            report(node, "\(what) must be a mapping", group: group, ruleIndex: ruleIndex)
            return nil
        }
        var seen: [String: Int] = [:]
        var out: [(String, Node, Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                report(keyNode, "keys of \(what) must be strings", group: group, ruleIndex: ruleIndex)
                continue
            }
            if let line = seen[key] {
                report(keyNode, "mapping key \(GoText.quote(key)) already defined at line \(line)", group: group, ruleIndex: ruleIndex)
                continue
            }
            seen[key] = keyNode.mark?.line ?? 0
            out.append((key, keyNode, value))
        }
        return out
    }

    mutating func read(_ text: String) -> [RuleGroupDefinition] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            diagnostics.append(Self.yamlDiagnostic(error, file: file))
            return []
        } catch {
            report(nil, "not valid YAML: \(error)")
            return []
        }
        guard let root, !Self.isNull(root) else { return [] }
        guard let top = pairs(root, what: "the file") else { return [] }
        var groupsNode: Node?
        for (key, keyNode, value) in top {
            if key == "groups" { groupsNode = value } else { report(keyNode, "field \(key) not found in type rulefmt.RuleGroups") }
        }
        guard let groupsNode, !Self.isNull(groupsNode) else { return [] }
        guard let sequence = groupsNode.sequence else {
            report(groupsNode, "groups must be a list")
            return []
        }
        var groups: [RuleGroupDefinition] = []
        var names: Set<String> = []
        for groupNode in sequence {
            if let group = readGroup(groupNode, names: &names) { groups.append(group) }
        }
        return groups
    }

    private mutating func readGroup(_ node: Node, names: inout Set<String>) -> RuleGroupDefinition? {
        guard let entries = pairs(node, what: "a group") else { return nil }
        let name = entries.first(where: { $0.0 == "name" })?.2.scalar?.string ?? ""
        let groupName: String? = name.isEmpty ? nil : name
        var group = RuleGroupDefinition(name: name, file: file, rules: [], line: node.mark?.line ?? 0)
        var rulesNode: Node?
        let before = diagnostics.count
        for (key, keyNode, value) in entries {
            switch key {
            case "name":
                if value.scalar == nil { report(value, "name must be a string") }
            case "interval":
                group.intervalMs = duration(value, key: key, group: groupName)
                if group.intervalMs == 0 { group.intervalMs = nil }
            case "query_offset":
                group.queryOffsetMs = duration(value, key: key, group: groupName)
            case "limit":
                if Self.isNull(value) { break }
                if let text = value.scalar?.string, let limit = Int(text), limit >= 0 {
                    group.limit = limit
                } else {
                    report(value, "limit must be a non-negative integer, got \(GoText.quote(value.scalar?.string ?? "a non-scalar"))", group: groupName)
                }
            case "labels":
                group.labels = labelMap(value, what: "labels", group: groupName, ruleIndex: nil, ruleName: nil, isAnnotation: false)
            case "query_language":
                let text = value.scalar?.string ?? ""
                if let language = RuleQueryLanguage(rawValue: text) {
                    group.language = language
                } else {
                    report(value, "query_language must be promql or logql, got \(GoText.quote(text))", group: groupName)
                }
            case "rules":
                rulesNode = value
            default:
                report(keyNode, "field \(key) not found in type rulefmt.RuleGroup", group: groupName)
            }
        }
        if name.isEmpty {
            report(node, "Groupname must not be empty")
        } else if !names.insert(name).inserted {
            report(node, "groupname: \(GoText.quote(name)) is repeated in the same file")
        }
        if let rulesNode, !Self.isNull(rulesNode) {
            if let sequence = rulesNode.sequence {
                for (index, ruleNode) in sequence.enumerated() {
                    if let rule = readRule(ruleNode, index: index + 1, group: group) { group.rules.append(rule) }
                }
            } else {
                report(rulesNode, "rules must be a list", group: groupName)
            }
        }
        return diagnostics.count == before ? group : nil
    }

    private mutating func duration(_ node: Node, key: String, group: String?, ruleIndex: Int? = nil, ruleName: String? = nil) -> Int64? {
        if Self.isNull(node) { return nil }
        let text = node.scalar?.string ?? ""
        guard let value = RuleDuration.parse(text) else {
            report(node, "\(key): not a valid duration string: \(GoText.quote(text))", group: group, ruleIndex: ruleIndex, ruleName: ruleName)
            return nil
        }
        return value
    }

    private mutating func labelMap(
        _ node: Node, what: String, group: String?, ruleIndex: Int?, ruleName: String?, isAnnotation: Bool
    ) -> [Label] {
        if Self.isNull(node) { return [] }
        guard let entries = pairs(node, what: what, group: group, ruleIndex: ruleIndex) else { return [] }
        var out: [Label] = []
        for (key, keyNode, value) in entries {
            guard let text = value.scalar?.string else {
                report(value, "the value of \(what) \(key) must be a string", group: group, ruleIndex: ruleIndex, ruleName: ruleName)
                continue
            }
            let valid = LabelName.isValid(key) && (isAnnotation || key != Labels.metricName)
            if !valid {
                report(keyNode, "invalid \(isAnnotation ? "annotation" : "label") name: \(key)", group: group, ruleIndex: ruleIndex, ruleName: ruleName)
            }
            out.append(Label(key, Self.isNull(value) ? "" : text))
        }
        return out.sorted { $0.name < $1.name }
    }

    private mutating func readRule(_ node: Node, index: Int, group: RuleGroupDefinition) -> RuleDefinition? {
        let groupName = group.name
        guard let entries = pairs(node, what: "a rule", group: groupName, ruleIndex: index) else { return nil }
        func value(_ key: String) -> (Node, Node)? {
            entries.first(where: { $0.0 == key }).map { ($0.1, $0.2) }
        }
        let record = value("record")?.1.scalar?.string ?? ""
        let alert = value("alert")?.1.scalar?.string ?? ""
        let name = alert.isEmpty ? record : alert
        let ruleName: String? = name.isEmpty ? nil : name
        let before = diagnostics.count
        for (key, keyNode, _) in entries where !Self.ruleKeys.contains(key) {
            report(keyNode, "field \(key) not found in type rulefmt.RuleNode", group: groupName, ruleIndex: index, ruleName: ruleName)
        }
        let nameNode = value("record")?.1 ?? value("alert")?.1 ?? node
        if !record.isEmpty && !alert.isEmpty {
            report(nameNode, "only one of 'record' and 'alert' must be set", group: groupName, ruleIndex: index, ruleName: ruleName)
        }
        if record.isEmpty && alert.isEmpty {
            report(node, "one of 'record' or 'alert' must be set", group: groupName, ruleIndex: index, ruleName: ruleName)
        }
        let exprNode = value("expr")?.1
        let expr = exprNode?.scalar?.string ?? ""
        if expr.isEmpty {
            report(exprNode ?? node, "field 'expr' must be set in rule", group: groupName, ruleIndex: index, ruleName: ruleName)
        } else if let exprNode {
            do {
                switch group.language {
                case .promql:
                    if let checkers { try checkers.promql.check(expr) } else { _ = try PromQLParser.parse(expr) }
                case .logql: try checkers?.logql?.check(expr)
                }
            } catch let error as SightlineError {
                report(exprNode, "could not parse expression: \(error.message)", group: groupName, ruleIndex: index, ruleName: ruleName)
            } catch {
                report(exprNode, "could not parse expression: \(error)", group: groupName, ruleIndex: index, ruleName: ruleName)
            }
        }
        let forMs = value("for").flatMap { duration($0.1, key: "for", group: groupName, ruleIndex: index, ruleName: ruleName) } ?? 0
        let keepFiringForMs =
            value("keep_firing_for").flatMap { duration($0.1, key: "keep_firing_for", group: groupName, ruleIndex: index, ruleName: ruleName) } ?? 0
        let labels = value("labels").map {
            labelMap($0.1, what: "labels", group: groupName, ruleIndex: index, ruleName: ruleName, isAnnotation: false)
        } ?? []
        let annotations = value("annotations").map {
            labelMap($0.1, what: "annotations", group: groupName, ruleIndex: index, ruleName: ruleName, isAnnotation: true)
        } ?? []
        if !record.isEmpty && alert.isEmpty {
            if !annotations.isEmpty {
                report(nameNode, "invalid field 'annotations' in recording rule", group: groupName, ruleIndex: index, ruleName: ruleName)
            }
            if forMs != 0 { report(nameNode, "invalid field 'for' in recording rule", group: groupName, ruleIndex: index, ruleName: ruleName) }
            if keepFiringForMs != 0 {
                report(nameNode, "invalid field 'keep_firing_for' in recording rule", group: groupName, ruleIndex: index, ruleName: ruleName)
            }
            if !Self.isValidMetricName(record) {
                report(nameNode, "invalid recording rule name: \(record)", group: groupName, ruleIndex: index, ruleName: ruleName)
            }
        }
        if !alert.isEmpty {
            // Prometheus parses every label and annotation template of an alerting rule when it loads the file.
            let templateName = "__alert_" + alert
            let templated: [(String, Node?)] =
                labels.map { label in (label.value, labelValueNode(value("labels")?.1, label.name)) }
                + annotations.map { annotation in (annotation.value, labelValueNode(value("annotations")?.1, annotation.name)) }
            for (text, valueNode) in templated {
                do {
                    _ = try GoTemplate(name: templateName, text: RuleTemplate.definitions + text, functions: RuleTemplate.functionNames)
                } catch {
                    report(
                        valueNode ?? node, "error parsing template \(templateName): \(error.message)", group: groupName, ruleIndex: index,
                        ruleName: ruleName)
                }
            }
        }
        guard diagnostics.count == before, !expr.isEmpty else { return nil }
        return RuleDefinition(
            kind: alert.isEmpty ? .recording : .alerting, name: name, expr: expr, forMs: forMs, keepFiringForMs: keepFiringForMs,
            labels: labels, annotations: annotations, line: node.mark?.line ?? 0)
    }

    private func labelValueNode(_ mapping: Node?, _ key: String) -> Node? {
        guard let mapping = mapping?.mapping else { return nil }
        for (keyNode, value) in mapping where keyNode.scalar?.string == key { return value }
        return nil
    }

    /// Prometheus' classic metric-name rule, which recording rule names must follow: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    static func isValidMetricName(_ name: String) -> Bool {
        guard !name.isEmpty else { return false }
        for (index, byte) in name.utf8.enumerated() {
            let letter = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == 0x5F || byte == 0x3A
            let digit = byte >= 0x30 && byte <= 0x39
            if !(letter || (digit && index > 0)) { return false }
        }
        return true
    }

    private static func yamlDiagnostic(_ error: YamlError, file: String) -> RuleFileDiagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            let contextText = context.map { "\($0.text) " } ?? ""
            return RuleFileDiagnostic(file: file, line: mark.line, column: mark.column, message: "not valid YAML: \(contextText)\(problem)")
        case .composer(let context, let problem, let mark, _):
            let contextText = context.map { "\($0.text) " } ?? ""
            return RuleFileDiagnostic(file: file, line: mark.line, column: mark.column, message: "not valid YAML: \(contextText)\(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return RuleFileDiagnostic(
                file: file, line: context.mark.line, column: context.mark.column,
                message: "mapping keys \(duplicates.map { GoText.quote($0) }.joined(separator: ", ")) are defined more than once")
        default:
            return RuleFileDiagnostic(file: file, line: 0, column: 0, message: "not valid YAML: \(error)")
        }
    }
}
