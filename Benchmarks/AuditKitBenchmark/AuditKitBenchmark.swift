import ArgumentParser
import AuditKit
import AuditKitGRDB
import AuditKitPostgres
import Foundation
import GRDB
import Logging
import PostgresNIO

/// Benchmarks of AuditKit, run by scripts/bench/audit.sh: the latency `record` adds to a business transaction,
/// and the relay's throughput into a Sightline server. Prints a markdown table row on stdout, details on stderr.
@main
struct AuditKitBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "AuditKitBenchmark",
        abstract: "AuditKit benchmarks.",
        subcommands: [Latency.self, Relay.self]
    )
}

/// Where the benchmark's outbox lives.
enum BenchDatabase: String, ExpressibleByArgument, Sendable {
    case sqlite
    case postgres
}

/// A realistic event: an invoice update with small before/after snapshots.
func benchEvent(tenant: String, _ number: Int) -> AuditEvent {
    AuditEvent(
        tenant: tenant,
        actor: .init(id: "user-\(number % 50)", type: "user", display: "User \(number % 50)"),
        action: "invoice.update",
        resource: .init(type: "invoice", id: "inv-\(number)"),
        requestID: "req-\(number)",
        clientAddress: "10.1.2.3",
        userAgent: "bench/1.0",
        before: ["amount_cents": .int(Int64(number)), "status": "open", "currency": "EUR"],
        after: ["amount_cents": .int(Int64(number) + 100), "status": "open", "currency": "EUR"],
        attributes: ["source": "bench"]
    )
}

/// Nanoseconds on a monotonic clock.
func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// The q-quantile (0...1) of sorted values, nearest rank.
func quantile(_ sorted: [UInt64], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let index = min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))
    return Double(sorted[index])
}

