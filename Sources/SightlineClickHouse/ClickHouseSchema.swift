import SightlineCore

/// Creates and migrates the tables of one Sightline store in ClickHouse, at start.
///
/// Each store names its steps in order (`CREATE TABLE IF NOT EXISTS …`, later `ALTER TABLE … ADD COLUMN …`); the
/// applied ones are recorded in `sightline_migrations`, so a step runs once per database however many servers start.
/// Steps must be harmless when two servers race through them at once (IF NOT EXISTS), since ClickHouse has no
/// transactions to serialise them.
package struct ClickHouseSchema: Sendable {
    /// The store the steps belong to: `logs`, `traces`, `metrics`, `audit`.
    package var component: String
    package var steps: [String]

    package init(component: String, steps: [String]) {
        self.component = component
        self.steps = steps
    }

    /// Applies the steps not yet recorded, in order.
    package func migrate(_ client: ClickHouseClient) async throws {
        try await client.execute(
            """
            CREATE TABLE IF NOT EXISTS sightline_migrations (component String, step UInt32, applied DateTime DEFAULT now())
            ENGINE = MergeTree ORDER BY (component, step)
            """)
        let rows = try await client.query(
            "SELECT step FROM sightline_migrations WHERE component = \(ClickHouseSQL.quote(component)) FORMAT TabSeparated")
        let applied = Set(String(decoding: rows, as: UTF8.self).split(separator: "\n").compactMap { Int($0) })
        for (index, statement) in steps.enumerated() where !applied.contains(index) {
            try await client.execute(statement)
            try await client.execute(
                "INSERT INTO sightline_migrations (component, step) VALUES (\(ClickHouseSQL.quote(component)), \(index))")
        }
    }
}

extension ClickHouseClient {
    /// Waits until ClickHouse has applied every mutation (`ALTER TABLE … DELETE`) of `tables`, polling
    /// `system.mutations` every 50 ms for at most `timeout`.
    /// - Throws: `unavailable` when ClickHouse cannot be reached or has not finished in time (the mutation goes on).
    package func waitForMutations(of tables: [String], timeout: Duration = .seconds(300)) async throws {
        let pending = """
            SELECT count() FROM system.mutations WHERE database = \(ClickHouseSQL.quote(database))
              AND table IN (\(tables.map(ClickHouseSQL.quote).joined(separator: ", "))) AND is_done = 0 FORMAT RowBinary
            """
        let deadline = ContinuousClock.now + timeout
        while try decodeRowBinary(try await query(pending), { try $0.readUInt64LE() }).first ?? 0 > 0 {
            guard ContinuousClock.now < deadline else {
                throw SightlineError(.unavailable, "ClickHouse has not finished deleting after \(timeout); the deletion goes on there")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Retention for the stores' tables, all partitioned by a `Date` day: drops every partition of `table` whose newest
    /// day is before `day` (days since 1970-01-01), as `system.parts` lists them, and returns their ids (`YYYYMMDD`),
    /// sorted. Partitions dropped before a failure stay dropped.
    /// - Throws: `unavailable` when ClickHouse cannot be reached; `internal` for a partition that is not a day.
    package func dropDayPartitions(of table: String, before day: Int64) async throws -> [String] {
        let answer = try await query(
            """
            SELECT DISTINCT partition_id FROM system.parts
            WHERE database = \(ClickHouseSQL.quote(database)) AND table = \(ClickHouseSQL.quote(table)) AND active
              AND max_date < \(ClickHouseSQL.date(day: day))
            FORMAT TabSeparated
            """)
        let ids = String(decoding: answer, as: UTF8.self).split(separator: "\n").map(String.init).sorted()
        for id in ids {
            guard id.utf8.count == 8, id.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw SightlineError(.internal, "\(table) has a partition \(id) that is not a day (YYYYMMDD)")
            }
            try await execute("ALTER TABLE \(table) DROP PARTITION ID \(ClickHouseSQL.quote(id))")
        }
        return ids
    }

    /// `YYYY-MM-DD` of a day partition id `YYYYMMDD`.
    package static func isoDay(partitionID id: String) -> String {
        let digits = Array(id)
        guard digits.count == 8 else { return id }
        return String(digits[0..<4]) + "-" + String(digits[4..<6]) + "-" + String(digits[6..<8])
    }
}
