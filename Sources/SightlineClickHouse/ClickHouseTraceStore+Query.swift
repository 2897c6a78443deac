package import SightlineCore

/// The read side: single traces, recent spans, searches, services, operations, dependencies. Every query filters by
/// tenant, and by time both on `start_ns` and on the `day` partition key, so ClickHouse reads only the days asked for
/// and only matching rows leave it.
extension ClickHouseTraceStore {
    // MARK: SpanQuerier

    /// Every span of trace `id`: the days it lives in from `trace_index`, then those partitions of `trace_spans`.
    /// Sorted by start time, ties in the order the spans were applied; exact duplicates (a replayed insert) once.
    package func trace(tenant: Tenant, id: TraceID) throws -> [Span] {
        try ClickHouseClient.blocking { try await self.traceAsync(tenant: tenant, id: id) }
    }

    /// ``trace(tenant:id:)`` for async callers.
    package func traceAsync(tenant: Tenant, id: TraceID) async throws -> [Span] {
        let traceCondition = "tenant = \(ClickHouseSQL.quote(tenant.id)) AND trace_hi = \(id.high) AND trace_lo = \(id.low)"
        let dayRows = try await client.query("SELECT DISTINCT toUInt16(day) FROM \(Self.indexTable) WHERE \(traceCondition) FORMAT RowBinary")
        let days = try decodeRowBinary(dayRows) { try $0.readUInt16LE() }
        guard !days.isEmpty else { return [] }
        let dayList = days.sorted().map { ClickHouseSQL.date(day: Int64($0)) }.joined(separator: ", ")
        let answer = try await client.query(
            """
            SELECT span FROM \(Self.spansTable) WHERE day IN (\(dayList)) AND \(traceCondition)
            ORDER BY start_ns, wal_segment, wal_offset, wal_row FORMAT RowBinary
            """)
        return try Self.decodeDistinctSpans(answer).spans
    }

    /// The spans of `tenant` that start in `range`, newest first (ties: the later applied first), at most `limit`.
    /// Exact duplicates (a replayed insert) count once: when they shorten the answer, it is asked again for more rows.
    package func spans(tenant: Tenant, in range: TimeRange, limit: Int) throws -> [Span] {
        guard limit > 0 else { return [] }
        let scope = Self.scope(tenant, range)
        return try ClickHouseClient.blocking {
            var rows = limit
            while true {
                let answer = try await self.client.query(
                    """
                    SELECT span FROM \(Self.spansTable) WHERE \(scope)
                    ORDER BY start_ns DESC, wal_segment DESC, wal_offset DESC, wal_row DESC LIMIT \(rows) FORMAT RowBinary
                    """)
                let (spans, read) = try Self.decodeDistinctSpans(answer)
                if spans.count >= limit || read < rows { return Array(spans.prefix(limit)) }
                rows = rows > Int.max / 2 ? Int.max : rows * 2
            }
        }
    }

    /// Decodes a `FORMAT RowBinary` answer of one `span` column, keeping the first of identical values, and says how
    /// many rows the answer had.
    private static func decodeDistinctSpans(_ answer: [UInt8]) throws -> (spans: [Span], rows: Int) {
        var seen = Set<[UInt8]>()
        var spans: [Span] = []
        let rows = try decodeRowBinary(answer) { try $0.readBytes() }
        for bytes in rows where seen.insert(bytes).inserted {
            spans.append(try decodeSpan(bytes))
        }
        return (spans, rows.count)
    }

    // MARK: TraceSource

    package func services(tenant: Tenant, range: TimeRange) throws -> [String] {
        try ClickHouseClient.blocking {
            let answer = try await self.client.query(
                "SELECT DISTINCT service FROM \(Self.spansTable) WHERE \(Self.scope(tenant, range)) FORMAT RowBinary")
            return try decodeRowBinary(answer) { try $0.readString() }.sorted()
        }
    }

