package import SightlineCore

/// Which events a search or export returns. Every field that is set must match.
package struct AuditFilter: Sendable, Equatable {
    package var actorID: String?
    package var actorType: String?
    /// An action, or a prefix ending in `*` (`invoice.*`).
    package var action: String?
    package var resourceType: String?
    package var resourceID: String?
    package var outcome: AuditEvent.Outcome?
    /// Event time range, nanoseconds, inclusive.
    package var fromNano: Int64?
    package var toNano: Int64?
    /// Case-insensitive substring of any text field: ids, actor, action, resource, reason, before/after, attributes.
    package var text: String? {
        didSet { loweredText = text.map { Array($0.lowercased().utf8) } }
    }
    private var loweredText: [UInt8]?

    package init() {}

    package func matches(_ stored: StoredAuditEvent) -> Bool {
        let event = stored.event
        if let actorID, event.actor.id != actorID { return false }
        if let actorType, event.actor.type != actorType { return false }
        if let action {
            if action.hasSuffix("*") {
                guard event.action.hasPrefix(action.dropLast()) else { return false }
            } else if event.action != action {
                return false
            }
        }
        if let resourceType, event.resource.type != resourceType { return false }
        if let resourceID, event.resource.id != resourceID { return false }
        if let outcome, event.outcome != outcome { return false }
        if let fromNano, event.timeNano < fromNano { return false }
        if let toNano, event.timeNano > toNano { return false }
        if let loweredText, !loweredText.isEmpty {
            let fields: [String?] = [
                event.id, event.actor.id, event.actor.type, event.actor.display, event.action, event.resource.type, event.resource.id,
                event.requestID, event.clientAddress, event.userAgent, event.reason, event.before, event.after,
            ]
            let texts = fields.compactMap { $0 } + event.attributes.flatMap { [$0.key, $0.value] }
            return texts.contains { Self.containsIgnoringCase($0, loweredText) }
        }
        return true
    }

    /// Whether `haystack` contains `needle` (already lowercased), ASCII letters compared without case.
    private static func containsIgnoringCase(_ haystack: String, _ needle: [UInt8]) -> Bool {
        let bytes = Array(haystack.lowercased().utf8)
        guard bytes.count >= needle.count else { return false }
        var start = 0
        while start + needle.count <= bytes.count {
            if bytes[start] == needle[0], bytes[start..<start + needle.count].elementsEqual(needle) { return true }
            start += 1
        }
        return false
    }
}
