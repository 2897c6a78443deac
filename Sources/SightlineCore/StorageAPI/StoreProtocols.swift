/// Where a record sits in the write-ahead log: the segment number and the byte offset of its frame.
package struct WALPosition: Hashable, Sendable, Comparable, CustomStringConvertible {
    package var segment: Int
    package var offset: Int64

    package init(segment: Int, offset: Int64) {
        self.segment = segment
        self.offset = offset
    }

    package static func < (lhs: WALPosition, rhs: WALPosition) -> Bool {
        (lhs.segment, lhs.offset) < (rhs.segment, rhs.offset)
    }

    package var description: String { "\(segment):\(offset)" }
}

/// A half-open time range `[start, end)` in nanoseconds since the epoch.
package struct TimeRange: Hashable, Sendable {
    package var startNano: UInt64
    package var endNano: UInt64

    package init(startNano: UInt64, endNano: UInt64) {
        self.startNano = startNano
        self.endNano = endNano
    }

    /// Every representable time.
    package static let all = TimeRange(startNano: 0, endNano: .max)

    package func contains(_ nano: UInt64) -> Bool { nano >= startNano && nano < endNano }
}

/// The write side every signal store implements: the ingestion pipeline hands it batches the WAL has made durable.
///
/// The pipeline calls ``apply(_:at:)`` in WAL order and never concurrently, so a store needs no ordering logic of its own.
/// Once ``persist(throughSegment:)`` returns, the WAL may delete those segments; on start the server replays only
/// the segments after ``persistedSegment``.
///
/// ```swift
/// let position = try await wal.append(batch.encoded()) { position in try store.apply(batch, at: position) }
/// ```
package protocol SignalStore: Sendable {
    /// The signal whose batches this store takes.
    var signal: Signal { get }

    /// Applies a batch that is durable in the WAL at `position`.
    func apply(_ batch: TenantBatch, at position: WALPosition) throws

    /// Makes every batch applied from WAL segments up to and including `segment` durable in the store's own files
    /// (or, for a store over a database, in that database). Async because a remote store waits for its inserts; the
    /// embedded engines write their files synchronously.
    func persist(throughSegment segment: Int) async throws

    /// The highest WAL segment whose batches are all in the store's own files; -1 when none are.
    var persistedSegment: Int { get }

    /// Decides, before the batch is written to the WAL, which records the store will take.
    ///
    /// A store refuses here what it would refuse anyway (samples too old for the out-of-order window, duplicates that
    /// conflict, series over a tenant's limit), so that nothing acknowledged is dropped later. The pipeline writes only
    /// the admitted batch to the WAL. Called concurrently; must not change the store.
    func admit(_ batch: TenantBatch) -> Admission
}

/// A store that applies the deletions of the batches it is given (``MetricBatch/deletions``, ``LogBatch/deletions``);
/// other stores ignore them, and the pipeline sends deletions only to one of these.
package protocol DeletingStore: SignalStore {}

/// A store whose records live in a database other servers write too (ClickHouse): a deletion runs there at once, not
/// through this server's WAL, because replaying it after a crash would also delete what other servers wrote since.
/// The pipeline first persists what its WAL holds, so that no batch written before the deletion is replayed after it.
package protocol ExternalDeletingStore: SignalStore {
    /// Deletes what `deletions` (a batch holding only deletions) names of `tenant`'s records, and returns once the
    /// database no longer holds them.
    func delete(_ deletions: SignalBatch, tenant: Tenant) async throws
}

/// What a store admits of a batch, and why it refused the rest.
package struct Admission: Sendable {
    /// The records to write and apply.
    package var batch: SignalBatch
    /// Refused records by reason (`out_of_order`, `duplicate_sample`, `too_many_series`, …).
    package var rejections: [String: Int]
    /// The first refusal, explained for the client: it names the limit and the series.
    package var message: String

    package init(batch: SignalBatch, rejections: [String: Int] = [:], message: String = "") {
        self.batch = batch
        self.rejections = rejections
        self.message = message
    }

    /// The number of refused records.
    package var rejected: Int { rejections.values.reduce(0, +) }
}

