package import SightlineCore
import SightlineQuery

/// Expands the templates of alerting rules' labels and annotations as Prometheus does.
///
/// Each text runs with `{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}
/// {{$value := .Value}}` in front (so error columns count from that prefix, as in Prometheus), `missingkey=zero`
/// (a missing label is ""), and the data `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`. A template that fails
/// expands to `<error expanding template: …>`, which is what Prometheus puts in the label or annotation.
///
/// Functions: Go's `and or not len index print printf println eq ne lt le gt ge html urlquery`, and Prometheus'
/// `humanize humanize1024 humanizeDuration humanizePercentage humanizeTimestamp title toUpper toLower match
/// reReplaceAll query first label value strvalue sortByLabel args safeHtml externalURL pathPrefix graphLink tableLink
/// parseDuration stripPort stripDomain now`. Absent: `toTime`, `toDuration`, `js`, `call` and `slice`.
package enum RuleTemplate {
    /// The variable definitions Prometheus puts before every alert template.
    static let definitions =
        "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

    /// Every function a template may call.
    static let functionNames: Set<String> = GoBuiltins.names.union([
        "humanize", "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp", "title", "toUpper", "toLower",
        "match", "reReplaceAll", "query", "first", "label", "value", "strvalue", "sortByLabel", "args", "safeHtml", "externalURL",
        "pathPrefix", "graphLink", "tableLink", "parseDuration", "stripPort", "stripDomain", "now",
    ])

    /// Expands one alert template.
    /// - Parameters:
    ///   - text: the label or annotation value as written.
    ///   - name: the template's name (`__alert_<AlertName>` for alerts).
    ///   - labels: the labels of the alert's series (`$labels`).
    ///   - externalLabels: the server's external labels (`$externalLabels`).
    ///   - externalURL: the server's external URL (`$externalURL`).
    ///   - value: the series' value (`$value`).
    ///   - evaluationTimeMs: the time `query` and `now` use.
    ///   - query: runs `query "expr"`; nil makes `query` fail.
    /// - Returns: the expansion, or `<error expanding template: …>`.
    package static func expand(
        _ text: String, name: String, labels: Labels, externalLabels: Labels = Labels([]), externalURL: String = "",
        value: Double, evaluationTimeMs: Int64 = 0, query: (@Sendable (String) throws -> [(Labels, Double)])? = nil
    ) -> String {
        // Prometheus skips the template engine for texts without actions; so does this.
        guard text.contains("{{") else { return text }
        do {
            return try expandThrowing(
                text, name: name, labels: labels, externalLabels: externalLabels, externalURL: externalURL, value: value,
                evaluationTimeMs: evaluationTimeMs, query: query)
        } catch {
            return "<error expanding template: \(error.message)>"
        }
    }

    /// ``expand(_:name:labels:externalLabels:externalURL:value:evaluationTimeMs:query:)`` that throws Prometheus'
    /// `error parsing template …` / `error executing template …` instead of writing it into the result.
    static func expandThrowing(
        _ text: String, name: String, labels: Labels, externalLabels: Labels, externalURL: String, value: Double,
        evaluationTimeMs: Int64, query: (@Sendable (String) throws -> [(Labels, Double)])?
    ) throws(GoTemplateError) -> String {
        let template: GoTemplate
        do {
            template = try GoTemplate(name: name, text: definitions + text, functions: functionNames)
        } catch {
            throw GoTemplateError(message: "error parsing template \(name): \(error.message)")
        }
        let data = TemplateValue.record(
            [
                "Labels": .stringMap(map(labels)), "ExternalLabels": .stringMap(map(externalLabels)),
                "ExternalURL": .string(externalURL), "Value": .float(value),
            ], typeName: "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }")
        let functions = TemplateFunctions(externalURL: externalURL, evaluationTimeMs: evaluationTimeMs, query: query)
        do {
            return try template.execute(data: data, functions: functions)
        } catch {
            throw GoTemplateError(message: "error executing template \(name): \(error.message)")
        }
    }

    static func map(_ labels: Labels) -> [String: String] {
        var out: [String: String] = [:]
        for label in labels.labels { out[label.name] = label.value }
        return out
    }
}
