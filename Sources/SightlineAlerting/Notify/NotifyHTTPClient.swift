package import NIOCore
import NIOHTTP1
import NIOPosix
import SightlineCore

/// A small HTTP/1.1 client for receivers: one connection per POST, a deadline, a bounded response body.
///
/// Built on SwiftNIO alone (no AsyncHTTPClient, which links the system zlib). Only `http://` URLs: TLS would need
/// swift-nio-ssl, which Sightline does not build yet, so `https://` fails with a clear `configuration` error (not retried).
package struct NotifyHTTPClient: Sendable {
    /// What a POST returned.
    package struct Response: Sendable {
        package var status: Int
        package var body: [UInt8]
    }

    /// A URL split into what a request needs.
    package struct Target: Sendable, Equatable {
        package var host: String
        package var port: Int
        package var pathAndQuery: String

        /// Parses `http://host[:port][/path][?query]`.
        /// - Throws: `invalidArgument` for other schemes or a malformed URL; `configuration` for https.
        package init(url: String) throws {
            if url.hasPrefix("https://") {
                throw SightlineError(.configuration, "https is not supported by Sightline's notifier yet (no TLS library is built): \(url)")
            }
            guard url.hasPrefix("http://") else { throw SightlineError(.invalidArgument, "URL \(url) is not an http:// URL") }
            let rest = url.dropFirst("http://".count)
            let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            var authority = String(rest[..<slash])
            if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
            pathAndQuery = slash == rest.endIndex ? "/" : (rest[slash] == "?" ? "/" : "") + rest[slash...]
            if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
                host = String(authority[authority.index(after: authority.startIndex)..<close])
                let after = authority[authority.index(after: close)...]
                port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : 80
            } else if let colon = authority.lastIndex(of: ":") {
                host = String(authority[..<colon])
                port = Int(authority[authority.index(after: colon)...]) ?? -1
            } else {
                host = authority
                port = 80
            }
            guard !host.isEmpty, (1...65535).contains(port) else { throw SightlineError(.invalidArgument, "URL \(url) has no valid host and port") }
        }

        /// `host:port` for the Host header.
        var hostHeader: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    private let eventLoopGroup: any EventLoopGroup

    /// Creates a client running on `eventLoopGroup`.
    package init(eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.eventLoopGroup = eventLoopGroup
    }

    /// POSTs `body` to `url`.
    /// - Parameters:
    ///   - timeoutMs: The deadline for connecting, sending and reading the whole response.
    ///   - maxBodySize: Response bytes kept; more are read and dropped.
    /// - Returns: The response, whatever its status.
    /// - Throws: `unavailable` when the connection fails, closes early or times out; `invalidArgument` for a bad URL.
    package func post(url: String, headers: [(String, String)], body: [UInt8], timeoutMs: Int64, maxBodySize: Int = 65536) async throws -> Response {
        let target = try Target(url: url)
        let timeout = TimeAmount.milliseconds(max(1, timeoutMs))
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(timeout)
                .connect(host: target.host, port: target.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw SightlineError(.unavailable, "cannot connect to \(target.hostHeader)", cause: error)
        }
        let deadline = channel.channel.eventLoop.scheduleTask(in: timeout) { channel.channel.close(promise: nil) }
        defer { deadline.cancel() }
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target.pathAndQuery)
        head.headers.add(name: "Host", value: target.hostHeader)
        head.headers.add(name: "Content-Length", value: String(body.count))
        head.headers.add(name: "Connection", value: "close")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        let request = head
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.head(request))
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                try await outbound.write(.end(nil))
                var status: Int?
                var collected: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let responseHead):
                        // 1xx responses are followed by the real one.
                        if responseHead.status.code >= 200 { status = Int(responseHead.status.code) }
                    case .body(let buffer):
                        if collected.count < maxBodySize { collected += buffer.readableBytesView.prefix(maxBodySize - collected.count) }
                    case .end:
                        if let status { return Response(status: status, body: collected) }
                    }
                }
                throw SightlineError(.unavailable, "connection to \(target.hostHeader) closed before a full response (or timed out after \(timeoutMs) ms)")
            }
        } catch let error as SightlineError {
            throw error
        } catch {
            throw SightlineError(.unavailable, "POST to \(target.hostHeader) failed (or timed out after \(timeoutMs) ms)", cause: error)
        }
    }
}
