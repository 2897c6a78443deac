import ArgumentParser
import Foundation
import SightlineCore

/// `sightline audit …`: a customer's view of their own audit trail, through the server's audit API.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Search, export and verify the audit trail of your tenant.",
        subcommands: [AuditEventsCommand.self, AuditExportCommand.self, AuditVerifyCommand.self, AuditPublicKeyCommand.self, AuditHoldCommand.self]
    )
}

/// The filters `events` and `export` share, named as the API's parameters.
struct AuditFilterOptions: ParsableArguments {
    @Option(help: "Actor id.") var actor: String?
    @Option(name: .customLong("actor-type"), help: "Actor type (user, service, …).") var actorType: String?
    @Option(help: ArgumentHelp("Action, or a prefix ending in * (invoice.*).", valueName: "action")) var action: String?
    @Option(name: .customLong("resource-type"), help: "Resource type.") var resourceType: String?
    @Option(name: .customLong("resource-id"), help: "Resource id.") var resourceID: String?
    @Option(help: "success, failure or denied.") var outcome: String?
    @Option(help: ArgumentHelp("Earliest event time: RFC 3339 or Unix seconds.", valueName: "time")) var start: String?
    @Option(help: ArgumentHelp("Latest event time: RFC 3339 or Unix seconds.", valueName: "time")) var end: String?
    @Option(name: .customShort("q"), help: ArgumentHelp("Free text, case-insensitive, in any field.", valueName: "text")) var text: String?

    var parameters: [(String, String)] {
        let pairs: [(String, String?)] = [
            ("actor", actor), ("actor_type", actorType), ("action", action), ("resource_type", resourceType), ("resource_id", resourceID),
            ("outcome", outcome), ("start", start), ("end", end), ("q", text),
        ]
        return pairs.compactMap { name, value in value.map { (name, $0) } }
    }
}

/// `sightline audit events`: matching events, newest first, as a table or JSON lines.
struct AuditEventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "List audit events, newest first.")

    @OptionGroup var options: AlertingClientOptions
    @OptionGroup var filter: AuditFilterOptions
    @Option(help: "Most events to list.") var limit: Int = 100
    @Flag(name: .long, help: "Print each event as a JSON line.") var json = false

    func validate() throws {
        _ = try options.client("audit")
        if limit <= 0 { throw ValidationError("--limit must be positive") }
    }

    func run() async throws {
        let client = try options.client("audit")
        var events: [[String: Any]] = []
        var cursor: String?
        repeat {
            var parameters = filter.parameters + [("limit", String(min(1000, limit - events.count)))]
            if let cursor { parameters.append(("cursor", cursor)) }
            let answer = try await AuditCommand.request { try await client.get("/api/v1/audit/events", parameters) }
            events += answer.object?["events"] as? [[String: Any]] ?? []
            cursor = answer.object?["next_cursor"] as? String
        } while cursor != nil && events.count < limit
        if json {
            for event in events {
                let data = try JSONSerialization.data(withJSONObject: event, options: [.sortedKeys, .withoutEscapingSlashes])
                FileHandle.standardOutput.write(data + Data("\n".utf8))
            }
            return
        }
        guard !events.isEmpty else { return ServerClient.printError("no matching audit events") }
        var rows = [["SEQ", "TIME", "ACTOR", "ACTION", "RESOURCE", "OUTCOME", "ID"]]
        for event in events {
            let actor = event["actor"] as? [String: Any] ?? [:]
            let resource = event["resource"] as? [String: Any] ?? [:]
            rows.append([
                "\(event["seq"] ?? "")", event["time"] as? String ?? "", actor["id"] as? String ?? "", event["action"] as? String ?? "",
                [resource["type"] as? String, resource["id"] as? String].compactMap { $0 }.joined(separator: "/"),
                event["outcome"] as? String ?? "", event["id"] as? String ?? "",
            ])
        }
        print(QueryCommand.align(rows), terminator: "")
    }
}

/// `sightline audit export`: every matching event as NDJSON or CSV, to stdout or a file.
struct AuditExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Export audit events as NDJSON or CSV.")

    @OptionGroup var options: AlertingClientOptions
    @OptionGroup var filter: AuditFilterOptions
    @Option(help: "ndjson or csv.") var format: String = "ndjson"
    @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file instead of stdout.", valueName: "file")) var output: String?

    func validate() throws {
        _ = try options.client("audit")
        guard format == "ndjson" || format == "csv" else { throw ValidationError("--format must be ndjson or csv") }
    }

    func run() async throws {
        let client = try options.client("audit")
        let answer = try await AuditCommand.request { try await client.get("/api/v1/audit/export", filter.parameters + [("format", format)]) }
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: Data(answer.body)) else {
                throw ServerClient.failure("audit export", "cannot write \(output)")
            }
        } else {
            FileHandle.standardOutput.write(Data(answer.body))
        }
    }
}

