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
