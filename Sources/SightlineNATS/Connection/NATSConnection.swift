package import NIOCore
import NIOPosix
import SightlineCore

/// One client connection to a NATS server, over SwiftNIO.
///
/// `connect` reads the server's `INFO`, sends `CONNECT` (not verbose, not pedantic, headers on) and waits for the
/// `PONG` to a first `PING`, so a refused connection fails there with the server's `-ERR` text. Afterwards the
/// connection answers server `PING`s, sends its own every ``NATSConnectionOptions/pingInterval`` and fails when
/// ``NATSConnectionOptions/maxPingsOutstanding`` go unanswered.
///
/// There is no reconnection: when the connection fails (server gone, `-ERR`, missed `PONG`s, a protocol error),
/// every waiting call and subscription fails with a ``SightlineError`` saying why, later calls fail the same way,
/// and the caller connects again. Pull consumers make that safe for JetStream: unacknowledged messages come back.
///
/// ```swift
/// let nats = try await NATSConnection.connect(to: "nats://127.0.0.1:4222")
/// let sub = try await nats.subscribe("orders.>")
/// try await nats.publish("orders.new", payload: Array("hello".utf8))
/// for try await message in sub { print(message.subject, message.bytes) }
/// ```
///
/// All methods may be called from any task; they hop to the channel's event loop, where the handler owns all state.
package final class NATSConnection: Sendable {
    /// What the server announced when the connection opened.
    package let serverInfo: NATSServerInfo
    /// The options the connection was opened with.
    package let options: NATSConnectionOptions
    /// `host:port`, for error messages.
    package let endpoint: String
    private let channel: any Channel
    private let handler: NIOLoopBound<NATSConnectionHandler>

    private init(serverInfo: NATSServerInfo, options: NATSConnectionOptions, endpoint: String, channel: any Channel, handler: NIOLoopBound<NATSConnectionHandler>) {
        self.serverInfo = serverInfo
        self.options = options
        self.endpoint = endpoint
        self.channel = channel
        self.handler = handler
    }

    deinit {
        channel.close(promise: nil)
    }

    /// Opens a connection.
    /// - Parameters:
    ///   - url: `nats://[user:password@|token@]host[:port]` (port 4222 when absent); `host:port` alone works too.
    ///   - options: Timeouts, keep-alive and naming.
    ///   - eventLoopGroup: Where the connection's I/O runs.
    /// - Returns: The open connection.
    /// - Throws: ``SightlineError``: `.configuration` for a bad URL or a server that demands TLS, `.unavailable`
    ///   when the server cannot be reached or does not answer in time, `.unauthenticated` when it refuses the
    ///   credentials (with the server's `-ERR` text).
    package static func connect(
        to url: String, options: NATSConnectionOptions = NATSConnectionOptions(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> NATSConnection {
        let target = try NATSURL(url)
        try NATSCommandEncoder.validate(options.inboxPrefix, what: "inbox prefix")
        let eventLoop = eventLoopGroup.next()
        let infoPromise = eventLoop.makePromise(of: NATSServerInfo.self)
        var random = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        let nuid = String(decoding: (0..<22).map { _ in alphabet[Int(random.next(upperBound: UInt64(alphabet.count)))] }, as: UTF8.self)
        let inbox = options.inboxPrefix + "." + nuid + "."
        let endpoint = target.endpoint
        let timeout = TimeAmount.nanoseconds(options.connectTimeout.wholeNanoseconds)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(timeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(NATSFrameDecoder(parser: NATSFrameParser())))
                        try channel.pipeline.syncOperations.addHandler(NATSConnectionHandler(endpoint: endpoint, inbox: inbox, infoPromise: infoPromise))
                    }
                }
                .connect(host: target.host, port: target.port).get()
        } catch {
            throw SightlineError(.unavailable, "cannot connect to the NATS server at \(endpoint)", cause: error)
        }
        let handler = try await eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: NATSConnectionHandler.self), eventLoop: eventLoop)
        }.get()
        let deadline = eventLoop.scheduleTask(in: timeout) {
            handler.value.fail(SightlineError(.unavailable, "the NATS server at \(endpoint) did not complete the handshake within \(options.connectTimeout)"))
        }
        defer { deadline.cancel() }
        let info: NATSServerInfo
        do {
            info = try await infoPromise.futureResult.get()
        } catch {
            channel.close(promise: nil)
            throw error
        }
        if info.tlsRequired {
            channel.close(promise: nil)
            throw SightlineError(.configuration, "the NATS server at \(endpoint) requires TLS, which this client does not speak")
        }
        let pong = eventLoop.makePromise(of: Void.self)
        eventLoop.execute {
            var buffer = ByteBuffer()
            NATSCommandEncoder.appendConnect(name: options.name, user: target.user, password: target.password, token: target.token, to: &buffer)
            handler.value.write(buffer, promise: nil)
            handler.value.subscribeReplies()
            handler.value.ping(promise: pong)
        }
        do {
            try await pong.futureResult.get()
        } catch {
            channel.close(promise: nil)
            throw error
        }
        eventLoop.execute {
            handler.value.startKeepalive(pingInterval: options.pingInterval, maxPingsOutstanding: options.maxPingsOutstanding)
        }
        return NATSConnection(serverInfo: info, options: options, endpoint: endpoint, channel: channel, handler: handler)
    }

    /// Publishes a message.
    /// - Parameters:
    ///   - subject: Where to publish.
    ///   - payload: The bytes.
    ///   - headers: Headers, sent as `HPUB`; nil sends a plain `PUB`.
    ///   - replyTo: The subject the receiver should reply to, if any.
    /// - Throws: ``SightlineError``: `.tooLarge` naming both sizes when headers plus payload exceed the server's
    ///   `max_payload`, `.invalidArgument` for a bad subject or header, `.unavailable` when the connection failed.
    package func publish(_ subject: String, payload: ByteBuffer, headers: NATSHeaders? = nil, replyTo: String? = nil) async throws {
        let buffer = try encodePublish(subject, payload: payload, headers: headers, replyTo: replyTo)
        let promise = channel.eventLoop.makePromise(of: Void.self)
        let handler = handler
        channel.eventLoop.execute { handler.value.write(buffer, promise: promise) }
        try await awaitWrite(promise.futureResult)
    }

    /// Publishes a message whose payload is an array; see ``publish(_:payload:headers:replyTo:)-(_,ByteBuffer,_,_)``.
    package func publish(_ subject: String, payload: [UInt8], headers: NATSHeaders? = nil, replyTo: String? = nil) async throws {
        try await publish(subject, payload: ByteBuffer(bytes: payload), headers: headers, replyTo: replyTo)
    }

    /// Subscribes to `subject` (wildcards `*` and `>` allowed).
    ///
    /// Messages are buffered without bound until the caller reads them: read promptly or unsubscribe. The sequence
    /// ends when ``NATSSubscription/unsubscribe()`` is called and throws when the connection fails. `SUB` is sent
    /// before this returns; call ``flush()`` to be sure the server has processed it before publishing elsewhere.
    /// - Parameters:
    ///   - subject: The subject or wildcard pattern.
    ///   - queue: A queue group: each message goes to one member of the group.
    /// - Returns: The subscription, an `AsyncSequence` of ``NATSMessage``.
    package func subscribe(_ subject: String, queue: String? = nil) async throws -> NATSSubscription {
        try NATSCommandEncoder.validate(subject)
        if let queue { try NATSCommandEncoder.validate(queue, what: "queue group") }
        let (stream, continuation) = AsyncThrowingStream<NATSMessage, any Error>.makeStream()
        let handler = handler
        let sid = try await channel.eventLoop.submit {
            handler.value.subscribe(subject: subject, queue: queue, continuation: continuation)
        }.get()
        continuation.onTermination = { [weak self] _ in self?.unsubscribeSoon(sid: sid) }
        return NATSSubscription(subject: subject, sid: sid, stream: stream, connection: self)
    }

    /// Removes subscription `sid` (from ``NATSSubscription`` and its stream's termination).
    func unsubscribeSoon(sid: UInt64) {
        let handler = handler
        channel.eventLoop.execute { handler.value.unsubscribe(sid: sid) }
    }

    /// Sends a request and waits for the first reply.
    ///
    /// The reply subject is `<inbox prefix>.<connection id>.r.<token>`; one wildcard subscription receives every
    /// reply and routes it by token.
    /// - Parameters:
    ///   - subject: Where to send the request.
    ///   - payload: The request body.
    ///   - headers: Request headers, or nil.
    ///   - timeout: How long to wait; ``NATSConnectionOptions/requestTimeout`` when nil.
    /// - Returns: The reply.
    /// - Throws: ``SightlineError`` `.unavailable` when nobody listens on `subject` (status 503; its cause is a
    ///   ``NATSNoRespondersError``), when no reply comes in time, or when the connection fails; `CancellationError`
    ///   when the task is cancelled; the errors of ``publish(_:payload:headers:replyTo:)-(_,ByteBuffer,_,_)``.
    package func request(_ subject: String, payload: ByteBuffer, headers: NATSHeaders? = nil, timeout: Duration? = nil) async throws -> NATSMessage {
        try NATSCommandEncoder.validate(subject)
        let headerBytes = try headers?.encoded()
        try checkSize(headerBytes: headerBytes?.count ?? 0, payloadBytes: payload.readableBytes, subject: subject)
        let promise = channel.eventLoop.makePromise(of: NATSMessage.self)
        let handler = handler
        let timeout = timeout ?? options.requestTimeout
        channel.eventLoop.execute {
            handler.value.request(subject: subject, headers: headerBytes, payload: payload, timeout: timeout, promise: promise)
        }
        // On cancellation the waiter gives up at once; the handler forgets the request at its timeout.
        return try await Self.result(of: promise)
    }

    /// Sends a request whose payload is an array; see ``request(_:payload:headers:timeout:)-(_,ByteBuffer,_,_)``.
    package func request(_ subject: String, payload: [UInt8], headers: NATSHeaders? = nil, timeout: Duration? = nil) async throws -> NATSMessage {
        try await request(subject, payload: ByteBuffer(bytes: payload), headers: headers, timeout: timeout)
    }

    /// Sends a JetStream pull request and collects its messages (see ``NATSConnectionHandler/fetch``).
    func fetch(subject: String, body: ByteBuffer, batch: Int, timeout: Duration) async throws -> [NATSMessage] {
        let promise = channel.eventLoop.makePromise(of: [NATSMessage].self)
        let handler = handler
        channel.eventLoop.execute {
            handler.value.fetch(subject: subject, body: body, batch: batch, timeout: timeout, promise: promise)
        }
        // On cancellation the waiter gives up at once; messages that still arrive for this request are dropped and
        // come back after the consumer's ack_wait.
        return try await Self.result(of: promise)
    }

    /// Waits for `promise`; cancelling the waiting task fails it at once with `CancellationError`.
    private static func result<Value: Sendable>(of promise: EventLoopPromise<Value>) async throws -> Value {
        try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            promise.fail(CancellationError())
        }
    }

    /// Waits until the server has processed everything sent before (a `PING`/`PONG` round trip).
    /// - Throws: ``SightlineError`` `.unavailable` when the connection fails first.
    package func flush() async throws {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        let handler = handler
        channel.eventLoop.execute { handler.value.ping(promise: promise) }
        try await promise.futureResult.get()
    }

    /// Closes the connection; waiting calls and subscriptions fail with an error saying the client closed it.
    package func close() async {
        let handler = handler
        let endpoint = endpoint
        try? await channel.eventLoop.submit {
            handler.value.fail(SightlineError(.unavailable, "the NATS connection to \(endpoint) was closed by the client"))
        }.get()
        try? await channel.closeFuture.get()
    }

    /// Encodes `PUB`/`HPUB` after checking the subject, headers and size.
    private func encodePublish(_ subject: String, payload: ByteBuffer, headers: NATSHeaders?, replyTo: String?) throws -> ByteBuffer {
        try NATSCommandEncoder.validate(subject)
        if let replyTo { try NATSCommandEncoder.validate(replyTo, what: "reply subject") }
        let headerBytes = try headers?.encoded()
        try checkSize(headerBytes: headerBytes?.count ?? 0, payloadBytes: payload.readableBytes, subject: subject)
        var buffer = channel.allocator.buffer(capacity: payload.readableBytes + (headerBytes?.count ?? 0) + subject.utf8.count + 64)
        NATSCommandEncoder.appendPublish(subject: subject, replyTo: replyTo, headers: headerBytes, payload: payload, to: &buffer)
        return buffer
    }

    /// Throws `.tooLarge` when a message would exceed the server's `max_payload` (which would make it close the connection).
    private func checkSize(headerBytes: Int, payloadBytes: Int, subject: String) throws {
        let total = headerBytes + payloadBytes
        guard total <= serverInfo.maxPayload else {
            let parts = headerBytes > 0 ? " (\(headerBytes) of headers, \(payloadBytes) of payload)" : ""
            throw SightlineError(
                .tooLarge,
                "NATS message to \(subject) is \(total) bytes\(parts), more than the server's max_payload of \(serverInfo.maxPayload) bytes")
        }
    }

    /// Waits for a write, turning NIO errors into ``SightlineError``.
    private func awaitWrite(_ future: EventLoopFuture<Void>) async throws {
        do {
            try await future.get()
        } catch let error as SightlineError {
            throw error
        } catch {
            throw SightlineError(.unavailable, "writing to the NATS server at \(endpoint) failed", cause: error)
        }
    }
}

/// The cause of the error a request fails with when the server says nobody subscribes to its subject (status 503).
package struct NATSNoRespondersError: Error, Sendable {
    /// The request's subject.
    package var subject: String
}

/// The parts of a `nats://` URL.
struct NATSURL {
    var host: String
    var port: Int
    var user: String?
    var password: String?
    var token: String?

    var endpoint: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    init(_ url: String) throws {
        var rest = Substring(url)
        if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") {
            let name = rest[..<colon].lowercased()
            guard name == "nats" else {
                throw SightlineError(.configuration, "NATS URL \(JSONText.quoted(url)) has scheme \(name); only nats:// is supported (no TLS)")
            }
            rest = rest[colon...].dropFirst(3)
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = String(credentials[..<colon])
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                token = String(credentials)
            }
        }
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw SightlineError(.configuration, "NATS URL \(JSONText.quoted(url)) has an unclosed [ in its host")
            }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
        }
        guard !host.isEmpty else { throw SightlineError(.configuration, "NATS URL \(JSONText.quoted(url)) has no host") }
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw SightlineError(.configuration, "NATS URL \(JSONText.quoted(url)) has port \(JSONText.quoted(String(portText))), not 1-65535")
            }
            port = number
        } else {
            port = 4222
        }
    }
}
