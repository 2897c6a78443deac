import SightlineCore

/// The parts of a durable pull consumer's configuration a work queue needs (ack policy is always explicit).
package struct JetStreamConsumerConfig: Sendable, Equatable {
    /// The durable name: it survives restarts and fetches address it. No `.`, `*`, `>` or whitespace.
    package var durableName: String
    /// Only messages on this subject (wildcards allowed); nil for the whole stream.
    package var filterSubject: String?
    /// How long the server waits for an ack before delivering the message again.
    package var ackWait: Duration
    /// How many times a message is delivered at most; nil for no limit.
    package var maxDeliver: Int?
    /// How many messages may be delivered and not yet acknowledged; nil for the server's default.
    package var maxAckPending: Int?

    /// A configuration with the given values.
    package init(durableName: String, filterSubject: String? = nil, ackWait: Duration = .seconds(30), maxDeliver: Int? = nil, maxAckPending: Int? = nil) {
        self.durableName = durableName
        self.filterSubject = filterSubject
        self.ackWait = ackWait
        self.maxDeliver = maxDeliver
        self.maxAckPending = maxAckPending
    }

    /// The JSON of the consumer's `config` object.
    func json() -> String {
        var out = #"{"durable_name":"# + JSONText.quoted(durableName)
        out += #","deliver_policy":"all","ack_policy":"explicit","replay_policy":"instant""#
        out += #","ack_wait":\#(ackWait.wholeNanoseconds)"#
        out += #","max_deliver":\#(maxDeliver ?? -1)"#
        if let maxAckPending { out += #","max_ack_pending":\#(maxAckPending)"# }
        if let filterSubject { out += #","filter_subject":"# + JSONText.quoted(filterSubject) }
        out += "}"
        return out
    }
}

/// What the server says about a consumer.
package struct JetStreamConsumerInfo: Sendable {
    /// The stream name.
    package var stream: String
    /// The consumer name.
    package var name: String
    /// Messages delivered and not yet acknowledged.
    package var ackPending: Int
    /// Messages delivered more than once and not yet acknowledged.
    package var redelivered: Int
    /// Messages not yet delivered.
    package var pending: UInt64
}
