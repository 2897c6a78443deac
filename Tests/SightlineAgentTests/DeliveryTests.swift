import Foundation
import Logging
import SightlineIngest
import SightlineTestSupport
import Synchronization
import Testing

@testable import SightlineAgent
@testable import SightlineCore

/// The agent end to end in one process, against a stand-in server that fails the first attempts.
struct DeliveryTests {
    /// What the stand-in server saw.
    final class Received: Sendable {
        let state = Mutex<(ids: [String], bodies: [String], failuresLeft: Int)>(([], [], 2))
    }

    /// The log lines of a request the agent sent, decompressed as its headers say; empty when it does not decode.
    private static func lines(of request: AgentHTTPServer.Request) -> [String] {
        let body = (try? request.body.withUnsafeBytes {
            try ContentDecoding.decode($0, encoding: request.headers["content-encoding"], limit: 1 << 24)
        }) ?? []
        guard let decoded = try? OTLPDecoder.decode(.logs, body: body, format: .protobuf), case .logs(let records) = decoded.batch else {
            return []
        }
        return records.map(\.body.text)
    }

    /// A config for an agent that tails a file of 100 lines ("line 0" … "line 99") into the stand-in at `port`.
    private static func hundredLines(in temporary: TemporaryDirectory, port: Int) throws -> AgentConfig {
        let log = temporary.path + "/app.log"
        try (0..<100).map { "line \($0)\n" }.joined().write(toFile: log, atomically: true, encoding: .utf8)
        var config = AgentConfig()
        config.serverPort = port
        config.dataDirectory = temporary.path + "/data"
        config.pollInterval = 0.02
        config.files = [FileSourceConfig(paths: [log])]
        return config
    }

    @Test(arguments: [BatchCompression.gzip, .snappy, .none])
    func linesAreDeliveredWithStableBatchIDsAcrossRetries(compression: BatchCompression) throws {
        let temporary = try TemporaryDirectory(prefix: "agent-delivery")
        defer { temporary.remove() }
        let received = Received()
        let stop = Atomic<Bool>(false)
        let server = try AgentHTTPServer(host: "127.0.0.1", port: 0) { request in
            let id = request.headers["x-sightline-batch-id"] ?? ""
            return received.state.withLock { state in
                state.ids.append(id)
                if state.failuresLeft > 0 {
                    state.failuresLeft -= 1
                    return .init(status: 503, body: [])
                }
                #expect(request.headers["content-encoding"] == (compression == .none ? nil : compression.rawValue))
                state.bodies += Self.lines(of: request)
                return .init(status: 200, body: [])
            }
        }
        let serverThread = Thread { server.run(shouldStop: { stop.load(ordering: .acquiring) }) }
        serverThread.start()
        defer { stop.store(true, ordering: .releasing) }

        var config = try Self.hundredLines(in: temporary, port: server.port)
        config.compression = compression
        let agent = try Agent(config: config, logger: Logger(label: "test"))
        try agent.start()
        var waited = 0
        while received.state.withLock({ $0.bodies.count }) < 100 && waited < 600 {
            usleep(50_000)
            waited += 1
        }
        agent.stop()
        let (ids, bodies, _) = received.state.withLock { $0 }
        #expect(bodies == (0..<100).map { "line \($0)" })
        // The two refused attempts and the accepted one carry the same id.
        #expect(ids.count >= 3)
        #expect(Set(ids.prefix(3)).count == 1)
        #expect(agent.metrics.value("sightline_agent_retries_total") >= 2)
    }

