import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import Synchronization

@testable import SightlineServer

/// Sends requests straight to a router's responder, without sockets: the routes, middleware and error mapping run as in
/// the server, and the response body is collected.
struct RouterClient {
    struct Reply {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: ByteBuffer
    }

    let responder: RouterResponder<SightlineRequestContext>

    init(_ router: Router<SightlineRequestContext>) {
        responder = router.buildResponder()
    }

    func execute(_ path: String, method: HTTPRequest.Method = .get, headers: HTTPFields = [:], body: ByteBuffer? = nil) async throws -> Reply {
        var headers = headers
        if let body { headers[.contentLength] = String(body.readableBytes) }
        let request = Request(
            head: HTTPRequest(method: method, scheme: "http", authority: "localhost", path: path, headerFields: headers),
            body: RequestBody(buffer: body ?? ByteBuffer())
        )
        let context = SightlineRequestContext(source: .init(channel: EmbeddedChannel(), logger: Logger(label: "test")))
        let response = try await responder.respond(to: request, context: context)
        let collector = BodyCollector()
        try await response.body.write(collector)
        return Reply(status: response.status, headers: response.headers, body: collector.body.withLock { $0 })
    }
}

/// Collects a response body.
private struct BodyCollector: ResponseBodyWriter {
    let body = SharedBuffer()

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        body.withLock { $0.writeBuffer(&buffer) }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// A buffer shared between the collector and the caller.
private final class SharedBuffer: Sendable {
    private let storage = Mutex(ByteBuffer())
    func withLock<T>(_ body: (inout ByteBuffer) -> T) -> T { storage.withLock { body(&$0) } }
}

extension RouterClient.Reply {
    /// Runs checks on the reply; reads like the request it answers.
    func check(_ body: (RouterClient.Reply) throws -> Void) rethrows {
        try body(self)
    }
}
