import Foundation
import HTTPTypes
import Logging
import NIOCore
import SightlineNATS
import Testing

@testable import SightlineCore
@testable import SightlineServer

/// The NATS server the queue tests run against, from `SIGHTLINE_TEST_NATS_URL` (see scripts/nats-for-tests.sh).
private let queueTestNATSURL = ProcessInfo.processInfo.environment["SIGHTLINE_TEST_NATS_URL"]

/// OTLP/JSON logs with one record per body.
private func otlpLogs(_ bodies: [String]) -> String {
    let records = bodies.map { #"{"timeUnixNano":"1700000000000000000","severityNumber":9,"body":{"stringValue":"\#($0)"}}"# }
    return #"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeLogs":[{"logRecords":[\#(records.joined(separator: ","))]}]}]}"#
}

/// One queue (stream, subjects, consumer) no other test or earlier run uses, with the contract's settings otherwise.
private func freshQueue(_ url: String) -> ServerConfiguration.Queue {
    let id = UInt32.random(in: 0..<UInt32.max)
    var queue = ServerConfiguration.Queue()
    queue.natsURL = url
    queue.stream = "QUEUETEST\(id)"
    queue.subjects = ["queuetest\(id).>"]
    queue.consumer = "servers\(id)"
    queue.fetchBatch = 4
    return queue
}

/// A publisher playing the agent: it creates the stream as the contract says and publishes batches with its headers.
private struct Publisher {
    let connection: NATSConnection
    let jetStream: JetStream
    let queue: ServerConfiguration.Queue

    static func open(_ queue: ServerConfiguration.Queue) async throws -> Publisher {
        let url = try #require(queue.natsURL)
        let connection = try await NATSConnection.connect(to: url, options: NATSConnectionOptions(name: "sightline-queue-tests", connectTimeout: .seconds(30)))
        let jetStream = JetStream(connection: connection)
        _ = try await jetStream.createOrUpdateStream(QueueConsumer.streamConfig(queue))
        return Publisher(connection: connection, jetStream: jetStream, queue: queue)
    }

    /// Publishes `body` as the agent would POST it to `path`, with `id` as Nats-Msg-Id and X-Sightline-Batch-ID.
    @discardableResult
    func publish(_ body: String, id: String, path: String = "/v1/logs", contentType: String = "application/json", token: String? = nil) async throws -> JetStreamPubAck {
        var headers = NATSHeaders([("Sightline-Path", path), ("Content-Type", contentType), ("X-Sightline-Batch-ID", id)])
        if let token { headers.append("Authorization", "Bearer \(token)") }
        let prefix = queue.subjects[0].dropLast(2)
        return try await jetStream.publish("\(prefix).logs", payload: Array(body.utf8), headers: headers, messageID: id)
    }

    /// Publishes `payload` as a publishing server does: a batch in the WAL layout (``QueuePublisher``).
    func publishBatch(_ payload: [UInt8], id: String) async throws {
        let prefix = queue.subjects[0].dropLast(2)
        let headers = NATSHeaders([(QueuePublisher.formatHeader, QueuePublisher.formatValue)])
        _ = try await jetStream.publish("\(prefix).batch", payload: payload, headers: headers, messageID: id)
    }

    func messagesInStream() async throws -> UInt64 { try await jetStream.streamInfo(queue.stream).messages }

    /// Deletes the stream and closes the connection.
    func close() async {
        try? await jetStream.deleteStream(queue.stream)
        await connection.close()
    }
}

/// Runs the consumer over `harness` while `body` runs, then cancels it and waits until it has ended.
private func withConsumer(_ queue: ServerConfiguration.Queue, _ harness: ServerHarness, _ body: () async throws -> Void) async throws {
    let url = try #require(queue.natsURL)
    let consumer = QueueConsumer(url: url, configuration: queue, api: harness.api, logger: Logger(label: "queue-test"))
    let task = Task { try await consumer.run() }
    do {
        try await body()
    } catch {
        task.cancel()
        _ = await task.result
        throw error
    }
    task.cancel()
    _ = await task.result
}

/// Polls `condition` until it holds, recording an issue when it still does not after `timeout`.
private func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    Issue.record("timed out waiting for \(what)")
}