    /// With two batches in flight the server sees the second before it answers the first; when the first is refused
    /// it is sent again under its id, and every line arrives once.
    @Test func twoBatchesInFlightAreRetriedAndAcknowledgedInOrder() throws {
        struct Seen {
            var inHandler = 0
            var mostAtOnce = 0
            var refusedID: String?
            var ids: [String] = []
            var bodies: [String] = []
        }
        let temporary = try TemporaryDirectory(prefix: "agent-in-flight")
        defer { temporary.remove() }
        let seen = Mutex(Seen())
        let stop = Atomic<Bool>(false)
        let server = try AgentHTTPServer(host: "127.0.0.1", port: 0) { request in
            let id = request.headers["x-sightline-batch-id"] ?? ""
            let first = seen.withLock { state in
                state.inHandler += 1
                state.mostAtOnce = max(state.mostAtOnce, state.inHandler)
                state.ids.append(id)
                return state.ids.count == 1
            }
            defer { seen.withLock { $0.inHandler -= 1 } }
            if first {
                // Hold the first batch until the second has arrived (or 10 s pass), then refuse it for now.
                var waited = 0
                while seen.withLock({ $0.mostAtOnce }) < 2 && waited < 10_000 {
                    usleep(1000)
                    waited += 1
                }
                seen.withLock { $0.refusedID = id }
                return .init(status: 503, body: [])
            }
            let lines = Self.lines(of: request)
            seen.withLock { $0.bodies += lines }
            return .init(status: 200, body: [])
        }
        let serverThread = Thread { server.run(shouldStop: { stop.load(ordering: .acquiring) }) }
        serverThread.start()
        defer { stop.store(true, ordering: .releasing) }

        var config = try Self.hundredLines(in: temporary, port: server.port)
        config.batchMaxBytes = 100  // about a dozen lines a batch
        config.maxInFlight = 2
        let agent = try Agent(config: config, logger: Logger(label: "test"))
        try agent.start()
        var waited = 0
        while (seen.withLock({ $0.bodies.count }) < 100 || agent.metrics.value("sightline_agent_buffer_bytes") > 0) && waited < 600 {
            usleep(50_000)
            waited += 1
        }
        agent.stop()
        let state = seen.withLock { $0 }
        #expect(state.mostAtOnce == 2)
        #expect(state.bodies.sorted() == (0..<100).map { "line \($0)" }.sorted())
        let refused = try #require(state.refusedID)
        #expect(state.ids.filter { $0 == refused }.count == 2)
        #expect(agent.metrics.value("sightline_agent_retries_total") == 1)
        #expect(agent.metrics.value("sightline_agent_buffer_bytes") == 0)
    }

    @Test func gzipRoundTripsThroughTheServersDecoder() throws {
        var generator = SplitMix64(seed: 7)
        var inputs: [[UInt8]] = [[], [1], Array("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8)]
        inputs.append((0..<100_000).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        inputs.append(Array((0..<5000).map { "2026-11-26T10:00:\($0 % 60)Z level=info msg=\"request \($0)\" path=/api/v\($0 % 3)\n" }.joined().utf8))
        for input in inputs {
            let compressed = GzipCompressor.compress(input)
            #expect(try Gzip.decompress(compressed, maxOutput: 1 << 24) == input)
        }
        let text = inputs[4]
        #expect(GzipCompressor.compress(text).count < text.count / 3)
    }

    @Test func posterReadsChunkedAndSizedResponses() throws {
        let stop = Atomic<Bool>(false)
        let server = try AgentHTTPServer(host: "127.0.0.1", port: 0) { request in
            .init(status: request.path == "/missing" ? 404 : 200, body: Array("got \(request.body.count)".utf8))
        }
        let thread = Thread { server.run(shouldStop: { stop.load(ordering: .acquiring) }) }
        thread.start()
        defer { stop.store(true, ordering: .releasing) }
        let poster = HTTPPoster(host: "127.0.0.1", port: server.port)
        let first = try poster.post("/x", headers: [], body: Array(repeating: 1, count: 100_000))
        #expect(first.status == 200 && first.body == Array("got 100000".utf8))
        let second = try poster.post("/missing", headers: [], body: [])
        #expect(second.status == 404)
        let refused = HTTPPoster(host: "127.0.0.1", port: 1)
        #expect(throws: SightlineError.self) { try refused.post("/x", headers: [], body: []) }
    }
}
