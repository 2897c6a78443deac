#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore
import SightlineCore

/// A named lease (leader election) kept in a JetStream stream used like a key-value bucket, so that one job — the
/// alert rule evaluator — runs in exactly one of several servers at a time and moves to another when its holder dies.
///
/// ## Storage
/// Each lease is the subject `<subjectPrefix>.<name>` (by default `sightline.lease.<name>`) of the stream
/// `SIGHTLINE_LEASES` (subjects `sightline.lease.>`, file storage, `max_msgs_per_subject` 1, created on first use).
/// The subject's last message is the current claim, JSON `{"holder":"…","expires_ms":…}` with the expiry in
/// milliseconds since 1970 by the claimer's clock.
///
/// ## Compare-and-set
/// Every claim is published with the `Nats-Expected-Last-Subject-Sequence` header set to the sequence of the claim
/// it replaces (0 when the subject has none). The server stores it only when that is still the subject's last
/// sequence, so of several servers that read the same claim and race to replace it, exactly one succeeds; the others
/// get JetStream error 10071 ("wrong last sequence") and lose. (nats-server supports the header since 2.3.)
///
/// ## Time, and the safety margin
/// Expiries come from each server's wall clock. A holder considers itself the holder (``isHeld``) only until
/// `expiry − safetyMargin` by its own clock; others take the lease over once `expiry` has passed by *their* clock.
/// So at most one server acts at a time as long as clocks differ by less than `safetyMargin` (keep them in sync
/// with NTP) **and** the holder checks ``isHeld`` right before each action and finishes an action before the margin
/// runs out. A holder that pauses (GC, swapped out, stopped in a debugger) longer than that can act late; for
/// side effects where that matters, pass ``fencingToken`` along and let the receiver reject lower tokens than it saw.
///
/// ## Driving it
/// One task per lease object: either ``run(every:onAcquire:onLose:onError:)``, or by hand — ``tryAcquire()``
/// until it returns true, then ``renew()`` every `ttl/3` while ``isHeld``, back to ``tryAcquire()`` when ``renew()``
/// returns false, and ``release()`` on shutdown so another server takes over at once instead of after `ttl`.
/// A holder that dies without releasing is replaced within `ttl` plus one retry interval of the others.
///
/// `holder` must be unique per process (e.g. host name, process id and a random suffix): a claim whose holder equals
/// ours is treated as ours, so two processes sharing a holder would both act.
package actor JetStreamLease {
    /// The stream leases are kept in unless another is given.
    package static let defaultStream = "SIGHTLINE_LEASES"
    /// The subject prefix of leases unless another is given: lease `name` is `sightline.lease.<name>`.
    package static let defaultSubjectPrefix = "sightline.lease"
    /// The JetStream error code for a refused `Nats-Expected-Last-Subject-Sequence` ("wrong last sequence").
    static let wrongLastSequenceErrorCode = 10071

    /// A claim as stored in the stream.
    package struct Claim: Sendable, Equatable {
        /// Who claimed the lease.
        package var holder: String
        /// Until when, in milliseconds since 1970 by the claimer's clock; 0 (or any past time) for a released lease.
        package var expiresMilliseconds: Int64
        /// The claim's sequence in the stream: what the next claim must expect, and a fencing token.
        package var sequence: UInt64
    }

    /// The JetStream context requests go through.
    package nonisolated let jetStream: JetStream
    /// The lease's name (one subject token).
    package nonisolated let name: String
    /// Who we are; unique per process.
    package nonisolated let holder: String
    /// How long a claim lasts without renewal.
    package nonisolated let ttl: Duration
    /// How long before the claim's expiry we stop considering ourselves the holder (covers clock skew).
    package nonisolated let safetyMargin: Duration
    /// The stream the lease lives in.
    package nonisolated let stream: String
    /// The lease's subject, `<subjectPrefix>.<name>`.
    package nonisolated let subject: String
    private nonisolated let subjectPrefix: String
    private nonisolated let now: @Sendable () -> Int64

    /// Whether the stream has been created (or checked) by this object.
    private var streamReady = false
    /// The sequence of our last accepted claim while we hold the lease; nil when we do not.
    private var ourSequence: UInt64?
    /// The expiry we wrote in our last accepted claim (ms since 1970).
    private var ourExpiry: Int64 = 0

    /// A lease object; it talks to the server only when called.
    /// - Parameters:
    ///   - jetStream: The JetStream context.
    ///   - name: The lease's name, e.g. `alert-evaluator`: one subject token (no `.`, `*`, `>`, whitespace).
    ///   - holder: Who we are, unique per process; any text without line breaks.
    ///   - ttl: How long a claim lasts without renewal; at least 10 ms. Renew every `ttl/3`.
    ///   - safetyMargin: How long before expiry ``isHeld`` turns false; `ttl/5` when nil. Must be below `ttl`.
    ///   - stream: The stream to keep leases in.
    ///   - subjectPrefix: The stream's subjects are `<subjectPrefix>.>`.
    ///   - now: The clock, milliseconds since 1970; the wall clock unless a test injects another.
    /// - Throws: ``SightlineError`` `.invalidArgument` naming the bad name, holder, prefix, ttl or margin.
    package init(
        jetStream: JetStream, name: String, holder: String, ttl: Duration, safetyMargin: Duration? = nil,
        stream: String = JetStreamLease.defaultStream, subjectPrefix: String = JetStreamLease.defaultSubjectPrefix,
        now: @escaping @Sendable () -> Int64 = JetStreamLease.wallClockMilliseconds
    ) throws {
        guard JetStream.isToken(name) else {
            throw SightlineError(.invalidArgument, "lease name \(JSONText.quoted(name)) is empty or has a '.', '*', '>', space or control character")
        }
        guard JetStream.isToken(stream) else {
            throw SightlineError(.invalidArgument, "lease stream name \(JSONText.quoted(stream)) is empty or has a '.', '*', '>', space or control character")
        }
        guard !subjectPrefix.isEmpty, subjectPrefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ JetStream.isToken(String($0)) })
        else {
            throw SightlineError(.invalidArgument, "lease subject prefix \(JSONText.quoted(subjectPrefix)) is not a subject without wildcards")
        }
        guard !holder.isEmpty, !holder.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw SightlineError(.invalidArgument, "lease holder \(JSONText.quoted(holder)) is empty or has a control character")
        }
        guard ttl >= .milliseconds(10) else {
            throw SightlineError(.invalidArgument, "lease ttl \(ttl) is shorter than 10 ms")
        }
        let margin = safetyMargin ?? ttl / 5
        guard margin >= .zero, margin < ttl else {
            throw SightlineError(.invalidArgument, "lease safety margin \(margin) must be at least zero and below the ttl \(ttl)")
        }
        self.jetStream = jetStream
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self.safetyMargin = margin
        self.stream = stream
        self.subjectPrefix = subjectPrefix
        self.subject = subjectPrefix + "." + name
        self.now = now
    }

    /// Milliseconds since 1970 by the wall clock.
    package static let wallClockMilliseconds: @Sendable () -> Int64 = {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    // MARK: State

    /// True while we won the lease and our claim's expiry minus the safety margin has not passed by our clock.
    /// Check it right before every action the lease guards.
    package var isHeld: Bool {
        guard ourSequence != nil else { return false }
        return now() < ourExpiry - Self.milliseconds(safetyMargin)
    }

    /// The sequence of our claim while ``isHeld``, else nil. It grows with every claim and renewal on this lease, so a
    /// receiver that remembers the highest token it saw can refuse work from a holder that was replaced.
    package var fencingToken: UInt64? { isHeld ? ourSequence : nil }

    /// The claim stored now, whoever made it, or nil when the lease was never claimed.
    /// - Throws: ``SightlineError`` as ``tryAcquire()``.
    package func currentClaim() async throws -> Claim? {
        try await ensureStream()
        return try await readClaim()
    }

    // MARK: Operations

    /// Claims the lease when nobody holds it: when it was never claimed, its claim has expired by our clock, or the
    /// claim is ours (then this renews it).
    /// - Returns: True when our claim was stored; false when another holder's claim is live or another server's
    ///   claim won the race (the server refused ours by compare-and-set).
    /// - Throws: ``SightlineError`` when the stream cannot be created, the server refuses a request for another reason
    ///   (with its description), or it does not answer; our local state is then unchanged.
    package func tryAcquire() async throws -> Bool {
        try await ensureStream()
        let current = try await readClaim()
        let time = now()
        if let current, current.holder != holder, current.expiresMilliseconds > time {
            forget()
            return false
        }
        return try await claim(replacing: current?.sequence ?? 0, at: time)
    }

    /// Extends our claim by `ttl` from now.
    /// - Returns: True when it was extended; false when we do not hold the lease (never won it, released it, or
    ///   another server has claimed it since — then we must stop acting at once and go back to ``tryAcquire()``).
    ///   A claim of ours that expired while nobody else claimed the lease is extended: nobody acted in between.
    /// - Throws: ``SightlineError`` when the server refuses for another reason or does not answer. We then keep the
    ///   lease locally until ``isHeld`` turns false; retry soon.
    package func renew() async throws -> Bool {
        guard ourSequence != nil else { return false }
        // Read rather than trust our last sequence: if the acknowledgement of an earlier renewal was lost, the stored
        // claim is still ours (holders are unique) but has a sequence we never learned.
        guard let current = try await readClaim(), current.holder == holder else {
            forget()
            return false
        }
        return try await claim(replacing: current.sequence, at: now())
    }

    /// Gives the lease up so another server can take it at once: stops holding locally first, then stores an expired
    /// claim if the stored claim is still ours (compare-and-set, so a newer holder's claim is never overwritten).
    /// Does nothing when we do not hold it.
    /// - Throws: ``SightlineError`` when the server refuses or does not answer; the lease then expires after `ttl`.
    package func release() async throws {
        guard ourSequence != nil else { return }
        forget()
        guard let current = try await readClaim(), current.holder == holder else { return }
        do {
            _ = try await publishClaim(expiresMilliseconds: 0, replacing: current.sequence)
        } catch let error as SightlineError where Self.isWrongLastSequence(error) {
            // Someone claimed it between our read and our publish: nothing left to release.
        }
    }

    /// Holds the lease whenever possible until the task is cancelled: tries to acquire, then renews, every `interval`
    /// (`ttl/3` when nil), and calls `onAcquire` when we start holding and `onLose` when we stop (lost, expired after
    /// failed renewals, or cancelled). On cancellation it releases the lease (best effort) after calling `onLose`.
    ///
    /// The callbacks run on this loop and must return quickly: start the guarded work in a task of its own in
    /// `onAcquire`, cancel it in `onLose`, and have the work check ``isHeld`` before each action — `onLose` can come
    /// up to one interval late when the server refuses a renewal.
    /// - Parameters:
    ///   - interval: How often to renew or retry; keep it at most `ttl/3` so two renewals can fail before expiry.
    ///   - onError: Told of each failed request (the loop goes on).
    package func run(
        every interval: Duration? = nil, onAcquire: @escaping @Sendable () async -> Void, onLose: @escaping @Sendable () async -> Void,
        onError: (@Sendable (any Error) async -> Void)? = nil
    ) async {
        let period = max(interval ?? ttl / 3, .milliseconds(1))
        var acting = false
        while !Task.isCancelled {
            do {
                if ourSequence != nil { _ = try await renew() } else { _ = try await tryAcquire() }
            } catch is CancellationError {
                break
            } catch {
                await onError?(error)
            }
            let held = isHeld
            if held, !acting {
                acting = true
                await onAcquire()
            } else if !held, acting {
                acting = false
                await onLose()
            }
            var pause = period
            if acting {
                // Wake up no later than the moment our hold ends locally, so onLose is not late after failed renewals.
                let remaining = ourExpiry - Self.milliseconds(safetyMargin) - now()
                pause = min(period, .milliseconds(max(remaining, 1)))
            }
            try? await Task.sleep(for: pause)
        }
        if acting { await onLose() }
        // A task of its own: the cancelled one would fail the request at once.
        await Task { try? await self.release() }.value
    }

    // MARK: Internals

    /// Publishes our claim until `time + ttl`, expecting `sequence` as the subject's last; records it when stored.
    private func claim(replacing sequence: UInt64, at time: Int64) async throws -> Bool {
        let expiry = time + Self.milliseconds(ttl)
        do {
            let stored = try await publishClaim(expiresMilliseconds: expiry, replacing: sequence)
            ourSequence = stored
            ourExpiry = expiry
            return true
        } catch let error as SightlineError where Self.isWrongLastSequence(error) {
            forget()
            return false
        }
    }

    /// Publishes a claim with the compare-and-set header; returns its sequence.
    private func publishClaim(expiresMilliseconds: Int64, replacing sequence: UInt64) async throws -> UInt64 {
        let payload = #"{"holder":"# + JSONText.quoted(holder) + #","expires_ms":\#(expiresMilliseconds)}"#
        let headers = NATSHeaders([("Nats-Expected-Last-Subject-Sequence", String(sequence))])
        let ack = try await jetStream.publish(subject, payload: Array(payload.utf8), headers: headers)
        guard ack.stream == stream else {
            throw SightlineError(.invalidArgument, "lease subject \(subject) is stored by stream \(ack.stream), not by the lease stream \(stream)")
        }
        return ack.sequence
    }

    /// We no longer hold the lease.
    private func forget() {
        ourSequence = nil
        ourExpiry = 0
    }

    /// Creates the lease stream (or brings its configuration to ours) once per object.
    private func ensureStream() async throws {
        guard !streamReady else { return }
        _ = try await jetStream.createOrUpdateStream(
            JetStreamStreamConfig(name: stream, subjects: [subjectPrefix + ".>"], retention: .limits, storage: .file, maxMessagesPerSubject: 1))
        streamReady = true
    }

    /// The subject's last message (``JetStream/lastMessage(stream:subject:)``); nil when the subject has none.
    private func readClaim() async throws -> Claim? {
        let stored: JetStreamStoredMessage?
        do {
            stored = try await jetStream.lastMessage(stream: stream, subject: subject)
        } catch let error as SightlineError where (error.cause as? JetStreamAPIError)?.errorCode == 10059 {
            // Stream not found (deleted behind our back): create it again on the next call.
            streamReady = false
            throw error
        }
        guard let stored else { return nil }
        let body: ClaimBody
        do {
            body = try NATSJSON.decode(ClaimBody.self, from: stored.data, what: "claim")
        } catch {
            throw SightlineError(
                .invalidArgument,
                "lease \(name): the stored claim at \(subject) (sequence \(stored.sequence)) is not {\"holder\",\"expires_ms\"} JSON: \(JSONText.quoted(String(decoding: stored.data.prefix(200), as: UTF8.self)))"
            )
        }
        return Claim(holder: body.holder, expiresMilliseconds: body.expires_ms, sequence: stored.sequence)
    }

    private static func isWrongLastSequence(_ error: SightlineError) -> Bool {
        (error.cause as? JetStreamAPIError)?.errorCode == wrongLastSequenceErrorCode
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.wholeNanoseconds / 1_000_000
    }
}

// MARK: Wire shapes

/// A claim's payload.
private struct ClaimBody: Decodable {
    var holder: String
    var expires_ms: Int64
}
