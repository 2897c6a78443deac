import Foundation
import Glibc
import Logging
import SightlineIngest
import SightlineNATS
import SightlineTestSupport
import Testing

@testable import SightlineAgent
@testable import SightlineCore

/// The NATS server the forwarding tests publish to, from `SIGHTLINE_TEST_NATS_URL` (see scripts/nats-for-tests.sh).
private let agentNATSURL = ProcessInfo.processInfo.environment["SIGHTLINE_TEST_NATS_URL"]

/// The `forward:` section of the agent's config.
struct NATSForwardConfigTests {
    @Test func forwardKeysParseWithTheContractsDefaults() throws {
        let config = try AgentConfig.parse("forward: {nats_url: \"nats://10.0.0.5:4222\"}\n", file: "agent.yaml")
        #expect(config.forward == NATSForwardConfig(url: "nats://10.0.0.5:4222", stream: "SIGHTLINE_INGEST", subjectPrefix: "sightline.ingest", maxPayload: 1 << 20))
        let custom = try AgentConfig.parse(
            "forward:\n  nats_url: nats://q:4222\n  stream: INGEST_B\n  subject_prefix: site.b.ingest\n", file: "agent.yaml")
        #expect(custom.forward == NATSForwardConfig(url: "nats://q:4222", stream: "INGEST_B", subjectPrefix: "site.b.ingest"))
        #expect(try AgentConfig.parse("server: http://s:7600\n", file: "agent.yaml").forward == nil)
        // A batch must fit one NATS message: by default half of max_payload; a larger one set by hand is refused.
        #expect(config.batchMaxBytes == ((1 << 20) - NATSForwardConfig.headerAllowance) / 2)
        let raised = try AgentConfig.parse("forward: {nats_url: \"nats://q\", max_payload: 8388608}\nbatch_max_bytes: 4194304\n", file: "agent.yaml")
        #expect(raised.batchMaxBytes == 4_194_304 && raised.forward?.maxPayload == 8_388_608)
        #expect(try AgentConfig.parse("server: http://s:7600\n", file: "agent.yaml").batchMaxBytes == 1 << 20)
        #expect(NATSForwarder.subject(for: .otlpLogsGzip, prefix: "sightline.ingest") == "sightline.ingest.logs")
        #expect(NATSForwarder.subject(for: .otlpTraces, prefix: "p") == "p.traces")
        #expect(NATSForwarder.subject(for: .remoteWrite, prefix: "p") == "p.metrics")
    }

