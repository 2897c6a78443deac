import Logging
import SightlineAlerting
import SightlineCore
import SightlineNATS
import Synchronization

/// The alerting state shared by the servers of a leader election, in a JetStream key-value stream
/// (``JetStreamKeyValue``), so that a new leader neither restarts `for` timers nor pages again what the previous one
/// already sent, and silences made through any server apply on the leader.
///
/// - Every document the rule evaluator and the notifier save (``AlertingStateDocument``: per tenant the rule alerts,
///   notifier alerts, silences and notification log) is mirrored here as the key `<kind>.<tenant>`: by the leader all of
///   them, by followers only silences. Puts are awaited one at a time, oldest change first; a later save of a
///   document supersedes one not yet put; a failed put is logged and retried at the next save or keep-alive.
/// - When a server takes the lead it first reads every document and replaces its own state with them, merging the
///   notification logs and silences (``takeOver(rules:notifier:)``), then evaluates and sends.
/// - Every server follows the silences subjects (a core subscription sees each put) and merges what others saved
///   (``Notifier/mergeSilences(_:tenant:)``); merged sets that differ are put back, so all copies converge.
///
/// The stream is `SIGHTLINE_ALERTING_<name>` (or `alerting.leader_election.state_stream`), subjects
/// `sightline.alerting.<name>.>`, file storage, one message per subject.
final class SharedAlertingState: AlertingStateMirror {
    /// The stream's name.
    let stream: String
    /// The keys' subject prefix.
    let subjectPrefix: String
    private let logger: Logger

    private struct State {
        /// The bucket on the current connection; nil while there is none.
        var bucket: JetStreamKeyValue?
        /// Whether this server leads: then every document is mirrored, else only silences.
        var leading = false
        /// Documents saved and not put yet, with the order of their last save.
        var dirty: [AlertingStateDocument: (bytes: [UInt8], order: UInt64)] = [:]
        var saves: UInt64 = 0
        /// Whether a drain task is putting documents.
        var draining = false
    }

    private let state = Mutex(State())

    /// The shared state of the election `settings` describes.
    init(_ settings: ServerConfiguration.Alerting.LeaderElection, logger: Logger) {
        stream = settings.stateStream ?? "SIGHTLINE_ALERTING_" + settings.name
        subjectPrefix = "sightline.alerting." + settings.name
        self.logger = logger
    }

    // MARK: Mirroring

    /// Queues a saved document for the stream (``AlertingStateMirror``).
    func saved(_ document: AlertingStateDocument, bytes: [UInt8]) {
        let start = state.withLock { state -> Bool in
            guard state.leading || document.kind == .silences else { return false }
            state.saves += 1
            state.dirty[document] = (bytes, state.saves)
            return Self.claimDrain(&state)
        }
        if start { Task { await self.drain() } }
    }

    /// Starts putting queued documents again (after a failure, on a new connection).
    func retry() {
        if state.withLock({ Self.claimDrain(&$0) }) { Task { await self.drain() } }
    }

    /// Whether a drain should start now; marks it started.
    private static func claimDrain(_ state: inout State) -> Bool {
        guard !state.draining, state.bucket != nil, !state.dirty.isEmpty else { return false }
        state.draining = true
        return true
    }

    /// Puts queued documents, the oldest change first, until none is left or a put fails.
    private func drain() async {
        while true {
            let next = state.withLock { state -> (JetStreamKeyValue, AlertingStateDocument, [UInt8], UInt64)? in
                guard let bucket = state.bucket, let oldest = state.dirty.min(by: { $0.value.order < $1.value.order }) else {
                    state.draining = false
                    return nil
                }
                return (bucket, oldest.key, oldest.value.bytes, oldest.value.order)
            }
            guard let next else { return }
            let (bucket, document, bytes, order) = next
            do {
                _ = try await bucket.put(document.name, bytes)
                state.withLock { state in
                    if state.dirty[document]?.order == order { state.dirty[document] = nil }
                }
            } catch {
                logger.warning(
                    "alerting: shared state not stored in NATS; retried at the next change",
                    metadata: ["document": "\(document)", "stream": "\(stream)", "error": "\(error)"])
                state.withLock { $0.draining = false }
                return
            }
        }
    }

