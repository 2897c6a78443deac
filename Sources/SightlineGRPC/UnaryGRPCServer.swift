package import Logging
import NIOCore
import NIOExtras
import NIOHPACK
import NIOHTTP2
import NIOPosix
package import ServiceLifecycle

/// A small unary-only gRPC server over SwiftNIO's HTTP/2 without TLS: each stream carries one length-prefixed
/// request message, handed to `handler`; the answer is one response message and a `grpc-status` trailer, or a
/// trailers-only failure. Stopping stops accepting, sends GOAWAY, and lets in-flight calls finish.
///
/// The server and the agent both run one for OTLP/gRPC; each brings its own handler.
package final class UnaryGRPCServer: Service {
    /// What a handler does with one call.
    package typealias Handler = @Sendable (GRPCCall) async -> GRPCResult

    private let host: String
    private let port: Int
    private let maxMessageBytes: Int
    private let name: String
    private let logger: Logger
    private let handler: Handler
    private let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    private let quiesce: ServerQuiescingHelper

    /// - Parameters:
    ///   - maxMessageBytes: larger request messages are refused with RESOURCE_EXHAUSTED (``GRPCCall/overLimit``).
    ///   - name: names the listener in log messages, e.g. "OTLP/gRPC".
    package init(host: String, port: Int, maxMessageBytes: Int, name: String, logger: Logger, handler: @escaping Handler) {
        self.host = host
        self.port = port
        self.maxMessageBytes = maxMessageBytes
        self.name = name
        self.logger = logger
        self.handler = handler
        quiesce = ServerQuiescingHelper(group: group)
    }

    /// Binds and starts accepting; returns the bound port (useful with port 0).
    @discardableResult
    package func start() async throws -> Int {
        try await bind().get()
    }

    /// ``start()`` for callers on a plain thread (the agent).
    @discardableResult
    package func startBlocking() throws -> Int {
        try bind().wait()
    }

    private func bind() -> EventLoopFuture<Int> {
        let quiesce = self.quiesce
        let handler = self.handler
        let maxMessageBytes = self.maxMessageBytes
        let logger = self.logger
        let name = self.name
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelInitializer { channel in
                channel.configureHTTP2Pipeline(mode: .server) { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.pipeline.syncOperations.addHandler(GRPCStreamHandler(handler: handler, maxMessageBytes: maxMessageBytes))
                    }
                }.map { _ in }
            }
            .bind(host: host, port: port)
            .map { channel in
                logger.info("\(name) listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "\(self.host):\(self.port)")"])
                return channel.localAddress?.port ?? self.port
            }
    }

    /// Stops accepting, sends GOAWAY, and waits for in-flight calls.
    package func stop() async throws {
        logger.info("\(name) stopping: no new calls, finishing in-flight ones")
        let done = group.next().makePromise(of: Void.self)
        quiesce.initiateShutdown(promise: done)
        try await done.futureResult.get()
    }

    /// ``stop()`` for callers on a plain thread.
    package func stopBlocking() throws {
        let done = group.next().makePromise(of: Void.self)
        quiesce.initiateShutdown(promise: done)
        try done.futureResult.wait()
    }

    /// Runs in a service group: starts, waits for graceful shutdown, stops.
    package func run() async throws {
        try await start()
        try? await gracefulShutdown()
        try await stop()
    }
}

/// One HTTP/2 stream: collects the request, hands it to the handler, writes the response and trailers.
private final class GRPCStreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let handler: UnaryGRPCServer.Handler
    private let maxMessageBytes: Int
    private var headers = HPACKHeaders()
    private var body = ByteBuffer()
    private var overLimit = false
    private var done = false

    init(handler: @escaping UnaryGRPCServer.Handler, maxMessageBytes: Int) {
        self.handler = handler
        self.maxMessageBytes = maxMessageBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let frame):
            headers = frame.headers
            if frame.endStream { respond(context: context) }
        case .data(let frame):
            if case .byteBuffer(var bytes) = frame.data {
                // One frame header (5 bytes) plus the message may arrive; anything beyond the limit is dropped and refused.
                if body.readableBytes + bytes.readableBytes > maxMessageBytes + 5 { overLimit = true } else { body.writeBuffer(&bytes) }
            }
            if frame.endStream { respond(context: context) }
        default:
            break
        }
    }

    private func respond(context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        let call = GRPCCall(
            path: headers.first(name: ":path") ?? "",
            authorization: headers.first(name: "authorization"),
            messageEncoding: headers.first(name: "grpc-encoding"),
            traceparent: headers.first(name: "traceparent"),
            body: body,
            overLimit: overLimit
        )
        let handler = self.handler
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        context.eventLoop.makeFutureWithTask { await handler(call) }.whenSuccess { result in
            loopBound.value.handler.write(result, context: loopBound.value.context)
        }
    }

    private func write(_ result: GRPCResult, context: ChannelHandlerContext) {
        var responseHeaders = HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")])
        switch result {
        case .message(let message):
            context.write(wrapOutboundOut(.headers(.init(headers: responseHeaders))), promise: nil)
            var frame = context.channel.allocator.buffer(capacity: message.count + 5)
            frame.writeInteger(UInt8(0))
            frame.writeInteger(UInt32(message.count))
            frame.writeBytes(message)
            context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(frame)))), promise: nil)
            let trailers = HPACKHeaders([("grpc-status", "0")])
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
        case .failure(let code, let message):
            // Trailers-only response.
            responseHeaders.add(name: "grpc-status", value: "\(code)")
            responseHeaders.add(name: "grpc-message", value: GRPCCall.percentEncode(message))
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: responseHeaders, endStream: true))), promise: nil)
        }
    }
}