    @Test func badForwardValuesNameTheKey() {
        let cases: [(String, String)] = [
            ("forward: {stream: X}\n", "forward.nats_url"),
            ("forward: {nats_url: \"http://q:4222\"}\n", "forward.nats_url"),
            ("forward: {nats_url: \"nats://q\", stream: \"A.B\"}\n", "forward.stream"),
            ("forward: {nats_url: \"nats://q\", subject_prefix: \"a.>\"}\n", "forward.subject_prefix"),
            ("forward: {nats_url: \"nats://q\", subject_prefix: \"a..b\"}\n", "forward.subject_prefix"),
            ("forward: {nats_url: \"nats://q\", subjects: x}\n", "forward.subjects"),
            ("forward: {nats_url: \"nats://q\"}\nbatch_max_bytes: 1048576\n", "batch_max_bytes"),
        ]
        for (yaml, key) in cases {
            do {
                _ = try AgentConfig.parse(yaml, file: "agent.yaml")
                Issue.record("\(yaml) parsed")
            } catch let error as SightlineError {
                #expect(error.code == .configuration)
                #expect(error.message.contains(key), "\(error.message)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func anUnreachableServerIsARetryNotARejection() async {
        let url = "nats://127.0.0.1:\(closedPort())"
        let outcome = await onOwnThread {
            let forwarder = NATSForwarder(config: NATSForwardConfig(url: url), logger: Logger(label: "test"), connectTimeout: .seconds(2))
            defer { forwarder.close() }
            return forwarder.publish(kind: .otlpLogs, path: "/v1/logs", headers: [], batchID: "a-1-0", body: [1, 2, 3])
        }
        guard case .retry(let reason) = outcome else {
            Issue.record("expected a retry, got \(outcome)")
            return
        }
        #expect(reason.contains("127.0.0.1"))
    }
}

/// The agent forwarding through a real JetStream stream, as the wire contract says.
@Suite(.enabled(if: agentNATSURL != nil, "SIGHTLINE_TEST_NATS_URL is not set; start a server with scripts/nats-for-tests.sh start"))
struct NATSForwarderTests {
    /// A stream and subject prefix no other test (or earlier run against the same server) uses.
    private static func uniqueForward(_ url: String) -> NATSForwardConfig {
        let suffix = UInt32.random(in: 0..<UInt32.max)
        return NATSForwardConfig(url: url, stream: "AGENTTEST\(suffix)", subjectPrefix: "agenttest\(suffix).ingest")
    }

    @Test func tailedLinesArePublishedWithTheContractsSubjectHeadersAndPayload() async throws {
        let url = try #require(agentNATSURL)
        let temporary = try TemporaryDirectory(prefix: "agent-nats")
        defer { temporary.remove() }
        let forward = Self.uniqueForward(url)
        let log = temporary.path + "/app.log"
        try (0..<50).map { "line \($0)\n" }.joined().write(toFile: log, atomically: true, encoding: .utf8)
        var config = agentConfig(temporary.path + "/data", log: log, forward: forward)
        config.token = "s3cret"
        let agent = try Agent(config: config, logger: Logger(label: "test"))
        try agent.start()
        let consumer = try await StreamReader(forward)
        var messages: [JetStreamMessage] = []
        var lines: [String] = []
        let deadline = Date().addingTimeInterval(30)
        while lines.count < 50 && Date() < deadline {
            for message in try await consumer.fetch() {
                messages.append(message)
                lines += try logLines(message)
                try await message.ack()
            }
        }
        await stopOffThePool(agent)
        #expect(lines == (0..<50).map { "line \($0)" })
        let agentID = try String(contentsOfFile: temporary.path + "/data/agent-id", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        for message in messages {
            let headers = try #require(message.headers)
            #expect(message.subject == forward.subjectPrefix + ".logs")
            #expect(headers["Sightline-Path"] == "/v1/logs")
            #expect(headers["Content-Type"] == "application/x-protobuf")
            #expect(headers["Content-Encoding"] == "snappy")
            #expect(headers["Authorization"] == "Bearer s3cret")
            let batchID = try #require(headers["X-Sightline-Batch-ID"])
            #expect(batchID.hasPrefix(agentID + "-"))
            #expect(headers["Nats-Msg-Id"] == batchID)
        }
        #expect(Set(messages.compactMap { $0.headers?["Nats-Msg-Id"] }).count == messages.count)
        #expect(agent.metrics.value("sightline_agent_batches_sent_total") == Double(messages.count))
        #expect(agent.metrics.value("sightline_agent_batches_duplicate_total") == 0)
        try await consumer.finish(deleteStream: true)
    }

    @Test func framesWaitWhileNATSIsDownAndAReplayedBufferIsOnlyDuplicates() async throws {
        let url = try #require(agentNATSURL)
        let temporary = try TemporaryDirectory(prefix: "agent-nats")
        defer { temporary.remove() }
        let forward = Self.uniqueForward(url)
        let log = temporary.path + "/app.log"
        try (0..<30).map { "event \($0)\n" }.joined().write(toFile: log, atomically: true, encoding: .utf8)
        let data = temporary.path + "/data"

        // 1. Nothing listens on the port: every frame stays in the buffer, attempts are counted as retries.
        var unreachable = forward
        unreachable.url = "nats://127.0.0.1:\(closedPort())"
        let offline = try Agent(config: agentConfig(data, log: log, forward: unreachable), logger: Logger(label: "test"))
        try offline.start()
        let offlineDeadline = Date().addingTimeInterval(30)
        while (offline.metrics.value("sightline_agent_records_buffered_total") < 30 || offline.metrics.value("sightline_agent_retries_total") < 2)
            && Date() < offlineDeadline
        {
            try await Task.sleep(for: .milliseconds(50))
        }
        await stopOffThePool(offline)
        #expect(offline.metrics.value("sightline_agent_records_buffered_total") == 30)
        #expect(offline.metrics.value("sightline_agent_retries_total") >= 2)
        #expect(offline.metrics.value("sightline_agent_batches_sent_total") == 0)

        // A copy of the data directory stands for an agent that published its frames but crashed before removing them.
        let replay = temporary.path + "/replay"
        try FileManager.default.copyItem(atPath: data, toPath: replay)

        // 2. A second agent over the same data directory, pointed at the real server, sends every frame.
        let online = try Agent(config: agentConfig(data, log: log, forward: forward), logger: Logger(label: "test"))
        try online.start()
        try await waitUntilDrained(online)
        await stopOffThePool(online)
        let sent = online.metrics.value("sightline_agent_batches_sent_total")
        #expect(sent >= 1)
        #expect(online.metrics.value("sightline_agent_batches_duplicate_total") == 0)
        let consumer = try await StreamReader(forward)
        let before = try await consumer.jetStream.streamInfo(forward.stream)
        #expect(Double(before.messages) == sent)

        // 3. The replayed buffer publishes the same ids again: JetStream answers duplicate and stores nothing new.
        let replayed = try Agent(config: agentConfig(replay, log: log, forward: forward), logger: Logger(label: "test"))
        try replayed.start()
        try await waitUntilDrained(replayed)
        await stopOffThePool(replayed)
        #expect(replayed.metrics.value("sightline_agent_batches_sent_total") == sent)
        #expect(replayed.metrics.value("sightline_agent_batches_duplicate_total") == sent)
        let after = try await consumer.jetStream.streamInfo(forward.stream)
        #expect(after.messages == before.messages)
        #expect(after.lastSequence == before.lastSequence)

        // Every line arrived once.
        var lines: [String] = []
        let deadline = Date().addingTimeInterval(30)
        while lines.count < 30 && Date() < deadline {
            for message in try await consumer.fetch() {
                lines += try logLines(message)
                try await message.ack()
            }
        }
        #expect(lines == (0..<30).map { "event \($0)" })
        #expect(try await consumer.fetch(noWait: true).isEmpty)
        try await consumer.finish(deleteStream: true)
    }

    @Test func anExistingStreamIsUsedAsItIs() async throws {
        let url = try #require(agentNATSURL)
        let forward = Self.uniqueForward(url)
        let consumer = try await StreamReader(forward, create: false)
        // Limits retention and a wider subject filter: not what the agent would create, and it must not be changed.
        _ = try await consumer.jetStream.createOrUpdateStream(
            JetStreamStreamConfig(name: forward.stream, subjects: [forward.subjectPrefix.replacingOccurrences(of: ".ingest", with: "") + ".>"]))
        #expect(try await NATSForwarder.ensureStream(consumer.jetStream, forward) == false)
        let outcome = await onOwnThread {
            let forwarder = NATSForwarder(config: forward, logger: Logger(label: "test"))
            defer { forwarder.close() }
            return forwarder.publish(kind: .otlpMetrics, path: "/v1/metrics", headers: [], batchID: "x-1-0", body: [1])
        }
        #expect(outcome == .delivered(duplicate: false))
        let info = try await consumer.jetStream.streamInfo(forward.stream)
        #expect(info.messages == 1)
        try await consumer.finish(deleteStream: true)
    }
}

// MARK: Helpers

/// A loopback port nothing listens on (bound, then closed).
private func closedPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    return bound ? Int(UInt16(bigEndian: address.sin_port)) : 1
}

/// An agent tailing `log` from its beginning into `data`, forwarding to `forward`.
private func agentConfig(_ data: String, log: String, forward: NATSForwardConfig) -> AgentConfig {
    var config = AgentConfig()
    config.dataDirectory = data
    config.pollInterval = 0.02
    config.files = [FileSourceConfig(paths: [log])]
    config.serverPort = 1  // never used: forwarding replaces the HTTP output
    config.forward = forward
    return config
}

/// Runs `body` on a thread of its own: ``NATSForwarder`` blocks its caller until a task finishes, so it must not
/// run on a cooperative pool thread (the agent calls it from its sender thread).
private func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

/// Stops the agent on a thread of its own: ``Agent/stop()`` blocks until the sender finishes its NATS call, which
/// runs as a task, so blocking a cooperative pool thread here could starve it.
private func stopOffThePool(_ agent: Agent) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        Thread {
            agent.stop()
            continuation.resume()
        }.start()
    }
}

