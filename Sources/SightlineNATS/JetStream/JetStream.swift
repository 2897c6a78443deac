import NIOCore
import SightlineCore

/// The JetStream subset a durable work queue needs, over the JSON API (`$JS.API.*`) of one ``NATSConnection``:
/// streams, publishing with an acknowledgement and de-duplication, durable pull consumers, fetching batches.
///
/// ```swift
/// let js = JetStream(connection: nats)
/// _ = try await js.createOrUpdateStream(JetStreamStreamConfig(name: "JOBS", subjects: ["jobs.>"], retention: .workQueue))
/// _ = try await js.createOrUpdateConsumer(stream: "JOBS", config: JetStreamConsumerConfig(durableName: "workers"))
/// let ack = try await js.publish("jobs.mail", payload: bytes, messageID: "job-42")
/// for message in try await js.fetch(stream: "JOBS", consumer: "workers", batch: 10) {
///     try await work(message.bytes)
///     try await message.ack()
/// }
/// ```
///
/// API errors (`{"error":{"code","err_code","description"}}`) become ``SightlineError``s carrying the server's
/// description.
package struct JetStream: Sendable {
    /// The connection the API requests go over.
    package let connection: NATSConnection
    /// The API subject prefix, `$JS.API` unless a domain or import changes it.
    package let apiPrefix: String
    /// How long each API request waits; the connection's request timeout when nil.
    package let timeout: Duration?

    /// A JetStream context on `connection`.
    package init(connection: NATSConnection, apiPrefix: String = "$JS.API", timeout: Duration? = nil) {
        self.connection = connection
        self.apiPrefix = apiPrefix
        self.timeout = timeout
    }

    // MARK: Streams

    /// Creates the stream, or updates it when it exists with another configuration; the same configuration again
    /// changes nothing.
    /// - Returns: The stream's state after the call.
    /// - Throws: ``SightlineError`` with the server's description when it rejects the configuration.
    package func createOrUpdateStream(_ config: JetStreamStreamConfig) async throws -> JetStreamStreamInfo {
        try Self.validateName(config.name, what: "stream name")
        for subject in config.subjects { try NATSCommandEncoder.validate(subject, what: "stream subject") }
        let body = config.json()
        do {
            return try await streamCall("STREAM.CREATE.\(config.name)", body: body)
        } catch let error as SightlineError where (error.cause as? JetStreamAPIError)?.errorCode == 10058 {
            return try await streamCall("STREAM.UPDATE.\(config.name)", body: body)
        }
    }

    /// The stream's current state.
    /// - Throws: ``SightlineError`` `.notFound` when there is no such stream.
    package func streamInfo(_ name: String) async throws -> JetStreamStreamInfo {
        try Self.validateName(name, what: "stream name")
        return try await streamCall("STREAM.INFO.\(name)", body: "")
    }

    /// The subjects of `stream` that match `filter` (wildcards allowed), each with its message count:
    /// `STREAM.INFO` with `subjects_filter`, paged with `offset` until the server's `total` is reached (nats-server 2.9
    /// sends up to 100 000 subjects a page).
    /// - Throws: ``SightlineError`` `.notFound` when there is no such stream; `.invalidArgument` for a bad filter.
    package func streamSubjects(_ name: String, filter: String) async throws -> [String: UInt64] {
        try Self.validateName(name, what: "stream name")
        try NATSCommandEncoder.validate(filter, what: "subjects filter")
        var subjects: [String: UInt64] = [:]
        while true {
            let body = #"{"subjects_filter":"# + JSONText.quoted(filter) + #","offset":\#(subjects.count)}"#
            let response = try await apiCall("STREAM.INFO.\(name)", body: body, as: StreamSubjectsResponse.self)
            let page = response.state?.subjects ?? [:]
            let before = subjects.count
            subjects.merge(page) { _, new in new }
            // Stop when the server says it sent all, or when a page added nothing (no `total`, or a shrinking stream).
            guard let total = response.total, subjects.count < total, subjects.count > before else { break }
        }
        return subjects
    }

    /// The last message stored for `subject` in `stream` (`STREAM.MSG.GET` with `last_by_subj`); nil when the subject
    /// has none.
    /// - Throws: ``SightlineError`` `.notFound` when there is no such stream (the cause's err_code is 10059).
    package func lastMessage(stream: String, subject: String) async throws -> JetStreamStoredMessage? {
        try Self.validateName(stream, what: "stream name")
        let api = "STREAM.MSG.GET.\(stream)"
        let response: MessageGetResponse
        do {
            response = try await apiCall(api, body: #"{"last_by_subj":"# + JSONText.quoted(subject) + "}", as: MessageGetResponse.self)
        } catch let error as SightlineError where (error.cause as? JetStreamAPIError)?.errorCode == Self.noMessageFoundErrorCode {
            return nil
        }
        guard let message = response.message, let sequence = message.seq else {
            throw SightlineError(.invalidArgument, "JetStream reply to \(apiPrefix).\(api) has no message or sequence")
        }
        guard let data = Base64.decode(message.data ?? "") else {
            throw SightlineError(.invalidArgument, "JetStream reply to \(apiPrefix).\(api): message \(sequence) is not base64")
        }
        return JetStreamStoredMessage(subject: message.subject ?? subject, sequence: sequence, data: data)
    }

    /// The JetStream error code of a message get that finds no message ("no message found").
    static let noMessageFoundErrorCode = 10037

    /// Deletes the stream and its messages and consumers.
    /// - Throws: ``SightlineError`` `.notFound` when there is no such stream.
    package func deleteStream(_ name: String) async throws {
        try Self.validateName(name, what: "stream name")
        _ = try await apiCall("STREAM.DELETE.\(name)", body: "", as: EmptyResponse.self)
    }

    // MARK: Publishing

    /// Publishes a message to a stream's subject and waits for the stream's acknowledgement.
    /// - Parameters:
    ///   - subject: A subject some stream stores.
    ///   - payload: The bytes.
    ///   - headers: Extra headers, or nil.
    ///   - messageID: Sent as `Nats-Msg-Id`: a second publish with the same id within the stream's duplicate window
    ///     stores nothing and answers with ``JetStreamPubAck/duplicate`` true.
    /// - Returns: The stream, sequence and duplicate flag.
    /// - Throws: ``SightlineError``: `.unavailable` when no stream stores `subject` (nobody answers) or the
    ///   acknowledgement does not come in time, the server's description when it refuses the message.
    package func publish(_ subject: String, payload: [UInt8], headers: NATSHeaders? = nil, messageID: String? = nil) async throws -> JetStreamPubAck {
        var headers = headers
        if let messageID {
            headers = headers ?? NATSHeaders()
            headers?.append("Nats-Msg-Id", messageID)
        }
        let reply: NATSMessage
        do {
            reply = try await connection.request(subject, payload: payload, headers: headers, timeout: timeout)
        } catch let error as SightlineError where error.cause is NATSNoRespondersError {
            throw SightlineError(.unavailable, "no JetStream stream stores subject \(subject) (the server has no responder for it)")
        }
        let ack = try Self.decode(PubAckResponse.self, from: reply, operation: "publish to \(subject)")
        guard let stream = ack.stream, let sequence = ack.seq else {
            throw SightlineError(.invalidArgument, "JetStream publish to \(subject): the acknowledgement has no stream or seq: \(Self.preview(reply))")
        }
        return JetStreamPubAck(stream: stream, sequence: sequence, duplicate: ack.duplicate ?? false)
    }

    // MARK: Consumers

    /// Creates a durable pull consumer with explicit acks; the same configuration again changes nothing.
    /// - Returns: The consumer's state.
    /// - Throws: ``SightlineError`` with the server's description when it rejects the configuration (e.g. a
    ///   changed configuration it cannot apply, or a second overlapping consumer on a work-queue stream).
    package func createOrUpdateConsumer(stream: String, config: JetStreamConsumerConfig) async throws -> JetStreamConsumerInfo {
        try Self.validateName(stream, what: "stream name")
        try Self.validateName(config.durableName, what: "consumer name")
        if let filter = config.filterSubject { try NATSCommandEncoder.validate(filter, what: "filter subject") }
        let body = #"{"stream_name":"# + JSONText.quoted(stream) + #","config":"# + config.json() + "}"
        return try await consumerCall("CONSUMER.DURABLE.CREATE.\(stream).\(config.durableName)", body: body)
    }

    /// The consumer's current state.
    /// - Throws: ``SightlineError`` `.notFound` when there is no such consumer.
    package func consumerInfo(stream: String, consumer: String) async throws -> JetStreamConsumerInfo {
        try Self.validateName(stream, what: "stream name")
        try Self.validateName(consumer, what: "consumer name")
        return try await consumerCall("CONSUMER.INFO.\(stream).\(consumer)", body: "")
    }

    /// Fetches up to `batch` messages from a pull consumer.
    ///
    /// Sends `{"batch":N,"expires":ns}` (or `{"batch":N,"no_wait":true}`) to
    /// `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` and returns when the batch is full, or when the server ends the
    /// request with status 404 (no messages) or 408 (expired): then with what arrived, possibly nothing.
    /// - Parameters:
    ///   - batch: At most this many messages.
    ///   - expires: How long the server holds the request open waiting for messages.
    ///   - noWait: Return at once with what is available instead of waiting.
    /// - Returns: The messages, each to be acknowledged.
    /// A consumer that does not exist gives an empty result once `expires` (plus two seconds) has passed: nats-server
    /// 2.9 does not answer such a request; check with ``consumerInfo(stream:consumer:)`` when it matters.
    /// Cancelling the task ends the wait at once with `CancellationError`.
    /// - Throws: ``SightlineError`` when the server ends the request with another status (e.g. 409 when too many
    ///   requests wait), the connection fails, or a message has no valid ack subject.
    package func fetch(stream: String, consumer: String, batch: Int, expires: Duration = .seconds(5), noWait: Bool = false) async throws -> [JetStreamMessage] {
        try Self.validateName(stream, what: "stream name")
        try Self.validateName(consumer, what: "consumer name")
        guard batch > 0 else { throw SightlineError(.invalidArgument, "JetStream fetch batch must be positive, got \(batch)") }
        let body = noWait ? #"{"batch":\#(batch),"no_wait":true}"# : #"{"batch":\#(batch),"expires":\#(expires.wholeNanoseconds)}"#
        let clientTimeout = noWait ? (timeout ?? connection.options.requestTimeout) : expires + .seconds(2)
        let messages = try await connection.fetch(
            subject: "\(apiPrefix).CONSUMER.MSG.NEXT.\(stream).\(consumer)", body: ByteBuffer(string: body), batch: batch, timeout: clientTimeout)
        return try messages.map { try JetStreamMessage(message: $0, connection: connection) }
    }

    // MARK: API plumbing

    private func streamCall(_ api: String, body: String) async throws -> JetStreamStreamInfo {
        let response = try await apiCall(api, body: body, as: StreamInfoResponse.self)
        return JetStreamStreamInfo(
            name: response.config?.name ?? "", messages: response.state?.messages ?? 0, bytes: response.state?.bytes ?? 0,
            firstSequence: response.state?.first_seq ?? 0, lastSequence: response.state?.last_seq ?? 0,
            consumerCount: response.state?.consumer_count ?? 0)
    }

    private func consumerCall(_ api: String, body: String) async throws -> JetStreamConsumerInfo {
        let response = try await apiCall(api, body: body, as: ConsumerInfoResponse.self)
        return JetStreamConsumerInfo(
            stream: response.stream_name ?? "", name: response.name ?? "", ackPending: response.num_ack_pending ?? 0,
            redelivered: response.num_redelivered ?? 0, pending: response.num_pending ?? 0)
    }

    /// Sends one API request and decodes the reply, turning an `error` member into a ``JetStreamAPIError``.
    private func apiCall<T: Decodable>(_ api: String, body: String, as type: T.Type) async throws -> T {
        let subject = "\(apiPrefix).\(api)"
        let reply: NATSMessage
        do {
            reply = try await connection.request(subject, payload: ByteBuffer(string: body), timeout: timeout)
        } catch let error as SightlineError where error.cause is NATSNoRespondersError {
            throw SightlineError(.unavailable, "JetStream is not enabled on the NATS server at \(connection.endpoint) (no responder for \(subject))")
        }
        return try Self.decode(type, from: reply, operation: subject)
    }

    private static func decode<T: Decodable>(_ type: T.Type, from reply: NATSMessage, operation: String) throws -> T {
        let bytes = reply.bytes
        let envelope = try NATSJSON.decode(ErrorEnvelope.self, from: bytes, what: "JetStream reply to \(operation)")
        if let error = envelope.error {
            throw JetStreamAPIError(
                status: error.code ?? 0, errorCode: error.err_code ?? 0, serverDescription: error.description ?? "(no description)", operation: operation
            ).sightlineError
        }
        return try NATSJSON.decode(type, from: bytes, what: "JetStream reply to \(operation)")
    }

    private static func preview(_ reply: NATSMessage) -> String {
        JSONText.quoted(String(decoding: reply.payload.readableBytesView.prefix(200), as: UTF8.self))
    }

    /// Whether `text` is usable as one subject token: not empty, no '.', '*', '>', space or control character.
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty
            && !text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: ">") })
    }

    /// Throws unless `name` is usable as one subject token (stream and consumer names are).
    private static func validateName(_ name: String, what: String) throws {
        guard isToken(name) else {
            throw SightlineError(.invalidArgument, "JetStream \(what) \(JSONText.quoted(name)) is empty or has a '.', '*', '>', space or control character")
        }
    }
}

