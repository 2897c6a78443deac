import NIOCore
import SightlineCore

/// Where messages for one subscription id go.
enum NATSSubscriptionSink {
    /// A ``NATSSubscription``'s stream.
    case stream(AsyncThrowingStream<NATSMessage, any Error>.Continuation)
    /// The wildcard inbox that carries replies to ``NATSConnection/request(_:payload:headers:timeout:)``; routed by
    /// the last subject token.
    case replies
    /// One JetStream pull request, collecting a batch.
    case fetch(NATSFetchCollector)
}

/// The messages one JetStream pull request has received so far, and the promise that ends it.
final class NATSFetchCollector {
    let batch: Int
    let description: String
    var messages: [NATSMessage] = []
    let promise: EventLoopPromise<[NATSMessage]>
    var timeout: Scheduled<Void>?

    init(batch: Int, description: String, promise: EventLoopPromise<[NATSMessage]>) {
        self.batch = batch
        self.description = description
        self.promise = promise
    }
}

/// The connection's state machine, living on the channel's event loop: it answers server `PING`s, pairs `PONG`s with
/// waiters, routes messages by subscription id, keeps the request and fetch waiters, and fails everything at once
/// when the connection ends. All its methods run on the event loop (``NATSConnection`` hops there), so it needs no
/// lock.
final class NATSConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = NATSServerFrame
    typealias OutboundOut = ByteBuffer

    private let endpoint: String
    private let infoPromise: EventLoopPromise<NATSServerInfo>
    private var infoDone = false
    private var context: ChannelHandlerContext?
    /// One entry per `PING` sent, in order; nil for keep-alive pings nobody awaits.
    private var pongs = CircularBuffer<EventLoopPromise<Void>?>()
    private var pingsOut = 0
    private var keepalive: RepeatedTask?
    private var sinks: [UInt64: NATSSubscriptionSink] = [:]
    private var nextSid: UInt64 = 1
    private var nextToken: UInt64 = 1
    /// `<prefix>.<random>.`: replies are `<inbox>r.<token>`, fetch inboxes `<inbox>f.<token>`.
    let inbox: String
    private var requests: [Substring: (promise: EventLoopPromise<NATSMessage>, subject: String, timeout: Scheduled<Void>?)] = [:]
    /// Set once the connection has failed; every later operation fails with it.
    private(set) var failure: SightlineError?
    /// The last `-ERR` the server sent that did not end the connection (e.g. a permissions violation).
    private var lastServerError: String?

    init(endpoint: String, inbox: String, infoPromise: EventLoopPromise<NATSServerInfo>) {
        self.endpoint = endpoint
        self.inbox = inbox
        self.infoPromise = infoPromise
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(SightlineError(.unavailable, "the NATS connection to \(endpoint) was closed"))
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .message(let message): route(message)
        case .ping: write(ByteBuffer(string: "PONG\r\n"), promise: nil)
        case .pong:
            pingsOut = 0
            if let waiter = pongs.popFirst() { waiter?.succeed() }
        case .ok: break
        case .info(let json):
            guard !infoDone else { return }  // later INFOs announce cluster changes this client does not use
            infoDone = true
            do { infoPromise.succeed(try NATSServerInfo.parse(json)) } catch {
                fail(error as? SightlineError ?? SightlineError(.invalidArgument, "NATS INFO is unreadable", cause: error))
            }
        case .error(let text): serverError(text)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        var message = "the NATS server at \(endpoint) closed the connection"
        if let lastServerError { message += " (last server error: \(lastServerError))" }
        fail(SightlineError(.unavailable, message))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? SightlineError {
            fail(SightlineError(error.code, "NATS connection to \(endpoint) failed: \(error.message)", cause: error.cause))
        } else {
            fail(SightlineError(.unavailable, "NATS connection to \(endpoint) failed", cause: error))
        }
    }

    /// Handles `-ERR`: permission and subject errors leave the connection open (the server says so); every other
    /// error is followed by the server closing the connection, so everything waiting fails with the server's text.
    private func serverError(_ text: String) {
        let lowered = text.lowercased()
        if lowered.hasPrefix("permissions violation") || lowered.hasPrefix("invalid subject") {
            lastServerError = text
            return
        }
        let code: SightlineError.Code =
            lowered.contains("authorization") || lowered.contains("authentication") || lowered.contains("user authentication")
            ? .unauthenticated : lowered.contains("maximum payload") ? .tooLarge : .unavailable
        fail(SightlineError(code, "NATS server at \(endpoint) sent -ERR '\(text)'"))
    }

    /// Ends the connection: every waiter and subscription fails with `error`, the channel closes.
    func fail(_ error: SightlineError) {
        guard failure == nil else { return }
        failure = error
        keepalive?.cancel()
        keepalive = nil
        if !infoDone {
            infoDone = true
            infoPromise.fail(error)
        }
        while let waiter = pongs.popFirst() { waiter?.fail(error) }
        let pending = requests
        requests = [:]
        for (_, request) in pending {
            request.timeout?.cancel()
            request.promise.fail(error)
        }
        let all = sinks
        sinks = [:]
        for (_, sink) in all {
            switch sink {
            case .stream(let continuation): continuation.finish(throwing: error)
            case .replies: break
            case .fetch(let collector):
                collector.timeout?.cancel()
                collector.promise.fail(error)
            }
        }
        context?.close(promise: nil)
    }

    // MARK: Operations (on the event loop)

    /// Writes and flushes `buffer`; fails `promise` when the connection has already failed.
    func write(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard let context, failure == nil else {
            promise?.fail(failure ?? SightlineError(.unavailable, "the NATS connection to \(endpoint) is not open"))
            return
        }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
    }

    /// Sends `PING`; `promise` succeeds at the matching `PONG`, i.e. once the server has processed everything before.
    func ping(promise: EventLoopPromise<Void>?) {
        if let failure {
            promise?.fail(failure)
            return
        }
        pongs.append(promise)
        write(ByteBuffer(string: "PING\r\n"), promise: nil)
    }

    /// Subscribes the reply inbox (`<inbox>r.*`), before the handshake's `PING`, so it is in place when the `PONG`
    /// comes back.
    func subscribeReplies() {
        let sid = nextSid
        nextSid += 1
        sinks[sid] = .replies
        var buffer = ByteBuffer()
        NATSCommandEncoder.appendSubscribe(subject: inbox + "r.*", queue: nil, sid: sid, to: &buffer)
        write(buffer, promise: nil)
    }

    /// Starts the keep-alive `PING`s: after the handshake, so that a slow first `PONG` is not counted against the
    /// server.
    func startKeepalive(pingInterval: Duration, maxPingsOutstanding: Int) {
        guard let context, failure == nil else { return }
        let interval = TimeAmount.nanoseconds(max(pingInterval.wholeNanoseconds, 1_000_000))
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        keepalive = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            bound.value.keepaliveTick(maxOutstanding: maxPingsOutstanding, interval: pingInterval)
        }
    }

    /// Sends a keep-alive `PING`, or fails the connection when too many went unanswered.
    private func keepaliveTick(maxOutstanding: Int, interval: Duration) {
        guard failure == nil else { return }
        if pingsOut >= maxOutstanding {
            fail(SightlineError(.unavailable, "the NATS server at \(endpoint) answered none of the last \(pingsOut) PINGs (sent every \(interval)); the connection is closed"))
            return
        }
        pingsOut += 1
        ping(promise: nil)
    }

    /// Registers a subscription and sends `SUB`. Returns its id.
    func subscribe(subject: String, queue: String?, continuation: AsyncThrowingStream<NATSMessage, any Error>.Continuation) -> UInt64 {
        let sid = nextSid
        nextSid += 1
        if let failure {
            continuation.finish(throwing: failure)
            return sid
        }
        sinks[sid] = .stream(continuation)
        var buffer = ByteBuffer()
        NATSCommandEncoder.appendSubscribe(subject: subject, queue: queue, sid: sid, to: &buffer)
        write(buffer, promise: nil)
        return sid
    }

    /// Removes a subscription, ends its stream and sends `UNSUB`; nothing when it is already gone.
    func unsubscribe(sid: UInt64) {
        guard let sink = sinks.removeValue(forKey: sid) else { return }
        if case .stream(let continuation) = sink { continuation.finish() }
        var buffer = ByteBuffer()
        NATSCommandEncoder.appendUnsubscribe(sid: sid, to: &buffer)
        write(buffer, promise: nil)
    }

    /// Publishes with a reply subject on the inbox and fulfils `promise` with the first reply, or fails it after
    /// `timeout` or when the server says nobody listens (status 503).
    func request(subject: String, headers: [UInt8]?, payload: ByteBuffer, timeout: Duration, promise: EventLoopPromise<NATSMessage>) {
        if let failure {
            promise.fail(failure)
            return
        }
        guard let context else { preconditionFailure("request before the handler was added") }
        let token = String(nextToken)
        nextToken += 1
        let key = Substring(token)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let endpoint = endpoint
        let scheduled = context.eventLoop.scheduleTask(in: .nanoseconds(timeout.wholeNanoseconds)) {
            guard let request = bound.value.requests.removeValue(forKey: key) else { return }
            var message = "no reply from the NATS server at \(endpoint) to a request on \(subject) within \(timeout)"
            if let last = bound.value.lastServerError { message += " (last server error: \(last))" }
            request.promise.fail(SightlineError(.unavailable, message))
        }
        requests[key] = (promise, subject, scheduled)
        var buffer = context.channel.allocator.buffer(capacity: payload.readableBytes + (headers?.count ?? 0) + subject.utf8.count + 64)
        NATSCommandEncoder.appendPublish(subject: subject, replyTo: inbox + "r." + token, headers: headers, payload: payload, to: &buffer)
        write(buffer, promise: nil)
    }

    /// Subscribes a fresh inbox, publishes `body` to `subject` with that inbox as reply subject (a JetStream pull
    /// request), and collects up to `batch` messages until the server's 404/408 status, the batch is full, or
    /// `timeout`; then unsubscribes.
    func fetch(subject: String, body: ByteBuffer, batch: Int, timeout: Duration, promise: EventLoopPromise<[NATSMessage]>) {
        if let failure {
            promise.fail(failure)
            return
        }
        guard let context else { preconditionFailure("fetch before the handler was added") }
        let sid = nextSid
        nextSid += 1
        let replyTo = inbox + "f." + String(nextToken)
        nextToken += 1
        let collector = NATSFetchCollector(batch: batch, description: subject, promise: promise)
        sinks[sid] = .fetch(collector)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        collector.timeout = context.eventLoop.scheduleTask(in: .nanoseconds(timeout.wholeNanoseconds)) {
            bound.value.fetchTimedOut(sid: sid)
        }
        var buffer = context.channel.allocator.buffer(capacity: body.readableBytes + subject.utf8.count + 2 * replyTo.utf8.count + 64)
        NATSCommandEncoder.appendSubscribe(subject: replyTo, queue: nil, sid: sid, to: &buffer)
        NATSCommandEncoder.appendPublish(subject: subject, replyTo: replyTo, headers: nil, payload: body, to: &buffer)
        write(buffer, promise: nil)
    }

    /// Ends a pull request whose time is up with the messages it has.
    private func fetchTimedOut(sid: UInt64) {
        guard case .fetch(let collector) = sinks[sid] else { return }
        finishFetch(sid: sid, result: .success(collector.messages))
    }

    /// Ends a pull request: unsubscribes its inbox and fulfils its promise.
    private func finishFetch(sid: UInt64, result: Result<[NATSMessage], SightlineError>) {
        guard case .fetch(let collector) = sinks.removeValue(forKey: sid) else { return }
        collector.timeout?.cancel()
        var buffer = ByteBuffer()
        NATSCommandEncoder.appendUnsubscribe(sid: sid, to: &buffer)
        write(buffer, promise: nil)
        switch result {
        case .success(let messages): collector.promise.succeed(messages)
        case .failure(let error): collector.promise.fail(error)
        }
    }

    // MARK: Routing

    private func route(_ message: NATSMessage) {
        switch sinks[message.sid] {
        case .stream(let continuation): continuation.yield(message)
        case .replies:
            let prefix = inbox + "r."
            guard message.subject.hasPrefix(prefix) else { return }
            let token = message.subject.dropFirst(prefix.count)
            guard let request = requests.removeValue(forKey: token) else { return }  // late reply after a timeout
            request.timeout?.cancel()
            if message.status == 503 {
                request.promise.fail(
                    SightlineError(
                        .unavailable, "no responders on the NATS server at \(endpoint) for a request on \(request.subject) (status 503)",
                        cause: NATSNoRespondersError(subject: request.subject)))
            } else {
                request.promise.succeed(message)
            }
        case .fetch(let collector):
            if let status = message.status {
                let description = message.headers?.statusDescription ?? ""
                switch status {
                case 100:
                    return  // idle heartbeat or flow control: not a message
                case 404, 408:
                    finishFetch(sid: message.sid, result: .success(collector.messages))
                case 409 where !collector.messages.isEmpty:
                    finishFetch(sid: message.sid, result: .success(collector.messages))
                default:
                    finishFetch(
                        sid: message.sid,
                        result: .failure(SightlineError(.unavailable, "JetStream pull request \(collector.description) ended with status \(status) \(description)")))
                }
                return
            }
            collector.messages.append(message)
            if collector.messages.count >= collector.batch {
                finishFetch(sid: message.sid, result: .success(collector.messages))
            }
        case nil:
            return  // a message that crossed our UNSUB
        }
    }
}