    /// Puts what is queued and waits until that drain ends (all put, or a put failed), at most `timeout`.
    func flush(timeout: Duration) async {
        retry()
        let deadline = ContinuousClock.now + timeout
        while state.withLock({ $0.draining }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    // MARK: Connection and leadership

    /// Uses `bucket` (created) from now on and puts what is queued.
    func attach(_ bucket: JetStreamKeyValue) {
        state.withLock { $0.bucket = bucket }
        retry()
    }

    /// The connection is gone: puts wait for the next one.
    func detach() {
        state.withLock { $0.bucket = nil }
    }

    /// Mirrors every document from now on, then reads every shared document and replaces this server's state with
    /// them: the rule alerts and notifier alerts of each tenant; the notification log and silences are merged (what
    /// differs from the shared copy is put back). A tenant whose document does not decode keeps its own state (logged).
    /// Tries three times when NATS fails, then goes on with the local state.
    func takeOver(rules: RuleManager, notifier: Notifier) async {
        state.withLock { $0.leading = true }
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            do {
                try await load(rules: rules, notifier: notifier)
                break
            } catch {
                guard attempt < 3 else {
                    logger.error(
                        "alerting: the shared state cannot be read; evaluating with this server's own state (a firing alert may be notified again)",
                        metadata: ["stream": "\(stream)", "error": "\(error)"])
                    break
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func load(rules: RuleManager, notifier: Notifier) async throws {
        guard let bucket = state.withLock({ $0.bucket }) else {
            throw SightlineError(.unavailable, "no connection to NATS for the shared alerting state (stream \(stream))")
        }
        var documents: [Tenant: [AlertingStateDocument.Kind: [UInt8]]] = [:]
        for (key, entry) in try await bucket.all() {
            guard let document = AlertingStateDocument(name: key) else { continue }
            documents[document.tenant, default: [:]][document.kind] = entry.value
        }
        for tenant in documents.keys.sorted() {
            guard let parts = documents[tenant] else { continue }
            do {
                if let ruleAlerts = parts[.ruleAlerts] { try await rules.replaceState(tenant: tenant, document: ruleAlerts) }
                if parts[.notifierAlerts] != nil || parts[.silences] != nil || parts[.notificationLog] != nil {
                    try await notifier.replaceState(
                        tenant: tenant, alerts: parts[.notifierAlerts], silences: parts[.silences], log: parts[.notificationLog])
                }
            } catch {
                logger.error("alerting: shared state of a tenant not taken over", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
            }
        }
        logger.info("alerting: took the shared state over", metadata: ["tenants": "\(documents.count)", "stream": "\(stream)"])
    }

    /// This server no longer leads: puts what it queued (its last notification log) within `timeout`, then mirrors only
    /// silences.
    func handOver(timeout: Duration) async {
        await flush(timeout: timeout)
        state.withLock { state in
            state.leading = false
            state.dirty = state.dirty.filter { $0.key.kind == .silences }
        }
    }

    // MARK: Silences

    /// Merges the silences saved now and, until the connection ends or the task is cancelled, every silences document
    /// any server puts, into `notifier`.
    func followSilences(connection: NATSConnection, bucket: JetStreamKeyValue, notifier: Notifier) async {
        let subscription: NATSSubscription
        do {
            subscription = try await connection.subscribe(bucket.subject(for: AlertingStateDocument.Kind.silences.rawValue + ".>"))
            try await connection.flush()
        } catch {
            logger.warning("alerting: cannot follow shared silences", metadata: ["error": "\(error)"])
            return
        }
        do {
            for key in try await bucket.keys() {
                guard let document = AlertingStateDocument(name: key), document.kind == .silences, let entry = try await bucket.get(key) else { continue }
                await merge(entry.value, document: document, notifier: notifier)
            }
        } catch {
            logger.warning("alerting: shared silences not read; following new changes only", metadata: ["error": "\(error)"])
        }
        do {
            for try await message in subscription {
                guard let key = bucket.key(ofSubject: message.subject), let document = AlertingStateDocument(name: key), document.kind == .silences
                else { continue }
                await merge(message.bytes, document: document, notifier: notifier)
            }
        } catch {
            // The connection failed: the leadership loop makes a new one.
        }
    }

    private func merge(_ bytes: [UInt8], document: AlertingStateDocument, notifier: Notifier) async {
        do {
            try await notifier.mergeSilences(bytes, tenant: document.tenant)
        } catch {
            logger.warning("alerting: shared silences ignored", metadata: ["document": "\(document)", "error": "\(error)"])
        }
    }
}
