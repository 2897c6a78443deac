/// One customer action recorded for audit: who did what to which resource, when, and how it ended.
///
/// Audit events are business records, not debug output. The server stores them append-only and hash-chained per tenant
/// (see SightlineAuditStore); ``before`` and ``after`` hold JSON text exactly as the store hashed it.
package struct AuditEvent: Sendable, Hashable {
    /// Who acted: a user, a service, an API token.
    package struct Actor: Sendable, Hashable {
        package var id: String
        package var type: String?
        package var display: String?

        package init(id: String, type: String? = nil, display: String? = nil) {
            self.id = id
            self.type = type
            self.display = display
        }
    }

    /// What was acted on.
    package struct Resource: Sendable, Hashable {
        package var type: String
        package var id: String?

        package init(type: String, id: String? = nil) {
            self.type = type
            self.id = id
        }
    }

    /// How the action ended.
    package enum Outcome: String, Sendable, Hashable, CaseIterable {
        case success
        case failure
        case denied
    }

    /// Unique per tenant; the key the server de-duplicates on, which makes relay delivery exactly-once.
    package var id: String
    /// When the action happened, in nanoseconds since the epoch (the application's clock).
    package var timeNano: Int64
    package var actor: Actor
    /// A verb, e.g. `invoice.update`.
    package var action: String
    package var resource: Resource
    package var outcome: Outcome
    package var requestID: String?
    package var clientAddress: String?
    package var userAgent: String?
    package var reason: String?
    /// The resource before the action, as compact JSON text.
    package var before: String?
    /// The resource after the action, as compact JSON text.
    package var after: String?
    /// Free key-value pairs, sorted by key.
    package var attributes: [(key: String, value: String)] {
        didSet { attributes.sort { $0.key < $1.key } }
    }

    package init(
        id: String, timeNano: Int64, actor: Actor, action: String, resource: Resource, outcome: Outcome,
        requestID: String? = nil, clientAddress: String? = nil, userAgent: String? = nil, reason: String? = nil,
        before: String? = nil, after: String? = nil, attributes: [(key: String, value: String)] = []
    ) {
        self.id = id
        self.timeNano = timeNano
        self.actor = actor
        self.action = action
        self.resource = resource
        self.outcome = outcome
        self.requestID = requestID
        self.clientAddress = clientAddress
        self.userAgent = userAgent
        self.reason = reason
        self.before = before
        self.after = after
        self.attributes = attributes.sorted { $0.key < $1.key }
    }

    package static func == (lhs: AuditEvent, rhs: AuditEvent) -> Bool {
        lhs.id == rhs.id && lhs.timeNano == rhs.timeNano && lhs.actor == rhs.actor && lhs.action == rhs.action
            && lhs.resource == rhs.resource && lhs.outcome == rhs.outcome && lhs.requestID == rhs.requestID
            && lhs.clientAddress == rhs.clientAddress && lhs.userAgent == rhs.userAgent && lhs.reason == rhs.reason
            && lhs.before == rhs.before && lhs.after == rhs.after
            && lhs.attributes.elementsEqual(rhs.attributes, by: { $0.key == $1.key && $0.value == $1.value })
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(timeNano)
    }
}

/// An audit event as the store keeps it: its place in the tenant's chain and the hash that seals it.
package struct StoredAuditEvent: Sendable, Equatable {
    /// Position in the tenant's chain, from 1, without gaps.
    package var seq: UInt64
    package var tenant: Tenant
    /// When the server stored it, in nanoseconds since the epoch.
    package var receivedNano: Int64
    package var event: AuditEvent
    /// SHA-256 over the previous event's hash and this event's canonical encoding.
    package var hash: [UInt8]
    /// The chain ``seq`` counts in when a tenant has several (the ClickHouse store: one per writing server); nil for
    /// the embedded store's single chain. Not part of the canonical encoding.
    package var chain: String? = nil

    package init(seq: UInt64, tenant: Tenant, receivedNano: Int64, event: AuditEvent, hash: [UInt8]) {
        self.seq = seq
        self.tenant = tenant
        self.receivedNano = receivedNano
        self.event = event
        self.hash = hash
    }
}
