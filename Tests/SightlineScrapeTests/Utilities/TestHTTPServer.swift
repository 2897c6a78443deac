import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An in-process HTTP/1.1 server on 127.0.0.1 with a port chosen by the system, serving one configurable response.
final class TestHTTPServer: Sendable {
    struct Reply: Sendable {
        var status: HTTPResponseStatus = .ok
        var body: [UInt8] = []
        var contentType = "text/plain; version=0.0.4; charset=utf-8"
        var contentEncoding: String?
        var delay: TimeAmount = .zero
        /// Sends the body in this many chunks with `Transfer-Encoding: chunked` instead of `Content-Length`.
        var chunks = 0
    }

    struct Request: Sendable {
        var uri: String
        var headers: [(String, String)]
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    private struct State {
        var reply = Reply()
        var requests: [Request] = []
    }

    private let state = Mutex(State())
    private let channel: Mutex<(any Channel)?> = Mutex(nil)
    let port: Int

    private init(port: Int) { self.port = port }

    static func start() async throws -> TestHTTPServer {
        let box = Mutex<TestHTTPServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    if let server = box.withLock({ $0 }) {
                        try channel.pipeline.syncOperations.addHandler(TestHTTPHandler(server: server))
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = TestHTTPServer(port: channel.localAddress?.port ?? 0)
        server.channel.withLock { $0 = channel }
        box.withLock { $0 = server }
        return server
    }

    /// The address to scrape.
    var address: String { "127.0.0.1:\(port)" }

    func serve(_ text: String, contentType: String? = nil) {
        state.withLock {
            $0.reply = Reply(body: Array(text.utf8))
            if let contentType { $0.reply.contentType = contentType }
        }
    }

    func serve(_ reply: Reply) { state.withLock { $0.reply = reply } }

    var reply: Reply { state.withLock { $0.reply } }

    var requests: [Request] { state.withLock { $0.requests } }

    func record(_ request: Request) { state.withLock { $0.requests.append(request) } }

    func stop() async throws {
        if let channel = channel.withLock({ $0 }) { try await channel.close() }
    }
}

private final class TestHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: TestHTTPServer

    init(server: TestHTTPServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            server.record(TestHTTPServer.Request(uri: head.uri, headers: head.headers.map { ($0.name, $0.value) }))
        case .body:
            break
        case .end:
            let reply = server.reply
            if reply.delay > .zero {
                context.eventLoop.assumeIsolated().scheduleTask(in: reply.delay) { self.respond(context: context, reply: reply) }
            } else {
                respond(context: context, reply: reply)
            }
        }
    }

    private func respond(context: ChannelHandlerContext, reply: TestHTTPServer.Reply) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: reply.contentType)
        if let encoding = reply.contentEncoding { headers.add(name: "Content-Encoding", value: encoding) }
        if reply.chunks > 0 {
            headers.add(name: "Transfer-Encoding", value: "chunked")
        } else {
            headers.add(name: "Content-Length", value: String(reply.body.count))
        }
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))), promise: nil)
        if reply.chunks > 0 {
            let size = max(1, (reply.body.count + reply.chunks - 1) / reply.chunks)
            var offset = 0
            while offset < reply.body.count {
                let end = min(reply.body.count, offset + size)
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: reply.body[offset..<end])))), promise: nil)
                offset = end
            }
        } else if !reply.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: reply.body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
