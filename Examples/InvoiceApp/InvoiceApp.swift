import ArgumentParser
import AuditKit
import AuditKitGRDB
import AuditKitPostgres
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import UnixSignals

/// A tiny invoicing and payments app that records every business change as an audit event through AuditKit,
/// in the same transaction, and runs AuditKit's relay to deliver them to Sightline. Used by the tests and docs.
@main
struct InvoiceApp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoice-app",
        abstract: "Example app: invoices and transfers, audited through AuditKit into Sightline."
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port; the 'listening on' line tells which).")
    var port = 8080

    @Option(help: "Directory for the SQLite database and the test-hook marker file.")
    var dataDir = "invoice-app-data"

    @Option(help: ArgumentHelp("Use PostgreSQL instead of SQLite.", valueName: "postgres://user@127.0.0.1:PORT/db"))
    var postgres: String?

    @Option(help: "Base URL of the Sightline server the relay delivers to.")
    var sightline = "http://127.0.0.1:7600"

    @Option(help: ArgumentHelp("Ingest token of a tenant (repeatable).", valueName: "TENANT=TOKEN"))
    var token: [String] = []

    @Option(help: "Ingest token for tenants without their own --token.")
    var defaultToken: String?

    @Option(help: "Seconds the relay waits when the outbox is empty.")
    var relayInterval = 0.5

    @Option(help: "Most outbox rows per relay round.")
    var relayBatchSize = 500

    @Flag(help: "Test hook: exit with status 137 right after the first batch is accepted and before it is marked sent (once per data dir).")
    var exitAfterFirstSend = false

    @Flag(help: "Do not run the relay (events stay in the outbox).")
    var noRelay = false

    func validate() throws {
        for pair in token where !pair.contains("=") {
            throw ValidationError("--token: expected TENANT=TOKEN, got \"\(pair)\"")
        }
        if relayInterval <= 0 { throw ValidationError("--relay-interval must be positive, got \(relayInterval)") }
        if relayBatchSize < 1 { throw ValidationError("--relay-batch-size must be at least 1, got \(relayBatchSize)") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
            return handler
        }
        let logger = Logger(label: "invoice-app")
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)

        var services: [any Service] = []
        let store: any InvoiceStore
        let outbox: any AuditOutboxStore
        var beforeStart: (@Sendable () async throws -> Void)?
        if let postgres {
            let client = PostgresClient(configuration: try PostgresAuditOutbox.clientConfiguration(url: postgres), backgroundLogger: logger)
            let postgresStore = PostgresInvoiceStore(client: client, logger: logger)
            services.append(client)
            store = postgresStore
            outbox = postgresStore.outbox
            beforeStart = { try await postgresStore.migrate() }
        } else {
            let sqliteStore = try SQLiteInvoiceStore(path: dataDir + "/invoices.sqlite")
            store = sqliteStore
            outbox = sqliteStore.outbox
        }

        if !noRelay {
            var tokens: [String: String] = [:]
            for pair in token {
                let parts = pair.split(separator: "=", maxSplits: 1)
                tokens[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            var relayConfiguration = AuditRelayConfiguration(
                serverURL: sightline,
                tokens: tokens,
                defaultToken: defaultToken,
                pollInterval: .microseconds(max(1, Int64(relayInterval * 1_000_000))),
                batchSize: relayBatchSize
            )
            if exitAfterFirstSend {
                let marker = dataDir + "/exit-after-first-send.done"
                relayConfiguration.afterSend = { delivery in
                    // Once per data dir: the restarted app must run normally and resend the unmarked rows.
                    guard !FileManager.default.fileExists(atPath: marker) else { return }
                    _ = FileManager.default.createFile(atPath: marker, contents: Data("\(delivery.eventIDs.count)\n".utf8))
                    FileHandle.standardError.write(
                        Data("invoice-app: --exit-after-first-send: exiting with 137 after \(delivery.eventIDs.count) events were accepted, before marking them sent\n".utf8)
                    )
                    Foundation.exit(137)
                }
            }
            let relay = try AuditRelay(outbox: outbox, configuration: relayConfiguration, logger: Logger(label: "invoice-app.relay"))
            services.append(PreparedService(prepare: beforeStart, service: relay))
        }

        let address = host
        var app = Application(
            router: Routes.router(store: store),
            configuration: .init(address: .hostname(host, port: port), serverName: "invoice-app"),
            onServerRunning: { channel in
                // Written straight to the file descriptor, so a pipe sees it at once.
                FileHandle.standardOutput.write(Data("listening on \(address):\(channel.localAddress?.port ?? 0)\n".utf8))
            },
            logger: logger
        )
        if let beforeStart { app.beforeServerStarts(perform: beforeStart) }
        services.append(app)
        let group = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }
}

/// Runs `prepare` (e.g. the PostgreSQL migration, which needs the client running) and then the service, so the
/// relay never reads an outbox table that does not exist yet.
struct PreparedService: Service {
    let prepare: (@Sendable () async throws -> Void)?
    let service: any Service

    func run() async throws {
        try await prepare?()
        try await service.run()
    }
}
