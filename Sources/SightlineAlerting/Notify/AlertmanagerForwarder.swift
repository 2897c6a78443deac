package import Logging
package import SightlineCore

/// An ``AlertSink`` that forwards alerts to an external Alertmanager's `POST /api/v2/alerts`, as Prometheus does
/// for `alerting.alertmanagers`. Alerts without an end are sent without one (the receiver applies its own
/// resolve_timeout). A failed POST is logged and dropped: the rule evaluator sends firing alerts again at its next
/// evaluation, which is Prometheus' behaviour too.
package struct AlertmanagerForwarder: AlertSink {
    /// The Alertmanager's base URL, e.g. `http://alertmanager:9093` (a path prefix is kept).
    package let baseURL: String
    private let transport: any NotificationTransport
    private let timeoutMs: Int64
    private let logger: Logger

    package init(
        baseURL: String, transport: any NotificationTransport = NIONotificationTransport(), timeoutMs: Int64 = 10_000,
        logger: Logger = Logger(label: "sightline.alert-forwarder")
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.transport = transport
        self.timeoutMs = timeoutMs
        self.logger = logger
    }

    /// The JSON array Alertmanager's API takes.
    package static func body(_ alerts: [Alert]) -> [UInt8] {
        var out = "["
        for (index, alert) in alerts.enumerated() {
            if index > 0 { out += "," }
            out += "{\"labels\":"
            JSONText.appendLabels(alert.labels, to: &out)
            out += ",\"annotations\":"
            JSONText.appendLabels(alert.annotations, to: &out)
            if alert.startsAtMs > 0 { out += ",\"startsAt\":" + JSONText.quoted(NotifyRFC3339.format(ms: alert.startsAtMs)) }
            if let endsAt = alert.endsAtMs { out += ",\"endsAt\":" + JSONText.quoted(NotifyRFC3339.format(ms: endsAt)) }
            out += ",\"generatorURL\":" + JSONText.quoted(alert.generatorURL) + "}"
        }
        return Array((out + "]").utf8)
    }

    /// Posts the alerts; the tenant goes in the `X-Scope-OrgID` header, as multi-tenant Alertmanagers (Mimir, Cortex) expect.
    package func send(_ alerts: [Alert], tenant: Tenant) async {
        guard !alerts.isEmpty else { return }
        let request = OutboundPost(
            url: baseURL + "/api/v2/alerts", headers: [("Content-Type", "application/json"), ("X-Scope-OrgID", tenant.id)],
            body: Self.body(alerts))
        do {
            let status = try await transport.post(request, timeoutMs: timeoutMs).status
            if !(200..<300).contains(status) { logger.warning("forwarding \(alerts.count) alerts to \(baseURL) got status \(status)") }
        } catch {
            logger.warning("forwarding \(alerts.count) alerts to \(baseURL) failed: \(error)")
        }
    }
}
