import Foundation
package import Logging
package import NIOSSL
package import SightlineCore
import SightlineStorageCore

/// Where the notifier reads the time: the system clock in the server, a manual one in tests.
package protocol NotifyClock: Sendable {
    /// Milliseconds since the epoch.
    func nowMs() -> Int64
}

/// The system's wall clock.
package struct SystemNotifyClock: NotifyClock {
    package init() {}
    package func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

/// How notifications leave the process; the server uses ``NIONotificationTransport``, tests a fake.
package protocol NotificationTransport: Sendable {
    /// POSTs a request and returns the HTTP status and the start of the body.
    func post(_ request: OutboundPost, timeoutMs: Int64) async throws -> NotifyHTTPClient.Response
    /// Sends an email through `config.smarthost`.
    func sendMail(_ message: EmailMessage, config: EmailConfig, timeoutMs: Int64) async throws
}

/// The real transport: ``NotifyHTTPClient`` and ``SMTPClient``.
package struct NIONotificationTransport: NotificationTransport {
    private let http: NotifyHTTPClient
    private let smtp: SMTPClient

    /// Creates the transport; `tlsConfiguration` (default: the system's trust store) is used for https and SMTP TLS.
    package init(tlsConfiguration: TLSConfiguration = .makeClientConfiguration()) {
        http = NotifyHTTPClient(tlsConfiguration: tlsConfiguration)
        smtp = SMTPClient(tlsConfiguration: tlsConfiguration)
    }
    package func post(_ request: OutboundPost, timeoutMs: Int64) async throws -> NotifyHTTPClient.Response {
        try await http.post(
            url: request.url, headers: request.headers, body: request.body, timeoutMs: timeoutMs, tls: request.tls,
            method: request.method)
    }
    package func sendMail(_ message: EmailMessage, config: EmailConfig, timeoutMs: Int64) async throws {
        try await smtp.send(message, config: config, timeoutMs: timeoutMs)
    }
}

/// Sightline's Alertmanager: receives alerts (as the rule evaluator's ``AlertSink`` and through the v2 API), keeps
/// them per tenant, routes and groups them, mutes them (inhibition, silences, time intervals) and notifies receivers
/// with Alertmanager's timing (group_wait, group_interval, repeat_interval) and retries.
///
/// State survives restarts: per tenant, the alerts, the silences and the notification log are written atomically to
/// `<data dir>/<tenant>/`. A notification that had not succeeded before a stop is sent after the start (its group is
/// flushed again); one that had is not sent again, because the log says what each receiver already knows.
///
/// With several servers (leader election), every saved document also goes to an ``AlertingStateMirror``, only the
/// leader's notifier sends (``setSending(_:)``, ``stopSending()``), a new leader takes the shared state over
/// (``replaceState(tenant:alerts:silences:log:)``) and silences changed through any server are merged
/// (``mergeSilences(_:tenant:)``).
///
/// ```swift
/// let notifier = try Notifier(configPath: "alertmanager.yml", dataDirectory: "data/alertmanager", externalURL: "http://sightline:7600")
/// // in the service group:
/// try await notifier.run()
/// ```
package actor Notifier: AlertSink {
    package private(set) var config: NotifyConfig
    private let dataDirectory: String
    private let clock: any NotifyClock
    private let transport: any NotificationTransport
    private let logger: Logger
    package let externalURL: String
    private var tenants: [Tenant: TenantDispatcher] = [:]
    private var pending: [String: Delivery] = [:]
    private var random: UInt64
    private var messageCounter = 0
    /// Whether a ``tick()`` is under way.
    private var ticking = false
    /// The ``run()`` loop's pause, while it waits; resumed early when alerts arrive.
    private var pause: CheckedContinuation<Void, Never>?
    /// Alerts arrived while no pause was waiting: the next pause returns at once.
    private var wakeRequested = false
    /// Whether due groups are flushed and notifications sent; false in a server that does not hold the alerting lease.
    package private(set) var isSending: Bool
    /// Gets every saved document too (shared state with leader election); nil keeps state in local files only.
    private let mirror: (any AlertingStateMirror)?
    /// When the notifier started, for `GET /api/v2/status`.
    package let startedAtMs: Int64
    /// Each send's deadline.
    package var sendTimeoutMs: Int64 = 10_000
    /// The first retry's delay; each further one doubles, up to ``maxBackoffMs``; ±20 % jitter.
    package var initialBackoffMs: Int64 = 1000
    package var maxBackoffMs: Int64 = 60_000

    /// Creates a notifier from a config file.
    /// - Throws: `configuration` for a bad config file; `io`/`dataCorrupted` when the saved state cannot be read.
    package init(
        configPath: String, dataDirectory: String, externalURL: String = "", clock: any NotifyClock = SystemNotifyClock(),
        transport: any NotificationTransport = NIONotificationTransport(), logger: Logger = Logger(label: "sightline.notifier"),
        mirror: (any AlertingStateMirror)? = nil, sending: Bool = true
    ) throws {
        try self.init(
            config: NotifyConfigFile.load(path: configPath), dataDirectory: dataDirectory, externalURL: externalURL, clock: clock,
            transport: transport, logger: logger, mirror: mirror, sending: sending)
    }

    /// Creates a notifier from a parsed config and restores the state saved in `dataDirectory`.
    /// - Parameters:
    ///   - mirror: Gets every document saved (see ``AlertingStateMirror``).
    ///   - sending: Whether it flushes and sends from the start; false until ``setSending(_:)`` in a follower.
    /// - Throws: `io` when the directory cannot be made; `dataCorrupted` when a saved file does not decode.
    package init(
        config: NotifyConfig, dataDirectory: String, externalURL: String = "", clock: any NotifyClock = SystemNotifyClock(),
        transport: any NotificationTransport = NIONotificationTransport(), logger: Logger = Logger(label: "sightline.notifier"),
        seed: UInt64 = 0x5EED, mirror: (any AlertingStateMirror)? = nil, sending: Bool = true
    ) throws {
        self.mirror = mirror
        self.isSending = sending
        self.config = config
        self.dataDirectory = dataDirectory
        self.clock = clock
        self.transport = transport
        self.logger = logger
        self.externalURL = externalURL
        self.random = seed
        let now = clock.nowMs()
        startedAtMs = now
        try POSIXFile.createDirectory(dataDirectory)
        for name in try POSIXFile.listDirectory(dataDirectory).sorted() where Tenant.isValid(name) {
            let tenant = Tenant(uncheckedID: name)
            tenants[tenant] = try NotifyState.load(tenant: tenant, directory: dataDirectory + "/" + name, config: config, nowMs: now)
        }
    }

    // MARK: Alerts in

    /// Receives the current alerts of a tenant (``AlertSink``).
    package func send(_ alerts: [Alert], tenant: Tenant) async {
        receive(alerts, tenant: tenant)
    }

    /// Receives alerts; what ``send(_:tenant:)`` and `POST /api/v2/alerts` do.
    package func receive(_ alerts: [Alert], tenant: Tenant) {
        guard !alerts.isEmpty else { return }
        let now = clock.nowMs()
        var dispatcher = tenants[tenant] ?? TenantDispatcher(tenant: tenant)
        dispatcher.receive(alerts, config: config, nowMs: now)
        tenants[tenant] = dispatcher
        save(tenant, alerts: true)
        // A new group with group_wait 0 is due now: flush it without waiting for the next periodic wake-up.
        wake()
    }

    // MARK: Running

    /// Runs until cancelled: flushes groups when due and sends and retries notifications. It wakes at the next
    /// deadline, when alerts arrive, and at least every 250 ms (only that while it does not send).
    package func run() async {
        while !Task.isCancelled {
            await tick()
            let now = clock.nowMs()
            // A notifier that does not send must not wake for groups it will not flush.
            let next = isSending ? min(nextWakeMs() ?? now + 250, now + 250) : now + 250
            await sleep(milliseconds: max(5, next - now))
        }
    }

    /// Waits `milliseconds`, or less when ``wake()`` is called meanwhile (or was called since the last pause), or
    /// until the task is cancelled.
    private func sleep(milliseconds: Int64) async {
        if wakeRequested {
            wakeRequested = false
            return
        }
        let timer = Task { [weak self] in
            do {
                try await Task.sleep(for: .milliseconds(milliseconds))
            } catch {
                return  // cancelled: the pause already ended
            }
            await self?.wake()
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in pause = continuation }
        } onCancel: {
            Task { [weak self] in await self?.wake() }
        }
        timer.cancel()
        wakeRequested = false
    }

    /// Ends the current pause of ``run()``, or the next one before it starts.
    private func wake() {
        if let pause {
            self.pause = nil
            pause.resume()
        } else {
            wakeRequested = true
        }
    }

    /// When something is next due: a group flush or a retry.
    package func nextWakeMs() -> Int64? {
        let flushes = tenants.values.compactMap(\.nextFlushMs)
        let retries = pending.values.map(\.nextAttemptMs)
        return (flushes + retries).min()
    }

    /// One step: flushes due groups, then sends every delivery that is due (concurrently) and records the results.
    /// Tests call this after moving their clock.
    package func tick() async {
        // The actor lets other calls in while sends are awaited; a second step then would send the same deliveries.
        guard !ticking, isSending else { return }
        ticking = true
        defer { ticking = false }
        let now = clock.nowMs()
        for tenant in tenants.keys.sorted() {
            guard var dispatcher = tenants[tenant] else { continue }
            let garbage = dispatcher.collectGarbage(nowMs: now)
            for delivery in dispatcher.flushDue(config: config, nowMs: now) {
                let key = tenant.id + "\u{1}" + delivery.logKey
                if let replaced = pending[key] { dispatcher.abandoned(replaced) }
                pending[key] = delivery
            }
            tenants[tenant] = dispatcher
            save(tenant, alerts: garbage.alerts, silences: garbage.silences, log: garbage.log)
        }
        let due = pending.filter { $0.value.nextAttemptMs <= now }.sorted { $0.key < $1.key }
        guard !due.isEmpty else { return }
        let externalURL = self.externalURL
        let templates = config.templates
        let transport = self.transport
        let timeout = sendTimeoutMs
        var prepared: [(String, Delivery, NotifyAttempt)] = []
        for (key, delivery) in due {
            messageCounter += 1
            prepared.append(
                (key, delivery, NotifyAttempt.prepare(delivery, externalURL: externalURL, templates: templates, messageID: "\(now).\(messageCounter)@sightline")))
        }
        let results = await withTaskGroup(of: (String, Int, NotifyOutcome).self) { group in
            for (key, delivery, attempt) in prepared {
                group.addTask { (key, delivery.flushID, await attempt.perform(transport: transport, timeoutMs: timeout)) }
            }
            var results: [(String, Int, NotifyOutcome)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }
        }
        let after = clock.nowMs()
        var changedLogs: Set<Tenant> = []
        for (key, flushID, outcome) in results {
            // A newer flush may have replaced the delivery while it was being sent.
            guard var delivery = pending[key], delivery.flushID == flushID, var dispatcher = tenants[delivery.tenant] else { continue }
            switch outcome {
            case .delivered:
                pending[key] = nil
                dispatcher.delivered(delivery, nowMs: after)
                changedLogs.insert(delivery.tenant)
            case .retry(let reason):
                delivery.attempts += 1
                let backoff = backoffMs(attempts: delivery.attempts)
                if after + backoff >= delivery.deadlineMs {
                    pending[key] = nil
                    dispatcher.abandoned(delivery)
                    logger.warning("notify \(delivery.receiver)/\(delivery.integration.name)[\(delivery.integration.index)] failed \(delivery.attempts) times, giving up until the group's next flush: \(reason)")
                } else {
                    delivery.nextAttemptMs = after + backoff
                    pending[key] = delivery
                    logger.info("notify \(delivery.receiver)/\(delivery.integration.name)[\(delivery.integration.index)] failed, retrying in \(backoff) ms: \(reason)")
                }
            case .failed(let reason):
                pending[key] = nil
                dispatcher.abandoned(delivery)
                logger.error("notify \(delivery.receiver)/\(delivery.integration.name)[\(delivery.integration.index)] failed without retry: \(reason)")
            }
            tenants[delivery.tenant] = dispatcher
        }
        for tenant in changedLogs.sorted() { save(tenant, log: true) }
    }

    /// Exponential backoff with ±20 % jitter from the seeded generator.
    private func backoffMs(attempts: Int) -> Int64 {
        let base = min(maxBackoffMs, initialBackoffMs << Int64(min(attempts - 1, 20)))
        random &+= 0x9E37_79B9_7F4A_7C15
        var z = random
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let jitter = Double(z >> 11) / Double(1 << 53) * 0.4 - 0.2
        return max(1, base + Int64(Double(base) * jitter))
    }

    /// Replaces the configuration (a reload); groups are rebuilt from the stored alerts, the log and silences stay.
    package func reload(_ newConfig: NotifyConfig) {
        config = newConfig
        let now = clock.nowMs()
        for (tenant, old) in tenants {
            var fresh = TenantDispatcher(tenant: tenant)
            fresh.silences = old.silences
            fresh.log = old.log
            fresh.restore(Array(old.alerts.values), config: newConfig, nowMs: now)
            tenants[tenant] = fresh
        }
        pending = [:]
    }

    /// Reads `configPath` again and applies it (SIGHUP or `POST /-/reload`).
    /// - Throws: `configuration` naming the file, key and line; the old configuration then stays.
    package func reload(configPath: String) throws {
        reload(try NotifyConfigFile.load(path: configPath))
    }

    // MARK: Leadership

    /// Starts or stops flushing and sending. Stopping drops the deliveries waiting for a retry (the groups stay, so a
    /// later start flushes them again, and the log keeps what was already sent from going out twice).
    package func setSending(_ sending: Bool) {
        isSending = sending
        if !sending { pending = [:] }
        if sending { wake() }
    }

    /// Stops sending and waits until a step under way has recorded its results, so its notification log is saved
    /// (and mirrored) before another server takes over.
    package func stopSending() async {
        setSending(false)
        while ticking {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Replaces a tenant's alerts with the shared document and merges the shared notification log (per key the later
    /// entry wins) and silences into its own: what a server does when it takes the lead, so that it knows what the
    /// previous leader already sent — and, after a connection loss, keeps what it sent itself that never reached the
    /// stream. A nil document leaves that part as it is. Groups are rebuilt from the alerts; deliveries waiting for a
    /// retry are dropped (the log decides anew at the groups' next flush). The result is written to the local files,
    /// and a log or silences that differ from the shared ones are mirrored.
    /// - Throws: `dataCorrupted` naming the document that does not decode; nothing changes then.
    package func replaceState(tenant: Tenant, alerts: [UInt8]?, silences: [UInt8]?, log: [UInt8]?) throws {
        let now = clock.nowMs()
        let old = tenants[tenant] ?? TenantDispatcher(tenant: tenant)
        let source = "shared document of tenant \(tenant.id)"
        let sharedAlerts = try alerts.map { try NotifyState.decodeAlerts($0, source: source + " (alerts)") }
        let sharedLog = try log.map { try NotifyState.decodeLog($0, source: source + " (nflog)") }
        let sharedSilences = try silences.map { try NotifyState.decodeSilences($0, source: source + " (silences)") }
        var fresh = TenantDispatcher(tenant: tenant)
        fresh.silences = old.silences
        if let sharedSilences { _ = fresh.silences.merge(sharedSilences, nowMs: now) }
        fresh.log = old.log
        if let sharedLog { _ = fresh.log.merge(sharedLog) }
        fresh.restore(sharedAlerts ?? Array(old.alerts.values), config: config, nowMs: now)
        tenants[tenant] = fresh
        let prefix = tenant.id + "\u{1}"
        pending = pending.filter { !$0.key.hasPrefix(prefix) }
        save(tenant, alerts: true, silences: true, log: true, mirrored: false)
        let logDiffers = fresh.log.entries != (sharedLog ?? [:])
        let silencesDiffer = fresh.silences.silences != Dictionary((sharedSilences ?? []).map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        save(tenant, silences: silencesDiffer, log: logDiffers)
        wake()
    }

    /// Merges silences another server saved (a shared silences document) into the tenant's: by id, the newer update
    /// wins (an equal one: the earlier end), silences expired longer than the retention are skipped. When the result
    /// differs from `document`, it is saved and mirrored, so that every server converges on the union.
    /// - Returns: Whether the tenant's silences changed.
    /// - Throws: `dataCorrupted` when the document does not decode; nothing changes then.
    @discardableResult
    package func mergeSilences(_ document: [UInt8], tenant: Tenant) throws -> Bool {
        let incoming = try NotifyState.decodeSilences(document, source: "shared silences of tenant \(tenant.id)")
        var dispatcher = tenants[tenant] ?? TenantDispatcher(tenant: tenant)
        let changed = dispatcher.silences.merge(incoming, nowMs: clock.nowMs())
        let differs = dispatcher.silences.silences != Dictionary(incoming.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        guard changed || differs else { return false }
        tenants[tenant] = dispatcher
        save(tenant, silences: true, mirrored: differs)
        return changed
    }

    // MARK: State for the API

    /// The dispatcher of `tenant` (empty when it has sent nothing).
    package func dispatcher(_ tenant: Tenant) -> TenantDispatcher { tenants[tenant] ?? TenantDispatcher(tenant: tenant) }

    /// The clock's now.
    package func now() -> Int64 { clock.nowMs() }

    /// Creates or updates a silence; returns its id.
    /// - Throws: `invalidArgument` for a bad silence, `notFound` for an unknown id.
    package func setSilence(_ silence: Silence, tenant: Tenant) throws -> String {
        var dispatcher = tenants[tenant] ?? TenantDispatcher(tenant: tenant)
        let id = try dispatcher.silences.set(silence, nowMs: clock.nowMs(), newID: { Self.newUUID() })
        tenants[tenant] = dispatcher
        save(tenant, silences: true)
        return id
    }

    /// Expires a silence.
    /// - Throws: `notFound` for an unknown id, `invalidArgument` when it already expired.
    package func expireSilence(id: String, tenant: Tenant) throws {
        var dispatcher = tenants[tenant] ?? TenantDispatcher(tenant: tenant)
        try dispatcher.silences.expire(id: id, nowMs: clock.nowMs())
        tenants[tenant] = dispatcher
        save(tenant, silences: true)
    }

    /// A random version-4 UUID, the form Alertmanager gives silence ids.
    static func newUUID() -> String { UUID().uuidString.lowercased() }

    // MARK: Persistence

    /// Writes the parts named to the tenant's files and, unless `mirrored` is false, hands them to the mirror.
    private func save(_ tenant: Tenant, alerts: Bool = false, silences: Bool = false, log: Bool = false, mirrored: Bool = true) {
        guard let dispatcher = tenants[tenant], alerts || silences || log else { return }
        let directory = dataDirectory + "/" + tenant.id
        do {
            let written = try NotifyState.save(dispatcher, directory: directory, alerts: alerts, silences: silences, log: log)
            if mirrored, let mirror {
                for (kind, bytes) in written { mirror.saved(AlertingStateDocument(kind, tenant: tenant), bytes: bytes) }
            }
        } catch {
            logger.error("cannot save notifier state of tenant \(tenant.id): \(error)")
        }
    }
}

/// What one delivery attempt came to. An `Error` so that a step of a conversation can end it (``NotifyAttempt/exchange``).
enum NotifyOutcome: Error, Sendable {
    case delivered
    case retry(String)
    case failed(String)
}

/// A delivery rendered into what goes on the wire.
enum NotifyAttempt: Sendable {
    case post(OutboundPost)
    /// Requests sent one after the other; the first that fails decides the outcome.
    case posts([OutboundPost])
    case mail(EmailMessage, EmailConfig)
    /// A conversation with Jira's API.
    case jira(JiraDelivery)
    /// An access token (fetched once in two hours), then the message.
    case weChat(WeChatDelivery)
    case nothing
    case broken(String)

    /// Renders the payload of `delivery`.
    static func prepare(_ delivery: Delivery, externalURL: String, templates: NotifyTemplateLibrary, messageID: String) -> NotifyAttempt {
        if delivery.logOnly { return .nothing }
        let data = NotificationData(delivery, externalURL: externalURL, templates: templates)
        do {
            switch delivery.integration.kind {
            case .webhook(let config): return .post(NotifyPayloads.webhook(data, config: config))
            case .slack(let config): return .post(try NotifyPayloads.slack(data, config: config))
            case .pagerDuty(let config): return .post(try NotifyPayloads.pagerDuty(data, config: config))
            case .email(let config): return .mail(try NotifyEmail.message(data, config: config, nowMs: delivery.flushedAtMs, messageID: messageID), config)
            case .discord(let config): return .post(try NotifyPayloads.discord(data, config: config))
            case .msTeams(let config): return .post(try NotifyPayloads.msTeams(data, config: config))
            case .msTeamsV2(let config): return .post(try NotifyPayloads.msTeamsV2(data, config: config))
            case .telegram(let config): return .post(try NotifyPayloads.telegram(data, config: config))
            case .opsGenie(let config): return .posts(try NotifyPayloads.opsGenie(data, config: config))
            case .victorOps(let config): return .post(try NotifyPayloads.victorOps(data, config: config))
            case .webex(let config): return .post(try NotifyPayloads.webex(data, config: config))
            case .pushover(let config): return .post(try NotifyPayloads.pushover(data, config: config))
            case .rocketChat(let config): return .post(try NotifyPayloads.rocketChat(data, config: config))
            case .sns(let config):
                return .post(try NotifyPayloads.sns(data, config: config, nowMs: Int64(Date().timeIntervalSince1970 * 1000)))
            case .jira(let config): return .jira(try JiraDelivery(data, config: config))
            case .weChat(let config): return .weChat(try WeChatDelivery(data, config: config))
            }
        } catch {
            return .broken("\(error)")
        }
    }

    /// Sends one request; the answer's body when it is delivered (2xx and what ``OutboundPost/answer`` wants), else
    /// the outcome: 429, 5xx and connection failures are retried, other 4xx are not.
    static func exchange(_ request: OutboundPost, transport: any NotificationTransport, timeoutMs: Int64) async -> Result<[UInt8], NotifyOutcome> {
        do {
            let response = try await transport.post(request, timeoutMs: timeoutMs)
            let status = response.status
            if (200..<300).contains(status) {
                guard let problem = request.answer.problem(in: response.body) else { return .success(response.body) }
                return .failure(problem.retry ? .retry(problem.message) : .failed(problem.message))
            }
            let message = "unexpected status code \(status) from \(request.url)"
            return .failure(status == 429 || status >= 500 ? .retry(message) : .failed(message))
        } catch let error as SightlineError where error.code == .invalidArgument || error.code == .configuration {
            return .failure(.failed("\(error)"))
        } catch {
            return .failure(.retry("\(error)"))
        }
    }

    private static func send(_ request: OutboundPost, transport: any NotificationTransport, timeoutMs: Int64) async -> NotifyOutcome {
        switch await exchange(request, transport: transport, timeoutMs: timeoutMs) {
        case .success: .delivered
        case .failure(let outcome): outcome
        }
    }

    /// Sends it: 2xx is delivered; 429, 5xx and connection failures are retried; other 4xx and broken templates are not.
    func perform(transport: any NotificationTransport, timeoutMs: Int64) async -> NotifyOutcome {
        switch self {
        case .nothing: return .delivered
        case .broken(let reason): return .failed(reason)
        case .post(let request):
            return await Self.send(request, transport: transport, timeoutMs: timeoutMs)
        case .posts(let requests):
            for request in requests {
                let outcome = await Self.send(request, transport: transport, timeoutMs: timeoutMs)
                guard case .delivered = outcome else { return outcome }
            }
            return .delivered
        case .jira(let delivery):
            return await delivery.perform(transport: transport, timeoutMs: timeoutMs)
        case .weChat(let delivery):
            return await delivery.perform(transport: transport, timeoutMs: timeoutMs)
        case .mail(let message, let config):
            do {
                try await transport.sendMail(message, config: config, timeoutMs: timeoutMs)
                return .delivered
            } catch let error as SightlineError where error.code == .configuration {
                return .failed("\(error)")
            } catch {
                return .retry("\(error)")
            }
        }
    }
}
