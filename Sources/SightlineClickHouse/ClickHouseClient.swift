import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SightlineCore

/// ClickHouse over its HTTP interface: statements, queries whose answer the caller decodes (the format is named in
/// the SQL), and RowBinary inserts.
///
/// Written against ClickHouse 18.16 (Debian's package): no query parameters, so values go into SQL through
/// ``ClickHouseSQL/quote(_:)``; features of later servers are used only after ``version()`` says they exist.
/// Errors carry ClickHouse's own text: `unavailable` when the server cannot be reached or answers 5xx for a reason
/// that may pass (too many queries, memory), `invalidArgument` for the statement itself (syntax, unknown column).
package final class ClickHouseClient: Sendable {
    /// Where ClickHouse listens, e.g. `http://127.0.0.1:8123`.
    package let url: String
    package let database: String
    private let user: String?
    private let password: String?
    private let http: HTTPClient
    /// The largest answer read into memory.
    private let maxResponseBytes: Int

    /// - Parameters:
    ///   - url: ClickHouse's HTTP address (`http://host:port`); a path or query in it is refused.
    ///   - database: the database every statement runs in (created by ``createDatabase()``).
    ///   - user, password: sent as `X-ClickHouse-User` / `X-ClickHouse-Key` when given.
    /// - Throws: `configuration` when the URL is not `http(s)://host[:port]`.
    package init(url: String, database: String = "sightline", user: String? = nil, password: String? = nil, maxResponseBytes: Int = 1 << 30) throws {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        guard let parsed = URL(string: base), let scheme = parsed.scheme, ["http", "https"].contains(scheme), parsed.host != nil,
            parsed.path.isEmpty, parsed.query == nil
        else {
            throw SightlineError(.configuration, "ClickHouse URL \(url) must look like http://host:8123 (no path or query)")
        }
        guard ClickHouseSQL.isIdentifier(database) else {
            throw SightlineError(.configuration, "ClickHouse database name \(database) must be letters, digits and _")
        }
        self.url = base
        self.database = database
        self.user = user
        self.password = password
        self.maxResponseBytes = maxResponseBytes
        http = Self.sharedHTTP
    }

    /// One connection pool for every ClickHouse client of the process, living as long as the process (so it is never
    /// shut down). A server that is down fails a request after the connect timeout, not after the whole deadline.
    private static let sharedHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(3), read: .seconds(300))
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Creates the database when it does not exist.
    package func createDatabase() async throws {
        _ = try await send(sql: "CREATE DATABASE IF NOT EXISTS \(database)", body: nil, inDatabase: false)
    }

    /// Runs a statement that answers nothing of interest (DDL, ALTER, OPTIMIZE).
    package func execute(_ sql: String) async throws {
        _ = try await send(sql: sql, body: nil)
    }

    /// Runs a query and returns the answer's bytes, in the format the SQL names (`FORMAT RowBinary`, `TabSeparated`).
    package func query(_ sql: String) async throws -> [UInt8] {
        let buffer = try await send(sql: sql, body: nil)
        return Array(buffer.readableBytesView)
    }

    /// Inserts rows already encoded as RowBinary, in the order of `columns`.
    package func insert(into table: String, columns: [String], rowBinary: [UInt8]) async throws {
        guard !rowBinary.isEmpty else { return }
        _ = try await send(sql: "INSERT INTO \(table) (\(columns.joined(separator: ", "))) FORMAT RowBinary", body: rowBinary)
    }

    /// The server's version, e.g. 18.16.1.
    package func version() async throws -> ClickHouseVersion {
        let text = String(decoding: try await query("SELECT version() FORMAT TabSeparated"), as: UTF8.self)
        guard let version = ClickHouseVersion(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw SightlineError(.internal, "ClickHouse answered version() with \(text.prefix(80))")
        }
        return version
    }

    /// Sends one request: the SQL in the URL when there is a body (inserts), otherwise as the body.
    private func send(sql: String, body: [UInt8]?, inDatabase: Bool = true) async throws -> ByteBuffer {
        var components = URLComponents()
        var items: [URLQueryItem] = []
        if inDatabase { items.append(URLQueryItem(name: "database", value: database)) }
        if body != nil { items.append(URLQueryItem(name: "query", value: sql)) }
        components.queryItems = items
        var request = HTTPClientRequest(url: url + "/" + (components.percentEncodedQuery.map { "?" + $0 } ?? ""))
        request.method = .POST
        if let user { request.headers.add(name: "X-ClickHouse-User", value: user) }
        if let password { request.headers.add(name: "X-ClickHouse-Key", value: password) }
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
        } else {
            request.body = .bytes(ByteBuffer(string: sql))
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(300))
        } catch {
            throw SightlineError(.unavailable, "ClickHouse at \(url) cannot be reached: \(error)")
        }
        let answer: ByteBuffer
        do {
            answer = try await response.body.collect(upTo: maxResponseBytes)
        } catch {
            throw SightlineError(.unavailable, "ClickHouse at \(url): the answer could not be read (over \(maxResponseBytes) bytes?): \(error)")
        }
        guard response.status == .ok else {
            throw Self.failure(status: response.status.code, text: String(buffer: answer), sql: sql)
        }
        return answer
    }

    /// ClickHouse's error text as a SightlineError: what may pass is `unavailable`, what the statement did is
    /// `invalidArgument`.
    static func failure(status: UInt, text: String, sql: String) -> SightlineError {
        let message = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let code = message.wholeMatch(of: /Code: (\d+)[\s\S]*/).flatMap { Int($0.1) }
        // Too many simultaneous queries, memory limit, timeout, network: worth a retry.
        let transient: Set<Int> = [159, 160, 164, 202, 209, 210, 241, 242, 252, 285, 394]
        let statement = sql.count > 300 ? String(sql.prefix(300)) + "…" : sql
        if status >= 500, code.map(transient.contains) ?? (status == 503) {
            return SightlineError(.unavailable, "ClickHouse is busy: \(message)")
        }
        return SightlineError(.invalidArgument, "ClickHouse refused \(statement): \(message)")
    }

    /// Runs async ClickHouse work to completion for synchronous callers (the store protocols are synchronous). Call
    /// it only from threads that may block — the query engines run on NIO's thread pool — never from Swift's
    /// cooperative pool, whose threads the work itself needs.
    ///
    /// The work runs on ``BlockingBridgeExecutor``'s own threads, not on the cooperative pool, so even a caller that
    /// does block a cooperative thread (rule evaluation) cannot starve the work it waits for.
    package static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task(executorPreference: BlockingBridgeExecutor.shared) {
            do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
            done.signal()
        }
        done.wait()
        return try box.get()
    }
}

