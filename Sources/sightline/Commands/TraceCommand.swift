import ArgumentParser
import Foundation
import SightlineCore

/// `sightline trace TRACEID`: fetches one trace through the Jaeger API and prints its span tree with durations.
struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Print one trace as a tree of spans with their services and durations.",
        discussion: """
            Each line shows the span's name, its service, when it started relative to the trace's first span, and \
            its duration; spans whose parent is not in the trace are printed as roots. Spans with an error are \
            marked. Exits 1 when the trace is not found. The token can also come from SIGHTLINE_TOKEN.
            """
    )

    @Argument(help: ArgumentHelp("The trace id, in hex.", valueName: "trace-id"))
    var traceID: String

    @OptionGroup var options: LogClientOptions

    func validate() throws {
        guard !traceID.isEmpty, traceID.count <= 32, traceID.allSatisfy(\.isHexDigit) else {
            throw ValidationError("the trace id must be up to 32 hex digits, got \"\(traceID)\"")
        }
        _ = try ServerClient(server: options.server, token: options.token, userAgent: "sightline-trace")
    }

    func run() async throws {
        let client = try ServerClient(server: options.server, token: options.token, userAgent: "sightline-trace")
        let answer: ServerClient.Answer
        do {
            answer = try await client.get("/api/traces/\(traceID.lowercased())", [])
        } catch let error as SightlineError {
            throw ServerClient.failure("trace", error.message)
        }
        if answer.status == 404 { throw ServerClient.failure("trace", "trace \(traceID) not found") }
        guard answer.status == 200, let object = answer.object else { throw ServerClient.failure("trace", answer.errorMessage) }
        guard let trace = (object["data"] as? [[String: Any]])?.first else { throw ServerClient.failure("trace", "trace \(traceID) not found") }
        if options.json {
            FileHandle.standardOutput.write(Data(answer.body))
            print()
            return
        }
        print(SpanTree(trace: trace).render(), terminator: "")
    }
}

/// The spans of a Jaeger-shaped trace as a tree.
struct SpanTree {
    struct Node {
        var id: String
        var parent: String?
        var name: String
        var service: String
        var startMicros: Int64
        var durationMicros: Int64
        var error: Bool
    }

    var nodes: [Node] = []
    var traceID: String

    init(trace: [String: Any]) {
        traceID = trace["traceID"] as? String ?? ""
        let processes = trace["processes"] as? [String: [String: Any]] ?? [:]
        for span in trace["spans"] as? [[String: Any]] ?? [] {
            let references = span["references"] as? [[String: Any]] ?? []
            let parent = references.first { $0["refType"] as? String == "CHILD_OF" }?["spanID"] as? String
            let tags = span["tags"] as? [[String: Any]] ?? []
            let error = tags.contains { $0["key"] as? String == "error" && ($0["value"] as? Bool == true || $0["value"] as? String == "true") }
            nodes.append(
                Node(
                    id: span["spanID"] as? String ?? "", parent: parent, name: span["operationName"] as? String ?? "",
                    service: (processes[span["processID"] as? String ?? ""]?["serviceName"] as? String) ?? "?",
                    startMicros: (span["startTime"] as? NSNumber)?.int64Value ?? 0,
                    durationMicros: (span["duration"] as? NSNumber)?.int64Value ?? 0, error: error))
        }
    }

    /// `GET /cart  shop  +0.000 ms  30.000 ms` lines, children below their parent by start time.
    func render() -> String {
        let ids = Set(nodes.map(\.id))
        var children: [String: [Node]] = [:]
        var roots: [Node] = []
        for node in nodes {
            if let parent = node.parent, ids.contains(parent), parent != node.id {
                children[parent, default: []].append(node)
            } else {
                roots.append(node)
            }
        }
        let first = nodes.map(\.startMicros).min() ?? 0
        let end = nodes.map { $0.startMicros + $0.durationMicros }.max() ?? 0
        let services = Set(nodes.map(\.service)).count
        var out = "trace \(traceID): \(nodes.count) spans, \(services) services, \(Self.milliseconds(end - first))\n"
        var visited = Set<String>()
        func emit(_ node: Node, prefix: String, connector: String, childPrefix: String) {
            guard visited.insert(node.id).inserted else { return }
            let mark = node.error ? "  [error]" : ""
            out += "\(prefix)\(connector)\(node.name)  \(node.service)  +\(Self.milliseconds(node.startMicros - first))  \(Self.milliseconds(node.durationMicros))\(mark)\n"
            let kids = (children[node.id] ?? []).sorted { ($0.startMicros, $0.id) < ($1.startMicros, $1.id) }
            for (index, kid) in kids.enumerated() {
                let last = index == kids.count - 1
                emit(kid, prefix: childPrefix, connector: last ? "└─ " : "├─ ", childPrefix: childPrefix + (last ? "   " : "│  "))
            }
        }
        for root in roots.sorted(by: { ($0.startMicros, $0.id) < ($1.startMicros, $1.id) }) {
            emit(root, prefix: "", connector: "", childPrefix: "")
        }
        return out
    }

    static func milliseconds(_ micros: Int64) -> String {
        String(format: "%.3f ms", Double(micros) / 1000)
    }
}
