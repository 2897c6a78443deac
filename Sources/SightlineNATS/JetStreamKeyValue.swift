#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SightlineCore

/// A small key-value bucket in a JetStream stream: one subject per key, `max_msgs_per_subject` 1, file storage, so
/// each key keeps only its last value and the values survive server restarts. Used to share the alerting state
/// between the servers of a leader election (see `JetStreamLease`).
///
/// ## Storage
/// Key `k` is the subject `<subjectPrefix>.<k>` of `stream` (subjects `<subjectPrefix>.>`); the value is the message
/// payload as it was put. A key is one or more subject tokens joined by `.` (no `*`, `>`, spaces or control
/// characters, no empty token). Reads use only what nats-server 2.9 has: `STREAM.MSG.GET` with `last_by_subj` for a
/// value, `STREAM.INFO` with `subjects_filter` for the keys.
///
/// Writes are last-writer-wins: there is no compare-and-set, so callers must either write from one place (the lease
/// holder) or write values that merge (see the silences of the alerting state).
///
/// A core NATS subscription on ``subject(for:)`` (or on `<subjectPrefix>.>`) receives every put as it is stored, so
/// watchers need no consumer.
package struct JetStreamKeyValue: Sendable {
    /// A value as stored.
    package struct Entry: Sendable, Equatable {
        /// The key.
        package var key: String
        /// The value's bytes.
        package var value: [UInt8]
        /// Its sequence in the stream; later puts have higher ones.
        package var sequence: UInt64
    }

    /// The JetStream context requests go through.
    package let jetStream: JetStream
    /// The stream the bucket lives in.
    package let stream: String
    /// The subject prefix of the keys.
    package let subjectPrefix: String

    /// A bucket object; it talks to the server only when called (``create()`` first).
    /// - Parameters:
    ///   - stream: The stream's name: one subject token.
    ///   - subjectPrefix: The keys' subjects are `<subjectPrefix>.<key>`; a subject without wildcards.
    /// - Throws: ``SightlineError`` `.invalidArgument` naming a bad stream name or prefix.
    package init(jetStream: JetStream, stream: String, subjectPrefix: String) throws {
        guard JetStream.isToken(stream) else {
            throw SightlineError(.invalidArgument, "key-value stream name \(JSONText.quoted(stream)) is empty or has a '.', '*', '>', space or control character")
        }
        guard Self.isKey(subjectPrefix) else {
            throw SightlineError(.invalidArgument, "key-value subject prefix \(JSONText.quoted(subjectPrefix)) is not a subject without wildcards")
        }
        self.jetStream = jetStream
        self.stream = stream
        self.subjectPrefix = subjectPrefix
    }

    /// Whether `key` is one or more tokens joined by `.`, none empty, without wildcards, spaces or control characters.
    package static func isKey(_ key: String) -> Bool {
        !key.isEmpty && key.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { JetStream.isToken(String($0)) }
    }

    /// The subject that stores `key`.
    package func subject(for key: String) -> String { subjectPrefix + "." + key }

    /// The key a subject of this bucket stores, or nil for a subject outside it.
    package func key(ofSubject subject: String) -> String? {
        guard subject.hasPrefix(subjectPrefix + ".") else { return nil }
        let key = String(subject.dropFirst(subjectPrefix.count + 1))
        return Self.isKey(key) ? key : nil
    }

    /// Creates the stream, or brings its configuration to the bucket's; calling it again changes nothing.
    /// - Throws: ``SightlineError`` with the server's description, e.g. when another stream already takes the subjects.
    package func create() async throws {
        _ = try await jetStream.createOrUpdateStream(
            JetStreamStreamConfig(name: stream, subjects: [subjectPrefix + ".>"], retention: .limits, storage: .file, maxMessagesPerSubject: 1))
    }

    /// Stores `value` as the key's value and waits for the stream's acknowledgement.
    /// - Returns: The value's sequence.
    /// - Throws: ``SightlineError`` `.invalidArgument` for a bad key; the publish's errors (`.unavailable` when the
    ///   stream does not exist or does not answer in time, the server's description when it refuses, e.g. too large).
    package func put(_ key: String, _ value: [UInt8]) async throws -> UInt64 {
        try Self.check(key)
        let ack = try await jetStream.publish(subject(for: key), payload: value)
        guard ack.stream == stream else {
            throw SightlineError(.invalidArgument, "key-value subject \(subject(for: key)) is stored by stream \(ack.stream), not by \(stream)")
        }
        return ack.sequence
    }

    /// The key's value, or nil when it has none.
    /// - Throws: ``SightlineError`` `.invalidArgument` for a bad key, `.notFound` when the stream does not exist.
    package func get(_ key: String) async throws -> Entry? {
        try Self.check(key)
        guard let stored = try await jetStream.lastMessage(stream: stream, subject: subject(for: key)) else { return nil }
        return Entry(key: key, value: stored.data, sequence: stored.sequence)
    }

    /// The keys that have a value, sorted.
    /// - Throws: ``SightlineError`` `.notFound` when the stream does not exist.
    package func keys() async throws -> [String] {
        try await jetStream.streamSubjects(stream, filter: subjectPrefix + ".>").keys.compactMap { key(ofSubject: $0) }.sorted()
    }

    /// Every key's value, by key.
    /// - Throws: as ``keys()`` and ``get(_:)``.
    package func all() async throws -> [String: Entry] {
        var entries: [String: Entry] = [:]
        for key in try await keys() {
            if let entry = try await get(key) { entries[key] = entry }
        }
        return entries
    }

    private static func check(_ key: String) throws {
        guard isKey(key) else {
            throw SightlineError(.invalidArgument, "key-value key \(JSONText.quoted(key)) is empty, has an empty token, a '*', '>', space or control character")
        }
    }
}
