package import NIOCore
import NIOHTTP1
import NIOPosix
package import NIOSSL
import SightlineCore
import Synchronization

/// A small HTTP/1.1 client for receivers: one connection per POST, a deadline, a bounded response body.
///
/// Built on SwiftNIO (no AsyncHTTPClient, which links the system zlib); `https://` goes through swift-nio-ssl, whose
/// BoringSSL is compiled from the package's own sources. Certificates are checked against the system's trust store
/// unless the client is given another TLS configuration (tests use their own CA).
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

        /// Whether the URL is `https://`.
        package var useTLS: Bool

        /// Parses `http(s)://[user@]host[:port][/path][?query]`.
        /// - Throws: `invalidArgument` for other schemes or a malformed URL.
        package init(url: String) throws {
            if url.hasPrefix("https://") {
                useTLS = true
            } else if url.hasPrefix("http://") {
                useTLS = false
            } else {
                throw SightlineError(.invalidArgument, "URL \(url) is not an http:// or https:// URL")
            }
            let defaultPort = useTLS ? 443 : 80
            let rest = url.dropFirst(useTLS ? "https://".count : "http://".count)
            let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            var authority = String(rest[..<slash])
            if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
            pathAndQuery = slash == rest.endIndex ? "/" : (rest[slash] == "?" ? "/" : "") + rest[slash...]
            if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
                host = String(authority[authority.index(after: authority.startIndex)..<close])
                let after = authority[authority.index(after: close)...]
                port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : defaultPort
            } else if let colon = authority.lastIndex(of: ":") {
                host = String(authority[..<colon])
                port = Int(authority[authority.index(after: colon)...]) ?? -1
            } else {
                host = authority
                port = defaultPort
            }
            guard !host.isEmpty, (1...65535).contains(port) else { throw SightlineError(.invalidArgument, "URL \(url) has no valid host and port") }
        }

        /// The Host header: the host, with the port unless it is the scheme's default (as clients write it, and as
        /// AWS signatures expect it).
        package var hostHeader: String {
            let name = host.contains(":") ? "[\(host)]" : host
            return port == (useTLS ? 443 : 80) ? name : "\(name):\(port)"
        }
    }

    private let eventLoopGroup: any EventLoopGroup
    private let tls: NotifyTLS

    /// Creates a client running on `eventLoopGroup`; `tlsConfiguration` is used for `https://` URLs.
    package init(eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, tlsConfiguration: TLSConfiguration = .makeClientConfiguration()) {
        self.eventLoopGroup = eventLoopGroup
        self.tls = NotifyTLS(tlsConfiguration)
    }

    /// Sends `body` to `url` with `method` (POST, PUT; a GET sends none).
    /// - Parameters:
    ///   - timeoutMs: The deadline for connecting, sending and reading the whole response.
    ///   - maxBodySize: Response bytes kept; more are read and dropped.
    ///   - tls: The receiver's `tls_config` for `https://`; nil uses the client's configuration.
    ///   - method: The HTTP method.
    /// - Returns: The response, whatever its status.
    /// - Throws: `unavailable` when the connection fails (TLS handshake included), closes early or times out;
    ///   `invalidArgument` for a bad URL; `configuration` when the TLS configuration is unusable.
    package func post(
        url: String, headers: [(String, String)], body: [UInt8], timeoutMs: Int64, maxBodySize: Int = 65536, tls options: NotifyTLSOptions? = nil,
        method: OutboundPost.Method = .post
    ) async throws -> Response {
        let target = try Target(url: url)
        let timeout = TimeAmount.milliseconds(max(1, timeoutMs))
        let context = target.useTLS ? try tls.context(options) : nil
        let serverName = NotifyTLS.serverName(target.host, options)
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(timeout)
                .connect(host: target.host, port: target.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let context {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                        }
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw SightlineError(.unavailable, "cannot connect to \(target.hostHeader)", cause: error)
        }
        let deadline = channel.channel.eventLoop.scheduleTask(in: timeout) { channel.channel.close(promise: nil) }
        defer { deadline.cancel() }
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method.rawValue), uri: target.pathAndQuery)
        head.headers.add(name: "Host", value: target.hostHeader)
        if method != .get || !body.isEmpty { head.headers.add(name: "Content-Length", value: String(body.count)) }
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

/// A receiver's `tls_config`: its own CA file, client certificate, server name, or no verification at all.
package struct NotifyTLSOptions: Sendable, Hashable {
    /// PEM file of the CAs to trust instead of the system's.
    package var caFile: String?
    /// PEM files of a client certificate and its key.
    package var certFile: String?
    package var keyFile: String?
    /// The name to send (SNI) and to check the certificate against, instead of the URL's host.
    package var serverName: String?
    /// Accept any certificate (`insecure_skip_verify`).
    package var insecureSkipVerify = false
    package init() {}
}

/// TLS client contexts, made once per set of options from a base configuration (making one loads the trust store);
/// options that cannot be used fail each connection that needs them, with the reason.
final class NotifyTLS: Sendable {
    private let base: TLSConfiguration
    private let contexts = Mutex<[NotifyTLSOptions?: Result<NIOSSLContext, SightlineError>]>([:])

    init(_ base: TLSConfiguration) { self.base = base }

    /// The context for `options` (nil: the base configuration).
    /// - Throws: `configuration` when it cannot be made (a missing CA file, a key that does not match).
    func context(_ options: NotifyTLSOptions? = nil) throws -> NIOSSLContext {
        if let made = contexts.withLock({ $0[options] }) { return try made.get() }
        let made: Result<NIOSSLContext, SightlineError>
        do {
            var configuration = base
            if let options {
                if let caFile = options.caFile { configuration.trustRoots = .file(caFile) }
                if options.insecureSkipVerify { configuration.certificateVerification = .none }
                if let certFile = options.certFile, let keyFile = options.keyFile {
                    configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
                }
            }
            made = .success(try NIOSSLContext(configuration: configuration))
        } catch {
            made = .failure(SightlineError(.configuration, "cannot set up TLS for notifications", cause: error))
        }
        contexts.withLock { $0[options] = made }
        return try made.get()
    }

    /// The name to send and verify for `host`: the configured server name, else the host unless it is an IP address.
    static func serverName(_ host: String, _ options: NotifyTLSOptions?) -> String? {
        if let name = options?.serverName, !name.isEmpty { return name }
        return isIPAddress(host) ? nil : host
    }

    /// Whether `host` is a literal IP address (no SNI is sent for those).
    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || (host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil })
    }
}
