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
    /// At most this many messages per subject (older ones are removed); nil for no limit. With 1 the stream works
    /// like a key-value bucket: each subject keeps only its last message.
    package var maxMessagesPerSubject: Int?

    /// A configuration with the given values (file storage and limits retention by default).
    package init(
        name: String, subjects: [String], retention: Retention = .limits, storage: Storage = .file,
        maxAge: Duration? = nil, duplicateWindow: Duration? = nil, maxMessages: Int? = nil, maxBytes: Int? = nil, maxMessagesPerSubject: Int? = nil
    ) {
        self.name = name
        self.subjects = subjects
        self.retention = retention
        self.storage = storage
        self.maxAge = maxAge
        self.duplicateWindow = duplicateWindow
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
        self.maxMessagesPerSubject = maxMessagesPerSubject
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
        if let maxMessagesPerSubject { out += #","max_msgs_per_subject":\#(maxMessagesPerSubject)"# }
        out += #","discard":"old"}"#
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