    package func operations(tenant: Tenant, service: String, kind: Span.Kind?, range: TimeRange) throws -> [TraceOperation] {
        var condition = Self.scope(tenant, range) + " AND service = \(ClickHouseSQL.quote(service))"
        if let kind { condition += " AND kind = \(kind.rawValue)" }
        let sql = "SELECT DISTINCT name, kind FROM \(Self.spansTable) WHERE \(condition) FORMAT RowBinary"
        return try ClickHouseClient.blocking {
            try decodeRowBinary(try await self.client.query(sql)) { reader in
                let name = try reader.readString()
                let raw = Int32(bitPattern: try reader.readUInt32LE())
                guard let kind = Span.Kind(rawValue: raw) else {
                    throw SightlineError(.dataCorrupted, "\(Self.spansTable) holds span kind \(raw), which is not a kind")
                }
                return TraceOperation(name: name, kind: kind)
            }.sorted()
        }
    }

    /// The traces with a span matching every condition of `query`, all of them evaluated by ClickHouse on one row;
    /// newest first by their newest matching span, ties by trace id descending (as the embedded store), at most
    /// `query.limit`.
    package func findTraces(_ query: TraceQuery) throws -> [TraceID] {
        guard query.limit > 0 else { return [] }
        let sql = """
            SELECT trace_hi, trace_lo, max(start_ns) AS newest FROM \(Self.spansTable) WHERE \(Self.conditions(query))
            GROUP BY trace_hi, trace_lo ORDER BY newest DESC, trace_hi DESC, trace_lo DESC LIMIT \(query.limit) FORMAT RowBinary
            """
        return try ClickHouseClient.blocking {
            try decodeRowBinary(try await self.client.query(sql)) { reader in
                let id = TraceID(high: try reader.readUInt64LE(), low: try reader.readUInt64LE())
                _ = try reader.readUInt64LE()
                return id
            }
        }
    }

    /// The most spans one answer of ``forEachSpan(matching:_:)`` should carry: the range is read in pieces of whole
    /// minutes holding about this many matching spans (one busier minute is one piece).
    static let scanPieceSpans: UInt64 = 100_000

    /// Every span matching `query`: ClickHouse filters by all but the span predicate, which is checked here. Exact
    /// duplicates (a replayed insert) count once. The matching spans are counted per minute first, and read in pieces
    /// of consecutive minutes, so that one answer never holds more than a piece.
    package func forEachSpan(matching query: TraceQuery, _ visit: (Span) throws -> Void) throws {
        try forEachSpan(matching: query, pieceSpans: Self.scanPieceSpans, visit)
    }

    /// ``forEachSpan(matching:_:)`` in pieces of about `pieceSpans` spans.
    func forEachSpan(matching query: TraceQuery, pieceSpans: UInt64, _ visit: (Span) throws -> Void) throws {
        let minute: UInt64 = 60_000_000_000
        let counting = """
            SELECT intDiv(start_ns, \(minute)) AS minute, count() FROM \(Self.spansTable) WHERE \(Self.conditions(query))
            GROUP BY minute ORDER BY minute FORMAT RowBinary
            """
        let perMinute = try ClickHouseClient.blocking {
            try decodeRowBinary(try await self.client.query(counting)) { (try $0.readUInt64LE(), try $0.readUInt64LE()) }
        }
        var pieces: [TimeRange] = []
        var current: (start: UInt64, end: UInt64, spans: UInt64)?
        for (number, spans) in perMinute {
            let start = number * minute
            if let piece = current, piece.spans + spans <= pieceSpans {
                current = (piece.start, start + minute, piece.spans + spans)
            } else {
                if let piece = current { pieces.append(TimeRange(startNano: piece.start, endNano: piece.end)) }
                current = (start, start + minute, spans)
            }
        }
        if let piece = current { pieces.append(TimeRange(startNano: piece.start, endNano: piece.end)) }
        for piece in pieces {
            var part = query
            part.range = TimeRange(startNano: max(query.range.startNano, piece.startNano), endNano: min(query.range.endNano, piece.endNano))
            let sql = "SELECT span FROM \(Self.spansTable) WHERE \(Self.conditions(part)) FORMAT RowBinary"
            let answer = try ClickHouseClient.blocking { try await self.client.query(sql) }
            var seen = Set<[UInt8]>()
            for bytes in try decodeRowBinary(answer, { try $0.readBytes() }) where seen.insert(bytes).inserted {
                let span = try Self.decodeSpan(bytes)
                if query.predicate.map({ $0(span) }) ?? true { try visit(span) }
            }
        }
    }

