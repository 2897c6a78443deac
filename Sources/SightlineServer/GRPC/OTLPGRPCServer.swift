package import Logging
import NIOHPACK
import NIOCore
import NIOExtras
import NIOHTTP2
import NIOPosix
package import ServiceLifecycle
import SightlineCore

/// OTLP/gRPC: the `Export` methods of the logs, metrics and trace collector services, over HTTP/2 without TLS.
///
/// A small unary-only gRPC server on SwiftNIO's HTTP/2: each stream carries one length-prefixed request message;
/// the answer is one response message and a `grpc-status` trailer. On graceful shutdown it stops accepting,
/// sends GOAWAY, and lets in-flight calls finish.
package final class OTLPGRPCServer: Service {
    private let address: HostAndPort
    private let service: OTLPGRPCService
    private let logger: Logger
    private let group: any EventLoopGroup

    package init(address: HostAndPort, api: APIDependencies, logger: Logger) {
        self.address = address
        self.service = OTLPGRPCService(api: api)
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup.singleton
    }

    package func run() async throws {
        let quiesce = ServerQuiescingHelper(group: group)
        let service = self.service
        let maxMessageBytes = service.api.limits.maxBodyBytes
        let channel = try await ServerBootstrap(group: group)
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
                        try stream.pipeline.syncOperations.addHandler(GRPCStreamHandler(service: service, maxMessageBytes: maxMessageBytes))
                    }
                }.map { _ in }
            }
            .bind(host: address.host, port: address.port)
            .get()
        logger.info("OTLP/gRPC listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "\(address)")"])
        try? await gracefulShutdown()
        logger.info("OTLP/gRPC stopping: no new calls, finishing in-flight ones")
        let done = group.next().makePromise(of: Void.self)
        quiesce.initiateShutdown(promise: done)
        try await done.futureResult.get()
    }
}

/// One HTTP/2 stream: collects the request, hands it to the service, writes the response and trailers.
private final class GRPCStreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let service: OTLPGRPCService
    private let maxMessageBytes: Int
    private var headers = HPACKHeaders()
    private var body = ByteBuffer()
    private var overLimit = false
    private var done = false

    init(service: OTLPGRPCService, maxMessageBytes: Int) {
        self.service = service
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
        let service = self.service
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        context.eventLoop.makeFutureWithTask { await service.handle(call) }.whenSuccess { result in
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
