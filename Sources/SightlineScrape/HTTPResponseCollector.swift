import NIOCore
import NIOHTTP1
import SightlineCore

/// Sends one request when the connection is up and collects the response into a promise, bounding the body.
///
/// The first completion of the promise wins: the fetcher's timeout and cancellation fail the same promise, and any
/// completion closes the channel.
final class HTTPResponseCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let request: HTTPRequestHead
    /// The request body; empty for none.
    private let requestBody: [UInt8]
    private let promise: EventLoopPromise<HTTPFetcher.Response.Raw>
    private let maxBodySize: Int
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?

    init(request: HTTPRequestHead, body: [UInt8] = [], promise: EventLoopPromise<HTTPFetcher.Response.Raw>, maxBodySize: Int) {
        self.request = request
        self.requestBody = body
        self.promise = promise
        self.maxBodySize = maxBodySize
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(request)), promise: nil)
        if !requestBody.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: requestBody)))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            if let length = head.headers.first(name: "content-length").flatMap({ Int($0) }), length > maxBodySize {
                tooLarge(context: context)
            }
        case .body(var part):
            guard (body?.readableBytes ?? 0) + part.readableBytes <= maxBodySize else {
                tooLarge(context: context)
                return
            }
            body.setOrWriteBuffer(&part)
        case .end:
            guard let head else {
                promise.fail(SightlineError(.unavailable, "response ended before its head"))
                return
            }
            let bytes = body.map { Array($0.readableBytesView) } ?? []
            promise.succeed(
                HTTPFetcher.Response.Raw(
                    response: HTTPFetcher.Response(
                        status: Int(head.status.code), contentType: head.headers.first(name: "content-type") ?? "", body: bytes),
                    contentEncoding: head.headers.first(name: "content-encoding") ?? ""))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(SightlineError(.unavailable, "HTTP request failed", cause: error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(SightlineError(.unavailable, "connection closed before the response was complete"))
        context.fireChannelInactive()
    }

    private func tooLarge(context: ChannelHandlerContext) {
        promise.fail(SightlineError(.tooLarge, "response body exceeds the limit of \(maxBodySize) bytes"))
        context.close(promise: nil)
    }
}
