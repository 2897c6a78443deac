package import SightlineCore

/// How the trace store lays out parts and how long it keeps them. Every parameter has a default.
package struct TraceStoreOptions: Sendable {
    /// The most spans in one block: the unit a trace lookup reads and decompresses.
    package var blockSpans: Int
    /// The width of a time partition: spans are written to one part per tenant per partition of their start time.
    package var partitionDuration: Duration
    /// How long spans are kept, by start time; nil keeps them forever. ``tenantRetention`` overrides it per tenant.
    package var retention: Duration?
    /// Retention for particular tenants.
    package var tenantRetention: [Tenant: Duration]
    /// Merges never build a part with more spans than this.
    package var maxMergedSpans: Int

    package init(
        blockSpans: Int = 1024, partitionDuration: Duration = .seconds(3600), retention: Duration? = nil,
        tenantRetention: [Tenant: Duration] = [:], maxMergedSpans: Int = 1_000_000
    ) {
        self.blockSpans = blockSpans
        self.partitionDuration = partitionDuration
        self.retention = retention
        self.tenantRetention = tenantRetention
        self.maxMergedSpans = maxMergedSpans
    }

    /// The retention of `tenant` in nanoseconds; nil when its spans are kept forever.
    func retentionNano(for tenant: Tenant) -> UInt64? {
        (tenantRetention[tenant] ?? retention).map(Self.nanoseconds)
    }

    /// The partition width in nanoseconds, at least one.
    var partitionNano: UInt64 { max(1, Self.nanoseconds(partitionDuration)) }

    /// A non-negative duration in nanoseconds, saturating.
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        return whole &+ UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}

/// What one ``TraceStore/maintain(nowNano:)`` call did.
package struct TraceMaintenanceReport: Hashable, Sendable {
    /// Parts deleted because all their spans were past retention.
    package var partsExpired: Int = 0
    package var spansExpired: Int = 0
    /// Parts merged into larger ones, and the parts they became.
    package var partsMerged: Int = 0
    package var partsCreated: Int = 0

    package init() {}
}
