import Foundation
package import SightlineCore

/// One of the documents the alerting state is kept in: per tenant, the rule evaluator's active alerts
/// (`rules/<tenant>.alerts.json`) and the notifier's alerts, silences and notification log
/// (`alertmanager/<tenant>/{alerts,silences,nflog}.json`).
///
/// Its ``name`` is the key it is shared under (see ``AlertingStateMirror``): `<kind>.<tenant>` with each `.` of the
/// tenant id written `%2E`, so a name is always two subject tokens.
package struct AlertingStateDocument: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Which document of the tenant.
    package enum Kind: String, Sendable, CaseIterable {
        /// The rule evaluator's pending, firing and recently resolved alerts (``RuleManager``).
        case ruleAlerts = "rules"
        /// The notifier's alert store.
        case notifierAlerts = "alerts"
        /// The notifier's silences.
        case silences
        /// The notifier's notification log: what each receiver was told.
        case notificationLog = "nflog"
    }

    package var kind: Kind
    package var tenant: Tenant

    package init(_ kind: Kind, tenant: Tenant) {
        self.kind = kind
        self.tenant = tenant
    }

    /// `<kind>.<tenant>`, the tenant's dots written `%2E`.
    package var name: String { kind.rawValue + "." + tenant.id.replacingOccurrences(of: ".", with: "%2E") }

    /// The document a ``name`` stands for; nil for a name that is not one (unknown kind, invalid tenant).
    package init?(name: String) {
        guard let dot = name.firstIndex(of: "."), let kind = Kind(rawValue: String(name[..<dot])) else { return nil }
        let tenant = name[name.index(after: dot)...].replacingOccurrences(of: "%2E", with: ".")
        guard Tenant.isValid(tenant) else { return nil }
        self.init(kind, tenant: Tenant(uncheckedID: tenant))
    }

    package var description: String { name }

    package static func < (lhs: Self, rhs: Self) -> Bool { lhs.name < rhs.name }
}

/// Told of every alerting state document written, with its bytes, so that several servers can share the state (the
/// server mirrors them to NATS JetStream while leader election is on). The local files stay the first copy; the
/// mirror is one-way: the state is read back only when a server takes the lead (``RuleManager/replaceState(tenant:document:)``,
/// ``Notifier/replaceState(tenant:alerts:silences:log:)``) and, for silences, when another server changes them
/// (``Notifier/mergeSilences(_:tenant:)``).
package protocol AlertingStateMirror: Sendable {
    /// `document` was written with `bytes`. Must return at once: queue the work (called inside the evaluator's and the
    /// notifier's actors). A later call for the same document supersedes an earlier one not yet mirrored.
    func saved(_ document: AlertingStateDocument, bytes: [UInt8])
}
