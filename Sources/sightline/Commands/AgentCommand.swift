import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SightlineAgent
import SightlineCore
import UnixSignals

/// `sightline agent`: tails log files on this host and delivers them, through a durable on-disk buffer, to a server.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the Sightline agent: tail log files, transform them, buffer on disk and deliver to a server.",
        discussion: """
            Settings come from the YAML file given with --config (keys: server, token, data_dir, metrics_address, \
            buffer, batch_max_bytes, max_in_flight, compression, poll_interval, host_name, sources, forward; see \
            docs/agent.md for a commented example). \
            Every batch is durable in the agent's buffer under data_dir before a file's read position moves, and \
            leaves it only once the server acknowledged it; retries carry the same batch id, which the server uses \
            to store each batch once. SIGTERM or SIGINT stop the agent after the batch in flight.
            """
    )

    @Option(name: .long, help: ArgumentHelp("YAML configuration file of the agent.", valueName: "file"))
    var config: String

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical. (default: info)", valueName: "level"))
    var logLevel: String = "info"

    func run() async throws {
        Allocator.keepLargeBuffers()
        let settings: AgentConfig
        do {
            settings = try AgentConfig.load(path: config)
        } catch let error as SightlineError {
            FileHandle.standardError.write(Data("sightline agent: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level: expected trace, debug, info, notice, warning, error or critical, got \"\(logLevel)\"")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sightline.agent")
        let agent = try Agent(config: settings, logger: logger)
        try agent.start()
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: AgentService(agent: agent))], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
        logger.info("Sightline agent stopped")
    }
}

/// Keeps the agent running until the service group shuts down, then stops its loops.
private struct AgentService: Service {
    let agent: Agent

    func run() async throws {
        try? await gracefulShutdown()
        agent.stop()
    }
}