/// Logs to stderr.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A small seeded generator, so the interleaving is the same every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// (a) The same business transaction with and without `record`, interleaved in a seeded random order.
struct Latency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Latency AuditKit adds to a business transaction (p50/p99).")

    @Option(help: "sqlite or postgres.")
    var database: BenchDatabase = .sqlite
    @Option(help: "Directory for the SQLite file.")
    var dir = NSTemporaryDirectory()
    @Option(help: "SQLite synchronous mode: full (SQLite's default: fsync per commit) or normal.")
    var synchronous = "full"
    @Option(help: "PostgreSQL URL (postgres://user@127.0.0.1:PORT/db).")
    var postgresURL: String?
    @Option(help: "Transactions of each kind (with and without record).")
    var iterations = 5000
    @Option(help: "Warm-up transactions of each kind, not measured.")
    var warmup = 500

    func run() async throws {
        let withoutRecord: [UInt64]
        let withRecord: [UInt64]
        let recordCall: [UInt64]
        let label: String
        switch database {
        case .sqlite:
            (withoutRecord, withRecord, recordCall) = try await sqlite()
            label = "SQLite (GRDB, WAL, synchronous=\(synchronous))"
        case .postgres:
            (withoutRecord, withRecord, recordCall) = try await postgres()
            label = "PostgreSQL 15 (postgres-nio, loopback)"
        }
        let a = withoutRecord.sorted()
        let b = withRecord.sorted()
        let c = recordCall.sorted()
        func ms(_ nanos: Double) -> String { String(format: "%.3f", nanos / 1e6) }
        note("\(label): \(iterations) transactions of each kind")
        print(
            "| \(label) | \(iterations) | \(ms(quantile(a, 0.5))) | \(ms(quantile(b, 0.5))) | **\(ms(quantile(b, 0.5) - quantile(a, 0.5)))** | "
                + "\(ms(quantile(a, 0.99))) | \(ms(quantile(b, 0.99))) | **\(ms(quantile(b, 0.99) - quantile(a, 0.99)))** | "
                + "\(ms(quantile(c, 0.5))) / \(ms(quantile(c, 0.99))) |"
        )
    }

    /// The order of the measured transactions: `true` = with record. Pairs in random order, after the warm-up.
    func plan() -> [Bool] {
        var random = SplitMix(state: 42)
        var order: [Bool] = []
        for _ in 0..<(warmup + iterations) {
            let first = random.next() & 1 == 0
            order.append(first)
            order.append(!first)
        }
        return order
    }

    func sqlite() async throws -> ([UInt64], [UInt64], [UInt64]) {
        let path = dir + "/auditkit-latency-\(getpid()).sqlite"
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        var configuration = Configuration()
        let mode = synchronous.uppercased()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(mode)") }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try await pool.write { db in
            try GRDBAuditOutbox.migrate(db)
            try db.execute(sql: "CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
            try db.execute(sql: "CREATE TABLE ledger (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, amount INTEGER NOT NULL, at INTEGER NOT NULL)")
            for id in 0..<100 { try db.execute(sql: "INSERT INTO account VALUES (?, 0)", arguments: [id]) }
        }
        var without: [UInt64] = []
        var with: [UInt64] = []
        var calls: [UInt64] = []
        for (index, recording) in plan().enumerated() {
            let measured = index >= 2 * warmup
            let number = index
            let start = nowNanos()
            let callTime = try await pool.write { db -> UInt64 in
                try db.execute(sql: "UPDATE account SET balance = balance + 1 WHERE id = ?", arguments: [number % 100])
                try db.execute(sql: "INSERT INTO ledger (account, amount, at) VALUES (?, 1, ?)", arguments: [number % 100, number])
                guard recording else { return 0 }
                let callStart = nowNanos()
                try GRDBAuditOutbox.record(benchEvent(tenant: "t\(number % 4)", number), in: db)
                return nowNanos() - callStart
            }
            let elapsed = nowNanos() - start
            if measured {
                if recording {
                    with.append(elapsed)
                    calls.append(callTime)
                } else {
                    without.append(elapsed)
                }
            }
        }
        return (without, with, calls)
    }

    func postgres() async throws -> ([UInt64], [UInt64], [UInt64]) {
        guard let postgresURL else { throw ValidationError("--postgres-url is needed with --database postgres") }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let client = PostgresClient(configuration: try PostgresAuditOutbox.clientConfiguration(url: postgresURL), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await client.run() }
            defer { tasks.cancelAll() }
            try await PostgresAuditOutbox.migrate(client: client, logger: logger)
            try await client.query("DROP TABLE IF EXISTS bench_account, bench_ledger", logger: logger)
            try await client.query("TRUNCATE auditkit_outbox, auditkit_outbox_sequence", logger: logger)
            try await client.query("CREATE TABLE bench_account (id int PRIMARY KEY, balance bigint NOT NULL)", logger: logger)
            try await client.query(
                "CREATE TABLE bench_ledger (id bigserial PRIMARY KEY, account int NOT NULL, amount bigint NOT NULL, at bigint NOT NULL)", logger: logger)
            try await client.query("INSERT INTO bench_account SELECT g, 0 FROM generate_series(0, 99) g", logger: logger)
            var without: [UInt64] = []
            var with: [UInt64] = []
            var calls: [UInt64] = []
            for (index, recording) in plan().enumerated() {
                let measured = index >= 2 * warmup
                let account = Int32(index % 100)
                let at = Int64(index)
                let start = nowNanos()
                let callTime = try await client.withTransaction(logger: logger) { connection -> UInt64 in
                    try await connection.query("UPDATE bench_account SET balance = balance + 1 WHERE id = \(account)", logger: logger)
                    try await connection.query("INSERT INTO bench_ledger (account, amount, at) VALUES (\(account), 1, \(at))", logger: logger)
                    guard recording else { return 0 }
                    let callStart = nowNanos()
                    try await PostgresAuditOutbox.record(benchEvent(tenant: "t\(index % 4)", index), in: connection, logger: logger)
                    return nowNanos() - callStart
                }
                let elapsed = nowNanos() - start
                if measured {
                    if recording {
                        with.append(elapsed)
                        calls.append(callTime)
                    } else {
                        without.append(elapsed)
                    }
                }
            }
            return (without, with, calls)
        }
    }
}

