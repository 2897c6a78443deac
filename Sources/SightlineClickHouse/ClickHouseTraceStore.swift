package import SightlineCore
import SightlineStorageCore

/// The trace store over ClickHouse: what the embedded `TraceStore` does, for servers that keep no state of their own.
///
/// Two tables, both partitioned by the day of the span's start (UTC), so retention drops whole days:
/// - `trace_spans`: one row per span, ordered by `(tenant, service, start_ns)` for the searches Jaeger makes (a
///   service, a time range). The span itself is kept whole in `span` (the Core binary codec of the WAL: a one-span
///   ``TenantBatch``), so it round-trips exactly; the other columns exist to filter in SQL: ids, name, kind, duration,
///   status, and tags as parallel `tag_keys` / `tag_values` arrays holding the attributes, the resource attributes and
///   the tags derived from span fields (``Span/derivedTagText(_:)``), all as ``AttributeValue/text`` — so one
///   `arrayExists` decides ``Span/hasTag(_:)``. `wal_segment, wal_offset, wal_row` keep the order spans were applied
///   in, which breaks ties of start time the way the embedded store does.
/// - `trace_index`: `(tenant, trace_hi, trace_lo, day)` ordered by trace id: which days a trace has spans in, so a
///   trace lookup reads those partitions of `trace_spans` only.
///
/// Writes go through one ``ClickHouseTableWriter`` per table; ``persistedSegment`` is the lower of the two. A batch
/// of a segment a table already holds (its writer's checkpoint is past it) is not appended again to that table, so
/// a restart after one table's insert succeeded and the other's failed replays into the second table only. Delivery
/// stays at least once (a crash between an insert and its checkpoint replays rows ClickHouse has), so reads drop
/// spans that are exact duplicates: ``trace(tenant:id:)`` and ``spans(tenant:in:limit:)`` by their encoded bytes,
/// ``dependencies(tenant:range:)`` by (trace, span, parent, service).
///
/// The read methods are synchronous (the store protocols are) and block on ClickHouse through
/// ``ClickHouseClient/blocking(_:)``: call them from threads that may block, as the query engines do.
package final class ClickHouseTraceStore: SignalStore, TraceSource {
    package var signal: Signal { .traces }
    package let client: ClickHouseClient
    /// `trace_spans`' rows.
    let spansWriter: ClickHouseTableWriter
    /// `trace_index`' rows.
    let indexWriter: ClickHouseTableWriter

    static let spansTable = "trace_spans"
    static let indexTable = "trace_index"
    static let spanColumns = [
        "tenant", "day", "service", "start_ns", "trace_hi", "trace_lo", "span_id", "parent_id", "name", "kind", "duration_ns",
        "status", "tag_keys", "tag_values", "wal_segment", "wal_offset", "wal_row", "span",
    ]
    static let indexColumns = ["tenant", "trace_hi", "trace_lo", "day"]

    /// The tables, in migration order. Never edit a step once released: append new ones.
    static let schema = ClickHouseSchema(
        component: "traces",
        steps: [
            """
            CREATE TABLE IF NOT EXISTS \(spansTable) (
                tenant String, day Date, service String, start_ns UInt64,
                trace_hi UInt64, trace_lo UInt64, span_id UInt64, parent_id UInt64,
                name String, kind Int32, duration_ns UInt64, status Int32,
                tag_keys Array(String), tag_values Array(String),
                wal_segment Int64, wal_offset Int64, wal_row UInt32,
                span String
            ) ENGINE = MergeTree PARTITION BY day ORDER BY (tenant, service, start_ns)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(indexTable) (tenant String, trace_hi UInt64, trace_lo UInt64, day Date)
            ENGINE = MergeTree PARTITION BY day ORDER BY (tenant, trace_hi, trace_lo)
            """,
        ])

    /// Creates or migrates the tables and opens the writers.
    /// - Parameters:
    ///   - client: the ClickHouse database to use (created when missing).
    ///   - checkpointDirectory: where the writers remember their last fully inserted WAL segment (created when
    ///     missing): the server's data directory, one per server.
    ///   - maxBufferBytes: a table's buffered rows over this size are inserted without waiting for ``flush()``.
    /// - Throws: `unavailable` when ClickHouse cannot be reached, `invalidArgument` when it refuses the schema, `io`
    ///   or `dataCorrupted` for the checkpoint files.
    package convenience init(client: ClickHouseClient, checkpointDirectory: String, maxBufferBytes: Int = 8 << 20) async throws {
        try await client.createDatabase()
        try await Self.schema.migrate(client)
        try self.init(migratedClient: client, checkpointDirectory: checkpointDirectory, maxBufferBytes: maxBufferBytes)
    }

    /// Opens the writers over a database whose tables exist (tests use it to reach a server that is down).
    init(migratedClient client: ClickHouseClient, checkpointDirectory: String, maxBufferBytes: Int = 8 << 20) throws {
        self.client = client
        try POSIXFile.createDirectory(checkpointDirectory)
        spansWriter = try ClickHouseTableWriter(
            client: client, table: Self.spansTable, columns: Self.spanColumns, checkpointPath: checkpointDirectory + "/clickhouse-trace-spans.segment",
            maxBufferBytes: maxBufferBytes)
        indexWriter = try ClickHouseTableWriter(
            client: client, table: Self.indexTable, columns: Self.indexColumns, checkpointPath: checkpointDirectory + "/clickhouse-trace-index.segment",
            maxBufferBytes: maxBufferBytes)
    }

    // MARK: SignalStore

    /// Encodes the batch's spans as rows of both tables (buffered; see ``flush()``). A buffer over its size is
    /// inserted in the background by its writer; rows of a failed insert stay buffered for the next one.
    package func apply(_ batch: TenantBatch, at position: WALPosition) throws {
        guard case .traces(let spans) = batch.batch else {
            throw SightlineError(.internal, "\(batch.batch.signal) batch sent to the traces store")
        }
        guard !spans.isEmpty else { return }
        let tenant = batch.tenant
        if position.segment > spansWriter.persistedSegment {
            spansWriter.append { writer in
                for (row, span) in spans.enumerated() { Self.writeSpanRow(&writer, tenant: tenant, span: span, position: position, row: row) }
            }
        }
        if position.segment > indexWriter.persistedSegment {
            var seen = Set<IndexKey>()
            for span in spans { seen.insert(IndexKey(trace: span.traceID, day: Self.day(span.startTimeUnixNano))) }
            indexWriter.append { writer in
                for key in seen.sorted(by: { ($0.trace, $0.day) < ($1.trace, $1.day) }) {
                    writer.writeString(tenant.id)
                    writer.writeUInt64LE(key.trace.high)
                    writer.writeUInt64LE(key.trace.low)
                    writer.writeDate(days: key.day)
                }
            }
        }
    }

    /// A trace and a day: one `trace_index` row.
    private struct IndexKey: Hashable {
        var trace: TraceID
        var day: Int64
    }

    /// Inserts what both tables have buffered (the caller's timer calls it), claiming no WAL segment.
    package func flush() async throws {
        try await spansWriter.flush()
        try await indexWriter.flush()
    }

    package func persist(throughSegment segment: Int) async throws {
        try await spansWriter.persist(throughSegment: segment)
        try await indexWriter.persist(throughSegment: segment)
    }

    /// The lower of the two tables' persisted segments: a restart replays what either may lack.
    package var persistedSegment: Int { min(spansWriter.persistedSegment, indexWriter.persistedSegment) }

    /// One `trace_spans` row, in ``spanColumns`` order.
    static func writeSpanRow(_ writer: inout ByteWriter, tenant: Tenant, span: Span, position: WALPosition, row: Int) {
        writer.writeString(tenant.id)
        writer.writeDate(days: day(span.startTimeUnixNano))
        writer.writeString(span.serviceName)
        writer.writeUInt64LE(span.startTimeUnixNano)
        writer.writeUInt64LE(span.traceID.high)
        writer.writeUInt64LE(span.traceID.low)
        writer.writeUInt64LE(span.spanID.value)
        writer.writeUInt64LE(span.parentSpanID?.value ?? 0)
        writer.writeString(span.name)
        writer.writeUInt32LE(UInt32(bitPattern: span.kind.rawValue))
        writer.writeUInt64LE(span.durationNano)
        writer.writeUInt32LE(UInt32(bitPattern: span.statusCode.rawValue))
        let tags = searchableTags(span)
        writer.writeStringArray(tags.map(\.key))
        writer.writeStringArray(tags.map(\.value))
        writer.writeInt64LE(Int64(position.segment))
        writer.writeInt64LE(position.offset)
        writer.writeUInt32LE(UInt32(clamping: row))
        writer.writeBytes(encode(span, tenant: tenant))
    }

    /// The keys of the tags Jaeger derives from span fields (``Span/derivedTagText(_:)``).
    static let derivedTagKeys = ["span.kind", "error", "otel.status_code", "otel.status_description", "otel.scope.name", "otel.scope.version"]

    /// Every (key, text) pair ``Span/hasTag(_:)`` accepts: attributes, resource attributes, derived tags.
    static func searchableTags(_ span: Span) -> [(key: String, value: String)] {
        var tags: [(key: String, value: String)] = []
        tags.reserveCapacity(span.attributes.count + span.resource.count + 3)
        for attribute in span.attributes { tags.append((attribute.key, attribute.value.text)) }
        for attribute in span.resource { tags.append((attribute.key, attribute.value.text)) }
        for key in derivedTagKeys {
            if let text = span.derivedTagText(key) { tags.append((key, text)) }
        }
        return tags
    }

    /// The span's `span` column: the WAL's own codec, as a batch of one span, so every field round-trips.
    static func encode(_ span: Span, tenant: Tenant) -> [UInt8] {
        TenantBatch(tenant: tenant, batch: .traces([span])).encoded()
    }

    /// Reads back a `span` column.
    /// - Throws: `dataCorrupted` when the bytes are not one encoded span.
    static func decodeSpan(_ bytes: [UInt8]) throws -> Span {
        guard case .traces(let spans) = try TenantBatch(decoding: bytes).batch, spans.count == 1, let span = spans.first else {
            throw SightlineError(.dataCorrupted, "a \(spansTable).span value does not hold exactly one span")
        }
        return span
    }

    // MARK: Retention

    /// Drops the day partitions of both tables whose whole day ends at or before `cutoffNano` (every span in them
    /// started before it), for every tenant at once: ClickHouse partitions are shared by tenants.
    /// - Returns: the days dropped (as `YYYYMMDD` partition ids), sorted, without repeats.
    /// - Throws: `unavailable` when ClickHouse cannot be reached; partitions dropped before a failure stay dropped.
    @discardableResult
    package func dropPartitions(olderThan cutoffNano: UInt64) async throws -> [String] {
        // Day d covers [d, d + 1): it is wholly older when d + 1 <= the cutoff's day start.
        let firstKept = Int64(cutoffNano / Self.nanosPerDay)
        var dropped = Set<String>()
        for table in [Self.spansTable, Self.indexTable] {
            dropped.formUnion(try await client.dropDayPartitions(of: table, before: firstKept))
        }
        return dropped.sorted()
    }

    // MARK: Days

    static let nanosPerDay: UInt64 = 86_400 * 1_000_000_000

    /// The day (since the epoch, UTC) a start time falls in: the `day` column and the partition.
    static func day(_ nano: UInt64) -> Int64 { Int64(nano / nanosPerDay) }

}
