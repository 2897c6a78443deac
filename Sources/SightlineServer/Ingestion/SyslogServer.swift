import Foundation
package import Logging
import NIOCore
import NIOPosix
package import ServiceLifecycle
import SightlineCore
import SightlineIngest
import Synchronization

/// Receives syslog over UDP and TCP and hands the messages to the ingestion pipeline.
///
/// Syslog has no acknowledgement, so the guarantee is the pipeline's: a message is durable once its batch is in the WAL.
/// TCP reads one connection at a time through the pipeline — a slow disk slows the sender rather than filling memory.
/// UDP datagrams that arrive while a batch is being written wait and go in the next batch; past
/// ``maxPendingDatagrams`` they are refused and counted, as the kernel would drop them from a full socket buffer.
package final class SyslogServer: Service {
    /// Datagrams that may wait for the next batch.
    static let maxPendingDatagrams = 100_000

    private let configuration: ServerConfiguration.Syslog
    private let pipeline: IngestPipeline
    private let logger: Logger
    private let group: any EventLoopGroup

    package init(configuration: ServerConfiguration.Syslog, pipeline: IngestPipeline, logger: Logger) {
        self.configuration = configuration
        self.pipeline = pipeline
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup.singleton
    }

    package func run() async throws {
        guard configuration.udpAddress != nil || configuration.tcpAddress != nil else {
            try? await gracefulShutdown()
            return
        }
        try await withThrowingDiscardingTaskGroup { tasks in
            if let address = configuration.udpAddress { tasks.addTask { try await self.runUDP(address) } }
            if let address = configuration.tcpAddress { tasks.addTask { try await self.runTCP(address) } }
        }
    }

    // MARK: UDP

    private func runUDP(_ address: HostAndPort) async throws {
        let maxBytes = configuration.maxMessageBytes
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: min(maxBytes, 65_536)))
            .bind(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        logger.info("syslog UDP listening", metadata: ["address": "\(channel.channel.localAddress.map { "\($0)" } ?? "\(address)")"])
        let pending = PendingRecords()
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            // The writer: whatever arrived while the last batch was written goes in one batch.
            tasks.addTask {
                for await _ in wakeups { await self.ingest(pending.take()) }
                await self.ingest(pending.take())
            }
            try await cancelWhenGracefulShutdown {
                try await channel.executeThenClose { inbound, _ in
                    for try await envelope in inbound {
                        let received = Self.nowNano()
                        let peer = envelope.remoteAddress.ipAddress ?? ""
                        if pending.add(envelope.data.readableBytesView, receivedAtNano: received, peer: peer, limit: Self.maxPendingDatagrams) {
                            wake.yield()
                        }
                    }
                }
            }
            wake.finish()
            try await tasks.waitForAll()
        }
    }

    // MARK: TCP

    private func runTCP(_ address: HostAndPort) async throws {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, Never>(wrappingChannelSynchronously: channel)
                }
            }
        logger.info("syslog TCP listening", metadata: ["address": "\(server.channel.localAddress.map { "\($0)" } ?? "\(address)")"])
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { connections in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        connections.addTask { await self.serve(connection) }
                    }
                }
            }
        }
    }

    /// Reads one connection to its end: every complete frame of a read goes into one batch.
    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, Never>) async {
        let peer = connection.channel.remoteAddress?.ipAddress ?? ""
        var decoder = SyslogFrameDecoder(maxFrameBytes: configuration.maxMessageBytes)
        do {
            try await connection.executeThenClose { inbound, _ in
                for try await buffer in inbound {
                    decoder.append(buffer.readableBytesView)
                    var batch = Batch()
                    let received = Self.nowNano()
                    while let frame = try decoder.next() { batch.add(frame, receivedAtNano: received, peer: peer) }
                    await ingest(batch)
                }
                if let last = decoder.finish() {
                    var batch = Batch()
                    batch.add(last, receivedAtNano: Self.nowNano(), peer: peer)
                    await ingest(batch)
                }
            }
        } catch {
            logger.warning("syslog TCP connection closed", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }

    // MARK: Batches

    /// Parsed records and the messages that did not parse.
    struct Batch: Sendable {
        var records: [LogRecord] = []
        var rejected = 0
        var rejectionMessage = ""

        mutating func add(_ bytes: some Collection<UInt8>, receivedAtNano: UInt64, peer: String) {
            do {
                records.append(try SyslogMessage.parse(bytes, receivedAtNano: receivedAtNano, peer: peer))
            } catch {
                if rejected == 0 { rejectionMessage = "\(error)" }
                rejected += 1
            }
        }
    }

    /// Datagrams parsed and waiting for the writer.
    final class PendingRecords: Sendable {
        private let batch = Mutex(Batch())

        /// Adds a datagram; returns whether the writer needs waking (the batch was empty).
        func add(_ bytes: some Collection<UInt8>, receivedAtNano: UInt64, peer: String, limit: Int) -> Bool {
            batch.withLock { batch in
                let wasEmpty = batch.records.isEmpty && batch.rejected == 0
                if batch.records.count >= limit {
                    if batch.rejected == 0 { batch.rejectionMessage = "more than \(limit) syslog datagrams waiting to be written" }
                    batch.rejected += 1
                } else {
                    batch.add(bytes, receivedAtNano: receivedAtNano, peer: peer)
                }
                return wasEmpty
            }
        }

        func take() -> Batch { batch.withLock { batch in defer { batch = Batch() }; return batch } }
    }

    private func ingest(_ batch: Batch) async {
        guard !batch.records.isEmpty || batch.rejected > 0 else { return }
        let decoded = DecodedBatch(.logs(LogBatch(batch.records)), rejected: batch.rejected, rejectionMessage: batch.rejectionMessage)
        do {
            let outcome = try await pipeline.ingest(decoded, tenant: configuration.tenant, protocol: "syslog", bytes: 0)
            if outcome.rejected > 0 {
                logger.debug("syslog records rejected", metadata: ["count": "\(outcome.rejected)", "reason": "\(outcome.message)"])
            }
        } catch {
            logger.error("syslog batch not stored", metadata: ["records": "\(batch.records.count)", "error": "\(error)"])
        }
    }

    private static func nowNano() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1e9) }
}
