public import AsyncHTTPClient
import Foundation
public import Logging
public import Metrics
import NIOCore
import NIOHTTP1
public import ServiceLifecycle

/// Sends committed outbox rows to Sightline and marks them sent: run it in the app's `ServiceGroup`.
///
/// Each round takes the oldest unsent rows (at most `batchSize`), groups them by tenant keeping each tenant's
/// commit order, posts each tenant's group as one `POST /api/v1/audit/events` with that tenant's token
/// (tenants in parallel), and marks a group's rows sent only after the server answered 200 — which it does only
/// once the events are durable. A crash anywhere leaves rows unsent at worst; they are sent again with the same
/// ids and the server drops the copies, so every committed event is stored exactly once.
///
/// Failures never drop rows. A tenant whose request fails (connection error, timeout, 408, 429, 5xx) or is refused
/// (other 4xx, logged as an error since it needs a person: wrong token, event the server rejects) is backed off
/// (`initialBackoff` doubling up to `maxBackoff`) and left out of fetches meanwhile, so it does not hold up other
/// tenants and the relay does not spin. On 413 the tenant's batch is halved until it fits.
///
/// Metrics (swift-metrics): `auditkit_relay_lag_seconds` (gauge: age of the oldest unsent row, 0 when none),
/// `auditkit_relay_sent_events_total` and `auditkit_relay_failed_attempts_total` (counters).
///
/// Graceful shutdown: the round in flight finishes (its rows are marked), then `run()` returns. Cancellation
/// stops at once; rows whose marking did not happen are simply sent again next time.
public final class AuditRelay: Service, Sendable {
    /// The settings this relay runs with.
    public let configuration: AuditRelayConfiguration
    private let outbox: any AuditOutboxStore
    private let httpClient: HTTPClient
    private let endpoint: String
    private let logger: Logger
    private let lagGauge: Gauge
    private let sentCounter: Counter
    private let failedCounter: Counter

    /// Makes a relay over an outbox. Throws when the configuration cannot work (URL not http(s), batch size < 1).
    /// `httpClient` defaults to AsyncHTTPClient's shared client, which needs no shutdown; `metricsFactory` to the
    /// one `MetricsSystem` was bootstrapped with.
    public init(
        outbox: any AuditOutboxStore,
        configuration: AuditRelayConfiguration,
        httpClient: HTTPClient = .shared,
        logger: Logger = Logger(label: "auditkit.relay"),
        metricsFactory: (any MetricsFactory)? = nil
    ) throws {
        var base = configuration.serverURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil
        else {
            throw AuditKitError(.invalidConfiguration, "audit relay server URL '\(configuration.serverURL)' is not an http(s) URL with a host")
        }
        guard configuration.batchSize >= 1 else {
            throw AuditKitError(.invalidConfiguration, "audit relay batch size must be at least 1, got \(configuration.batchSize)")
        }
        guard configuration.pollInterval > .zero, configuration.initialBackoff > .zero, configuration.maxBackoff >= configuration.initialBackoff
        else {
            throw AuditKitError(.invalidConfiguration, "audit relay intervals must be positive and maxBackoff at least initialBackoff")
        }
        self.configuration = configuration
        self.outbox = outbox
        self.httpClient = httpClient
        self.endpoint = base + "/api/v1/audit/events"
        self.logger = logger
        let factory = metricsFactory ?? MetricsSystem.factory
        let dimensions = configuration.metricDimensions
        self.lagGauge = Gauge(label: "auditkit_relay_lag_seconds", dimensions: dimensions, factory: factory)
        self.sentCounter = Counter(label: "auditkit_relay_sent_events_total", dimensions: dimensions, factory: factory)
        self.failedCounter = Counter(label: "auditkit_relay_failed_attempts_total", dimensions: dimensions, factory: factory)
    }

