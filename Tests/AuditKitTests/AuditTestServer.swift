import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat

/// An in-test stand-in for Sightline's `POST /api/v1/audit/events`, bound to 127.0.0.1 on a free port.
///
/// It follows the wire contract: bearer token → tenant (when tokens are given), 403 for an event of another
/// tenant, `{"accepted":N,"duplicates":M}` with de-duplication by id per tenant. It can be told to answer 503 for
/// the next few requests, and it counts every id it was sent, so tests can see duplicates.
final class AuditTestServer: Sendable {
    /// What the server has seen.
    actor State {
        /// Stored event ids per tenant, in arrival order, each once.
        var stored: [String: [String]] = [:]
        /// Every stored event as JSON, by id.
        var storedEvents: [String: Data] = [:]
        /// How often each id was sent (duplicates included).
        var sendCount: [String: Int] = [:]
        /// Requests received (any answer).
        var requests = 0
        /// Answer 503 to this many more requests.
        var failNext = 0

        /// Answer 413 to requests with more events than this.
        var maxEvents = Int.max

        func failNextRequests(_ count: Int) { failNext = count }
        func limitEventsPerRequest(_ count: Int) { maxEvents = count }

        /// Applies one request; returns status and answer body.
        func ingest(tenant: String?, body: Data) -> (HTTPResponse.Status, String) {
            requests += 1
            if failNext > 0 {
                failNext -= 1
                return (.serviceUnavailable, #"{"status":"error","error":"try later"}"#)
            }
            guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                let events = object["events"] as? [[String: Any]]
            else {
                return (.badRequest, #"{"status":"error","error":"body is not {\"events\":[…]}"}"#)
            }
            if events.count > maxEvents {
                return (.contentTooLarge, #"{"status":"error","error":"too many events"}"#)
            }
            for event in events {
                guard let eventTenant = event["tenant"] as? String else { return (.badRequest, #"{"status":"error","error":"tenant missing"}"#) }
                if let tenant, tenant != eventTenant { return (.forbidden, #"{"status":"error","error":"tenant differs"}"#) }
            }
            var accepted = 0
            var duplicates = 0
            for event in events {
                guard let id = event["id"] as? String, let eventTenant = event["tenant"] as? String else { continue }
                sendCount[id, default: 0] += 1
                if stored[eventTenant, default: []].contains(id) {
                    duplicates += 1
                } else {
                    stored[eventTenant, default: []].append(id)
                    storedEvents[id] = try? JSONSerialization.data(withJSONObject: event)
                    accepted += 1
                }
            }
            return (.ok, #"{"accepted":\#(accepted),"duplicates":\#(duplicates)}"#)
        }

        /// Ids sent more than once.
        func duplicatedIDs() -> [String] { sendCount.filter { $0.value > 1 }.keys.sorted() }
        /// Total stored events.
        func storedCount() -> Int { stored.values.reduce(0) { $0 + $1.count } }
        func ids(tenant: String) -> [String] { stored[tenant] ?? [] }
        func event(id: String) -> Data? { storedEvents[id] }
        func requestCount() -> Int { requests }
    }

    let state = State()
    let port: Int
    private let task: Task<Void, any Error>

    /// The base URL to give the relay.
    var url: String { "http://127.0.0.1:\(port)" }

    /// Starts the server; `tokens` maps a bearer token to its tenant (empty: no authentication).
    init(tokens: [String: String] = [:]) async throws {
        let state = self.state
        let router = Router()
        router.post("/api/v1/audit/events") { request, context -> Response in
            var tenant: String?
            if !tokens.isEmpty {
                guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
                    let known = tokens[String(header.dropFirst(7))]
                else {
                    return Response(status: .unauthorized, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"error","error":"unknown token"}"#)))
                }
                tenant = known
            }
            var request = request
            let buffer = try await request.collectBody(upTo: 64 << 20)
            let (status, answer) = await state.ingest(tenant: tenant, body: Data(buffer: buffer))
            return Response(
                status: status,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: answer))
            )
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: quietLogger("audit-test-server")
        )
        task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var bound = 0
        for await port in ports { bound = port }
        port = bound
    }

    /// Stops the server.
    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

/// A logger that only prints critical messages, so expected failures do not flood the test output.
func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .critical
    return logger
}
