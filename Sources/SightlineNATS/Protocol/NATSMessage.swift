package import NIOCore

/// One message the server delivered (`MSG` or `HMSG`).
///
/// The payload is a slice of the connection's receive buffer (no copy); ``bytes`` copies it into an array when needed.
package struct NATSMessage: Sendable {
    /// The subject the message was published to.
    package var subject: String
    /// The subscription the server delivered it on.
    package var sid: UInt64
    /// The subject to reply to, when the publisher asked for a reply (JetStream: the ack subject).
    package var replyTo: String?
    /// The header block, when the message came as `HMSG`.
    package var headers: NATSHeaders?
    /// The payload bytes.
    package var payload: ByteBuffer

    package init(subject: String, sid: UInt64, replyTo: String? = nil, headers: NATSHeaders? = nil, payload: ByteBuffer) {
        self.subject = subject
        self.sid = sid
        self.replyTo = replyTo
        self.headers = headers
        self.payload = payload
    }

    /// The payload copied into an array.
    package var bytes: [UInt8] { Array(payload.readableBytesView) }

    /// The header status code (e.g. 503 "no responders", JetStream's 404 and 408), or nil.
    package var status: Int? { headers?.status }
}

/// One unit the server sends, as the frame parser produces it.
package enum NATSServerFrame: Sendable {
    /// `INFO {json}`: the JSON text.
    case info(String)
    /// `MSG` or `HMSG`.
    case message(NATSMessage)
    /// `PING`: the server wants a `PONG`.
    case ping
    /// `PONG`: the answer to one of our `PING`s.
    case pong
    /// `+OK` (only in verbose mode, which this client turns off).
    case ok
    /// `-ERR '<message>'`: the message without quotes.
    case error(String)
}
