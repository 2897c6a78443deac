import SightlineCore

/// The parts of a JetStream stream's configuration a durable work queue needs.
package struct JetStreamStreamConfig: Sendable, Equatable {
    /// When the stream removes messages.
    package enum Retention: String, Sendable {
        /// Keep messages until a limit (age, count, bytes) removes them.
        case limits
        /// Remove a message once it is acknowledged; one consumer per subject.
        case workQueue = "workqueue"
        /// Remove a message once every consumer acknowledged it.
        case interest
    }

    /// Where the stream keeps messages.
    package enum Storage: String, Sendable {
        case file
        case memory
    }

    /// The stream name: no `.`, `*`, `>` or whitespace.
    package var name: String
    /// The subjects (wildcards allowed) whose messages the stream stores.
    package var subjects: [String]
    package var retention: Retention
    package var storage: Storage
    /// How long a message is kept at most; nil keeps it without age limit.
    package var maxAge: Duration?
    /// How long `Nats-Msg-Id` values are remembered for de-duplication; nil leaves the server's default (2 minutes).
    package var duplicateWindow: Duration?
    /// At most this many messages; nil for no limit.
    package var maxMessages: Int?
    /// At most this many bytes; nil for no limit.
    package var maxBytes: Int?

    /// A configuration with the given values (file storage and limits retention by default).
    package init(
        name: String, subjects: [String], retention: Retention = .limits, storage: Storage = .file,
        maxAge: Duration? = nil, duplicateWindow: Duration? = nil, maxMessages: Int? = nil, maxBytes: Int? = nil
    ) {
        self.name = name
        self.subjects = subjects
        self.retention = retention
        self.storage = storage
        self.maxAge = maxAge
        self.duplicateWindow = duplicateWindow
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
    }

    /// The JSON the stream API takes (durations in nanoseconds).
    func json() -> String {
        var out = #"{"name":"# + JSONText.quoted(name) + #","subjects":["#
        for (index, subject) in subjects.enumerated() {
            if index > 0 { out += "," }
            JSONText.appendString(subject, to: &out)
        }
        out += #"],"retention":""# + retention.rawValue + #"","storage":""# + storage.rawValue + #"","num_replicas":1"#
        out += #","max_age":\#(maxAge?.wholeNanoseconds ?? 0)"#
        if let duplicateWindow { out += #","duplicate_window":\#(duplicateWindow.wholeNanoseconds)"# }
        out += #","max_msgs":\#(maxMessages ?? -1),"max_bytes":\#(maxBytes ?? -1)"#
        out += #","discard":"old"}"#
        return out
    }
}

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

/// What the server says about a stream.
package struct JetStreamStreamInfo: Sendable {
    /// The stream name.
    package var name: String
    /// Messages stored now.
    package var messages: UInt64
    /// Bytes stored now.
    package var bytes: UInt64
    /// The first stored sequence.
    package var firstSequence: UInt64
    /// The last stored sequence.
    package var lastSequence: UInt64
    /// How many consumers the stream has.
    package var consumerCount: Int
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

/// The server's answer to a JetStream publish.
package struct JetStreamPubAck: Sendable, Equatable {
    /// The stream that stored the message.
    package var stream: String
    /// The message's sequence in the stream (for a duplicate: the original's).
    package var sequence: UInt64
    /// True when the `Nats-Msg-Id` was seen within the duplicate window and nothing was stored.
    package var duplicate: Bool
}