/// Waits until the agent has sent something and its buffer is empty (both gauges are updated on every acknowledgement).
private func waitUntilDrained(_ agent: Agent) async throws {
    let deadline = Date().addingTimeInterval(30)
    while !(agent.metrics.value("sightline_agent_batches_sent_total") > 0 && agent.metrics.value("sightline_agent_buffer_bytes") == 0)
        && Date() < deadline
    {
        try await Task.sleep(for: .milliseconds(50))
    }
    #expect(agent.metrics.value("sightline_agent_buffer_bytes") == 0)
}

/// The log lines of a forwarded OTLP/HTTP batch (decompressed as its headers say).
private func logLines(_ message: JetStreamMessage) throws -> [String] {
    let body = try message.bytes.withUnsafeBytes {
        try ContentDecoding.decode($0, encoding: message.headers?["Content-Encoding"], limit: 1 << 24)
    }
    guard case .logs(let records) = try OTLPDecoder.decode(.logs, body: body, format: .protobuf).batch else { return [] }
    return records.map(\.body.text)
}

/// A test consumer on the forwarding stream: a durable pull consumer, as the servers use.
private struct StreamReader {
    let connection: NATSConnection
    let jetStream: JetStream
    let stream: String

    /// Connects; with `create`, also makes the stream as the agent would (the agent may not have created it yet)
    /// and the consumer.
    init(_ forward: NATSForwardConfig, create: Bool = true) async throws {
        connection = try await NATSConnection.connect(to: forward.url, options: NATSConnectionOptions(name: "sightline-agent-tests", connectTimeout: .seconds(30)))
        jetStream = JetStream(connection: connection)
        stream = forward.stream
        guard create else { return }
        _ = try await NATSForwarder.ensureStream(jetStream, forward)
        _ = try await jetStream.createOrUpdateConsumer(stream: stream, config: JetStreamConsumerConfig(durableName: "test-servers"))
    }

    /// The next messages, waiting up to a second for some.
    func fetch(noWait: Bool = false) async throws -> [JetStreamMessage] {
        try await jetStream.fetch(stream: stream, consumer: "test-servers", batch: 100, expires: .seconds(1), noWait: noWait)
    }

    /// Deletes the stream (when asked) and closes the connection.
    func finish(deleteStream: Bool) async throws {
        if deleteStream { try await jetStream.deleteStream(stream) }
        await connection.close()
    }
}
