package import SightlineCore

/// Loki's delete requests on ClickHouse: applied at once as mutations of `logs` (not through the WAL, see
/// ``ExternalDeletingStore``), and recorded in `log_deletions` so that every server lists them.
extension ClickHouseLogStore: ExternalDeletingStore, LogDeletionRequests {
    /// Applies each request: what this server buffers is inserted first; the streams its selector matches among the
    /// rows of its range are listed, then one `ALTER TABLE logs DELETE` removes their rows in the range whose line
    /// passes every line filter (`position` for `|=`/`!=`, RE2's `match` for `|~`/`!~`), and the request is recorded.
    /// Returns once ClickHouse has applied the mutations.
    /// - Throws: `invalidArgument` for a line-filter regex RE2 may read differently from LogQL's engine (nothing is
    ///   deleted then); `internal` for another signal; `unavailable` when ClickHouse cannot be reached or is too slow.
    package func delete(_ deletions: SignalBatch, tenant: Tenant) async throws {
        guard case .logs(let batch) = deletions else {
            throw SightlineError(.internal, "\(deletions.signal) deletions sent to the ClickHouse log store")
        }
        let filters = try batch.deletions.map { try $0.lineFilters.map(Self.sqlCondition) }
        try await flush()
        var submitted = false
        for (deletion, lineConditions) in zip(batch.deletions, filters) {
            let end = deletion.endNano == .max ? UInt64.max : deletion.endNano + 1
            let range = TimeRange(startNano: deletion.startNano, endNano: end)
            let sql = Self.streamsSQL(tenant: tenant, matchers: deletion.matchers, range: range, counting: false)
            let ids = try Self.streams(try await client.query(sql), matchers: deletion.matchers, counting: false).map(\.id)
            for list in ClickHouseSQL.inLists(ids) {
                let conditions = [Self.rowCondition(tenant: tenant, range: range), "stream_id IN (\(list))"] + lineConditions
                try await client.execute("ALTER TABLE \(Self.table) DELETE WHERE " + conditions.joined(separator: " AND "))
                submitted = true
            }
            try await client.execute(
                """
                INSERT INTO log_deletions (tenant, request_id, query, start_ns, end_ns, created_at_ms) VALUES
                (\(ClickHouseSQL.quote(tenant.id)), \(ClickHouseSQL.quote(deletion.requestID)), \(ClickHouseSQL.quote(deletion.query)),
                 \(deletion.startNano), \(deletion.endNano), \(deletion.createdAtMs))
                """)
        }
        if submitted { try await client.waitForMutations(of: [Self.table]) }
    }

    /// The requests of `tenant` from `log_deletions`, oldest first (selectors and filters are not kept: the list shows
    /// the query as written); none when ClickHouse cannot be reached.
    package func deletionRequests(tenant: Tenant) -> [LogDeletion] {
        let sql = """
            SELECT request_id, query, start_ns, end_ns, created_at_ms FROM log_deletions WHERE tenant = \(ClickHouseSQL.quote(tenant.id))
            ORDER BY created_at_ms, request_id FORMAT RowBinary
            """
        let client = self.client
        guard let bytes = try? ClickHouseClient.blocking({ try await client.query(sql) }) else { return [] }
        return (try? decodeRowBinary(bytes) { reader in
            let id = try reader.readString()
            let query = try reader.readString()
            let (start, end) = (try reader.readUInt64LE(), try reader.readUInt64LE())
            return LogDeletion(
                requestID: id, query: query, matchers: [], startNano: start, endNano: end, createdAtMs: Int64(bitPattern: try reader.readUInt64LE()))
        }) ?? []
    }

    /// The SQL of a line filter: any alternative (`or`) holds or matches for `|=`/`|~`, none for `!=`/`!~`; an empty
    /// text is in every line.
    static func sqlCondition(_ filter: LogDeletion.LineFilter) throws -> String {
        let alternatives: [String]
        switch filter.kind {
        case .contains, .notContains:
            alternatives = filter.values.map { $0.isEmpty ? "1" : "position(line, \(ClickHouseSQL.quote($0))) > 0" }
        case .regex, .notRegex:
            alternatives = try filter.values.map { pattern in
                guard isPortableRegex(pattern) else {
                    throw SightlineError(
                        .invalidArgument,
                        "the line filter regex \"\(pattern)\" cannot be run in ClickHouse as LogQL reads it; use plain text, classes, groups and repetition")
                }
                return "match(line, \(ClickHouseSQL.quote(pattern)))"
            }
        }
        let any = "(" + alternatives.joined(separator: " OR ") + ")"
        return filter.kind == .contains || filter.kind == .regex ? any : "NOT " + any
    }
}
