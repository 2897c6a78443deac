import NIOCore
import NIOPosix
import SightlineCore
import SightlineTestSupport
import Synchronization
import Testing

@testable import SightlineNATS

/// A scripted stand-in for a NATS server on a loopback port: sends `INFO`, answers only the first `pongs` PINGs,
/// and after the handshake PONG sends `afterHandshake` (e.g. a `PING` or an `-ERR`). Records the lines it received.
final class FakeNATSServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var pongsLeft: Int
    private let afterHandshake: String
    private var pending = ""
    private let received: @Sendable (String) -> Void

    init(pongs: Int, afterHandshake: String, received: @escaping @Sendable (String) -> Void) {
        pongsLeft = pongs
        self.afterHandshake = afterHandshake
        self.received = received
    }

    func channelActive(context: ChannelHandlerContext) {
        let info = #"INFO {"server_id":"fake","version":"0.0.0","max_payload":1024,"headers":true}"# + "\r\n"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: info)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending += String(buffer: unwrapInboundIn(data))
        while let end = pending.firstIndex(of: "\r\n") {
            let line = String(pending[..<end])
            pending = String(pending[pending.index(after: end)...])
            received(line)
            guard line == "PING", pongsLeft > 0 else { continue }
            pongsLeft -= 1
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "PONG\r\n" + afterHandshake)), promise: nil)
        }
    }
}

/// Lines a fake server received, shared between its event loop and the test.
final class ReceivedLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

/// Runs `body` with the URL of a fake server that answers `pongs` PINGs and sends `afterHandshake` after the first.
func withFakeServer(pongs: Int, afterHandshake: String = "", _ body: (String, ReceivedLines) async throws -> Void) async throws {
    let lines = ReceivedLines()
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    FakeNATSServerHandler(pongs: pongs, afterHandshake: afterHandshake, received: { lines.append($0) }))
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    let port = try #require(server.localAddress?.port)
    do {
        try await body("nats://127.0.0.1:\(port)", lines)
    } catch {
        try? await server.close()
        throw error
    }
    try await server.close()
}

struct NATSFakeServerTests {
    @Test func missingPongsFailTheConnection() async throws {
        try await withFakeServer(pongs: 1) { url, _ in
            // The fake server shares the test process's event loops with every other test: give its handshake time.
            let options = NATSConnectionOptions(connectTimeout: .seconds(30), pingInterval: .milliseconds(50), maxPingsOutstanding: 2)
            let nats = try await NATSConnection.connect(to: url, options: options)
            let subscription = try await nats.subscribe("a")
            let error = await asyncSightlineError { for try await _ in subscription {} }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("answered none of the last 2 PINGs") == true, "\(error?.message ?? "")")
            let after = await asyncSightlineError { try await nats.flush() }
            #expect(after?.message.contains("answered none") == true)
        }
    }

    @Test func serverPingsAreAnsweredAndConnectSaysWhatTheClientSpeaks() async throws {
        try await withFakeServer(pongs: 2, afterHandshake: "PING\r\n") { url, lines in
            let nats = try await NATSConnection.connect(to: url, options: testConnectionOptions)
            // The fake server answers this PING only after it has read our PONG to its own PING.
            try await nats.flush()
            let received = lines.all
            #expect(received.contains("PONG"))
            let connect = try #require(received.first { $0.hasPrefix("CONNECT ") })
            #expect(connect.contains(#""verbose":false"#) && connect.contains(#""headers":true"#) && connect.contains(#""lang":"swift""#))
            #expect(received.contains { $0.hasPrefix("SUB _INBOX.") && $0.contains(".r.* ") })
            await nats.close()
        }
    }

    @Test func aServerErrorFailsEverythingWithTheServersMessage() async throws {
        try await withFakeServer(pongs: 1, afterHandshake: "-ERR 'Authorization Violation'\r\n") { url, _ in
            let error = await asyncSightlineError {
                let nats = try await NATSConnection.connect(to: url, options: testConnectionOptions)
                let subscription = try await nats.subscribe("a")
                for try await _ in subscription {}
            }
            #expect(error?.code == .unauthenticated)
            #expect(error?.message.contains("-ERR 'Authorization Violation'") == true, "\(error?.message ?? "")")
        }
    }

    @Test func theServersMaxPayloadIsRespected() async throws {
        try await withFakeServer(pongs: 1) { url, _ in
            let nats = try await NATSConnection.connect(to: url, options: testConnectionOptions)
            #expect(nats.serverInfo.maxPayload == 1024)
            let error = await asyncSightlineError { try await nats.publish("a", payload: [UInt8](repeating: 0, count: 1025)) }
            #expect(error?.code == .tooLarge)
            #expect(error?.message.contains("1025 bytes") == true && error?.message.contains("max_payload of 1024") == true)
            await nats.close()
        }
    }
}
