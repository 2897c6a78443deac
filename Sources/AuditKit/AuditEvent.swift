public import Foundation

/// One audit event: who did what to which resource, when, and with what outcome.
///
/// Apps build an event for every business change and hand it to an outbox (`AuditKitGRDB` or `AuditKitPostgres`)
/// inside the same database transaction as the change, so the event exists exactly when the change does.
/// The relay later sends it to Sightline as the JSON object of the audit wire contract (see `jsonText()`).
public struct AuditEvent: Sendable, Hashable {
    /// Unique per tenant; the server drops a second event with the same id, which makes resending safe.
    /// Defaults to a lowercase UUIDv7 (time-ordered), see `AuditEvent.makeID()`.
    public var id: String
    /// The tenant (customer) the event belongs to; the relay sends it with that tenant's token.
    public var tenant: String
    /// When the action happened. Encoded as RFC 3339 UTC with microseconds.
    public var time: Date
    /// Who acted.
    public var actor: Actor
    /// What was done, e.g. `invoice.update`. Must not be empty.
    public var action: String
    /// What it was done to.
    public var resource: Resource
    /// Whether it succeeded, failed, or was refused.
    public var outcome: Outcome
    /// The request that caused the action, when known.
    public var requestID: String?
    /// The client's network address, when known.
    public var clientAddress: String?
    /// The client's user agent, when known.
    public var userAgent: String?
    /// Why the action was taken or refused, in words.
    public var reason: String?
    /// The resource before the change (any JSON value).
    public var before: AuditJSON?
    /// The resource after the change (any JSON value).
    public var after: AuditJSON?
    /// Free key/value pairs; values are strings only, as the contract requires.
    public var attributes: [String: String]

    /// Who performed an action.
    public struct Actor: Sendable, Hashable {
        /// A stable identifier of the actor, e.g. a user id. Required.
        public var id: String
        /// The kind of actor, e.g. `user`, `service`, `api_key`.
        public var type: String?
        /// A human-readable name, e.g. `Alice`.
        public var display: String?

        /// Makes an actor; only the id is required.
        public init(id: String, type: String? = nil, display: String? = nil) {
            self.id = id
            self.type = type
            self.display = display
        }
    }

    /// The thing an action was done to.
    public struct Resource: Sendable, Hashable {
        /// The kind of resource, e.g. `invoice`. Required.
        public var type: String
        /// Its identifier, when it has one.
        public var id: String?

        /// Makes a resource; only the type is required.
        public init(type: String, id: String? = nil) {
            self.type = type
            self.id = id
        }
    }

