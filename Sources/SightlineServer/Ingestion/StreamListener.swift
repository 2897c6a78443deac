import Foundation
package import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SightlineCore
import SightlineIngest
import Synchronization

/// A protocol sent over UDP datagrams and TCP streams with no answer to the sender: syslog, Graphite's plaintext,
/// OpenTSDB's telnet `put`.
package struct StreamedProtocol<Record: Sendable>: Sendable {
    /// The protocol's name, in logs and the ingestion counters.
    let name: String
    /// How a TCP stream is cut into messages; a datagram holds one message with `.syslog`, lines with `.lines`.
    let framing: StreamFrameDecoder.Framing
    /// One message (a line, for `.lines`) as its record.
    let parse: @Sendable (_ message: ArraySlice<UInt8>, _ receivedAtNano: UInt64, _ peer: String) throws -> Record
    /// The records of a batch as what the pipeline takes.
    let batch: @Sendable ([Record]) -> SignalBatch
}

extension StreamedProtocol where Record == LogRecord {
    /// RFC 5424 and RFC 3164 messages as log records.
    static var syslog: Self {
        Self(
            name: "syslog", framing: .syslog,
            parse: { try SyslogMessage.parse($0, receivedAtNano: $1, peer: $2) },
            batch: { .logs(LogBatch($0)) })
    }
}

extension StreamedProtocol where Record == MetricSample {
    /// `path value [timestamp]` lines as samples.
    static var graphite: Self {
        Self(
            name: "graphite", framing: .lines,
            parse: { line, received, _ in try GraphiteLine.parse(line, receivedAtMs: Int64(received / 1_000_000)) },
            batch: { .metrics(MetricBatch(samples: $0)) })
    }

    /// `put <metric> <timestamp> <value> <tag=value>…` lines as samples.
    static var openTSDB: Self {
        Self(
            name: "opentsdb", framing: .lines,
            parse: { line, _, _ in try OpenTSDBTelnetLine.parse(line) },
            batch: { .metrics(MetricBatch(samples: $0)) })
    }
}

/// Receives a ``StreamedProtocol`` over UDP and TCP and hands the records to the ingestion pipeline.
///
/// There is no acknowledgement, so the guarantee is the pipeline's: a record is durable once its batch is in the WAL.
/// TCP reads one connection at a time through the pipeline — a slow disk slows the sender rather than filling memory.
/// UDP datagrams that arrive while a batch is being written wait and go in the next batch; past
/// ``maxPendingRecords`` they are refused and counted, as the kernel would drop them from a full socket buffer.
package final class StreamListener<Record: Sendable>: Service {
    /// Records of datagrams that may wait for the next batch.
    static var maxPendingRecords: Int { 100_000 }

    private let streamed: StreamedProtocol<Record>
    private let configuration: ServerConfiguration.Listener
    private let pipeline: IngestPipeline
    private let logger: Logger
    private let group: any EventLoopGroup

    package init(_ streamed: StreamedProtocol<Record>, configuration: ServerConfiguration.Listener, pipeline: IngestPipeline, logger: Logger) {
        self.streamed = streamed
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
        logger.info(
            "\(streamed.name) UDP listening", metadata: ["address": "\(channel.channel.localAddress.map { "\($0)" } ?? "\(address)")"])
        let pending = PendingRecords(streamed)
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
                        let datagram = Array(envelope.data.readableBytesView)
                        if pending.add(datagram, receivedAtNano: received, peer: peer, limit: Self.maxPendingRecords) {
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
        logger.info(
            "\(streamed.name) TCP listening", metadata: ["address": "\(server.channel.localAddress.map { "\($0)" } ?? "\(address)")"])
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
        var decoder = StreamFrameDecoder(streamed.framing, maxFrameBytes: configuration.maxMessageBytes)
        do {
            try await connection.executeThenClose { inbound, _ in
                for try await buffer in inbound {
                    decoder.append(buffer.readableBytesView)
                    var batch = Batch()
                    let received = Self.nowNano()
                    while let frame = try decoder.next() { batch.add(frame, streamed, receivedAtNano: received, peer: peer) }
                    await ingest(batch)
                }
                if let last = decoder.finish() {
                    var batch = Batch()
                    batch.add(last, streamed, receivedAtNano: Self.nowNano(), peer: peer)
                    await ingest(batch)
                }
            }
        } catch {
            logger.warning("\(streamed.name) TCP connection closed", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }

    // MARK: Batches

    /// Parsed records and the messages that did not parse.
    struct Batch: Sendable {
        var records: [Record] = []
        var rejected = 0
        var rejectionMessage = ""

        mutating func add(_ message: ArraySlice<UInt8>, _ streamed: StreamedProtocol<Record>, receivedAtNano: UInt64, peer: String) {
            do {
                records.append(try streamed.parse(message, receivedAtNano, peer))
            } catch {
                reject(1, "\(error)")
            }
        }

        mutating func reject(_ count: Int, _ message: String) {
            if rejected == 0 { rejectionMessage = message }
            rejected += count
        }
    }

    /// Datagrams parsed and waiting for the writer.
    final class PendingRecords: Sendable {
        private let streamed: StreamedProtocol<Record>
        private let batch = Mutex(Batch())

        init(_ streamed: StreamedProtocol<Record>) {
            self.streamed = streamed
        }

        /// Adds a datagram's records; returns whether the writer needs waking (the batch was empty).
        func add(_ datagram: [UInt8], receivedAtNano: UInt64, peer: String, limit: Int) -> Bool {
            var messages: [ArraySlice<UInt8>] = []
            switch streamed.framing {
            case .syslog: messages = [datagram[...]]
            case .lines:
                // Cut as a TCP stream is, so a line means the same whichever transport brought it. No line is longer
                // than the datagram, so the decoder has no limit to throw on.
                var decoder = StreamFrameDecoder(.lines, maxFrameBytes: datagram.count)
                decoder.append(datagram)
                while let line = try? decoder.next() { messages.append(line) }
                if let last = decoder.finish() { messages.append(last) }
            }
            return batch.withLock { batch in
                let wasEmpty = batch.records.isEmpty && batch.rejected == 0
                for message in messages {
                    if batch.records.count >= limit {
                        batch.reject(1, "more than \(limit) \(streamed.name) records of datagrams waiting to be written")
                    } else {
                        batch.add(message, streamed, receivedAtNano: receivedAtNano, peer: peer)
                    }
                }
                return wasEmpty
            }
        }

        func take() -> Batch { batch.withLock { batch in defer { batch = Batch() }; return batch } }
    }

    private func ingest(_ batch: Batch) async {
        guard !batch.records.isEmpty || batch.rejected > 0 else { return }
        let decoded = DecodedBatch(streamed.batch(batch.records), rejected: batch.rejected, rejectionMessage: batch.rejectionMessage)
        do {
            let outcome = try await pipeline.ingest(decoded, tenant: configuration.tenant, protocol: streamed.name, bytes: 0)
            if outcome.rejected > 0 {
                logger.debug(
                    "\(streamed.name) records rejected", metadata: ["count": "\(outcome.rejected)", "reason": "\(outcome.message)"])
            }
        } catch {
            logger.error("\(streamed.name) batch not stored", metadata: ["records": "\(batch.records.count)", "error": "\(error)"])
        }
    }

    private static func nowNano() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1e9) }
}
