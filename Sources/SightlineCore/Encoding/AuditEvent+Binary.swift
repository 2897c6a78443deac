/// The canonical binary encoding of a stored audit event: the bytes the audit store writes and hashes. A version
/// byte, then every field in a fixed order (strings length-prefixed, optional strings behind a presence byte,
/// attributes sorted by key), so the same event always encodes to the same bytes.
extension ByteWriter {
    /// The encoding's version byte.
    package static let auditEventVersion: UInt8 = 1

    /// Writes `stored` without its hash (the hash covers these bytes).
    package mutating func writeAuditEvent(_ stored: StoredAuditEvent) {
        let event = stored.event
        writeByte(Self.auditEventVersion)
        writeUInt64LE(stored.seq)
        writeString(stored.tenant.id)
        writeSignedVarint(stored.receivedNano)
        writeString(event.id)
        writeSignedVarint(event.timeNano)
        writeString(event.actor.id)
        writeOptionalString(event.actor.type)
        writeOptionalString(event.actor.display)
        writeString(event.action)
        writeString(event.resource.type)
        writeOptionalString(event.resource.id)
        writeByte(event.outcome.code)
        writeOptionalString(event.requestID)
        writeOptionalString(event.clientAddress)
        writeOptionalString(event.userAgent)
        writeOptionalString(event.reason)
        writeOptionalString(event.before)
        writeOptionalString(event.after)
        writeVarint(UInt64(event.attributes.count))
        for attribute in event.attributes {
            writeString(attribute.key)
            writeString(attribute.value)
        }
    }

    /// A presence byte (0 absent, 1 present), then the string when present.
    package mutating func writeOptionalString(_ value: String?) {
        guard let value else { return writeByte(0) }
        writeByte(1)
        writeString(value)
    }
}

extension ByteReader {
    /// Reads what ``ByteWriter/writeAuditEvent(_:)`` wrote; `hash` is attached as read from elsewhere.
    /// - Throws: `dataCorrupted` naming what does not decode.
    package mutating func readAuditEvent(hash: [UInt8]) throws -> StoredAuditEvent {
        let version = try readByte()
        guard version == ByteWriter.auditEventVersion else {
            throw SightlineError(.dataCorrupted, "unknown audit event encoding version \(version)")
        }
        let seq = try readUInt64LE()
        let tenantID = try readString()
        guard Tenant.isValid(tenantID) else { throw SightlineError(.dataCorrupted, "invalid tenant id in an audit event") }
        let received = try readSignedVarint()
        let id = try readString()
        let time = try readSignedVarint()
        let actor = AuditEvent.Actor(id: try readString(), type: try readOptionalString(), display: try readOptionalString())
        let action = try readString()
        let resource = AuditEvent.Resource(type: try readString(), id: try readOptionalString())
        let outcomeCode = try readByte()
        guard let outcome = AuditEvent.Outcome(code: outcomeCode) else {
            throw SightlineError(.dataCorrupted, "unknown audit outcome code \(outcomeCode)")
        }
        let requestID = try readOptionalString()
        let clientAddress = try readOptionalString()
        let userAgent = try readOptionalString()
        let reason = try readOptionalString()
        let before = try readOptionalString()
        let after = try readOptionalString()
        let count = try readCount()
        var attributes: [(key: String, value: String)] = []
        attributes.reserveCapacity(count)
        for _ in 0..<count { attributes.append((try readString(), try readString())) }
        let event = AuditEvent(
            id: id, timeNano: time, actor: actor, action: action, resource: resource, outcome: outcome, requestID: requestID,
            clientAddress: clientAddress, userAgent: userAgent, reason: reason, before: before, after: after, attributes: attributes)
        return StoredAuditEvent(seq: seq, tenant: Tenant(uncheckedID: tenantID), receivedNano: received, event: event, hash: hash)
    }

    /// Reads what ``ByteWriter/writeOptionalString(_:)`` wrote.
    package mutating func readOptionalString() throws -> String? {
        switch try readByte() {
        case 0: return nil
        case 1: return try readString()
        case let flag: throw SightlineError(.dataCorrupted, "bad presence byte \(flag) before an optional string")
        }
    }
}

extension AuditEvent.Outcome {
    /// The stored code of the outcome; never renumber.
    package var code: UInt8 {
        switch self {
        case .success: 0
        case .failure: 1
        case .denied: 2
        }
    }

    package init?(code: UInt8) {
        switch code {
        case 0: self = .success
        case 1: self = .failure
        case 2: self = .denied
        default: return nil
        }
    }
}