/// A JetStream API error as the server reported it; the ``SightlineCore/SightlineError/cause`` of the errors API
/// calls throw, for callers that need the server's `err_code` (e.g. 10058: stream exists with another configuration).
package struct JetStreamAPIError: Error, CustomStringConvertible, Sendable {
    /// The HTTP-like status (400, 404, 503…).
    package var status: Int
    /// JetStream's own error code, e.g. 10058.
    package var errorCode: Int
    /// The server's description.
    package var serverDescription: String
    /// The API subject of the failed request.
    package var operation: String

    package var description: String { "JetStream status \(status), err_code \(errorCode)" }
}

extension JetStreamAPIError {
    /// The error as callers see it: the server's description, with this value as the cause.
    var sightlineError: SightlineError {
        let code: SightlineError.Code =
            switch status {
            case 404: .notFound
            case 503: .unavailable
            case 413: .tooLarge
            default: .invalidArgument
            }
        return SightlineError(code, "JetStream \(operation) failed: \(serverDescription) (status \(status), err_code \(errorCode))", cause: self)
    }
}

// MARK: Wire shapes of the API replies

private struct ErrorEnvelope: Decodable {
    struct APIError: Decodable {
        var code: Int?
        var err_code: Int?
        var description: String?
    }
    var error: APIError?
}