    /// The WHERE clause of a search: ``TraceQuery/matches(_:)`` in SQL, without the span predicate (which ClickHouse
    /// cannot run; the caller checks the traces it gets).
    static func conditions(_ query: TraceQuery) -> String {
        var parts = [scope(query.tenant, query.range)]
        if let service = query.service { parts.append("service = \(ClickHouseSQL.quote(service))") }
        if let operation = query.operation { parts.append("name = \(ClickHouseSQL.quote(operation))") }
        if let kind = query.kind { parts.append("kind = \(kind.rawValue)") }
        if let status = query.status { parts.append("status = \(status.rawValue)") }
        if query.rootSpans { parts.append("parent_id = 0") }
        if let minimum = query.minDurationNano { parts.append("duration_ns >= \(minimum)") }
        if let maximum = query.maxDurationNano { parts.append("duration_ns <= \(maximum)") }
        for tag in query.tags {
            parts.append(
                "arrayExists((k, v) -> k = \(ClickHouseSQL.quote(tag.key)) AND v = \(ClickHouseSQL.quote(tag.value)), tag_keys, tag_values)")
        }
        return parts.joined(separator: " AND ")
    }

    /// The caller → callee edges, counted by ClickHouse: spans of the range joined to their parent span (same trace,
    /// also in the range) on the parent's span id; one call per child span whose parent's service differs.
    package func dependencies(tenant: Tenant, range: TimeRange) throws -> [DependencyLink] {
        let scope = Self.scope(tenant, range)
        // DISTINCT on the children drops replayed duplicates; the parents side has one row per span id.
        let sql = """
            SELECT parent_service, child_service, count() FROM (
                SELECT DISTINCT trace_hi, trace_lo, span_id AS child_id, parent_id AS join_id, service AS child_service
                FROM \(Self.spansTable) WHERE \(scope) AND parent_id != 0
            ) ANY INNER JOIN (
                SELECT trace_hi, trace_lo, span_id AS join_id, any(service) AS parent_service
                FROM \(Self.spansTable) WHERE \(scope) GROUP BY trace_hi, trace_lo, span_id
            ) USING (trace_hi, trace_lo, join_id)
            WHERE parent_service != child_service
            GROUP BY parent_service, child_service FORMAT RowBinary
            """
        return try ClickHouseClient.blocking {
            try decodeRowBinary(try await self.client.query(sql)) { reader in
                DependencyLink(parent: try reader.readString(), child: try reader.readString(), callCount: Int(clamping: try reader.readUInt64LE()))
            }.sorted()
        }
    }

    // MARK: SQL pieces

    /// Days from this one on are left out of the `day` bounds: `Date` does not reach far past it, and rows whose
    /// day was clamped on insert must still match their `start_ns`.
    private static let lastBoundedDay: Int64 = 47_482  // 2100-01-01

    /// The tenant and the time range: `start_ns` for exactness, `day` so ClickHouse skips other partitions.
    static func scope(_ tenant: Tenant, _ range: TimeRange) -> String {
        var parts = ["tenant = \(ClickHouseSQL.quote(tenant.id))"]
        if range.startNano > 0 {
            parts.append("start_ns >= \(range.startNano)")
            let first = day(range.startNano)
            if first < lastBoundedDay { parts.append("day >= \(ClickHouseSQL.date(day: first))") }
        }
        if range.endNano < .max {
            parts.append("start_ns < \(range.endNano)")
            let last = range.endNano == 0 ? 0 : day(range.endNano - 1)
            if last < lastBoundedDay { parts.append("day <= \(ClickHouseSQL.date(day: last))") }
        }
        return parts.joined(separator: " AND ")
    }
}
