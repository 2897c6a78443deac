/// The server's answer to a JetStream publish.
package struct JetStreamPubAck: Sendable, Equatable {
    /// The stream that stored the message.
    package var stream: String
    /// The message's sequence in the stream (for a duplicate: the original's).
    package var sequence: UInt64
    /// True when the `Nats-Msg-Id` was seen within the duplicate window and nothing was stored.
    package var duplicate: Bool
}
