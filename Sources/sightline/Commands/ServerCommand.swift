import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SightlineCore
import SightlineQuery
import SightlineServer

/// glibc's `int mallopt(int param, int value)` (malloc.h), which the Glibc module does not export.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

/// `sightline server`: ingestion, storage and the HTTP and gRPC APIs, on embedded storage.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the Sightline server: OTLP, remote write, import and scraping into embedded storage or ClickHouse.",
        discussion: """
            Settings come from the YAML file given with --config; flags given on the command line win over it. \
            An unknown key or a bad value in the file stops the start with a message naming the key and the file. \
            SIGTERM or SIGINT shut the server down gracefully: it stops accepting, finishes in-flight requests, \
            persists the stores, fsyncs the write-ahead log and exits 0. SIGHUP reloads the rule files and the \
            Alertmanager config (as POST /-/reload does); a bad file is logged and the running configuration stays.
            """
    )

    @Option(name: .long, help: ArgumentHelp("YAML configuration file (keys: data_dir, http_address, otlp_grpc_address, log_level, wal, limits, metrics, scrape_configs, rules, alerting, auth; see the README).", valueName: "file"))
    var config: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Directory for the WAL and the stores. (default: ./sightline-data)", valueName: "dir"))
    var dataDirectory: String?

    @Option(name: .customLong("http-address"), help: ArgumentHelp("host:port of the HTTP API: OTLP/HTTP, queries, /metrics, health. (default: 127.0.0.1:7600)", valueName: "host:port"))
    var httpAddress: String?

    @Option(name: .customLong("otlp-grpc-address"), help: ArgumentHelp("host:port of OTLP/gRPC. (default: 127.0.0.1:4317)", valueName: "host:port"))
    var otlpGRPCAddress: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical. (default: info)", valueName: "level"))
    var logLevel: String?

    @Option(name: .customLong("wal-fsync"), help: ArgumentHelp("always (fsync before every acknowledgement), interval (fsync every second; a crash may lose the last second) or never (tests only). (default: always)", valueName: "policy"))
    var walFsync: String?

    @Option(name: .customLong("storage"), help: ArgumentHelp("embedded (the engines under --data-dir) or clickhouse (the data in ClickHouse; the server keeps only its WAL). (default: embedded)", valueName: "backend"))
    var storage: String?

    @Option(name: .customLong("clickhouse-url"), help: ArgumentHelp("ClickHouse's HTTP address for --storage clickhouse, e.g. http://127.0.0.1:8123.", valueName: "url"))
    var clickhouseURL: String?

    @Option(name: .customLong("enable-feature"), help: ArgumentHelp("A Prometheus PromQL feature flag, repeatable or comma-separated: \(PromQLParser.Options.featureNames.joined(separator: ", ")). Adds to query.enable_features.", valueName: "name"))
    var enableFeatures: [String] = []

    /// `base` with the features `names` (Prometheus' `--enable-feature` values, comma-separated lists allowed) on.
    /// - Throws: `ValidationError` naming a feature Sightline does not know.
    static func promQLFeatures(_ names: [String], base: PromQLParser.Options) throws -> PromQLParser.Options {
        var options = base
        for name in names.flatMap({ $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }) where !name.isEmpty {
            guard options.enable(feature: name) else {
                throw ValidationError("--enable-feature: unknown feature \"\(name)\"; expected one of \(PromQLParser.Options.featureNames.joined(separator: ", "))")
            }
        }
        return options
    }

    /// The configuration file's settings with the flags laid over them.
    func resolvedConfiguration() throws -> ServerConfiguration {
        var configuration = try config.map { try ConfigFile.load(path: $0) } ?? ServerConfiguration()
        if let dataDirectory { configuration.dataDirectory = dataDirectory }
        if let httpAddress {
            guard let address = HostAndPort(parsing: httpAddress) else {
                throw ValidationError("--http-address: expected host:port, got \"\(httpAddress)\"")
            }
            configuration.httpAddress = address
        }
        if let otlpGRPCAddress {
            guard let address = HostAndPort(parsing: otlpGRPCAddress) else {
                throw ValidationError("--otlp-grpc-address: expected host:port, got \"\(otlpGRPCAddress)\"")
            }
            configuration.otlpGRPCAddress = address
        }
        if let logLevel {
            guard ServerConfiguration.logLevels.contains(logLevel) else {
                throw ValidationError("--log-level: expected one of \(ServerConfiguration.logLevels.joined(separator: ", ")), got \"\(logLevel)\"")
            }
            configuration.logLevel = logLevel
        }
        if let storage {
            guard let backend = ServerConfiguration.Storage.Backend(rawValue: storage) else {
                throw ValidationError("--storage: expected embedded or clickhouse, got \"\(storage)\"")
            }
            configuration.storage.backend = backend
        }
        if let clickhouseURL { configuration.storage.clickhouse.url = clickhouseURL }
        if configuration.storage.backend == .clickhouse, configuration.storage.clickhouse.url == nil {
            throw ValidationError("--storage clickhouse needs --clickhouse-url (or storage.clickhouse.url in the config file)")
        }
        configuration.promQLFeatures = try Self.promQLFeatures(enableFeatures, base: configuration.promQLFeatures)
        if let walFsync {
            configuration.wal.fsync = try ServerConfiguration.fsyncPolicy(walFsync, interval: nil) { message in
                SightlineError(.configuration, "--wal-fsync: \(message)")
            }
        }
        return configuration
    }

    /// Lets the allocator keep memory a request freed for the next one, instead of returning it to the kernel.
    ///
    /// By default glibc gives freed memory back once more than about twice the largest recent mmapped block is free
    /// at the top of a heap, and serves blocks from 32 MiB up with fresh mappings: a query that decodes tens of
    /// megabytes of samples then spends a third of its time in page faults zeroing the same memory again on every
    /// run (measured: the 7-day PromQL benchmark query 138 → 54 ms). Keeping up to 256 MiB free per heap costs that
    /// much resident memory after a large query at most. `GLIBC_TUNABLES` with a `glibc.malloc` setting wins.
    private static func keepFreedMemory() {
        if let tunables = ProcessInfo.processInfo.environment["GLIBC_TUNABLES"], tunables.contains("glibc.malloc.") { return }
        // malloc.h's parameter numbers; the header is not in the Glibc module.
        let trimThreshold: Int32 = -1
        let mmapThreshold: Int32 = -3
        _ = glibcMallopt(trimThreshold, 256 << 20)
        _ = glibcMallopt(mmapThreshold, 64 << 20)
    }

    func run() async throws {
        Allocator.keepLargeBuffers()
        let configuration: ServerConfiguration
        do {
            configuration = try resolvedConfiguration()
        } catch let error as SightlineError {
            FileHandle.standardError.write(Data("sightline server: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        Self.keepFreedMemory()
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sightline.server")
        logger.info(
            "starting Sightline server",
            metadata: [
                "data_dir": "\(configuration.dataDirectory)", "http": "\(configuration.httpAddress)",
                "otlp_grpc": "\(configuration.otlpGRPCAddress)", "auth": "\(configuration.tokens.isEmpty ? "off" : "\(configuration.tokens.count) tokens")",
            ]
        )
        let assembly = try await ServerApp.assemble(configuration, logger: logger)
        try await assembly.group.run()
        logger.info("Sightline server stopped")
    }
}
