import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
package import Logging
import NIOCore
package import ServiceLifecycle
import SightlineCore
package import SightlineNATS
import Synchronization

/// Takes ingest batches from a NATS JetStream work queue and runs each through the server's own HTTP routes (or,
/// for batches a server published with ``QueuePublisher``, straight into the pipeline).
///
/// The wire contract (shared with the agents that publish): stream `SIGHTLINE_INGEST` on `sightline.ingest.>`, work
/// queue retention, file storage, a two-minute duplicate window; one message is one batch exactly as it would be
/// POSTed: payload = HTTP body, headers `Sightline-Path` (the route), `Content-Type`, `Content-Encoding`,
/// `Authorization`, `X-Sightline-Batch-ID` and `Nats-Msg-Id` (both the agent's batch id). Every server pulls from
/// one durable consumer (`sightline-servers`, explicit acks, no delivery limit), so each batch goes to one server.
///
/// Each message becomes an in-process `POST` to the router, so every ingest protocol, the token's tenant and the
/// batch-id de-duplication apply exactly as over HTTP. The response decides the message's fate:
/// - 2xx: acknowledged, waiting for NATS to confirm — only now is the batch in the WAL;
/// - 429 and 5xx: `NAK` with a one-second delay (the server is busy, starting or failing: try again);
/// - any other status, or a path that is not an ingest route: `TERM`, logged with the response body — sending the
///   same bytes again would be refused again.
///
/// A message that is neither acked nor nacked (the connection broke, the server died) comes back after `ack_wait`,
/// and the batch id makes the retry store nothing twice.
///
/// Messages are fetched only while ``IngestPipeline/isReady`` (after the WAL replay). When the connection fails the
/// consumer logs it, waits (up to five seconds, doubling) and connects again. On graceful shutdown it stops fetching,
/// finishes the message in hand, gives the rest of the batch back (`NAK` without delay, for another server) and
/// closes the connection.
package struct QueueConsumer: Service {
    /// What the response to a message's request means for the message.
    enum Disposition: Equatable {
        case ack
        /// Deliver again after a delay; the status and the reason, for the log.
        case retry(status: Int, reason: String)
        /// Never deliver again; the status (0 when no request was made) and the reason.
        case term(status: Int, reason: String)
    }

    /// The routes a queued message may name: those that take a batch of telemetry (`POST /v1/*`, the Prometheus,
    /// Loki, Elasticsearch and Zipkin ingest routes, audit events).
    static let ingestRoutes: Set<String> = [
        "/api/v1/write", "/api/v1/import/prometheus", "/loki/api/v1/push", "/_bulk", "/api/v2/spans", "/api/v1/audit/events",
    ]

    let configuration: ServerConfiguration.Queue
    let url: String
    let pipeline: IngestPipeline
    let metrics: ServerMetrics
    let responder: RouterResponder<SightlineRequestContext>
    let logger: Logger

    /// A consumer of `configuration`'s queue at `url`, feeding the routes built from `api`.
    package init(url: String, configuration: ServerConfiguration.Queue, api: APIDependencies, logger: Logger) {
        self.url = url
        self.configuration = configuration
        self.pipeline = api.pipeline
        self.metrics = api.metrics
        self.responder = HTTPAPI.router(api).buildResponder()
        self.logger = logger
    }

    /// The consumer when `configuration` names a NATS server (and `consume` is on), else nothing: the entry of the
    /// server's service list.
    package static func services(for configuration: ServerConfiguration.Queue, api: APIDependencies, logger: Logger) -> [any Service] {
        guard let url = configuration.natsURL, configuration.consume else { return [] }
        return [QueueConsumer(url: url, configuration: configuration, api: api, logger: logger)]
    }

    /// The stream of the contract: `configuration`'s name and subjects, work queue retention, file storage, a
    /// two-minute duplicate window. Agents and servers create it alike, whoever starts first.
    package static func streamConfig(_ configuration: ServerConfiguration.Queue) -> JetStreamStreamConfig {
        JetStreamStreamConfig(
            name: configuration.stream, subjects: configuration.subjects, retention: .workQueue, storage: .file, duplicateWindow: .seconds(120))
    }

    /// The shared durable pull consumer: explicit acks, `ack_wait` from the configuration, no delivery limit.
    package static func consumerConfig(_ configuration: ServerConfiguration.Queue) -> JetStreamConsumerConfig {
        JetStreamConsumerConfig(durableName: configuration.consumer, ackWait: configuration.ackWait, maxDeliver: nil)
    }

    package func run() async throws {
        let stop = StopFlag()
        await withGracefulShutdownHandler {
            await consume(stop)
        } onGracefulShutdown: {
            stop.set()
        }
        logger.info("queue consumer stopped", metadata: ["stream": "\(configuration.stream)"])
    }

    // MARK: The loops

    /// Connects, sets up the stream and the consumer, and consumes until told to stop, reconnecting after failures.
    private func consume(_ stop: StopFlag) async {
        var backoff = Duration.milliseconds(250)
        while !stop.isStopping {
            let connection: NATSConnection
            let jetStream: JetStream
            do {
                connection = try await NATSConnection.connect(to: url, options: NATSConnectionOptions(name: "sightline-server"))
                jetStream = JetStream(connection: connection)
            } catch {
                logger.warning("queue: cannot connect to NATS; retrying", metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                await pause(backoff, stop)
                backoff = min(backoff * 2, .seconds(5))
                continue
            }
            do {
                _ = try await jetStream.createOrUpdateStream(Self.streamConfig(configuration))
                _ = try await jetStream.createOrUpdateConsumer(stream: configuration.stream, config: Self.consumerConfig(configuration))
                logger.info(
                    "queue: consuming", metadata: ["nats": "\(connection.endpoint)", "stream": "\(configuration.stream)", "consumer": "\(configuration.consumer)"])
                backoff = .milliseconds(250)
                try await fetchLoop(jetStream, stop)
            } catch {
                if !stop.isStopping {
                    logger.warning("queue: NATS failed; reconnecting", metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                }
            }
            await connection.close()
            if !stop.isStopping {
                await pause(backoff, stop)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }

    /// Fetches batches and settles every message, while the pipeline is ready; returns when told to stop.
    /// - Throws: when NATS fails (the caller reconnects; unsettled messages come back after `ack_wait`).
    private func fetchLoop(_ jetStream: JetStream, _ stop: StopFlag) async throws {
        while !stop.isStopping {
            guard pipeline.isReady else {
                await pause(.milliseconds(100), stop)
                continue
            }
            let messages = try await jetStream.fetch(
                stream: configuration.stream, consumer: configuration.consumer, batch: configuration.fetchBatch, expires: .seconds(1))
            let fetched = ContinuousClock.now
            for (index, message) in messages.enumerated() {
                guard !stop.isStopping, pipeline.isReady else {
                    // Stopping (or the pipeline closed): hand the rest back now rather than after ack_wait.
                    for rest in messages[index...] { try await rest.nak(delay: stop.isStopping ? nil : .seconds(1)) }
                    break
                }
                // A long batch must not outlive ack_wait: say the work goes on.
                if ContinuousClock.now - fetched > configuration.ackWait / 3 { try await message.inProgress() }
                try await settle(message)
            }
        }
    }

    /// Runs one message through the router and acks, naks or terms it accordingly.
    private func settle(_ message: JetStreamMessage) async throws {
        let disposition = await dispose(message)
        var metadata: Logger.Metadata = [
            "subject": "\(message.subject)", "stream_seq": "\(message.metadata.streamSequence)",
            "delivery": "\(message.metadata.deliveryCount)", "path": "\(message.headers?["Sightline-Path"] ?? "")",
            "batch_id": "\(message.headers?["X-Sightline-Batch-ID"] ?? message.headers?["Nats-Msg-Id"] ?? "")",
        ]
        switch disposition {
        case .ack:
            try await message.ackSync()
            metrics.queueMessage(result: "acked")
        case .retry(let status, let reason):
            metadata["status"] = "\(status)"
            metadata["reason"] = "\(reason)"
            logger.info("queue: batch not taken now; NATS delivers it again", metadata: metadata)
            try await message.nak(delay: .seconds(1))
            metrics.queueMessage(result: "nacked")
        case .term(let status, let reason):
            metadata["status"] = "\(status)"
            metadata["reason"] = "\(reason)"
            logger.warning("queue: batch refused for good (terminated)", metadata: metadata)
            try await message.term()
            metrics.queueMessage(result: "termed")
        }
    }

    /// What the server's routes say to the message, as the request it stands for.
    func dispose(_ message: JetStreamMessage) async -> Disposition {
        let headers = message.headers ?? NATSHeaders()
        if headers[QueuePublisher.formatHeader] == QueuePublisher.formatValue { return await store(message) }
        guard let path = headers["Sightline-Path"], !path.isEmpty else {
            return .term(status: 0, reason: "the message has no Sightline-Path header")
        }
        guard Self.isIngestRoute(path) else {
            return .term(status: 0, reason: "Sightline-Path \(path) is not an ingest route")
        }
        var fields = HTTPFields()
        for (header, name) in [("Content-Type", HTTPField.Name.contentType), ("Content-Encoding", .contentEncoding), ("Authorization", .authorization)] {
            if let value = headers[header] { fields[name] = value }
        }
        // The batch id: X-Sightline-Batch-ID, or Nats-Msg-Id when a publisher set only that (the contract sets both).
        if let batchID = headers["X-Sightline-Batch-ID"] ?? headers["Nats-Msg-Id"] { fields[.sightlineBatchID] = batchID }
        fields[.contentLength] = String(message.message.payload.readableBytes)
        let request = Request(
            head: HTTPRequest(method: .post, scheme: "nats", authority: "queue", path: path, headerFields: fields),
            body: RequestBody(buffer: message.message.payload)
        )
        let response: Response
        do {
            let responder = self.responder
            let logger = self.logger
            response = try await IngestPipeline.$storesHere.withValue(true) {
                try await responder.respond(to: request, context: SightlineRequestContext(inProcess: logger))
            }
        } catch {
            return .retry(status: 500, reason: "the route failed: \(error)")
        }
        let status = response.status.code
        switch status {
        case 200..<300:
            return .ack
        case 429, 500..<600:
            return .retry(status: status, reason: await Self.text(of: response))
        default:
            return .term(status: status, reason: await Self.text(of: response))
        }
    }

    /// Stores a batch a publishing server took (``QueuePublisher``): already decoded, validated and authorised there.
    private func store(_ message: JetStreamMessage) async -> Disposition {
        let payload = message.message.payload
        let decoded: (id: String?, batch: TenantBatch, request: ReceivedRequest?)
        do {
            decoded = try payload.withUnsafeReadableBytes { try BatchDeduplicator.decodeWALPayload($0) }
        } catch {
            guard payload.withUnsafeReadableBytes({ BatchDeduplicator.knowsLayout(of: $0) }) else {
                return .retry(status: 0, reason: "the batch is in a layout a newer server writes: left for one that reads it")
            }
            return .term(status: 0, reason: "the batch does not decode: \(error)")
        }
        do {
            let pipeline = self.pipeline
            // A request the publisher logged as received stays one here: this server's WAL logs its body too.
            var batch = DecodedBatch(decoded.batch.batch)
            batch.request = decoded.request
            let outcome = try await IngestPipeline.$storesHere.withValue(true) { [batch] in
                try await pipeline.ingest(batch, tenant: decoded.batch.tenant, protocol: "queue", bytes: payload.readableBytes, batchID: decoded.id)
            }
            if outcome.rejected > 0 {
                // The publishing server admitted them; this store refused them (its own limits). Counted there too.
                logger.warning(
                    "queue: records of a published batch were refused by the store",
                    metadata: ["tenant": "\(decoded.batch.tenant)", "rejected": "\(outcome.rejected)", "reason": "\(outcome.message)"])
            }
            return .ack
        } catch let error as SightlineError where error.code == .invalidArgument {
            return .term(status: 400, reason: error.message)
        } catch {
            return .retry(status: 503, reason: "\(error)")
        }
    }

    /// Whether `path` (its query ignored) is a route that takes a batch.
    static func isIngestRoute(_ path: String) -> Bool {
        let route = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? path
        if ingestRoutes.contains(route) || OTLPHTTPHandler.allPaths.contains(route) { return true }
        /// `/<index>/_bulk`: one non-empty segment in the variable place.
        func isSegment(_ text: Substring) -> Bool { !text.isEmpty && !text.contains("/") }
        if route.hasSuffix("/_bulk") { return isSegment(route.dropFirst().dropLast(6)) }
        return false
    }

    /// The first 1 KiB of a response body as text, for the log.
    private static func text(of response: Response) async -> String {
        let collector = BodyCollector(limit: 1024)
        do {
            try await response.body.write(collector)
        } catch {
            return "(the response body could not be read: \(error))"
        }
        return collector.text
    }

    /// Sleeps `duration`, in steps, returning early once told to stop or cancelled.
    private func pause(_ duration: Duration, _ stop: StopFlag) async {
        let deadline = ContinuousClock.now + duration
        while !stop.isStopping, ContinuousClock.now < deadline {
            try? await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
        }
    }
}

/// Set once graceful shutdown begins (or the task is cancelled): the loops stop fetching.
private final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isStopping: Bool { flag.load(ordering: .acquiring) || Task.isCancelled }
    func set() { flag.store(true, ordering: .releasing) }
}

/// Keeps the first bytes of a response body.
private struct BodyCollector: ResponseBodyWriter {
    private let storage: Storage
    private let limit: Int

    private final class Storage: Sendable {
        let buffer = Mutex(ByteBuffer())
    }

    init(limit: Int) {
        storage = Storage()
        self.limit = limit
    }

    var text: String { storage.buffer.withLock { String(buffer: $0) } }

    mutating func write(_ buffer: ByteBuffer) async throws {
        let limit = limit
        storage.buffer.withLock { collected in
            let room = max(0, limit - collected.readableBytes)
            if let slice = buffer.getSlice(at: buffer.readerIndex, length: min(room, buffer.readableBytes)) {
                var slice = slice
                collected.writeBuffer(&slice)
            }
        }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// A request source without a connection, for requests the server makes to itself.
private struct InProcessRequestSource: RequestContextSource {
    let logger: Logger
}

extension SightlineRequestContext {
    /// A context for a request that comes from inside the server (a queued batch), with no peer address.
    init(inProcess logger: Logger) {
        coreContext = .init(source: InProcessRequestSource(logger: logger))
        webSocket = .init()
        remoteAddress = nil
    }
}
