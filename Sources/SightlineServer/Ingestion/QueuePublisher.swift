import Foundation
package import Logging
import SightlineCore
import SightlineNATS
import Synchronization

/// Where a server with `queue.publish` sends the batches it receives directly (HTTP, gRPC, syslog, scrapes): the
/// JetStream work queue that every server consumes, instead of its own WAL. The server then holds nothing that a
/// crash could take: a batch is acknowledged to its sender once JetStream has it, and any server stores it.
///
/// A message is one batch after decoding, validation and the store's admission, in the WAL's record layout
/// (``BatchDeduplicator/walPayload(id:batch:)``: the tenant, the records and the sender's batch id), on
/// `<subject prefix>.batch` with the header `Sightline-Batch: wal` and `Nats-Msg-Id` = the batch id (or a fresh
/// one), so the stream's duplicate window drops a republished copy. ``QueueConsumer`` stores such messages
/// through ``IngestPipeline`` without publishing them again.
package final class QueuePublisher: Sendable {
    /// The header that marks a message as a batch in the WAL layout (not an HTTP request).
    static let formatHeader = "Sightline-Batch"
    static let formatValue = "wal"

    private let url: String
    private let configuration: ServerConfiguration.Queue
    private let subject: String
    private let logger: Logger
    /// The connection in use; nil until the first publish and after a failure.
    private let jetStream = Mutex<JetStream?>(nil)

    package init(url: String, configuration: ServerConfiguration.Queue, logger: Logger) {
        self.url = url
        self.configuration = configuration
        self.subject = Self.subject(for: configuration)
        self.logger = logger
    }

    /// The subject batches are published on: `batch` under the stream's first subject wildcard (`sightline.ingest.>`
    /// gives `sightline.ingest.batch`), or that subject itself when it has no wildcard.
    static func subject(for configuration: ServerConfiguration.Queue) -> String {
        let first = configuration.subjects.first ?? "sightline.ingest.>"
        return first.hasSuffix(".>") ? String(first.dropLast()) + "batch" : first
    }

    /// Publishes `payload` and waits for JetStream's acknowledgement.
    /// - Throws: `unavailable` naming NATS when it cannot be reached or does not acknowledge (the sender retries);
    ///   the connection is made again for the next batch.
    package func publish(_ payload: [UInt8], batchID: String?) async throws {
        let id = batchID ?? UUID().uuidString.lowercased()
        var headers = NATSHeaders([(Self.formatHeader, Self.formatValue)])
        if let batchID { headers.append("X-Sightline-Batch-ID", batchID) }
        do {
            let jetStream = try await connected()
            _ = try await jetStream.publish(subject, payload: payload, headers: headers, messageID: id)
        } catch {
            drop()
            throw SightlineError(.unavailable, "the ingest queue (NATS at \(url)) did not take the batch: \(error)", cause: error)
        }
    }

    /// Closes the connection (at shutdown).
    package func close() async {
        let current = jetStream.withLock { current in
            defer { current = nil }
            return current
        }
        await current?.connection.close()
    }

    /// The JetStream context, connecting and creating the stream (as the consumer does) when there is none.
    private func connected() async throws -> JetStream {
        if let current = jetStream.withLock({ $0 }) { return current }
        let connection = try await NATSConnection.connect(to: url, options: NATSConnectionOptions(name: "sightline-server-publisher"))
        let made = JetStream(connection: connection)
        do {
            _ = try await made.createOrUpdateStream(QueueConsumer.streamConfig(configuration))
        } catch {
            await connection.close()
            throw error
        }
        // Two first publishes may race: keep one connection, close the other.
        let (kept, spare) = jetStream.withLock { current -> (JetStream, JetStream?) in
            if let current { return (current, made) }
            current = made
            return (made, nil)
        }
        if let spare { await spare.connection.close() } else {
            logger.info("queue: publishing direct pushes to JetStream", metadata: ["nats": "\(connection.endpoint)", "subject": "\(subject)"])
        }
        return kept
    }

    /// Forgets a connection that failed; its channel is closed in the background.
    private func drop() {
        let failed = jetStream.withLock { current in
            defer { current = nil }
            return current
        }
        if let failed { Task { await failed.connection.close() } }
    }
}