/// `sightline audit verify`: checks the chain and the signed digests; exits 1 naming the first broken event.
struct AuditVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Verify the audit trail: every event's hash chain and the server's signed digests.",
        discussion: "Exits 0 when intact; exits 1 and names the first event where the chain breaks otherwise.")

    @OptionGroup var options: AlertingClientOptions
    @Option(help: ArgumentHelp("Start at the signed digest just before this event seq, or the last one made by this RFC 3339 time.", valueName: "seq|time"))
    var from: String?

    func validate() throws { _ = try options.client("audit") }

    func run() async throws {
        let client = try options.client("audit")
        let answer = try await AuditCommand.request { try await client.get("/api/v1/audit/verify", from.map { [("from", $0)] } ?? []) }
        let object = answer.object ?? [:]
        let checked = "\(object["events_checked"] ?? 0) events and \(object["digests_checked"] ?? 0) signed digests"
        if object["ok"] as? Bool == true {
            print("OK: tenant \(object["tenant"] ?? ""): \(checked) verified, up to seq \(object["last_seq"] ?? 0)")
            return
        }
        let broken = object["first_broken"] as? [String: Any] ?? [:]
        let id = (broken["id"] as? String).map { " (id \($0))" } ?? ""
        ServerClient.printError("BROKEN: tenant \(object["tenant"] ?? ""): first broken at seq \(broken["seq"] ?? "?")\(id): \(broken["reason"] ?? "")")
        throw ExitCode(1)
    }
}

/// `sightline audit public-key`: the PEM key that checks the digests, to keep apart from the server.
struct AuditPublicKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "public-key", abstract: "Print the Ed25519 public key that signs audit digests (PEM).")

    @OptionGroup var options: AlertingClientOptions

    func validate() throws { _ = try options.client("audit") }

    func run() async throws {
        let client = try options.client("audit")
        let answer = try await AuditCommand.request { try await client.get("/api/v1/audit/public-key", []) }
        FileHandle.standardOutput.write(Data(answer.body))
    }
}

/// `sightline audit hold list|place|release`: legal holds (admin role).
struct AuditHoldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold", abstract: "List, place or release legal holds (events in a held time range outlive retention).")

    @OptionGroup var options: AlertingClientOptions
    @Argument(help: "list, place or release.") var verb: String = "list"
    @Argument(help: "The hold id, for release.") var id: String?
    @Option(help: ArgumentHelp("Start of the held event time range (RFC 3339), for place.", valueName: "time")) var from: String?
    @Option(help: ArgumentHelp("End of the held event time range (RFC 3339), for place.", valueName: "time")) var to: String?
    @Option(help: "Why the events are held, for place.") var reason: String?

    func validate() throws {
        _ = try options.client("audit")
        switch verb {
        case "list": break
        case "place": if from == nil || to == nil || reason == nil { throw ValidationError("place needs --from, --to and --reason") }
        case "release": if id == nil { throw ValidationError("release needs the hold id") }
        default: throw ValidationError("unknown verb \"\(verb)\": use list, place or release")
        }
    }

    func run() async throws {
        let client = try options.client("audit")
        let answer: ServerClient.Answer
        switch verb {
        case "place":
            let body = try JSONSerialization.data(withJSONObject: ["from": from ?? "", "to": to ?? "", "reason": reason ?? ""])
            answer = try await AuditCommand.request { try await client.send("POST", "/api/v1/audit/holds", body: Array(body)) }
        case "release":
            answer = try await AuditCommand.request { try await client.send("DELETE", "/api/v1/audit/holds/" + (id ?? "")) }
        default:
            answer = try await AuditCommand.request { try await client.get("/api/v1/audit/holds", []) }
        }
        FileHandle.standardOutput.write(Data(answer.body) + Data("\n".utf8))
    }
}

extension AuditCommand {
    /// Runs a request, turning transport failures and error answers into `sightline audit: …` and exit status 1.
    static func request(_ call: () async throws -> ServerClient.Answer) async throws -> ServerClient.Answer {
        let answer: ServerClient.Answer
        do {
            answer = try await call()
        } catch let error as SightlineError {
            throw ServerClient.failure("audit", error.message)
        }
        guard answer.status == 200 else { throw ServerClient.failure("audit", answer.errorMessage) }
        return answer
    }
}
