/// What a protocol decoder produces: records of one signal, not yet tied to a tenant.
package enum SignalBatch: Hashable, Sendable {
    case logs([LogRecord])
    case metrics(MetricBatch)
    case traces([Span])

    /// The signal of the records.
    package var signal: Signal {
        switch self {
        case .logs: .logs
        case .metrics: .metrics
        case .traces: .traces
        }
    }

    /// How many records the batch holds (samples for metrics).
    package var recordCount: Int {
        switch self {
        case .logs(let records): records.count
        case .metrics(let batch): batch.samples.count
        case .traces(let spans): spans.count
        }
    }

    package var isEmpty: Bool { recordCount == 0 }
}

/// A decoded batch and what the decoder had to reject from the same request.
///
/// OTLP calls this a partial success: the accepted records are stored, the rejected ones are counted and explained.
package struct DecodedBatch: Sendable {
    package var batch: SignalBatch
    package var rejected: Int
    package var rejectionMessage: String

    package init(_ batch: SignalBatch, rejected: Int = 0, rejectionMessage: String = "") {
        self.batch = batch
        self.rejected = rejected
        self.rejectionMessage = rejectionMessage
    }
}

/// A batch stamped with the tenant that owns it: the unit the WAL logs and the stores apply.
package struct TenantBatch: Hashable, Sendable {
    package var tenant: Tenant
    package var batch: SignalBatch

    package init(tenant: Tenant, batch: SignalBatch) {
        self.tenant = tenant
        self.batch = batch
    }
}