    /// Runs rounds until graceful shutdown or cancellation. Throws only what `afterSend` throws.
    public func run() async throws {
        var state = RelayState()
        var nextPrune = ContinuousClock.now
        var nextLagUpdate = ContinuousClock.now
        logger.info("audit relay started", metadata: ["endpoint": "\(endpoint)", "batch_size": "\(configuration.batchSize)"])
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var wait = configuration.pollInterval
            do {
                let round = try await self.round(&state)
                state.outboxFailures = 0
                if round.fetched >= configuration.batchSize && round.sent > 0 { wait = .zero }
            } catch let failure as AfterSendFailure {
                logger.notice("audit relay stopped by its afterSend hook", metadata: ["error": "\(failure.underlying)"])
                throw failure.underlying
            } catch {
                if Task.isCancelled { break }
                state.outboxFailures += 1
                failedCounter.increment()
                wait = backoff(failures: state.outboxFailures)
                logger.error("audit relay cannot read or mark the outbox", metadata: ["error": "\(error)", "retry_in": "\(wait)"])
            }
            let now = ContinuousClock.now
            if let expiry = state.earliestBackoffExpiry(after: now) {
                wait = min(wait, expiry - now)
            }
            // Between full rounds the lag is read at most once a second: it is one more query per round otherwise.
            if wait > .zero || ContinuousClock.now >= nextLagUpdate {
                nextLagUpdate = ContinuousClock.now + .seconds(1)
                await updateLag()
            }
            if let retention = configuration.sentRetention, ContinuousClock.now >= nextPrune {
                nextPrune = ContinuousClock.now + configuration.pruneInterval
                do {
                    let pruned = try await outbox.pruneSent(before: Date().addingTimeInterval(-retention.seconds))
                    if pruned > 0 { logger.debug("audit relay pruned sent rows", metadata: ["rows": "\(pruned)"]) }
                } catch {
                    logger.warning("audit relay cannot prune sent rows", metadata: ["error": "\(error)"])
                }
            }
            if wait > .zero {
                let pause = wait
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
                } catch {
                    break
                }
            }
        }
        logger.info("audit relay stopped")
    }

    /// Runs one round now, outside `run()`: fetch up to `batchSize` unsent rows, deliver them, mark the delivered.
    /// For tests, benchmarks and apps that drive delivery themselves. Does not back off; throws outbox errors
    /// and what `afterSend` throws.
    @discardableResult
    public func deliverPending() async throws -> AuditRelayRound {
        var state = RelayState()
        do {
            let round = try await self.round(&state)
            await updateLag()
            return round
        } catch let failure as AfterSendFailure {
            throw failure.underlying
        }
    }

    /// One round: fetch, group per tenant, post in parallel, mark the delivered rows.
    private func round(_ state: inout RelayState) async throws -> AuditRelayRound {
        let now = ContinuousClock.now
        let excluded = state.tenantsBackingOff(at: now)
        let rows = try await outbox.fetchUnsent(limit: configuration.batchSize, excludingTenants: excluded)
        if rows.isEmpty { return AuditRelayRound(fetched: 0, sent: 0, failedTenants: [], duplicates: 0) }

        var order: [String] = []
        var groups: [String: [AuditOutboxRow]] = [:]
        for row in rows {
            if groups[row.tenant] == nil { order.append(row.tenant) }
            groups[row.tenant, default: []].append(row)
        }
        var batches: [(String, [AuditOutboxRow])] = []
        for tenant in order {
            var group = groups[tenant] ?? []
            group.sort { $0.sequence < $1.sequence }
            if let limit = state.tenantLimits[tenant], group.count > limit { group.removeLast(group.count - limit) }
            batches.append((tenant, group))
        }

        let outcomes = try await withThrowingTaskGroup(of: (String, [AuditOutboxRow], SendOutcome).self) { group in
            for (tenant, batch) in batches {
                group.addTask { (tenant, batch, try await self.send(tenant: tenant, rows: batch)) }
            }
            var collected: [(String, [AuditOutboxRow], SendOutcome)] = []
            for try await outcome in group { collected.append(outcome) }
            return collected
        }

        var delivered: [AuditOutboxRow] = []
        var failedTenants: [String] = []
        var duplicates = 0
        for (tenant, batch, outcome) in outcomes {
            switch outcome {
            case .delivered(let delivery):
                delivered.append(contentsOf: batch)
                duplicates += delivery.duplicates
                state.succeeded(tenant: tenant, batchCount: batch.count, batchSize: configuration.batchSize)
            case .failed(let tooLarge):
                failedTenants.append(tenant)
                failedCounter.increment()
                let failures = state.failed(tenant: tenant, at: now, backoff: { backoff(failures: $0) })
                if tooLarge { state.tenantLimits[tenant] = max(1, batch.count / 2) }
                logger.debug("audit relay backs off tenant", metadata: ["tenant": "\(tenant)", "failures": "\(failures)"])
            }
        }
        if !delivered.isEmpty {
            try await outbox.markSent(delivered, at: Date())
            sentCounter.increment(by: delivered.count)
        }
        return AuditRelayRound(fetched: rows.count, sent: delivered.count, failedTenants: failedTenants.sorted(), duplicates: duplicates)
    }

    /// Posts one tenant's rows as one request; classifies the answer. Throws only `AfterSendFailure`.
    private func send(tenant: String, rows: [AuditOutboxRow]) async throws -> SendOutcome {
        var size = 14 + rows.count
        for row in rows { size += row.payload.utf8.count }
        var body = ByteBuffer()
        body.reserveCapacity(size)
        body.writeStaticString("{\"events\":[")
        for (index, row) in rows.enumerated() {
            if index > 0 { body.writeStaticString(",") }
            body.writeString(row.payload)
        }
        body.writeStaticString("]}")

        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token = configuration.token(forTenant: tenant) {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        request.body = .bytes(body)

        let status: UInt
        let answer: ByteBuffer
        do {
            let response = try await httpClient.execute(request, timeout: .nanoseconds(configuration.requestTimeout.nanoseconds))
            status = response.status.code
            answer = try await response.body.collect(upTo: 1 << 20)
        } catch {
            logger.warning(
                "audit relay cannot reach the server; will retry",
                metadata: ["tenant": "\(tenant)", "events": "\(rows.count)", "error": "\(error)"]
            )
            return .failed(tooLarge: false)
        }
        let answerText = String(buffer: answer)
        switch status {
        case 200..<300:
            let counts = try? JSONDecoder().decode(IngestAnswer.self, from: Data(answerText.utf8))
            let delivery = AuditRelayDelivery(
                tenant: tenant,
                eventIDs: rows.map(\.eventID),
                accepted: counts?.accepted ?? rows.count,
                duplicates: counts?.duplicates ?? 0
            )
            if let hook = configuration.afterSend {
                do {
                    try await hook(delivery)
                } catch {
                    throw AfterSendFailure(underlying: error)
                }
            }
            return .delivered(delivery)
        case 408, 429, 500..<600:
            logger.warning(
                "audit relay delivery failed; will retry",
                metadata: ["tenant": "\(tenant)", "events": "\(rows.count)", "status": "\(status)", "answer": "\(answerText.prefix(500))"]
            )
            return .failed(tooLarge: false)
        default:
            logger.error(
                "audit server refused a batch; rows are kept and retried with backoff",
                metadata: ["tenant": "\(tenant)", "events": "\(rows.count)", "status": "\(status)", "answer": "\(answerText.prefix(500))"]
            )
            return .failed(tooLarge: status == 413)
        }
    }

    /// Sets the lag gauge from the oldest unsent row.
    private func updateLag() async {
        do {
            if let oldest = try await outbox.oldestUnsentRecordedAt() {
                lagGauge.record(max(0, Date().timeIntervalSince(oldest)))
            } else {
                lagGauge.record(0)
            }
        } catch {
            logger.debug("audit relay cannot read its lag", metadata: ["error": "\(error)"])
        }
    }

    /// `initialBackoff * 2^(failures-1)`, at most `maxBackoff`.
    private func backoff(failures: Int) -> Duration {
        let doublings = min(max(failures - 1, 0), 30)
        let wait = configuration.initialBackoff * (1 << doublings)
        return min(wait, configuration.maxBackoff)
    }
}

