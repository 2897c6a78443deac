package import SightlineCore
import Foundation

/// The log store over ClickHouse: what a stateless server keeps logs in, read by LogQL and the Loki API through the
/// same ``LogSource`` as the embedded `LogStore`, with the same answers.
///
/// One table, `logs`, one row per record:
/// - `tenant`; the stream labels (``LogRecord/streamLabels``) as two parallel `Array(String)` columns, names sorted,
///   and `stream_id`, a stable 64-bit hash of them (``streamID(_:)``);
/// - `day` (a `Date`, the partition), `time_ns` (``LogRecord/effectiveTimeUnixNano``, what queries select and order
///   by), `timestamp_ns`, `observed_ns`, `severity_number`, `severity_text`, `trace_id` (hex, empty when none);
/// - `line` (``LogRecord/line``, what line filters search with `position`), and `record`: the rest of the record in
///   the Core binary layout (``ClickHouseLogRow``), so every field round-trips.
///
/// Loki delete requests are kept in `log_deletions` (one row per request, listed by every server) and applied as
/// mutations of `logs` (see ``delete(_:tenant:)``).
///
/// `ORDER BY (tenant, stream_id, time_ns)` serves the engines' reads: a query first resolves the streams of a tenant
/// that match its selector (``resolveStreams(tenant:matchers:range:)``), then reads those streams' rows in a time
/// range, in pages ordered by time so a query with a `limit` stops after a page or two.
///
/// Writes go through a ``ClickHouseTableWriter``: ``apply(_:at:)`` encodes rows into its buffer, the server's timer
/// calls ``flush()`` about every second, and ``persist(throughSegment:)`` inserts and records the WAL segment.
package final class ClickHouseLogStore: SignalStore, LogSource, LogBucketCounting, LogQuerier {
    package let signal = Signal.logs
    let client: ClickHouseClient
    let writer: ClickHouseTableWriter
    /// Rows read per page at first; later pages double up to ``maxPageRows``.
    let firstPageRows: Int
    let maxPageRows: Int
    /// The most stream ids a scan lists in its `IN`; a scan over more streams filters its rows by their labels.
    let maxStreamsInList: Int

    /// The table's name.
    static let table = "logs"
    /// The columns of an insert, in the order ``ClickHouseLogRow/encode(_:tenant:into:)`` writes them.
    static let columns = [
        "tenant", "stream_id", "stream_names", "stream_values", "day", "time_ns", "timestamp_ns", "observed_ns",
        "severity_number", "severity_text", "trace_id", "line", "record",
    ]
    static let nanosPerDay: UInt64 = 86_400_000_000_000

    /// The schema's steps, applied once each per database (see ``ClickHouseSchema``).
    static let schema = ClickHouseSchema(component: "logs", steps: [
        """
        CREATE TABLE IF NOT EXISTS logs (
            tenant String,
            stream_id UInt64,
            stream_names Array(String),
            stream_values Array(String),
            day Date,
            time_ns UInt64,
            timestamp_ns UInt64,
            observed_ns UInt64,
            severity_number Int32,
            severity_text String,
            trace_id String,
            line String,
            record String
        ) ENGINE = MergeTree PARTITION BY day ORDER BY (tenant, stream_id, time_ns)
        """,
        """
        CREATE TABLE IF NOT EXISTS log_deletions (
            tenant String,
            request_id String,
            query String,
            start_ns UInt64,
            end_ns UInt64,
            created_at_ms Int64
        ) ENGINE = MergeTree ORDER BY (tenant, created_at_ms, request_id)
        """
    ])

    /// Opens the store: creates or migrates the `logs` table, and reads the persisted WAL segment from
    /// `checkpointDirectory/logs.segment`.
    /// - Parameters:
    ///   - client: the ClickHouse database to use (it must exist).
    ///   - checkpointDirectory: the server's own directory for the segment file (created when missing).
    ///   - pageRows: the rows of a scan's first page (later pages double, to 64 times as many).
    /// - Throws: ClickHouse's errors (`unavailable` when it cannot be reached), `dataCorrupted` for a damaged
    ///   checkpoint file.
    package convenience init(client: ClickHouseClient, checkpointDirectory: String, pageRows: Int = 1000) async throws {
        try FileManager.default.createDirectory(atPath: checkpointDirectory, withIntermediateDirectories: true)
        try await Self.schema.migrate(client)
        let writer = try ClickHouseTableWriter(
            client: client, table: Self.table, columns: Self.columns, checkpointPath: checkpointDirectory + "/logs.segment")
        self.init(client: client, writer: writer, pageRows: pageRows)
    }

    /// A store over a table that exists, writing through `writer`.
    init(client: ClickHouseClient, writer: ClickHouseTableWriter, pageRows: Int, maxStreamsInList: Int = 5000) {
        self.client = client
        self.writer = writer
        self.firstPageRows = max(1, pageRows)
        self.maxPageRows = max(1, pageRows) * 64
        self.maxStreamsInList = maxStreamsInList
    }

    /// The same store reading through another client or with another `IN` list size (for tests: a server that is
    /// down, the path of scans over many streams).
    func with(client: ClickHouseClient? = nil, maxStreamsInList: Int? = nil) -> ClickHouseLogStore {
        ClickHouseLogStore(
            client: client ?? self.client, writer: writer, pageRows: firstPageRows, maxStreamsInList: maxStreamsInList ?? self.maxStreamsInList)
    }

    // MARK: SignalStore

    /// Encodes the batch's records as rows into the writer's buffer (no I/O); starts an insert when the buffer is full.
    package func apply(_ batch: TenantBatch, at position: WALPosition) throws {
        guard case .logs(let records) = batch.batch else {
            throw SightlineError(.internal, "\(batch.batch.signal) batch sent to the logs store")
        }
        writer.append { out in
            var cached: (stream: Labels, resource: [Attribute], labels: Labels, id: UInt64)?
            for record in records {
                // Records of one batch mostly share a stream: derive its labels and hash once per run.
                let labels: Labels
                let id: UInt64
                if let cached, cached.stream == record.stream, cached.resource == record.resource {
                    labels = cached.labels
                    id = cached.id
                } else {
                    labels = record.streamLabels
                    id = Self.streamID(labels)
                    cached = (record.stream, record.resource, labels, id)
                }
                ClickHouseLogRow.encode(record, tenant: batch.tenant, labels: labels, streamID: id, into: &out)
            }
        }
    }

    /// Inserts every row applied so far and records `segment` as persisted.
    package func persist(throughSegment segment: Int) async throws {
        try await writer.persist(throughSegment: segment)
    }

    /// Inserts what is buffered without claiming a segment: the server's timer calls it about every second, so rows
    /// become visible to queries shortly after they are applied.
    package func flush() async throws {
        try await writer.flush()
    }

    package var persistedSegment: Int { writer.persistedSegment }

    // MARK: Retention

    /// Drops the day partitions whose whole day is before `cutoffNano` (ns since the epoch), as listed in
    /// `system.parts`; returns the days dropped (`YYYY-MM-DD`), oldest first.
    package func dropPartitions(olderThan cutoffNano: UInt64) async throws -> [String] {
        try await client.dropDayPartitions(of: Self.table, before: Int64(cutoffNano / Self.nanosPerDay)).map(ClickHouseClient.isoDay)
    }

    // MARK: Streams

    /// A stable 64-bit hash of stream labels (FNV-1a over each name and value, each followed by a 0xFF byte, which
    /// UTF-8 never holds): the same labels give the same id in every process and version.
    package static func streamID(_ labels: Labels) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for label in labels.labels {
            for part in [label.name, label.value] {
                for byte in part.utf8 {
                    hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
                }
                hash = (hash ^ 0xFF) &* 0x100_0000_01b3
            }
        }
        return hash
    }
}
