import Foundation
import SightlineTestSupport
import Testing

@testable import SightlineClickHouse
@testable import SightlineCore

/// The ClickHouse server to test against, from `SIGHTLINE_TEST_CLICKHOUSE_URL` (see scripts/clickhouse-for-tests.sh;
/// scripts/test starts one).
let clickHouseURL = ProcessInfo.processInfo.environment["SIGHTLINE_TEST_CLICKHOUSE_URL"]
let needsClickHouse = Testing.ConditionTrait.enabled(
    if: clickHouseURL != nil, "SIGHTLINE_TEST_CLICKHOUSE_URL is not set; start a server with scripts/clickhouse-for-tests.sh start")

/// A client on a database of its own, dropped by `cleanUp`.
func testClient(_ name: String = #function) async throws -> ClickHouseClient {
    let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    let database = "t_" + name.prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" }) + "_" + suffix
    let client = try ClickHouseClient(url: try #require(clickHouseURL), database: database)
    try await client.createDatabase()
    return client
}

func cleanUp(_ client: ClickHouseClient) async throws {
    try await client.execute("DROP DATABASE IF EXISTS \(client.database)")
}

struct ClickHouseSQLTests {
    @Test func quotesEveryCharacterClickHouseWouldReadOtherwise() {
        #expect(ClickHouseSQL.quote("it's") == #"'it\'s'"#)
        #expect(ClickHouseSQL.quote("a\\b\nc\td\0") == #"'a\\b\nc\td\0'"#)
        #expect(ClickHouseSQL.quote("ünï 🙂") == "'ünï 🙂'")
        #expect(ClickHouseSQL.array(["a", "b'"]) == #"['a', 'b\'']"#)
        #expect(ClickHouseSQL.isIdentifier("logs_2"))
        #expect(!ClickHouseSQL.isIdentifier("2logs") && !ClickHouseSQL.isIdentifier("a-b") && !ClickHouseSQL.isIdentifier(""))
    }

    @Test func versionsCompareNumerically() {
        #expect(ClickHouseVersion("18.16.1")! < ClickHouseVersion("19.3.4")!)
        #expect(ClickHouseVersion("18.16.1")! < ClickHouseVersion(18, 16, 2))
        #expect(ClickHouseVersion("18.9")! < ClickHouseVersion("18.16")!)
        #expect(ClickHouseVersion("abc") == nil)
    }

    @Test func badURLsAndDatabaseNamesAreRefusedByName() {
        for url in ["127.0.0.1:8123", "ftp://h:1", "http://h:8123/path", "http://h:8123?x=1"] {
            let error = sightlineError { _ = try ClickHouseClient(url: url) }
            #expect(error?.code == .configuration && error?.message.contains(url) == true, "\(url)")
        }
        #expect(sightlineError { _ = try ClickHouseClient(url: "http://h:1", database: "a-b") }?.message.contains("a-b") == true)
    }

    @Test func errorsKeepClickHouseTextAndTellTransientFromBadStatements() {
        let syntax = ClickHouseClient.failure(status: 500, text: "Code: 62, e.displayText() = DB::Exception: Syntax error", sql: "SELEC 1")
        #expect(syntax.code == .invalidArgument && syntax.message.contains("Syntax error") && syntax.message.contains("SELEC 1"))
        let busy = ClickHouseClient.failure(status: 500, text: "Code: 202, e.displayText() = DB::Exception: Too many simultaneous queries", sql: "SELECT 1")
        #expect(busy.code == .unavailable)
    }
}

@Suite(needsClickHouse) struct ClickHouseClientTests {
    @Test func rowBinaryInsertsReadBackExactly() async throws {
        let client = try await testClient()
        #expect(try await client.version() >= ClickHouseVersion(18, 16))
        try await client.execute("CREATE TABLE t (s String, a Array(String), n Int64, u UInt16, f Float64, d DateTime) ENGINE = MergeTree ORDER BY n")
        var writer = ByteWriter()
        let rows: [(String, [String], Int64, UInt16, Double, Int64)] = [
            ("plain", [], -5, 7, 1.5, 1_700_000_000), ("quote ' and \\ and \n", ["x", "ü"], Int64.max, 65535, -0.0, 0),
            (String(repeating: "long ", count: 10_000), ["a", "b", "c"], 0, 0, Double.infinity, 4_000_000_000),
        ]
        for (s, a, n, u, f, d) in rows {
            writer.writeString(s)
            writer.writeStringArray(a)
            writer.writeInt64LE(n)
            writer.writeUInt16LE(u)
            writer.writeDouble(f)
            writer.writeDateTime(seconds: d)
        }
        try await client.insert(into: "t", columns: ["s", "a", "n", "u", "f", "d"], rowBinary: writer.bytes)
        let back = try decodeRowBinary(try await client.query("SELECT s, a, n, u, f, d FROM t ORDER BY n FORMAT RowBinary")) { reader in
            (try reader.readString(), try reader.readStringArray(), try reader.readInt64LE(), try reader.readUInt16LE(), try reader.readDouble(),
             Int64(try reader.readUInt32LE()))
        }
        let sorted = rows.sorted { $0.2 < $1.2 }
        #expect(back.count == 3)
        for (got, want) in zip(back, sorted) {
            #expect(got.0 == want.0 && got.1 == want.1 && got.2 == want.2 && got.3 == want.3 && got.4 == want.4 && got.5 == want.5)
        }
        // Quoted values survive a round trip through SQL text too.
        let text = try await client.query("SELECT count() FROM t WHERE s = \(ClickHouseSQL.quote(rows[1].0)) FORMAT TabSeparated")
        #expect(String(decoding: text, as: UTF8.self) == "1\n")
        try await cleanUp(client)
    }

    @Test func badStatementsAndUnreachableServersSayWhatWentWrong() async throws {
        let client = try await testClient()
        let error = await #expect(throws: SightlineError.self) { try await client.execute("CREATE TABLE broken (x NoSuchType) ENGINE = Memory") }
        #expect(error?.code == .invalidArgument && error?.message.contains("NoSuchType") == true)
        try await cleanUp(client)

        let nowhere = try ClickHouseClient(url: "http://127.0.0.1:9")
        let unreachable = await #expect(throws: SightlineError.self) { _ = try await nowhere.version() }
        #expect(unreachable?.code == .unavailable && unreachable?.message.contains("127.0.0.1:9") == true)
    }

    @Test func migrationsRunOnceEachAndInOrder() async throws {
        let client = try await testClient()
        let schema = ClickHouseSchema(component: "demo", steps: [
            "CREATE TABLE IF NOT EXISTS demo (x UInt8) ENGINE = MergeTree ORDER BY x",
            "ALTER TABLE demo ADD COLUMN y String",
        ])
        try await schema.migrate(client)
        try await schema.migrate(client)  // the ALTER would fail if it ran twice
        let columns = try await client.query("SELECT name FROM system.columns WHERE database = \(ClickHouseSQL.quote(client.database)) AND table = 'demo' FORMAT TabSeparated")
        #expect(String(decoding: columns, as: UTF8.self) == "x\ny\n")
        try await cleanUp(client)
    }

    @Test func blockingRunsAsyncWorkForSynchronousCallers() async throws {
        let client = try await testClient()
        let version = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try ClickHouseClient.blocking { try await client.version() } })
            }
        }
        #expect(version >= ClickHouseVersion(18, 16))
        // Even callers that block every cooperative thread at once get their answers: the work runs elsewhere.
        let versions = try await withThrowingTaskGroup(of: ClickHouseVersion.self) { group in
            for _ in 0..<(ProcessInfo.processInfo.activeProcessorCount * 2) {
                group.addTask { try ClickHouseClient.blocking { try await client.version() } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(versions.count == ProcessInfo.processInfo.activeProcessorCount * 2 && versions.allSatisfy { $0 == version })
        try await cleanUp(client)
    }
}