/// The bodies of the stored log records `token` may read (all of the default tenant without one).
private func storedBodies(_ harness: ServerHarness, token: String? = nil) async throws -> [String] {
    var headers: HTTPFields = [:]
    if let token { headers[.authorization] = "Bearer \(token)" }
    let reply = try await harness.client().execute("/api/v1/debug/records?signal=logs&limit=1000", method: .get, headers: headers)
    let object = (try? JSONSerialization.jsonObject(with: Data(reply.body.readableBytesView))) as? [String: Any]
    let records = (object?["data"] as? [String: Any])?["records"] as? [[String: Any]] ?? []
    return records.compactMap { $0["body"] as? String }
}

/// The server's metrics text.
private func metricsText(_ harness: ServerHarness) -> String {
    String(decoding: harness.api.metrics.render(), as: UTF8.self)
}

struct QueueConsumerRouteTests {
    @Test func onlyIngestRoutesAreTaken() {
        for path in [
            "/v1/logs", "/v1/metrics", "/v1/traces", "/api/v1/write", "/api/v1/import/prometheus?extra_label=a=b", "/loki/api/v1/push",
            "/_bulk", "/logs-app/_bulk", "/api/v2/spans", "/api/v1/audit/events", "/otlp/v1/logs", "/api/v1/otlp/v1/metrics",
            "/opentelemetry/v1/metrics",
        ] {
            #expect(QueueConsumer.isIngestRoute(path), "\(path)")
        }
        for path in ["/", "/v1/", "/v1/logs/x", "/v1/profiles", "/otlp/v1/", "/api/v1/otlp/v1/logs", "/api/v1/query", "/api/v1/debug/records", "/-/reload", "/a/b/_bulk", "//_bulk", "/api/v1/audit/holds", "v1/logs"] {
            #expect(!QueueConsumer.isIngestRoute(path), "\(path)")
        }
    }

    @Test func theStreamAndConsumerFollowTheContract() {
        let queue = ServerConfiguration.Queue()
        let stream = QueueConsumer.streamConfig(queue)
        #expect(stream.name == "SIGHTLINE_INGEST" && stream.subjects == ["sightline.ingest.>"])
        #expect(stream.retention == .workQueue && stream.storage == .file && stream.duplicateWindow == .seconds(120))
        let consumer = QueueConsumer.consumerConfig(queue)
        #expect(consumer.durableName == "sightline-servers" && consumer.ackWait == .seconds(30) && consumer.maxDeliver == nil)
        #expect(consumer.filterSubject == nil)
        #expect(queue.natsURL == nil)
    }
}

