/// What a protocol decoder produces: records of one signal, not yet tied to a tenant.
package enum SignalBatch: Hashable, Sendable {
    case logs(LogBatch)
    case metrics(MetricBatch)
    case traces([Span])

    /// A logs batch of `records` (see ``LogBatch/init(_:)``).
    package static func logs(_ records: some Sequence<LogRecord>) -> SignalBatch {
        .logs(LogBatch(records))
    }

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

    /// Whether the batch holds nothing to store: no records and, for metrics, no exemplars, metadata or deletions
    /// either (a remote-write request may carry metadata alone).
    package var isEmpty: Bool {
        switch self {
        case .metrics(let batch): batch.samples.isEmpty && batch.exemplars.isEmpty && batch.metadata.isEmpty && batch.deletions.isEmpty
        case .logs(let records): records.isEmpty && records.deletions.isEmpty
        case .traces(let spans): spans.isEmpty
        }
    }
}

/// A decoded batch and what the decoder had to reject from the same request.
///
/// OTLP calls this a partial success: the accepted records are stored, the rejected ones are counted and explained.
package struct DecodedBatch: Sendable {
    package var batch: SignalBatch
    package var rejected: Int
    package var rejectionMessage: String
    /// The request the batch was decoded from, when decoding it again gives the batch back (see ``ReceivedRequest``).
    package var request: ReceivedRequest?

    package init(_ batch: SignalBatch, rejected: Int = 0, rejectionMessage: String = "") {
        self.batch = batch
        self.rejected = rejected
        self.rejectionMessage = rejectionMessage
    }
}

/// A request body as it was received, in a format whose decoder gives back the same records from it.
///
/// When nothing of a request was refused or changed on its way to the store, the WAL logs this instead of the decoded
/// records: writing the body is a copy, while encoding the records field by field cost as much as a fifth of a log
/// line's ingestion. WAL replay decodes the body again as its handler did (stamping the records with
/// ``observedTimeUnixNano`` where the handler does).
package struct ReceivedRequest: Sendable, Equatable {
    /// The formats the server can decode again (their numbers are part of the WAL format: never reuse one).
    package enum Format: UInt8, Sendable {
        /// A Loki push, JSON (without its content encoding).
        case lokiJSON = 1
        /// A Loki push, Snappy-compressed `logproto.PushRequest`.
        case lokiSnappyProtobuf = 2
        /// OTLP `ExportLogsServiceRequest`, protobuf or JSON (without the content encoding).
        case otlpLogsProtobuf = 3
        case otlpLogsJSON = 4
        /// OTLP `ExportTraceServiceRequest`, protobuf or JSON (without the content encoding).
        case otlpTracesProtobuf = 5
        case otlpTracesJSON = 6
        /// An Elasticsearch `_bulk` request (NDJSON), its path's index in ``context``.
        case elasticsearchBulk = 7
    }

    package var format: Format
    package var body: [UInt8]
    /// When the server received the request: the observed time of every record for formats whose handler stamps
    /// it (Loki's); unused by the others.
    package var observedTimeUnixNano: UInt64
    /// How many records the body decodes to.
    package var recordCount: Int
    /// What the handler decoded the body with besides it (the index of an Elasticsearch bulk path); empty if nothing.
    package var context: String

    package init(format: Format, body: [UInt8], observedTimeUnixNano: UInt64, recordCount: Int, context: String = "") {
        self.format = format
        self.body = body
        self.observedTimeUnixNano = observedTimeUnixNano
        self.recordCount = recordCount
        self.context = context
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
