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

    /// Makes every batch applied from WAL segments up to and including `segment` durable in the store's own files.
    func persist(throughSegment segment: Int) throws

    /// The highest WAL segment whose batches are all in the store's own files; -1 when none are.
    var persistedSegment: Int { get }
}

/// Reads log records, newest first. The real log engine implements the same protocol.
package protocol LogQuerier: Sendable {
    /// The records of `tenant` whose time falls in `range`, newest first, at most `limit`.
    func logs(tenant: Tenant, in range: TimeRange, limit: Int) throws -> [LogRecord]
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

/// Reads metric series. The time-series engine implements the same protocol.
package protocol MetricQuerier: Sendable {
    /// The series of `tenant` that match every matcher, with their samples in `[startMs, endMs]`.
    func select(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [SeriesSamples]
}