/// (b) Fill an outbox with events of a few tenants, then run the relay until it is drained.
struct Relay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Relay throughput into a Sightline server (events/s).")

    @Option(help: "Base URL of the Sightline server.")
    var server: String
    @Option(help: ArgumentHelp("Ingest token of a tenant (repeatable); the tenants are the ones named here.", valueName: "TENANT=TOKEN"))
    var token: [String] = []
    @Option(help: "Events to relay.")
    var events = 200_000
    @Option(help: "Most rows per relay round.")
    var batchSize = 500
    @Option(help: "sqlite or postgres.")
    var database: BenchDatabase = .sqlite
    @Option(help: "Directory for the SQLite file.")
    var dir = NSTemporaryDirectory()
    @Option(help: "PostgreSQL URL for --database postgres.")
    var postgresURL: String?

    func run() async throws {
        var tokens: [String: String] = [:]
        for pair in token {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--token: expected TENANT=TOKEN, got \(pair)") }
            tokens[String(parts[0])] = String(parts[1])
        }
        let tenants = tokens.isEmpty ? ["default"] : tokens.keys.sorted()
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        switch database {
        case .sqlite:
            let path = dir + "/auditkit-relay-\(getpid()).sqlite"
            defer {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            }
            let pool = try DatabasePool(path: path)
            try await pool.write { db in try GRDBAuditOutbox.migrate(db) }
            var number = 0
            while number < events {
                let end = min(events, number + 1000)
                let start = number
                try await pool.write { db in
                    for index in start..<end { try GRDBAuditOutbox.record(benchEvent(tenant: tenants[index % tenants.count], index), in: db) }
                }
                number = end
            }
            try await measure(outbox: GRDBAuditOutbox(database: pool), tokens: tokens, tenants: tenants, label: "SQLite", logger: logger)
        case .postgres:
            guard let postgresURL else { throw ValidationError("--postgres-url is needed with --database postgres") }
            let client = PostgresClient(configuration: try PostgresAuditOutbox.clientConfiguration(url: postgresURL), backgroundLogger: logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { await client.run() }
                defer { tasks.cancelAll() }
                try await PostgresAuditOutbox.migrate(client: client, logger: logger)
                try await client.query("TRUNCATE auditkit_outbox, auditkit_outbox_sequence", logger: logger)
                var number = 0
                while number < events {
                    let end = min(events, number + 1000)
                    let start = number
                    try await client.withTransaction(logger: logger) { connection in
                        for index in start..<end {
                            try await PostgresAuditOutbox.record(benchEvent(tenant: tenants[index % tenants.count], index), in: connection, logger: logger)
                        }
                    }
                    number = end
                }
                try await measure(outbox: PostgresAuditOutbox(client: client, logger: logger), tokens: tokens, tenants: tenants, label: "PostgreSQL", logger: logger)
            }
        }
    }

    func measure(outbox: any AuditOutboxStore, tokens: [String: String], tenants: [String], label: String, logger: Logger) async throws {
        let relay = try AuditRelay(
            outbox: outbox,
            configuration: AuditRelayConfiguration(serverURL: server, tokens: tokens, batchSize: batchSize),
            logger: logger
        )
        note("relay: \(events) events of \(tenants.count) tenants in the \(label) outbox; draining into \(server)")
        let start = nowNanos()
        var sent = 0
        var rounds = 0
        var failedRounds = 0
        while true {
            let round = try await relay.deliverPending()
            rounds += 1
            sent += round.sent
            if !round.failedTenants.isEmpty {
                failedRounds += 1
                if failedRounds >= 20 {
                    throw ValidationError("the server refused or failed 20 rounds (tenants \(round.failedTenants)); is the audit endpoint there?")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            if round.fetched == 0 { break }
        }
        let seconds = Double(nowNanos() - start) / 1e9
        note("relay: \(sent) sent in \(rounds) rounds, \(failedRounds) with failures, \(String(format: "%.2f", seconds)) s")
        print("| relay from \(label), \(tenants.count) tenants, batch \(batchSize) | \(events) | \(String(format: "%.2f", seconds)) | **\(Int(Double(sent) / seconds))** |")
    }
}