@Suite(.enabled(if: queueTestNATSURL != nil, "SIGHTLINE_TEST_NATS_URL is not set; start a server with scripts/nats-for-tests.sh start"))
struct QueueConsumerTests {
    @Test func queuedBatchesAreStoredAndAcked() async throws {
        let queue = freshQueue(try #require(queueTestNATSURL))
        let harness = try ServerHarness()
        let publisher = try await Publisher.open(queue)
        try await withConsumer(queue, harness) {
            try await publisher.publish(otlpLogs(["one", "two"]), id: "agent-a-0-0")
            try await publisher.publish(otlpLogs(["three"]), id: "agent-a-0-100")
            try await publisher.publish(
                #"{"streams":[{"stream":{"app":"api"},"values":[["1700000000000000000","four"]]}]}"#, id: "agent-a-0-200", path: "/loki/api/v1/push")
            try await eventually("the records to be stored and the stream to be empty") {
                let stored = try await Set(storedBodies(harness)) == ["one", "two", "three", "four"]
                let empty = try await publisher.messagesInStream() == 0
                return stored && empty
            }
        }
        #expect(try await storedBodies(harness).count == 4)
        #expect(metricsText(harness).contains(#"sightline_queue_messages_total{result="acked"} 3"#))
        await publisher.close()
        await harness.cleanUp()
    }

    @Test func theSameMessageIDIsStoredOnce() async throws {
        let queue = freshQueue(try #require(queueTestNATSURL))
        let harness = try ServerHarness()
        let publisher = try await Publisher.open(queue)
        try await withConsumer(queue, harness) {
            let first = try await publisher.publish(otlpLogs(["once"]), id: "agent-b-0-0")
            let again = try await publisher.publish(otlpLogs(["once"]), id: "agent-b-0-0")
            #expect(!first.duplicate && again.duplicate && again.sequence == first.sequence)
            try await publisher.publish(otlpLogs(["after"]), id: "agent-b-0-50")
            try await eventually("both batches to be stored and the stream to be empty") {
                let stored = try await Set(storedBodies(harness)) == ["once", "after"]
                let empty = try await publisher.messagesInStream() == 0
                return stored && empty
            }
        }
        #expect(try await storedBodies(harness).sorted() == ["after", "once"])
        await publisher.close()
        await harness.cleanUp()
    }

    @Test func aMalformedBatchIsTerminatedAndTheNextOneProcessed() async throws {
        let queue = freshQueue(try #require(queueTestNATSURL))
        let harness = try ServerHarness()
        let publisher = try await Publisher.open(queue)
        try await withConsumer(queue, harness) {
            try await publisher.publish(#"{"resourceLogs":[{"scopeLogs": not json"#, id: "agent-c-0-0")
            try await publisher.publish(otlpLogs(["hello"]), id: "agent-c-0-10", path: "/api/v1/query")
            try await publisher.publish(otlpLogs(["good"]), id: "agent-c-0-20")
            try await eventually("the good batch to be stored and the stream to be empty") {
                let stored = try await storedBodies(harness) == ["good"]
                let empty = try await publisher.messagesInStream() == 0
                return stored && empty
            }
            let consumer = try await publisher.jetStream.consumerInfo(stream: queue.stream, consumer: queue.consumer)
            #expect(consumer.pending == 0 && consumer.ackPending == 0 && consumer.redelivered == 0)
        }
        #expect(try await storedBodies(harness) == ["good"])
        let metrics = metricsText(harness)
        #expect(metrics.contains(#"sightline_queue_messages_total{result="termed"} 2"#), "\(metrics)")
        #expect(metrics.contains(#"sightline_queue_messages_total{result="acked"} 1"#))
        #expect(!metrics.contains(#"result="nacked""#))
        await publisher.close()
        await harness.cleanUp()
    }

    @Test func aBatchInANewerServersLayoutIsLeftForOneAndADamagedOneTerminated() async throws {
        let queue = freshQueue(try #require(queueTestNATSURL))
        let harness = try ServerHarness()
        let publisher = try await Publisher.open(queue)
        let good = BatchDeduplicator.walPayload(
            id: "front-1", batch: TenantBatch(tenant: .default, batch: .logs([LogRecord(timeUnixNano: 1, body: .string("good"))])))
        try await withConsumer(queue, harness) {
            // A request format no server of this version knows, then a batch version 5 cut short.
            try await publisher.publishBatch([0xB2, 0x7F, 0x00], id: "front-newer")
            try await publisher.publishBatch([0x05, 0x01], id: "front-cut")
            try await publisher.publishBatch(good, id: "front-1")
            try await eventually("the good batch stored, the cut one terminated and the newer one nacked") {
                let metrics = metricsText(harness)
                return try await storedBodies(harness) == ["good"]
                    && metrics.contains(#"sightline_queue_messages_total{result="termed"} 1"#) && metrics.contains(#"result="nacked""#)
            }
            // The newer batch stays in the stream for a server that reads it. (JetStream removes the acked and the
            // terminated one once it has processed those replies, a moment after they were sent.)
            try await eventually("only the newer batch left in the stream") { try await publisher.messagesInStream() == 1 }
            #expect(try await publisher.messagesInStream() == 1)
        }
        await publisher.close()
        await harness.cleanUp()
    }

    @Test func aRequestThePublisherLoggedAsReceivedIsLoggedSoHereToo() async throws {
        let queue = freshQueue(try #require(queueTestNATSURL))
        let harness = try ServerHarness()
        let publisher = try await Publisher.open(queue)
        let body = Array(#"{"streams":[{"stream":{"app":"front"},"values":[["1700000000000000000","via the queue"]]}]}"#.utf8)
        let request = ReceivedRequest(format: .lokiJSON, body: body, observedTimeUnixNano: 42, recordCount: 1)
        let records = try request.decoded().batch
        let payload = BatchDeduplicator.walPayload(id: "front-9", batch: TenantBatch(tenant: .default, batch: records), request: request)
        try await withConsumer(queue, harness) {
            try await publisher.publishBatch(payload, id: "front-9")
            try await eventually("the pushed line stored") { try await storedBodies(harness) == ["via the queue"] }
        }
        await publisher.close()
        try await harness.crash()

        let reopened = try ServerHarness(replay: false, reopening: harness.temporary)
        #expect(try reopened.walRecordKinds() == [BatchDeduplicator.requestMarker])
        try reopened.api.pipeline.replayAndOpen()
        let replayed = try reopened.api.logs.logs(tenant: .default, in: .all, limit: .max)
        #expect(replayed.map(\.body.text) == ["via the queue"] && replayed.first?.observedTimeUnixNano == 42)
        await reopened.cleanUp()
    }

    @Test func theTokenDecidesTheTenantAndNoTokenIsTerminated() async throws {
        let queue = freshQueue(try #require(queueTestNATSURL))
        let harness = try ServerHarness(tokens: [
            TokenGrant(token: "acme-agent", tenant: Tenant(uncheckedID: "acme"), roles: [.ingest, .query]),
            TokenGrant(token: "globex-agent", tenant: Tenant(uncheckedID: "globex"), roles: [.ingest, .query]),
        ])
        let publisher = try await Publisher.open(queue)
        try await withConsumer(queue, harness) {
            try await publisher.publish(otlpLogs(["anonymous"]), id: "agent-d-0-0")
            try await publisher.publish(otlpLogs(["for acme"]), id: "agent-d-0-10", token: "acme-agent")
            try await publisher.publish(otlpLogs(["wrong token"]), id: "agent-d-0-20", token: "nobody")
            try await eventually("acme's batch to be stored and the stream to be empty") {
                let stored = try await storedBodies(harness, token: "acme-agent") == ["for acme"]
                let empty = try await publisher.messagesInStream() == 0
                return stored && empty
            }
        }
        #expect(try await storedBodies(harness, token: "acme-agent") == ["for acme"])
        #expect(try await storedBodies(harness, token: "globex-agent").isEmpty)
        #expect(metricsText(harness).contains(#"sightline_queue_messages_total{result="termed"} 2"#))
        await publisher.close()
        await harness.cleanUp()
    }

    @Test func nothingIsTakenBeforeTheWALReplayAndEverythingAfter() async throws {
        let queue = freshQueue(try #require(queueTestNATSURL))
        let harness = try ServerHarness(replay: false)
        let publisher = try await Publisher.open(queue)
        try await withConsumer(queue, harness) {
            try await publisher.publish(otlpLogs(["early"]), id: "agent-e-0-0")
            // The consumer exists once the service is connected; from then on it would fetch if it were allowed to.
            try await eventually("the consumer to be created") {
                (try? await publisher.jetStream.consumerInfo(stream: queue.stream, consumer: queue.consumer)) != nil
            }
            try await Task.sleep(for: .milliseconds(1500))
            let waiting = try await publisher.jetStream.consumerInfo(stream: queue.stream, consumer: queue.consumer)
            #expect(waiting.pending == 1 && waiting.ackPending == 0, "delivered before the pipeline was ready")
            #expect(try await publisher.messagesInStream() == 1)

            try harness.api.pipeline.replayAndOpen()
            try await eventually("the batch to be stored and the stream to be empty") {
                let stored = try await storedBodies(harness) == ["early"]
                let empty = try await publisher.messagesInStream() == 0
                return stored && empty
            }
        }
        #expect(!metricsText(harness).contains(#"result="nacked""#))
        await publisher.close()
        await harness.cleanUp()
    }
}