private struct EmptyResponse: Decodable {}

private struct PubAckResponse: Decodable {
    var stream: String?
    var seq: UInt64?
    var duplicate: Bool?
}

private struct StreamInfoResponse: Decodable {
    struct Config: Decodable { var name: String? }
    struct State: Decodable {
        var messages: UInt64?
        var bytes: UInt64?
        var first_seq: UInt64?
        var last_seq: UInt64?
        var consumer_count: Int?
    }
    var config: Config?
    var state: State?
}

/// The reply of `STREAM.INFO` with `subjects_filter`: the matching subjects and their counts, and the paging total.
private struct StreamSubjectsResponse: Decodable {
    struct State: Decodable { var subjects: [String: UInt64]? }
    var state: State?
    var total: Int?
}

/// A message as `STREAM.MSG.GET` returns it.
package struct JetStreamStoredMessage: Sendable, Equatable {
    package var subject: String
    /// Its sequence in the stream.
    package var sequence: UInt64
    package var data: [UInt8]
}

/// The reply of `STREAM.MSG.GET` (an `error` member is handled by the envelope check).
private struct MessageGetResponse: Decodable {
    struct Message: Decodable {
        var subject: String?
        var seq: UInt64?
        var data: String?
    }
    var message: Message?
}

private struct ConsumerInfoResponse: Decodable {
    var stream_name: String?
    var name: String?
    var num_ack_pending: Int?
    var num_redelivered: Int?
    var num_pending: UInt64?
}
