import ArgumentParser
import Foundation
import SightlineCore
import SightlineServer

/// Options `sightline logs` and `sightline tail` share.
struct LogClientOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Base URL of the server; plain http only.", valueName: "url"))
    var server: String = "http://127.0.0.1:7600"

    @Option(name: .long, help: ArgumentHelp("Bearer token, when the server has tokens configured.", valueName: "token"))
    var token: String?

    @Flag(name: .long, help: "Print each line as the JSON the server sent (one object per line for tail).")
    var json = false
}

/// `sightline logs 'QUERY'`: runs a LogQL query through a server's Loki API and prints the lines or the samples.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Run a LogQL query against a Sightline server and print the result.",
        discussion: """
            A log query prints `TIME {stream labels} line`, newest first (--forward: oldest first), at most --limit \
            lines. A metric query (count_over_time, rate, sum by …) prints its series as a table. The range is \
            --since before now (default 1h), or --from/--to. Times are RFC 3339 (2024-05-01T12:00:00Z) or Unix \
            seconds; durations like 15s, 5m, 1h30m. Errors from the server are printed, and the command exits 1. \
            The token can also come from SIGHTLINE_TOKEN.
            """
    )

    @Argument(help: ArgumentHelp("The LogQL query, e.g. '{service_name=\"api\"} |= \"error\"'.", valueName: "query"))
    var query: String

    @Option(name: .long, help: ArgumentHelp("How far back from now. (default: 1h)", valueName: "duration"))
    var since: String?

    @Option(name: .long, help: ArgumentHelp("Start of the range.", valueName: "time"))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("End of the range. (default: now)", valueName: "time"))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("Most lines to print.", valueName: "n"))
    var limit: Int = 100

    @Option(name: .long, help: ArgumentHelp("Step of a metric query. (default: the range / 250, at least 1s)", valueName: "duration"))
    var step: String?

    @Flag(name: .long, help: "Oldest lines first.")
    var forward = false

    @OptionGroup var options: LogClientOptions

    func validate() throws {
        if since != nil && from != nil { throw ValidationError("use either --since or --from, not both") }
        guard limit > 0 else { throw ValidationError("--limit must be positive") }
        for (flag, value) in [("--from", from), ("--to", to)] {
            if let value, PrometheusAPITime.parse(value) == nil {
                throw ValidationError("\(flag): cannot parse \"\(value)\" as RFC 3339 or Unix seconds")
            }
        }
        for (flag, value) in [("--since", since), ("--step", step)] {
            if let value, (try? PrometheusAPIParameters.parseDuration(value)).map({ $0 > 0 }) != true {
                throw ValidationError("\(flag): cannot parse \"\(value)\" as a positive duration such as 15s or 1h")
            }
        }
        _ = try ServerClient(server: options.server, token: options.token, userAgent: "sightline-logs")
    }

    func run() async throws {
        let client = try ServerClient(server: options.server, token: options.token, userAgent: "sightline-logs")
        let nowMs = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        let endMs = to.flatMap(PrometheusAPITime.parse) ?? nowMs
        let startMs = try from.flatMap(PrometheusAPITime.parse) ?? endMs - (since.map(PrometheusAPIParameters.parseDuration) ?? 3_600_000)
        var form = [
            ("query", query), ("start", "\(startMs * 1_000_000)"), ("end", "\(endMs * 1_000_000)"), ("limit", "\(limit)"),
            ("direction", forward ? "forward" : "backward"),
        ]
        if let step { form.append(("step", "\(Double(try PrometheusAPIParameters.parseDuration(step)) / 1000)")) }
        let answer: ServerClient.Answer
        do {
            answer = try await client.get("/loki/api/v1/query_range", form)
        } catch let error as SightlineError {
            throw ServerClient.failure("logs", error.message)
        }
        guard let object = answer.object, object["status"] as? String == "success", let data = object["data"] as? [String: Any] else {
            throw ServerClient.failure("logs", answer.errorMessage)
        }
        if options.json {
            FileHandle.standardOutput.write(Data(answer.body))
            if answer.body.last != UInt8(ascii: "\n") { FileHandle.standardOutput.write(Data("\n".utf8)) }
            return
        }
        if data["resultType"] as? String == "streams" {
            let lines = LogLines.entries(data["result"], forward: forward)
            if lines.isEmpty { ServerClient.printError("no lines") }
            for line in lines { print(line.text) }
        } else {
            let rows = QueryCommand.rows(data: data)
            if rows.count <= 1 { ServerClient.printError("empty result") } else { print(QueryCommand.align(rows), terminator: "") }
        }
    }
}