extension SignalStore {
    /// Stores without admission rules take everything.
    package func admit(_ batch: TenantBatch) -> Admission { Admission(batch: batch.batch) }
}

/// Reads log records, newest first. The real log engine implements the same protocol.
package protocol LogQuerier: Sendable {
    /// The records of `tenant` whose time falls in `range`, newest first, at most `limit`.
    func logs(tenant: Tenant, in range: TimeRange, limit: Int) throws -> [LogRecord]
}

extension LogQuerier where Self: LogSource {
    /// A backward scan of every stream, stopped at `limit`: how every ``LogSource`` answers.
    package func logs(tenant: Tenant, in range: TimeRange, limit: Int) throws -> [LogRecord] {
        var records: [LogRecord] = []
        guard limit > 0 else { return records }
        try scan(LogScan(tenant: tenant, matchers: [], range: range, direction: .backward)) { record in
            records.append(record)
            return records.count < limit
        }
        return records
    }
}

/// Reads spans. The real trace engine implements the same protocol.
package protocol SpanQuerier: Sendable {
    /// The spans of `tenant` that start in `range`, newest first, at most `limit`.
    func spans(tenant: Tenant, in range: TimeRange, limit: Int) throws -> [Span]
    /// Every span of one trace of `tenant`.
    func trace(tenant: Tenant, id: TraceID) throws -> [Span]
}

/// A series and its samples in a time range.
package struct SeriesSamples: Hashable, Sendable {
    package var labels: Labels
    package var timestampsMs: [Int64]
    package var values: [Double]

    package init(labels: Labels, timestampsMs: [Int64] = [], values: [Double] = []) {
        self.labels = labels
        self.timestampsMs = timestampsMs
        self.values = values
    }
}

/// Reads metric series: what the PromQL engine and the Prometheus API query. The time-series engine implements it,
/// and so will the ClickHouse backend, so it hands out values, never files.
package protocol MetricQuerier: Sendable {
    /// The series of `tenant` that match every matcher, with their samples in `[startMs, endMs]`, in ascending time.
    /// Staleness markers are included as the NaN with bit pattern ``StaleNaN/bitPattern``.
    func select(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [SeriesSamples]

    /// The sorted label names of series of `tenant` with samples in `[startMs, endMs]`, restricted to series matching
    /// every matcher when `matchers` is not empty.
    func labelNames(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String]

    /// The sorted values of label `name` over the same series.
    func labelValues(tenant: Tenant, name: String, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String]

    /// The metadata (type, help, unit) of metric families of `tenant`, for one family when `metric` is given.
    func metadata(tenant: Tenant, metric: String?) throws -> [MetricMetadata]
}

/// A series and its exemplars in a time range, oldest first.
package struct SeriesExemplars: Hashable, Sendable {
    package var series: Labels
    package var exemplars: [MetricExemplar]

    package init(series: Labels, exemplars: [MetricExemplar]) {
        self.series = series
        self.exemplars = exemplars
    }
}

/// Reads exemplars: what `/api/v1/query_exemplars` answers from. The time-series engine and the ClickHouse store
/// implement it.
package protocol ExemplarQuerier: Sendable {
    /// The exemplars of `tenant` in `[startMs, endMs]` of every series that matches all matchers of at least one of
    /// `selectors`, each series once, sorted by series labels.
    func exemplars(tenant: Tenant, selectors: [[LabelMatcher]], startMs: Int64, endMs: Int64) throws -> [SeriesExemplars]
}

/// The NaN Prometheus writes as a staleness marker: a series ended or a target vanished.
///
/// Public because query loops ask ``isStale(_:)`` for every sample, and the compiler inlines an `@inlinable` function
/// into another module only when it is public (not when it is `package`).
public enum StaleNaN {
    /// The bit pattern of the marker.
    public static let bitPattern: UInt64 = 0x7FF0_0000_0000_0002
    /// The marker as a value.
    package static let value = Double(bitPattern: bitPattern)
    /// Whether `value` is the marker (not any NaN).
    @inlinable
    public static func isStale(_ value: Double) -> Bool { value.bitPattern == 0x7FF0_0000_0000_0002 }
}
