import SightlineCore

/// Where a JetStream message stands, from its ack subject
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>` (or the newer form
/// with a domain and account hash after `$JS.ACK`, and a random token at the end).
package struct JetStreamMetadata: Sendable, Equatable {
    /// The stream name.
    package var stream: String
    /// The consumer name.
    package var consumer: String
    /// How many times this message has been delivered, this time included (1 the first time).
    package var deliveryCount: UInt64
    /// The message's sequence in the stream.
    package var streamSequence: UInt64
    /// The delivery's sequence in the consumer.
    package var consumerSequence: UInt64
    /// When the message was stored, in nanoseconds since 1970.
    package var timestampNanoseconds: Int64
    /// How many messages are pending in the consumer after this one.
    package var pending: UInt64

    /// Parses an ack subject.
    /// - Throws: ``SightlineError`` (`.invalidArgument`) naming the subject when it is not a JetStream ack subject.
    package init(ackSubject: String) throws {
        let tokens = ackSubject.split(separator: ".", omittingEmptySubsequences: false)
        let fields: ArraySlice<Substring>
        if tokens.count == 9, tokens[0] == "$JS", tokens[1] == "ACK" {
            fields = tokens[2...]
        } else if tokens.count >= 11, tokens[0] == "$JS", tokens[1] == "ACK" {
            fields = tokens[4..<11]
        } else {
            throw SightlineError(.invalidArgument, "\(JSONText.quoted(ackSubject)) is not a JetStream ack subject ($JS.ACK.<stream>.<consumer>.…)")
        }
        let values = Array(fields)
        guard let delivered = UInt64(values[2]), let streamSequence = UInt64(values[3]), let consumerSequence = UInt64(values[4]),
            let timestamp = Int64(values[5]), let pending = UInt64(values[6])
        else {
            throw SightlineError(.invalidArgument, "JetStream ack subject \(JSONText.quoted(ackSubject)) has a non-numeric sequence or count")
        }
        stream = String(values[0])
        consumer = String(values[1])
        deliveryCount = delivered
        self.streamSequence = streamSequence
        self.consumerSequence = consumerSequence
        timestampNanoseconds = timestamp
        self.pending = pending
    }
}

/// A message fetched from a pull consumer, with its metadata and the acknowledgements the server expects.
///
/// Every message must end in ``ack()`` or ``term()``; ``nak(delay:)`` asks for redelivery, ``inProgress()`` restarts
/// the ack-wait timer for long work. A message neither acked nor nacked comes back after the consumer's `ack_wait`,
/// with ``JetStreamMetadata/deliveryCount`` one higher.
package struct JetStreamMessage: Sendable {
    /// The message as delivered (subject, headers, payload).
    package var message: NATSMessage
    /// Delivery count, sequences and pending count.
    package var metadata: JetStreamMetadata
    private let connection: NATSConnection
    private let ackSubject: String

    init(message: NATSMessage, connection: NATSConnection) throws {
        guard let reply = message.replyTo else {
            throw SightlineError(.invalidArgument, "JetStream message on \(message.subject) has no ack subject")
        }
        self.message = message
        self.metadata = try JetStreamMetadata(ackSubject: reply)
        self.connection = connection
        self.ackSubject = reply
    }

    /// The subject the message was published to.
    package var subject: String { message.subject }
    /// The payload copied into an array.
    package var bytes: [UInt8] { message.bytes }
    /// The message's headers, if any.
    package var headers: NATSHeaders? { message.headers }

    /// Acknowledges the message: done, never deliver it again (`+ACK`).
    package func ack() async throws {
        try await connection.publish(ackSubject, payload: Array("+ACK".utf8))
    }

    /// Acknowledges the message and waits until the server confirms it stored the acknowledgement.
    package func ackSync(timeout: Duration? = nil) async throws {
        _ = try await connection.request(ackSubject, payload: Array("+ACK".utf8), timeout: timeout)
    }

    /// Asks for redelivery (`-NAK`): at once, or after `delay`.
    package func nak(delay: Duration? = nil) async throws {
        var body = "-NAK"
        if let delay { body += #" {"delay":\#(delay.wholeNanoseconds)}"# }
        try await connection.publish(ackSubject, payload: Array(body.utf8))
    }

    /// Says the work goes on (`+WPI`): the ack-wait timer starts again.
    package func inProgress() async throws {
        try await connection.publish(ackSubject, payload: Array("+WPI".utf8))
    }

    /// Gives the message up (`+TERM`): never deliver it again, without it counting as processed.
    package func term() async throws {
        try await connection.publish(ackSubject, payload: Array("+TERM".utf8))
    }
}
