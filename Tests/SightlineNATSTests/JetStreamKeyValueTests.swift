import NIOCore
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineNATS

/// Keys and names need no server.
struct JetStreamKeyValueNamingTests {
    @Test func keysAreTokensJoinedByDots() {
        #expect(JetStreamKeyValue.isKey("rules.acme"))
        #expect(JetStreamKeyValue.isKey("nflog.a%2Eb"))
        #expect(!JetStreamKeyValue.isKey(""))
        #expect(!JetStreamKeyValue.isKey("rules..acme"))
        #expect(!JetStreamKeyValue.isKey("rules.*"))
        #expect(!JetStreamKeyValue.isKey("rules.>"))
        #expect(!JetStreamKeyValue.isKey("a b"))
    }
}

@Suite(.enabled(if: natsURL != nil, "SIGHTLINE_TEST_NATS_URL is not set; start a server with scripts/nats-for-tests.sh start"))
struct JetStreamKeyValueTests {
    @Test func putGetAndListKeepOnlyTheLastValuePerKey() async throws {
        try await withNATS { connection in
            let js = JetStream(connection: connection)
            let name = uniqueName("KV")
            let kv = try JetStreamKeyValue(jetStream: js, stream: name, subjectPrefix: "test.kv.\(name)")
            try await kv.create()
            try await kv.create()  // again: nothing changes
            #expect(try await kv.keys().isEmpty)
            #expect(try await kv.get("rules.a") == nil)

            let first = try await kv.put("rules.a", Array("one".utf8))
            let second = try await kv.put("rules.a", Array("two".utf8))
            #expect(second > first)
            _ = try await kv.put("nflog.a%2Eb", [0, 1, 2])
            let entry = try #require(try await kv.get("rules.a"))
            #expect(entry.value == Array("two".utf8))
            #expect(entry.sequence == second)
            #expect(try await kv.keys() == ["nflog.a%2Eb", "rules.a"])
            let all = try await kv.all()
            #expect(all["nflog.a%2Eb"]?.value == [0, 1, 2])
            // One message per subject: the replaced value is gone.
            #expect(try await js.streamInfo(name).messages == 2)
            try await js.deleteStream(name)
        }
    }

    @Test func manyKeysAreAllListed() async throws {
        try await withNATS { connection in
            let js = JetStream(connection: connection)
            let name = uniqueName("KVMANY")
            let kv = try JetStreamKeyValue(jetStream: js, stream: name, subjectPrefix: "test.kvmany.\(name)")
            try await kv.create()
            for index in 0..<300 { _ = try await kv.put("k\(index)", [UInt8(index & 0xFF)]) }
            #expect(try await kv.keys().count == 300)
            try await js.deleteStream(name)
        }
    }

    @Test func aSubscriptionSeesEveryPut() async throws {
        try await withNATS { connection in
            let js = JetStream(connection: connection)
            let name = uniqueName("KVWATCH")
            let kv = try JetStreamKeyValue(jetStream: js, stream: name, subjectPrefix: "test.kvwatch.\(name)")
            try await kv.create()
            let subscription = try await connection.subscribe(kv.subject(for: "silences.>"))
            try await connection.flush()
            _ = try await kv.put("silences.acme", Array("s1".utf8))
            var iterator = subscription.makeAsyncIterator()
            let message = try #require(try await iterator.next())
            #expect(kv.key(ofSubject: message.subject) == "silences.acme")
            #expect(message.bytes == Array("s1".utf8))
            subscription.unsubscribe()
            try await js.deleteStream(name)
        }
    }

    @Test func badKeysAndMissingStreamsAreClearErrors() async throws {
        try await withNATS { connection in
            let js = JetStream(connection: connection)
            #expect(throws: SightlineError.self) { try JetStreamKeyValue(jetStream: js, stream: "a.b", subjectPrefix: "x") }
            #expect(throws: SightlineError.self) { try JetStreamKeyValue(jetStream: js, stream: "A", subjectPrefix: "x.>") }
            let kv = try JetStreamKeyValue(jetStream: js, stream: uniqueName("KVNONE"), subjectPrefix: "test.kvnone.\(uniqueName("p"))")
            let badKey = await asyncSightlineError { _ = try await kv.put("a..b", []) }
            #expect(badKey?.code == .invalidArgument)
            #expect(badKey?.message.contains("a..b") == true)
            let missing = await asyncSightlineError { _ = try await kv.keys() }
            #expect(missing?.code == .notFound)
            let unstored = await asyncSightlineError { _ = try await kv.put("k", [1]) }
            #expect(unstored?.code == .unavailable)
        }
    }
}
