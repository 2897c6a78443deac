import Foundation
package import SightlineCore
import SightlineStorageCore
import Synchronization

/// The metrics store over ClickHouse: the embedded TSDB's ``SignalStore`` and ``MetricQuerier`` contracts, with the
/// series and samples in ClickHouse so that any number of stateless servers can write and query them.
///
/// Four tables (see ``schema``):
/// - `metric_series`: one row per series and day it has samples (`tenant`, `metric_name`, `series_id` — a stable hash
///   of the sorted labels —, the label names and values as two arrays, `day`). A ReplacingMergeTree partitioned by day
///   and ordered by `(tenant, metric_name, series_id)`, so a selector's metric name is a primary-key range and the
///   other matchers run over the label arrays of that range only.
/// - `metric_samples`: `(tenant, series_id, ts, value, day, version)`, a ReplacingMergeTree(version) partitioned by
///   day and ordered by `(tenant, series_id, ts)`: a series' samples in a time range are one key range.
/// - `metric_metadata`: type, help and unit per `(tenant, metric_family)`, the newest write winning.
/// - `metric_exemplars`: `(tenant, series_id, ts, value, label_names, label_values, day, version)`, keyed like the
///   samples (one exemplar per series and millisecond, the last in WAL order winning); their series get series rows.
///
/// Writes go through one ``ClickHouseTableWriter`` per table: ``apply(_:at:)`` encodes rows, ``flush()`` (the
/// caller's timer) and ``persist(throughSegment:)`` insert them. Which `(series, day)` rows were written is
/// remembered in memory, so a series row is written once per day, not once per batch; after a restart a series is
/// written once more, which the ReplacingMergeTree collapses.
///
/// Values are stored as `Float64` with their exact bits: RowBinary and MergeTree keep NaN payloads, so the staleness
/// marker (``StaleNaN``) comes back as itself.
///
/// Differences from the embedded TSDB, by design:
/// - Out-of-order samples and duplicates are not refused at admission (the store does not hold each series' newest
///   sample): any sample is admitted, and samples at the same `(tenant, series, ts)` collapse in ClickHouse to the one
///   written last in WAL order (`version` is the WAL position; queries pick it with `argMax`, merges keep it). The
///   embedded engine instead refuses a conflicting duplicate and keeps the first value. Within one batch a conflicting
///   duplicate is still refused (`duplicate_sample`), as the embedded engine does.
/// - `labelNames`/`labelValues` (and the series `select` considers) are limited to the days the time range touches,
///   not to series with a sample inside the exact range.
/// - Regex matchers run as ClickHouse's RE2 (`match`, anchored as `^(?:re)$`) instead of Swift's regex engine; the
///   syntax PromQL uses (RE2's) is the same.
/// - There is no per-tenant series limit.
/// - Exemplars are kept by the day partitions' retention, not in a ring of the newest; out-of-order exemplars are
///   kept, and exemplars with labels longer than ``MetricExemplar/maxLabelSetLength`` are left out without a count.
/// - Deletions (`delete_series`) run in ClickHouse at once (``ExternalDeletingStore``), as mutations of the samples and
///   exemplars of the matching series in the range, not through the WAL: rows other servers still hold in their
///   buffers, or bring back from their WAL after a crash, are not deleted. Series rows stay (the labels APIs may
///   still list a series whose samples are gone, as they list the series of a day).
package final class ClickHouseMetricStore: SignalStore, MetricQuerier, ExemplarQuerier, ExternalDeletingStore {
    /// Settings of the store.
    package struct Options: Sendable {
        /// Most samples in one request; 0 means no limit (as the embedded engine's option of the same name).
        package var maxSamplesPerRequest: Int = 0

        package init() {}
    }

    package let signal = Signal.metrics
    private let client: ClickHouseClient
    private let options: Options
    private let seriesWriter: ClickHouseTableWriter
    private let samplesWriter: ClickHouseTableWriter
    private let metadataWriter: ClickHouseTableWriter
    private let exemplarsWriter: ClickHouseTableWriter
    /// Series rows already written, per day.
    private let written = Mutex(WrittenSeries())

    static let seriesTable = "metric_series"
    static let samplesTable = "metric_samples"
    static let metadataTable = "metric_metadata"
    static let exemplarsTable = "metric_exemplars"
    static let seriesColumns = ["tenant", "metric_name", "series_id", "label_names", "label_values", "day"]
    static let samplesColumns = ["tenant", "series_id", "ts", "value", "day", "version"]
    static let metadataColumns = ["tenant", "metric_family", "kind", "help", "unit", "version"]
    static let exemplarsColumns = ["tenant", "series_id", "ts", "value", "label_names", "label_values", "day", "version"]

    /// The tables, created once per database by ``ClickHouseSchema/migrate(_:)``.
    package static let schema = ClickHouseSchema(
        component: "metrics",
        steps: [
            """
            CREATE TABLE IF NOT EXISTS \(seriesTable) (tenant String, metric_name String, series_id UInt64,
                label_names Array(String), label_values Array(String), day Date)
            ENGINE = ReplacingMergeTree PARTITION BY day ORDER BY (tenant, metric_name, series_id)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(samplesTable) (tenant String, series_id UInt64, ts Int64, value Float64, day Date,
                version UInt64)
            ENGINE = ReplacingMergeTree(version) PARTITION BY day ORDER BY (tenant, series_id, ts)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(metadataTable) (tenant String, metric_family String, kind UInt8, help String,
                unit String, version UInt64)
            ENGINE = ReplacingMergeTree(version) ORDER BY (tenant, metric_family)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(exemplarsTable) (tenant String, series_id UInt64, ts Int64, value Float64,
                label_names Array(String), label_values Array(String), day Date, version UInt64)
            ENGINE = ReplacingMergeTree(version) PARTITION BY day ORDER BY (tenant, series_id, ts)
            """,
        ])

    /// Opens the store: migrates the tables and reads the writers' checkpoints.
    /// - Parameter checkpointDirectory: a directory of the server's own (created when missing) where each table's
    ///   last fully inserted WAL segment is remembered.
    /// - Throws: `unavailable` when ClickHouse cannot be reached, `invalidArgument` when it refuses the schema,
    ///   `dataCorrupted` for a damaged checkpoint file, `io` when the directory cannot be created.
    package init(client: ClickHouseClient, checkpointDirectory: String, options: Options = Options()) async throws {
        self.client = client
        self.options = options
        try POSIXFile.createDirectory(checkpointDirectory)
        try await Self.schema.migrate(client)
        func writer(_ table: String, _ columns: [String]) throws -> ClickHouseTableWriter {
            try ClickHouseTableWriter(client: client, table: table, columns: columns, checkpointPath: checkpointDirectory + "/" + table + ".segment")
        }
        seriesWriter = try writer(Self.seriesTable, Self.seriesColumns)
        samplesWriter = try writer(Self.samplesTable, Self.samplesColumns)
        metadataWriter = try writer(Self.metadataTable, Self.metadataColumns)
        exemplarsWriter = try writer(Self.exemplarsTable, Self.exemplarsColumns)
    }

    private var writers: [ClickHouseTableWriter] { [seriesWriter, metadataWriter, exemplarsWriter, samplesWriter] }

    // MARK: SignalStore

    /// Admits every sample but those past `maxSamplesPerRequest` and conflicting duplicates inside the batch (same
    /// series and time, other value bits); see the type's documentation for what the embedded engine refuses besides.
    package func admit(_ batch: TenantBatch) -> Admission {
        guard case .metrics(let metrics) = batch.batch else { return Admission(batch: batch.batch) }
        var rejections: [String: Int] = [:]
        var message = ""
        var samples = metrics.samples[...]
        let limit = options.maxSamplesPerRequest
        if limit > 0 && samples.count > limit {
            rejections["too_many_samples"] = samples.count - limit
            message = "request has \(samples.count) samples, more than the limit of \(limit) per request"
            samples = samples.prefix(limit)
        }
        var seen: [SeriesTime: UInt64] = [:]
        var kept: [MetricSample] = []
        kept.reserveCapacity(samples.count)
        for sample in samples {
            let key = SeriesTime(labels: sample.labels, timestampMs: sample.timestampMs)
            let bits = sample.value.bitPattern
            if let earlier = seen[key] {
                if earlier == bits { continue }
                rejections["duplicate_sample", default: 0] += 1
                if message.isEmpty {
                    message = "sample for series \(sample.labels) at \(sample.timestampMs) has value \(sample.value), but a sample at "
                        + "that time with a different value is earlier in the same request"
                }
                continue
            }
            seen[key] = bits
            kept.append(sample)
        }
        return Admission(batch: .metrics(MetricBatch(samples: kept, metadata: metrics.metadata, exemplars: metrics.exemplars)), rejections: rejections, message: message)
    }

    /// Encodes the batch's samples, the series rows not yet written for their days, and its metadata into the table
    /// writers; starts an insert in the background when a writer's buffer is full.
    /// - Throws: `internal` for a batch of another signal.
    package func apply(_ batch: TenantBatch, at position: WALPosition) throws {
        guard case .metrics(let metrics) = batch.batch else {
            throw SightlineError(.internal, "\(batch.batch.signal) batch sent to the ClickHouse metric store")
        }
        let tenant = batch.tenant.id
        let version = Self.version(of: position)
        // One hash per distinct series of the batch.
        var ids: [Labels: UInt64] = [:]
        var candidates: [SeriesDay: Labels] = [:]
        func row(_ labels: Labels, _ timestampMs: Int64) -> (id: UInt64, day: Int64) {
            let id: UInt64
            if let known = ids[labels] {
                id = known
            } else {
                id = Self.seriesID(labels)
                ids[labels] = id
            }
            let day = Self.day(ofMs: timestampMs)
            candidates[SeriesDay(tenant: tenant, seriesID: id, day: day)] = labels
            return (id, day)
        }
        let rows = metrics.samples.map { row($0.labels, $0.timestampMs) }
        let exemplars = metrics.exemplars.filter { $0.labelSetLength <= MetricExemplar.maxLabelSetLength }
        let exemplarRows = exemplars.map { row($0.series, $0.timestampMs) }
        let newSeries = written.withLock { written in candidates.filter { written.insert($0.key) } }
        if !newSeries.isEmpty {
            seriesWriter.append { writer in
                for (key, labels) in newSeries {
                    writer.writeString(tenant)
                    writer.writeString(labels.metricName)
                    writer.writeUInt64LE(key.seriesID)
                    writer.writeStringArray(labels.labels.map(\.name))
                    writer.writeStringArray(labels.labels.map(\.value))
                    writer.writeDate(days: key.day)
                }
            }
        }
        if !metrics.samples.isEmpty {
            samplesWriter.append { writer in
                for (sample, row) in zip(metrics.samples, rows) {
                    writer.writeString(tenant)
                    writer.writeUInt64LE(row.id)
                    writer.writeInt64LE(sample.timestampMs)
                    writer.writeUInt64LE(sample.value.bitPattern)  // Float64's RowBinary: its little-endian bits
                    writer.writeDate(days: row.day)
                    writer.writeUInt64LE(version)
                }
            }
        }
        if !exemplars.isEmpty {
            exemplarsWriter.append { writer in
                for (exemplar, row) in zip(exemplars, exemplarRows) {
                    writer.writeString(tenant)
                    writer.writeUInt64LE(row.id)
                    writer.writeInt64LE(exemplar.timestampMs)
                    writer.writeUInt64LE(exemplar.value.bitPattern)
                    writer.writeStringArray(exemplar.labels.labels.map(\.name))
                    writer.writeStringArray(exemplar.labels.labels.map(\.value))
                    writer.writeDate(days: row.day)
                    writer.writeUInt64LE(version)
                }
            }
        }
        if !metrics.metadata.isEmpty {
            // The last entry of a family wins, as in the embedded engine (equal versions would tie in ClickHouse).
            var latest: [String: MetricMetadata] = [:]
            for entry in metrics.metadata { latest[entry.metricFamily] = entry }
            metadataWriter.append { writer in
                for entry in latest.values {
                    writer.writeString(tenant)
                    writer.writeString(entry.metricFamily)
                    writer.writeByte(entry.kind.rawValue)
                    writer.writeString(entry.help)
                    writer.writeString(entry.unit)
                    writer.writeUInt64LE(version)
                }
            }
        }
    }

    /// Inserts every row applied from WAL segments up to `segment`: series first, so that no sample is visible
    /// without its series, then metadata, exemplars and samples.
    package func persist(throughSegment segment: Int) async throws {
        for writer in writers { try await writer.persist(throughSegment: segment) }
    }

    /// The highest WAL segment whose rows are in ClickHouse in every table.
    package var persistedSegment: Int { writers.map(\.persistedSegment).min() ?? -1 }

    /// Inserts what is buffered now, without claiming a segment; the server calls it on a timer so that samples are
    /// queryable within seconds of arriving.
    package func flush() async throws {
        for writer in writers { try await writer.flush() }
    }

    // MARK: Retention

    /// Drops the day partitions of series, samples and exemplars whose newest day is before the day of `cutoffMs` (ms since the
    /// epoch), listing them from `system.parts`; returns the dropped partitions as `table:day`. Metadata is kept.
    @discardableResult
    package func dropPartitions(olderThan cutoffMs: Int64) async throws -> [String] {
        let cutoffDay = Self.day(ofMs: cutoffMs)
        var dropped: [String] = []
        for table in [Self.samplesTable, Self.exemplarsTable, Self.seriesTable] {
            dropped += try await client.dropDayPartitions(of: table, before: cutoffDay).map { "\(table):\(ClickHouseClient.isoDay(partitionID: $0))" }
        }
        // Series of those days must be written again should samples of them arrive.
        written.withLock { $0.forget(before: cutoffDay) }
        return dropped
    }

    // MARK: Deletion

    /// Deletes the samples and exemplars of the series each deletion's matchers select (series rows of the days its
    /// range touches) in its range: what this server buffers is inserted first, then one `ALTER TABLE … DELETE` per
    /// table and deletion (series ids listed, at most 10,000 per statement), and the answer waits until ClickHouse has
    /// applied every mutation of the two tables (polling `system.mutations`, at most 5 minutes).
    /// - Throws: `internal` for another signal's batch; `unavailable` when ClickHouse cannot be reached or has not
    ///   finished in time.
    package func delete(_ deletions: SignalBatch, tenant: Tenant) async throws {
        guard case .metrics(let batch) = deletions else {
            throw SightlineError(.internal, "\(deletions.signal) deletions sent to the ClickHouse metric store")
        }
        try await flush()
        var submitted = false
        for deletion in batch.deletions {
            let condition = Self.seriesCondition(tenant: tenant, matchers: deletion.matchers, startMs: deletion.startMs, endMs: deletion.endMs)
            let bytes = try await client.query("SELECT DISTINCT series_id FROM \(Self.seriesTable) WHERE \(condition) FORMAT RowBinary")
            let ids = try decodeRowBinary(bytes) { try $0.readUInt64LE() }
            var range = ""
            if deletion.startMs > .min { range += " AND ts >= \(deletion.startMs)" }
            if deletion.endMs < .max { range += " AND ts <= \(deletion.endMs)" }
            for list in ClickHouseSQL.inLists(ids) {
                for table in [Self.samplesTable, Self.exemplarsTable] {
                    try await client.execute(
                        "ALTER TABLE \(table) DELETE WHERE tenant = \(ClickHouseSQL.quote(tenant.id)) AND series_id IN (\(list))\(range)")
                    submitted = true
                }
            }
        }
        if submitted { try await client.waitForMutations(of: [Self.samplesTable, Self.exemplarsTable]) }
    }

    // MARK: MetricQuerier

    /// Two queries at once: the matching series rows of the range's days (their labels), and the samples in
    /// `[startMs, endMs]` of those series (`series_id IN` the same series query), one per timestamp — the newest
    /// version — in series and time order. Series without samples in the range are left out; the answer is sorted by
    /// labels, as the embedded engine's.
    /// - Throws: `unavailable` when ClickHouse cannot be reached, `invalidArgument` when it refuses the query (a regex
    ///   RE2 does not take).
    package func select(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [SeriesSamples] {
        guard startMs <= endMs else { return [] }
        let seriesWhere = Self.seriesCondition(tenant: tenant, matchers: matchers, startMs: startMs, endMs: endMs)
        let seriesSQL = Self.seriesLabelsSQL(seriesWhere)
        let samplesSQL = """
            SELECT series_id, ts, argMax(value, version) FROM \(Self.samplesTable)
            WHERE tenant = \(ClickHouseSQL.quote(tenant.id)) AND \(Self.dayCondition(startMs: startMs, endMs: endMs))
              AND ts >= \(startMs) AND ts <= \(endMs)
              AND series_id IN (SELECT series_id FROM \(Self.seriesTable) WHERE \(seriesWhere))
            GROUP BY series_id, ts ORDER BY series_id, ts FORMAT RowBinary
            """
        let client = self.client
        let (seriesBytes, sampleBytes) = try ClickHouseClient.blocking {
            async let series = client.query(seriesSQL)
            async let samples = client.query(samplesSQL)
            return try await (series, samples)
        }
        let labelsByID = try Self.labelsByID(seriesBytes)
        var result: [SeriesSamples] = []
        var current: SeriesSamples?
        var currentID: UInt64 = 0
        try sampleBytes.withUnsafeBytes { raw in
            var reader = ByteReader(raw)
            while !reader.isAtEnd {
                let id = try reader.readUInt64LE()
                let ts = try reader.readInt64LE()
                let value = Double(bitPattern: try reader.readUInt64LE())
                if current == nil || id != currentID {
                    if let done = current { result.append(done) }
                    // A series row dropped by retention while its samples remain: nothing to label them with.
                    current = labelsByID[id].map { SeriesSamples(labels: $0) }
                    currentID = id
                    if current == nil { continue }
                }
                current?.timestampsMs.append(ts)
                current?.values.append(value)
            }
        }
        if let done = current { result.append(done) }
        return result.sorted { $0.labels < $1.labels }
    }

    /// The exemplars in `[startMs, endMs]` of the series rows any selector matches (as ``select(tenant:matchers:startMs:endMs:)``
    /// matches them), one per series and millisecond (the newest version), sorted by series labels.
    package func exemplars(tenant: Tenant, selectors: [[LabelMatcher]], startMs: Int64, endMs: Int64) throws -> [SeriesExemplars] {
        guard startMs <= endMs, !selectors.isEmpty else { return [] }
        let seriesWhere = selectors.map { "(" + Self.seriesCondition(tenant: tenant, matchers: $0, startMs: startMs, endMs: endMs) + ")" }
            .joined(separator: " OR ")
        let seriesSQL = Self.seriesLabelsSQL(seriesWhere)
        let exemplarsSQL = """
            SELECT series_id, ts, argMax(value, version), argMax(label_names, version), argMax(label_values, version)
            FROM \(Self.exemplarsTable)
            WHERE tenant = \(ClickHouseSQL.quote(tenant.id)) AND \(Self.dayCondition(startMs: startMs, endMs: endMs))
              AND ts >= \(startMs) AND ts <= \(endMs)
              AND series_id IN (SELECT series_id FROM \(Self.seriesTable) WHERE \(seriesWhere))
            GROUP BY series_id, ts ORDER BY series_id, ts FORMAT RowBinary
            """
        let client = self.client
        let (seriesBytes, exemplarBytes) = try ClickHouseClient.blocking {
            async let series = client.query(seriesSQL)
            async let exemplars = client.query(exemplarsSQL)
            return try await (series, exemplars)
        }
        let labelsByID = try Self.labelsByID(seriesBytes)
        var result: [SeriesExemplars] = []
        for (id, ts, bits, names, values) in try decodeRowBinary(exemplarBytes, { reader in
            (try reader.readUInt64LE(), try reader.readInt64LE(), try reader.readUInt64LE(), try reader.readStringArray(), try reader.readStringArray())
        }) {
            // A series row dropped by retention while its exemplars remain: nothing to label them with.
            guard let series = labelsByID[id] else { continue }
            let exemplar = MetricExemplar(
                series: series, labels: try Self.labels(names: names, values: values), timestampMs: ts, value: Double(bitPattern: bits))
            if result.last?.series == series {
                result[result.count - 1].exemplars.append(exemplar)
            } else {
                result.append(SeriesExemplars(series: series, exemplars: [exemplar]))
            }
        }
        return result.sorted { $0.series < $1.series }
    }

    /// The distinct names in the label arrays of the matching series rows of the range's days.
    package func labelNames(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] {
        guard startMs <= endMs else { return [] }
        let sql = """
            SELECT DISTINCT arrayJoin(label_names) FROM \(Self.seriesTable)
            WHERE \(Self.seriesCondition(tenant: tenant, matchers: matchers, startMs: startMs, endMs: endMs)) FORMAT RowBinary
            """
        return try strings(sql).sorted()
    }

    /// The distinct values of `name` over the matching series rows of the range's days (`metric_name` for `__name__`).
    package func labelValues(tenant: Tenant, name: String, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] {
        guard startMs <= endMs else { return [] }
        let condition = Self.seriesCondition(tenant: tenant, matchers: matchers, startMs: startMs, endMs: endMs)
        let sql: String
        if name == Labels.metricName {
            sql = "SELECT DISTINCT metric_name FROM \(Self.seriesTable) WHERE \(condition) AND metric_name != '' FORMAT RowBinary"
        } else {
            let quoted = ClickHouseSQL.quote(name)
            sql = """
                SELECT DISTINCT label_values[indexOf(label_names, \(quoted))] FROM \(Self.seriesTable)
                WHERE \(condition) AND has(label_names, \(quoted)) FORMAT RowBinary
                """
        }
        return try strings(sql).sorted()
    }

    /// The newest metadata row (by WAL position) of each family, sorted by family.
    package func metadata(tenant: Tenant, metric: String?) throws -> [MetricMetadata] {
        var condition = "tenant = \(ClickHouseSQL.quote(tenant.id))"
        if let metric { condition += " AND metric_family = \(ClickHouseSQL.quote(metric))" }
        let sql = """
            SELECT metric_family, argMax(kind, version), argMax(help, version), argMax(unit, version)
            FROM \(Self.metadataTable) WHERE \(condition) GROUP BY metric_family ORDER BY metric_family FORMAT RowBinary
            """
        let client = self.client
        let bytes = try ClickHouseClient.blocking { try await client.query(sql) }
        return try decodeRowBinary(bytes) { reader in
            let family = try reader.readString()
            let kind = try reader.readByte()
            return MetricMetadata(
                metricFamily: family, kind: MetricMetadata.Kind(rawValue: kind) ?? .unknown, help: try reader.readString(),
                unit: try reader.readString())
        }
    }

    /// Runs a query answering one String column.
    private func strings(_ sql: String) throws -> [String] {
        let client = self.client
        let bytes = try ClickHouseClient.blocking { try await client.query(sql) }
        return try decodeRowBinary(bytes) { try $0.readString() }
    }
}

// MARK: - SQL and encoding helpers

extension ClickHouseMetricStore {
    static let msPerDay: Int64 = 86_400_000

    /// The day (since the epoch) of a time in ms, rounded down; the `Date` column holds 0...65535.
    static func day(ofMs ms: Int64) -> Int64 {
        let day = ms >= 0 ? ms / msPerDay : (ms + 1) / msPerDay - 1
        return min(max(day, 0), Int64(UInt16.max))
    }


    /// The days a time range touches, as a condition on `day` (partition pruning). A range that ends after 2105 has no
    /// upper bound: older ClickHouse releases (18.x) read later dates as 1970.
    static func dayCondition(startMs: Int64, endMs: Int64) -> String {
        let last = day(ofMs: endMs)
        let lower = "day >= \(ClickHouseSQL.date(day: day(ofMs: startMs)))"
        return last > lastReadableDay ? lower : lower + " AND day <= \(ClickHouseSQL.date(day: last))"
    }

    /// 2105-12-31, the last date every supported ClickHouse release reads.
    static let lastReadableDay: Int64 = 49_672

    /// The series rows of `tenant` on the days of the range whose labels satisfy every matcher. `__name__` compares
    /// the `metric_name` column (a primary-key range for `=`); any other label's value is read from the arrays, and is
    /// "" when the series lacks the label, as ``LabelMatcher`` compares it.
    static func seriesCondition(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) -> String {
        var parts = ["tenant = \(ClickHouseSQL.quote(tenant.id))", dayCondition(startMs: startMs, endMs: endMs)]
        for matcher in matchers {
            let value =
                matcher.name == Labels.metricName
                ? "metric_name" : "label_values[indexOf(label_names, \(ClickHouseSQL.quote(matcher.name)))]"
            switch matcher.kind {
            case .equal: parts.append("\(value) = \(ClickHouseSQL.quote(matcher.value))")
            case .notEqual: parts.append("\(value) != \(ClickHouseSQL.quote(matcher.value))")
            case .regexMatch: parts.append("match(\(value), \(ClickHouseSQL.quote("^(?:\(matcher.value))$")))")
            case .regexNoMatch: parts.append("NOT match(\(value), \(ClickHouseSQL.quote("^(?:\(matcher.value))$")))")
            }
        }
        return parts.joined(separator: " AND ")
    }

    /// The labels of the series rows `condition` selects, one row per series (`labelsByID(_:)` reads the answer).
    static func seriesLabelsSQL(_ condition: String) -> String {
        """
        SELECT series_id, any(label_names), any(label_values) FROM \(seriesTable) WHERE \(condition)
        GROUP BY series_id FORMAT RowBinary
        """
    }

    /// The answer of ``seriesLabelsSQL(_:)``: labels by series id.
    static func labelsByID(_ bytes: [UInt8]) throws -> [UInt64: Labels] {
        var labelsByID: [UInt64: Labels] = [:]
        for (id, names, values) in try decodeRowBinary(bytes, { reader in
            (try reader.readUInt64LE(), try reader.readStringArray(), try reader.readStringArray())
        }) {
            labelsByID[id] = try labels(names: names, values: values)
        }
        return labelsByID
    }

    /// The row version of a batch: its WAL position, so the last write in WAL order wins.
    static func version(of position: WALPosition) -> UInt64 {
        UInt64(max(0, position.segment)) << 40 | (UInt64(max(0, position.offset)) & ((1 << 40) - 1))
    }

    /// A hash of the sorted labels that is the same in every process (Swift's `Hasher` is seeded per process):
    /// FNV-1a over names and values, each followed by a 0xFF byte (never in UTF-8), then SplitMix64's finaliser to
    /// spread the bits.
    static func seriesID(_ labels: Labels) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        @inline(__always) func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        for label in labels.labels {
            for byte in label.name.utf8 { mix(byte) }
            mix(0xFF)
            for byte in label.value.utf8 { mix(byte) }
            mix(0xFF)
        }
        hash = (hash ^ (hash >> 30)) &* 0xBF58_476D_1CE4_E5B9
        hash = (hash ^ (hash >> 27)) &* 0x94D0_49BB_1331_11EB
        return hash ^ (hash >> 31)
    }

    /// Rebuilds labels from a series row.
    static func labels(names: [String], values: [String]) throws -> Labels {
        guard names.count == values.count else {
            throw SightlineError(.dataCorrupted, "ClickHouse series row has \(names.count) label names but \(values.count) values")
        }
        return Labels(zip(names, values).map { Label($0, $1) })
    }
}

/// A series of a tenant on one day: the unit of the series table's rows.
private struct SeriesDay: Hashable, Sendable {
    var tenant: String
    var seriesID: UInt64
    var day: Int64
}

/// A series and a time, to find duplicates inside a batch.
private struct SeriesTime: Hashable {
    var labels: Labels
    var timestampMs: Int64
}

/// The series rows written since the store started, by day; days far behind the newest are forgotten (a late sample
/// for them writes its series row again, which ClickHouse collapses).
private struct WrittenSeries: Sendable {
    private var byDay: [Int64: Set<SeriesDay>] = [:]
    private var newestDay: Int64 = .min
    /// Days kept before the newest seen.
    private let keptDays: Int64 = 2

    /// Records `key`; returns whether it was new.
    mutating func insert(_ key: SeriesDay) -> Bool {
        if key.day > newestDay {
            newestDay = key.day
            byDay = byDay.filter { $0.key >= newestDay - keptDays }
        }
        return byDay[key.day, default: []].insert(key).inserted
    }

    /// Forgets the days before `day` (their partitions were dropped).
    mutating func forget(before day: Int64) {
        byDay = byDay.filter { $0.key >= day }
    }
}
