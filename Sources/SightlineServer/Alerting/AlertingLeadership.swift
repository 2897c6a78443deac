import Foundation
import Logging
import SightlineAlerting
import SightlineNATS
import Synchronization

/// Runs the rule evaluator in exactly one of several servers: the holder of a ``JetStreamLease`` in NATS.
///
/// The evaluation runs in a task of its own from the moment the lease is won and is cancelled when it is lost
/// (renewals refused or failing until the hold ends, NATS gone) or at shutdown, when the lease is released so another
/// server takes over at once; a server that dies just stops renewing, and another takes over after the lease's ttl.
/// A connection that fails is replaced (backoff up to 5 s). The holder name is unique per process.
///
/// With ``SharedAlertingState``, the holder also is the only server whose notifier sends: on winning the lease it
/// takes the shared state over before evaluating and then starts sending; on losing it, it stops evaluating and
/// sending and puts its last state documents before the lease is released. Every server follows the shared silences.
struct AlertingLeadership: Sendable {
    let natsURL: String
    let name: String
    let ttl: Duration
    let holder: String

    init(_ settings: ServerConfiguration.Alerting.LeaderElection) {
        natsURL = settings.natsURL
        name = settings.name
        ttl = settings.ttl
        holder = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Runs `work` while this server holds the lease; returns when cancelled. With `shared`, the notifier sends only
    /// while the lease is held, after the shared state was taken over.
    func run(logger: Logger, shared: SharedAlertingState? = nil, rules: RuleManager, notifier: Notifier, work: @escaping @Sendable () async -> Void) async {
        var backoff = Duration.milliseconds(250)
        while !Task.isCancelled {
            let connection: NATSConnection
            do {
                connection = try await NATSConnection.connect(to: natsURL)
            } catch {
                logger.warning("alerting: cannot reach NATS for the leader lease; retrying", metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
                continue
            }
            backoff = .milliseconds(250)
            let lease: JetStreamLease
            do {
                lease = try JetStreamLease(jetStream: JetStream(connection: connection), name: name, holder: holder, ttl: ttl)
            } catch {
                logger.error("alerting: the leader lease cannot be used; rules are not evaluated here", metadata: ["error": "\(error)"])
                await connection.close()
                return
            }
            var bucket: JetStreamKeyValue?
            if let shared {
                do {
                    let created = try JetStreamKeyValue(jetStream: JetStream(connection: connection), stream: shared.stream, subjectPrefix: shared.subjectPrefix)
                    try await created.create()
                    shared.attach(created)
                    bucket = created
                } catch {
                    logger.error(
                        "alerting: the shared state stream cannot be used; a new leader may notify firing alerts again",
                        metadata: ["stream": "\(shared.stream)", "error": "\(error)"])
                }
            }
            let evaluation = EvaluationSlot()
            let holder = self.holder
            let handOverTimeout = min(ttl / 3, .seconds(2))
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await lease.run(
                        onAcquire: {
                            logger.info("alerting: this server holds the lease and evaluates the rules", metadata: ["holder": "\(holder)"])
                            evaluation.start {
                                if let shared {
                                    await shared.takeOver(rules: rules, notifier: notifier)
                                    // Evaluate once before sending, so firing alerts reach the notifier again before
                                    // their shared copies' endsAt (set by the old leader) can pass and read as resolved.
                                    let now = Int64(Date().timeIntervalSince1970 * 1000)
                                    for tenant in await rules.tenantsWithRules {
                                        guard !Task.isCancelled else { return }
                                        await rules.evaluate(tenant: tenant, atMs: now)
                                    }
                                    guard !Task.isCancelled else { return }
                                    await notifier.setSending(true)
                                }
                                await work()
                            }
                        },
                        onLose: {
                            logger.info("alerting: lease lost or released; this server stops evaluating", metadata: ["holder": "\(holder)"])
                            await evaluation.stop()
                            if let shared {
                                // A task of its own: at shutdown this one is cancelled, and its sleeps would not wait.
                                await Task {
                                    await notifier.stopSending()
                                    await shared.handOver(timeout: handOverTimeout)
                                }.value
                            }
                        },
                        onError: { error in logger.warning("alerting: leader lease request failed", metadata: ["error": "\(error)"]) })
                }
                // A connection that died ends the lease loop too, so a new one is made.
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: ttl / 3)
                        do { try await connection.flush() } catch { return }
                        shared?.retry()
                    }
                }
                if let shared, let bucket {
                    group.addTask {
                        await shared.followSilences(connection: connection, bucket: bucket, notifier: notifier)
                        // Ended by a failed connection: wait for the keep-alive to notice rather than end the lease loop.
                        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                    }
                }
                await group.next()
                group.cancelAll()
            }
            shared?.detach()
            await connection.close()
        }
    }
}

/// The evaluation task while the lease is held.
private final class EvaluationSlot: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    func start(_ work: @escaping @Sendable () async -> Void) {
        task.withLock { $0 = Task { await work() } }
    }

    /// Cancels the evaluation and waits until it has ended, so no evaluation overlaps the next holder's.
    func stop() async {
        let running = task.withLock { current in
            defer { current = nil }
            return current
        }
        running?.cancel()
        await running?.value
    }
}