/// `sightline tail 'QUERY'`: follows new lines as they arrive.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Follow the lines of a LogQL log query as they arrive.",
        discussion: """
            Prints the lines of the last --since (default: none), then every new line (by its time), oldest first, until \
            interrupted. It polls the Loki API every --interval and re-reads the last --lag of time, so lines that \
            arrive a little late are printed too, each once.
            """
    )

    @Argument(help: ArgumentHelp("The LogQL log query.", valueName: "query"))
    var query: String

    @Option(name: .long, help: ArgumentHelp("Also print the lines of this much time before now.", valueName: "duration"))
    var since: String = "0s"

    @Option(name: .long, help: ArgumentHelp("Time between polls.", valueName: "duration"))
    var interval: String = "1s"

    @Option(name: .long, help: ArgumentHelp("How late a line may arrive and still be printed.", valueName: "duration"))
    var lag: String = "10s"

    @OptionGroup var options: LogClientOptions

    func validate() throws {
        for (flag, value, positive) in [("--since", since, false), ("--interval", interval, true), ("--lag", lag, false)] {
            guard let ms = try? PrometheusAPIParameters.parseDuration(value), positive ? ms > 0 : ms >= 0 else {
                throw ValidationError("\(flag): cannot parse \"\(value)\" as a duration such as 1s or 5m")
            }
        }
        _ = try ServerClient(server: options.server, token: options.token, userAgent: "sightline-tail")
    }

    func run() async throws {
        let client = try ServerClient(server: options.server, token: options.token, userAgent: "sightline-tail")
        let lagNano = UInt64(try PrometheusAPIParameters.parseDuration(lag)) * 1_000_000
        let intervalMs = try PrometheusAPIParameters.parseDuration(interval)
        let firstNano = Self.nowNano() - UInt64(try PrometheusAPIParameters.parseDuration(since)) * 1_000_000
        var cursor = firstNano
        // Lines printed whose time is at or after `cursor - lag`: a later poll sees them again.
        var printed: [UInt64: Set<String>] = [:]
        while !Task.isCancelled {
            let now = Self.nowNano()
            let start = cursor > lagNano ? cursor - lagNano : 0
            let answer: ServerClient.Answer
            do {
                answer = try await client.get(
                    "/loki/api/v1/query_range",
                    [("query", query), ("start", "\(start)"), ("end", "\(now)"), ("limit", "5000"), ("direction", "forward")])
            } catch let error as SightlineError {
                throw ServerClient.failure("tail", error.message)
            }
            guard let object = answer.object, object["status"] as? String == "success", let data = object["data"] as? [String: Any] else {
                throw ServerClient.failure("tail", answer.errorMessage)
            }
            guard data["resultType"] as? String == "streams" else {
                throw ServerClient.failure("tail", "tail follows log queries; this is a metric query")
            }
            for line in LogLines.entries(data["result"], forward: true) {
                let key = line.text
                guard printed[line.timeNano, default: []].insert(key).inserted else { continue }
                // Lines from before the start (re-read for the lag) were there before the tail began.
                guard line.timeNano >= firstNano else { continue }
                // Written at once, not through print's buffer: a pipe reader sees each line as it arrives.
                FileHandle.standardOutput.write(Data(((options.json ? line.json : line.text) + "\n").utf8))
                cursor = max(cursor, line.timeNano)
            }
            cursor = max(cursor, now > lagNano ? now - lagNano : 0)
            let horizon = cursor > lagNano ? cursor - lagNano : 0
            printed = printed.filter { $0.key >= horizon }
            try await Task.sleep(for: .milliseconds(intervalMs))
        }
    }

    static func nowNano() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1e9) }
}

/// The lines of a Loki `streams` result, merged across streams in time order.
enum LogLines {
    struct Line {
        var timeNano: UInt64
        var labels: String
        var line: String
        var json: String

        /// `2024-05-01T12:00:00.123456789Z {app="api"} the line`.
        var text: String { "\(Self.rfc3339(timeNano)) \(labels) \(line)" }

        static func rfc3339(_ nano: UInt64) -> String {
            let milliseconds = PrometheusAPITime.rfc3339(Int64(nano / 1_000_000))
            let fraction = String(nano % 1_000_000_000)
            return milliseconds.dropLast(4) + "." + String(repeating: "0", count: 9 - fraction.count) + fraction + "Z"
        }
    }

    static func entries(_ result: Any?, forward: Bool) -> [Line] {
        var lines: [Line] = []
        for stream in result as? [[String: Any]] ?? [] {
            let labelsObject = stream["stream"] as? [String: Any] ?? [:]
            let labels = Labels(labelsObject.map { Label($0.key, $0.value as? String ?? "\($0.value)") })
            let labelsText = labels.labels.isEmpty ? "{}" : labels.description
            for value in stream["values"] as? [[Any]] ?? [] {
                guard value.count >= 2, let time = (value[0] as? String).flatMap(UInt64.init), let line = value[1] as? String else { continue }
                var json = "{\"time\":\"\(time)\",\"stream\":"
                JSONText.appendLabels(labels, to: &json)
                json += ",\"line\":"
                JSONText.appendString(line, to: &json)
                json += "}"
                lines.append(Line(timeNano: time, labels: labelsText, line: line, json: json))
            }
        }
        lines.sort { forward ? $0.timeNano < $1.timeNano : $0.timeNano > $1.timeNano }
        return lines
    }
}
