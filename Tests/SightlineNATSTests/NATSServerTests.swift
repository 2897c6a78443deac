import Foundation
import NIOCore
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineNATS

/// The NATS server to test against, from `SIGHTLINE_TEST_NATS_URL` (see scripts/nats-for-tests.sh).
let natsURL = ProcessInfo.processInfo.environment["SIGHTLINE_TEST_NATS_URL"]

/// A name no other test (or earlier run against the same server) uses.
func uniqueName(_ prefix: String) -> String {
    "\(prefix)\(UInt32.random(in: 0..<UInt32.max))"
}

/// The options of the tests' connections: the handshake may take 30 s, because at the start of a full run on 2 cores
/// a connection can wait over 5 s for a thread (what the tests check is the exchange, not the default timeout).
let testConnectionOptions = NATSConnectionOptions(name: "sightline-tests", connectTimeout: .seconds(30))

/// Runs `body` with a new connection to the test server and closes it afterwards.
func withNATS(_ body: (NATSConnection) async throws -> Void) async throws {
    let url = try #require(natsURL)
    let connection = try await NATSConnection.connect(to: url, options: testConnectionOptions)
    do {
        try await body(connection)
    } catch {
        await connection.close()
        throw error
    }
    await connection.close()
}

@Suite(.enabled(if: natsURL != nil, "SIGHTLINE_TEST_NATS_URL is not set; start a server with scripts/nats-for-tests.sh start"))
struct NATSServerTests {
    @Test func connectReadsTheServersInfo() async throws {
        try await withNATS { nats in
            #expect(nats.serverInfo.headers)
            #expect(nats.serverInfo.jetStream)
            #expect(nats.serverInfo.maxPayload > 0)
            try await nats.flush()
        }
    }

    @Test func publishedMessagesArriveWithHeadersAndAOneMiBPayload() async throws {
        try await withNATS { nats in
            let subject = uniqueName("t")
            let subscription = try await nats.subscribe(subject + ".>")
            try await nats.flush()
            var random = SplitMix64(seed: 3)
            let big = (0..<(1 << 20)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            #expect(big.count <= nats.serverInfo.maxPayload)
            try await nats.publish(subject + ".small", payload: Array("hi".utf8), headers: NATSHeaders([("Trace", "abc"), ("Trace", "def")]))
            try await nats.publish(subject + ".big", payload: big)
            try await nats.publish(subject + ".empty", payload: [], headers: NATSHeaders([("Only", "headers")]))
            var received: [NATSMessage] = []
            for try await message in subscription {
                received.append(message)
                if received.count == 3 { break }
            }
            #expect(received.map(\.subject) == [subject + ".small", subject + ".big", subject + ".empty"])
            #expect(received[0].bytes == Array("hi".utf8))
            #expect(received[0].headers?.fields.map(\.value) == ["abc", "def"])
            #expect(received[1].headers == nil)
            #expect(received[1].bytes == big)
            #expect(received[2].bytes.isEmpty && received[2].headers?["Only"] == "headers")
        }
    }

    @Test func requestGetsTheRespondersReply() async throws {
        try await withNATS { nats in
            let subject = uniqueName("svc")
            let requests = try await nats.subscribe(subject)
            try await nats.flush()
            let responder = Task {
                var answered = 0
                for try await request in requests {
                    guard let replyTo = request.replyTo else { continue }
                    try await nats.publish(replyTo, payload: request.bytes.reversed(), headers: NATSHeaders([("Seen", request.headers?["Ask"] ?? "-")]))
                    answered += 1
                    if answered == 3 { break }
                }
            }
            let replies = try await withThrowingTaskGroup(of: (Int, NATSMessage).self) { group in
                for index in 0..<3 {
                    group.addTask { (index, try await nats.request(subject, payload: Array("abc\(index)".utf8), headers: NATSHeaders([("Ask", "\(index)")]))) }
                }
                var replies: [Int: NATSMessage] = [:]
                for try await (index, reply) in group { replies[index] = reply }
                return replies
            }
            for index in 0..<3 {
                #expect(replies[index]?.bytes == Array("\(index)cba".utf8))
                #expect(replies[index]?.headers?["Seen"] == "\(index)")
            }
            try await responder.value
        }
    }

    @Test func requestWithoutRespondersFailsAtOnce() async throws {
        try await withNATS { nats in
            let subject = uniqueName("nobody")
            let error = await asyncSightlineError { _ = try await nats.request(subject, payload: [], timeout: .seconds(30)) }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("no responders") == true)
            #expect(error?.message.contains(subject) == true)
        }
    }

    @Test func requestWithoutReplyTimesOut() async throws {
        try await withNATS { nats in
            let subject = uniqueName("silent")
            let sink = try await nats.subscribe(subject)
            try await nats.flush()
            let error = await asyncSightlineError { _ = try await nats.request(subject, payload: [], timeout: .milliseconds(200)) }
            #expect(error?.message.contains("no reply") == true)
            sink.unsubscribe()
        }
    }

    @Test func messagesOverMaxPayloadFailNamingTheSizes() async throws {
        try await withNATS { nats in
            let limit = nats.serverInfo.maxPayload
            let error = await asyncSightlineError { try await nats.publish("big", payload: [UInt8](repeating: 1, count: limit + 1)) }
            #expect(error?.code == .tooLarge)
            #expect(error?.message.contains("\(limit + 1) bytes") == true)
            #expect(error?.message.contains("max_payload of \(limit)") == true)
            let withHeaders = await asyncSightlineError {
                try await nats.publish("big", payload: [UInt8](repeating: 1, count: limit - 4), headers: NATSHeaders([("K", "v")]))
            }
            #expect(withHeaders?.code == .tooLarge)
            // The connection is still usable: nothing was sent.
            try await nats.flush()
        }
    }

    @Test func subscriptionEndsAfterUnsubscribeAndCallsFailAfterClose() async throws {
        let url = try #require(natsURL)
        let nats = try await NATSConnection.connect(to: url, options: testConnectionOptions)
        let subscription = try await nats.subscribe(uniqueName("u"))
        subscription.unsubscribe()
        for try await _ in subscription { Issue.record("no message expected") }
        let open = try await nats.subscribe(uniqueName("v"))
        await nats.close()
        let ended = await asyncSightlineError { for try await _ in open {} }
        #expect(ended?.message.contains("closed by the client") == true)
        let after = await asyncSightlineError { try await nats.publish("x", payload: []) }
        #expect(after?.code == .unavailable)
    }

    @Test func connectingToNothingFailsClearly() async throws {
        let error = await asyncSightlineError { _ = try await NATSConnection.connect(to: "nats://127.0.0.1:1") }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("127.0.0.1:1") == true)
    }
}
