import ArgumentParser

/// `sightline`: one binary for the server and, later, the agent and the command-line clients.
@main
struct SightlineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sightline",
        abstract: "Sightline: one observability system for logs, metrics, traces and alerts.",
        discussion: """
            Run `sightline server` to ingest OTLP logs, metrics and traces over HTTP and gRPC into embedded storage \
            under --data-dir. See `sightline server --help` for its options.
            """,
        subcommands: [
            ServerCommand.self, AgentCommand.self, QueryCommand.self, LogsCommand.self, TailCommand.self, TraceCommand.self,
            RulesCommand.self, AlertsCommand.self, SilencesCommand.self, SilenceCommand.self, AuditCommand.self,
        ]
    )
}
