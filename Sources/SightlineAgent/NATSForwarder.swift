import Foundation
package import Logging
import SightlineCore
import SightlineNATS
import Synchronization

/// Where the agent forwards its batches instead of POSTing them to a server: a NATS JetStream stream that the
/// servers consume (the `forward:` section of the agent's config).
package struct NATSForwardConfig: Sendable, Equatable {
    /// `nats://[user:password@|token@]host[:port]`.
    package var url: String
    /// The JetStream stream, created at start when it does not exist.
    package var stream: String
    /// Batches are published to `<prefix>.<logs|metrics|traces>`; the stream is created with `<prefix>.>`.
    package var subjectPrefix: String
    /// The NATS server's `max_payload` (1 MiB unless the server raises it): a batch and its headers must fit, so
    /// `batch_max_bytes` is checked against it at start.
    package var maxPayload: Int

    /// Room kept in a message for its headers (path, content type, token, batch id).
    package static let headerAllowance = 8 << 10

    /// The wire contract's names unless told otherwise.
    package init(url: String, stream: String = "SIGHTLINE_INGEST", subjectPrefix: String = "sightline.ingest", maxPayload: Int = 1 << 20) {
        self.url = url
        self.stream = stream
        self.subjectPrefix = subjectPrefix
        self.maxPayload = maxPayload
    }

    /// Checks the values so a bad config stops the agent at start rather than making every publish fail.
    /// - Parameter file: The config file, named in errors.
    /// - Throws: `configuration` naming the key and the value.
    package func validate(file: String) throws {
        guard url.hasPrefix("nats://"), url.count > "nats://".count else {
            throw SightlineError(.configuration, "\(file): forward.nats_url: expected nats://host:port, got \"\(url)\"")
        }
        func usable(_ token: Substring) -> Bool {
            !token.isEmpty && !token.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: ">") })
        }
        guard usable(Substring(stream)), !stream.contains(".") else {
            throw SightlineError(.configuration, "\(file): forward.stream: \"\(stream)\" is empty or has a '.', '*', '>' or space")
        }
        guard subjectPrefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(usable) else {
            throw SightlineError(
                .configuration, "\(file): forward.subject_prefix: \"\(subjectPrefix)\" must be dot-separated tokens without '*', '>' or spaces")
        }
    }
}

/// How one attempt to deliver a batch ended, for the agent's sender loop (HTTP or NATS alike).
package enum DeliveryOutcome: Sendable, Equatable {
    /// The batch is stored downstream (a 2xx, or a JetStream PubAck; `duplicate` when JetStream already had its id).
    case delivered(duplicate: Bool)
    /// Not delivered now; keep the frame and try again after a backoff.
    case retry(String)
    /// Refused for good (resending would be refused again); the frame is dropped and counted.
    case rejected(String)
}