    /// The result of an action, as the contract spells it.
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        /// The action was carried out.
        case success
        /// The action was attempted and failed (e.g. a business rule or an error).
        case failure
        /// The action was refused (e.g. missing permission).
        case denied
    }

    /// Makes an event. `id` defaults to a new UUIDv7 and `time` to now.
    public init(
        id: String = AuditEvent.makeID(),
        tenant: String,
        time: Date = Date(),
        actor: Actor,
        action: String,
        resource: Resource,
        outcome: Outcome = .success,
        requestID: String? = nil,
        clientAddress: String? = nil,
        userAgent: String? = nil,
        reason: String? = nil,
        before: AuditJSON? = nil,
        after: AuditJSON? = nil,
        attributes: [String: String] = [:]
    ) {
        self.id = id
        self.tenant = tenant
        self.time = time
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
        self.attributes = attributes
    }

    /// A new lowercase UUIDv7 string (48-bit Unix milliseconds, then random bits), so ids sort roughly by time.
    public static func makeID() -> String {
        UUIDv7.make()
    }

    /// The longest id the server accepts, in UTF-8 bytes.
    public static let maxIDLength = 128
    /// The longest string field the server accepts, in UTF-8 bytes.
    public static let maxFieldLength = 4096
    /// The most attributes the server accepts per event.
    public static let maxAttributes = 64

    /// Checks what the server would refuse, so a bad event fails in the app's transaction instead of
    /// blocking the relay later (the server refuses a whole request for one bad event): id of 1 to 128 bytes;
    /// non-empty tenant, action, actor id and resource type; string fields of at most 4096 bytes; at most
    /// 64 attributes.
    public func validate() throws(AuditKitError) {
        let idLength = id.utf8.count
        if idLength == 0 || idLength > Self.maxIDLength {
            throw AuditKitError(.invalidEvent, "audit event id must have 1 to \(Self.maxIDLength) bytes, got \(idLength)")
        }
        let required: [(String, String)] = [
            ("tenant", tenant), ("action", action), ("actor.id", actor.id), ("resource.type", resource.type),
        ]
        for (name, value) in required where value.isEmpty {
            throw AuditKitError(.invalidEvent, "audit event \(id): \(name) is empty")
        }
        let optional: [(String, String?)] = [
            ("actor.type", actor.type), ("actor.display", actor.display), ("resource.id", resource.id), ("request_id", requestID),
            ("client_address", clientAddress), ("user_agent", userAgent), ("reason", reason),
        ]
        for (name, value) in required + optional {
            if let length = value?.utf8.count, length > Self.maxFieldLength {
                throw AuditKitError(.invalidEvent, "audit event \(id): \(name) has \(length) bytes, more than \(Self.maxFieldLength)")
            }
        }
        if attributes.count > Self.maxAttributes {
            throw AuditKitError(.invalidEvent, "audit event \(id): \(attributes.count) attributes, more than \(Self.maxAttributes)")
        }
        for (key, value) in attributes where key.utf8.count > Self.maxFieldLength || value.utf8.count > Self.maxFieldLength {
            throw AuditKitError(.invalidEvent, "audit event \(id): attribute \(key.prefix(40)) is longer than \(Self.maxFieldLength) bytes")
        }
    }

    /// The event as the contract's JSON object, UTF-8 bytes: snake_case keys, absent optionals left out,
    /// `time` as RFC 3339 UTC with six fraction digits. Key order is fixed, so the same event gives the same bytes.
    public func jsonBytes() -> [UInt8] {
        var writer = JSONWriter()
        writer.bytes.reserveCapacity(256)
        writer.raw("{\"id\":")
        writer.string(id)
        writer.raw(",\"tenant\":")
        writer.string(tenant)
        writer.raw(",\"time\":\"")
        RFC3339.append(time, to: &writer.bytes)
        writer.raw("\",\"actor\":{\"id\":")
        writer.string(actor.id)
        if let type = actor.type {
            writer.raw(",\"type\":")
            writer.string(type)
        }
        if let display = actor.display {
            writer.raw(",\"display\":")
            writer.string(display)
        }
        writer.raw("},\"action\":")
        writer.string(action)
        writer.raw(",\"resource\":{\"type\":")
        writer.string(resource.type)
        if let resourceID = resource.id {
            writer.raw(",\"id\":")
            writer.string(resourceID)
        }
        writer.raw("},\"outcome\":")
        writer.string(outcome.rawValue)
        writer.optional("request_id", requestID)
        writer.optional("client_address", clientAddress)
        writer.optional("user_agent", userAgent)
        writer.optional("reason", reason)
        if let before {
            writer.raw(",\"before\":")
            writer.value(before)
        }
        if let after {
            writer.raw(",\"after\":")
            writer.value(after)
        }
        if !attributes.isEmpty {
            writer.raw(",\"attributes\":{")
            var first = true
            for key in attributes.keys.sorted() {
                if !first { writer.raw(",") }
                first = false
                writer.string(key)
                writer.raw(":")
                writer.string(attributes[key] ?? "")
            }
            writer.raw("}")
        }
        writer.raw("}")
        return writer.bytes
    }

    /// The event as the contract's JSON object, as text (see `jsonBytes()`).
    public func jsonText() -> String {
        String(decoding: jsonBytes(), as: UTF8.self)
    }
}