/// The server's 200 answer.
private struct IngestAnswer: Decodable {
    var accepted: Int
    var duplicates: Int
}

/// How one tenant's request ended.
private enum SendOutcome: Sendable {
    case delivered(AuditRelayDelivery)
    case failed(tooLarge: Bool)
}

/// Carries an error thrown by `afterSend` out of the round, so it ends `run()` instead of counting as a failure.
private struct AfterSendFailure: Error {
    var underlying: any Error
}

/// Backoff and batch limits per tenant, kept across rounds of one `run()`.
private struct RelayState {
    var outboxFailures = 0
    var failures: [String: Int] = [:]
    var retryAt: [String: ContinuousClock.Instant] = [:]
    var tenantLimits: [String: Int] = [:]

    /// Tenants still waiting out a backoff.
    func tenantsBackingOff(at now: ContinuousClock.Instant) -> Set<String> {
        Set(retryAt.filter { $0.value > now }.keys)
    }

    /// The soonest moment a backed-off tenant may be tried again.
    func earliestBackoffExpiry(after now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        retryAt.values.filter { $0 > now }.min()
    }

    /// Records a failure; returns the tenant's consecutive failure count.
    mutating func failed(tenant: String, at now: ContinuousClock.Instant, backoff: (Int) -> Duration) -> Int {
        let count = (failures[tenant] ?? 0) + 1
        failures[tenant] = count
        retryAt[tenant] = now + backoff(count)
        return count
    }

    /// Clears a tenant's backoff; lets a halved batch limit grow back.
    mutating func succeeded(tenant: String, batchCount: Int, batchSize: Int) {
        failures[tenant] = nil
        retryAt[tenant] = nil
        if let limit = tenantLimits[tenant] {
            let grown = limit * 2
            tenantLimits[tenant] = grown >= batchSize ? nil : grown
        }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let parts = components
        let (whole, overflow) = parts.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return Int64.max }
        return whole &+ parts.attoseconds / 1_000_000_000
    }
}