/// Publishes the agent's buffered batches to a JetStream stream, one at a time, from the agent's sender thread.
///
/// One message is one batch exactly as it would be POSTed to a server (docs/agent.md, "Forwarding through NATS"):
/// the payload is the HTTP body, headers carry `Sightline-Path` and the HTTP headers, `Nats-Msg-Id` is the batch id.
/// The sender removes a frame from its buffer only after ``publish(kind:path:headers:batchID:body:)`` returns
/// ``DeliveryOutcome/delivered(duplicate:)``, i.e. after the stream's PubAck; a PubAck marked duplicate (the stream
/// already stored that id within its duplicate window, e.g. after an agent restart that republished frames it had
/// not yet removed) counts as delivered too.
///
/// **Blocking over an async client.** The sender loop is synchronous on its own `Thread`, and ``NATSConnection`` is
/// async. Each call runs its async work in a new `Task` and blocks the sender thread on a semaphore until the task
/// finishes (``blocking(_:)``): one batch in flight, in buffer order, as with HTTP. This is safe because the sender
/// thread is not one of Swift concurrency's pool threads (blocking those could starve the very task we wait for), and
/// every NATS call it waits for is bounded by the connect and acknowledgement timeouts.
///
/// **Connection.** One dedicated connection, opened lazily by the first publish. On opening it the stream is looked
/// up and created when missing (retention work queue, file storage, duplicate window two minutes, subjects
/// `<prefix>.>`); an existing stream is used as it is, never updated, so an operator's or the servers' settings win.
/// Any failure other than a JetStream API error drops the connection; the next attempt (after the sender's backoff)
/// connects again. The NATS client does not reconnect by itself.
package final class NATSForwarder {
    /// What to connect to and where to publish.
    package let config: NATSForwardConfig
    private let logger: Logger
    private let connectTimeout: Duration
    private let ackTimeout: Duration
    /// The open connection and its JetStream context; nil until connected and after a failure.
    private var jetStream: JetStream?

    /// A forwarder that connects on first use.
    /// - Parameters:
    ///   - connectTimeout: How long connecting (TCP, `INFO`, `CONNECT`) may take.
    ///   - ackTimeout: How long a publish waits for its PubAck (and stream lookups for their answer).
    package init(config: NATSForwardConfig, logger: Logger, connectTimeout: Duration = .seconds(5), ackTimeout: Duration = .seconds(10)) {
        self.config = config
        self.logger = logger
        self.connectTimeout = connectTimeout
        self.ackTimeout = ackTimeout
    }

    /// The subject a batch of `kind` is published to: `<prefix>.logs`, `<prefix>.traces` or `<prefix>.metrics`.
    package static func subject(for kind: BufferedBatch.Kind, prefix: String) -> String {
        switch kind {
        case .otlpLogs, .otlpLogsGzip, .otlpLogsSnappy: prefix + ".logs"
        case .otlpTraces, .otlpTracesGzip, .otlpTracesSnappy: prefix + ".traces"
        case .otlpMetrics, .remoteWrite: prefix + ".metrics"
        }
    }

    /// Publishes one batch and waits for the stream's acknowledgement; blocks the calling thread.
    /// - Parameters:
    ///   - kind: What the batch holds (chooses the subject).
    ///   - path: The server route the batch would be POSTed to, sent as `Sightline-Path`.
    ///   - headers: The HTTP headers the POST would carry (`Content-Type`, `Content-Encoding`, `Authorization`,
    ///     `X-Sightline-Batch-ID`…), sent as they are.
    ///   - batchID: Sent as `Nats-Msg-Id`, for JetStream's de-duplication.
    ///   - body: The payload, the HTTP body as it would be sent.
    /// - Returns: `delivered` after the PubAck; `retry` when the server cannot be reached, does not acknowledge in
    ///   time or refuses for now; `rejected` when the batch is larger than the server's `max_payload` (it never fits).
    package func publish(kind: BufferedBatch.Kind, path: String, headers: [(String, String)], batchID: String, body: [UInt8]) -> DeliveryOutcome {
        let subject = Self.subject(for: kind, prefix: config.subjectPrefix)
        do {
            let jetStream = try connected()
            let natsHeaders = NATSHeaders([("Sightline-Path", path)] + headers.map { (name: $0.0, value: $0.1) })
            let ack = try Self.blocking { try await jetStream.publish(subject, payload: body, headers: natsHeaders, messageID: batchID) }
            return .delivered(duplicate: ack.duplicate)
        } catch let error as SightlineError where error.code == .tooLarge {
            return .rejected(error.message)
        } catch let error as SightlineError where error.cause is JetStreamAPIError {
            // The server answered (e.g. the stream is full for now): the connection is fine, the batch waits.
            return .retry(error.message)
        } catch {
            disconnect()
            return .retry("NATS \(config.url): \(error)")
        }
    }

    /// Closes the connection, if any; blocks until it is closed.
    package func close() {
        guard let jetStream else { return }
        self.jetStream = nil
        let connection = jetStream.connection
        _ = try? Self.blocking { await connection.close() }
    }

    private func disconnect() {
        guard let jetStream else { return }
        self.jetStream = nil
        let connection = jetStream.connection
        // Closing a failed connection only releases its channel; do not wait for it.
        Task { await connection.close() }
    }

    /// The JetStream context, connecting and making sure the stream exists when there is none.
    private func connected() throws -> JetStream {
        if let jetStream { return jetStream }
        let url = config.url
        let options = NATSConnectionOptions(name: "sightline-agent", connectTimeout: connectTimeout, requestTimeout: ackTimeout)
        let connection = try Self.blocking { try await NATSConnection.connect(to: url, options: options) }
        let jetStream = JetStream(connection: connection)
        let config = config
        do {
            let created = try Self.blocking { try await Self.ensureStream(jetStream, config) }
            logger.info(
                created ? "created the JetStream stream for forwarding" : "forwarding to an existing JetStream stream",
                metadata: ["nats": "\(connection.endpoint)", "stream": "\(config.stream)"])
        } catch {
            Task { await connection.close() }
            throw error
        }
        self.jetStream = jetStream
        return jetStream
    }

    /// Creates the stream unless it exists; an existing stream is left as it is.
    /// - Returns: Whether this call created it.
    /// - Throws: The lookup's or the creation's error when the stream does not exist afterwards either.
    static func ensureStream(_ jetStream: JetStream, _ config: NATSForwardConfig) async throws -> Bool {
        do {
            _ = try await jetStream.streamInfo(config.stream)
            return false
        } catch let error as SightlineError where error.code == .notFound {
            // Not there yet: create it below.
        }
        let wanted = JetStreamStreamConfig(
            name: config.stream, subjects: [config.subjectPrefix + ".>"], retention: .workQueue, storage: .file, duplicateWindow: .seconds(120))
        do {
            _ = try await jetStream.createOrUpdateStream(wanted)
            return true
        } catch let error as SightlineError where error.cause is JetStreamAPIError {
            // Refused, e.g. a server or another agent created it meanwhile with another configuration: use theirs.
            guard (try? await jetStream.streamInfo(config.stream)) != nil else { throw error }
            return false
        }
    }

    /// Runs `body` in a new task and blocks the calling thread until it finishes.
    ///
    /// Only for threads outside Swift concurrency's cooperative pool (the agent's sender thread): the task needs a
    /// pool thread to run, and a blocked pool thread could be the one it needs.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                box.store(.success(try await body()))
            } catch {
                box.store(.failure(error))
            }
            done.signal()
        }
        done.wait()
        guard let result = box.take() else {
            throw SightlineError(.internal, "a NATS call of the agent's sender finished without a result")
        }
        return try result.get()
    }
}

/// The result of a task, handed from the task to the thread waiting for it.
private final class ResultBox<T: Sendable>: Sendable {
    private let result = Mutex<Result<T, any Error>?>(nil)

    func store(_ value: Result<T, any Error>) { result.withLock { $0 = value } }

    func take() -> Result<T, any Error>? { result.withLock { $0 } }
}
