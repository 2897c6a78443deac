import Foundation
import SightlineTestSupport
import Testing

@testable import SightlineClickHouse
@testable import SightlineCore

@Suite(needsClickHouse) struct ClickHouseTableWriterTests {
    func count(_ client: ClickHouseClient) async throws -> Int {
        Int(String(decoding: try await client.query("SELECT count() FROM t FORMAT TabSeparated"), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    @Test func rowsAreInsertedInOrderAndTheSegmentIsRememberedAcrossRestarts() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-writer")
        try await client.execute("CREATE TABLE t (n UInt64) ENGINE = MergeTree ORDER BY tuple()")
        let writer = try ClickHouseTableWriter(client: client, table: "t", columns: ["n"], checkpointPath: directory.file("t.segment"))
        #expect(writer.persistedSegment == -1)
        for n in 0..<1000 { writer.append { $0.writeUInt64LE(UInt64(n)) } }
        try await writer.flush()  // a timer's flush: rows in, no segment claimed
        #expect(try await count(client) == 1000)
        #expect(writer.persistedSegment == -1)
        for n in 1000..<1500 { writer.append { $0.writeUInt64LE(UInt64(n)) } }
        try await writer.persist(throughSegment: 3)
        #expect(writer.persistedSegment == 3)
        // Concurrent flushes never interleave rows: every value arrives exactly once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for base in stride(from: 1500, to: 3500, by: 500) {
                for n in base..<(base + 500) { writer.append { $0.writeUInt64LE(UInt64(n)) } }
                group.addTask { try await writer.flush() }
            }
            try await group.waitForAll()
        }
        let values = String(decoding: try await client.query("SELECT n FROM t ORDER BY n FORMAT TabSeparated"), as: UTF8.self)
            .split(separator: "\n").compactMap { Int($0) }
        #expect(values == Array(0..<3500))
        let reopened = try ClickHouseTableWriter(client: client, table: "t", columns: ["n"], checkpointPath: directory.file("t.segment"))
        #expect(reopened.persistedSegment == 3)
        try await cleanUp(client)
        directory.remove()
    }

    @Test func aFailedInsertKeepsItsRowsForTheNextFlush() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-writer")
        let writer = try ClickHouseTableWriter(client: client, table: "t", columns: ["n"], checkpointPath: directory.file("t.segment"))
        writer.append { $0.writeUInt64LE(1) }
        // The table does not exist yet: the insert fails, the segment is not claimed, the row stays.
        await #expect(throws: SightlineError.self) { try await writer.persist(throughSegment: 0) }
        #expect(writer.persistedSegment == -1)
        try await client.execute("CREATE TABLE t (n UInt64) ENGINE = MergeTree ORDER BY tuple()")
        writer.append { $0.writeUInt64LE(2) }
        try await writer.persist(throughSegment: 0)
        #expect(writer.persistedSegment == 0)
        let values = String(decoding: try await client.query("SELECT n FROM t ORDER BY n FORMAT TabSeparated"), as: UTF8.self)
        #expect(values == "1\n2\n")
        try await cleanUp(client)
        directory.remove()
    }

    @Test func aDamagedCheckpointFileIsRefusedByName() throws {
        let directory = try TemporaryDirectory(prefix: "sightline-ch-writer")
        try Data("seven".utf8).write(to: URL(fileURLWithPath: directory.file("t.segment")))
        let client = try ClickHouseClient(url: "http://127.0.0.1:9")
        let error = sightlineError { _ = try ClickHouseTableWriter(client: client, table: "t", columns: ["n"], checkpointPath: directory.file("t.segment")) }
        #expect(error?.code == .dataCorrupted && error?.message.contains("t.segment") == true)
        directory.remove()
    }
}