/// Two threads that run the tasks of ``ClickHouseClient/blocking(_:)``. Their jobs only wait for network answers, so
/// two are plenty; they never block, so a job always finds a thread.
final class BlockingBridgeExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = BlockingBridgeExecutor(threads: 2)

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var next = 0

    private init(threads: Int) {
        for index in 0..<threads {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "clickhouse-bridge-\(index)"
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while next == jobs.count { condition.wait() }
            let job = jobs[next]
            next += 1
            if next == jobs.count {  // drained: reuse the storage
                jobs.removeAll(keepingCapacity: true)
                next = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// The result of a ``ClickHouseClient/blocking(_:)`` call, handed from the task to the waiting thread.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    // Written once by the task before it signals, read once by the waiter after: the semaphore orders them.
    private var result: Result<T, any Error>?
    func set(_ value: Result<T, any Error>) { result = value }
    func get() throws -> T {
        guard let result else { throw SightlineError(.internal, "ClickHouse call ended without a result") }
        return try result.get()
    }
}

/// A ClickHouse server version, compared numerically (18.16.1 < 19.3.4).
package struct ClickHouseVersion: Sendable, Comparable, CustomStringConvertible {
    package var parts: [Int]

    package init?(_ text: String) {
        let parts = text.split(separator: ".").map { Int($0) }
        guard parts.count >= 2, !parts.contains(nil) else { return nil }
        self.parts = parts.compactMap { $0 }
    }

    package init(_ major: Int, _ minor: Int, _ patch: Int = 0) { parts = [major, minor, patch] }

    package static func < (lhs: ClickHouseVersion, rhs: ClickHouseVersion) -> Bool { lhs.parts.lexicographicallyPrecedes(rhs.parts) }
    package var description: String { parts.map(String.init).joined(separator: ".") }
}
