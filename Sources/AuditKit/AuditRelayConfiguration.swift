import Foundation

/// How an `AuditRelay` reaches Sightline and paces itself.
public struct AuditRelayConfiguration: Sendable {
    /// Called after the server answered 200 for one tenant's batch and before those rows are marked sent.
    ///
    /// This is the one moment where a crash leaves events delivered but still unsent in the outbox. Tests use the
    /// hook to simulate exactly that: the example app's `--exit-after-first-send` exits the process from here.
    /// If the hook throws, `AuditRelay.run()` ends with that error and the rows stay unsent, just as after a crash;
    /// a relay started later sends them again and the server drops them as duplicates (same ids).
    public typealias AfterSendHook = @Sendable (AuditRelayDelivery) async throws -> Void

    /// The server's base URL, e.g. `http://127.0.0.1:9090`; the relay posts to `<serverURL>/api/v1/audit/events`.
    public var serverURL: String
    /// Bearer token per tenant (each token's role must include `ingest` for that tenant).
    public var tokens: [String: String]
    /// Token for tenants not in `tokens`. When a tenant has neither, the relay sends no Authorization header,
    /// which a server without configured tokens accepts for the tenant `default`.
    public var defaultToken: String?
    /// How long to wait before looking again when the outbox had nothing (more) to send.
    public var pollInterval: Duration
    /// The most rows fetched (and so sent) per round; each tenant's part of a round is one request.
    public var batchSize: Int
    /// The wait after a tenant's first failed delivery; it doubles with each further failure up to `maxBackoff`.
    public var initialBackoff: Duration
    /// The longest wait between attempts for a failing tenant (or an unreachable outbox).
    public var maxBackoff: Duration
    /// How long one request may take before it counts as failed (and is retried).
    public var requestTimeout: Duration
    /// Sent rows older than this are deleted from the outbox; nil keeps them forever.
    public var sentRetention: Duration?
    /// How often the relay prunes sent rows.
    public var pruneInterval: Duration
    /// Dimensions added to the relay's metrics, e.g. `[("app", "billing")]`.
    public var metricDimensions: [(String, String)]
    /// See `AfterSendHook`. Nil in production.
    public var afterSend: AfterSendHook?

    /// Makes a configuration; only the server URL is required.
    public init(
        serverURL: String,
        tokens: [String: String] = [:],
        defaultToken: String? = nil,
        pollInterval: Duration = .milliseconds(500),
        batchSize: Int = 500,
        initialBackoff: Duration = .milliseconds(250),
        maxBackoff: Duration = .seconds(30),
        requestTimeout: Duration = .seconds(30),
        sentRetention: Duration? = .seconds(3600),
        pruneInterval: Duration = .seconds(60),
        metricDimensions: [(String, String)] = [],
        afterSend: AfterSendHook? = nil
    ) {
        self.serverURL = serverURL
        self.tokens = tokens
        self.defaultToken = defaultToken
        self.pollInterval = pollInterval
        self.batchSize = batchSize
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.requestTimeout = requestTimeout
        self.sentRetention = sentRetention
        self.pruneInterval = pruneInterval
        self.metricDimensions = metricDimensions
        self.afterSend = afterSend
    }

    /// The token the relay sends for `tenant`, if any.
    public func token(forTenant tenant: String) -> String? {
        tokens[tenant] ?? defaultToken
    }
}

/// One tenant's batch that the server has accepted (what `AuditRelayConfiguration.afterSend` is shown).
public struct AuditRelayDelivery: Sendable {
    /// The tenant whose events these are.
    public var tenant: String
    /// The ids sent, in the order sent.
    public var eventIDs: [String]
    /// How many the server stored now (`accepted` in its answer).
    public var accepted: Int
    /// How many it already had (`duplicates`), e.g. after a crash between sending and marking.
    public var duplicates: Int
}

/// What one round of the relay did (see `AuditRelay.deliverPending()`).
public struct AuditRelayRound: Sendable, Hashable {
    /// Rows fetched from the outbox.
    public var fetched: Int
    /// Rows delivered and marked sent.
    public var sent: Int
    /// Tenants whose delivery failed this round (their rows stay unsent).
    public var failedTenants: [String]
    /// Events the server reported as duplicates.
    public var duplicates: Int
}
