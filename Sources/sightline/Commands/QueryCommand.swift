import ArgumentParser
import Foundation
import SightlineCore
import SightlineServer

/// `sightline query 'EXPR'`: runs a PromQL query through a server's Prometheus API and prints the result as a table.
struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run a PromQL query against a Sightline server and print the result.",
        discussion: """
            Without --range the query is an instant query at --at (default: now). With --range it is a range query \
            over the window ending at --end (default: now), one point every --step (default: the range / 250, at \
            least 1s). Times are RFC 3339 (2024-05-01T12:00:00Z) or Unix seconds (1714564800.5); durations are \
            like 15s, 5m, 1h30m or seconds (90). Errors from the server are printed with their type, and the \
            command exits 1. The token can also come from the SIGHTLINE_TOKEN environment variable.
            """
    )

    @Argument(help: ArgumentHelp("The PromQL expression.", valueName: "expr"))
    var expression: String

    @Option(name: .long, help: ArgumentHelp("Evaluation time of an instant query. (default: now)", valueName: "time"))
    var at: String?

    @Option(name: .long, help: ArgumentHelp("Run a range query over this window, e.g. 1h.", valueName: "duration"))
    var range: String?

    @Option(name: .long, help: ArgumentHelp("Resolution of a range query, e.g. 15s.", valueName: "duration"))
    var step: String?

    @Option(name: .long, help: ArgumentHelp("End of a range query. (default: now)", valueName: "time"))
    var end: String?

    @Option(name: .long, help: ArgumentHelp("Base URL of the server; plain http only.", valueName: "url"))
    var server: String = "http://127.0.0.1:7600"

    @Option(name: .long, help: ArgumentHelp("Bearer token, when the server has tokens configured.", valueName: "token"))
    var token: String?

    @Flag(name: .long, help: "Print the server's JSON response as it is.")
    var json = false

    func validate() throws {
        if range == nil {
            if step != nil { throw ValidationError("--step needs --range") }
            if end != nil { throw ValidationError("--end needs --range; use --at for an instant query") }
        } else if at != nil {
            throw ValidationError("--at is for instant queries; use --end with --range")
        }
        for (flag, value) in [("--at", at), ("--end", end)] {
            if let value, PrometheusAPITime.parse(value) == nil {
                throw ValidationError("\(flag): cannot parse \"\(value)\" as RFC 3339 or Unix seconds")
            }
        }
        for (flag, value) in [("--range", range), ("--step", step)] {
            if let value {
                guard let milliseconds = try? PrometheusAPIParameters.parseDuration(value), milliseconds > 0 else {
                    throw ValidationError("\(flag): cannot parse \"\(value)\" as a positive duration such as 15s or 1h")
                }
            }
        }
        _ = try ServerClient(server: server, token: token, userAgent: "sightline-query")
    }

    func run() async throws {
        let client = try ServerClient(server: server, token: token, userAgent: "sightline-query")
        let path: String
        var form: [(String, String)] = [("query", expression)]
        if let range {
            let endMs = end.flatMap(PrometheusAPITime.parse) ?? Int64((Date().timeIntervalSince1970 * 1000).rounded())
            let rangeMs = try PrometheusAPIParameters.parseDuration(range)
            let stepMs = try step.map(PrometheusAPIParameters.parseDuration) ?? max(1000, (rangeMs / 250 + 999) / 1000 * 1000)
            form += [("start", Self.seconds(endMs - rangeMs)), ("end", Self.seconds(endMs)), ("step", Self.seconds(stepMs))]
            path = "/api/v1/query_range"
        } else {
            if let at { form.append(("time", at)) }
            path = "/api/v1/query"
        }
        let answer: ServerClient.Answer
        do {
            answer = try await client.get(path, form)
        } catch let error as SightlineError {
            throw ServerClient.failure("query", error.message)
        }
        if json {
            FileHandle.standardOutput.write(Data(answer.body))
            if answer.body.last != UInt8(ascii: "\n") { FileHandle.standardOutput.write(Data("\n".utf8)) }
        }
        guard let object = answer.object, object["status"] as? String == "success" else {
            throw ServerClient.failure("query", answer.errorMessage)
        }
        for warning in object["warnings"] as? [String] ?? [] { ServerClient.printError("warning: \(warning)") }
        for info in object["infos"] as? [String] ?? [] { ServerClient.printError("info: \(info)") }
        if !json {
            let rows = Self.rows(data: object["data"] as? [String: Any] ?? [:])
            if rows.count <= 1 {
                ServerClient.printError("empty result")
            } else {
                print(Self.align(rows), terminator: "")
            }
        }
    }

    /// Unix seconds with millisecond precision, as the API reads them.
    static func seconds(_ ms: Int64) -> String {
        var out = ""
        PrometheusAPITime.appendJSON(ms, to: &out)
        return out
    }
}

extension QueryCommand {
    /// The table of a response's `data`: a header row, then one row per sample. A matrix lists each series' points
    /// under it, the series written on its first row only.
    static func rows(data: [String: Any]) -> [[String]] {
        let result = data["result"]
        switch data["resultType"] as? String {
        case "vector":
            var rows = [["SERIES", "TIMESTAMP", "VALUE"]]
            for element in result as? [[String: Any]] ?? [] {
                let point = element["value"] as? [Any] ?? []
                rows.append([seriesText(element["metric"])] + pointTexts(point))
            }
            return rows
        case "matrix":
            var rows = [["SERIES", "TIMESTAMP", "VALUE"]]
            for element in result as? [[String: Any]] ?? [] {
                let series = seriesText(element["metric"])
                for (index, point) in (element["values"] as? [[Any]] ?? []).enumerated() {
                    rows.append([index == 0 ? series : ""] + pointTexts(point))
                }
            }
            return rows
        case "scalar", "string":
            return [["TIMESTAMP", "VALUE"], pointTexts(result as? [Any] ?? [])]
        default:
            return []
        }
    }

    /// `up{instance="a:9100", job="node"}`, or `{}` for a series without labels.
    static func seriesText(_ metric: Any?) -> String {
        let pairs = (metric as? [String: Any] ?? [:]).map { Label($0.key, $0.value as? String ?? "\($0.value)") }
        let text = Labels(pairs).description
        return text.isEmpty ? "{}" : text
    }

    /// The timestamp in RFC 3339 and the value of `[1435781451.781, "1"]`.
    static func pointTexts(_ point: [Any]) -> [String] {
        let seconds = (point.first as? NSNumber)?.doubleValue ?? 0
        let time = PrometheusAPITime.rfc3339(Int64((seconds * 1000).rounded()))
        let value = point.count > 1 ? (point[1] as? String ?? "\(point[1])") : ""
        return [time, value]
    }

    /// Rows padded into columns two spaces apart; the last column is not padded.
    static func align(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        var out = ""
        for row in rows {
            for (index, cell) in row.enumerated() {
                out += cell
                if index < row.count - 1 { out += String(repeating: " ", count: widths[index] - cell.count + 2) }
            }
            out += "\n"
        }
        return out
    }
}
